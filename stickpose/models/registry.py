"""Strict registries of architectures and heads; the CLI's choices come from here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..registry import Registry, RegistryError


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


def build_model(arch: str, head: str, input_size: int, width: int = 32, depth: int = 1,
                heatmap_stride: int = 4, deconv: bool = False, **arch_options):
    """A named ``keras.Model``: images ``(B, S, S, 3)`` float in [0, 1] -> a dict of outputs
    (``heatmaps`` or ``coordinates``, plus ``*_stack{k}`` for stacked models).

    ``width`` is the base channel count, ``depth`` the blocks per stage; ``arch_options``
    go to the backbone (e.g. ``stacks`` for the hourglass).
    """
    import keras

    load_all()
    architecture_ = ARCHS.get(arch)
    head_ = HEADS.get(head)
    for name, value in (("width", width), ("depth", depth), ("heatmap_stride", heatmap_stride)):
        if not isinstance(value, int) or value < 1:
            raise RegistryError(f"{name} {value!r} must be a positive integer")
    if input_size < 32 or input_size % architecture_.divisor:
        examples = [n * architecture_.divisor for n in range(1, 20)
                    if n * architecture_.divisor >= 32][:5]
        raise RegistryError(f"input size {input_size} does not work with {arch}: use a "
                            f"multiple of {architecture_.divisor} of at least 32, e.g. "
                            f"{', '.join(map(str, examples))}")
    if heatmap_stride not in (1, 2, 4, 8, 16):
        raise RegistryError(f"heatmap stride {heatmap_stride} must be 1, 2, 4, 8 or 16")
    inputs = keras.Input((input_size, input_size, 3), name="image")
    if architecture_.encoder_decoder and arch == "unet":
        arch_options.setdefault("output_stride", heatmap_stride)
    try:
        features = architecture_.build(inputs, width=width, depth=depth, **arch_options)
    except TypeError as error:
        raise RegistryError(f"{arch}: {error}") from None
    if heatmap_stride > features.stride and head_.target == "heatmaps":
        raise RegistryError(f"heatmap stride {heatmap_stride} is coarser than {arch}'s "
                            f"features (stride {features.stride})")
    from .heads import apply_head
    outputs = apply_head(head_, features, input_size, min(heatmap_stride, features.stride),
                         deconv)
    return keras.Model(inputs, outputs, name=f"{arch}-{head}")
