"""Heatmap -> keypoint decoders, in a strict registry.

Every decoder reads heatmaps ``(B, h, w, J)`` and returns keypoints ``(B, J, 2) float32``
(xy, input pixels) and scores ``(B, J) float32`` (each map's peak value). Heatmap pixel ``j``
of an ``S / stride`` map is centred on input coordinate ``j * stride + (stride - 1) / 2``
(see ``codecs.gaussian``). Internally a decoder works on maps ``(B, J, h, w)`` in heatmap
pixels; ``decode`` does the checks and the conversion once for all of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from ..errors import StickposeError
from ..registry import Registry
from . import gmm


@dataclass(frozen=True)
class Decoder:
    """``decode(maps (B, J, h, w), sigma) -> points (B, J, 2) heatmap px``.

    ``trained``: the decoder has weights of its own (``stickpose train-decoder``) and is
    called through ``codecs.fc`` instead. ``uses_sigma``: its result depends on ``sigma``.
    """

    name: str
    decode: Callable | None
    summary: str
    trained: bool = False
    uses_sigma: bool = False


DECODERS = Registry("decoder")


def decoder(name: str, summary: str, uses_sigma: bool = False):
    """Register ``decode(maps, sigma)`` under ``name``."""
    def register(function):
        DECODERS.register(name, Decoder(name, function, summary, uses_sigma=uses_sigma))
        return function
    return register


def check_heatmaps(heatmaps, input_size: int) -> np.ndarray:
    """``heatmaps`` as float32 ``(B, h, w, J)``, or an error naming what is wrong."""
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    if heatmaps.ndim != 4:
        raise StickposeError(f"heatmaps have shape {heatmaps.shape}; expected (B, h, w, J)")
    height, width = heatmaps.shape[1:3]
    if height != width or input_size % width:
        raise StickposeError(f"heatmaps of {height} x {width} do not divide the input size "
                             f"{input_size}; expected square maps of input size / stride")
    return heatmaps


def decode(name: str, heatmaps, input_size: int, sigma: float = 1.5):
    """Keypoints ``(B, J, 2)`` input px and scores ``(B, J)`` from heatmaps ``(B, h, w, J)``
    with the registered decoder ``name``. ``sigma``: the training targets' spread in
    heatmap pixels (DARK blurs with it)."""
    entry = DECODERS.get(name)
    if entry.trained:
        raise StickposeError(f"decoder {name!r} has weights of its own; train it with "
                             "`stickpose train-decoder RUN` and decode with codecs.fc")
    heatmaps = check_heatmaps(heatmaps, input_size)
    maps = heatmaps.transpose(0, 3, 1, 2)
    points = np.asarray(entry.decode(maps, sigma), dtype=np.float32)
    stride = input_size // heatmaps.shape[2]
    return points * stride + (stride - 1) / 2, maps.max(axis=(2, 3))


def _argmax(maps: np.ndarray) -> np.ndarray:
    """Integer argmax of each map ``(B, J, 2)`` xy."""
    width = maps.shape[3]
    index = maps.reshape(*maps.shape[:2], -1).argmax(axis=-1)
    y, x = np.divmod(index, width)
    return np.stack([x, y], -1)


def _at(maps: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``maps[b, j, y[b, j], x[b, j]]`` with coordinates clamped into the map."""
    batch, joints, height, width = maps.shape
    b, j = np.meshgrid(np.arange(batch), np.arange(joints), indexing="ij")
    return maps[b, j, np.clip(y, 0, height - 1), np.clip(x, 0, width - 1)]


@decoder("argmax", "the highest pixel")
def argmax(maps: np.ndarray, sigma: float) -> np.ndarray:
    return _argmax(maps).astype(np.float32)


@decoder("quarter", "argmax moved a quarter pixel toward the higher neighbour (hourglass)")
def quarter(maps: np.ndarray, sigma: float) -> np.ndarray:
    peak = _argmax(maps)
    x, y = peak[..., 0], peak[..., 1]
    shift = np.stack([np.sign(_at(maps, x + 1, y) - _at(maps, x - 1, y)),
                      np.sign(_at(maps, x, y + 1) - _at(maps, x, y - 1))], -1)
    return peak + 0.25 * shift


