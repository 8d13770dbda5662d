import json
import multiprocessing
import sqlite3
import sys

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from stickpose.leaderboard import store
from stickpose.leaderboard.board import comparison, for_suite, load
from stickpose.leaderboard.store import StoreError, open_store, record, run_id


def config(arch="resnet", head="heatmap", seed=0, **extra):
    return {"arch": arch, "head": head, "input_size": 64, "width": 16, "seed": seed,
            "data": "stickman", "steps_per_epoch": 50, **extra}


def test_record_and_read_back(store_url):
    engine = open_store(store_url)
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


def _opener(url: str, barrier) -> None:
    barrier.wait(60)
    open_store(url)


def test_workers_starting_together_on_a_new_store_all_open_it(store_url, another_store):
    """Sweep workers started at once on a new store each create or migrate its schema: one
    at a time, so none fails on a table another one is creating."""
    context = multiprocessing.get_context("spawn")
    for url in (store_url, another_store(), another_store()):
        barrier = context.Barrier(4)
        openers = [context.Process(target=_opener, args=(url, barrier)) for _ in range(4)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(120)
        assert [opener.exitcode for opener in openers] == [0] * 4
        assert store.SCHEMA_VERSION == int(pd.read_sql_table("meta", open_store(url))
                                           .set_index("key")["value"]["schema_version"])


def test_two_concurrent_writers_lose_nothing(store_url):
    url = store_url
    open_store(url)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(url, start)) for start in (0, 1000)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    assert len(load(open_store(url))) == 80


def test_a_killed_write_leaves_the_store_as_it_was(store_url, monkeypatch):
    engine = open_store(store_url)
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
    with pytest.raises(StoreError, match="cannot use results store nonsense://x: unknown kind "
                       "of database 'nonsense'; expected sqlite:///FILE or postgresql://"):
        open_store("nonsense://x")
    folder = tmp_path / "folder.sqlite"
    folder.mkdir()
    with pytest.raises(StoreError, match=f"results store {folder} is a folder; expected a file"):
        open_store(f"sqlite:///{folder}")
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    with pytest.raises(StoreError, match="is an empty file: nothing has been recorded there"):
        open_store(f"sqlite:///{empty}", create=False)         # reading writes nothing
    assert empty.read_bytes() == b"" and list(folder.iterdir()) == []
    open_store(f"sqlite:///{empty}")                           # recording makes it a store


def test_a_foreign_database_is_left_alone(store_url):
    with create_engine(store_url).begin() as connection:
        connection.execute(text("create table customers (id integer)"))
    with pytest.raises(StoreError, match="holds tables customers but no stickpose schema"):
        open_store(store_url)
    with create_engine(store_url).connect() as connection:
        assert connection.execute(text("select count(*) from customers")).scalar() == 0


def test_an_unreachable_server_or_a_missing_driver_is_one_line_without_the_password(
        monkeypatch):
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://nobody:secret@127.0.0.1:1/nothing")
    message = str(caught.value)
    assert message.startswith("cannot reach results store postgresql://nobody:***@127.0.0.1:1"
                              "/nothing: ") and "secret" not in message
    assert "\n" not in message and "refused" in message
    monkeypatch.setitem(sys.modules, "psycopg", None)      # as if the extra were missing
    with pytest.raises(StoreError, match=r"postgresql://nobody:\*\*\*@db/x: its database "
                                         r"driver is not installed: .*stickpose\[postgres\]"):
        open_store("postgresql://nobody:secret@db/x")


