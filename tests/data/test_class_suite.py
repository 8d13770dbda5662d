"""The class suite read from a user's class folder, and its bad inputs."""
import shutil

import numpy as np
import pytest

from stickpose.data.class_baseline import ClassFilesError, class_files
from stickpose.data.suites import load_suite
from stickpose.data.sets import render_set
from stickpose.data.backgrounds import BackgroundFolderError
from stickpose.data.stickman import StickmanGenerator
from stickpose.errors import StickposeError
from tests.class_fixture import make_class_dir

SETTINGS = {"test1": (0.0, 0.0, 0.0), "test2": (0.5, 0.0, 0.0), "test3": (0.75, 0.5, 0.0),
            "test4": (0.25, 0.25, 1.0)}


def _complete(path):
    rows = np.load(path)
    return rows[~(rows == -1).any(axis=1)]


def _class_labels(rows, span):
    """The class generator's labels, from its rules: per pose and axis min-max scaled to
    [0, span] (2021: the size, 2022: the size - 1), then truncated."""
    poses = rows.reshape(-1, 16, 2).astype(np.float64)
    low, high = poses.min(axis=1, keepdims=True), poses.max(axis=1, keepdims=True)
    return np.trunc((poses - low) / (high - low) * span)


@pytest.mark.parametrize("suite_name, style, span", [("class", "class", 224),
                                                      ("class-2022", "class-2022", 223)])
def test_test_sets_are_the_complete_rows_in_order(class_dir, suite_name, style, span):
    suite = load_suite(suite_name, class_dir)
    complete = _complete(class_dir / "generator" / "test_split.npy")
    for k, (name, (circles, squares, backgrounds)) in enumerate(SETTINGS.items()):
        spec = suite.sets[name]
        assert spec.count == 879 and spec.config.size == 224
        assert (spec.config.circles, spec.config.squares, spec.config.backgrounds) == (
            circles, squares, backgrounds)
        assert spec.config.style == style and spec.config.labels == "person"
        _, keypoints, _ = render_set(spec, 70)            # two chunks: order across chunks
        np.testing.assert_array_equal(keypoints,
                                      _class_labels(complete[879 * k:879 * k + 70], span))


def test_the_2022_suite_is_the_2021_suite_drawn_anew(class_dir):
    old, new = load_suite("class", class_dir), load_suite("class-2022", class_dir)
    assert old.version == 2 and new.name == "class-2022"
    for name in [*old.sets, *old.streams]:
        spec, twin = {**old.sets, **old.streams}[name], {**new.sets, **new.streams}[name]
        assert spec.seed == twin.seed and spec.count == twin.count
        differs = {k for k in spec.config.__dataclass_fields__
                   if getattr(spec.config, k) != getattr(twin.config, k)}
        assert differs == ({"style", "stretch_group"} if name == "class" else {"style"})
    assert old.streams["class"].config.stretch_group == 64
    assert old.streams["class"].render_size is None           # drawn at the input size


def test_validation_is_held_out_from_the_training_stream(class_dir):
    suite = load_suite("class", class_dir)
    train = _complete(class_dir / "generator" / "train_split.npy").reshape(-1, 16, 2)
    validation = StickmanGenerator(suite.sets["validation"].config, 0).poses.poses
    stream = StickmanGenerator(suite.streams["train"].config, 0).poses.poses
    np.testing.assert_array_equal(validation, train[6696:7696])
    np.testing.assert_array_equal(stream, train[:6696])
    assert suite.streams["train"].render_size == 224
    # the class's training noise
    config = suite.streams["train"].config
    assert (config.circles, config.squares, config.backgrounds) == (0.5, 0.3, 0.9)


def test_sets_render_the_same_bytes_for_the_same_seed(class_dir):
    spec = load_suite("class", class_dir).sets["test4"]
    first, second = render_set(spec, 5), render_set(spec, 5)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert first[0].reshape(5, -1).any(axis=1).all()      # game art drawn


def test_the_repository_layout_and_a_flat_folder_both_work(class_dir, tmp_path):
    files = class_files(class_dir)
    assert files["test_split"].endswith("generator/test_split.npy")
    flat = tmp_path / "flat"
    flat.mkdir()
    for name in ("train_split.npy", "test_split.npy"):
        shutil.copy(class_dir / "generator" / name, flat / name)
    (flat / "backgrounds").mkdir()
    assert class_files(flat)["backgrounds"] == str(flat / "backgrounds")


def test_missing_class_folder_or_split(tmp_path, class_dir):
    with pytest.raises(ClassFilesError, match="does not exist; expected the class baseline"):
        load_suite("class", tmp_path / "nowhere")
    with pytest.raises(ClassFilesError, match="give its folder with --class-dir"):
        load_suite("class")
    broken = tmp_path / "broken"
    shutil.copytree(class_dir, broken)
    (broken / "generator" / "test_split.npy").unlink()
    with pytest.raises(ClassFilesError, match="no test_split.npy"):
        load_suite("class", broken)


def test_split_of_the_wrong_shape(tmp_path, class_dir):
    broken = tmp_path / "shape"
    shutil.copytree(class_dir, broken)
    np.save(broken / "generator" / "train_split.npy", np.zeros((10, 16, 2)))
    with pytest.raises(ClassFilesError, match=r"shape \(10, 16, 2\); expected \(N, 32\)"):
        load_suite("class", broken)


def test_too_few_test_poses_is_named(tmp_path):
    small = make_class_dir(tmp_path / "small", test_rows=100)
    suite = load_suite("class", small)
    with pytest.raises(StickposeError, match="rows 879:1758 of them are empty"):
        render_set(suite.sets["test2"], 3)
    with pytest.raises(StickposeError, match="90 complete pose.* fewer than the 879 images"):
        render_set(suite.sets["test1"])                   # 90 complete rows: would repeat


@pytest.mark.parametrize("content", ["empty", "text"])
def test_empty_or_non_image_background_folder(tmp_path, class_dir, content):
    broken = tmp_path / "backgrounds"
    shutil.copytree(class_dir, broken)
    (broken / "backgrounds.zip").unlink()
    (broken / "backgrounds").mkdir()
    if content == "text":
        (broken / "backgrounds" / "level.png").write_text("not a picture")
    suite = load_suite("class", broken)
    with pytest.raises(BackgroundFolderError, match="holds no readable image"):
        render_set(suite.sets["test4"], 2)
