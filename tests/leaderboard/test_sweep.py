"""The sweep's shared queue: claims in a transaction, taken over when a worker dies, on SQLite
and on a real PostgreSQL server; and three `leaderboard run` workers, one killed mid-entry,
finishing one sweep together; a sweep finished in pieces from its published files."""
import io
import os
import signal
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest
from sqlalchemy import select

from stickpose.errors import StickposeError
from stickpose.files import Abandoned, check_stop
from stickpose.leaderboard.recipe import load_recipes
from stickpose.leaderboard.store import entries, open_store
from stickpose.leaderboard.sweep import (DONE, FAILED, RUNNING, WAITING, Heartbeat, claim,
                                         enqueue, run_sweep, status_report, sweep_configs,
                                         sweep_status)
from tests.cli_helpers import invoke, ok

TINY = dict(input_size=32, width=8, batch_size=8, steps_per_epoch=2, validation_count=16,
            test_count=16)


def _configs(seeds=(0,)):
    return sweep_configs(["resnet"], ["heatmap", "scalar"], list(seeds), 16, load_recipes(),
                         **TINY)


def _set(engine, key, **values):
    with engine.begin() as connection:
        connection.execute(entries.update().where(entries.c.entry == key).values(**values))


def test_entries_are_claimed_in_order_once_each(store_url):
    engine = open_store(store_url)
    keys = enqueue(engine, _configs((0, 1)))
    assert enqueue(engine, _configs((0, 1))) == keys             # queued once, not twice
    claimed = [claim(engine, keys, f"{socket.gethostname()}:{os.getpid()}") for _ in keys]
    assert [row["entry"] for row in claimed] == keys and claim(engine, keys, "w:1") is None
    assert all(row["state"] == WAITING and row["attempts"] == 0 for row in claimed)
    assert set(sweep_status(engine, keys)["state"]) == {RUNNING}
    assert (sweep_status(engine, keys)["attempts"] == 1).all()


def test_a_dead_workers_entry_is_claimed_again(store_url):
    engine = open_store(store_url)
    keys = enqueue(engine, _configs())
    mine = f"{socket.gethostname()}:{os.getpid()}"
    claim(engine, keys, "elsewhere:1", stale_after=60)           # another host: heartbeat
    claim(engine, keys, mine, stale_after=60)
    assert claim(engine, keys, mine, stale_after=60) is None      # both alive and beating
    _set(engine, keys[0], heartbeat_at=0.0)                       # elsewhere:1 went silent
    row = claim(engine, keys, mine, stale_after=60)
    assert row["entry"] == keys[0] and row["worker"] == "elsewhere:1"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _set(engine, keys[1], worker=f"{socket.gethostname()}:{dead.pid}")   # its process ended
    row = claim(engine, keys, mine, stale_after=3600)
    assert row["entry"] == keys[1] and row["state"] == RUNNING
    assert list(sweep_status(engine, keys)["attempts"]) == [2, 2]


def test_failed_entries_wait_again_only_when_asked(store_url):
    engine = open_store(store_url)
    keys = enqueue(engine, _configs())
    _set(engine, keys[0], state=FAILED, error="ValueError: boom", worker="w:1")
    enqueue(engine, _configs())
    assert claim(engine, keys, "w:2")["entry"] == keys[1]
    line, table = status_report(sweep_status(engine, keys))
    assert line == "2 sweep entries: 0 done, 1 running, 0 waiting, 1 failed"
    assert table["reason"].iloc[0] == "ValueError: boom" and table["reason"].isna().iloc[1]
    enqueue(engine, _configs(), retry_failed=True)
    assert claim(engine, keys, "w:2")["entry"] == keys[0]


def test_a_worker_whose_entry_was_taken_over_drops_it(store_url):
    engine = open_store(store_url)
    keys = enqueue(engine, _configs())
    claim(engine, keys, "w:1")
    with Heartbeat(engine, keys[0], "w:1", interval=0.05):
        time.sleep(0.2)
        check_stop()                                         # its own: nothing to drop
        _set(engine, keys[0], worker="w:2")                  # taken over while w:1 was late
        with pytest.raises(Abandoned, match="w:2 took it over"):
            for _ in range(100):
                time.sleep(0.05)
                check_stop()
    check_stop()                                             # dropped once, then forgotten


