"""The class benchmark end to end from the command line, on a small class folder made here."""
import io
import json

import numpy as np
import pandas as pd
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
        assert labels.shape == (6, 32) and labels.dtype == np.int64      # as the class's
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
        assert {"score", "score_written", "flip_score", "swap", "pck"} <= set(values)
        assert values["flip_score"] <= values["score"]
    config = json.loads((class_run / "config.json").read_text())
    assert config["suite"] == "class" and config["labels"] == "observer"
    assert (class_run / "handedness.npz").is_file()
    assert [point["images"] for point in evaluation["validation_curve"]] == [16]  # 2 x 8
    board = ok(invoke("leaderboard", "--suite", "class", "--format", "csv"))
    assert board.splitlines()[0].startswith("arch,head,data,setup,test1")
    assert "resnet,heatmap,class," in board
    row = pd.read_csv(io.StringIO(board)).query("arch == 'resnet'").iloc[0]
    assert row["tta_curves"] == 1                     # the curve went into the store


def test_evaluate_reads_a_set_in_the_class_layout(class_dir, class_run, tmp_path):
    ok(invoke("generate", "--suite", "class", "--class-dir", class_dir, "--size", 64,
              "--count", 5, "--workers", 1, "--format", "class", "--out", tmp_path / "D"))
    for spelling in (tmp_path / "D" / "Test3", f"class:{tmp_path / 'D' / 'Test3'}"):
        output = ok(invoke("evaluate", class_run, "--dataset", spelling, "--decoders",
                           "quarter", "--out", tmp_path / "tables"))
        assert "## Test3@" in output and "(5 images)" in output
        assert "flip-tolerant score" in output
    ok(invoke("evaluate", class_run, "--sets", "test1", "--count", 4, "--decoders", "argmax",
              "--out", tmp_path / "own"))
    assert "class/test1" in (tmp_path / "own" / "evaluation.md").read_text()


def test_class_bad_inputs(class_dir, class_run, tmp_path):
    fails_with(invoke("generate", "--suite", "class", "--out", tmp_path / "x"),
               "give its folder with --class-dir DIR")
    fails_with(invoke("train", "--suite", "class", "--class-dir", tmp_path / "missing",
                      "--out", tmp_path / "r"), "does not exist; expected the class baseline")
    assert not (tmp_path / "r").exists() and not (tmp_path / "x").exists()
    fails_with(invoke("generate", "--style", "class", "--margin", 0.05, "--out",
                      tmp_path / "y"),
               "placement stretch, margin 0); got placement 'stretch', margin 0.05")
    fails_with(invoke("generate", "--class-dir", class_dir, "--out", tmp_path / "y"),
               "--class-dir goes with --suite class")
    (tmp_path / "Dataset" / "Test1").mkdir(parents=True)
    (tmp_path / "Dataset" / "Test1" / "0.png").write_bytes(b"")
    fails_with(invoke("evaluate", class_run, "--dataset",
                      f"class:{tmp_path / 'Dataset' / 'Test1'}"), "has no labels: expected")
    np.save(tmp_path / "Dataset" / "test1_labels.npy", np.zeros((3, 32)))
    fails_with(invoke("evaluate", class_run, "--dataset", tmp_path / "Dataset" / "Test1"),
               "holds 1 numbered PNG(s) for 3 label rows")


def test_class_layout_refuses_a_folder_with_the_users_files(class_dir, tmp_path):
    (tmp_path / "D" / "Test1").mkdir(parents=True)
    (tmp_path / "D" / "Test1" / "notes.txt").write_text("mine")
    fails_with(invoke("generate", "--style", "class", "--margin", 0, "--size", 32, "--count", 2,
                      "--format", "class", "--overwrite", "--out", tmp_path / "D"),
               "holds Test1/notes.txt, which is not a class set stickpose wrote")
    assert (tmp_path / "D" / "Test1" / "notes.txt").read_text() == "mine"
    ok(invoke("generate", "--style", "class", "--margin", 0, "--size", 32, "--count", 2,
              "--format", "class", "--out", tmp_path / "E"))
    assert (tmp_path / "E" / "test1_labels.npy").is_file()
    fails_with(invoke("generate", "--style", "class", "--margin", 0, "--size", 32, "--count", 2,
                      "--format", "class", "--out", tmp_path / "E"),
               "already holds a class set; pass --overwrite")


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


