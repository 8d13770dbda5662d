"""The results store: SQLAlchemy over SQLite by default, any SQLAlchemy URL (PostgreSQL for
a class) with ``--db`` or ``STICKPOSE_DB``.

Two tables: ``runs`` (one row per trained run: what produced it) and ``results`` (one row
per measurement: run x set x decoder x decoder parameters x evaluated data x metric). A
result's identity says what was measured: ``data_id`` is the content hash of the evaluated
images and labels (``data.sets.data_id``), so a 20-image copy of test1 never replaces the
1,000-image result, and ``params`` holds decoder settings other than the run's own (a
``--sigma`` sweep); the same measurement repeated replaces itself. Rows are upserted in
one transaction each, so a write that is killed leaves the store as it was, and two writers
finishing together both land (SQLite waits for the other's lock). The schema carries a
version in ``meta`` and ``open_store`` migrates older stores forward.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import time
from numbers import Real
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (Column, Float, Integer, MetaData, String, Table, Text, create_engine,
                        event, inspect, select)
from sqlalchemy.exc import DatabaseError, NoSuchModuleError, OperationalError, SQLAlchemyError

from .. import __version__
from ..errors import StickposeError
from ..files import check_stop, data_folder
from ..models.registry import short_name
from ..runs import LATER_SETTINGS, STACKS_DEFAULT

SCHEMA_VERSION = 4
ENVIRONMENT = "STICKPOSE_DB"
#: ``score``: the class score as intended; ``score_written``: as the class's code computed it
#: (``metrics.class_scores_as_written``), on the class's sets
METRICS = ("score", "score_written", "flip_score", "swap", "pck", "mse", "mpjpe", "ap", "ap50",
           "ap75", "ar")
# what a results entry says about the measured data, besides its metrics
DATA_KEYS = ("images", "data_id", "canonical", "source", "labelled")
UNIDENTIFIED = "unidentified"     # data_id of results recorded before schema 2
CURVE = "curve"                   # data_id of a run's validation curve (``curve_set``)

#: Columns added to ``runs`` in schema 3: the training budget and CPU time, the time to
#: accuracy (``tta_*``: training images and CPU seconds when the validation score first went
#: below 1.20, the class's best reported score, which is an as-written score; kept as
#: recorded, no longer written or shown: the board reads the validation curve instead), the
#: machine, and ``reported`` (1: a published number not re-run here).
RUN_COLUMNS_3 = (("train_images", Integer()), ("cpu_seconds", Float()),
                 ("tta_images", Integer()), ("tta_cpu_seconds", Float()),
                 ("hardware", String(200)), ("reported", Integer()))

metadata = MetaData()
meta = Table("meta", metadata, Column("key", String(64), primary_key=True),
             Column("value", Text, nullable=False))
runs = Table(
    "runs", metadata,
    Column("run_id", String(200), primary_key=True),
    Column("arch", String(512), nullable=False), Column("head", String(512), nullable=False),
    Column("data", String(500), nullable=False), Column("input_size", Integer),
    Column("width", Integer), Column("seed", Integer), Column("epochs", Integer),
    Column("steps_per_epoch", Integer), Column("config_hash", String(64), nullable=False),
    Column("config", Text, nullable=False), Column("version", String(32)),
    Column("git_commit", String(64)), Column("parameters", Integer), Column("flops", Float),
    Column("train_seconds", Float), Column("inference_ms", Float),
    Column("recorded_at", String(32), nullable=False),
    *[Column(name, kind) for name, kind in RUN_COLUMNS_3])


def _results_table(name: str, owner: MetaData) -> Table:
    return Table(
        name, owner,
        Column("run_id", String(200), primary_key=True),
        Column("set", String(64), primary_key=True),
        Column("decoder", String(64), primary_key=True),
        Column("params", String(64), primary_key=True, default=""),
        Column("data_id", String(32), primary_key=True),
        Column("metric", String(64), primary_key=True),
        Column("value", Float), Column("images", Integer),
        Column("canonical", Integer, nullable=False, default=1),
        Column("source", String(500)), Column("recorded_at", String(32)))


results = _results_table("results", metadata)

#: Schema 4: the shared sweep's queue (``sweep``): one row per entry that a ``leaderboard
#: run`` asked for, keyed by the entry's run id, claimed by one worker at a time. Times are
#: the database server's clock (seconds since 1970), so workers' clocks need not agree.
entries = Table(
    "sweep_entries", metadata,
    Column("entry", String(200), primary_key=True), Column("name", String(200), nullable=False),
    Column("position", Integer, nullable=False), Column("config", Text, nullable=False),
    Column("state", String(16), nullable=False),          # waiting running done failed
    Column("worker", String(300)), Column("run_dir", Text), Column("attempts", Integer),
    Column("queued_at", Float), Column("claimed_at", Float), Column("heartbeat_at", Float),
    Column("finished_at", Float), Column("run_id", String(200)), Column("error", Text))


class StoreError(StickposeError):
    """An unreachable, corrupt or foreign results store."""


def default_url() -> str:
    """``STICKPOSE_DB``, else a SQLite file in the user's data folder."""
    if os.environ.get(ENVIRONMENT):
        return as_url(os.environ[ENVIRONMENT])
    return f"sqlite:///{data_folder() / 'leaderboard.sqlite'}"


