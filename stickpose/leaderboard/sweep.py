"""``stickpose leaderboard run``: every architecture x head x seed trained on the same
budget of training images with its recipe, evaluated and recorded; shared by every worker
that runs the same sweep against the same store, and resumable.

The queue is the store's ``sweep_entries`` table (``store.entries``), keyed by each entry's
run id. A worker, named ``HOST:PID``, adds the entries it was asked for (those already
queued stay as they are), then claims the first waiting one in a transaction: ``SELECT ...
FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent workers neither wait for nor take the
same row, and an update conditional on what was read, which keeps SQLite (no row locks)
safe too. It trains the entry while a thread renews the claim's heartbeat, records it,
marks it done, and claims the next. An entry whose heartbeat is older than
``stale_after`` seconds, or whose worker's process on this host is gone, is claimed again:
it resumes in its run directory where this worker can reach it, else restarts in this
worker's own. A worker stopped by Ctrl-C hands its entry back. A worker with nothing left
to claim waits while other workers' entries run (one of them may die) and ends when every
entry is done or failed.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StickposeError
from ..files import Abandoned, abandon, check_stop
from ..runs import RunInUse, TrainConfig
from .recipe import Recipes, budget_epochs
from .store import _upsert, config_hash, entries, record_run, results, run_id, runs

WAITING, RUNNING, DONE, FAILED = "waiting", "running", "done", "failed"
STALE_AFTER = 120.0       # seconds without a heartbeat before an entry is claimed again


def sweep_configs(archs, heads, seeds, images: int, recipes: Recipes,
                  minutes: float | None = None, **overrides) -> list[TrainConfig]:
    """The ``TrainConfig`` of each entry, seed by seed (so that an unfinished sweep has
    every combination at its first seeds): each combination's recipe, then ``overrides``
    (``suite``, ``class_dir``, ``test_count``, or a recipe setting for every entry), trained
    on ``images`` images with the schedule ending there; ``minutes`` adds a time limit.
    Early stopping is off: every entry sees its whole budget."""
    configs = []
    for seed in seeds:
        for arch in archs:
            for head in heads:
                settings = {**recipes.settings(arch, head), **overrides}
                epochs = budget_epochs(images, settings.get("batch_size", 32),
                                       settings.get("steps_per_epoch", 100))
                configs.append(TrainConfig(arch=arch, head=head, seed=seed, epochs=epochs,
                                           patience=epochs, minutes=minutes, **settings))
    return configs


def worker_name() -> str:
    """This worker's name in the queue: ``HOST:PID``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def clock(connection) -> float:
    """The database server's time in seconds since 1970: every worker's times are read off
    the same clock."""
    query = {"postgresql": "SELECT EXTRACT(EPOCH FROM clock_timestamp())",
             "sqlite": "SELECT (julianday('now') - 2440587.5) * 86400.0"}
    if connection.dialect.name not in query:
        return time.time()
    return float(connection.exec_driver_sql(query[connection.dialect.name]).scalar())


def test_sets(config: TrainConfig) -> list[str]:
    """The names a run of ``config`` records its test1-test4 results under."""
    from ..data.sets import set_key

    return [set_key(Path(config.suite).stem, f"test{k}") for k in range(1, 5)]


def recorded_setups(connection, configs: dict[str, TrainConfig]) -> dict[str, str]:
    """``{key: run id}`` for each of ``configs`` (by queue key) whose identical setup has
    a run in the store with a canonical score on all four of its test sets: recorded here,
    or imported from a published ``results.csv`` made on any machine (a setup is compared
    by ``config_hash``, which leaves out where the data lives)."""
    wanted = {config_hash(asdict(config)): key for key, config in configs.items()}
    scored = (select(runs.c.run_id, runs.c.config, results.c.set)
              .join(results, results.c.run_id == runs.c.run_id)
              .where(results.c.metric == "score", results.c.canonical == 1,
                     results.c.value.is_not(None),
                     or_(runs.c.reported.is_(None), runs.c.reported == 0)))
    sets_of, config_of = {}, {}
    for run, text, name in connection.execute(scored):
        sets_of.setdefault(run, set()).add(name)
        config_of[run] = text
    found = {}
    for run, text in config_of.items():
        try:
            key = wanted.get(config_hash(json.loads(text)))
        except (TypeError, ValueError):
            continue
        if key is not None and set(test_sets(configs[key])) <= sets_of[run]:
            found[key] = run
    return found


def enqueue(engine, configs: list[TrainConfig], retry_failed: bool = False) -> list[str]:
    """Add ``configs`` to the queue as waiting entries unless queued already (failed ones
    waiting again with ``retry_failed``); a waiting entry whose setup the store already has
    results for (``recorded_setups``: a published results.csv imported) is done. Returns
    their keys, in order."""
    keys = [run_id(asdict(config)) for config in configs]
    with engine.begin() as connection:
        now = clock(connection)
        _upsert(connection, entries, [
            {"entry": key, "name": config.name, "position": position,
             "config": json.dumps(asdict(config), sort_keys=True), "state": WAITING,
             "attempts": 0, "queued_at": now}
            for position, (key, config) in enumerate(zip(keys, configs))], replace=False)
        if retry_failed:
            connection.execute(entries.update().where(entries.c.entry.in_(keys),
                                                      entries.c.state == FAILED)
                               .values(state=WAITING, worker=None, error=None))
        for key, identity in recorded_setups(connection, dict(zip(keys, configs))).items():
            connection.execute(entries.update().where(entries.c.entry == key,
                                                      entries.c.state == WAITING)
                               .values(state=DONE, run_id=identity, finished_at=now))
    return keys


