"""Layer blocks shared by the backbones: conv-BN-ReLU, residual and squeeze-excitation."""
from __future__ import annotations

from ..quiet_tf import tf  # noqa: F401  (TensorFlow before Keras, quietly)
from keras import layers


def conv_bn(x, filters: int, kernel: int, stride: int, name: str, activation: str | None = "relu"):
    """Convolution (no bias), batch norm, optional activation."""
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation(activation, name=f"{name}_{activation}")(x) if activation else x


def squeeze_excite(x, ratio: int, name: str):
    """Squeeze-and-excitation (Hu et al. 2018): reweight channels by global context."""
    channels = x.shape[-1]
    scale = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    scale = layers.Conv2D(max(channels // ratio, 4), 1, activation="relu", name=f"{name}_reduce")(scale)
    scale = layers.Conv2D(channels, 1, activation="sigmoid", name=f"{name}_expand")(scale)
    return layers.Multiply(name=f"{name}_excite")([x, scale])


def residual_block(x, filters: int, stride: int, name: str, se_ratio: int | None = None):
    """Basic residual block (He et al. 2016): two 3x3 convs plus a (projected) shortcut,
    optionally with squeeze-and-excitation on the residual branch (SE-ResNet)."""
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = conv_bn(x, filters, 1, stride, f"{name}_proj", activation=None)
    y = conv_bn(x, filters, 3, stride, f"{name}_a")
    y = conv_bn(y, filters, 3, 1, f"{name}_b", activation=None)
    if se_ratio:
        y = squeeze_excite(y, se_ratio, f"{name}_se")
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def stem(inputs, width: int, name: str = "stem"):
    """A stride-2 3x3 stem then a stride-1 conv: (S, S, 3) -> (S/2, S/2, width)."""
    x = conv_bn(inputs, width, 3, 2, f"{name}_1")
    return conv_bn(x, width, 3, 1, f"{name}_2")

