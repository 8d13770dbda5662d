"""Users' own architectures and heads: by import string, by file, from an installed package;
trained, resumed, evaluated, predicted and ranked like stickpose's own; bad ones refused in
one line."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

import stickpose
from stickpose.models.build import build_model
from stickpose.models.registry import ARCHS, HEADS, PluginError
from stickpose.registry import RegistryError
from stickpose.runs import RunDir, TrainConfig
from tests.cli_helpers import fails_with, invoke, ok

NETS = '''
"""A tiny backbone with a layer of its own."""
import keras
from keras import layers

import stickpose


@keras.saving.register_keras_serializable(package="user_nets")
class Scale(layers.Layer):
    """Multiplies by a learned scalar."""

    def build(self, input_shape):
        self.factor = self.add_weight(shape=(), initializer="ones", name="factor")

    def call(self, x):
        return x * self.factor


@stickpose.architecture(divisor=4)
def tiny_net(inputs, width=8, depth=1, kernel=3):
    """Two strided convolutions and a learned scale: stride 4."""
    x = layers.Conv2D(width, kernel, strides=2, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(width * 2, kernel, strides=2, padding="same", activation="relu")(x)
    return stickpose.Features([Scale()(x)], stride=4)


def bare_net(inputs, width=8, depth=1):
    """A bare tensor: the stride (8) is inferred."""
    return layers.Conv2D(width, 3, strides=8, padding="same")(inputs)
'''

HEADS_SOURCE = '''
from keras import layers

import stickpose


@stickpose.head(target="coordinates")
def offsets(feature, input_size, name, **_):
    """Pooled features to (x, y) per joint."""
    x = layers.GlobalAveragePooling2D(name=f"{name}_pool")(feature)
    x = layers.Dense(32, activation="sigmoid", name=f"{name}_out")(x)
    return layers.Reshape((16, 2), name=f"{name}_xy")(x)


@stickpose.head(target="coordinates")
def too_few(feature, name, **_):
    """Eight numbers: not what the coordinates codec needs."""
    return layers.Dense(8, name=f"{name}_out")(layers.Flatten()(feature))
'''

TINY = ["--input-size", 32, "--width", 8, "--batch-size", 8, "--steps", 2,
        "--validation-count", 8, "--test-count", 8, "--epochs", 1]


@pytest.fixture(scope="module")
def plugins(tmp_path_factory):
    """A folder with user_nets.py and user_heads.py, the current folder while tests run."""
    folder = tmp_path_factory.mktemp("plugins")
    (folder / "user_nets.py").write_text(NETS)
    (folder / "user_heads.py").write_text(HEADS_SOURCE)
    before = os.getcwd()
    os.chdir(folder)
    yield folder
    os.chdir(before)


def _cli(*args, cwd, env=None):
    """``stickpose ARGS`` in a fresh process (a plugin imported anew) in ``cwd``."""
    return subprocess.run([sys.executable, "-m", "stickpose", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, **(env or {})})


def test_build_model_takes_names_import_strings_builders_and_keras_models(plugins):
    import keras
    from keras import layers

    by_string = build_model("user_nets:tiny_net", "heatmap", 32, width=4)
    assert by_string.name == "tiny_net-heatmap"
    assert tuple(by_string.output["heatmaps"].shape) == (None, 16, 16, 16)
    by_file = build_model(f"{plugins / 'user_nets.py'}:bare_net", "user_heads:offsets", 32)
    assert tuple(by_file.output["coordinates"].shape) == (None, 16, 2)

    def local_net(inputs, width=8, depth=1):
        return [layers.Conv2D(width, 3, strides=4, padding="same")(inputs)] * 2
    stacked = build_model(local_net, "scalar", 32)
    assert sorted(stacked.output) == ["coordinates", "coordinates_stack1"]
    images = keras.Input((None, None, 3))
    backbone = keras.Model(images, layers.Conv2D(8, 3, strides=2, padding="same")(images))
    model = build_model(backbone, "heatmap", 32)             # stride 2 inferred
    assert tuple(model.output["heatmaps"].shape) == (None, 16, 16, 16)


def test_check_model_passes_the_built_in_six_and_a_plugin(plugins):
    for arch in [*ARCHS.names(), "user_nets:tiny_net"]:
        checks = stickpose.check_model(arch, input_size=32, width=4)
        assert [c.head for c in checks] == HEADS.names()
        assert all(c.ok for c in checks), [c.line() for c in checks]
    bad = stickpose.check_model("user_nets:tiny_net", heads=["user_heads:too_few"],
                                input_size=32)
    assert not bad[0].ok and bad[0].stage == "build"
    assert "returned shape (None, 8); its codec normalised needs coordinates (batch, 16, 2)" \
        in bad[0].problem


def test_a_plugin_trains_resumes_evaluates_predicts_and_ranks_from_the_cli(plugins, tmp_path):
    spec = f"./user_nets.py:tiny_net"
    ok(invoke("train", "--arch", "user_nets:tiny_net", "--head", "heatmap", *TINY,
              "--arch-option", "kernel=5", "--out", tmp_path / "by-module"))
    config = json.loads((tmp_path / "by-module" / "config.json").read_text())
    assert config["schema"] == 2 and config["arch_options"] == {"kernel": 5}
    source = config["plugins"]["user_nets:tiny_net"]
    assert source["file"] == str(plugins / "user_nets.py")
    assert len(source["sha256"]) == 64
    # by file path, with the user's head; then resumed for a second epoch
    out = tmp_path / "by-file"
    ok(invoke("train", "--arch", spec, "--head", "user_heads:offsets", *TINY, "--out", out))
    config = TrainConfig.load(out / "config.json")
    assert config.arch == f"{plugins / 'user_nets.py'}:tiny_net"      # absolute: resumable
    history = RunDir(out).history()
    (out / "evaluation.json").unlink()                       # trained, not yet evaluated
    output = ok(invoke("train", "--resume", "--out", out))
    assert "test1: class score" in output and RunDir(out).history() == history
    ok(invoke("evaluate", out, "--sets", "test1"))
    image = np.full((40, 56, 3), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "photo.png"), image)
    ok(invoke("predict", tmp_path / "photo.png", "--run", out, "--out", tmp_path / "pred"))
    keypoints = json.loads((tmp_path / "pred" / "photo.json").read_text())
    assert len(keypoints["keypoints"]) == 16
    board = ok(invoke("leaderboard", "--suite", "stickman", "--arch", "tiny_net"))
    assert "user_nets.py:tiny_net" in board and "user_heads:offsets" in board
    assert f"user_nets.py {source['sha256'][:8]}" in board          # where the code came from
    assert "resnet" not in board
    fails_with(invoke("leaderboard", "--arch", "no_such_net"),
               "no recorded run has architecture 'no_such_net'; recorded:")


def test_a_changed_plugin_warns_and_a_missing_one_is_an_error(plugins, tmp_path):
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "moved_nets.py").write_text(NETS)
    out = tmp_path / "run"
    result = _cli("train", "--arch", "moved_nets:tiny_net", *TINY, "--out", out, cwd=folder)
    assert result.returncode == 0, result.stderr
    with open(folder / "moved_nets.py", "a") as handle:
        handle.write("# edited after training\n")
    result = _cli("evaluate", out, "--sets", "test1", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "warning: plugin moved_nets:tiny_net changed since run" in result.stderr
    assert "Traceback" not in result.stderr
    result = _cli("evaluate", out, "--sets", "test1", cwd=tmp_path)   # not on the path
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (f"needs plugin moved_nets:tiny_net (trained from {folder / 'moved_nets.py'}): no "
            "module named 'moved_nets'") in " ".join(result.stderr.split())


BAD = {
    "broken_import.py": ("x = 1\nraise RuntimeError('my typo')\n", "net",
                         "does not import: RuntimeError: my typo (broken_import.py, line 2)"),
    "syntax.py": ("def net(:\n", "net", "does not import: SyntaxError: "),
    "exits.py": ("import sys\nsys.exit(7)\n", "net",
                 "does not import: SystemExit: 7 (exits.py, line 2)"),
    "plugin.txt": ("def net(inputs):\n    return inputs\n", "net", "is not a .py file"),
    "missing.py": ("def other(inputs):\n    return inputs\n", "net", "has no 'net'"),
    "not_callable.py": ("net = 3\n", "net", "net: it is a int, not a backbone builder"),
    "not_features.py": ("def net(inputs, width=8, depth=1):\n    return 'features'\n", "net",
                        "returned a str, not feature maps"),
    "stride3.py": ("from keras import layers\n"
                   "def net(inputs, width=8, depth=1):\n"
                   "    return layers.Conv2D(4, 3, strides=3)(inputs)\n", "net",
                   "returned features of 21 x 21 px from 64 px (stride 3.04762 measured), "
                   "not a whole fraction of the input; use an input size its layers divide "
                   "evenly"),
    "declares8.py": ("import stickpose\nfrom keras import layers\n"
                     "@stickpose.architecture(divisor=8)\n"
                     "def net(inputs, width=8, depth=1):\n"
                     "    x = layers.Conv2D(4, 3, strides=4, padding='same')(inputs)\n"
                     "    return stickpose.Features([x], stride=8)\n", "net",
                     "declares stride 8, but its feature maps are 16 x 16 px from 64 px "
                     "(stride 4 measured); declare the stride its layers give"),
}


@pytest.mark.parametrize("file", sorted(BAD))
def test_bad_plugins_are_one_line_errors_naming_the_import_string(plugins, tmp_path, file):
    source, attribute, message = BAD[file]
    (tmp_path / file).write_text(source)
    spec = f"{tmp_path / file}:{attribute}"
    out = tmp_path / "run"
    result = invoke("train", "--arch", spec, "--input-size", 64, "--out", out)
    fails_with(result, message)
    assert spec in result.output or file in result.output
    assert not out.exists()                                  # nothing written


def test_bad_specs_and_heads_are_refused_before_any_work(plugins, tmp_path):
    out = tmp_path / "run"
    fails_with(invoke("train", "--arch", "no_such_module:net", "--out", out),
               "architecture no_such_module:net: no module named 'no_such_module'")
    fails_with(invoke("train", "--arch", "resnt", "--out", out),
               "unknown architecture 'resnt'; known: hourglass, inception")
    fails_with(invoke("train", "--arch", "user_nets:", "--out", out),
               "is not an import string like my_nets:tiny_net")
    fails_with(invoke("train", "--head", "user_heads:nope", "--out", out),
               "head user_heads:nope: user_heads (")
    fails_with(invoke("train", "--head", "user_heads:nope", "--out", out), "has no 'nope'")
    fails_with(invoke("train", "--head", "user_nets:bare_net", "--out", out),
               "is not declared as a head: decorate it with @stickpose.head")
    fails_with(invoke("train", "--arch-option", "stacks", "--out", out),
               "'stacks' is not KEY=VALUE")
    fails_with(invoke("train", "--arch", "resnet", "--arch-option", "stacks=3", "--out", out),
               "resnet: no option 'stacks'; it takes no options")
    fails_with(invoke("train", "--arch", "hourglass", "--arch-option", "stacks=abc",
                      "--out", out), "hourglass: stacks 'abc' must be a positive integer")
    fails_with(invoke("check-model", "user_nets:tiny_net", "--head", "user_heads:too_few",
                      "--input-size", 32), "1 of 1 check(s) failed")
    assert not out.exists()
    with pytest.raises(PluginError, match="@head target 'keypoints' is unknown"):
        stickpose.head(target="keypoints")
    with pytest.raises(RegistryError, match="unknown head 'dense'"):
        build_model("resnet", "dense", 32)


def test_the_hourglass_stacks_moved_to_arch_options_with_ids_kept(tmp_path):
    from stickpose.leaderboard.store import config_hash
    from dataclasses import asdict

    old = {**asdict(TrainConfig()), "schema": 1}
    del old["arch_options"], old["plugins"]
    old["stacks"] = 3
    path = tmp_path / "config.json"
    path.write_text(json.dumps(old))
    config = TrainConfig.load(path)
    assert config.arch_options == {"stacks": 3}
    recorded = {k: v for k, v in old.items() if k != "schema"}
    assert config_hash(asdict(config)) == config_hash(recorded)      # the same run id
    path.write_text(json.dumps({**old, "stacks": 2}))
    assert TrainConfig.load(path).arch_options == {}
    assert config_hash(asdict(TrainConfig())) == config_hash({**recorded, "stacks": 2})


PACKAGE = {
    "pyproject.toml": '''
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "0.1"

        [project.entry-points."stickpose.architectures"]
        {entry} = "{name}:net"
        ''',
    "{name}.py": '''
        from keras import layers
        {extra}

        def net(inputs, width=8, depth=1):
            """A package's backbone."""
            return layers.Conv2D(width, 3, strides=4, padding="same")(inputs)
        ''',
}


def _install(name: str, entry: str, extra: str, target: Path) -> None:
    source = target.parent / f"{name}-src"
    source.mkdir()
    for file, text in PACKAGE.items():
        (source / file.format(name=name)).write_text(
            textwrap.dedent(text).format(name=name, entry=entry, extra=extra))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target),
                    str(source)], check=True, capture_output=True)


@pytest.mark.slow
def test_an_installed_package_extends_stickpose_by_entry_points(tmp_path):
    if shutil.which("pip") is None and subprocess.run(
            [sys.executable, "-m", "pip", "--version"], capture_output=True).returncode:
        pytest.skip("pip is not available to install the test package")
    target = tmp_path / "site"
    _install("pkg_nets", "pkg_net", "", target)
    _install("pkg_broken", "broken_net", "raise ImportError('pkg_broken is broken')", target)
    env = {"PYTHONPATH": str(target)}
    result = _cli("train", "--help", cwd=tmp_path, env=env)
    assert "pkg_net" in result.stdout and "broken_net" in result.stdout    # metadata only
    result = _cli("models", "--arch", "pkg_net", "--arch", "resnet", "--head", "heatmap",
                  "--input-size", 32, "--width", 4, "--repeats", 1, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "pkg_net" in result.stdout and "resnet" in result.stdout
    result = _cli("check-model", "broken_net", cwd=tmp_path, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert ("architecture 'broken_net' (package pkg-broken: pkg_broken:net) cannot be "
            "loaded: ImportError: pkg_broken is broken") in result.stderr


def test_the_readme_example_file_trains_from_the_cli(tmp_path, monkeypatch):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("<!-- example:my_nets -->\n```python\n", 1)[1].split("```", 1)[0]
    assert len(block.splitlines()) <= 30                     # a short, complete example
    (tmp_path / "readme_nets.py").write_text(block)
    spec = f"{tmp_path / 'readme_nets.py'}:tiny_net"
    assert "all 3 head(s) pass" in ok(invoke("check-model", spec, "--input-size", 32))
    ok(invoke("train", "--arch", spec, "--head", "heatmap", "--arch-option", "kernel=5",
              *TINY, "--out", tmp_path / "run"))
    assert RunDir(tmp_path / "run").state().kind == "finished"