def test_schema_versions_migrate_forward(store_url, monkeypatch):
    url = store_url
    record(open_store(url), config(), None, {"test1": {"score": 1.0}})
    applied, current = [], store.SCHEMA_VERSION
    monkeypatch.setattr(store, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(store.MIGRATIONS, current, lambda connection:
                        applied.append(1) or
                        connection.execute(text("alter table runs add column notes text")))
    engine = open_store(url)
    assert applied == [1] and len(load(engine)) == 1
    with engine.connect() as connection:
        assert connection.execute(text("select value from meta")).scalar() == \
            str(store.SCHEMA_VERSION)
    open_store(url)
    assert applied == [1]                                 # migrated once
    monkeypatch.setattr(store, "SCHEMA_VERSION", store.SCHEMA_VERSION - 1)
    with pytest.raises(StoreError, match="is newer than this stickpose"):
        open_store(url)


def test_a_schema_1_store_keeps_its_results_as_unidentified_data(store_url):
    """Stores written before results were keyed by the measured data migrate forward: each
    row is kept, marked as measured on unidentified data, and new measurements of other
    data sit beside it instead of replacing it."""
    values = config()
    identity = run_id(values)
    with create_engine(store_url).begin() as connection:
        for statement in SCHEMA_1:
            connection.execute(text(statement))
        connection.execute(text(
            "insert into runs (run_id, arch, head, data, config_hash, config, recorded_at) "
            "values (:id, 'resnet', 'heatmap', 'stickman', 'h', :config, 'x')"),
            {"id": identity, "config": json.dumps(values)})
        connection.execute(text("insert into results values (:id, 'test1', 'quarter', "
                                "'score', 1.5, 1000, 'x')"), {"id": identity})
    engine = open_store(store_url)
    frame = load(engine)
    assert len(frame) == 1 and frame["value"].iloc[0] == 1.5
    assert frame["data_id"].iloc[0] == store.UNIDENTIFIED and frame["params"].iloc[0] == ""
    record(engine, values, None, {"test1": {"score": 9.0, "images": 20, "data_id": "abc",
                                            "canonical": True}})
    frame = load(engine)
    assert sorted(frame["value"]) == [1.5, 9.0]
    board = comparison(for_suite(frame), "score")
    assert board["test1"].iloc[0] == 1.5 and board["images"].iloc[0] == "1000"
    # schema 4 widened arch and head (PostgreSQL enforces lengths): a plugin's long path fits
    record(engine, config(arch="/a/long/folder/" + "x" * 300 + ".py:net"), None,
           {"test1": {"score": 2.0, "images": 1}})
    assert len(load(engine)) == 3


SCHEMA_1 = (
    "create table meta (key varchar(64) primary key, value text not null)",
    "insert into meta values ('schema_version', '1')",
    """create table runs (run_id varchar(200) primary key, arch varchar(64) not null,
        head varchar(64) not null, data varchar(500) not null, input_size integer,
        width integer, seed integer, epochs integer, steps_per_epoch integer,
        config_hash varchar(64) not null, config text not null, version varchar(32),
        git_commit varchar(64), parameters integer, flops float, train_seconds float,
        inference_ms float, recorded_at varchar(32) not null)""",
    """create table results (run_id varchar(200), "set" varchar(64), decoder varchar(64),
        metric varchar(64), value float, images integer, recorded_at varchar(32),
        primary key (run_id, "set", decoder, metric))""")


def test_a_result_is_identified_by_its_data_and_decoder_settings(store_url):
    engine = open_store(store_url)
    full = {"score": 1.0, "images": 1000, "data_id": "full", "canonical": True}
    record(engine, config(), None, {"test1": full})
    record(engine, config(), None, {"test1": {**full, "score": 7.0, "images": 20,
                                              "data_id": "tiny"}})
    record(engine, config(), None, {"test1": {**full, "score": 5.0}}, params="sigma=3")
    record(engine, config(), None, {"test1": {**full, "score": 8.0, "canonical": False,
                                              "data_id": "mine", "images": 5000}})
    assert len(load(engine)) == 4                         # four measurements, none replaced
    record(engine, config(), None, {"test1": {**full, "score": 1.25}})
    frame = load(engine)
    assert sorted(frame["value"]) == [1.25, 5.0, 7.0, 8.0]  # the same one repeated: replaced
    board = comparison(for_suite(frame), "score")
    assert board["test1"].iloc[0] == 1.25 and board["images"].iloc[0] == "1000"
    assert len(for_suite(frame, every_measurement=True)) == 4


def test_a_store_that_would_lose_results_or_is_not_there(tmp_path, monkeypatch):
    for url in ("sqlite://", "sqlite:///:memory:"):
        with pytest.raises(StoreError, match="in memory and would keep nothing"):
            open_store(url)
    typo = tmp_path / "typo" / "x.sqlite"
    with pytest.raises(StoreError, match=f"there is no results store at {typo}"):
        open_store(f"sqlite:///{typo}", create=False)
    assert not typo.parent.exists()                       # reading creates nothing
    with pytest.raises(StoreError, match="the folder .*typo does not exist"):
        open_store(f"sqlite:///{typo}")                   # writing makes no folders either
    assert not typo.parent.exists()
    typo.parent.mkdir()
    open_store(f"sqlite:///{typo}")                       # but makes the file
    open_store(str(typo), create=False)                   # a plain path is a SQLite file
    monkeypatch.setenv("STICKPOSE_DB", str(typo))
    assert store.where() == str(typo) and open_store(create=False)


def test_where_names_the_store_as_typed(store_url):
    """What `recorded in ...` prints: the file, or the URL as the user gave it (no driver
    added), whichever engine it came from."""
    assert store.where(str(open_store(store_url).url)) == store.where(store_url)
    assert "+psycopg" not in store.where(store_url) and "***" in store.where(
        "postgresql://bob:secret@host/db")
    assert store.where("postgresql://bob@host/db?password=secret&sslmode=disable") == \
        "postgresql://bob@host/db?password=***&sslmode=disable"
    for unparsable in ("postgresql://bob:secret@host:notaport/db",
                       "postgresql://bob:secret@[::1:5432/db"):
        with pytest.raises(StoreError) as error:
            open_store(unparsable)
        assert "secret" not in str(error.value) and "bob:***@" in str(error.value)