@decoder("dark", "DARK: blur, log, then a second-order Taylor step from the argmax",
         uses_sigma=True)
def dark(maps: np.ndarray, sigma: float) -> np.ndarray:
    """Zhang et al. 2020. The blur (the training sigma) restores a Gaussian shape, rescaled
    to the map's own peak; the log of a Gaussian is quadratic, so one Newton step
    ``-H^-1 grad`` (central differences) lands on its centre. Peaks on the map's outer
    ring keep the argmax."""
    batch, joints, height, width = maps.shape
    kernel = 2 * int(np.ceil(3 * sigma)) + 1
    stack = maps.transpose(0, 2, 3, 1)                   # OpenCV blurs all joints at once
    blurred = np.stack([cv2.GaussianBlur(np.ascontiguousarray(image), (kernel, kernel), sigma)
                        .reshape(height, width, joints) for image in stack]).transpose(0, 3, 1, 2)
    peak_before = maps.max(axis=(2, 3), keepdims=True)
    peak_after = blurred.max(axis=(2, 3), keepdims=True)
    blurred = blurred * np.where(peak_after > 0, peak_before / np.maximum(peak_after, 1e-12), 1)
    log = np.log(np.maximum(blurred, 1e-10))
    peak = _argmax(maps)
    x, y = peak[..., 0], peak[..., 1]

    def value(dx, dy):
        return _at(log, x + dx, y + dy)
    centre = value(0, 0)
    gx = 0.5 * (value(1, 0) - value(-1, 0))
    gy = 0.5 * (value(0, 1) - value(0, -1))
    hxx = value(1, 0) - 2 * centre + value(-1, 0)
    hyy = value(0, 1) - 2 * centre + value(0, -1)
    hxy = 0.25 * (value(1, 1) - value(1, -1) - value(-1, 1) + value(-1, -1))
    det = hxx * hyy - hxy ** 2
    inside = (x >= 1) & (x <= width - 2) & (y >= 1) & (y <= height - 2)
    usable = inside & (det > 1e-12) & (hxx < 0)          # a maximum, not a saddle
    safe = np.where(usable, det, 1.0)
    offset = np.stack([-(hyy * gx - hxy * gy) / safe, -(hxx * gy - hxy * gx) / safe], -1)
    offset = np.where(usable[..., None], np.clip(offset, -1, 1), 0)
    return peak + offset


@decoder("softargmax", "integral regression: the expected position within 3 sigma of the peak",
         uses_sigma=True)
def softargmax(maps: np.ndarray, sigma: float) -> np.ndarray:
    """Sun et al. 2018 on a map trained toward a Gaussian: the map is the likelihood (the
    softmax of its log), so the expected position is its mean. Taken within a 3-sigma
    window around the argmax and over positive values only, because an MSE-trained map's
    background noise, summed over the whole map, would pull every joint to the centre."""
    batch, joints, height, width = maps.shape
    radius = int(np.ceil(3 * sigma))
    peak = _argmax(maps)
    ys, xs = np.arange(height), np.arange(width)
    near_x = np.abs(xs - peak[..., :1]) <= radius                       # (B, J, w)
    near_y = np.abs(ys - peak[..., 1:]) <= radius                       # (B, J, h)
    weights = np.maximum(maps, 0) * near_y[..., :, None] * near_x[..., None, :]
    total = weights.sum(axis=(2, 3))
    safe = np.where(total > 0, total, 1.0)
    mean = np.stack([(weights.sum(axis=2) * xs).sum(-1) / safe,
                     (weights.sum(axis=3) * ys).sum(-1) / safe], -1)
    return np.where((total > 0)[..., None], mean, peak)


DECODERS.register("fc", Decoder("fc", None, "seed 000: per-joint 2 x 128 dense regressor on "
                                "frozen heatmaps (stickpose train-decoder)", trained=True))
for _name, _function in (("gmm", gmm.gmm), ("gmm-sklearn", gmm.gmm_sklearn),
                         ("dedup-gmm", gmm.dedup_gmm)):
    DECODERS.register(_name, Decoder(_name, _function, gmm.SUMMARIES[_name]))
