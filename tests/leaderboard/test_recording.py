"""Every train and evaluate records itself into the store --db names (and no other); the
sweep resumes after a kill."""
import pytest
from click.testing import CliRunner

from stickpose.cli import main
from stickpose.leaderboard.board import load
from stickpose.leaderboard.store import open_store, run_id
from stickpose.leaderboard.recipe import load_recipes
from stickpose.leaderboard.sweep import run_sweep, sweep_configs
from stickpose.runs import RunDir
from stickpose.errors import StickposeError
from tests.cli_helpers import fails_with, invoke, ok

TINY = dict(input_size=32, width=8, batch_size=8, steps_per_epoch=2, validation_count=16,
            test_count=16)


@pytest.fixture
def store(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    monkeypatch.setenv("STICKPOSE_DB", url)
    return url


CLI_TINY = ["--input-size", 32, "--width", 8, "--batch-size", 8, "--steps", 2,
            "--validation-count", 16, "--test-count", 16]


def test_train_and_evaluate_record(store, tmp_path):
    ok(invoke("train", "--arch", "resnet", "--epochs", 1, *CLI_TINY, "--out", tmp_path / "run"))
    frame = load(open_store(store))
    assert set(frame["run_id"]) == {run_id(vars(RunDir(tmp_path / "run").config()))}
    assert set(frame["set"]) == {"test1", "test2", "test3", "test4", "validation"}
    curve = frame[frame["set"] == "validation"]                 # the validation curve
    assert set(curve["metric"]) == {"score@16", "cpu_seconds@16"}
    assert set(frame["decoder"]) == {"quarter"} and frame["flops"].iloc[0] > 0
    assert frame["inference_ms"].iloc[0] > 0 and frame["epochs"].iloc[0] == 1
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path / "run"), "--sets", "test2",
                                       "--count", "8", "--decoders", "argmax",
                                       "--occlusion", "none,lower"])
    assert result.exit_code == 0, result.output
    frame = load(open_store(store))
    argmax = frame[frame["decoder"] == "argmax"]
    assert set(argmax["set"]) == {"test2", "test2/lower"}
    assert {"pck", "mse", "score", "pipeline_ms", "pck@0.025", "pck@0.3"} <= set(argmax["metric"])
    result = CliRunner().invoke(main, ["leaderboard", "plot", "--decoders", "--out",
                                       str(tmp_path / "curves.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_sweep_resumes_after_a_kill_between_entries(store, tmp_path):
    configs = sweep_configs(["resnet"], ["heatmap", "scalar"], [0], 16, load_recipes(), **TINY)
    assert [c.epochs for c in configs] == [1, 1]             # 16 images: one epoch of 2 x 8
    finished = []

    def killed_after_first(name):
        finished.append(name)
        raise KeyboardInterrupt
    engine = open_store(store)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(configs, tmp_path / "sweep", engine, killed_after_first)
    first = tmp_path / "sweep" / configs[0].name / RunDir.EVALUATION
    stamp = first.stat().st_mtime_ns
    assert finished == [configs[0].name] and not (tmp_path / "sweep" / configs[1].name).exists()
    ids = run_sweep(configs, tmp_path / "sweep", engine)
    assert first.stat().st_mtime_ns == stamp                 # the finished entry was skipped
    assert len(ids) == 2 and set(load(open_store(store))["run_id"]) == set(ids)
    assert (tmp_path / "sweep" / configs[1].name / RunDir.EVALUATION).is_file()
    other = sweep_configs(["resnet"], ["heatmap"], [0], 32, load_recipes(), **TINY)
    with pytest.raises(StickposeError, match="was trained with other settings: epochs 1 "
                                             r"\(now 2\)"):
        run_sweep(other, tmp_path / "sweep", engine)


@pytest.mark.slow
def test_db_is_the_only_store_touched(tmp_path, monkeypatch):
    """With --db X, train, evaluate, report and the sweep read and write X only: the default
    store sits in a folder that cannot be written (a file stands where its folder would be),
    so any use of it would fail or warn."""
    blocker = tmp_path / "data-home"
    blocker.write_text("not a folder")                    # the default store cannot exist
    monkeypatch.delenv("STICKPOSE_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    db = f"sqlite:///{tmp_path / 'x.sqlite'}"
    run = tmp_path / "run"
    output = ok(invoke("--db", db, "train", "--arch", "resnet", "--epochs", 1, *CLI_TINY,
                       "--out", run))
    assert "warning" not in output and "recorded in" in output
    ok(invoke("evaluate", run, "--sets", "test1", "--count", 4, "--decoders", "argmax",
              "--db", db))
    page = run / "page.html"
    ok(invoke("report", run, "--out", page, "--db", db))
    assert "rank <b>1</b> of 1 recorded runs" in page.read_text()
    fails_with(invoke("report", run, "--out", tmp_path / "p2.html", "--db", "nosuch://x"),
               "cannot use results store nosuch://x: ")
    fails_with(invoke("report", run, "--out", tmp_path / "p2.html", "--db",
                      f"sqlite:///{tmp_path / 'typo.sqlite'}"), "there is no results store")
    assert not (tmp_path / "p2.html").exists() and not (tmp_path / "typo.sqlite").exists()
    ok(invoke("leaderboard", "run", "--archs", "resnet", "--heads", "scalar", "--budget",
              64, "--seeds", 0, "--input-size", 32, "--width", 8, "--steps", 2, "--test-count", 8,
              "--out", tmp_path / "sweep", "--db", db))
    frame = load(open_store(db))
    assert len(set(frame["run_id"])) == 2 and "argmax" in set(frame["decoder"])
    assert "resnet" in ok(invoke("leaderboard", "--db", db))
    assert blocker.read_text() == "not a folder"
    fails_with(invoke("leaderboard"), "cannot create the results store's folder")
