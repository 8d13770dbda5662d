"""A training run killed (SIGKILL) anywhere ends, after ``--resume``, exactly as an
uninterrupted run with the same seed: the same ``best.keras`` weights, the same history
(no epoch twice), the same totals and the same recorded numbers; and a finished run is
never trained again."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

import keras

from stickpose.leaderboard.store import open_store, results
from stickpose.runs import FINISHED, TRAINED, TRAINING, RunDir
from tests.cli_helpers import invoke, ok

pytestmark = pytest.mark.slow

ARGS = ["train", "--arch", "resnet", "--input-size", "32", "--width", "8", "--batch-size",
        "8", "--steps", "4", "--epochs", "3", "--patience", "8", "--test-count", "16",
        "--validation-count", "16"]
TIMINGS = ("train_seconds", "cpu_seconds", "train_images_per_second", "inference_ms")

# Each scenario kills the training process at one point, with SIGKILL, from inside it: a
# wrapper around the function that runs at that point.
KILLS = {
    "during an epoch": ("stickpose.training", "RunKeeper", "on_train_batch_end",
                        "len(self.rows) == 1 and args[0] == 2"),
    "between epochs": ("stickpose.training", "RunKeeper", "on_epoch_begin",
                       "args[0] == 2"),
    "during the epoch's commit": ("stickpose.runs", "RunDir", "write_history",
                                  "len(args[0]) == 2"),
    "during the final evaluation": ("stickpose.training", None, "evaluate_model", "True"),
    "during recording": ("stickpose.leaderboard.store", None, "record", "True"),
}


def _killed_run(out, db, module, owner, name, condition):
    """Run ``stickpose train`` in a process that kills itself when ``condition`` holds at
    the call of ``module.owner.name``."""
    target = f"getattr(module, {owner!r})" if owner else "module"
    script = textwrap.dedent(f"""
        import importlib, os, signal, sys
        module = importlib.import_module({module!r})
        owner = {target}
        original = getattr(owner, {name!r})

        def wrapper(*call, **keywords):
            self, args = {"(call[0], call[1:])" if owner else "(None, call)"}
            if {condition}:
                os.kill(os.getpid(), signal.SIGKILL)
            return original(*call, **keywords)
        setattr(owner, {name!r}, wrapper)
        from stickpose.cli import main
        main(sys.argv[1:])
    """)
    process = subprocess.run([sys.executable, "-c", script, *ARGS, "--out", str(out),
                              "--db", db], capture_output=True, text=True, timeout=300)
    assert process.returncode == -9, process.stderr[-2000:]


def _weights(run):
    return keras.models.load_model(run / RunDir.BEST, compile=False).get_weights()


def _recorded(db):
    with open_store(db).connect() as connection:
        rows = connection.execute(select(results)).mappings().all()
    return {(r["set"], r["decoder"], r["metric"], r["data_id"]): r["value"] for r in rows
            if not r["metric"].startswith("cpu_seconds@")}     # a timing: differs by run


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run."""
    root = tmp_path_factory.mktemp("reference")
    db = f"sqlite:///{root / 'store.sqlite'}"
    ok(invoke(*ARGS, "--out", root / "run", "--db", db))
    return root / "run", db


@pytest.mark.parametrize("scenario", KILLS)
def test_a_killed_run_resumes_to_the_uninterrupted_result(scenario, reference, tmp_path):
    run, db = tmp_path / "run", f"sqlite:///{tmp_path / 'store.sqlite'}"
    _killed_run(run, db, *KILLS[scenario])
    state = RunDir(run).state()
    assert state.kind == {"during the final evaluation": TRAINED,
                          "during recording": FINISHED}.get(scenario, TRAINING), state
    ok(invoke("train", "--resume", "--out", run, "--db", db))

    expected, expected_db = reference
    for mine, theirs in zip(_weights(run), _weights(expected)):
        np.testing.assert_array_equal(mine, theirs)
    history, reference_history = (pd.read_csv(r / RunDir.HISTORY) for r in (run, expected))
    assert list(history["epoch"]) == [0, 1, 2]
    timings = ["seconds", "cpu_seconds"]
    pd.testing.assert_frame_equal(history.drop(columns=timings),
                                  reference_history.drop(columns=timings))
    evaluation, reference_evaluation = (json.loads((r / RunDir.EVALUATION).read_text())
                                        for r in (run, expected))
    assert evaluation["train_seconds"] == round(history["seconds"].iloc[-1], 1)
    for key in TIMINGS:
        evaluation.pop(key), reference_evaluation.pop(key)
    for curve in (evaluation["validation_curve"], reference_evaluation["validation_curve"]):
        for point in curve:
            point.pop("cpu_seconds")                 # a timing; images and score must agree
    assert evaluation == reference_evaluation and evaluation["epochs"] == 3
    assert _recorded(db) == _recorded(expected_db) != {}
    assert not (run / RunDir.BACKUP).exists()


def test_a_finished_run_is_never_trained_again(reference, tmp_path):
    run, db = reference
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.is_file()}
    output = ok(invoke("train", "--resume", "--out", run, "--db", db))
    assert "recorded in" in output
    after = {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.is_file()}
    assert {k: v for k, v in after.items() if k != ".lock"} == \
        {k: v for k, v in before.items() if k != ".lock"}
    assert RunDir(run).state().kind == FINISHED


def test_a_run_killed_in_its_first_epoch_says_what_to_do(tmp_path):
    """A run folder left before its first epoch finished (a kill, or a native crash) holds
    nothing to resume from: its state says so and names both ways on."""
    from stickpose.runs import TrainConfig, describe

    run = tmp_path / "run"
    run.mkdir()
    (run / RunDir.CONFIG).write_text(TrainConfig(input_size=32, width=4).to_json())
    state = RunDir(run).state()
    assert (state.kind, state.epochs) == (TRAINING, 0)
    assert describe(state) == ("started, but its first epoch never finished (killed, or a "
                               "crash); nothing is kept yet: --resume or --overwrite trains "
                               "it from the start")
    result = invoke("train", "--input-size", 32, "--width", 4, "--out", run)
    assert result.exit_code != 0 and "its first epoch never finished" in \
        " ".join(result.output.split())
