"""``stickpose train --strategy``: each worker's part of the training stream, the cluster's
errors, and two worker processes on the loopback interface training one run together, as a
single process would with the same global batch, the chief alone writing it; killed and
resumed."""
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

import keras

from stickpose.data.pipeline import stickman_stream
from stickpose.data.shards import chunk_in_shard, in_shard, shard_part
from stickpose.data.stickman import StickmanConfig
from stickpose.distribute import strategy_workers
from stickpose.leaderboard.store import open_store, results
from stickpose.runs import RunDir
from tests.cli_helpers import fails_with, invoke

# --- each worker's part of the stream -------------------------------------------------------


@pytest.mark.parametrize("batch_size, workers", [(8, 1), (8, 2), (12, 3), (96, 4), (8, 8)])
def test_the_shards_are_disjoint_and_together_the_single_stream(batch_size, workers):
    offsets = np.arange(5 * batch_size)
    owners = np.stack([in_shard(offsets, batch_size, (i, workers)) for i in range(workers)])
    assert (owners.sum(0) == 1).all()                   # every image: exactly one worker
    part = shard_part(batch_size, (0, workers))
    for batch in range(5):                # each global batch: the workers' parts, in order
        rows = offsets[batch * batch_size:(batch + 1) * batch_size]
        parts = [rows[in_shard(rows, batch_size, (i, workers))] for i in range(workers)]
        assert [len(p) for p in parts] == [part] * workers
        np.testing.assert_array_equal(np.concatenate(parts), rows)


def test_a_chunk_is_skipped_only_when_it_holds_none_of_the_workers_images():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        workers = int(rng.choice([2, 3, 4]))
        batch_size = workers * int(rng.integers(1, 40))
        first = int(rng.integers(0, 300))
        end = first + int(rng.integers(1, 100))
        for index in range(workers):
            mine = in_shard(np.arange(first, end), batch_size, (index, workers)).any()
            assert bool(chunk_in_shard(first, end, batch_size, (index, workers))) == mine


def test_a_shard_must_be_one_of_an_even_split():
    assert shard_part(8, (0, 1)) == 8 and shard_part(None, (0, 1)) is None
    for batch_size, shard in ((9, (0, 2)), (8, (2, 2)), (None, (0, 2))):
        with pytest.raises(ValueError, match="shard"):
            shard_part(batch_size, shard)


@pytest.mark.parametrize("batch_size, start", [(8, 24), (128, 128)])   # 128: chunks skipped
def test_the_workers_streams_make_the_single_workers_stream(batch_size, start):
    config = StickmanConfig(size=32, circles=0.5)

    def batches(shard):
        stream = stickman_stream(config, 5, batch_size=batch_size, start=start, shard=shard)
        return [b["image"].numpy() for b, _ in zip(stream, range(2))]
    single = batches((0, 1))
    parts = [batches((i, 2)) for i in range(2)]
    for step in range(2):
        assert parts[0][step].shape[0] == batch_size // 2
        np.testing.assert_array_equal(np.concatenate([p[step] for p in parts]), single[step])


# --- the cluster's errors, before anything is written ---------------------------------------

TINY = ["train", "--recipe", "none", "--arch", "resnet", "--input-size", "32", "--width", "8",
        "--batch-size", "8",
        "--steps", "4", "--epochs", "3", "--patience", "8", "--validation-count", "16",
        "--test-count", "16"]


def _tf_config(addresses, kind="worker", index=0):
    return json.dumps({"cluster": {"worker": addresses}, "task": {"type": kind,
                                                                   "index": index}})