def _gone(worker: str | None) -> bool:
    """Whether ``worker`` ran on this host and its process has ended."""
    host, _, pid = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:         # a zombie has ended too
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        pass
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:
        pass
    return False


def claim(engine, keys: list[str], worker: str, stale_after: float = STALE_AFTER):
    """Claim the first of ``keys`` that is waiting or whose worker stopped (no heartbeat for
    ``stale_after`` seconds, or gone from this host) for ``worker``. Returns the entry's row
    as it was before the claim, or None when there is none to claim now."""
    for _ in range(100):                  # lost races (SQLite): someone else took the row
        with engine.begin() as connection:
            now = clock(connection)
            running = connection.execute(select(entries.c.entry, entries.c.worker).where(
                entries.c.entry.in_(keys), entries.c.state == RUNNING)).all()
            for entry, owner in running:
                if _gone(owner):
                    connection.execute(entries.update().where(
                        entries.c.entry == entry, entries.c.worker == owner)
                        .values(heartbeat_at=0.0))
            row = connection.execute(
                select(entries).where(entries.c.entry.in_(keys), or_(
                    entries.c.state == WAITING,
                    and_(entries.c.state == RUNNING,
                         entries.c.heartbeat_at < now - stale_after)))
                .order_by(entries.c.position, entries.c.queued_at).limit(1)
                .with_for_update(skip_locked=True)).mappings().first()
            if row is None:
                return None
            same = [entries.c.entry == row["entry"], entries.c.state == row["state"],
                    entries.c.attempts == row["attempts"],
                    entries.c.worker.is_(None) if row["worker"] is None
                    else entries.c.worker == row["worker"]]
            taken = connection.execute(entries.update().where(*same).values(
                state=RUNNING, worker=worker, claimed_at=now, heartbeat_at=now,
                attempts=row["attempts"] + 1, error=None)).rowcount
            if taken == 1:
                return dict(row)
    raise StickposeError("could not claim a sweep entry: other workers kept taking them "
                         "first; run the command again")


def _update(engine, key: str, holder: str, finished: bool = False, **values) -> bool:
    """Change entry ``key`` (its ``values``, ``worker`` among them) if worker ``holder``
    still holds it (``finished``: stamp it finished now); whether it did."""
    with engine.begin() as connection:
        if finished:
            values["finished_at"] = clock(connection)
        return connection.execute(entries.update().where(
            entries.c.entry == key, entries.c.worker == holder, entries.c.state == RUNNING)
            .values(**values)).rowcount == 1


