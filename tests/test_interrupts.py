"""Every long command stopped by SIGINT (Ctrl-C) or SIGTERM (``kill``, a scheduler) at a few
points: it exits non-zero with no traceback, nothing looks finished that is not, what the
user had is still there, and running the command again completes.

The signal is sent by the process to itself when a chosen function is called (no timing
guesses). In the ``dropped`` cases it arrives inside a ``__del__``, where Python drops the
``KeyboardInterrupt`` that the handler raises, as happens while TensorFlow runs: the command
must stop all the same. A new long command joins by an entry in ``COMMANDS``."""
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from stickpose.leaderboard.board import load
from stickpose.leaderboard.store import open_store
from stickpose.runs import FINISHED, RunDir
from tests.cli_helpers import as_in_a_terminal, invoke, ok

pytestmark = pytest.mark.slow

TRAIN = ["--arch", "resnet", "--input-size", "32", "--width", "8", "--batch-size", "8",
         "--steps", "4", "--test-count", "8", "--validation-count", "8"]


def _recorded_runs(db: str) -> set:
    return set(load(open_store(db))["run_id"])


def _generate(tmp_path, db):
    return ["generate", "--out", str(tmp_path / "set"), "--count", "200", "--size", "32",
            "--workers", "1"]


def _generate_not_finished(tmp_path, db):
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]   # no set, no partial


def _generate_again(tmp_path, db):
    ok(invoke(*_generate(tmp_path, db)))
    assert (tmp_path / "set" / "meta.json").is_file()


def _train(tmp_path, db):
    return ["train", *TRAIN, "--epochs", "2", "--out", str(tmp_path / "run"), "--db", db]


def _train_not_finished(tmp_path, db):
    run = RunDir(tmp_path / "run")
    assert run.state().kind != FINISHED and not (run / RunDir.EVALUATION).exists()
    assert not _recorded_runs(db)


def _train_again(tmp_path, db):
    ok(invoke("train", "--resume", "--out", tmp_path / "run", "--db", db))
    assert RunDir(tmp_path / "run").state().kind == FINISHED and _recorded_runs(db)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("trained") / "run"
    ok(invoke("train", *TRAIN, "--epochs", "1", "--out", run, "--db", run.parent / "s.db"))
    return run


def _evaluate(tmp_path, db):
    return ["evaluate", str(tmp_path / "run"), "--sets", "test1,test2", "--occlusion", "all",
            "--decoders", "argmax,quarter", "--out", str(tmp_path / "tables"), "--db", db]


def _evaluate_not_finished(tmp_path, db):
    assert not (tmp_path / "tables").exists() and not _recorded_runs(db)


def _evaluate_again(tmp_path, db):
    ok(invoke(*_evaluate(tmp_path, db)))
    assert (tmp_path / "tables" / "evaluation.csv").is_file() and _recorded_runs(db)


def _sweep(tmp_path, db):
    return ["leaderboard", "run", "--archs", "resnet", "--heads", "scalar,heatmap", "--budget",
            "64", "--seeds", "0", "--input-size", "32", "--width", "8", "--steps", "2",
            "--test-count", "8",
            "--out", str(tmp_path / "sweep"), "--db", db]


def _sweep_not_finished(tmp_path, db):
    finished = {path.name for path in (tmp_path / "sweep").iterdir()
                if RunDir(path).state().kind == FINISHED}
    assert len(finished) < 2 and len(_recorded_runs(db)) == len(finished)


def _sweep_again(tmp_path, db):
    ok(invoke(*_sweep(tmp_path, db)))
    assert len(_recorded_runs(db)) == 2


#: command -> (its arguments, the check that it did not finish, the check that it completes
#: when run again, {point: (module, class or None, function, call number)}).
COMMANDS = {
    "generate": (_generate, _generate_not_finished, _generate_again, {
        "rendering": ("stickpose.data.storage", None, "_render_chunk", 2),
        "writing the labels": ("stickpose.data.storage", None, "coco_keypoints", 1),
    }),
    "train": (_train, _train_not_finished, _train_again, {
        "during an epoch": ("stickpose.training", "RunKeeper", "on_train_batch_end", 6),
        "during the final evaluation": ("stickpose.training", None, "evaluate_model", 1),
    }),
    "evaluate": (_evaluate, _evaluate_not_finished, _evaluate_again, {
        "scoring a set": ("stickpose.evaluate", None, "decoder_table", 3),
        "recording": ("stickpose.leaderboard.store", None, "_write", 1),
    }),
    "leaderboard run": (_sweep, _sweep_not_finished, _sweep_again, {
        "training an entry": ("stickpose.training", "RunKeeper", "on_train_batch_end", 1),
        "between entries": ("stickpose.training", None, "train_entry", 2),
    }),
}

