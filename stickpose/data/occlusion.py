"""Occluders drawn in front of the figure, and the per-joint visibility they leave."""
from __future__ import annotations

import cv2
import numpy as np


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