def as_url(value: str | Path) -> str:
    """A store as users type it: an SQLAlchemy URL, or a plain file path (a SQLite file)."""
    value = str(value)
    return value if "://" in value else f"sqlite:///{Path(value).expanduser().absolute()}"


def where(url: str | None = None) -> str:
    """Where the store is: a file path for SQLite, else the URL (password hidden)."""
    from sqlalchemy.engine import make_url
    try:
        parsed = make_url(as_url(url) if url else default_url())
    except (ValueError, SQLAlchemyError) as error:
        raise StoreError(f"results store {url!r} is not a URL or a file path: {error}") \
            from None
    if parsed.get_backend_name() == "sqlite":
        return parsed.database
    if parsed.drivername == "postgresql+psycopg":          # as typed, before _with_driver
        parsed = parsed.set(drivername="postgresql")
    return _hide_password(parsed.render_as_string())


def open_store(url: str | None = None, create: bool = True):
    """An engine on the store at ``url``, created or migrated to the current schema. With
    ``create`` False (commands that only read), a SQLite file that does not exist is an
    error rather than a new empty store, unless it is the default store."""
    explicit = bool(url or os.environ.get(ENVIRONMENT))
    url = as_url(url) if url else default_url()
    try:
        engine = create_engine(_with_driver(url), connect_args={"timeout": 60}
                               if url.startswith("sqlite") else {}, pool_pre_ping=True)
    except ImportError as error:
        extra = ' (pip install "stickpose[postgres]")' if "psycopg" in str(error) else ""
        raise StoreError(f"cannot use results store {_shown(url)}: its database driver is "
                         f"not installed: {error}{extra}") from None
    except NoSuchModuleError:
        raise StoreError(f"cannot use results store {_shown(url)}: unknown kind of database "
                         f"{url.split(':', 1)[0]!r}; expected sqlite:///FILE or "
                         "postgresql://USER@HOST/DATABASE") from None
    except (SQLAlchemyError, ValueError) as error:
        raise StoreError(f"cannot use results store {_shown(url)}: {error}") from None
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:" or engine.url.query.get("mode") == "memory":
            raise StoreError(f"results store {url!r} is in memory and would keep nothing; "
                             "give a file: sqlite:///PATH")
        if explicit and Path(database).is_dir():
            raise StoreError(f"results store {database} is a folder; expected a file "
                             "(sqlite:///FOLDER/results.sqlite)")
        if not create and explicit and Path(database).is_file() \
                and not Path(database).stat().st_size:
            raise StoreError(f"results store {database} is an empty file: nothing has been "
                             "recorded there (it was left untouched)")
        if not create and explicit and not Path(database).is_file():
            raise StoreError(f"there is no results store at {database} (nothing has been "
                             "recorded there; check --db or STICKPOSE_DB)")
        if explicit and not Path(database).parent.is_dir():   # a typo makes no folders
            raise StoreError(f"cannot make results store {database}: the folder "
                             f"{Path(database).parent} does not exist")
        if not explicit:                                        # the default store's is made
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(f"cannot create the results store's folder: {error}") \
                    from None

        @event.listens_for(engine, "connect")
        def _wal(connection, _):                     # readers never block the writer
            connection.execute("PRAGMA journal_mode=WAL")
    else:
        try:
            engine.connect().close()
        except SQLAlchemyError as error:
            raise StoreError(f"cannot reach results store {where(url)}: "
                             f"{_first_line(error)}") from None
    try:
        for attempt in range(240):        # a new SQLite file that others are setting up too
            try:
                _migrate(engine)
                break
            except OperationalError as error:
                if "database is locked" not in str(error) or attempt == 239:
                    raise
                time.sleep(0.25)
    except (DatabaseError, OperationalError) as error:
        raise StoreError(f"results store {where(url)} cannot be opened: "
                         f"{_first_line(error)} (is it a stickpose "
                         "store? it was left untouched)") from None
    return engine