CASES = [pytest.param(command, point, number, dropped,
                      id=f"{command}-{point}-{number.name}{'-dropped' if dropped else ''}")
         for command, (_, _, _, points) in COMMANDS.items()
         for index, point in enumerate(points)
         for number, dropped in ([(signal.SIGINT, False), (signal.SIGTERM, True)] if index == 0
                                 else [(signal.SIGTERM, False)])]


def _interrupted(args, number, dropped, module, owner, name, call):
    """Run ``stickpose ARGS`` in a process that sends itself signal ``number`` at the
    ``call``-th call of ``module.owner.name`` (from inside a ``__del__`` when ``dropped``)."""
    target = f"getattr(module, {owner!r})" if owner else "module"
    script = textwrap.dedent(f"""
        import importlib, os, sys
        module = importlib.import_module({module!r})
        owner = {target}
        original = getattr(owner, {name!r})
        calls = []

        class Dropped:
            def __del__(self):
                os.kill(os.getpid(), {int(number)})
                for _ in range(3):        # the handler runs here, and Python drops its error
                    pass

        def wrapper(*args, **keywords):
            calls.append(1)
            if len(calls) == {call}:
                if {dropped}:
                    Dropped()
                else:
                    os.kill(os.getpid(), {int(number)})
            return original(*args, **keywords)
        setattr(owner, {name!r}, wrapper)
        from stickpose.cli import main
        main(sys.argv[1:])
    """)
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                          text=True, timeout=300, preexec_fn=as_in_a_terminal)


@pytest.mark.parametrize("command, point, number, dropped", CASES)
def test_an_interrupted_command_stops_cleanly_and_completes_when_run_again(
        command, point, number, dropped, tmp_path, trained):
    arguments, not_finished, again, points = COMMANDS[command]
    (tmp_path / "notes.txt").write_text("the user's own")
    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    if command == "evaluate":
        shutil.copytree(trained, tmp_path / "run")
    if command != "generate":
        open_store(db, create=True)
    process = _interrupted(arguments(tmp_path, db), number, dropped, *points[point])
    output = process.stdout + process.stderr
    assert process.returncode == 128 + number, output      # as shells report a signal's stop
    assert "Traceback" not in output and "Exception ignored" not in output, output
    assert "Aborted" in output, output
    # stdout is a pipe here, as in CI or a scheduler's log: lines, never a progress bar
    # redrawn with carriage returns or escape codes (Keras' per-step bar among them)
    assert "\r" not in output and "\x1b" not in output, output
    assert (tmp_path / "notes.txt").read_text() == "the user's own"
    not_finished(tmp_path, db)
    again(tmp_path, db)


def test_a_killed_generate_leaves_no_worker_behind(tmp_path):
    """SIGKILL cannot be caught, so generate's rendering workers are told by the kernel to
    die with it (PR_SET_PDEATHSIG): none is left rendering for nobody."""
    import time

    process = subprocess.Popen([sys.executable, "-m", "stickpose", "generate", "--count",
                                "20000", "--size", "224", "--workers", "2", "--out",
                                str(tmp_path / "set")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline, children = time.monotonic() + 120, []
    staging = tmp_path / f".set.partial-{process.pid}" / "images"
    while time.monotonic() < deadline and not (staging.is_dir() and any(staging.iterdir())):
        time.sleep(0.2)                                  # the workers are rendering
    children = _children(process.pid)
    assert len(children) >= 2, "generate started no workers within 2 minutes"
    process.kill()
    process.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)]


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as file:
            return [int(p) for p in file.read().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_a_reader_that_goes_away_ends_the_command_quietly():
    """``stickpose pretrained | head -1``: once the reader of stdout is gone, the command
    stops without a "Broken pipe" message or a traceback (its read end is closed here before
    the command prints anything)."""
    process = subprocess.Popen([sys.executable, "-m", "stickpose", "pretrained"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    error = process.stderr.read().decode()
    process.wait(timeout=120)
    assert process.returncode == 1, error
    assert error == "", error


def test_a_command_started_ignoring_ctrl_c_keeps_ignoring_it(tmp_path):
    """A background job of a script (``stickpose generate ... &``) starts with SIGINT
    ignored, so that the terminal's Ctrl-C does not reach it: stickpose keeps it so and
    finishes (SIGTERM still stops it)."""
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "stickpose", "generate", "--count", "3000", "--size", "64",
         "--workers", "1", "--out", str(tmp_path / "set")], stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    staging = tmp_path / f".set.partial-{process.pid}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not staging.exists() and process.poll() is None:
        time.sleep(0.1)
    assert process.poll() is None, "generate ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    error = process.communicate(timeout=300)[1].decode()
    assert process.returncode == 0, error
    assert (tmp_path / "set" / "meta.json").is_file()