def test_interrupted_overwrite_keeps_the_old_sets_whole(class_dir, tmp_path):
    from stickpose.data.class_format import write_class_layout

    ok(invoke("generate", "--suite", "class", "--class-dir", class_dir, "--size", 32,
              "--count", 4, "--workers", 1, "--out", tmp_path / "ours"))
    datasets = {n: load_dataset(tmp_path / "ours" / n) for n in ("test1", "test2")}
    write_class_layout(datasets, tmp_path / "D")
    before = {p.name: p.read_bytes() for p in (tmp_path / "D").rglob("*") if p.is_file()}

    class Interrupted:                      # the second set is interrupted while copied
        def __init__(self, dataset):
            self.dataset, self.keypoints = dataset, dataset.keypoints

        def __len__(self):
            return len(self.dataset)

        def image_path(self, index):
            if index == 2:
                raise KeyboardInterrupt
            return self.dataset.image_path(index)

    with pytest.raises(KeyboardInterrupt):
        write_class_layout({"test1": datasets["test2"], "test2": Interrupted(datasets["test1"])},
                           tmp_path / "D", overwrite=True)
    after = {p.name: p.read_bytes() for p in (tmp_path / "D").rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in (tmp_path / "D").iterdir() if p.name.startswith(".")]


def test_relative_class_dir_and_unusual_files(class_dir, tmp_path, monkeypatch):
    import shutil
    monkeypatch.chdir(class_dir.parent)
    ok(invoke("generate", "--suite", "class", "--class-dir", class_dir.name, "--size", 32,
              "--count", 2, "--workers", 1, "--out", tmp_path / "rel"))
    broken = tmp_path / "broken"
    shutil.copytree(class_dir, broken)
    (broken / "generator" / "test_split.npy").write_bytes(b"")
    fails_with(invoke("generate", "--suite", "class", "--class-dir", broken, "--out",
                      tmp_path / "x"), "the file is empty")
    (broken / "generator" / "test_split.npy").write_text("x0,y0\n1,2\n")
    fails_with(invoke("generate", "--suite", "class", "--class-dir", broken, "--out",
                      tmp_path / "x"), "it is not a NumPy .npy array file")
    (tmp_path / "D" / "Test1").mkdir(parents=True)
    cv2_png = (tmp_path / "rel" / "test1" / "images" / "000000.png").read_bytes()
    (tmp_path / "D" / "Test1" / "0.png").write_bytes(cv2_png)
    run_dir = tmp_path / "no-run"
    fails_with(invoke("evaluate", run_dir, "--dataset", tmp_path / "D" / "Test1"),
               "does not exist; train one")
    from stickpose.data.class_format import ClassSetError, load_class_set
    with pytest.raises(ClassSetError, match="has no labels: expected"):
        load_class_set(tmp_path / "D" / "Test1")
    np.save(tmp_path / "D" / "test1_labels.npy", np.array([["a"] * 32]))
    with pytest.raises(ClassSetError, match="holds <U1 values; expected numbers"):
        load_class_set(tmp_path / "D" / "Test1")
    np.save(tmp_path / "D" / "test1_labels.npy", np.full((1, 32), np.nan))
    with pytest.raises(ClassSetError, match="NaN or infinite"):
        load_class_set(tmp_path / "D" / "Test1")


