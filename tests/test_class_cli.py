"""The class benchmark end to end from the command line, on a small class folder made here."""
import json

import numpy as np
import pytest

from stickpose.data.class_format import load_class_set
from stickpose.data.storage import load_dataset
from tests.cli_helpers import fails_with, invoke, ok


@pytest.fixture(scope="module")
def class_run(class_dir, tmp_path_factory):
    """A tiny model trained on the class suite."""
    run = tmp_path_factory.mktemp("runs") / "class-run"
    ok(invoke("train", "--suite", "class", "--class-dir", class_dir, "--arch", "resnet",
              "--input-size", 32, "--width", 8, "--batch-size", 8, "--epochs", 1, "--steps", 2,
              "--test-count", 8, "--out", run))
    return run


def test_generate_the_class_suite_in_both_layouts(class_dir, tmp_path):
    output = ok(invoke("generate", "--suite", "class", "--class-dir", class_dir, "--size", 64,
                       "--count", 6, "--workers", 1, "--out", tmp_path / "ours"))
    assert "complete poses 879:1758" in output
    for name in ("test1", "test2", "test3", "test4", "validation"):
        dataset = load_dataset(tmp_path / "ours" / name)
        assert len(dataset) == 6 and dataset.meta["config"]["style"] == "class"
        assert np.array_equal(dataset.keypoints, np.trunc(dataset.keypoints))
    ok(invoke("generate", "--suite", "class", "--class-dir", class_dir, "--size", 64,
              "--count", 6, "--workers", 1, "--format", "class", "--out", tmp_path / "Dataset"))
    for k in range(1, 5):
        labels = np.load(tmp_path / "Dataset" / f"test{k}_labels.npy")
        assert labels.shape == (6, 32) and labels.dtype == np.float64
        assert sorted(p.name for p in (tmp_path / "Dataset" / f"Test{k}").iterdir()) == \
            [f"{i}.png" for i in range(6)]
        images, keypoints, _ = load_class_set(tmp_path / "Dataset" / f"Test{k}")
        ours = load_dataset(tmp_path / "ours" / f"test{k}")
        np.testing.assert_array_equal(keypoints, ours.keypoints)      # same seeds, same sets
        np.testing.assert_array_equal(images[0], ours.image(0))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no staging left


def test_train_on_the_class_suite_records_its_own_table(class_run):
    evaluation = json.loads((class_run / "evaluation.json").read_text())
    assert list(evaluation["sets"]) == [f"class/test{k}" for k in range(1, 5)]
    for values in evaluation["sets"].values():
        assert {"score", "flip_score", "swap", "pck"} <= set(values)
        assert values["flip_score"] <= values["score"]
    config = json.loads((class_run / "config.json").read_text())
    assert config["suite"] == "class" and config["labels"] == "observer"
    assert (class_run / "handedness.joblib").is_file()
    board = ok(invoke("leaderboard", "--suite", "class", "--format", "csv"))
    assert board.splitlines()[0].startswith("arch,head,data,test1")
    assert "resnet,heatmap,class," in board


def test_evaluate_reads_a_set_in_the_class_layout(class_dir, class_run, tmp_path):
    ok(invoke("generate", "--suite", "class", "--class-dir", class_dir, "--size", 64,
              "--count", 5, "--workers", 1, "--format", "class", "--out", tmp_path / "D"))
    for spelling in (tmp_path / "D" / "Test3", f"class:{tmp_path / 'D' / 'Test3'}"):
        output = ok(invoke("evaluate", class_run, "--dataset", spelling, "--decoders",
                           "quarter", "--out", tmp_path / "tables"))
        assert "Test3 (5 images)" in output and "flip-tolerant score" in output
    ok(invoke("evaluate", class_run, "--sets", "test1", "--count", 4, "--decoders", "argmax",
              "--out", tmp_path / "own"))
    assert "class/test1" in (tmp_path / "own" / "evaluation.md").read_text()


def test_class_bad_inputs(class_dir, class_run, tmp_path):
    fails_with(invoke("generate", "--suite", "class", "--out", tmp_path / "x"),
               "give its folder with --class-dir DIR")
    fails_with(invoke("train", "--suite", "class", "--class-dir", tmp_path / "missing",
                      "--out", tmp_path / "r"), "does not exist; expected the class baseline")
    assert not (tmp_path / "r").exists() and not (tmp_path / "x").exists()
    fails_with(invoke("generate", "--style", "class", "--out", tmp_path / "y"),
               "placement stretch, margin 0")
    fails_with(invoke("generate", "--class-dir", class_dir, "--out", tmp_path / "y"),
               "--class-dir goes with --suite class")
    (tmp_path / "Dataset" / "Test1").mkdir(parents=True)
    (tmp_path / "Dataset" / "Test1" / "0.png").write_bytes(b"")
    fails_with(invoke("evaluate", class_run, "--dataset", f"class:{tmp_path / 'Dataset' / 'Test1'}"),
               "has no labels: expected")
    np.save(tmp_path / "Dataset" / "test1_labels.npy", np.zeros((3, 32)))
    fails_with(invoke("evaluate", class_run, "--dataset", tmp_path / "Dataset" / "Test1"),
               "holds 1 numbered PNG(s) for 3 label rows")


def test_class_layout_refuses_a_folder_with_the_users_files(class_dir, tmp_path):
    (tmp_path / "D" / "Test1").mkdir(parents=True)
    (tmp_path / "D" / "Test1" / "notes.txt").write_text("mine")
    fails_with(invoke("generate", "--style", "class", "--margin", 0, "--size", 32, "--count", 2,
                      "--format", "class", "--overwrite", "--out", tmp_path / "D"),
               "holds other files (notes.txt)")
    assert (tmp_path / "D" / "Test1" / "notes.txt").read_text() == "mine"
    ok(invoke("generate", "--style", "class", "--margin", 0, "--size", 32, "--count", 2,
              "--format", "class", "--out", tmp_path / "E"))
    assert (tmp_path / "E" / "test1_labels.npy").is_file()
    fails_with(invoke("generate", "--style", "class", "--margin", 0, "--size", 32, "--count", 2,
                      "--format", "class", "--out", tmp_path / "E"), "pass --overwrite")


def test_unwritable_output_is_one_line(class_dir, tmp_path):
    fails_with(invoke("generate", "--suite", "class", "--class-dir", class_dir, "--count", 2,
                      "--format", "class", "--out", "/proc/stickpose-test"),
               "No such file or directory")
    fails_with(invoke("generate", "--suite", "class", "--class-dir", tmp_path / "a-file.txt",
                      "--out", tmp_path / "x"), "does not exist")
    (tmp_path / "a-file.txt").write_text("x")
    fails_with(invoke("generate", "--suite", "class", "--class-dir", tmp_path / "a-file.txt",
                      "--out", tmp_path / "x"), "is a file, not a folder")


def test_predict_with_a_class_run_writes_person_centric_labels(class_dir, class_run, tmp_path):
    ok(invoke("generate", "--suite", "class", "--class-dir", class_dir, "--count", 2,
              "--workers", 1, "--format", "class", "--out", tmp_path / "D"))
    ok(invoke("predict", tmp_path / "D" / "Test1" / "0.png", "--run", class_run,
              "--out", tmp_path / "out"))
    saved = json.loads((tmp_path / "out" / "0.json").read_text())
    assert saved["labels"].startswith("person-centric")
    assert len(saved["keypoints"]) == 16
