"""Drawing a stick figure in one of three styles, and fitting images to a model's input
(``resize_set``, ``letterbox``).

``stickpose``: sub-pixel precision (OpenCV fixed-point ``shift``, anti-aliased lines).
``class`` and ``class-2022``: the class baseline's drawing to the letter (design.md section 9):
endpoints rounded to whole pixels with ``np.round`` (halves to even), 8-connected ``cv2.line``
per limb in the skeleton's order, then a filled head circle whose centre and radius are
truncated. ``class`` is the class's code of October 2021, which drew its ``Dataset.zip`` (the
test sets seed 001 was scored on): a limb is drawn only when both ends have x > 0 and y > 0,
so after the stretch (``placement.class_stretch``) every limb at the leftmost or topmost joint
is missing. ``class-2022`` is the class's code since its 2022-10-27 fixes: every limb drawn.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..skeleton import HEAD_TOP, LIMB_CHAINS, LIMBS, UPPER_NECK
from .styles import CLASS_STYLES


SHIFT = 4                  # OpenCV fractional bits: coordinates drawn on a 1/16 px grid
_ONE = 1 << SHIFT


def _fixed(points: np.ndarray) -> np.ndarray:
    """Float pixel coordinates -> OpenCV fixed-point integers (pixel centres at integers)."""
    return np.rint(np.asarray(points) * _ONE).astype(np.int32)


def draw_stickman(image: np.ndarray, keypoints: np.ndarray, colour: tuple[int, int, int],
                  thickness: int) -> None:
    """Draw one figure in place: limb lines and a filled head circle.

    image: ``(H, W, 3) uint8``; keypoints: ``(16, 2)``, xy, pixels; colour in the image's
    channel order. The head is centred between upper neck and head top with radius half
    their distance (design.md section 4).
    """
    fixed = _fixed(keypoints)
    cv2.polylines(image, [fixed[list(chain)] for chain in LIMB_CHAINS], False, colour,
                  thickness, cv2.LINE_AA, SHIFT)
    neck, top = keypoints[UPPER_NECK], keypoints[HEAD_TOP]
    radius = 0.5 * float(np.hypot(*(top - neck)))
    centre = _fixed(0.5 * (neck + top))
    cv2.circle(image, (int(centre[0]), int(centre[1])), int(round(radius * _ONE)), colour,
               -1, cv2.LINE_AA, SHIFT)


def draw_stickman_class(image: np.ndarray, keypoints: np.ndarray, colour: tuple[int, int, int],
                        thickness: int, style: str = "class") -> None:
    """Draw one figure in place exactly as the class baseline's ``draw_a_stickman`` does, in
    its 2021 version (``style="class"``) or its 2022 one (``"class-2022"``).

    image: ``(H, W, 3) uint8``; keypoints: ``(16, 2)`` float, xy, the stretched (unrounded)
    pixel coordinates; colour in the image's channel order. 2021 draws a limb only when both
    of its ends have x > 0 and y > 0 (unrounded), 2022 when both are >= 0; the head circle
    is drawn regardless.
    """
    if style not in CLASS_STYLES:
        raise ValueError(f"style {style!r} is not one of {', '.join(CLASS_STYLES)}")
    keypoints = np.asarray(keypoints, np.float64)
    points = np.round(keypoints).astype(np.int64)
    for (a, b), drawn in zip(LIMBS, drawn_limbs(keypoints, style)):
        if drawn:
            cv2.line(image, (int(points[a, 0]), int(points[a, 1])),
                     (int(points[b, 0]), int(points[b, 1])), colour, thickness)
    (x8, y8), (x9, y9) = (float(v) for v in keypoints[UPPER_NECK]), \
        (float(v) for v in keypoints[HEAD_TOP])
    radius = int(np.sqrt((x8 - x9) ** 2 + (y8 - y9) ** 2) / 2)
    cv2.circle(image, (int((x8 + x9) / 2), int((y8 + y9) / 2)), radius, colour, -1)


def drawn_limbs(keypoints: np.ndarray, style: str = "class") -> np.ndarray:
    """``(..., len(LIMBS))`` bool: which limbs the class's code draws for stretched
    (unrounded) keypoints ``(..., 16, 2)``: in 2021 (``class``) those whose two ends both
    have x > 0 and y > 0, in 2022 (``class-2022``) >= 0."""
    keypoints = np.asarray(keypoints, np.float64)
    ends = ((keypoints > 0) if style == "class" else (keypoints >= 0)).all(axis=-1)
    return np.stack([ends[..., a] & ends[..., b] for a, b in LIMBS], axis=-1)


def drawn_joints(keypoints: np.ndarray, style: str = "class") -> np.ndarray:
    """``(..., 16)`` bool: the joints at an end of a limb the class's code draws
    (``drawn_limbs``); the others are not in the picture, but for what the head circle (drawn
    always, centred between upper neck and head top) tells of the head's two joints."""
    limbs = drawn_limbs(keypoints, style)
    joints = np.zeros(np.shape(keypoints)[:-1], bool)
    for k, (a, b) in enumerate(LIMBS):
        joints[..., a] |= limbs[..., k]
        joints[..., b] |= limbs[..., k]
    return joints


def class_labels(keypoints: np.ndarray) -> np.ndarray:
    """The class's labels of stretched coordinates ``(..., 16, 2)``: truncated to whole
    pixels (the class wrote them back into the pose's int64 array), while its drawing rounds
    them. Same shape, float32."""
    return np.trunc(keypoints).astype(np.float32)


def resize_set(images: np.ndarray, keypoints: np.ndarray, size: int,
               interpolation: int = cv2.INTER_AREA):
    """Images ``(n, S, S, 3)`` resized to ``size`` (area interpolation; the class's
    evaluation code used OpenCV's default, ``cv2.INTER_LINEAR``) with keypoints
    ``(n, 16, 2)`` mapped along (pixel centres kept, see ``stickpose.skeleton``)."""
    if images.shape[1] == size:
        return images, keypoints
    scale = size / images.shape[1]
    resized = np.stack([cv2.resize(image, (size, size), interpolation=interpolation)
                        for image in images])
    return resized, (keypoints + 0.5) * scale - 0.5


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, np.ndarray]:
    """``image`` padded with black to a centred square and resized to ``size``: the result,
    the scale (model px per image px) and the pad offset ``(x, y)`` in image pixels."""
    height, width = image.shape[:2]
    side = max(height, width)
    offset = np.array([(side - width) // 2, (side - height) // 2])
    square = np.zeros((side, side, 3), np.uint8)
    square[offset[1]:offset[1] + height, offset[0]:offset[0] + width] = image
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA), size / side, offset


def to_image(points: np.ndarray, scale: float, offset: np.ndarray) -> np.ndarray:
    """Model-input keypoints ``(..., 16, 2)`` -> the original image's pixels."""
    return (points + 0.5) / scale - 0.5 - offset


def read_image(path: Path):
    """An RGB image, or None for a file that is missing or not an image (decoded from its
    bytes, so OpenCV prints no warnings of its own)."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
