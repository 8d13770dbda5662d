"""The comparison table from the results store: rows architecture x head (x decoder),
columns the test sets, one metric; its renderings, plot, export and import."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .. import __version__
from ..errors import StickposeError
from .store import METRICS, UNIDENTIFIED, StoreError, _upsert, config_hash, results, runs

LOWER_IS_BETTER = {"score": True, "flip_score": True, "swap": True, "pck": False, "mse": True,
                   "mpjpe": True}
SUITES = ("stickman", "class")     # benchmarks whose test1-test4 each get a table
SETS = ("test1", "test2", "test3", "test4", "lsp-test")
FORMATS = ("table", "md", "csv", "html", "json")
HEAD_OUTPUTS = ("quarter", "coordinates")     # what train records for each kind of head
RUN_COLUMNS = [c.name for c in runs.columns]
RESULT_COLUMNS = ["set", "decoder", "params", "data_id", "metric", "value", "images",
                  "canonical", "source"]


def load(engine) -> pd.DataFrame:
    """Every result joined with its run: one row per run x set x decoder x metric."""
    query = (select(*[runs.c[c] for c in RUN_COLUMNS],
                    *[results.c[c] for c in RESULT_COLUMNS])
             .join(results, results.c.run_id == runs.c.run_id))
    with engine.connect() as connection:
        return pd.read_sql(query, connection)


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """The results a leaderboard compares: measured on the suite's own data with the run's
    own decoder settings; where one run has several such (a 16-image final evaluation and
    a later 1,000-image one), the one on the most images."""
    rows = frame[(frame["canonical"] == 1) & (frame["params"].fillna("") == "")]
    most = rows.groupby(["run_id", "set", "decoder", "metric"])["images"].transform("max")
    return rows[(rows["images"] == most) | most.isna()].drop_duplicates(
        ["run_id", "set", "decoder", "metric"], keep="last")


def for_suite(frame: pd.DataFrame, suite: str = "stickman",
              every_measurement: bool = False) -> pd.DataFrame:
    """The rows measured on ``suite``'s sets, named as in the suite (``class/test1`` ->
    ``test1``): results on a suite other than stickman are recorded as ``SUITE/SET``. Only
    ``canonical`` results unless ``every_measurement``."""
    _check(suite, SUITES, "suite")
    if not every_measurement:
        frame = canonical(frame)
    if suite == "stickman":
        return frame[~frame["set"].str.contains("/")]
    prefix = f"{suite}/"
    rows = frame[frame["set"].str.startswith(prefix)]
    return rows.assign(set=rows["set"].str[len(prefix):])


def _check(value, known, what: str) -> None:
    if value is not None and value not in known:
        raise StickposeError(f"unknown {what} {value!r}; known: {', '.join(known) or 'none'}")


def _trained_on(data: str) -> str:
    return "lsp" if data.startswith("lsp:") else data


def check_data(frame: pd.DataFrame, data: str | None) -> None:
    """An error unless ``data`` is stickman, class, lsp or what a recorded run trained on
    (a user's own suite's name)."""
    known = list(dict.fromkeys(["stickman", "class", "lsp", *frame["data"].map(_trained_on)]))
    if data is not None and data not in known:
        raise StickposeError(f"unknown data {data!r}; known: {', '.join(known)} (your own "
                             "suite's name is known once a run trained on it is recorded)")


def comparison(frame: pd.DataFrame, metric: str = "score", arch: str | None = None,
               head: str | None = None, data: str | None = None,
               decoders: bool = False, by_data: bool = False) -> pd.DataFrame:
    """Rows ``arch, head`` (and ``data``, what the runs trained on, when ``by_data``; and
    ``decoder`` when ``decoders``), one column per test set: the metric's mean over the
    matching runs (seeds), and ``runs``, how many there were. Without ``decoders`` each run
    counts with its own head's output (quarter-pixel argmax for heatmap heads, the
    coordinates of scalar and integral heads)."""
    from ..models.registry import ARCH_MODULES, HEAD_NAMES

    _check(metric, METRICS, "metric")
    _check(arch, ARCH_MODULES, "architecture")
    _check(head, HEAD_NAMES, "head")
    rows = frame[(frame["metric"] == metric) & frame["set"].isin(SETS)]
    if arch:
        rows = rows[rows["arch"] == arch]
    if head:
        rows = rows[rows["head"] == head]
    if data:
        rows = rows[rows["data"].map(_trained_on) == data]
    if not decoders:
        rows = rows[rows["decoder"].isin(HEAD_OUTPUTS)]
    keys = ["arch", "head"] + (["data"] if by_data else []) + (["decoder"] if decoders else [])
    if rows.empty:
        return pd.DataFrame(columns=[*keys, "runs", "images"])
    table = rows.pivot_table(index=keys, columns="set", values="value", aggfunc="mean")
    table = table[[s for s in SETS if s in table.columns]]
    table["runs"] = rows.groupby(keys)["run_id"].nunique()
    table["images"] = rows.groupby(keys)["images"].agg(_image_counts)
    return table.reset_index()


def _image_counts(counts: pd.Series) -> str:
    """Which data a row's cells measured: images per set (``1000``; ``16-1000`` when the
    runs differ)."""
    known = counts.dropna().astype(int)
    if known.empty:
        return "?"
    low, high = known.min(), known.max()
    return str(high) if low == high else f"{low}-{high}"


def seed_spread(frame: pd.DataFrame, metric: str = "score") -> pd.DataFrame:
    """For each arch x head recorded with several seeds: a row per seed, then the mean and
    the standard deviation (ddof 1) over the seeds."""
    rows = frame[(frame["metric"] == metric) & frame["set"].isin(SETS)
                 & frame["decoder"].isin(HEAD_OUTPUTS)]
    table = rows.pivot_table(index=["arch", "head", "seed"], columns="set", values="value",
                             aggfunc="mean")
    table = table[[s for s in SETS if s in table.columns]]
    parts = []
    for (arch, head), group in table.groupby(level=[0, 1]):
        if len(group) < 2:
            continue
        group = group.reset_index()
        summary = pd.DataFrame([{"arch": arch, "head": head, "seed": label,
                                 **getattr(group[table.columns], how)()}
                                for label, how in (("mean", "mean"), ("std", "std"))])
        parts += [group.astype({"seed": str}), summary]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def best(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``True`` where a value is the best of its column."""
    marks = pd.DataFrame(False, index=table.index, columns=table.columns)
    for column in (c for c in SETS if c in table.columns):
        values = table[column]
        target = values.min() if LOWER_IS_BETTER[metric] else values.max()
        marks[column] = values == target
    return marks


