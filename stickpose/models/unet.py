"""U-Net backbone: an encoder-decoder with skip connections (Ronneberger et al. 2015)."""
from __future__ import annotations

from ..quiet_tf import tf  # noqa: F401  (TensorFlow before Keras, quietly)
from keras import layers

from .blocks import conv_bn
from .registry import Features, architecture

LEVELS = 4


def _double_conv(x, filters: int, name: str):
    return conv_bn(conv_bn(x, filters, 3, 1, f"{name}_a"), filters, 3, 1, f"{name}_b")


@architecture("unet", divisor=2 ** LEVELS)
def unet(inputs, width: int = 16, depth: int = 1, output_stride: int = 4) -> Features:
    """U-Net: encoder-decoder with skip connections, decoded to ``output_stride``."""
    skips, x = [], inputs
    for level in range(LEVELS):                      # encoder: S, S/2, ..., S/2^(LEVELS-1)
        x = _double_conv(x, width * 2 ** min(level, 3), f"unet_down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"unet_pool{level}")(x)
    x = _double_conv(x, width * 8, "unet_bottom")   # S / 2^LEVELS
    stride = 2 ** LEVELS
    for level in reversed(range(LEVELS)):            # decoder with skips
        if stride <= output_stride:
            break
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"unet_up{level}")(x)
        x = layers.Concatenate(name=f"unet_skip{level}")([x, skips[level]])
        x = _double_conv(x, width * 2 ** min(level, 3), f"unet_dec{level}")
        stride //= 2
    return Features([x], stride)
