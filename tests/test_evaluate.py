"""``stickpose evaluate``, ``train-decoder`` and ``bench gmm`` end to end on tiny runs."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from stickpose.data.storage import load_dataset
from stickpose.runs import TrainConfig
from stickpose.training import train
from tests.cli_helpers import fails_with, invoke, ok

TINY = dict(arch="resnet", input_size=32, width=8, batch_size=8, steps_per_epoch=3,
            epochs=1, validation_count=16, test_count=16)
FAST_DECODERS = {"argmax", "quarter", "dark", "softargmax", "gmm", "dedup-gmm"}


@pytest.fixture(scope="module")
def heatmap_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "heatmap"
    train(TrainConfig(head="heatmap", **TINY), run, verbose=0)
    return run


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "set"
    ok(invoke("generate", "--out", out, "--count", 12, "--size", 48, "--seed", 3))
    return out


def test_every_decoder_and_occlusion_on_the_suite_sets(heatmap_run, tmp_path):
    output = ok(invoke("evaluate", heatmap_run, "--sets", "test1,test4", "--count", 8,
                        "--occlusion", "all", "--out", tmp_path))
    table = pd.read_csv(tmp_path / "evaluation.csv")
    assert len(table) == 2 * 4 * len(FAST_DECODERS)          # sets x occlusions x decoders
    assert set(table["decoder"]) == FAST_DECODERS            # no fc yet, no slow reference
    assert set(table["occlusion"]) == {"none", "random", "upper", "lower"}
    assert (table["images"] == 8).all() and table["pck"].between(0, 1).all()
    assert (table["pipeline_ms"] > table["decode_ms"]).all()
    clean = table[table["occlusion"] == "none"]
    assert clean["pck_occluded"].isna().all()                # test sets hide nothing
    assert table[table["occlusion"] == "upper"]["pck_occluded"].notna().all()
    markdown = (tmp_path / "evaluation.md").read_text()
    assert markdown in output
    assert "## test4, occlusion: random (8 images)" in markdown
    assert "Upper PCK |   Lower PCK" in markdown.split("Upper vs lower")[1]
    # the same heatmaps under the same decoder give the same numbers again
    ok(invoke("evaluate", heatmap_run, "--sets", "test1", "--count", 8, "--decoders",
               "dark,argmax", "--out", tmp_path / "again"))
    again = pd.read_csv(tmp_path / "again" / "evaluation.csv").set_index("decoder")
    first = clean[clean["set"] == "test1"].set_index("decoder")
    for name in ("dark", "argmax"):
        assert again.loc[name, "mse"] == pytest.approx(first.loc[name, "mse"])


def test_default_output_goes_to_the_run_and_datasets_evaluate_too(heatmap_run, dataset):
    ok(invoke("evaluate", heatmap_run, "--dataset", dataset, "--decoders", "argmax"))
    table = pd.read_csv(heatmap_run / "evaluation" / "evaluation.csv")
    assert len(table) == 1 and table["images"].iloc[0] == 12
    assert table["set"].iloc[0].startswith("set@")       # its name and where it is


def test_fc_decoder_trains_and_evaluates(heatmap_run, tmp_path):
    output = ok(invoke("train-decoder", heatmap_run, "--epochs", 1, "--steps", 2))
    assert (heatmap_run / "decoder-fc.keras").is_file() and "validation L1" in output
    ok(invoke("evaluate", heatmap_run, "--sets", "test1", "--count", 8, "--out", tmp_path))
    table = pd.read_csv(tmp_path / "evaluation.csv")
    assert set(table["decoder"]) == FAST_DECODERS | {"fc"}
    saved = (heatmap_run / "decoder-fc.keras").read_bytes()
    fails_with(invoke("train-decoder", heatmap_run, "--epochs", 1, "--steps", 2),
               "already has a trained fc decoder (decoder-fc.keras); pass --overwrite")
    fails_with(invoke("train-decoder", heatmap_run, "--learning-rate", -1, "--overwrite"),
               "'--learning-rate': -1.0 is not in the range x>0.0")
    assert (heatmap_run / "decoder-fc.keras").read_bytes() == saved
    ok(invoke("train-decoder", heatmap_run, "--epochs", 1, "--steps", 2, "--overwrite"))


def test_scalar_runs_report_their_own_coordinates(tmp_path):
    run = tmp_path / "scalar"
    train(TrainConfig(head="scalar", **TINY), run, verbose=0)
    ok(invoke("evaluate", run, "--sets", "test2", "--count", 8))
    table = pd.read_csv(run / "evaluation" / "evaluation.csv")
    assert list(table["decoder"]) == ["coordinates"]
    fails_with(invoke("evaluate", run, "--decoders", "dark"),
                "decoders apply to heatmap heads only")
    fails_with(invoke("train-decoder", run), "has a scalar head; the fc decoder reads heatmaps")


def test_predictions_from_another_tool(dataset, tmp_path):
    truth = load_dataset(dataset).keypoints
    np.save(tmp_path / "perfect.npy", truth)
    output = ok(invoke("evaluate", "--predictions", tmp_path / "perfect.npy", "--dataset",
                        dataset, "--out", tmp_path / "scored"))
    row = pd.read_csv(tmp_path / "scored" / "evaluation.csv").iloc[0]
    assert row["pck"] == 1.0 and row["score"] == 0.0 and row["mse"] == 0.0
    assert "perfect.npy" in output
    shifted = truth + [3.0, 4.0]                               # 5 px off everywhere
    results = [{"image_id": i, "category_id": 1, "score": 1.0,
                "keypoints": np.concatenate([p, np.ones((16, 1))], 1).ravel().tolist()}
               for i, p in enumerate(shifted, start=1)]           # COCO ids start at 1
    results.append({"image_id": 1, "category_id": 1, "score": 0.1,       # a weaker duplicate
                    "keypoints": [0.0] * 48})
    (tmp_path / "results.json").write_text(json.dumps(results))
    ok(invoke("evaluate", "--predictions", tmp_path / "results.json", "--dataset", dataset,
               "--out", tmp_path / "coco"))
    row = pd.read_csv(tmp_path / "coco" / "evaluation.csv").iloc[0]
    assert row["mse"] == pytest.approx(25.0) and row["mpjpe"] == pytest.approx(5.0)


@pytest.mark.parametrize("make, message", [
    (lambda p: np.save(p / "p.npy", np.zeros((5, 16, 2))),
     "hold 5 poses but the dataset has 12 images"),
    (lambda p: np.save(p / "p.npy", np.zeros((12, 14, 2))), "have shape (12, 14, 2); expected"),
    (lambda p: (p / "p.json").write_text(json.dumps([{"image_id": 0, "keypoints": [1] * 48}])),
     "have results for image id 0, which the dataset does not have (its ids run 1..12)"),
    (lambda p: (p / "p.json").write_text(json.dumps([{"image_id": 1, "keypoints": [1] * 48}])),
     "have no results for image id 2 (11 of the dataset's 12 images have none)"),
    (lambda p: (p / "p.json").write_text(json.dumps([{"image_id": 1, "keypoints": [1] * 42}])),
     "image id 1 has 42 keypoint numbers; expected 48"),
    (lambda p: (p / "p.json").write_text("{"), "cannot read predictions"),
    (lambda p: (p / "p.npy").write_text("0,1,2\n"), "it is not a NumPy .npy array file"),
    (lambda p: (p / "p.json").write_text(json.dumps([{"image_id": 1, "keypoints": [1] * 48,
                                                      "score": "high"}])),
     "image 1 has score 'high'; expected a number"),
    (lambda p: np.save(p / "p.npy", np.where(np.arange(12)[:, None, None] == 3, np.nan,
                                             np.zeros((12, 16, 2)))),
     "have 16 joint(s) that are NaN or infinite (first: image 3)"),
])
def test_bad_prediction_files(dataset, tmp_path, make, message):
    make(tmp_path)
    path = next(tmp_path.glob("p.*"))
    fails_with(invoke("evaluate", "--predictions", path, "--dataset", dataset), message)


def test_bad_input(heatmap_run, dataset, tmp_path):
    fails_with(invoke("evaluate", heatmap_run, "--decoders", "median"),
                "unknown decoder 'median'; known: argmax, quarter, dark")
    fails_with(invoke("evaluate", heatmap_run, "--decoders", ","), "names no decoder")
    from stickpose.evaluate import resolve_decoders
    assert resolve_decoders("argmax, dark,argmax", "heatmaps") == ["argmax", "dark"]
    fails_with(invoke("evaluate", heatmap_run, "--occlusion", "left"),
                "unknown value 'left'; known: none, random, upper, lower or all")
    fails_with(invoke("evaluate", heatmap_run, "--sets", "test9"),
                "suite stickman (")
    fails_with(invoke("evaluate", heatmap_run, "--sets", "test9"),
                "has no set 'test9' (needed for evaluation); it has test1, test2")
    fails_with(invoke("evaluate"), "give a RUN directory, or --predictions")
    no_model = tmp_path / "no-model"
    no_model.mkdir()
    shutil.copy(heatmap_run / "config.json", no_model / "config.json")
    fails_with(invoke("evaluate", no_model), "has no model (best.keras)")
    fails_with(invoke("evaluate", tmp_path / "nothing"), "does not exist; train one")
    fourteen = tmp_path / "fourteen"
    shutil.copytree(dataset, fourteen)
    np.save(fourteen / "keypoints.npy", np.zeros((12, 14, 2), np.float32))
    fails_with(invoke("evaluate", heatmap_run, "--dataset", fourteen),
                "keypoints.npy has shape (12, 14, 2)")
    fresh = tmp_path / "fresh"
    shutil.copytree(heatmap_run, fresh, ignore=shutil.ignore_patterns("decoder-fc.keras",
                                                                       "evaluation"))
    fails_with(invoke("evaluate", fresh, "--decoders", "fc"), "has no trained fc decoder")
    assert not (no_model / "evaluation").exists() and not (fresh / "evaluation").exists()
    damaged = tmp_path / "damaged"
    shutil.copytree(dataset, damaged)
    (damaged / "keypoints.npy").write_bytes(b"")
    fails_with(invoke("evaluate", heatmap_run, "--dataset", damaged),
                "cannot read dataset file")
    (damaged / "meta.json").write_text("{")
    fails_with(invoke("evaluate", heatmap_run, "--dataset", damaged), "meta.json cannot be read")


def test_two_copies_of_a_suite_set_in_one_command_are_refused(heatmap_run, tmp_path):
    """Two folders holding the suite's own test1 would both be named test1: refused, naming
    both values as typed; the same folder given twice is refused as such."""
    ok(invoke("generate", "--suite", "stickman", "--count", 2, "--workers", 1, "--out",
              tmp_path / "a"))
    shutil.copytree(tmp_path / "a" / "test1", tmp_path / "b" / "test1")
    first, second = tmp_path / "a" / "test1", tmp_path / "b" / "test1"
    fails_with(invoke("evaluate", heatmap_run, "--dataset", first, "--dataset", second),
               f"--dataset '{first}' and --dataset '{second}' would both be named 'test1' in "
               "the results (both are that suite set); give one of them")
    fails_with(invoke("evaluate", heatmap_run, "--dataset", first, "--dataset", f"{first}/"),
               "are the same set; give it once")


@pytest.mark.slow
def test_other_data_and_decoder_settings_never_replace_the_canonical_rows(heatmap_run,
                                                                          tmp_path):
    """The 20-image copy of the suite (docs/guides/generate.md) is recorded beside, not
    over, the 1,000-image test1 result, and so is a sigma sweep; the leaderboard shows the
    1,000-image numbers."""
    from stickpose.leaderboard.board import comparison, for_suite, load
    from stickpose.leaderboard.store import open_store

    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    ok(invoke("evaluate", heatmap_run, "--sets", "test1", "--decoders", "quarter,dark",
              "--count", 1100, "--db", db, "--out", tmp_path / "full"))   # the set has 1,000

    def canonical_rows():            # (timings are measured anew by a repeated measurement)
        frame = load(open_store(db))
        return frame[(frame["images"] == 1000) & (frame["params"] == "")
                     & ~frame["metric"].str.endswith("_ms")][
            ["set", "decoder", "metric", "value", "data_id"]].reset_index(drop=True)
    before = canonical_rows()
    assert len(before) > 10 and set(before["set"]) == {"test1"}
    ok(invoke("generate", "--suite", "stickman", "--count", 20, "--out", tmp_path / "tiny"))
    ok(invoke("evaluate", heatmap_run, "--dataset", tmp_path / "tiny" / "test1", "--decoders",
              "quarter", "--db", db, "--out", tmp_path / "copy"))
    ok(invoke("evaluate", heatmap_run, "--sets", "test1", "--sigma", 3,
              "--decoders", "quarter,dark", "--db", db, "--out", tmp_path / "sigma"))
    pd.testing.assert_frame_equal(canonical_rows(), before)
    frame = load(open_store(db))
    score = frame[(frame["metric"] == "score") & (frame["set"] == "test1")]
    assert sorted(score["images"]) == [20, 1000, 1000, 1000]   # dark under sigma 3: beside
    assert sorted(score["params"]) == ["", "", "", "sigma=3"]  # quarter reads no sigma
    assert score["data_id"].nunique() == 2
    board = comparison(for_suite(frame), "score")
    assert board["images"].iloc[0] == "1000"
    assert board["test1"].iloc[0] == score[score["images"] == 1000]["value"].iloc[0]


def test_bench_gmm_compares_the_two_paths(heatmap_run):
    output = ok(invoke("bench", "gmm", heatmap_run, "--images", 2))
    assert "gmm-sklearn" in output and "speed-up" in output
    assert "1.0" in output.splitlines()[-1]          # every joint agrees with scikit-learn


def test_decoders_command_lists_the_registry():
    output = ok(invoke("decoders"))
    names = [line.split()[0] for line in output.splitlines()]
    assert names == ["argmax", "quarter", "dark", "softargmax", "fc", "gmm", "gmm-sklearn",
                     "dedup-gmm"]
