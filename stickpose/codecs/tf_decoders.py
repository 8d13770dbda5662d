"""The heatmap decoders as TensorFlow graph code, for models exported with their decoder
inside (``stickpose.export``).

Each is the NumPy decoder of the same name in ``codecs.decoders`` written with TensorFlow
ops that TFLite runs natively (argmax, one-hot lookups, matrix products, element-wise
arithmetic): same inputs, same result to float rounding (tested to 1e-3 px on the
benchmark's heatmaps). DARK's Gaussian blur is the exact linear map OpenCV's
``GaussianBlur`` applies (border reflected, 101), measured once per map size as a matrix.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from ..errors import StickposeError
from ..quiet_tf import tf

#: The decoders that exist in-graph, in ``stickpose decoders`` order of the NumPy ones.
GRAPH_DECODERS = ("argmax", "quarter", "dark", "softargmax")


def decode_graph(name: str, heatmaps, input_size: int, sigma: float = 1.5):
    """Keypoints ``(B, J, 2) float32`` xy input px and scores ``(B, J)`` (each map's peak)
    from heatmaps ``(B, h, w, J)`` (a tensor with static ``h, w, J``), as
    ``codecs.decoders.decode(name, ...)`` computes them."""
    if name not in GRAPH_DECODERS:
        raise StickposeError(f"decoder {name!r} has no in-graph version; an exported model "
                             f"decodes with {', '.join(GRAPH_DECODERS)}")
    heatmaps = tf.cast(heatmaps, tf.float32)
    height, width = int(heatmaps.shape[1]), int(heatmaps.shape[2])
    maps = tf.transpose(heatmaps, (0, 3, 1, 2))                    # (B, J, h, w)
    points = _DECODE[name](maps, sigma)
    stride = input_size // width
    return points * stride + (stride - 1) / 2, tf.reduce_max(maps, axis=(2, 3))


def _argmax(maps):
    """Integer argmax of each map: ``(x, y)`` int32 ``(B, J)`` each."""
    width = maps.shape[3]
    index = tf.argmax(tf.reshape(maps, (-1, maps.shape[1], maps.shape[2] * width)), axis=-1,
                      output_type=tf.int32)
    return index % width, index // width


def _at(maps, x, y):
    """``maps[b, j, y, x]`` ``(B, J)`` with the coordinates clamped into the map."""
    height, width = maps.shape[2], maps.shape[3]
    column = tf.one_hot(tf.clip_by_value(x, 0, width - 1), width, dtype=maps.dtype)
    row = tf.one_hot(tf.clip_by_value(y, 0, height - 1), height, dtype=maps.dtype)
    return tf.reduce_sum(maps * row[..., :, None] * column[..., None, :], axis=(2, 3))


def _xy(x, y):
    return tf.stack([tf.cast(x, tf.float32), tf.cast(y, tf.float32)], -1)


def argmax(maps, sigma):
    return _xy(*_argmax(maps))


def quarter(maps, sigma):
    x, y = _argmax(maps)
    shift = tf.stack([tf.sign(_at(maps, x + 1, y) - _at(maps, x - 1, y)),
                      tf.sign(_at(maps, x, y + 1) - _at(maps, x, y - 1))], -1)
    return _xy(x, y) + 0.25 * shift


def blur_matrix(size: int, sigma: float) -> np.ndarray:
    """The ``(size, size)`` matrix ``M`` with ``M @ row`` = OpenCV's ``GaussianBlur`` of a
    row of ``size`` values at ``sigma`` (the kernel ``codecs.decoders.dark`` uses, border
    reflected 101): the blur of each unit vector."""
    kernel = 2 * int(math.ceil(3 * sigma)) + 1
    rows = cv2.GaussianBlur(np.eye(size, dtype=np.float32), (kernel, 1), sigma)
    return np.ascontiguousarray(rows.T)


def dark(maps, sigma):
    height, width = maps.shape[2], maps.shape[3]
    down = tf.constant(blur_matrix(height, sigma))
    across = tf.constant(blur_matrix(width, sigma))
    blurred = tf.matmul(tf.matmul(down, maps), across, transpose_b=True)
    peak_before = tf.reduce_max(maps, axis=(2, 3), keepdims=True)
    peak_after = tf.reduce_max(blurred, axis=(2, 3), keepdims=True)
    blurred = blurred * tf.where(peak_after > 0,
                                 peak_before / tf.maximum(peak_after, 1e-12), 1.0)
    log = tf.math.log(tf.maximum(blurred, 1e-10))
    x, y = _argmax(maps)

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
    usable = inside & (det > 1e-12) & (hxx < 0)
    safe = tf.where(usable, det, 1.0)
    offset = tf.stack([-(hyy * gx - hxy * gy) / safe, -(hxx * gy - hxy * gx) / safe], -1)
    offset = tf.where(usable[..., None], tf.clip_by_value(offset, -1.0, 1.0), 0.0)
    return _xy(x, y) + offset


def softargmax(maps, sigma):
    height, width = maps.shape[2], maps.shape[3]
    radius = int(math.ceil(3 * sigma))
    x, y = _argmax(maps)
    xs = tf.range(width, dtype=tf.int32)
    ys = tf.range(height, dtype=tf.int32)
    near_x = tf.cast(tf.abs(xs - x[..., None]) <= radius, tf.float32)      # (B, J, w)
    near_y = tf.cast(tf.abs(ys - y[..., None]) <= radius, tf.float32)      # (B, J, h)
    weights = tf.nn.relu(maps) * near_y[..., :, None] * near_x[..., None, :]
    total = tf.reduce_sum(weights, axis=(2, 3))
    safe = tf.where(total > 0, total, 1.0)
    mean = tf.stack([tf.reduce_sum(tf.reduce_sum(weights, 2) * tf.cast(xs, tf.float32), -1),
                     tf.reduce_sum(tf.reduce_sum(weights, 3) * tf.cast(ys, tf.float32), -1)],
                    -1) / safe[..., None]
    return tf.where((total > 0)[..., None], mean, _xy(x, y))


_DECODE = {"argmax": argmax, "quarter": quarter, "dark": dark, "softargmax": softargmax}
