"""MobileNetV2 backbone: inverted residuals with depthwise convolutions (stride 16)."""
from __future__ import annotations

from ..quiet_tf import tf  # noqa: F401  (TensorFlow before Keras, quietly)
from keras import layers

from .blocks import conv_bn
from .registry import Features, architecture


def inverted_residual(x, filters: int, stride: int, expansion: int, name: str):
    """1x1 expansion (ReLU6), 3x3 depthwise (ReLU6), linear 1x1 projection; a residual
    connection when the shape is unchanged (Sandler et al. 2018)."""
    y = conv_bn(x, x.shape[-1] * expansion, 1, 1, f"{name}_expand", activation="relu6")
    y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                               name=f"{name}_dw")(y)
    y = layers.BatchNormalization(name=f"{name}_dw_bn")(y)
    y = layers.Activation("relu6", name=f"{name}_dw_relu6")(y)
    y = conv_bn(y, filters, 1, 1, f"{name}_project", activation=None)
    if stride == 1 and x.shape[-1] == filters:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


@architecture("mobilenetv2", divisor=16)
def mobilenetv2(inputs, width: int = 32, depth: int = 2, expansion: int = 4) -> Features:
    """MobileNetV2: inverted residual blocks with depthwise convolutions, stride 16."""
    x = conv_bn(inputs, width, 3, 2, "mobilenetv2_stem", activation="relu6")
    x = inverted_residual(x, width // 2, 1, 1, "mobilenetv2_b0")
    for stage, filters in enumerate((width, 2 * width, 4 * width), start=1):
        for block in range(depth):
            x = inverted_residual(x, filters, 2 if block == 0 else 1, expansion,
                                  f"mobilenetv2_s{stage}b{block + 1}")
    return Features([x], 16)
