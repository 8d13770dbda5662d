"""The pretrained models shipped in the package (``stickpose.pretrained``): each loads by
name and scores a small set as a trained model does; a changed file is refused; fine-tuning
starts from one."""
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from stickpose import pretrained
from stickpose.data.sets import render_set, suite_set
from stickpose.data.suites import load_suite
from stickpose.viz import encode_png
from tests.cli_helpers import fails_with, invoke, ok

SHIPPED = ["class", "stickman"]


def test_the_two_models_ship_with_their_records():
    assert pretrained.names() == SHIPPED
    for name in SHIPPED:
        record = pretrained.manifest(name)
        assert record["training_images"] >= 200_000 and record["command"].startswith(
            "stickpose ")
        assert {s.split("/")[-1] for s in record["sets"]} == {"test1", "test2", "test3",
                                                              "test4"}
        assert "handedness.npz" in record["files"] or record["suite"] != "class"
    output = ok(invoke("pretrained"))
    assert "pretrained:class:" in output and "pretrained:stickman:" in output


@pytest.mark.parametrize("name", SHIPPED)
def test_each_loads_by_name_and_scores_a_small_set(name, tmp_path):
    """Scored on 24 images of stickpose's test1 (the class model too: its drawing is the
    same stick figure), each is far better than the mean training pose (4.24); predict and
    export take it by name as well."""
    out = tmp_path / "tables"
    ok(invoke("evaluate", f"pretrained:{name}", "--suite", "stickman", "--sets", "test1",
              "--count", 24, "--out", out))              # its head's own output, and more
    table = pd.read_csv(out / "evaluation.csv")
    score = table[table["decoder"].isin(["quarter", "coordinates"])]["score"].iloc[0]
    assert score < 1.6, score
    image = render_set(suite_set(load_suite("stickman"), "test1"), 1)[0][0]
    (tmp_path / "one.png").write_bytes(encode_png(image))
    ok(invoke("predict", tmp_path / "one.png", "--run", f"pretrained:{name}", "--out",
              tmp_path / "keypoints"))
    saved = json.loads((tmp_path / "keypoints" / "one.json").read_text())
    assert saved["run"].startswith(str(pretrained.cache_folder()))   # a copy, not the package
    output = ok(invoke("export", f"pretrained:{name}", "--check", 4, "--out",
                       tmp_path / "export"))
    if name == "class":             # its config names no class folder: checked on stickman
        assert "on 4 stickman test1 images" in output and "reads the class's files" in \
            " ".join(output.split())
    assert not any(p.name in ("evaluation", "export") for p in (pretrained.SHIPPED / name)
                   .iterdir())