def test_users_own_files_are_never_replaced(tmp_path):
    (tmp_path / "U").mkdir()
    (tmp_path / "U" / "test1_labels.npy").write_text("my notes")
    fails_with(invoke("generate", "--style", "class", "--margin", 0, "--size", 32, "--count", 2,
                      "--format", "class", "--overwrite", "--out", tmp_path / "U"),
               "not a class set stickpose wrote")
    assert (tmp_path / "U" / "test1_labels.npy").read_text() == "my notes"
    (tmp_path / "V" / "Test1").mkdir(parents=True)
    (tmp_path / "V" / "Test1" / "17.png").write_bytes(b"mine")
    fails_with(invoke("generate", "--style", "class", "--margin", 0, "--size", 32, "--count", 2,
                      "--format", "class", "--overwrite", "--out", tmp_path / "V"),
               "Test1 without test1_labels.npy")
    assert (tmp_path / "V" / "Test1" / "17.png").read_bytes() == b"mine"
    fails_with(invoke("generate", "--count", 2, "--out", tmp_path / "W",
                      "--preview", "/proc/sheet.png"), "cannot write --preview /proc/sheet.png")
    assert not (tmp_path / "W").exists()


def test_a_bad_background_archive_writes_no_run(class_dir, tmp_path):
    import shutil
    broken = tmp_path / "cls"
    shutil.copytree(class_dir, broken)
    (broken / "backgrounds.zip").write_text("not a zip")
    fails_with(invoke("train", "--suite", "class", "--class-dir", broken, "--input-size", 32,
                      "--width", 8, "--epochs", 1, "--steps", 1, "--out", tmp_path / "run"),
               "cannot read background archive")
    assert not (tmp_path / "run").exists()


def test_export_with_only_class_results(tmp_path):
    from stickpose.leaderboard.board import export
    from stickpose.leaderboard.store import open_store, record

    engine = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    with pytest.raises(Exception, match="nothing to export"):
        export(engine, tmp_path / "empty", "test")
    assert not (tmp_path / "empty").exists()
    config = {"arch": "hourglass", "head": "heatmap", "input_size": 64, "width": 32, "seed": 0,
              "suite": "class"}
    record(engine, config, None, {"class/test1": {"score": 1.5, "flip_score": 0.8,
                                                  "swap": 0.2, "pck": 0.9, "images": 879}})
    written = sorted(p.name for p in export(engine, tmp_path / "out", "test")[0])
    assert written == ["class.csv", "class.md", "class.png", "results.csv"]
    table = (tmp_path / "out" / "class.md").read_text()
    row = next(line for line in table.splitlines() if "**1.500**" in line)
    assert [cell.strip() for cell in row.split("|")[1:7]] == [
        "hourglass", "heatmap", "class", "32", "", "**1.500**"]
    board = ok(invoke("leaderboard", "--db", f"sqlite:///{tmp_path / 'store.sqlite'}"))
    assert "Empty DataFrame" not in board and "1.500" in board


@pytest.fixture(scope="module")
def two_layouts(class_dir, tmp_path_factory):
    """The class suite as stickpose datasets (``ours``, 224 px as a COCO file is read) and
    twice in the class's layout (``A`` and ``B``, of 5 and 4 images: the same folder names,
    different data)."""
    root = tmp_path_factory.mktemp("layouts")
    for name, layout, count, size in (("ours", "stickpose", 5, 224), ("A", "class", 5, 64),
                                      ("B", "class", 4, 64)):
        ok(invoke("generate", "--suite", "class", "--class-dir", class_dir, "--size", size,
                  "--count", count, "--workers", 1, "--format", layout, "--out", root / name))
    return root


def test_a_class_set_read_through_its_coco_file_is_relabelled_as_its_folder(class_run,
                                                                             two_layouts,
                                                                             tmp_path):
    """The person-centric labels of a class-suite set are recorded in its annotations.json,
    so the COCO path relabels the run's predictions as the folder path does."""
    from stickpose.data.sets import folder_sets

    folder = two_layouts / "ours" / "test1"
    coco = f"coco:{folder / 'annotations.json'}"
    info = json.loads((folder / "annotations.json").read_text())["info"]
    assert info["labels"] == "person-centric"
    assert folder_sets([coco])[0].person and folder_sets([folder])[0].person
    for name, value in (("folder", folder), ("coco", coco)):
        ok(invoke("evaluate", class_run, "--dataset", value, "--decoders", "quarter",
                  "--out", tmp_path / name, "--save-predictions"))
    by_folder, by_coco = (pd.read_csv(tmp_path / n / "evaluation.csv").iloc[0]
                          for n in ("folder", "coco"))
    for metric in ("score", "flip_score", "swap", "pck", "mpjpe"):
        assert by_coco[metric] == pytest.approx(by_folder[metric], rel=1e-4), metric
    assert "labels person-centric (recorded in the file)" in by_coco["note"]
    # the ground truth saved beside the predictions keeps the set's convention
    saved, = (tmp_path / "folder" / "predictions").glob("*.annotations.json")
    assert json.loads(saved.read_text())["info"]["labels"] == "person-centric"


