"""``stickpose export``, ``predict --model``, ``evaluate --model`` and ``bench export`` on
tiny trained runs of every head type; the in-graph letterbox and decoders against the NumPy
ones they stand for."""
import json

import cv2
import numpy as np
import pandas as pd
import pytest

from stickpose.codecs.decoders import decode
from stickpose.codecs.gaussian import GaussianHeatmaps
from stickpose.codecs.tf_decoders import GRAPH_DECODERS, decode_graph
from stickpose.data.render import letterbox, resize_set
from stickpose.data.sets import render_set, suite_set
from stickpose.data.suites import load_suite
from stickpose.evaluate import forward
from stickpose.export import OWNED, TFLITE, letterbox_graph, load_exported
from stickpose.quiet_tf import tf
from stickpose.runs import TrainConfig, load_run
from stickpose.training import train
from tests.cli_helpers import fails_with, invoke, ok

TINY = dict(arch="resnet", input_size=32, width=8, batch_size=8, steps_per_epoch=3,
            epochs=1, validation_count=16, test_count=16)
HEADS = ("heatmap", "scalar", "integral")
#: the exports also scored by `evaluate --model` (each head once, both formats covered)
EVALUATED = {("heatmap", "tflite"), ("scalar", "saved_model"), ("integral", "tflite")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    made = {}
    for head in HEADS:
        made[head] = root / head
        train(TrainConfig(head=head, **TINY), made[head], verbose=0)
    return made


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Images of other sizes and shapes than the model input, larger than it."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(5)
    for name, (height, width) in {"wide": (60, 130), "tall": (150, 70),
                                  "square": (224, 224)}.items():
        image = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
        cv2.line(image, (width // 2, 5), (width // 3, height - 5), (255, 255, 255), 3)
        cv2.imwrite(str(folder / f"{name}.png"), image)
    return folder


def _keypoints(folder, name):
    saved = json.loads((folder / f"{name}.json").read_text())
    return (np.array([[k["x"], k["y"]] for k in saved["keypoints"]]),
            np.array([np.nan if k["score"] is None else k["score"] for k in saved["keypoints"]]),
            saved)


# --- the graph against NumPy ----------------------------------------------------------------

def _benchmark_heatmaps(runs):
    """The benchmark's heatmaps: the training targets of test1's poses (64 px, stride 2)
    and what the tiny trained model makes of test1's images."""
    images, keypoints, visible = render_set(suite_set(load_suite("stickman"), "test1"), 24)
    small, points = resize_set(images, keypoints, 64)
    targets = GaussianHeatmaps(64, 2, 1.5).encode(points, visible).numpy()
    config, model = load_run(runs["heatmap"])
    output, _ = forward(model, resize_set(images, keypoints, config.input_size)[0], "heatmaps")
    return [(targets, 64), (output, config.input_size)]


@pytest.mark.parametrize("name", GRAPH_DECODERS)
def test_in_graph_decoders_equal_the_numpy_ones_on_the_benchmarks_heatmaps(name, runs):
    for heatmaps, size in _benchmark_heatmaps(runs):
        for sigma in (1.5, 1.0):
            expected, expected_scores = decode(name, heatmaps, size, sigma)
            got, scores = decode_graph(name, tf.constant(heatmaps), size, sigma)
            assert np.abs(got.numpy() - expected).max() <= 1e-3, (name, size, sigma)
            np.testing.assert_allclose(scores.numpy(), expected_scores, atol=1e-6)
    # a decoder that would not move a point could not pass the targets' check: DARK and
    # soft-argmax land between pixels there
    targets, size = _benchmark_heatmaps(runs)[0]
    points = decode_graph(name, tf.constant(targets), size, 1.5)[0].numpy()
    fractions = np.abs(points - np.round(points * 2) / 2)
    assert (fractions > 0.01).any() == (name in ("dark", "softargmax"))


def test_in_graph_letterbox_equals_opencvs_area_resize():
    rng = np.random.default_rng(0)
    for height, width, size in ((224, 224, 64), (90, 150, 64), (300, 200, 32), (64, 64, 64)):
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        expected, scale, offset = letterbox(image, size)
        inputs, step, shift = letterbox_graph(tf.constant(image[None]), size)
        np.testing.assert_array_equal(inputs.numpy()[0] * 255, expected)   # exact when shrinking
        assert step.numpy() == pytest.approx(1 / scale)
        np.testing.assert_array_equal(shift.numpy(), offset)
    small = rng.integers(0, 256, (20, 14, 3), dtype=np.uint8)                # enlarged
    inputs, _, _ = letterbox_graph(tf.constant(small[None]), 64)
    assert np.abs(inputs.numpy()[0] * 255 - letterbox(small, 64)[0]).max() <= 1.0


# --- export, predict and evaluate through the artefact ---------------------------------------

@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("format", ["saved_model", "tflite"])
def test_an_export_predicts_and_scores_as_its_run_does(head, format, runs, photos, tmp_path):
    run = runs[head]
    out = tmp_path / "export"
    output = ok(invoke("export", run, "--format", format, "--out", out, "--check", 16))
    meta = json.loads((out / "stickpose.json").read_text())
    assert meta["format"] == format and meta["int8"] is False
    assert meta["decoder"] == ("quarter" if head == "heatmap" else "coordinates")
    assert meta["check"]["max_gap_px"] <= 1e-3, meta["check"]       # on 16 test1 images
    assert f"-> {out}" in output and "class score on 16 test1 images" in output
    assert ((out / TFLITE).is_file()) == (format == "tflite")

    ok(invoke("predict", photos, "--run", run, "--out", tmp_path / "by-run"))
    ok(invoke("predict", photos, "--model", out, "--out", tmp_path / "by-model"))
    for name in ("wide", "tall", "square"):
        expected, expected_scores, _ = _keypoints(tmp_path / "by-run", name)
        got, scores, saved = _keypoints(tmp_path / "by-model", name)
        np.testing.assert_allclose(got, expected, atol=1e-3)
        np.testing.assert_allclose(scores, expected_scores, atol=1e-4)   # NaN where NaN
        assert saved["format"] == format and saved["model"] == str(out)
        assert saved["labels"] == "observer-centric"
        assert (tmp_path / "by-model" / f"{name}.png").is_file()

    if (head, format) not in EVALUATED:
        return
    ok(invoke("evaluate", run, "--sets", "test1,test3", "--count", 12, "--decoders",
              "all" if head != "heatmap" else "quarter", "--out", tmp_path / "run-tables"))
    ok(invoke("evaluate", "--model", out, "--sets", "test1,test3", "--count", 12, "--out",
              tmp_path / "model-tables"))
    by_run = pd.read_csv(tmp_path / "run-tables" / "evaluation.csv").set_index("set")
    by_model = pd.read_csv(tmp_path / "model-tables" / "evaluation.csv").set_index("set")
    assert list(by_model.index) == ["test1", "test3"]
    assert (by_model["data_id"] == by_run["data_id"]).all()          # the same images
    np.testing.assert_allclose(by_model["score"], by_run["score"], atol=1e-5)
    assert by_model["decoder"].iloc[0] == f"{meta['decoder']} ({format})"


def test_the_artefact_runs_without_stickpose(runs, tmp_path):
    """What a deployment sees: the signature, any image size, several images at once."""
    out = tmp_path / "sm"
    ok(invoke("export", runs["heatmap"], "--format", "saved_model", "--out", out))
    loaded = tf.saved_model.load(str(out))
    images = np.random.default_rng(1).integers(0, 255, (3, 45, 77, 3), dtype=np.uint8)
    result = loaded.signatures["serve"](images=tf.constant(images))
    assert result["keypoints"].shape == (3, 16, 2) and result["scores"].shape == (3, 16)
    together = result["keypoints"].numpy()
    alone = np.concatenate([load_exported(out).predict(image[None])[0] for image in images])
    np.testing.assert_allclose(together, alone, atol=1e-4)


def test_int8_quantises_the_network_only_and_reports_the_change(runs, tmp_path):
    out = tmp_path / "int8"
    output = ok(invoke("export", runs["heatmap"], "--int8", "--calibration", 8, "--check", 16,
                       "--out", out))
    meta = json.loads((out / "stickpose.json").read_text())
    assert meta["int8"] is True and meta["calibration"] == {"images": 8,
                                                            "source": "validation"}
    assert "export" in output and f"{meta['check']['score_export']:.4f}" in output
    from stickpose.export import _interpreter
    details = _interpreter((out / TFLITE).read_bytes()).get_tensor_details()
    network = [d for d in details if d["name"].startswith("resnet-heatmap")]
    assert any(d["dtype"] == np.int8 for d in network)            # the network is int8
    decoder = [d for d in details if d["name"].startswith("decode/")]
    assert decoder and not any(d["dtype"] == np.int8 for d in decoder)   # float decoding
    letterbox_int8 = [tuple(d["shape"][1:]) for d in details
                      if d["name"].startswith("letterbox/") and d["dtype"] == np.int8]
    assert letterbox_int8 in ([], [(32, 32, 3)])   # at most the network's own input
    artefact = load_exported(out)
    points, scores = artefact.predict(np.zeros((2, 40, 40, 3), np.uint8))
    assert points.dtype == np.float32 and np.isfinite(points).all()
    assert artefact.label == "quarter (tflite int8)"


def test_bench_export_prints_every_backend_side_by_side(runs):
    output = ok(invoke("bench", "export", runs["heatmap"], "--images", 16, "--single", 2,
                       "--batch", 8, "--calibration", 8))
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if "ms/image (batch 1)" in line)
    rows = lines[header + 1:header + 5]
    assert [r.split()[0] for r in rows] == ["Keras", "SavedModel", "TFLite", "TFLite"]
    assert "images/s (batch 8)" in lines[header] and "class score test1" in lines[header]
    scores = [float(r.split()[-3]) for r in rows]
    assert scores[1] == pytest.approx(scores[0], abs=1e-3)       # float exports: the same


# --- bad input ------------------------------------------------------------------------------

def test_export_refuses_bad_runs_decoders_and_places(runs, tmp_path):
    untrained = tmp_path / "untrained"
    untrained.mkdir()
    (untrained / "config.json").write_text(TrainConfig(**TINY).to_json())
    fails_with(invoke("export", untrained, "--out", tmp_path / "a"), "has no model")
    fails_with(invoke("export", tmp_path / "nothing", "--out", tmp_path / "a"),
               "does not exist")
    fails_with(invoke("export", runs["heatmap"], "--decoder", "gmm", "--out", tmp_path / "a"),
               "--decoder 'gmm' cannot be exported: in-graph decoders are argmax, quarter")
    fails_with(invoke("export", runs["scalar"], "--decoder", "dark", "--out", tmp_path / "a"),
               "predicts coordinates itself and takes no decoder")
    fails_with(invoke("export", runs["heatmap"], "--format", "saved_model", "--int8"),
               "--int8 quantises TFLite models")
    fails_with(invoke("export", runs["heatmap"], "--out", "/proc/stickpose/x"),
               "cannot write --out /proc/stickpose/x")
    assert not (tmp_path / "a").exists()


def test_export_never_replaces_what_it_did_not_write(runs, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    (tmp_path / ".mine.tmp-999999999-x1").mkdir()       # a killed export's half-built folder
    fails_with(invoke("export", runs["heatmap"], "--out", out), "already holds files")
    fails_with(invoke("export", runs["heatmap"], "--out", out, "--overwrite"),
               "holds notes.txt, which no export wrote")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    # an earlier export is replaced whole with --overwrite, and only then
    (out / "notes.txt").unlink()
    ok(invoke("export", runs["heatmap"], "--out", out, "--check", 4))
    first = (out / "stickpose.json").read_text()
    fails_with(invoke("export", runs["heatmap"], "--out", out), "--overwrite")
    ok(invoke("export", runs["heatmap"], "--out", out, "--overwrite", "--decoder", "dark",
              "--check", 4))
    assert json.loads((out / "stickpose.json").read_text())["decoder"] == "dark" != \
        json.loads(first)["decoder"]
    assert {p.name for p in out.iterdir()} <= set(OWNED)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no litter


def test_default_export_folder_is_in_the_run(runs):
    output = ok(invoke("export", runs["integral"], "--check", 4))
    assert (runs["integral"] / "export" / "coordinates-tflite" / TFLITE).is_file()
    assert "coordinates-tflite" in output


def test_what_is_not_an_export_is_named(runs, photos, tmp_path):
    picture = photos / "wide.png"
    fails_with(invoke("predict", picture, "--model", picture, "--out", tmp_path / "p"),
               f"--model {picture} is not a TFLite model (no TFL3 mark")
    fails_with(invoke("evaluate", "--model", photos), f"--model {photos} is not an export: "
               "it has no saved_model.pb or model.tflite (it holds square.png, tall.png")
    fails_with(invoke("evaluate", "--model", tmp_path / "gone"), "does not exist")
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00" * 40)
    fails_with(invoke("predict", picture, "--model", cut, "--out", tmp_path / "p"),
               "is a TFLite model but not one `stickpose export` made")
    # another program's SavedModel
    module = tf.Module()
    module.f = tf.function(lambda x: {"y": x * 2},
                           input_signature=[tf.TensorSpec((None,), tf.float32)])
    tf.saved_model.save(module, str(tmp_path / "other"), signatures={"serve": module.f})
    fails_with(invoke("evaluate", "--model", tmp_path / "other"),
               "was not made by `stickpose export`: it has no 'serve' signature taking "
               "'images'")
    fails_with(invoke("predict", picture, "--run", runs["heatmap"], "--model", tmp_path),
               "give either --run RUN or --model EXPORT")
    assert not (tmp_path / "p").exists()


def test_evaluate_and_predict_refuse_run_options_with_a_model(runs, photos, tmp_path):
    out = tmp_path / "e"
    ok(invoke("export", runs["heatmap"], "--out", out, "--check", 4))
    fails_with(invoke("evaluate", "--model", out, "--decoders", "dark"),
               "--decoders applies to a run")
    fails_with(invoke("evaluate", runs["heatmap"], "--model", out), "--model takes no RUN")
    fails_with(invoke("predict", photos, "--model", out, "--decoder", "dark"),
               "--decoder applies to --run")
    for command in (("evaluate", "--model", out), ("predict", photos, "--model", out)):
        fails_with(invoke(*command, "--flip"), "--flip applies to")


@pytest.mark.parametrize("head,format", [("heatmap", "tflite"), ("scalar", "saved_model")])
def test_flip_averaging_in_the_graph_matches_evaluate_and_predict(head, format, runs, photos,
                                                                  tmp_path):
    """An export with --flip agrees with the run's NumPy flip averaging (its check), predicts
    what `predict --run --flip` predicts, and differs from the plain export; `evaluate
    --flip` names its results so."""
    run = runs[head]
    out = tmp_path / "flip"
    output = ok(invoke("export", run, "--format", format, "--out", out, "--check", 16,
                       "--flip"))
    meta = json.loads((out / "stickpose.json").read_text())
    assert meta["flip"] is True and "with flip averaging" in output
    assert meta["check"]["max_gap_px"] <= 1e-3, meta["check"]
    ok(invoke("predict", photos, "--run", run, "--flip", "--out", tmp_path / "by-run"))
    ok(invoke("predict", photos, "--model", out, "--out", tmp_path / "by-model"))
    ok(invoke("predict", photos, "--run", run, "--out", tmp_path / "plain"))
    for name in ("wide", "tall", "square"):
        expected, _, saved = _keypoints(tmp_path / "by-run", name)
        got, _, exported = _keypoints(tmp_path / "by-model", name)
        np.testing.assert_allclose(got, expected, atol=1e-3)
        assert saved["flip"] is True and exported["flip"] is True
        assert np.abs(_keypoints(tmp_path / "plain", name)[0] - got).max() > 1e-2
    for flip in ((), ("--flip",)):
        ok(invoke("evaluate", run, "--sets", "test1", "--count", 8, "--decoders", "argmax"
                  if head == "heatmap" else "all", "--out", tmp_path / f"e{len(flip)}", *flip))
    plain, flipped = (pd.read_csv(tmp_path / f"e{k}" / "evaluation.csv", keep_default_na=False)
                      for k in (0, 1))
    assert list(plain["params"]) == [""] and list(flipped["params"]) == ["flip"]
    assert flipped["score"][0] != plain["score"][0]
    assert flipped["data_id"][0] == plain["data_id"][0]
    # `bench flip`: the same two numbers side by side, with the gain and the cost
    from stickpose.bench import bench_flip
    from stickpose.evaluate import evaluation_sets, run_config
    decoder = "argmax" if head == "heatmap" else None
    (row,) = bench_flip(run, evaluation_sets(run_config(run), names=["test1"], count=8),
                        decoder).to_dict("records")
    assert (row["score plain"], row["score flip"]) == pytest.approx(
        (plain["score"][0], flipped["score"][0]), abs=1e-9)
    assert row["score gain"] == pytest.approx(row["score flip"] - row["score plain"])
    assert row["cost x"] == pytest.approx(row["pipeline_ms flip"] / row["pipeline_ms plain"])
    output = ok(invoke("bench", "flip", run, "--sets", "test1,test2,test1", "--count", 4))
    assert "score gain" in output and "cost x" in output
    assert "4/4 (100%)" in output and output.count("test1 ") == 1     # each set once
    assert "warning: 4 images a set" in " ".join(output.split())     # timings of noise
    fails_with(invoke("bench", "flip", run, "--sets", " , "), "' , ' names no set")
    fails_with(invoke("bench", "flip", ""), "'' names no run")


def test_an_export_claims_its_place_and_checks_it_again_before_replacing(runs, tmp_path,
                                                                        monkeypatch):
    import os
    import subprocess

    from stickpose import export
    out = tmp_path / "busy"
    sleeper = subprocess.Popen(["sleep", "60"])          # a live process "building" there
    try:
        (tmp_path / f".busy.tmp-{sleeper.pid}-abc").mkdir()
        fails_with(invoke("export", runs["heatmap"], "--out", out, "--check", 4),
                   f"--out {out} is being written by another stickpose export (process "
                   f"{sleeper.pid})")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not out.exists()
    # a file the user puts in --out while the export is made is never deleted
    real_place = export._place

    def user_writes_meanwhile(built, place, overwrite):
        place.mkdir(exist_ok=True)
        (place / "notes.txt").write_text("mine")
        return real_place(built, place, overwrite)
    monkeypatch.setattr(export, "_place", user_writes_meanwhile)
    fails_with(invoke("export", runs["heatmap"], "--out", out, "--check", 4),
               "it changed while the export was made; nothing was replaced")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # a symlinked --out is written where it points; the folder gets the umask's mode
    monkeypatch.undo()
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    ok(invoke("export", runs["heatmap"], "--out", tmp_path / "link", "--check", 4))
    assert (tmp_path / "link").is_symlink() and (target / TFLITE).is_file()
    assert oct(target.stat().st_mode & 0o777) == oct(0o777 & ~export.umask())
    os.chmod(target, 0o755)


def test_artefacts_of_the_wrong_shape_or_record_are_refused(runs, photos, tmp_path):
    module = tf.Module()
    module.f = tf.function(lambda images: {"keypoints": tf.zeros((tf.shape(images)[0], 3, 2)),
                                           "scores": tf.zeros((tf.shape(images)[0], 3))},
                           input_signature=[tf.TensorSpec((None, None, None, 3), tf.uint8,
                                                          name="images")])
    tf.saved_model.save(module, str(tmp_path / "three"), signatures={"serve": module.f})
    fails_with(invoke("predict", photos, "--model", tmp_path / "three", "--out",
                      tmp_path / "p"), "returned keypoints (1, 3, 2) and scores (1, 3)")
    assert not (tmp_path / "p").exists()
    out = tmp_path / "e"
    ok(invoke("export", runs["heatmap"], "--out", out, "--check", 4))
    (out / "stickpose.json").write_text('{"config": "x"}')
    fails_with(invoke("evaluate", "--model", out, "--count", 4),
               'stickpose.json: config is "x"; expected an object')
    fails_with(invoke("export", runs["heatmap"], "--calibration", 5, "--out", tmp_path / "c"),
               "--calibration applies to --int8 exports only")
    fails_with(invoke("export", runs["heatmap"], "--out", out / "inner"),
               f"is inside the export {out}")
