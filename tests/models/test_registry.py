import numpy as np
import pytest

from stickpose.models.build import build_model
from stickpose.models.registry import ARCHS, HEADS
from stickpose.registry import Registry, RegistryError

COMBINATIONS = [(a, h) for a in ARCHS.names() for h in HEADS.names()]


def test_all_six_architectures_and_three_heads_register_as_entry_points():
    assert ARCHS.names() == ["hourglass", "inception", "mobilenetv2", "resnet", "senet", "unet"]
    assert HEADS.names() == ["heatmap", "integral", "scalar"]
    for name in ARCHS.names():                 # each module declares exactly its own name
        assert ARCHS.get(name).build.stickpose_architecture.name == name
    for name in HEADS.names():
        assert HEADS.get(name).build.stickpose_head.name == name


@pytest.mark.parametrize("arch, head", COMBINATIONS)
def test_every_combination_builds_with_the_right_outputs(arch, head):
    model = build_model(arch, head, 64, width=8)         # default heatmap stride: 2
    assert model.name == f"{arch}-{head}"
    outputs = model(np.random.default_rng(0).random((2, 64, 64, 3), dtype=np.float32))
    final = "heatmaps" if head == "heatmap" else "coordinates"
    expected = (2, 32, 32, 16) if head == "heatmap" else (2, 16, 2)
    assert tuple(outputs[final].shape) == expected
    assert all(tuple(v.shape) == expected for v in outputs.values())
    if arch == "hourglass":
        assert len(outputs) == 2                       # intermediate supervision, 2 stacks


def test_heatmap_stride_and_deconvolution_head():
    model = build_model("resnet", "heatmap", 64, width=8, heatmap_stride=1, deconv=True)
    assert tuple(model.output["heatmaps"].shape) == (None, 64, 64, 16)
    assert any("deconv" in layer.name for layer in model.layers)
    unet = build_model("unet", "heatmap", 64, width=8, heatmap_stride=2)
    assert tuple(unet.output["heatmaps"].shape) == (None, 32, 32, 16)


@pytest.mark.parametrize("arch, option, value", [
    ("senet", "se_ratio", 2), ("mobilenetv2", "expansion", 6), ("unet", "output_stride", 4)])
def test_every_builder_option_is_reachable(arch, option, value):
    plain = build_model(arch, "heatmap", 64, width=8)
    changed = build_model(arch, "heatmap", 64, width=8, **{option: value})
    assert plain.count_params() != changed.count_params()


def test_stacks_option_reaches_the_hourglass():
    model = build_model("hourglass", "heatmap", 64, width=8, stacks=3)
    assert sorted(model.output) == ["heatmaps", "heatmaps_stack1", "heatmaps_stack2"]


@pytest.mark.parametrize("call, message", [
    (lambda: build_model("vgg", "heatmap", 64), "unknown architecture 'vgg'; known: hourglass, inception, mobilenetv2, resnet"),
    (lambda: build_model("resnet", "dense", 64), "unknown head 'dense'; known: heatmap"),
    (lambda: build_model("unet", "heatmap", 72), "input size 72 does not work with unet: "
                                                 "use a multiple of 16 .* e.g. 32, 48, 64"),
    (lambda: build_model("hourglass", "heatmap", 48), "multiple of 32"),
    (lambda: build_model("resnet", "heatmap", 64, width=0), "width 0 must be a positive"),
    (lambda: build_model("resnet", "heatmap", 64, heatmap_stride=3), "heatmap stride 3"),
    (lambda: build_model("resnet", "heatmap", 64, colour=True),
     "resnet: no option 'colour'; it takes no options"),
    (lambda: build_model("senet", "heatmap", 64, colour=True),
     "senet: no option 'colour'; its options are se_ratio"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(RegistryError, match=message):
        call()


def test_registry_is_strict():
    registry = Registry("thing")
    registry.register("a", 1)
    with pytest.raises(RegistryError, match="thing 'a' is already registered"):
        registry.register("a", 2)