def _with_driver(url: str):
    """``postgresql://`` as psycopg 3's (the ``postgres`` extra's driver), whichever
    SQLAlchemy 2 default it has."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg") \
        if parsed.drivername in ("postgresql", "postgres") else parsed


def _shown(url: str) -> str:
    """A URL as messages show it: its password hidden, also where it does not parse."""
    try:
        return where(url)
    except StoreError:
        return repr(_hide_password(re.sub(r"(://[^/?#@:]*:)[^/?#@]*@", r"\1***@", url)))


def _hide_password(url: str) -> str:
    """``url`` with a password given as a query parameter (``?password=...``) hidden."""
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", url)


def _first_line(error: Exception) -> str:
    """A database error's own first line (the driver's message, without SQLAlchemy's)."""
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


_MIGRATION_LOCK = 0x5717C6   # PostgreSQL advisory lock key held while the schema changes


def _migrate(engine) -> None:
    """Create the schema, or bring an older one to ``SCHEMA_VERSION`` step by step; one
    process at a time (workers starting together on a new store)."""
    with engine.connect() as connection:                   # the common case: nothing to do
        if "meta" in inspect(connection).get_table_names() and connection.execute(
                select(meta.c.value).where(meta.c.key == "schema_version")).scalar() == \
                str(SCHEMA_VERSION):
            return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")       # the write lock, waited for
        tables = set(inspect(connection).get_table_names())
        if not tables:
            metadata.create_all(connection)
            connection.execute(meta.insert().values(key="schema_version",
                                                    value=str(SCHEMA_VERSION)))
            return
        if "meta" not in tables:
            raise StoreError(f"results store {where(str(engine.url))} holds tables "
                             f"{', '.join(sorted(tables))} but no stickpose schema; "
                             "use another --db")
        version = int(connection.execute(select(meta.c.value).where(
            meta.c.key == "schema_version")).scalar_one())
        if version > SCHEMA_VERSION:
            raise StoreError(f"results store schema {version} is newer than this stickpose "
                             f"({SCHEMA_VERSION}); upgrade stickpose")
        for step in range(version, SCHEMA_VERSION):
            MIGRATIONS[step](connection)
        connection.execute(meta.update().where(meta.c.key == "schema_version")
                           .values(value=str(SCHEMA_VERSION)))


def _identify_results(connection) -> None:
    """Schema 1 -> 2: results gain the measured data's identity (``data_id``, ``canonical``,
    ``source``) and the decoder's ``params`` in their key. Earlier rows cannot say which data
    they measured: they keep their numbers as ``unidentified`` data, counted canonical."""
    staging = _results_table("results_v2", MetaData())
    staging.create(connection)
    old = Table("results", MetaData(), autoload_with=connection)
    rows = [dict(row) for row in connection.execute(select(old)).mappings()]
    if rows:
        connection.execute(staging.insert(), [
            {**row, "params": "", "data_id": UNIDENTIFIED, "canonical": 1,
             "source": "recorded before stickpose identified evaluated data"} for row in rows])
    old.drop(connection)
    connection.exec_driver_sql("ALTER TABLE results_v2 RENAME TO results")


def _add_run_columns(connection) -> None:
    """Schema 2 -> 3: runs gain ``RUN_COLUMNS_3`` (empty for runs recorded before; they are
    not reported rows)."""
    for name, kind in RUN_COLUMNS_3:
        connection.exec_driver_sql(f"ALTER TABLE runs ADD COLUMN {name} "
                                   f"{kind.compile(dialect=connection.dialect)}")
    connection.execute(runs.update().values(reported=0))


def _add_sweep_entries(connection) -> None:
    """Schema 3 -> 4: the shared sweep's queue; on PostgreSQL, ``arch`` and ``head`` widen
    from 64 to 512 characters (a plugin's file path; SQLite never enforced the length)."""
    entries.create(connection)
    if connection.dialect.name == "postgresql":
        for column in ("arch", "head"):
            connection.exec_driver_sql(f"ALTER TABLE runs ALTER COLUMN {column} TYPE "
                                       "VARCHAR(512)")


MIGRATIONS = {1: _identify_results, 2: _add_run_columns, 3: _add_sweep_entries}   # version -> function(connection) bringing it to + 1


