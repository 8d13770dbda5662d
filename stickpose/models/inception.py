"""Inception backbone: multi-branch Inception modules between stride-2 reductions."""
from __future__ import annotations

from ..quiet_tf import tf  # noqa: F401  (TensorFlow before Keras, quietly)
from keras import layers

from .blocks import conv_bn, stem
from .registry import Features, architecture


def inception_module(x, filters: int, name: str):
    """Four parallel branches concatenated (Szegedy et al. 2015/2016): 1x1; 1x1 -> 3x3;
    1x1 -> 3x3 -> 3x3 (a factorised 5x5); 3x3 average pool -> 1x1. Output: ``filters``."""
    quarter = max(filters // 4, 1)
    one = conv_bn(x, quarter, 1, 1, f"{name}_1x1")
    three = conv_bn(conv_bn(x, quarter, 1, 1, f"{name}_3x3r"), quarter, 3, 1, f"{name}_3x3")
    five = conv_bn(x, quarter, 1, 1, f"{name}_5x5r")
    five = conv_bn(conv_bn(five, quarter, 3, 1, f"{name}_5x5a"), quarter, 3, 1, f"{name}_5x5b")
    pool = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    pool = conv_bn(pool, filters - 3 * quarter, 1, 1, f"{name}_poolproj")
    return layers.Concatenate(name=f"{name}_concat")([one, three, five, pool])


@architecture("inception", divisor=16)
def inception(inputs, width: int = 32, depth: int = 1) -> Features:
    """Inception: multi-branch modules (1x1, 3x3, factorised 5x5, pool), stride 16."""
    x = stem(inputs, width, "inception_stem")
    for stage, filters in enumerate((width, 2 * width, 4 * width), start=1):
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"inception_reduce{stage}")(x)
        for block in range(depth):
            x = inception_module(x, filters, f"inception_s{stage}m{block + 1}")
    return Features([x], 16)
