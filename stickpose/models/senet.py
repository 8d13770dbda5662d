"""SE-Net backbone: the ResNet stages with squeeze-and-excitation in every block."""
from __future__ import annotations

from .registry import Features, architecture
from .resnet import residual_stages


@architecture("senet", divisor=16)
def senet(inputs, width: int = 32, depth: int = 2, se_ratio: int = 8) -> Features:
    """SE-Net: residual blocks with squeeze-and-excitation (Hu et al. 2018), stride 16."""
    return residual_stages(inputs, width, depth, se_ratio, "senet")