@pytest.mark.parametrize("value, message", [
    ("class:{A}/test1_labels.npy", "--dataset 'class:{A}/test1_labels.npy' is a file; expected "
     "the set folder (ROOT/Test1 beside ROOT/test1_labels.npy), here class:{A}/Test1"),
    ("{A}/test1_labels.npy", "--dataset '{A}/test1_labels.npy' is a file (the class's labels); "
     "expected the set folder (ROOT/Test1 beside ROOT/test1_labels.npy), here {A}/Test1"),
    ("class:{ours}/test1", "--dataset 'class:{ours}/test1' is a stickpose dataset (it has "
     "meta.json), not a set in the class's layout; give it without class: ({ours}/test1)"),
    ("", "--dataset '' is empty; expected a dataset folder from `stickpose generate`, a set "
     "in the class's layout"),
    ("class:", "--dataset 'class:' names no folder; expected the set folder"),
    ("coco:", "--dataset 'coco:' needs a file: coco:FILE.json"),
    ("{A}", "--dataset '{A}' is neither a stickpose dataset (no meta.json) nor a set in the "
     "class's layout (no 0.png, 1.png, ...); it holds the sets Test1, Test2"),
    ("class:{A}/", "--dataset 'class:{A}/' holds no numbered PNGs (0.png, 1.png, ...); expected "
     "the set folder (ROOT/Test1 beside ROOT/test1_labels.npy); it holds the class sets Test1"),
    ("{A}/Test9", "--dataset '{A}/Test9': no such folder; expected a dataset folder"),
    ("class:{A}/Test9/", "--dataset 'class:{A}/Test9/': no such folder; expected the set folder"),
    ("coco:{A}/Test1", "--dataset 'coco:{A}/Test1' is a folder; expected a COCO keypoints .json "
     "file"),
    ("{ours}/test1/annotations.json", "is a file; a COCO keypoints file is given as coco:"),
])
def test_odd_dataset_values_are_named_as_typed(class_run, two_layouts, value, message):
    """Each --dataset value a user might try: one line naming it as typed and what was
    expected, before the model is loaded."""
    places = {"A": two_layouts / "A", "ours": two_layouts / "ours"}
    fails_with(invoke("evaluate", class_run, "--dataset", value.format(**places)),
               message.format(**places))


def test_same_named_folders_keep_their_own_results(class_run, two_layouts, tmp_path):
    """A/Test1 and B/Test1 are named apart in the results (folder name and a hash of where
    it is); the same folder, however spelled, replaces its own result."""
    from stickpose.leaderboard.board import load
    from stickpose.leaderboard.store import open_store

    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    first, second = two_layouts / "A" / "Test1", two_layouts / "B" / "Test1"
    names = []
    for value in (first, second, f"{first}/", f"class:{first}"):
        ok(invoke("evaluate", class_run, "--dataset", value, "--decoders", "quarter",
                  "--db", db, "--out", tmp_path / "out"))
        names.append(pd.read_csv(tmp_path / "out" / "evaluation.csv")["set"].iloc[0])
    assert names[0].startswith("Test1@") and names[1].startswith("Test1@")
    assert names[0] != names[1] and names[2] == names[3] == names[0]
    frame = load(open_store(db))
    scores = frame[frame["metric"] == "score"]
    assert sorted(scores["set"]) == sorted(names[:2])             # one row each, none lost
    assert sorted(scores["images"]) == [4, 5]
    output = ok(invoke("evaluate", class_run, "--dataset", first, "--dataset", second,
                       "--decoders", "quarter", "--db", db, "--out", tmp_path / "both"))
    assert f"## {names[0]} (5 images)" in output and f"## {names[1]} (4 images)" in output
    assert f"{first} ({first.resolve()}): a set in the class's layout, labels " \
           "person-centric" in output
    fails_with(invoke("evaluate", class_run, "--dataset", first, "--dataset", f"{first}/"),
               f"--dataset '{first}' and --dataset '{first}/' are the same set; give it once")