class Heartbeat:
    """While entered: renew ``worker``'s claim on entry ``key`` every ``interval`` seconds
    from a thread; if another worker has taken the entry meanwhile, the main thread drops
    it at its next ``check_stop`` (``files.Abandoned``)."""

    def __init__(self, engine, key: str, worker: str, interval: float):
        self.engine, self.key, self.worker, self.interval = engine, key, worker, interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True, name="heartbeat")

    def _beat(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                with self.engine.begin() as connection:
                    renewed = connection.execute(entries.update().where(
                        entries.c.entry == self.key, entries.c.worker == self.worker,
                        entries.c.state == RUNNING).values(heartbeat_at=clock(connection))
                    ).rowcount
                    holder = None if renewed else connection.execute(
                        select(entries.c.worker).where(entries.c.entry == self.key)).scalar()
            except SQLAlchemyError:
                continue                       # the store is unreachable: try again later
            if not renewed:
                abandon(f"{holder or 'another worker'} took it over while this worker's "
                        "heartbeat was late")
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()
        abandon(None)                                  # a late one is for no other entry


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    message = text[0] if text else ""
    return message if isinstance(error, StickposeError) else \
        f"{type(error).__name__}: {message}".rstrip(": ")


def run_sweep(configs, root: Path, engine, progress=None, worker: str | None = None,
              stale_after: float = STALE_AFTER, retry_failed: bool = False,
              say=None) -> list[str]:
    """Train, evaluate and record into ``engine`` (``store.open_store``) each config in
    ``root/NAME``, sharing the work with every other worker on the same store (see the
    module's docstring). A finished entry is skipped; one that was killed resumes from its
    last finished epoch; a broken one starts again; one that fails is marked failed with
    its reason and the worker goes on. ``progress(name)`` follows each entry this worker
    finishes; ``say(text)`` hears what a user would want to know (an entry taken over or
    failed, waiting for others). Returns the run ids of every entry, once all are done;
    raises ``StickposeError`` naming the failed ones."""
    from ..training import check_entries, train_entry     # TensorFlow: not for `status`

    if not stale_after >= 1:                        # NaN too: every entry would be stale
        raise StickposeError(f"stale-after {stale_after} must be at least 1 second")
    root = Path(root)
    check_entries({root / config.name: config for config in configs}, "sweep entry")
    worker = worker or worker_name()
    say = say or (lambda text: None)
    keys = enqueue(engine, configs, retry_failed)
    by_key = dict(zip(keys, configs))
    poll, waiting_said = min(10.0, stale_after / 4), False
    while True:
        check_stop()
        row = claim(engine, keys, worker, stale_after)
        if row is None:
            counts = sweep_status(engine, keys)["state"].value_counts()
            if not counts.get(RUNNING) and not counts.get(WAITING):
                break
            if not waiting_said:
                say(f"waiting for {counts.get(RUNNING, 0)} entries running on other workers")
                waiting_said = True
            time.sleep(poll)
            continue
        waiting_said = False
        config = by_key[row["entry"]]
        out = Path(row["run_dir"]) if row["run_dir"] and Path(row["run_dir"]).is_dir() \
            else root / config.name
        try:
            if row["state"] == RUNNING:
                say(f"{config.name}: {row['worker']} stopped; "
                    + ("resuming its run" if out != root / config.name or out.is_dir()
                       else "starting again"))
                check_entries({out: config}, "sweep entry")
            _update(engine, row["entry"], worker, run_dir=str(out.absolute()))
            with Heartbeat(engine, row["entry"], worker, poll):
                train_entry(config, out)
                identity = record_run(engine, out)
        except Abandoned as why:
            say(f"{config.name}: dropped here: {why}")
            continue
        except KeyboardInterrupt:
            _update(engine, row["entry"], worker, state=WAITING, worker=None)   # hand back
            raise
        except RunInUse:                    # its late worker has not let go of it yet
            _update(engine, row["entry"], worker, state=WAITING, worker=None)
            say(f"{config.name}: its run directory is still in use; waiting for it")
            time.sleep(poll)
            continue
        except Exception as error:                     # noqa: BLE001 (any entry may fail)
            _update(engine, row["entry"], worker, state=FAILED, error=_reason(error),
                    finished=True)
            say(f"{config.name}: failed: {_reason(error)}")
            continue
        if not _update(engine, row["entry"], worker, state=DONE, run_id=identity,
                       finished=True):              # taken over in the last moments
            say(f"{config.name}: recorded here, but another worker took it over meanwhile "
                "and will finish it")
            continue
        if progress:
            progress(config.name)
    table = sweep_status(engine, keys)
    failed = table[table["state"] == FAILED]
    if len(failed):
        first = failed.iloc[0]
        raise StickposeError(f"{len(failed)} of {len(keys)} sweep entries failed (first: "
                             f"{first['name']}: {first['error']}); see `stickpose "
                             "leaderboard status`, and run again with --retry-failed")
    return table["run_id"].tolist()


def sweep_status(engine, keys: list[str] | None = None) -> pd.DataFrame:
    """The queue (every entry, or ``keys`` in their order): ``name state worker run_dir
    attempts since heartbeat_age error run_id``: ``since`` is when the entry was claimed
    (running, failed) or finished (done), none for a waiting one, as server time in seconds
    since 1970; ``heartbeat_age`` is seconds since a running entry's last heartbeat."""
    query = select(entries)
    if keys is not None:
        query = query.where(entries.c.entry.in_(keys))
    with engine.connect() as connection:
        now = clock(connection)
        rows = connection.execute(query.order_by(entries.c.queued_at, entries.c.position)
                                  ).mappings().all()
    frame = pd.DataFrame([dict(row) for row in rows], columns=[c.name for c in entries.c])
    if keys is not None:
        frame = frame.set_index("entry").reindex(keys).reset_index()
    frame["since"] = frame["finished_at"].where(frame["state"] == DONE, frame["claimed_at"]) \
        .where(frame["state"] != WAITING)
    frame["heartbeat_age"] = (now - frame["heartbeat_at"]).where(frame["state"] == RUNNING)
    return frame


def status_report(frame: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """``sweep_status``'s queue for people: a line of counts by state, and a table of
    ``entry state worker since heartbeat_s attempts reason`` with ``since`` in UTC."""
    counts = frame["state"].value_counts()
    line = f"{len(frame)} sweep entries: " + ", ".join(
        f"{int(counts.get(state, 0))} {state}" for state in (DONE, RUNNING, WAITING, FAILED))
    since = pd.to_datetime(frame["since"], unit="s", utc=True).dt.strftime("%Y-%m-%d %H:%M:%S")
    table = pd.DataFrame({
        "entry": frame["name"], "state": frame["state"],
        "worker": frame["worker"].where(frame["state"] != WAITING),
        "since": since.where(frame["since"].notna()),
        "heartbeat_s": frame["heartbeat_age"].round(1), "attempts": frame["attempts"],
        "reason": frame["error"]})
    return line, table
