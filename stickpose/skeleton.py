"""The 16-joint skeleton (MPII order): names, limbs, left/right pairs, colours, LSP mapping.

Coordinate convention, used everywhere in stickpose: keypoints are ``(..., 16, 2)`` float
arrays in (x, y) order, in input-image pixels, with the **centre** of pixel ``(row i, col j)``
at ``(x, y) = (j, i)``. An S x S image therefore spans ``[-0.5, S - 0.5]`` on both axes. This
is OpenCV's drawing convention and the one COCO keypoint files use.
"""
from __future__ import annotations

NUM_JOINTS = 16

JOINT_NAMES = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
    "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow",
    "l_wrist",
)

# Limbs drawn as lines (the class baseline's list); the head is a filled circle between
# UPPER_NECK and HEAD_TOP with radius half their distance.
LIMBS = (
    (0, 1), (1, 2), (3, 4), (4, 5), (3, 6), (2, 6), (6, 7), (7, 8), (8, 9),
    (10, 11), (11, 12), (12, 13), (13, 14), (14, 15),
)

# The same limbs as three connected chains, which is how the renderer draws them.
LIMB_CHAINS = ((0, 1, 2, 6, 3, 4, 5), (6, 7, 8, 9), (10, 11, 12, 13, 14, 15))

UPPER_NECK, HEAD_TOP = 8, 9

FLIP_PAIRS = ((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13))

# Index permutation that swaps every left joint with its right twin (for mirroring).
FLIP_INDEX = tuple(
    next((b if j == a else a for a, b in FLIP_PAIRS if j in (a, b)), j) for j in range(NUM_JOINTS)
)

# Stickman colours, as design.md lists them in OpenCV's BGR order ...
STICKMAN_COLOURS_BGR = {
    "white": (255, 255, 255),
    "blue": (255, 0, 0),
    "red": (0, 0, 255),
    "green": (0, 255, 0),
    "yellow": (0, 255, 255),
    "pink": (203, 192, 255),
}
# ... and in the RGB order stickpose keeps images in memory.
STICKMAN_COLOURS_RGB = tuple(tuple(reversed(bgr)) for bgr in STICKMAN_COLOURS_BGR.values())
# The class baseline's own six (generator/colors.py, BGR): its pink is magenta.
CLASS_COLOURS_BGR = {**STICKMAN_COLOURS_BGR, "pink": (255, 0, 255)}
CLASS_COLOURS_RGB = tuple(tuple(reversed(bgr)) for bgr in CLASS_COLOURS_BGR.values())

# LSP's 14 joints in LSP order, as indices into the 16-joint skeleton.
LSP_TO_SKELETON = (0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 8, 9)


LABEL_CONVENTIONS = ("observer", "person")


def observer_centric(keypoints, visible=None):
    """Relabel left/right as an observer sees them: ``(..., 16, 2)`` -> same shape; with
    ``visible`` ``(..., 16)``, returns ``(keypoints, visible)`` relabelled alike.

    The shoulder further left in the image becomes ``r_shoulder`` (as for a person facing
    the camera), and the arm attached to it the right arm; the hips decide the legs the same
    way. Person-centric labels of a figure seen from behind are swapped; a stick figure
    carries no cue that tells its front from its back, so only this convention is learnable
    from the picture.
    """
    import numpy as np
    keypoints = np.array(keypoints, copy=True)
    flags = None if visible is None else np.array(visible, copy=True)
    for (right_root, left_root), chain in (((12, 13), ((10, 15), (11, 14), (12, 13))),
                                           ((2, 3), ((0, 5), (1, 4), (2, 3)))):
        swap = keypoints[..., right_root, 0] > keypoints[..., left_root, 0]
        for right, left in chain:
            r, l = keypoints[..., right, :].copy(), keypoints[..., left, :].copy()
            keypoints[swap, right], keypoints[swap, left] = l[swap], r[swap]
            if flags is not None:
                fr, fl = flags[..., right].copy(), flags[..., left].copy()
                flags[swap, right], flags[swap, left] = fl[swap], fr[swap]
    return keypoints if flags is None else (keypoints, flags)


def line_thickness(size: int) -> int:
    """Stick line thickness in pixels for an ``size`` x ``size`` image (design.md section 4)."""
    return max(round(4 * size / 224), 1)
