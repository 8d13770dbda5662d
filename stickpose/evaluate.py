"""Predicting keypoints with a trained model and scoring them on the benchmark sets."""
from __future__ import annotations

import cv2
import numpy as np

from . import metrics
from .codecs.coordinates import denormalise
from .codecs.gaussian import GaussianHeatmaps
from .data.stickman import CHUNK_SIZE, StickmanGenerator


def render_set(spec, count: int | None = None):
    """Images ``(n, S, S, 3) uint8``, keypoints ``(n, 16, 2)`` and visible ``(n, 16)`` of a
    suite set (``suites.SetSpec``), rendered in memory exactly as ``generate`` writes them."""
    count = spec.count if count is None else count
    generator = StickmanGenerator(spec.config, spec.seed)
    parts = [generator.chunk(k) for k in range(-(-count // CHUNK_SIZE))]
    return tuple(np.concatenate(p)[:count] for p in zip(*parts))


def resize_set(images: np.ndarray, keypoints: np.ndarray, size: int):
    """Images resized to ``size`` (area interpolation) with keypoints mapped along."""
    scale = size / images.shape[1]
    resized = np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
                        for image in images])
    return resized, (keypoints + 0.5) * scale - 0.5


def predict_keypoints(model, images: np.ndarray, head_target: str, codec: GaussianHeatmaps,
                      batch_size: int = 64) -> np.ndarray:
    """Keypoints ``(n, 16, 2)`` in input pixels for ``images`` ``(n, S, S, 3) uint8``."""
    outputs = model.predict(images.astype(np.float32) / 255.0, batch_size=batch_size,
                            verbose=0)
    if head_target == "heatmaps":
        return codec.decode(outputs["heatmaps"])[0]
    return denormalise(np.asarray(outputs["coordinates"]), images.shape[1])


def score(predicted: np.ndarray, truth: np.ndarray, size: int) -> dict:
    """The class's metrics: class test score, PCK@0.15 of the bounding-box diagonal, MPJPE."""
    return {"score": metrics.class_score(predicted, truth, size, size),
            "pck": metrics.pck(predicted, truth, 0.15),
            "mpjpe": metrics.mpjpe(predicted, truth)}


def evaluate_on_sets(model, suite, names: list[str], input_size: int, head_target: str,
                     codec: GaussianHeatmaps, count: int | None = None) -> dict:
    """Metrics per set, measured in the sets' own pixels (224 for the class benchmark):
    images are resized to the model input and predictions mapped back."""
    results = {}
    for name in names:
        images, truth, _ = render_set(suite.sets[name], count)
        size = images.shape[1]
        small, _ = resize_set(images, truth, input_size)
        predicted = predict_keypoints(model, small, head_target, codec)
        predicted = (predicted + 0.5) * size / input_size - 0.5
        results[name] = {**score(predicted, truth, size), "images": len(images)}
    return results
