"""Gaussian heatmap targets and their argmax decoding.

Heatmap pixel ``j`` (of an ``S / stride`` map) is centred on input coordinate
``j * stride + (stride - 1) / 2``, so an input keypoint ``x`` sits at heatmap coordinate
``(x - (stride - 1) / 2) / stride``. Targets are sub-pixel centred Gaussians with peak 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import StickposeError


@dataclass(frozen=True)
class GaussianHeatmaps:
    """Encode keypoints as heatmaps and decode heatmaps back to keypoints."""

    input_size: int
    stride: int = 4
    sigma: float = 1.5          # in heatmap pixels

    @property
    def size(self) -> int:
        return self.input_size // self.stride

    def to_heatmap(self, keypoints):
        """Input pixels -> heatmap pixels (same shape)."""
        return (keypoints - (self.stride - 1) / 2) / self.stride

    def to_input(self, points):
        """Heatmap pixels -> input pixels (same shape)."""
        return points * self.stride + (self.stride - 1) / 2

    def encode(self, keypoints, visible=None):
        """Targets ``(..., h, w, 16) float32`` for keypoints ``(..., 16, 2)`` input px.

        Joints not ``visible`` get an all-zero map. Works on NumPy arrays and, unchanged, on
        TensorFlow tensors inside a tf.data pipeline.
        """
        from ..quiet_tf import tf
        points = self.to_heatmap(tf.cast(keypoints, tf.float32))            # (..., 16, 2)
        grid = tf.range(self.size, dtype=tf.float32)
        dx = grid - points[..., 0][..., None]                             # (..., 16, w)
        dy = grid - points[..., 1][..., None]                             # (..., 16, h)
        gx = tf.exp(-dx ** 2 / (2 * self.sigma ** 2))
        gy = tf.exp(-dy ** 2 / (2 * self.sigma ** 2))
        maps = gy[..., :, None] * gx[..., None, :]                         # (..., 16, h, w)
        if visible is not None:
            maps *= tf.cast(visible, tf.float32)[..., None, None]
        rank = len(maps.shape)
        order = list(range(rank - 3)) + [rank - 2, rank - 1, rank - 3]
        return tf.transpose(maps, order)

    def decode(self, heatmaps: np.ndarray, quarter: bool = True):
        """Keypoints ``(B, 16, 2)`` input px and scores ``(B, 16)`` from ``(B, h, w, 16)``.

        The argmax of each map, shifted a quarter pixel toward the higher neighbour when
        ``quarter`` (standard hourglass practice); the score is the peak value.
        """
        heatmaps = np.asarray(heatmaps, dtype=np.float32)
        if heatmaps.ndim != 4:
            raise StickposeError(f"heatmaps have shape {heatmaps.shape}; expected (B, h, w, J)")
        batch, height, width, joints = heatmaps.shape
        flat = heatmaps.transpose(0, 3, 1, 2).reshape(batch, joints, -1)
        index = flat.argmax(axis=-1)
        scores = np.take_along_axis(flat, index[..., None], -1)[..., 0]
        y, x = np.divmod(index, width)
        points = np.stack([x, y], -1).astype(np.float32)
        if quarter:
            maps = heatmaps.transpose(0, 3, 1, 2)
            b, j = np.meshgrid(np.arange(batch), np.arange(joints), indexing="ij")
            right = maps[b, j, y, np.minimum(x + 1, width - 1)]
            left = maps[b, j, y, np.maximum(x - 1, 0)]
            down = maps[b, j, np.minimum(y + 1, height - 1), x]
            up = maps[b, j, np.maximum(y - 1, 0), x]
            points[..., 0] += 0.25 * np.sign(right - left)
            points[..., 1] += 0.25 * np.sign(down - up)
        return self.to_input(points), scores