def render(table: pd.DataFrame, metric: str, fmt: str = "table") -> str:
    """The table as text (best marked ``*``), Markdown (best **bold**), CSV, HTML (best in
    <b>) or JSON (records, with a ``best`` list per row)."""
    _check(fmt, FORMATS, "format")
    sets = [c for c in SETS if c in table.columns]
    marks = best(table, metric)
    digits = 1 if metric == "mse" else 3
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "json":
        records = table.to_dict(orient="records")
        for record, (_, row) in zip(records, marks.iterrows()):
            record["best"] = [s for s in sets if row[s]]
        return json.dumps({"metric": metric, "rows": records}, indent=2, default=float)
    shown = table.copy().astype(object)
    for column in sets:
        for index, value in table[column].items():
            text = "" if pd.isna(value) else f"{value:.{digits}f}"
            if text and marks.at[index, column]:
                text = {"table": f"{text}*", "md": f"**{text}**",
                        "html": f"<b>{text}</b>"}[fmt]
            shown.at[index, column] = text
    if fmt == "md":
        return shown.to_markdown(index=False, stralign="right")
    if fmt == "html":
        return shown.to_html(index=False, escape=False)
    return shown.to_string(index=False)


def plot(table: pd.DataFrame, metric: str, path: Path) -> None:
    """Grouped bars: one panel per test set, architectures along x, a bar per head (per
    head and decoder in the decoders view); written atomically as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..files import write_atomic
    from ..viz import figure_png

    sets = [c for c in SETS if c in table.columns]
    if table.empty or not sets:
        raise StickposeError("nothing to plot: the store holds no matching results")
    series = [c for c in ("head", "data", "decoder") if c in table.columns]
    groups = table.groupby(series, sort=True)
    archs = sorted(table["arch"].unique())
    figure, axes = plt.subplots(1, len(sets), figsize=(4.2 * len(sets), 3.8), squeeze=False)
    width = 0.8 / max(len(groups), 1)
    for axis, column in zip(axes[0], sets):
        for k, (name, rows) in enumerate(groups):
            values = rows.set_index("arch")[column].reindex(archs)
            label = name if isinstance(name, str) else " / ".join(map(str, name))
            axis.bar(np.arange(len(archs)) + (k - (len(groups) - 1) / 2) * width, values,
                     width, label=label)
        axis.set_xticks(np.arange(len(archs)), archs, rotation=30, ha="right")
        axis.set_title(column)
        axis.set_ylabel(metric + (" (lower is better)" if LOWER_IS_BETTER[metric] else ""))
    axes[0][-1].legend(fontsize=8)
    figure.tight_layout()
    write_atomic(Path(path), figure_png(figure, 110))


def plot_curves(frame: pd.DataFrame, path: Path, arch: str | None = None,
                head: str | None = None) -> None:
    """PCK against the threshold (fraction of the pose's bounding-box diagonal), a line per
    decoder, one panel per test set: the means over the matching runs of the ``pck@T``
    results ``stickpose evaluate`` records. Written atomically as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..files import write_atomic
    from ..viz import figure_png

    rows = frame[frame["metric"].str.startswith("pck@") & frame["set"].isin(SETS)]
    if arch:
        rows = rows[rows["arch"] == arch]
    if head:
        rows = rows[rows["head"] == head]
    if rows.empty:
        raise StickposeError("no PCK curves recorded for these runs: `stickpose evaluate RUN` "
                             "records them")
    rows = rows.assign(threshold=rows["metric"].str[4:].astype(float))
    sets = [s for s in SETS if s in set(rows["set"])]
    figure, axes = plt.subplots(1, len(sets), figsize=(4.2 * len(sets), 3.6), squeeze=False)
    for axis, name in zip(axes[0], sets):
        curves = rows[rows["set"] == name].groupby(["decoder", "threshold"])["value"].mean()
        for decoder, curve in curves.groupby(level=0):
            axis.plot(curve.index.get_level_values(1), curve.values, marker=".", label=decoder)
        axis.set_title(name)
        axis.set_xlabel("threshold (x bounding-box diagonal)")
        axis.set_ylabel("PCK")
    axes[0][-1].legend(fontsize=8)
    figure.tight_layout()
    write_atomic(Path(path), figure_png(figure, 110))


def stamp(command: str, fmt: str = "md") -> str:
    """The first lines of an exported file: the command, version and date."""
    text = f"Produced by `{command}` with stickpose {__version__} on {date.today().isoformat()}."
    return f"<!-- {text} -->\n{text}\n\n" if fmt == "md" else f"# {text}\n"


def export(engine, folder: Path, command: str) -> list[Path]:
    """``stickman.md`` / ``.csv`` / ``.png`` (the class score per arch x head) and
    ``decoders.md`` (every decoder recorded) when stickman results are recorded, ``class.md``
    (the class's own benchmark) when those are, and ``results.csv`` (everything,
    importable). Nothing is written from an empty store."""
    from ..files import write_atomic

    folder = Path(folder)
    frame = load(engine)
    stickman = for_suite(frame[frame["data"] == "stickman"], "stickman")
    on_class = for_suite(frame, "class")
    has_stickman = not comparison(stickman, "score").empty
    if not has_stickman and on_class.empty:
        raise StickposeError("nothing to export: the store holds no stickman or class results")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    if has_stickman:
        sections = []
        for metric in ("score", "pck"):
            table = comparison(stickman, metric)
            title = {"score": "Class test score (lower is better)",
                     "pck": "PCK@0.15 of the bounding-box diagonal"}[metric]
            sections.append(f"## {title}\n\n{render(table, metric, 'md')}\n")
        spread = seed_spread(stickman, "score")
        if not spread.empty:
            sections.append("## Spread over seeds (class test score)\n\n"
                            + spread.to_markdown(index=False, floatfmt=".3f") + "\n")
        write_atomic(folder / "stickman.md", (stamp(command) + "\n".join(sections)).encode())
        write_atomic(folder / "stickman.csv", (stamp(command, "csv")
                                              + render(comparison(stickman, "score"), "score",
                                                       "csv")).encode())
        plot(comparison(stickman, "score"), "score", folder / "stickman.png")
        decoders = [f"## {m}\n\n{render(comparison(stickman, m, decoders=True), m, 'md')}\n"
                    for m in ("score", "pck", "mse")]
        write_atomic(folder / "decoders.md", (stamp(command) + "\n".join(decoders)).encode())
        written += [folder / n for n in ("stickman.md", "stickman.csv", "stickman.png",
                                         "decoders.md")]
    if not on_class.empty:
        sections = [f"## {title}\n\n"
                    f"{render(comparison(on_class, metric, by_data=True), metric, 'md')}\n"
                    for metric, title in (
                        ("score", "Class test score (lower is better)"),
                        ("flip_score", "Flip-tolerant class score (lower is better)"),
                        ("swap", "Left/right swap rate"), ("pck", "PCK@0.15"))]
        write_atomic(folder / "class.md", (stamp(command) + "The class's own benchmark "
                                           "(`--suite class`); data: what each model trained "
                                           "on.\n\n" + "\n".join(sections)).encode())
        written.append(folder / "class.md")
    write_atomic(folder / "results.csv", (stamp(command, "csv")
                                          + frame.to_csv(index=False)).encode())
    return written + [folder / "results.csv"]


def _config_problem(row: dict) -> str | None:
    """Why an imported run row cannot be trusted: its config is not a JSON object, does not
    hash to its ``config_hash``, or names another arch or head than the row."""
    try:
        config = json.loads(row["config"])
    except (TypeError, ValueError):
        return "has a config that is not JSON"
    if not isinstance(config, dict):
        return "has a config that is not a JSON object"
    if config_hash(config) != row["config_hash"]:
        return "has a config that does not match its config_hash (edited or damaged?)"
    for key in ("arch", "head"):
        if config.get(key) != row[key]:
            return f"says {key} {row[key]!r} but its config says {config.get(key)!r}"
    return None


def import_results(engine, path: Path) -> tuple[int, int]:
    """Merge a ``results.csv`` (from ``export``) or the same rows as a JSON list into the
    store; rows already there are replaced, not duplicated. Returns (runs, results)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, comment="#", dtype={"data_id": str, "params": str},
                                keep_default_na=False, na_values=[""])
        elif path.suffix.lower() == ".json":
            frame = pd.DataFrame(json.loads(path.read_text()))
        else:
            raise StickposeError(f"{path}: expected a .csv or .json file of results")
    except (OSError, ValueError) as error:
        raise StickposeError(f"cannot read {path}: {error}") from None
    for column, value in (("params", ""), ("data_id", UNIDENTIFIED), ("canonical", 1),
                          ("source", None)):          # results.csv of schema 1
        if column not in frame.columns:
            frame[column] = value
    missing = [c for c in ["run_id", "arch", "head", "data", "config_hash", "config",
                           "set", "decoder", "metric", "value"] if c not in frame.columns]
    if missing:
        raise StickposeError(f"{path} is not a stickpose results file: it lacks the "
                             f"column(s) {', '.join(missing)} (export one with "
                             "`stickpose leaderboard export DIR`: results.csv)")
    frame["params"] = frame["params"].fillna("")
    frame = frame.astype(object).where(frame.notna(), None)
    run_rows = (frame.drop_duplicates("run_id")
                .reindex(columns=RUN_COLUMNS).to_dict(orient="records"))
    for row in run_rows:
        row["recorded_at"] = row["recorded_at"] or date.today().isoformat()
        problem = _config_problem(row)
        if problem:
            raise StickposeError(f"cannot import {path}: run {row['run_id']} {problem}; "
                                 "nothing was imported")
    result_rows = (frame.reindex(columns=["run_id", *RESULT_COLUMNS, "recorded_at"])
                   .to_dict(orient="records"))
    try:
        with engine.begin() as connection:
            _upsert(connection, runs, run_rows)
            _upsert(connection, results, result_rows)
    except (SQLAlchemyError, TypeError, ValueError) as error:   # a value of the wrong type
        raise StoreError(f"cannot import {path}: {str(error).splitlines()[0]}") from None
    return len(run_rows), len(result_rows)
