"""Heads: heatmaps, scalar coordinates, and integral (soft-argmax) coordinates.

Every head applies to every feature map of a backbone (several for stacked models, for
intermediate supervision) and names its outputs ``heatmaps`` / ``coordinates`` for the final
map and ``..._stack{k}`` for the earlier ones. Heatmaps are raw ``(B, S/stride, S/stride, 16)``
maps; coordinates are ``(B, 16, 2)`` xy divided by the input size (see ``codecs``).
"""
from __future__ import annotations

from ..quiet_tf import tf  # noqa: F401  (TensorFlow before Keras, quietly)
import keras
from keras import layers, ops

from ..skeleton import NUM_JOINTS
from .blocks import conv_bn
from .registry import Features, Head, PluginError, head


def _upsample(x, stride: int, to_stride: int, deconv: bool, name: str):
    """Raise resolution by 2 per step until ``to_stride``: transposed convolutions (as in
    Simple Baselines) or bilinear upsampling then a 3x3 convolution."""
    step = 0
    while stride > to_stride:
        step += 1
        channels = max(16, x.shape[-1] // 2)
        if deconv:
            x = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", use_bias=False,
                                       name=f"{name}_deconv{step}")(x)
            x = layers.BatchNormalization(name=f"{name}_deconv{step}_bn")(x)
            x = layers.Activation("relu", name=f"{name}_deconv{step}_relu")(x)
        else:
            x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up{step}")(x)
            x = conv_bn(x, channels, 3, 1, f"{name}_up{step}")
        stride //= 2
    return x


@head("heatmaps", name="heatmap")
def heatmap_head(feature, stride: int, input_size: int, heatmap_stride: int, deconv: bool,
                 name: str):
    """Gaussian heatmaps per joint, decoded to keypoints ``(B, S/hs, S/hs, 16)``."""
    x = _upsample(feature, stride, heatmap_stride, deconv, name)
    return layers.Conv2D(NUM_JOINTS, 1, name=f"{name}_out")(x)


@head("coordinates", name="scalar")
def scalar_head(feature, stride: int, input_size: int, heatmap_stride: int, deconv: bool,
                name: str):
    """Direct (x, y) regression from pooled features: dense -> ``(B, 16, 2)``."""
    x = conv_bn(feature, feature.shape[-1], 3, 2, f"{name}_reduce")
    x = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    x = layers.Dense(256, activation="relu", name=f"{name}_dense")(x)
    x = layers.Dense(NUM_JOINTS * 2, name=f"{name}_out")(x)
    return layers.Reshape((NUM_JOINTS, 2), name=f"{name}_xy")(x)


@keras.saving.register_keras_serializable(package="stickpose")
class SoftArgmax(layers.Layer):
    """Integral regression (Sun et al. 2018): softmax over each heatmap, then the expected
    position, returned as xy / input size ``(B, 16, 2)``. Heatmap pixel centre ``j`` lies at
    input coordinate ``j * stride + (stride - 1) / 2``."""

    def __init__(self, stride: int, input_size: int, **kwargs):
        super().__init__(**kwargs)
        self.stride = stride
        self.input_size = input_size

    def call(self, heatmaps):
        height, width, joints = heatmaps.shape[1], heatmaps.shape[2], heatmaps.shape[3]
        flat = ops.reshape(ops.transpose(heatmaps, (0, 3, 1, 2)), (-1, joints, height * width))
        weights = ops.softmax(ops.cast(flat, "float32"), axis=-1)
        centres = (ops.arange(width, dtype="float32") * self.stride
                   + (self.stride - 1) / 2) / self.input_size
        rows = (ops.arange(height, dtype="float32") * self.stride
                + (self.stride - 1) / 2) / self.input_size
        xs = ops.reshape(ops.tile(centres[None, :], (height, 1)), (-1,))
        ys = ops.reshape(ops.tile(rows[:, None], (1, width)), (-1,))
        return ops.stack([ops.sum(weights * xs, axis=-1), ops.sum(weights * ys, axis=-1)], -1)

    def get_config(self):
        return {**super().get_config(), "stride": self.stride, "input_size": self.input_size}


@head("coordinates", name="integral")
def integral_head(feature, stride: int, input_size: int, heatmap_stride: int, deconv: bool,
                  name: str):
    """Soft-argmax over heatmaps, trained on coordinates ``(B, 16, 2)``."""
    logits = heatmap_head(feature, stride, input_size, heatmap_stride, deconv, name)
    return SoftArgmax(heatmap_stride, input_size, name=f"{name}_softargmax")(logits)


def apply_head(head: Head, features: Features, input_size: int, heatmap_stride: int,
               deconv: bool) -> dict:
    """Outputs ``{name: tensor}`` of ``head`` on every feature map, the final one last; a
    ``PluginError`` when the head's output is not the shape its codec needs."""
    outputs = {}
    count = len(features.maps)
    side = input_size // heatmap_stride
    expected = (side, side, NUM_JOINTS) if head.target == "heatmaps" else (NUM_JOINTS, 2)
    for index, feature in enumerate(features.maps, start=1):
        key = head.target if index == count else f"{head.target}_stack{index}"
        tensor = head.build(feature, stride=features.stride, input_size=input_size,
                            heatmap_stride=heatmap_stride, deconv=deconv,
                            name=f"{head.name}{index if count > 1 else ''}")
        shape = tuple(tensor.shape) if isinstance(tensor, keras.KerasTensor) else None
        if shape is None or shape[1:] != expected:
            got = f"shape {shape}" if shape is not None else f"a {type(tensor).__name__}"
            raise PluginError(f"head {head.spec or head.name} returned {got}; its codec "
                              f"{head.codec} needs {head.target} (batch, "
                              f"{', '.join(map(str, expected))})")
        outputs[key] = layers.Identity(name=key, dtype="float32")(tensor)   # fp32 under mixed precision
    return outputs