def test_a_changed_or_unknown_model_is_refused(tmp_path, monkeypatch):
    shipped = tmp_path / "shipped"
    shutil.copytree(pretrained.SHIPPED / "stickman", shipped / "stickman")
    monkeypatch.setattr(pretrained, "SHIPPED", shipped)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    copy = pretrained.run_path("pretrained:stickman")            # checked, then placed
    assert (copy / "best.keras").read_bytes() == (shipped / "stickman" / "best.keras") \
        .read_bytes()
    model = bytearray((copy / "best.keras").read_bytes())
    model[len(model) // 2] ^= 1
    (copy / "best.keras").write_bytes(bytes(model))               # the copy changed
    with pytest.raises(pretrained.PretrainedError, match="does not match the SHA-256.*delete "
                       + re.escape(str(copy)) + " and a fresh copy is made"):
        pretrained.run_path("pretrained:stickman")
    shutil.rmtree(copy)
    assert pretrained.run_path("pretrained:stickman") == copy           # made again
    (shipped / "stickman" / "config.json").write_text("{}")      # the package changed
    fails_with(invoke("evaluate", "pretrained:stickman"),
               "config.json does not match the SHA-256 recorded when it was published")
    fails_with(invoke("predict", tmp_path, "--run", "pretrained:nope"),
               "pretrained:nope is not a pretrained model of this stickpose; it ships "
               "pretrained:stickman")
    fails_with(invoke("train", "--init", "pretrained:nope", "--out", tmp_path / "run"),
               "pretrained:nope is not a pretrained model")
    fails_with(invoke("evaluate", "pretrained:../pretrained/stickman"),
               "pretrained:../pretrained/stickman is not a pretrained model")
    assert not (tmp_path / "run").exists()
    record = json.loads((shipped / "stickman" / "pretrained.json").read_text())
    for damage in ("{", "[]", '{"files": {}}', "\xff",               # the record itself
                   json.dumps({**record, "parameters": "many"}),
                   json.dumps({**record, "training_images": None}),
                   json.dumps({**record, "files": {}}),
                   json.dumps({**record, "sets": {"test1": {"score": "0.6"}}})):
        (shipped / "stickman" / "pretrained.json").write_bytes(damage.encode("latin-1"))
        for args in (["pretrained"], ["evaluate", "pretrained:stickman"]):
            result = invoke(*args)
            fails_with(result, "pretrained:stickman: ")
            assert re.search(r"pretrained.json is damaged \(.+\); reinstall stickpose",
                             " ".join(result.output.split())), result.output


def test_fine_tuning_starts_from_the_pretrained_weights(tmp_path):
    """`train --init pretrained:stickman`, with no --arch or --head, fine-tunes that model
    (its arch, head and shape, the recipe for the rest): after one step at a tiny learning
    rate its trainable weights are the pretrained model's. A model setting given that
    differs from it is refused before any work."""
    from stickpose.runs import RunDir, load_run

    theirs = RunDir(pretrained.run_path("pretrained:stickman")).config()
    fails_with(invoke("train", "--init", "pretrained:stickman", "--width", theirs.width + 2,
                      "--out", tmp_path / "other"),
               f"--init pretrained:stickman has width {theirs.width} but this run has "
               f"{theirs.width + 2}")
    assert not (tmp_path / "other").exists()
    fails_with(invoke("train", "--init", tmp_path / "nowhere", "--out", tmp_path / "other"),
               f"Invalid value for --init: run {tmp_path / 'nowhere'} does not exist")
    run = tmp_path / "tuned"
    ok(invoke("train", "--init", "pretrained:stickman", "--epochs", 1, "--steps", 1,
              "--learning-rate", 1e-9, "--test-count", 4, "--validation-count", 4,
              "--out", run))
    config = RunDir(run).config()
    assert config.init == "pretrained:stickman"
    assert config.model_settings() == theirs.model_settings()
    assert config.recipe.startswith(f"recipes v") and "of --init" in config.recipe
    _, tuned = load_run(run)
    _, source = load_run(pretrained.run_path("pretrained:stickman"))
    assert len(tuned.trainable_weights) == len(source.trainable_weights) > 10
    for mine, theirs in zip(tuned.trainable_weights, source.trainable_weights):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), atol=1e-6)


def test_publishing_checks_the_name_the_run_and_what_it_would_replace(tmp_path,
                                                                       monkeypatch):
    run = tmp_path / "run"
    ok(invoke("--db", f"sqlite:///{tmp_path / 's.sqlite'}", "train", "--arch", "resnet",
              "--head", "scalar", "--recipe", "none", "--input-size", 32, "--width", 4,
              "--steps", 1, "--epochs", 1, "--batch-size", 4, "--validation-count", 8,
              "--test-count", 4, "--out", run))
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    monkeypatch.setattr(pretrained, "SHIPPED", shipped)
    args = ["--command", "stickpose train --arch resnet --head scalar", "--description", "tiny"]
    for name in ("__pycache__", "Tiny", "-rf", ""):
        fails_with(invoke("pretrained", "publish", run, "--name", name, *args),
                   "use lower-case letters, digits, - and _")
    ok(invoke("pretrained", "publish", run, "--name", "tiny", *args))
    record = json.loads((shipped / "tiny" / "pretrained.json").read_text())
    assert record["arch"] == "resnet" and set(record["sets"]) >= {"test1"}
    assert record["sets"]["test1"]["images"] == 4                  # shown by `pretrained`
    assert "test1 (4 images): class score" in ok(invoke("pretrained"))
    for where, message in ((tmp_path / "nowhere", "does not exist"),
                           (tmp_path, "holds files that are not a stickpose run")):
        fails_with(invoke("pretrained", "publish", where, "--name", "x", *args),
                   f"{where} {message}")
    fails_with(invoke("pretrained", "publish", run, "--name", "tiny", *args),
               "pretrained:tiny is shipped already; give --replace")
    ok(invoke("pretrained", "publish", run, "--name", "tiny", "--replace", *args))
    (run / "evaluation.json").write_text("{")
    fails_with(invoke("pretrained", "publish", run, "--name", "other", *args),
               "evaluation.json is not JSON")
    assert sorted(p.name for p in shipped.iterdir()) == ["tiny"]
