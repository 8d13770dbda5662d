"""Building a model: a registered architecture (backbone) with a registered head."""
from __future__ import annotations

from ..quiet_tf import tf  # noqa: F401  (TensorFlow before Keras, quietly)
import keras

from ..codecs.gaussian import HEATMAP_STRIDE
from .heads import apply_head
from ..registry import RegistryError
from .registry import ARCHS, HEADS, load_all


def input_size_problem(arch: str, input_size: int) -> str | None:
    """Why ``input_size`` pixels do not suit ``arch`` (its down-sampling needs a multiple
    of its divisor, at least 32), or None."""
    load_all()
    divisor = ARCHS.get(arch).divisor
    if input_size >= 32 and input_size % divisor == 0:
        return None
    examples = [n * divisor for n in range(1, 20) if n * divisor >= 32][:5]
    return (f"does not work with {arch}: use a multiple of {divisor} of at least 32, e.g. "
            f"{', '.join(map(str, examples))}")


def build_model(arch: str, head: str, input_size: int, width: int = 32, depth: int = 1,
                heatmap_stride: int = HEATMAP_STRIDE, deconv: bool = False, **arch_options):
    """A named ``keras.Model``: images ``(B, S, S, 3)`` float in [0, 1] -> a dict of outputs
    (``heatmaps`` or ``coordinates``, plus ``*_stack{k}`` for stacked models).

    ``width`` is the base channel count, ``depth`` the blocks per stage; ``arch_options``
    go to the backbone (e.g. ``stacks`` for the hourglass).
    """
    load_all()
    architecture_ = ARCHS.get(arch)
    head_ = HEADS.get(head)
    for name, value in (("width", width), ("depth", depth), ("heatmap_stride", heatmap_stride)):
        if not isinstance(value, int) or value < 1:
            raise RegistryError(f"{name} {value!r} must be a positive integer")
    problem = input_size_problem(arch, input_size)
    if problem:
        raise RegistryError(f"input size {input_size} {problem}")
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
    outputs = apply_head(head_, features, input_size, min(heatmap_stride, features.stride),
                         deconv)
    return keras.Model(inputs, outputs, name=f"{arch}-{head}")
