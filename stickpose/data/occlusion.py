"""Occluders drawn in front of the figure, and the per-joint visibility they leave."""
from __future__ import annotations

import cv2
import numpy as np

from ..errors import StickposeError


def draw_occluders(image: np.ndarray, keypoints: np.ndarray, rng: np.random.Generator,
                   p: float) -> np.ndarray:
    """Draw solid rectangles and ellipses over the figure while a uniform draw is below p.

    Each occluder is centred near a random joint so that it tends to hide part of the body.
    image: ``(S, S, 3) uint8``, changed in place; keypoints ``(16, 2)`` xy pixels.
    Returns visible ``(16,) bool``: False where a joint's pixel is covered or off the frame.
    """
    size = image.shape[0]
    mask = np.zeros(image.shape[:2], np.uint8)
    while rng.random() < p:
        centre = keypoints[rng.integers(len(keypoints))] + rng.normal(0, 0.08 * size, 2)
        half = rng.uniform(0.05, 0.18, 2) * size
        colour = tuple(int(c) for c in rng.integers(40, 200, 3))
        cx, cy, hx, hy = (int(round(v)) for v in (*centre, *half))
        if rng.random() < 0.5:
            for target, fill in ((image, colour), (mask, 255)):
                cv2.rectangle(target, (cx - hx, cy - hy), (cx + hx, cy + hy), fill, -1)
        else:
            angle = float(rng.uniform(0, 180))
            for target, fill in ((image, colour), (mask, 255)):
                cv2.ellipse(target, (cx, cy), (hx, hy), angle, 0, 360, fill, -1)
    pixel = np.rint(keypoints).astype(int)
    inside = ((pixel >= 0) & (pixel < size)).all(axis=1)
    visible = inside.copy()
    visible[inside] = mask[pixel[inside, 1], pixel[inside, 0]] == 0
    return visible


# --- occlusion experiments (seed report 000) ------------------------------------------------

OCCLUSIONS = ("random", "upper", "lower")
UPPER_BODY = (7, 8, 9, 10, 11, 12, 13, 14, 15)     # thorax, neck, head, arms
LOWER_BODY = (0, 1, 2, 3, 4, 5, 6)                 # legs and pelvis


def _covered(keypoints: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """``(16,)`` bool: joints whose pixel lies in the box ``[x0, x1) x [y0, y1)``."""
    pixel = np.rint(keypoints)
    return ((pixel[:, 0] >= x0) & (pixel[:, 0] < x1) & (pixel[:, 1] >= y0)
            & (pixel[:, 1] < y1))


def random_erasing(image: np.ndarray, keypoints: np.ndarray, rng: np.random.Generator,
                   area: tuple = (0.02, 0.4), aspect: tuple = (0.3, 3.3)) -> np.ndarray:
    """Zero one random rectangle (Zhong et al. 2017): area a uniform share of the image,
    aspect ratio (height / width) uniform, redrawn until it fits; then a uniform position.
    image ``(S, S, 3)`` changed in place. Returns covered ``(16,)`` bool."""
    size = image.shape[0]
    while True:
        share, ratio = rng.uniform(*area), rng.uniform(*aspect)
        height = int(round(np.sqrt(share * size * size * ratio)))
        width = int(round(np.sqrt(share * size * size / ratio)))
        if 0 < height <= size and 0 < width <= size:
            break
    y0, x0 = rng.integers(0, size - height + 1), rng.integers(0, size - width + 1)
    image[y0:y0 + height, x0:x0 + width] = 0
    return _covered(keypoints, x0, y0, x0 + width, y0 + height)


def black_out(image: np.ndarray, keypoints: np.ndarray, joints: tuple,
              margin: float = 0.06) -> np.ndarray:
    """Zero the bounding box of ``joints`` grown by ``margin`` x the image size (so the
    drawn limbs and head vanish with them). Returns covered ``(16,)`` bool."""
    size = image.shape[0]
    pad = margin * size
    low = np.floor(keypoints[list(joints)].min(axis=0) - pad).astype(int).clip(0, size)
    high = np.ceil(keypoints[list(joints)].max(axis=0) + pad + 1).astype(int).clip(0, size)
    image[low[1]:high[1], low[0]:high[0]] = 0
    return _covered(keypoints, low[0], low[1], high[0], high[1])


def occlude(kind: str, images: np.ndarray, keypoints: np.ndarray, visible: np.ndarray,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Occluded copies of ``images`` ``(N, S, S, 3)`` and the visibility left ``(N, 16)``.

    ``random``: one random erasing per image (seeded); ``upper`` / ``lower``: the upper-body
    (thorax, head, arms) or lower-body (pelvis, legs) joints' region blacked out.
    """
    if kind not in OCCLUSIONS:
        raise StickposeError(f"unknown occlusion {kind!r}; known: {', '.join(OCCLUSIONS)}")
    images, visible = images.copy(), visible.copy()
    rng = np.random.default_rng(seed)
    for image, points, seen in zip(images, keypoints, visible):
        if kind == "random":
            covered = random_erasing(image, points, rng)
        else:
            covered = black_out(image, points, UPPER_BODY if kind == "upper" else LOWER_BODY)
        seen &= ~covered
    return images, visible