@pytest.mark.parametrize("tf_config, batch_size, message", [
    (None, 8, "--strategy multiworker needs the TF_CONFIG environment variable on every "
              "worker, e.g."),
    ("{cluster", 8, "TF_CONFIG is not valid JSON"),
    ('{"cluster": {"worker": ["a:1"]}}', 8, 'TF_CONFIG needs a "cluster" and a "task"'),
    ('{"cluster": {"worker": ["a"]}, "task": {"type": "worker", "index": 0}}', 8,
     "must map each task type to a list of host:port addresses"),
    ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker", '
     '"index": 0}}', 8, 'multiworker training takes "worker" tasks and at most one "chief"'),
    (_tf_config(["a:1", "b:2"], index=2), 8, "is not in its cluster"),
    (_tf_config(["127.0.0.1:notaport", "b:2"], index=0), 8,
     "address '127.0.0.1:notaport' is not host:port with a port from 1 to 65535"),
    (_tf_config(["a:1", "b:2"], index=1), 9, "batch size 9 does not split evenly over 2 "
                                              "workers; use a multiple of 2"),
])
def test_a_bad_cluster_or_batch_is_one_line_and_writes_nothing(tmp_path, monkeypatch,
                                                               tf_config, batch_size, message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    args = [a if a != "8" else str(batch_size) for a in TINY]
    result = invoke(*args, "--strategy", "multiworker", "--out", tmp_path / "run")
    fails_with(result, message)
    assert result.output.startswith("Error: ") and len(result.output.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_an_unknown_strategy_is_refused(tmp_path):
    fails_with(invoke(*TINY, "--strategy", "horovod", "--out", tmp_path / "run"),
               "Invalid value for '--strategy'")
    assert not (tmp_path / "run").exists()


def test_a_chief_task_is_worker_0():
    os.environ.pop("TF_CONFIG", None)
    assert strategy_workers("default", 9).count == 1
    config = {"cluster": {"chief": ["a:1"], "worker": ["b:2", "c:3"]},
              "task": {"type": "worker", "index": 1}}
    os.environ["TF_CONFIG"] = json.dumps(config)
    try:
        workers = strategy_workers("multiworker", 6)
        assert (workers.index, workers.count, workers.chief) == (2, 3, False)
        config["task"] = {"type": "chief", "index": 0}
        os.environ["TF_CONFIG"] = json.dumps(config)
        assert strategy_workers("multiworker", 6).chief
    finally:
        del os.environ["TF_CONFIG"]


# --- two worker processes on the loopback interface -----------------------------------------

#: How far the two-worker run may be from the single-process run of the same global batch.
#: Measured on this test (resnet, width 8, 32 px, 3 epochs x 4 steps of 8 images, CPU):
#: best.keras weights 5.0e-4 apart (relative L2 over all weights), epoch losses at most
#: 5.3e-4 relative (val_loss 4.3e-5), test class scores at most 0.048 (of about 12; a few
#: argmax peaks of an untrained model move). That is rounding: the gradient is summed in
#: another order (two halves, then the all-reduce), synchronized BatchNormalization
#: computes its variance as E[x^2] - E[x]^2, and Adam's first steps magnify both. The
#: tolerances leave about 4x room; BatchNormalization on each worker's half batch instead
#: of the global batch (measured: weights 4.6e-2, losses 4.2e-2, scores 1.0) or workers
#: seeing the wrong images would not pass.
WEIGHTS_TOLERANCE = 2e-3          # relative L2 distance of all weights
LOSS_TOLERANCE = 2e-3             # relative, each epoch's loss and val_loss
SCORE_TOLERANCE = 0.2             # class score (sum of 32 normalised coordinate errors)
TIMEOUT = 240                     # seconds a worker may take before the test fails

KILL_THE_CHIEF = textwrap.dedent("""
    import os, signal, sys
    import stickpose.training as training
    original = training.RunKeeper.on_train_batch_end

    def wrapper(self, batch, logs=None):          # in the second epoch, after two steps
        if len(self.rows) == 1 and batch == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, batch, logs)
    training.RunKeeper.on_train_batch_end = wrapper
    from stickpose.cli import main
    main(sys.argv[1:])
""")


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _start(args, env, script=None):
    command = [sys.executable, "-c", script] if script else [sys.executable, "-m",
                                                              "stickpose"]
    return subprocess.Popen(command + [str(a) for a in args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(processes) -> list[tuple[int, str, str]]:
    """Wait for every process (killing all of them if one hangs)."""
    try:
        outputs = [p.communicate(timeout=TIMEOUT) for p in processes]
        return [(p.returncode, out, err) for p, (out, err) in zip(processes, outputs)]
    except subprocess.TimeoutExpired:
        for p in processes:
            p.kill()
        pytest.fail(f"a worker did not finish within {TIMEOUT} s")


def _env(db, **extra):
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", STICKPOSE_DB=db, **extra)


def _two_workers(root, db, args, scripts=(None, None)):
    """Start worker 0 (the chief) and worker 1 of a loopback cluster, each with its own
    --out; returns the processes."""
    addresses = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    return [_start([*args, "--strategy", "multiworker", "--out", root / f"worker{i}"],
                   _env(db, TF_CONFIG=_tf_config(addresses, index=i)), scripts[i])
            for i in range(2)]


def _weights(run):
    return keras.models.load_model(run / RunDir.BEST, compile=False).get_weights()


def _recorded_runs(db) -> set:
    with open_store(db).connect() as connection:
        return {row["run_id"] for row in connection.execute(select(results)).mappings()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The same run trained by two workers and by one process, at once."""
    root = tmp_path_factory.mktemp("distribute")
    db, single_db = f"sqlite:///{root / 'store.sqlite'}", f"sqlite:///{root / 'single.sqlite'}"
    processes = _two_workers(root, db, TINY)
    processes.append(_start([*TINY, "--strategy", "default", "--out", root / "single"],
                            _env(single_db)))
    return root, db, _finish(processes)


@pytest.mark.slow
def test_two_workers_train_the_single_process_run(trained):
    root, db, outcomes = trained
    for code, out, err in outcomes:
        assert code == 0, err[-3000:]
    assert "worker 1 of 2: trained with the chief" in outcomes[1][1]
    assert "run -> " in outcomes[0][1] and "test4: class score" in outcomes[0][1]
    chief, single = root / "worker0", root / "single"
    assert not (root / "worker1").exists()            # the other worker wrote nothing
    assert (chief / RunDir.EVALUATION).is_file() and not (chief / RunDir.BACKUP).exists()
    assert len(_recorded_runs(db)) == 1               # recorded once, by the chief
    history, reference = pd.read_csv(chief / RunDir.HISTORY), pd.read_csv(single / RunDir.HISTORY)
    assert list(history["images"]) == [32, 64, 96]    # the global batch, 4 steps an epoch
    assert history["loss"].iloc[-1] < 0.8 * history["loss"].iloc[0]      # it learns
    for column in ("loss", "val_loss"):
        np.testing.assert_allclose(history[column], reference[column], rtol=LOSS_TOLERANCE)
    mine, theirs = _weights(chief), _weights(single)
    distance = np.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(mine, theirs))
                       / sum((b ** 2).sum() for b in theirs))
    assert distance < WEIGHTS_TOLERANCE
    sets = json.loads((chief / RunDir.EVALUATION).read_text())["sets"]
    for name, values in json.loads((single / RunDir.EVALUATION).read_text())["sets"].items():
        assert abs(sets[name]["score"] - values["score"]) < SCORE_TOLERANCE, name


@pytest.mark.slow
def test_a_killed_chief_stops_the_others_and_every_worker_resumes(trained, tmp_path):
    """Killed in its second epoch, the chief leaves its run resumable and the other worker
    stops with one line; started again with --resume, the two end exactly as the
    uninterrupted two-worker run did."""
    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    killed, stopped = _finish(_two_workers(tmp_path, db, TINY, (KILL_THE_CHIEF, None)))
    assert killed[0] == -9
    assert stopped[0] == 1 and "Traceback" not in stopped[2], stopped[2][-3000:]
    assert "Error: worker 1 of 2: training stopped because another worker stopped or " \
           "cannot be reached" in " ".join(stopped[2].split())
    chief = tmp_path / "worker0"
    assert len(RunDir(chief).history()) == 1 and not (tmp_path / "worker1").exists()
    for code, out, err in _finish(_two_workers(tmp_path, db, [*TINY, "--resume"])):
        assert code == 0, err[-3000:]
    assert not (tmp_path / "worker1").exists()
    uninterrupted = trained[0] / "worker0"
    np.testing.assert_allclose(pd.read_csv(chief / RunDir.HISTORY)["loss"],
                               pd.read_csv(uninterrupted / RunDir.HISTORY)["loss"], rtol=1e-6)
    for a, b in zip(_weights(chief), _weights(uninterrupted)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_a_worker_waiting_for_the_others_stops_on_ctrl_c(tmp_path):
    """Connecting to the cluster waits in TensorFlow's C++ until every worker has come:
    there Ctrl-C ends the process at once, having written nothing. (SIGTERM does not:
    TensorFlow takes it over for its own preemption notice while it connects.)"""
    ports = _free_ports(2)
    env = _env(f"sqlite:///{tmp_path / 'store.sqlite'}",
               TF_CONFIG=_tf_config([f"127.0.0.1:{p}" for p in ports], index=0))
    worker = _start([*TINY, "--strategy", "multiworker", "--out", tmp_path / "run"], env)
    line = worker.stderr.readline()
    assert "waiting for every worker to start (Ctrl-C stops it)" in line, line
    time.sleep(3)                                         # into the wait for worker 1
    worker.send_signal(signal.SIGINT)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        pytest.fail("Ctrl-C did not stop a worker waiting for the others")
    worker.communicate()
    assert worker.returncode == -signal.SIGINT
    assert not (tmp_path / "run").exists() and not (tmp_path / "store.sqlite").exists()
