"""Strict registries of architectures and heads; the CLI's choices come from here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..registry import Registry


@dataclass(frozen=True)
class Architecture:
    """A feature extractor: ``build(inputs, width, depth, **options) -> Features``.

    ``divisor``: input sizes must be multiples of it. ``encoder_decoder``: its features come
    back at high resolution by design (U-Net, hourglass), so heads need no deconvolution.
    """

    name: str
    build: Callable
    divisor: int
    encoder_decoder: bool
    summary: str


@dataclass(frozen=True)
class Features:
    """Backbone output: feature maps ``(B, S/stride, S/stride, C)``; several for stacked
    models (intermediate supervision), the last being the final one."""

    maps: list
    stride: int


ARCHS = Registry("architecture")
HEADS = Registry("head")

# The modules that register architectures, in the order the seed reports list them. The
# CLI reads these names without importing TensorFlow; ``load_all`` imports the modules and
# a test checks that each registers exactly its own name.
ARCH_MODULES = ("resnet", "unet", "senet", "mobilenetv2", "inception", "hourglass")
HEAD_NAMES = ("heatmap", "scalar", "integral")


def load_all() -> None:
    """Import every architecture module and the heads so that they register themselves."""
    import importlib
    for module in (*ARCH_MODULES, "heads"):
        importlib.import_module(f"{__package__}.{module}")


def architecture(name: str, divisor: int, encoder_decoder: bool = False):
    """Decorator registering a backbone builder under ``name``."""
    def register(build: Callable) -> Callable:
        ARCHS.register(name, Architecture(name, build, divisor, encoder_decoder,
                                          (build.__doc__ or "").strip().splitlines()[0]))
        return build
    return register
