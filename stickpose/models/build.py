"""Building a model: an architecture (backbone) with a head, each a registered name, an
import string or (from Python) the builder or ``keras.Model`` itself (see ``registry``)."""
from __future__ import annotations

from ..quiet_tf import tf  # noqa: F401  (TensorFlow before Keras, quietly)
import keras

from ..codecs.gaussian import HEATMAP_STRIDE, HEATMAP_STRIDES
from .heads import apply_head
from ..errors import StickposeError
from ..files import stop_requested
from ..registry import RegistryError
from .registry import ARCHS, HEADS, Architecture, Features, PluginError, resolve


def input_size_problem(arch, input_size: int) -> str | None:
    """Why ``input_size`` pixels do not suit ``arch`` (its down-sampling needs a multiple
    of its divisor, at least 32), or None. A backbone that declares no divisor is checked
    when it is built, from its features' stride."""
    architecture_ = arch if isinstance(arch, Architecture) else resolve(arch, ARCHS)
    divisor = architecture_.divisor
    if input_size >= 32 and input_size % divisor == 0:
        return None
    examples = [n * divisor for n in range(1, 20) if n * divisor >= 32][:5]
    return (f"does not work with {architecture_.name}: use a multiple of {divisor} of at "
            f"least 32, e.g. {', '.join(map(str, examples))}")


def build_features(architecture_: Architecture, inputs, width: int, depth: int,
                   options: dict) -> Features:
    """The backbone's ``Features`` on ``inputs``, checked: feature maps ``(B, h, w, C)``
    with a whole stride that divides the input size (inferred when the builder returns
    tensors or is a ``keras.Model``)."""
    name, input_size = architecture_.spec or architecture_.name, inputs.shape[1]
    known = architecture_.options
    if known is not None:
        unknown = sorted(set(options) - set(known))
        if unknown:
            takes = f"its options are {', '.join(known)}" if known else "it takes no options"
            raise PluginError(f"{name}: no option {unknown[0]!r}; {takes}")
    try:
        if isinstance(architecture_.build, keras.Model):
            if options:
                raise PluginError(f"{name} is a keras.Model: it takes no options")
            result = architecture_.build(inputs)
        else:
            result = architecture_.build(inputs, width=width, depth=depth, **options)
    except StickposeError:                               # a builder's own argument check
        raise
    except (Exception, SystemExit, KeyboardInterrupt) as error:     # the user's code
        if isinstance(error, KeyboardInterrupt) and stop_requested():
            raise                                        # the user's Ctrl-C
        raise PluginError(f"{name} failed to build at {input_size} px: "
                          f"{type(error).__name__}: {str(error).splitlines()[0]}") from None
    maps, stride = (result.maps, result.stride) if isinstance(result, Features) else (
        list(result) if isinstance(result, (list, tuple)) else [result], None)
    if isinstance(result, dict) or not maps or not all(
            isinstance(m, keras.KerasTensor) and len(m.shape) == 4 for m in maps):
        raise PluginError(f"{name} returned {_describe(result)}, not feature maps (a "
                          "Features, a Keras tensor (batch, h, w, channels) or a list of "
                          "them)")
    declared = stride
    for feature in maps:
        height, width_ = feature.shape[1], feature.shape[2]
        inferred = declared or (round(input_size / height) if height else 0)
        if stride and inferred != stride:
            raise PluginError(f"{name} returned feature maps of different strides ({stride} "
                              f"and {inferred}); every map must have the same")
        if not inferred or input_size % inferred or (height, width_) != (
                input_size // inferred,) * 2:
            measured = (f"stride {input_size / height:g} measured" if height else
                        "no stride measurable")
            if declared:                                 # the declaration is what is wrong
                raise PluginError(f"{name} declares stride {declared}, but its feature "
                                  f"maps are {height} x {width_} px from {input_size} px "
                                  f"({measured}); declare the stride its layers give")
            raise PluginError(f"{name} returned features of {height} x {width_} px from "
                              f"{input_size} px ({measured}), not a whole fraction of the "
                              f"input; use an input size its layers divide evenly")
        stride = inferred
    return Features(maps, stride)


def _describe(value) -> str:
    if isinstance(value, keras.KerasTensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def build_model(arch, head, input_size: int, width: int = 32, depth: int = 1,
                heatmap_stride: int = HEATMAP_STRIDE, deconv: bool = False, **arch_options):
    """A named ``keras.Model``: images ``(B, S, S, 3)`` float in [0, 1] -> a dict of outputs
    (``heatmaps`` or ``coordinates``, plus ``*_stack{k}`` for stacked models).

    ``arch``: a registered name, ``MODULE:NAME`` / ``FILE.py:NAME``, a builder
    ``(inputs, width=..., depth=..., **options) -> Features`` or a functional
    ``keras.Model`` mapping images to feature maps. ``head``: a registered name, an import
    string or a builder declared with ``@stickpose.head``. ``width`` is the base channel
    count, ``depth`` the blocks per stage; ``arch_options`` go to the backbone (e.g.
    ``stacks`` for the hourglass); a backbone that takes ``output_stride`` is asked for
    the heatmap stride unless given one.
    """
    architecture_ = resolve(arch, ARCHS)
    head_ = resolve(head, HEADS)
    for name, value in (("width", width), ("depth", depth), ("heatmap_stride", heatmap_stride)):
        if not isinstance(value, int) or value < 1:
            raise RegistryError(f"{name} {value!r} must be a positive integer")
    problem = input_size_problem(architecture_, input_size)
    if problem:
        raise RegistryError(f"input size {input_size} {problem}")
    if heatmap_stride not in HEATMAP_STRIDES:
        raise RegistryError(f"heatmap stride {heatmap_stride} must be 1, 2, 4, 8 or 16")
    inputs = keras.Input((input_size, input_size, 3), name="image")
    if "output_stride" in (architecture_.options or {}):
        arch_options.setdefault("output_stride", heatmap_stride)
    features = build_features(architecture_, inputs, width, depth, arch_options)
    if heatmap_stride > features.stride and head_.target == "heatmaps":
        raise RegistryError(f"heatmap stride {heatmap_stride} is coarser than "
                            f"{architecture_.name}'s features (stride {features.stride})")
    outputs = apply_head(head_, features, input_size, min(heatmap_stride, features.stride),
                         deconv)
    return keras.Model(inputs, outputs, name=f"{architecture_.name}-{head_.name}")
