"""Stacked hourglass backbone with intermediate supervision (Newell et al. 2016)."""
from __future__ import annotations

from ..quiet_tf import tf  # noqa: F401  (TensorFlow before Keras, quietly)
from keras import layers

from ..errors import StickposeError
from .blocks import conv_bn, residual_block
from .registry import Features, architecture

LEVELS = 3


def hourglass_module(x, filters: int, levels: int, name: str):
    """One hourglass: a residual branch at this scale plus a pooled branch that recurses
    ``levels`` deep and is upsampled back, the two added (bottom-up, top-down)."""
    upper = residual_block(x, filters, 1, f"{name}_up")
    lower = layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    lower = residual_block(lower, filters, 1, f"{name}_low1")
    lower = (hourglass_module(lower, filters, levels - 1, f"{name}_inner") if levels > 1
             else residual_block(lower, filters, 1, f"{name}_low2"))
    lower = residual_block(lower, filters, 1, f"{name}_low3")
    lower = layers.UpSampling2D(2, name=f"{name}_upsample")(lower)
    return layers.Add(name=f"{name}_merge")([upper, lower])


@architecture("hourglass", divisor=4 * 2 ** LEVELS)
def hourglass(inputs, width: int = 32, depth: int = 1, stacks: int = 2) -> Features:
    """Stacked hourglass: repeated bottom-up/top-down modules, stride 4, one feature map
    per stack for intermediate supervision."""
    if not isinstance(stacks, int) or isinstance(stacks, bool) or stacks < 1:
        raise StickposeError(f"hourglass: stacks {stacks!r} must be a positive integer")
    x = conv_bn(inputs, width, 3, 2, "hourglass_stem")
    x = residual_block(x, width, 1, "hourglass_stem_res")
    x = layers.MaxPooling2D(2, name="hourglass_stem_pool")(x)
    x = residual_block(x, width, 1, "hourglass_stem_res2")
    maps = []
    for stack in range(1, stacks + 1):
        y = hourglass_module(x, width, LEVELS, f"hourglass{stack}")
        for block in range(depth):
            y = residual_block(y, width, 1, f"hourglass{stack}_post{block + 1}")
        y = conv_bn(y, width, 1, 1, f"hourglass{stack}_features")
        maps.append(y)
        if stack < stacks:                           # feed this stack's features forward
            x = layers.Add(name=f"hourglass{stack}_next")(
                [x, layers.Conv2D(width, 1, name=f"hourglass{stack}_remap")(y)])
    return Features(maps, 4)
