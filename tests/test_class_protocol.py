"""The class's evaluation as its code computed it (``--protocol class-as-written``): each rule
on hand-made sets whose expected score follows from the rules alone, the class's int64
labels, the 2022 drawing (every model scores 0) and the bad inputs."""
import numpy as np
import pytest

from stickpose.data.class_format import ClassSetError, load_class_set
from stickpose.data.suites import load_suite
from stickpose.metrics import (class_file_order, class_score, class_score_as_written,
                               class_scores_as_written)
from tests.cli_helpers import fails_with, invoke, ok

SIZE = 224


def poses(count: int, value: float = 100.0) -> np.ndarray:
    return np.full((count, 16, 2), value)


def test_only_a_label_equal_to_the_size_counts():
    truth = poses(1)
    truth[0, 3, 0], truth[0, 5, 1], truth[0, 7, 0] = 224, 223, 223.9
    predicted = np.zeros_like(truth)
    # 224 -> 1 is kept: |1 - 0| = 1; 223 and 223.9 (stored 223) -> 0 are skipped
    assert class_score_as_written(predicted, truth, SIZE, SIZE) == pytest.approx(1.0)
    predicted[0, 3, 0] = 112                   # half way: |1 - 0.5|
    assert class_score_as_written(predicted, truth, SIZE, SIZE) == pytest.approx(0.5)
    predicted[0, 5, 1] = 5000                  # an unscored coordinate changes nothing
    assert class_score_as_written(predicted, truth, SIZE, SIZE) == pytest.approx(0.5)
    assert class_score(predicted, truth, SIZE, SIZE) > 20       # the intended score does


def test_files_pair_with_labels_in_string_order():
    assert list(class_file_order(12)) == [0, 1, 4, 5, 6, 7, 8, 9, 10, 11, 2, 3]
    assert list(class_file_order(9)) == list(range(9))         # numeric order up to 10
    truth = poses(12)
    truth[2, 0, 0] = 224                       # only label row 2 has a scored coordinate
    scores = class_scores_as_written(np.zeros_like(truth), truth, SIZE, SIZE)
    assert np.flatnonzero(scores).tolist() == [10]             # 10.png meets row 2
    nine = poses(9)
    nine[4, 0, 0] = 224
    assert np.flatnonzero(class_scores_as_written(np.zeros_like(nine), nine, SIZE,
                                                  SIZE)).tolist() == [4]


def test_perfect_keypoints_do_not_score_zero_and_the_mean_pose_scores_as_well():
    rng = np.random.default_rng(0)
    truth = np.trunc(rng.uniform(0, 224, (40, 16, 2)))
    truth[np.arange(40), rng.integers(0, 16, 40), 0] = 224     # the rightmost joint
    perfect = class_score_as_written(truth, truth, SIZE, SIZE)
    assert perfect > 0.3                       # mispaired by the string sort
    assert class_score(truth, truth, SIZE, SIZE) == 0


def test_the_2022_drawing_scores_every_model_zero(class_dir):
    from stickpose.data.sets import render_set

    suite = load_suite("class-2022", class_dir)
    _, truth, _ = render_set(suite.sets["test1"], 12)
    assert truth.max() < 224
    for predicted in (truth, np.zeros_like(truth), truth[..., ::-1]):
        assert class_score_as_written(predicted, truth, SIZE, SIZE) == 0


def write_set(root, labels, names=None):
    import cv2

    folder = root / "Test1"
    folder.mkdir(parents=True)
    for name in names or [f"{i}.png" for i in range(len(labels))]:
        cv2.imwrite(str(folder / name), np.zeros((SIZE, SIZE, 3), np.uint8))
    np.save(root / "test1_labels.npy", labels)
    return folder


@pytest.mark.parametrize("dtype", [np.int64, np.float64])
def test_class_sets_read_int64_and_float_labels(tmp_path, dtype):
    labels = np.arange(3 * 32).reshape(3, 32).astype(dtype)
    _, keypoints, _ = load_class_set(write_set(tmp_path, labels))
    np.testing.assert_array_equal(keypoints.reshape(3, 32), labels)


def test_bad_class_sets_are_refused(tmp_path):
    labels = np.zeros((3, 32), np.int64)
    with pytest.raises(ClassSetError, match="'extra.png', which is not a numbered PNG"):
        load_class_set(write_set(tmp_path / "a", labels, ["0.png", "1.png", "2.png",
                                                           "extra.png"]))
    with pytest.raises(ClassSetError, match="holds 4 numbered PNG.s. for 3 label rows"):
        load_class_set(write_set(tmp_path / "b", labels, [f"{i}.png" for i in range(4)]))


def test_evaluate_predictions_under_both_protocols(tmp_path):
    rng = np.random.default_rng(1)
    truth = np.trunc(rng.uniform(0, 224, (12, 16, 2)))
    truth[:, 5, 0] = 224
    folder = write_set(tmp_path / "D", truth.reshape(12, 32).astype(np.int64))
    predicted = truth + rng.normal(0, 2, truth.shape)
    np.save(tmp_path / "p.npy", predicted)
    for protocol in ("intended", "class-as-written"):    # a class set gets both anyway
        output = ok(invoke("evaluate", "--predictions", tmp_path / "p.npy", "--dataset",
                           f"class:{folder}", "--protocol", protocol))
        assert f"{class_score_as_written(predicted, truth, SIZE, SIZE):.3f}" in output
        assert f"{class_score(predicted, truth, SIZE, SIZE):.3f}" in output
        assert "class score (as written)" in output and "class score (intended)" in output
    fails_with(invoke("evaluate", "--predictions", tmp_path / "p.npy", "--dataset",
                      f"class:{folder}", "--protocol", "as-written"),
               "'as-written' is not one of 'intended', 'class-as-written'")