def test_ctrl_c_hands_the_entry_back_and_a_failure_is_kept_with_its_reason(store_url,
                                                                           tmp_path,
                                                                           monkeypatch):
    from stickpose import training

    engine = open_store(store_url)
    configs = _configs()

    def interrupted(config, out):
        raise KeyboardInterrupt
    monkeypatch.setattr(training, "train_entry", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(configs, tmp_path / "sweep", engine)
    table = sweep_status(engine)
    assert list(table["state"]) == [WAITING, WAITING] and table["worker"].isna().all()
    assert table["since"].isna().all() and list(table["attempts"]) == [1, 0]

    def broken(config, out):
        raise ValueError("no space left on device\nmore detail")
    monkeypatch.setattr(training, "train_entry", broken)
    with pytest.raises(StickposeError, match=r"2 of 2 sweep entries failed \(first: "
                                             r"resnet-heatmap.*ValueError: no space left on "
                                             r"device\).*--retry-failed"):
        run_sweep(configs, tmp_path / "sweep", engine)
    table = sweep_status(engine)
    assert list(table["state"]) == [FAILED, FAILED]
    assert set(table["error"]) == {"ValueError: no space left on device"}


def test_an_entry_taken_over_while_recording_is_not_counted_here(store_url, tmp_path,
                                                                  monkeypatch):
    """The heartbeat was late, another worker took the entry just before this one marked it
    done: this worker says so and leaves it to the other, which finishes it."""
    from stickpose import training
    from stickpose.leaderboard import sweep

    engine = open_store(store_url)
    configs, calls, said, finished = _configs()[:1], [], [], []

    def trains(config, out):
        calls.append(out)
        if len(calls) == 1:                                  # taken over meanwhile
            with engine.begin() as connection:
                connection.execute(entries.update().values(
                    worker="elsewhere:1", heartbeat_at=sweep.clock(connection)))
    monkeypatch.setattr(training, "train_entry", trains)
    monkeypatch.setattr(sweep, "record_run", lambda engine, out: "the-run-id")
    run_sweep(configs, tmp_path / "sweep", engine, progress=finished.append,
              stale_after=1.0, say=said.append)
    assert len(calls) == 2 and finished == [configs[0].name]  # elsewhere:1 died after all
    assert any("another worker took it over meanwhile" in text for text in said), said
    table = sweep_status(engine)
    assert list(table["state"]) == [DONE] and list(table["attempts"]) == [2]


def test_a_run_still_held_by_a_late_worker_waits_instead_of_failing(store_url, tmp_path,
                                                                     monkeypatch):
    from stickpose import training
    from stickpose.leaderboard import sweep
    from stickpose.runs import RunInUse

    engine = open_store(store_url)
    configs, calls, said = _configs()[:1], [], []

    def trains(config, out):
        calls.append(out)
        if len(calls) == 1:
            raise RunInUse(f"run {out} is in use by another stickpose process")
    monkeypatch.setattr(training, "train_entry", trains)
    monkeypatch.setattr(sweep, "record_run", lambda engine, out: "the-run-id")
    run_sweep(configs, tmp_path / "sweep", engine, stale_after=4.0, say=said.append)
    assert len(calls) == 2 and any("still in use; waiting" in text for text in said), said
    table = sweep_status(engine)
    assert list(table["state"]) == [DONE] and table["error"].isna().all()
    with pytest.raises(StickposeError, match="stale-after nan must be at least 1 second"):
        run_sweep(configs, tmp_path / "sweep", engine, stale_after=float("nan"))


def _worker(db, out, log):
    return subprocess.Popen(
        [sys.executable, "-m", "stickpose", "leaderboard", "run", "--archs", "resnet",
         "--heads", "heatmap,scalar", "--seeds", "0,1", "--budget", "32", "--input-size",
         "32", "--width", "8", "--steps", "2", "--test-count", "16", "--stale-after", "5",
         "--out", str(out), "--db", db], stdout=log, stderr=subprocess.STDOUT)


def test_three_workers_share_a_sweep_and_take_over_a_killed_ones_entry(postgres, tmp_path):
    """Three `leaderboard run` processes against one PostgreSQL database; the worker of the
    first entry to start training is SIGKILLed mid-entry. The others finish every entry,
    the killed one resumed in its run directory, each trained to completion and recorded
    once."""
    db = postgres.database()
    out = tmp_path / "sweep"
    logs = [open(tmp_path / f"worker{i}.log", "w+") for i in range(3)]
    workers = [_worker(db, out, log) for log in logs]
    engine = open_store(db)
    try:
        deadline, victim = time.monotonic() + 240, None
        while victim is None and time.monotonic() < deadline:
            with engine.connect() as connection:
                row = connection.execute(select(entries.c.worker, entries.c.run_dir).where(
                    entries.c.state == RUNNING, entries.c.run_dir.is_not(None))).first()
            if row and os.path.isfile(os.path.join(row.run_dir, "config.json")):
                victim = next(w for w in workers if row.worker.endswith(f":{w.pid}"))
            time.sleep(0.2)
        assert victim, "no worker started training within 4 minutes"
        victim.send_signal(signal.SIGKILL)
        for worker in workers:
            worker.wait(timeout=600)
    finally:
        for worker in workers:
            worker.kill()
    outputs = []
    for log in logs:
        log.seek(0)
        outputs.append(log.read())
    survivors = [w for w in workers if w is not victim]
    assert all(w.returncode == 0 for w in survivors), "\n---\n".join(outputs)
    assert victim.returncode == -signal.SIGKILL
    table = sweep_status(engine)
    assert list(table["state"]) == [DONE] * 4, table.to_string()
    taken_over = table[table["attempts"] == 2]
    assert len(taken_over) == 1 and (table["attempts"] <= 2).all(), table.to_string()
    assert taken_over["worker"].iloc[0] != f"{socket.gethostname()}:{victim.pid}"
    assert "stopped; resuming its run" in "".join(outputs)
    assert table["run_dir"].tolist() == [str(out / name) for name in table["name"]]
    with engine.connect() as connection:
        recorded = connection.exec_driver_sql("SELECT run_id FROM runs").scalars().all()
    assert sorted(recorded) == sorted(table["run_id"])              # each recorded once
    status = ok(invoke("leaderboard", "status", "--db", db))
    assert status.startswith("4 sweep entries: 4 done, 0 running, 0 waiting, 0 failed")
    assert ok(invoke("leaderboard", "status", "--db", db, "--format", "csv")).startswith(
        "entry,state,worker,since,heartbeat_s,attempts,reason\n")


def test_status_answers_without_tensorflow(tmp_path):
    db = f"sqlite:///{tmp_path / 'store.sqlite'}"
    enqueue(open_store(db), _configs())
    code = ("import sys\nfrom stickpose.cli import main\n"
            f"main(['leaderboard', 'status', '--db', {db!r}], standalone_mode=False)\n"
            "assert 'tensorflow' not in sys.modules, 'status imported TensorFlow'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("2 sweep entries: 0 done, 0 running, 2 waiting, 0 failed")


def _board(db):
    """The sweep's scores, cell by cell (what a board shows; times left out)."""
    table = pd.read_csv(io.StringIO(ok(invoke("leaderboard", "--db", db, "--format", "csv"))))
    return table[["arch", "head", "test1", "test2", "test3", "test4"]]


def test_a_sweep_finishes_from_its_published_files_alone(tmp_path):
    """A sweep stopped after its first entry publishes what it finished; in a fresh folder
    with a fresh store, importing the published results.csv and running the same sweep
    trains only what is missing, and the board is the uninterrupted sweep's."""
    sweep = ["leaderboard", "run", "--archs", "resnet", "--heads", "heatmap,scalar",
             "--seeds", "0", "--budget", "32", "--input-size", "32", "--width", "8",
             "--steps", "2", "--test-count", "16"]
    whole = f"sqlite:///{tmp_path / 'whole.sqlite'}"
    ok(invoke(*sweep, "--out", tmp_path / "whole", "--db", whole))

    first = f"sqlite:///{tmp_path / 'first.sqlite'}"             # the first piece
    ok(invoke(*sweep[:5], "heatmap", *sweep[6:], "--out", tmp_path / "first", "--db", first))
    ok(invoke("leaderboard", "--db", first, "export", tmp_path / "published"))

    fresh = tmp_path / "elsewhere"                                  # nothing of the first
    fresh.mkdir()
    second = f"sqlite:///{fresh / 'store.sqlite'}"
    ok(invoke("leaderboard", "import", tmp_path / "published" / "results.csv", "--db", second))
    output = ok(invoke(*sweep, "--out", fresh / "runs", "--db", second))
    assert "2 entries done and recorded" in output
    assert [p.name.split("_")[0] for p in (fresh / "runs").iterdir()] == ["resnet-scalar"]
    assert "2 sweep entries: 2 done" in ok(invoke("leaderboard", "status", "--db", second))
    pd.testing.assert_frame_equal(_board(second), _board(whole))
