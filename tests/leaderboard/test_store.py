import multiprocessing
import sqlite3

import pytest
from sqlalchemy import text

from stickpose.leaderboard import store
from stickpose.leaderboard.board import load
from stickpose.leaderboard.store import StoreError, open_store, record, run_id


def config(arch="resnet", head="heatmap", seed=0, **extra):
    return {"arch": arch, "head": head, "input_size": 64, "width": 16, "seed": seed,
            "data": "stickman", "steps_per_epoch": 50, **extra}


def test_record_and_read_back(tmp_path):
    engine = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    identity = record(engine, config(), {"epochs": 3, "parameters": 1000, "flops": 2e6,
                                         "train_seconds": 60.0, "inference_ms": 1.5},
                      {"test1": {"score": 1.2, "pck": 0.8, "images": 10}})
    assert identity == run_id(config()) and identity.startswith("resnet-heatmap_64_w16_s0_")
    frame = load(engine)
    assert len(frame) == 2 and set(frame["metric"]) == {"score", "pck"}
    row = frame.iloc[0]
    assert row["parameters"] == 1000 and row["epochs"] == 3 and row["version"]
    # recording again (an evaluation later) replaces values and keeps what it does not know
    record(engine, config(), None, {"test1": {"score": 1.0, "images": 10}}, "dark")
    record(engine, config(), None, {"test1": {"score": 1.1, "images": 10}})
    frame = load(engine)
    assert len(frame) == 3 and (frame["parameters"] == 1000).all()
    quarter = frame[(frame["decoder"] == "quarter") & (frame["metric"] == "score")]
    assert quarter["value"].tolist() == [1.1]


def _writer(url: str, start: int) -> None:
    engine = open_store(url)
    for seed in range(start, start + 40):
        record(engine, config(seed=seed), None, {"test1": {"score": seed, "images": 1}})


def test_two_concurrent_writers_lose_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    open_store(url)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(url, start)) for start in (0, 1000)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    assert len(load(open_store(url))) == 80


def test_a_killed_write_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    engine = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    record(engine, config(), None, {"test1": {"score": 1.0}})
    calls = []
    original = store._upsert

    def dies_after_runs(connection, table, rows):
        original(connection, table, rows)
        calls.append(table.name)
        if table.name == "runs":
            raise KeyboardInterrupt                       # killed between the two writes
    monkeypatch.setattr(store, "_upsert", dies_after_runs)
    with pytest.raises(KeyboardInterrupt):
        record(engine, config(seed=7), None, {"test1": {"score": 2.0}})
    frame = load(engine)
    assert calls == ["runs"] and len(frame) == 1 and set(frame["seed"]) == {0}
    with engine.connect() as connection:                 # the run row was rolled back too
        assert connection.execute(text("select count(*) from runs")).scalar() == 1


def test_bad_stores_give_clear_errors_and_are_left_alone(tmp_path):
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"this is not a database" * 100)
    before = corrupt.read_bytes()
    with pytest.raises(StoreError, match="cannot be opened: file is not a database"):
        open_store(f"sqlite:///{corrupt}")
    assert corrupt.read_bytes() == before
    with pytest.raises(StoreError, match="cannot use results store 'postgresql"):
        open_store("postgresql://nobody@127.0.0.1:1/nothing")
    with pytest.raises(StoreError, match="cannot use results store 'nonsense'"):
        open_store("nonsense")
    foreign = tmp_path / "foreign.sqlite"
    sqlite3.connect(foreign).execute("create table customers (id integer)")
    with pytest.raises(StoreError, match="holds tables customers but no stickpose schema"):
        open_store(f"sqlite:///{foreign}")


def test_schema_versions_migrate_forward(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    record(open_store(url), config(), None, {"test1": {"score": 1.0}})
    applied = []
    monkeypatch.setattr(store, "SCHEMA_VERSION", 2)
    monkeypatch.setitem(store.MIGRATIONS, 1, lambda connection: applied.append(1) or
                        connection.execute(text("alter table runs add column notes text")))
    engine = open_store(url)
    assert applied == [1] and len(load(engine)) == 1
    with engine.connect() as connection:
        assert connection.execute(text("select value from meta")).scalar() == "2"
    open_store(url)
    assert applied == [1]                                 # migrated once
    monkeypatch.setattr(store, "SCHEMA_VERSION", 1)
    with pytest.raises(StoreError, match="schema 2 is newer than this stickpose"):
        open_store(url)
