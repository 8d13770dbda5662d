"""Placing a pose in the frame: ``stretch`` (the class benchmark) or ``fit`` (aspect kept)."""
from __future__ import annotations

import numpy as np

PLACEMENTS = ("stretch", "fit")


def place(poses: np.ndarray, size: int, placement: str, rng: np.random.Generator,
          margin: float = 0.0, min_scale: float = 0.5) -> np.ndarray:
    """Map poses ``(n, 16, 2)`` (any units, y down) to pixels of a ``size`` x ``size`` frame.

    ``stretch`` scales the bounding box to fill the frame minus ``margin`` (a fraction of the
    size) on every side, x and y separately. ``fit`` keeps the aspect ratio, scales the longer
    side to a uniform fraction in ``[min_scale, 1]`` of the available span and places the box
    uniformly at random inside it. Returns ``(n, 16, 2) float64``, xy, pixel centres at
    integers (see ``stickpose.skeleton``).
    """
    if placement not in PLACEMENTS:
        raise ValueError(f"placement {placement!r} is not one of {', '.join(PLACEMENTS)}")
    low = margin * size
    span = (size - 1) - 2 * low
    lo = poses.min(axis=1, keepdims=True)
    extent = poses.max(axis=1, keepdims=True) - lo
    if placement == "stretch":
        safe = np.where(extent > 1e-9, extent, 1.0)
        unit = np.where(extent > 1e-9, (poses - lo) / safe, 0.5)
        return low + unit * span
    scale = rng.uniform(min_scale, 1.0, (len(poses), 1, 1)) * span
    scale = scale / np.maximum(extent.max(axis=2, keepdims=True), 1e-9)
    box = extent * scale
    offset = low + rng.random((len(poses), 1, 2)) * (span - box)
    return offset + (poses - lo) * scale


def class_stretch(poses: np.ndarray, span: int, group: int = 1) -> np.ndarray:
    """The class generator's stretch of poses ``(n, 16, 2)`` (any units, y down), per axis
    ``(v - min) / (max - min) * span``: ``span`` is S in its 2021 code (the rightmost joint at
    x = S, one pixel past the last column of an S x S frame) and S - 1 since 2022. The min
    and max are those of each pose or, with ``group`` > 1, those of each run of ``group``
    consecutive poses (``n`` a multiple of it): the class's 2021 training batches, stretched
    together, shared one frame. Returns ``(n, 16, 2) float64`` pixels.
    """
    poses = np.asarray(poses, np.float64)
    if group < 1 or len(poses) % group:
        raise ValueError(f"cannot stretch {len(poses)} poses in groups of {group}")
    together = poses.reshape(len(poses) // group, group * poses.shape[1], 2)
    lo = together.min(axis=1, keepdims=True)
    extent = together.max(axis=1, keepdims=True) - lo
    safe = np.where(extent > 1e-9, extent, 1.0)
    unit = np.where(extent > 1e-9, (together - lo) / safe, 0.5)
    return (unit * span).reshape(poses.shape)
