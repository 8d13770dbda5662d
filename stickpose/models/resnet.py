"""ResNet backbone: a stem and three stages of basic residual blocks (stride 16)."""
from __future__ import annotations

from .blocks import residual_block, stem
from .registry import Features, architecture


def residual_stages(inputs, width: int, depth: int, se_ratio: int | None, name: str) -> Features:
    """Stem (stride 2), then stages of ``depth`` blocks with w, 2w, 4w channels at strides
    4, 8, 16; the first block of each stage downsamples."""
    x = stem(inputs, width, f"{name}_stem")
    for stage, filters in enumerate((width, 2 * width, 4 * width), start=1):
        for block in range(depth):
            x = residual_block(x, filters, 2 if block == 0 else 1,
                               f"{name}_s{stage}b{block + 1}", se_ratio=se_ratio)
    return Features([x], 16)


@architecture("resnet", divisor=16)
def resnet(inputs, width: int = 32, depth: int = 2) -> Features:
    """ResNet: residual blocks (He et al. 2016), features at stride 16."""
    return residual_stages(inputs, width, depth, None, "resnet")