def _upsert(connection, table: Table, rows: list[dict], replace: bool = True) -> None:
    """Insert ``rows``, replacing rows with the same primary key (``replace`` False: keeping
    those, and leaving such rows out). A replaced row takes the columns ``rows`` give; a
    column they leave out keeps what the store holds."""
    if not rows:
        return
    keys = [c.name for c in table.primary_key.columns]
    given = set(rows[0])
    if connection.dialect.name in ("sqlite", "postgresql"):
        module = __import__(f"sqlalchemy.dialects.{connection.dialect.name}",
                            fromlist=["insert"])
        statement = module.insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=keys,
            set_={c.name: statement.excluded[c.name] for c in table.columns
                  if c.name not in keys and c.name in given}) if replace else \
            statement.on_conflict_do_nothing(index_elements=keys)
        connection.execute(statement, rows)
        return
    for row in rows:
        same = [table.c[k] == row[k] for k in keys]
        if connection.execute(select(table).where(*same)).first() is None:
            connection.execute(table.insert().values(**row))
        elif replace:
            connection.execute(table.update().where(*same).values(**row))


def git_commit() -> str | None:
    """The checkout's commit when stickpose runs from a git working tree."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


#: Settings that say where a run's data lives on one machine, not what it is: a run's
#: identity leaves them out, so the same setup has the same id on every machine.
LOCAL_SETTINGS = ("class_dir",)


def config_hash(config: dict, local: bool = False) -> str:
    """The hash of a run's settings, those of ``LOCAL_SETTINGS`` left out (``local``: kept,
    as stickpose hashed them before; ``hashed_as_recorded`` accepts both). Settings added
    later are left out at their former value, and a built-in architecture's
    ``arch_options`` of at most ``stacks`` is hashed as schema 1's ``stacks``, so runs
    recorded before keep their ids."""
    kept = {k: (None if k in LOCAL_SETTINGS and not local else v) for k, v in config.items()
            if not (k in LATER_SETTINGS and v == LATER_SETTINGS[k])}
    options = kept.get("arch_options")
    if isinstance(options, dict) and set(options) <= {"stacks"} and ":" not in str(
            kept.get("arch")):
        del kept["arch_options"]
        kept["stacks"] = options.get("stacks", STACKS_DEFAULT)
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


def hashed_as_recorded(config: dict, recorded: str) -> bool:
    """Whether ``recorded`` is ``config``'s hash, as stickpose hashes it now or as it did
    before ``LOCAL_SETTINGS`` were left out."""
    return recorded in (config_hash(config), config_hash(config, local=True))


def training_data(config: dict) -> str:
    """What a run trained on: ``lsp:DIR``, or the name of its suite (``stickman``,
    ``class``, a user's suite file's stem)."""
    data = config.get("data", "stickman")
    suite = config.get("suite", config.get("train_suite", "stickman"))
    return data if data != "stickman" else Path(suite).stem


def run_id(config: dict) -> str:
    """A readable id: ``arch-head_size_wWIDTH_sSEED`` (``_lsp`` for LSP, ``_SUITE`` for a
    suite other than stickman) and a config hash."""
    data = training_data(config)
    data = "" if data == "stickman" else "_lsp" if data.startswith("lsp:") else f"_{data}"
    return (f"{short_name(config['arch'])}-{short_name(config['head'])}"
            f"_{config['input_size']}_w{config['width']}"
            f"_s{config['seed']}{data}_{config_hash(config)[:8]}")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def record(engine, config: dict, run: dict | None = None, sets: dict | None = None,
           decoder: str = "quarter", params: str = "") -> str:
    """Record a run (its config and, from ``run``, parameters, FLOPs, times) and its results
    ``{set: {metric: value, ..., "images": n, "data_id": ..., "canonical": bool, "source":
    ...}}`` for one decoder with ``params`` (``""``: the run's own settings), in one
    transaction. Returns the run id."""
    row, values = _rows(config, run, sets, decoder, params)
    return _write(engine, row, values)


def _rows(config: dict, run: dict | None, sets: dict | None, decoder: str, params: str):
    """The ``runs`` row and the ``results`` rows that ``record`` writes."""
    identity = run_id(config)
    run = run or {}
    now = _now()
    row = {"run_id": identity, "arch": config["arch"], "head": config["head"],
           "data": training_data(config), "input_size": config.get("input_size"),
           "width": config.get("width"), "seed": config.get("seed"),
           "epochs": run.get("epochs"), "steps_per_epoch": config.get("steps_per_epoch"),
           "config_hash": config_hash(config), "config": json.dumps(config, sort_keys=True),
           "version": __version__, "git_commit": git_commit(),
           "parameters": run.get("parameters"), "flops": run.get("flops"),
           "train_seconds": run.get("train_seconds"), "inference_ms": run.get("inference_ms"),
           "recorded_at": now, "train_images": run.get("train_images"),
           "cpu_seconds": run.get("cpu_seconds"),
           "tta_images": None, "tta_cpu_seconds": None,
           "hardware": run.get("hardware"), "reported": int(bool(run.get("reported")))}
    values = [{"run_id": identity, "set": name, "decoder": decoder, "params": params,
               "data_id": measured.get("data_id") or UNIDENTIFIED, "metric": metric,
               "value": float(value), "images": measured.get("images"),
               "canonical": int(bool(measured.get("canonical", True))),
               "source": measured.get("source"), "recorded_at": now}
              for name, measured in (sets or {}).items()
              for metric, value in measured.items()
              if metric not in DATA_KEYS and isinstance(value, Real)
              and not isinstance(value, bool) and math.isfinite(value)]   # NaN: not measured
    curve = run.get("validation_curve") or []
    values += [{"run_id": identity, "set": curve_set(config), "decoder": decoder,
                "params": params, "data_id": CURVE, "metric": f"{metric}@{point['images']}",
                "value": float(point[metric]), "images": None, "canonical": 1,
                "source": "the run's validation curve (history.csv)", "recorded_at": now}
               for point in curve for metric in ("score", "cpu_seconds")
               if point.get(metric) is not None]
    return row, values


def curve_set(config: dict) -> str:
    """Where a run's validation curve is recorded: set ``validation`` (``SUITE/validation``
    for a suite other than stickman), metrics ``score@IMAGES`` and ``cpu_seconds@IMAGES``."""
    data = training_data(config)
    data = "lsp" if data.startswith("lsp:") else data
    return "validation" if data == "stickman" else f"{data}/validation"


def _write(engine, row: dict, values: list[dict]) -> str:
    """Upsert one run's row and its result rows in one transaction (unless a stop signal
    came: nothing is recorded after it). Returns the run id."""
    identity = row["run_id"]
    check_stop()
    try:
        with engine.begin() as connection:
            existing = connection.execute(select(runs).where(runs.c.run_id == identity)
                                          ).mappings().first()
            if existing:                              # keep what an earlier record knew
                row = {k: (v if v is not None else existing[k]) for k, v in row.items()}
            _upsert(connection, runs, [row])
            _upsert(connection, results, values)
    except SQLAlchemyError as error:
        raise StoreError(f"cannot write to results store {where(str(engine.url))}: "
                         f"{_first_line(error)}") from None
    return identity


def record_run(engine, run: Path) -> str:
    """Record a finished run directory (its ``evaluation.json``): the same run recorded
    again replaces its rows. A run evaluated before runs recorded their validation curve
    gets it from its ``history.csv``. Returns the run id."""
    from ..runs import RunDir, RunError, validation_curve

    run = RunDir(run)
    config = run.config()
    if not (run / run.EVALUATION).is_file():
        raise RunError(f"run {run} has not been evaluated yet (no {run.EVALUATION}); "
                       "finish it with `stickpose train --resume --out RUN`")
    evaluation = run.evaluation()
    evaluation.setdefault("validation_curve", validation_curve(run.history()))
    return record(engine, asdict(config), evaluation, evaluation["sets"],
                  evaluation.get("decoder", "quarter" if config.head == "heatmap"  # written
                                  else "coordinates"),          # before "decoder" was
                  evaluation.get("params", ""))


def record_results(engine, run: Path, table) -> str:
    """Record an evaluation table (``evaluate.evaluate_run``'s rows) of run ``run``: per
    decoder and parameters, every metric of every set (occluded sets as
    ``SET/OCCLUSION``). Returns the run id."""
    import pandas as pd

    from ..runs import RunDir

    config = asdict(RunDir(run).config())
    run_row, values = _rows(config, None, None, "", "")
    for (decoder, params), rows in table.groupby(["decoder", "params"], sort=False):
        sets = {}
        for _, row in rows.iterrows():
            name = row["set"] if row["occlusion"] == "none" else f"{row['set']}/{row['occlusion']}"
            sets[name] = {k: v for k, v in row.items()
                          if k not in ("set", "occlusion", "decoder", "params") and pd.notna(v)}
        values += _rows(config, None, sets, decoder, params)[1]
    return _write(engine, run_row, values)                 # every decoder, or none
