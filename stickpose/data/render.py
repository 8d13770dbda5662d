"""Drawing a stick figure with sub-pixel precision (OpenCV fixed-point ``shift``, anti-aliased)."""
from __future__ import annotations

import cv2
import numpy as np

from ..skeleton import HEAD_TOP, LIMB_CHAINS, UPPER_NECK

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