def test_class_format_says_what_an_interrupted_run_left_and_it_removed(tmp_path):
    """A SIGKILLed `generate --format class` leaves hidden staging beside its output; the
    next run removes it and says so, as the stickpose format does."""
    dead = 2 ** 22 + 12345                        # above any pid this machine hands out
    left = [tmp_path / f".ci.partial-{dead}", tmp_path / "ci" / f".Test1.partial-{dead}"]
    for folder in left:
        folder.mkdir(parents=True)
        (folder / "0.png").write_bytes(b"x" * 100)
    output = ok(invoke("generate", "--format", "class", "--size", 32, "--count", 3,
                       "--workers", 1, "--out", tmp_path / "ci"))
    for folder in left:
        assert f"removed {folder}, left by an interrupted run" in output
        assert not folder.exists()


def test_overwrite_replaces_only_what_stickpose_wrote(class_dir, tmp_path):
    """A numbered PNG beyond the set's label rows (99.png beside 5 labels) is not part of the
    set: --overwrite refuses the folder, naming it, and deletes nothing."""
    command = ("generate", "--suite", "class", "--class-dir", class_dir, "--size", 32,
               "--count", 5, "--workers", 1, "--format", "class", "--out", tmp_path / "DSY")
    ok(invoke(*command))
    stray = tmp_path / "DSY" / "Test1" / "99.png"
    stray.write_bytes((tmp_path / "DSY" / "Test1" / "0.png").read_bytes())
    fails_with(invoke(*command, "--overwrite"), "holds Test1/99.png, which is not a class set")
    assert stray.is_file()
    stray.unlink()
    ok(invoke(*command, "--overwrite"))               # the set alone: replaced


def test_a_suite_is_never_written_inside_a_dataset_or_beside_other_files(class_dir, tmp_path):
    base = ("generate", "--suite", "class", "--class-dir", class_dir, "--size", 32,
            "--count", 3, "--workers", 1)
    ok(invoke(*base, "--out", tmp_path / "g1c"))
    ok(invoke(*base, "--format", "class", "--out", tmp_path / "g1"))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    fails_with(invoke(*base, "--out", tmp_path / "g1c" / "test2"),
               "is a dataset (it has meta.json); a suite is written as a folder of its sets")
    fails_with(invoke(*base, "--format", "class", "--out", tmp_path / "g1c" / "test1"),
               "is a dataset (it has meta.json)")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    fails_with(invoke(*base, "--out", tmp_path / "mine"), "holds notes.txt, which is not one "
               "of this suite's sets")
    fails_with(invoke(*base, "--format", "class", "--out", tmp_path / "mine"), "holds notes.txt")
    fails_with(invoke(*base, "--format", "class", "--out", tmp_path / "g1c"),
               "holds test1, test2, test3 ...")                # stickpose sets, not the class's
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")
                  if "mine" not in p.parts) == before                     # nothing written
    ok(invoke(*base, "--overwrite", "--out", tmp_path / "g1c"))           # its own sets: fine


@pytest.mark.parametrize("rows, message", [
    ({"test_rows": 3300}, "fewer than the 879 images asked for in order"),     # test4 short
    ({"train_rows": 7500}, "fewer than the 256 images asked for in order"),    # validation
])
def test_bad_class_files_are_refused_before_training(tmp_path, rows, message):
    from tests.class_fixture import make_class_dir

    folder = make_class_dir(tmp_path / "class", **rows)
    fails_with(invoke("train", "--suite", "class", "--class-dir", folder, "--arch", "unet",
                      "--input-size", 32, "--width", 4, "--epochs", 1, "--steps", 1,
                      "--out", tmp_path / "run"), message)
    assert not (tmp_path / "run").exists()                      # nothing written
