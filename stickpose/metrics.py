"""Keypoint metrics in pure NumPy. Keypoints ``(N, 16, 2)`` xy pixels."""
from __future__ import annotations

import numpy as np


def class_score(predicted: np.ndarray, truth: np.ndarray, width: int, height: int) -> float:
    """The class test score: the sum over all 32 coordinates of |error| with x divided by
    the image width and y by its height, averaged over images (lower is better)."""
    error = np.abs(predicted - truth) / np.array([width, height], dtype=np.float64)
    return float(error.sum(axis=(1, 2)).mean())


def mpjpe(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Mean per-joint position error in pixels."""
    return float(np.linalg.norm(predicted - truth, axis=-1).mean())


def bbox_diagonal(truth: np.ndarray) -> np.ndarray:
    """Diagonal of each ground-truth pose's bounding box ``(N,)`` pixels."""
    return np.linalg.norm(truth.max(axis=1) - truth.min(axis=1), axis=-1)


def pck(predicted: np.ndarray, truth: np.ndarray, threshold: float = 0.15,
        reference: np.ndarray | None = None) -> float:
    """Share of joints within ``threshold`` x reference distance (default: the bounding-box
    diagonal of the ground truth, as the class did)."""
    reference = bbox_diagonal(truth) if reference is None else reference
    distance = np.linalg.norm(predicted - truth, axis=-1)
    return float((distance <= threshold * reference[:, None]).mean())
