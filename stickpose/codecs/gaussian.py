"""Gaussian heatmap targets (decoding them is ``codecs.decoders``).

Heatmap pixel ``j`` (of an ``S / stride`` map) is centred on input coordinate
``j * stride + (stride - 1) / 2``, so an input keypoint ``x`` sits at heatmap coordinate
``(x - (stride - 1) / 2) / stride``. Targets are sub-pixel centred Gaussians with peak 1.
"""
from __future__ import annotations

from dataclasses import dataclass

HEATMAP_STRIDE = 2     # the default: heatmaps at half the input resolution
HEATMAP_STRIDES = (1, 2, 4, 8, 16)     # the strides a heatmap head can be built at


@dataclass(frozen=True)
class GaussianHeatmaps:
    """Encode keypoints as heatmaps; map between input and heatmap pixels."""

    input_size: int
    stride: int = HEATMAP_STRIDE
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
