"""Pictures of images and keypoints: contact sheets with joints marked."""
from __future__ import annotations

import cv2
import numpy as np

from .skeleton import FLIP_PAIRS, LIMBS

_LEFT = {b for _, b in FLIP_PAIRS}
_RIGHT = {a for a, _ in FLIP_PAIRS}
JOINT_MARK_RGB = {"right": (255, 60, 60), "left": (60, 140, 255), "centre": (255, 220, 0)}


def _side(joint: int) -> str:
    return "right" if joint in _RIGHT else "left" if joint in _LEFT else "centre"


def mark_keypoints(image: np.ndarray, keypoints: np.ndarray, visible: np.ndarray | None = None,
                   scale: float = 1.0) -> np.ndarray:
    """A copy of ``image`` (RGB) resized by ``scale`` with each joint marked.

    keypoints ``(16, 2)`` xy input pixels. Right joints red, left blue, centre yellow; a
    filled dot is a visible joint, a ring an occluded one.
    """
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    out = cv2.resize(image, size, interpolation=cv2.INTER_NEAREST) if scale != 1 else image.copy()
    radius = max(2, round(out.shape[0] / 70))
    for joint, (x, y) in enumerate(keypoints):
        if not (np.isfinite(x) and np.isfinite(y)):      # a diverged model's NaN: no mark
            continue
        # A pixel centre at integer x maps to (x + 0.5) * scale - 0.5 in the resized image.
        centre = (int(round(((x + 0.5) * scale - 0.5) * 16)), int(round(((y + 0.5) * scale - 0.5) * 16)))
        shown = visible is None or visible[joint]
        cv2.circle(out, centre, (radius + 1) * 16, (0, 0, 0), -1, cv2.LINE_AA, 4)
        cv2.circle(out, centre, radius * 16, JOINT_MARK_RGB[_side(joint)], -1 if shown else 1,
                   cv2.LINE_AA, 4)
    return out


def draw_skeleton(image: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """A copy of ``image`` (RGB) with the skeleton drawn over it: limbs as lines (right red,
    left blue, the spine yellow) and each joint marked as in ``mark_keypoints``.
    keypoints ``(16, 2)`` xy pixels of ``image``."""
    out = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 150))
    for a, b in LIMBS:
        if not np.isfinite(keypoints[[a, b]]).all():
            continue
        side = _side(a) if _side(a) == _side(b) else "centre"
        start = tuple(int(round(v * 16)) for v in keypoints[a])
        end = tuple(int(round(v * 16)) for v in keypoints[b])
        cv2.line(out, start, end, JOINT_MARK_RGB[side], thickness, cv2.LINE_AA, 4)
    return mark_keypoints(out, keypoints)


def contact_sheet(images, keypoints=None, visible=None, columns: int = 8, tile: int = 160,
                  row_labels: list[str] | None = None) -> np.ndarray:
    """A grid of RGB ``uint8`` images (any square sizes), each scaled to ``tile`` px.

    ``keypoints`` (one ``(16, 2)`` array per image, input pixels) are marked when given;
    ``row_labels`` (one per row) are written in a strip on the left. Returns an RGB image.
    """
    count = len(images)
    rows = -(-count // columns)
    label_width = 90 if row_labels else 0
    sheet = np.full((rows * (tile + 4) + 4, label_width + columns * (tile + 4) + 4, 3), 40,
                    np.uint8)
    for k, image in enumerate(images):
        if keypoints is None:
            cell = cv2.resize(image, (tile, tile), interpolation=cv2.INTER_AREA)
        else:
            cell = mark_keypoints(image, keypoints[k], None if visible is None else visible[k],
                                  tile / image.shape[1])
        r, c = divmod(k, columns)
        y, x = 4 + r * (tile + 4), label_width + 4 + c * (tile + 4)
        sheet[y:y + tile, x:x + tile] = cell
    for r, label in enumerate(row_labels or []):
        cv2.putText(sheet, label, (6, 4 + r * (tile + 4) + tile // 2), cv2.FONT_HERSHEY_SIMPLEX,
                    0.6, (235, 235, 235), 1, cv2.LINE_AA)
    return sheet


def figure_png(figure, dpi: int = 100) -> bytes:
    """PNG bytes of a Matplotlib figure, which is then closed."""
    import io

    import matplotlib.pyplot as plt
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    return buffer.getvalue()


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an RGB ``uint8`` image."""
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("OpenCV could not encode the PNG")
    return data.tobytes()


def preview_sheet(datasets: dict, per_row: int = 8, rows: int = 8) -> np.ndarray:
    """A contact sheet of the first images of datasets (``{label: storage.Dataset}``).

    One dataset: its first ``rows * per_row`` images. Several: one labelled row each.
    Joints are marked over the images (see ``mark_keypoints``).
    """
    if len(datasets) > 1:
        per_row = min([per_row, *map(len, datasets.values())])
    take = rows * per_row if len(datasets) == 1 else per_row
    parts = [(d, range(min(len(d), take))) for d in datasets.values()]
    return contact_sheet(
        [d.image(i) for d, picks in parts for i in picks],
        [d.keypoints[i] for d, picks in parts for i in picks],
        [d.visible[i] for d, picks in parts for i in picks],
        columns=per_row, row_labels=list(datasets) if len(datasets) > 1 else None)
