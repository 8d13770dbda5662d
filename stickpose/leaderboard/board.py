"""The comparison table from the results store: rows architecture x head (x decoder),
columns the test sets, one metric; its renderings, plot, export and import."""
from __future__ import annotations

import csv
import json
import math
import re
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import Float, Integer, select
from sqlalchemy.exc import SQLAlchemyError

from .. import __version__
from ..errors import StickposeError
from ..models.registry import display_name, short_name
from .reference import REFERENCE_ARCH
from .store import (METRICS, StoreError, _upsert, config_hash, hashed_as_recorded,
                    results, runs)

LOWER_IS_BETTER = {"score": True, "score_written": True, "flip_score": True, "swap": True,
                   "pck": False, "mse": True, "mpjpe": True, "ap": False, "ap50": False,
                   "ap75": False, "ar": False}
#: the suites whose test1-test4 each get a board: every built-in suite stickpose trains on
SUITES = ("stickman", "class", "class-2022", "class-poses")
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


def load_published(path: Path) -> pd.DataFrame:
    """``load``'s frame of a published ``results.csv`` (checked as ``import_results`` checks
    it), read through a throw-away in-memory store: the board a user sees before they have
    recorded anything of their own."""
    from sqlalchemy import create_engine

    from .store import _migrate

    engine = create_engine("sqlite://")
    _migrate(engine)
    import_results(engine, path)
    return load(engine)


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


#: what a run's setup leaves out: two runs that differ only in these are seeds of one cell
SEED_SETTINGS = ("seed", "class_dir")


def _setup(config: str, leave_out=SEED_SETTINGS) -> str:
    """The hash of a run's settings other than its seed (other than ``leave_out``): the
    runs of one table row."""
    try:
        values = json.loads(config)
    except (TypeError, ValueError):
        return "?"
    return config_hash({k: v for k, v in values.items() if k not in leave_out})[:8]


def comparison(frame: pd.DataFrame, metric: str = "score", arch: str | None = None,
               head: str | None = None, data: str | None = None,
               decoders: bool = False, by_data: bool = False) -> pd.DataFrame:
    """Rows ``arch, head`` (and ``data``, what the runs trained on, when ``by_data``; and
    ``decoder`` when ``decoders``) per training setup (every setting but the seed: runs of
    another width or budget get a row of their own), one column per test set: the metric's
    mean over the setup's runs (seeds) and, in ``SET std``, their standard deviation; then
    ``runs``, ``width``, ``budget`` (training images), ``params``, ``MFLOPs``, the median time
    to the milestone over the runs that reached it (``milestones``: ``tta_images``,
    ``tta_cpu_seconds``; ``tta_runs`` how many did, ``tta_curves`` how many recorded a
    validation curve) and ``images`` (evaluated per set). Reference rows (published numbers,
    ``reported``; stand-ins and floors, arch ``reference``) are never counted. Without ``decoders`` each run counts with its
    own head's output (quarter-pixel argmax for heatmap heads, the coordinates of scalar and
    integral heads)."""
    _check(metric, METRICS, "metric")
    rows = frame[(frame["metric"] == metric) & frame["set"].isin(SETS)
                 & (frame["reported"].fillna(0) == 0) & (frame["arch"] != REFERENCE_ARCH)]
    if arch:
        rows = rows[_named(rows["arch"], arch)]
    if head:
        rows = rows[_named(rows["head"], head)]
    if data:
        rows = rows[rows["data"].map(_trained_on) == data]
    if not decoders:
        rows = rows[rows["decoder"].isin(HEAD_OUTPUTS)]
    keys = ["arch", "head"] + (["data"] if by_data else []) + (["decoder"] if decoders else [])
    if rows.empty:
        return pd.DataFrame(columns=[*keys, "width", "budget", "runs", "images"])
    rows = rows.assign(setup=rows["config"].map(_setup))
    keys.append("setup")
    stats = rows.groupby([*keys, "set"])["value"].agg(["mean", "std"])
    means, spreads = stats["mean"].unstack("set"), stats["std"].unstack("set")
    sets = [s for s in SETS if s in means.columns]
    table = means[sets].copy()
    for name in sets:
        table[f"{name} std"] = spreads[name]
    fewest = rows.groupby([*keys, "set"])["images"].min().unstack("set")
    for name in sets:                            # what a cell may be ranked against
        table[f"{name} images"] = fewest[name] if name in fewest else float("nan")
    by_run = rows.drop_duplicates("run_id").groupby(keys)
    table["runs"] = by_run["run_id"].nunique()
    table["width"] = by_run["width"].first()
    table["budget"] = by_run["train_images"].max()
    table["params"] = by_run["parameters"].mean()
    table["MFLOPs"] = by_run["flops"].mean() / 1e6
    reached = rows.drop_duplicates("run_id")[[*keys, "run_id"]].join(
        milestones(frame), on="run_id").groupby(keys)
    table["tta_images"] = reached["tta_images"].median()
    table["tta_cpu_seconds"] = reached["tta_cpu_seconds"].median()
    table["tta_runs"] = reached["tta_images"].count()
    table["tta_curves"] = reached["curve"].sum()
    table["images"] = rows.groupby(keys)["images"].agg(_image_counts)
    code = by_run["config"].first().map(_code)
    if (code != "").any():                        # plugin rows: where their code came from
        table["code"] = code
    return table.reset_index()


#: The milestone: the validation score first at or below this share of the mean training
#: pose's score on the suite's test sets (its ``reference`` row), i.e. three quarters of the
#: error of a guess that ignores the image removed.
MILESTONE_SHARE = 0.25
MILESTONE = "to ¼ mean pose"


def milestone_mark(frame: pd.DataFrame) -> float | None:
    """The milestone's score for one suite's ``frame`` (``for_suite``): ``MILESTONE_SHARE``
    of the mean, over its test sets, of the mean training pose's intended score; None
    where that stand-in is not recorded."""
    mean_pose = frame[(frame["arch"] == REFERENCE_ARCH) & (frame["head"] == "mean training pose")
                      & (frame["metric"] == "score") & frame["set"].isin(SETS)]["value"]
    return MILESTONE_SHARE * float(mean_pose.mean()) if len(mean_pose) else None


def milestones(frame: pd.DataFrame) -> pd.DataFrame:
    """Per run of one suite's ``frame``: ``curve`` (whether its validation curve is
    recorded) and, where it reached ``milestone_mark``, the training images
    (``tta_images``) and CPU seconds (``tta_cpu_seconds``) at the end of its first epoch at
    or below it (DAWNBench's time to accuracy)."""
    curve = frame[(frame["set"] == "validation") & frame["metric"].str.contains("@")]
    columns = ["curve", "tta_images", "tta_cpu_seconds"]
    if curve.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="run_id"))
    curve = curve.assign(kind=curve["metric"].str.split("@").str[0],
                         at=curve["metric"].str.split("@").str[1].astype(int))
    points = curve.pivot_table(index=["run_id", "at"], columns="kind", values="value")
    mark = milestone_mark(frame)
    result = pd.DataFrame({"curve": True}, index=points.index.unique("run_id"))
    if mark is not None and "score" in points:
        below = points[points["score"] <= mark].reset_index().groupby("run_id").first()
        result["tta_images"] = below["at"]
        result["tta_cpu_seconds"] = below.get("cpu_seconds")
    return result.reindex(columns=columns)


def _named(specs: pd.Series, name: str) -> pd.Series:
    """Which recorded specs ``name`` names: as recorded, as tables show them, or by the
    part's own name (``tiny_net`` for ``my_nets:tiny_net``)."""
    return (specs == name) | (specs.map(display_name) == name) | (specs.map(short_name) == name)


def check_recorded(frame: pd.DataFrame, value: str | None, column: str) -> None:
    """An error unless some recorded run has this ``arch`` or ``head`` (``column``)."""
    if value is not None and not _named(frame[column].dropna(), value).any():
        known = ", ".join(sorted(frame[column].dropna().map(display_name).unique()))
        what = {"arch": "architecture", "head": "head"}[column]
        raise StickposeError(f"no recorded run has {what} {value!r}; recorded: "
                             f"{known or 'none'}")


def _code(config: str) -> str:
    """Where a row's model code came from: empty for stickpose's own parts, else each
    plugin's file and the start of its sha256 (as its run recorded them)."""
    try:
        plugins = json.loads(config).get("plugins") or {}
    except (TypeError, ValueError, AttributeError):
        return ""
    return "; ".join(f"{Path(p.get('file') or '?').name} {str(p.get('sha256'))[:8]}"
                     for p in plugins.values())


def _image_counts(counts: pd.Series) -> str:
    """Which data a row's cells measured: images per set (``1000``; ``16-1000`` when the
    runs differ)."""
    known = counts.dropna().astype(int)
    if known.empty:
        return "?"
    low, high = known.min(), known.max()
    return str(high) if low == high else f"{low}-{high}"


def reference(frame: pd.DataFrame, metric: str = "score") -> pd.DataFrame:
    """The reference rows (``reported``: published, not re-run) of ``frame`` (one suite's,
    from ``for_suite``): ``arch, head``, one column per set, and
    ``reported`` True also for a cell published empty (its sets NaN)."""
    rows = frame[frame["reported"].fillna(0) == 1]
    if rows.empty:
        return pd.DataFrame(columns=["arch", "head", "reported"])
    cells = rows.drop_duplicates(["arch", "head"])[["arch", "head"]].set_index(["arch", "head"])
    values = rows[(rows["metric"] == metric) & rows["set"].isin(SETS)]
    table = cells.join(values.pivot_table(index=["arch", "head"], columns="set",
                                          values="value", aggfunc="mean"))
    table["reported"] = True
    return table.reset_index()


def measured_references(frame: pd.DataFrame, metric: str = "score") -> pd.DataFrame:
    """The stand-ins and floors of ``frame`` (one suite's, ``for_suite``): rows ``arch``
    (``reference``), ``head`` (the stand-in's or floor's name) and one column per set, in
    the order ``stickpose.references`` lists them."""
    from ..references import FLOORS, STAND_INS

    rows = frame[(frame["arch"] == REFERENCE_ARCH) & (frame["metric"] == metric)
                 & frame["set"].isin(SETS)]
    if rows.empty:
        return pd.DataFrame(columns=["arch", "head"])
    table = rows.pivot_table(index=["arch", "head"], columns="set", values="value",
                             aggfunc="mean").reset_index()
    order = {name: k for k, name in enumerate(STAND_INS + FLOORS)}
    return table.sort_values("head", key=lambda h: h.map(order).fillna(len(order)),
                             kind="stable").reset_index(drop=True)


def with_reference(table: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a ``SET reported`` column beside each set from ``published``
    (``reference``), joined on arch x head; published cells that ``table`` lacks get a row
    of their own."""
    if published.empty:
        return table
    sets = [s for s in SETS if s in published.columns]
    theirs = published.rename(columns={s: f"{s} reported" for s in sets})
    merged = table.merge(theirs, on=["arch", "head"], how="outer", sort=False)
    merged["reported"] = merged["reported"].fillna(False).astype(bool)
    return merged.sort_values(["arch", "head"], kind="stable").reset_index(drop=True)


def with_every_cell(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with an empty row for every registered architecture x head it lacks (the
    cells a sweep of ``--archs all --heads all`` fills), so that a reader sees what is not
    measured yet; a table with no row at all stays empty. Sorted by arch and head."""
    from ..models.registry import ARCHS, HEADS

    if table.empty:
        return table
    have = set(zip(table["arch"], table["head"]))
    missing = pd.DataFrame([(a, h) for a in ARCHS.names() for h in HEADS.names()
                            if (a, h) not in have], columns=["arch", "head"])
    if missing.empty:
        return table
    if "reported" in table:
        missing["reported"] = False
    table = pd.concat([table, missing], ignore_index=True)
    return table.sort_values(["arch", "head"], kind="stable").reset_index(drop=True)


def best(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``True`` where a value is the best of its column or not distinguishable from it:
    within two standard errors of the difference (``std / sqrt(runs)`` of each; a cell of
    one run has none, so it ties only when equal). Only comparable cells compete: those
    whose every run was evaluated on the most images of any in the column (``SET images``:
    a score on the first 8 images of a set is shown, never ranked against the whole
    set's), of rows trained on the usual budget (``budget``, that of most rows: a longer
    run, such as a shipped model's, is shown beside the sweep, not ranked in it)."""
    marks = pd.DataFrame(False, index=table.index, columns=table.columns)
    competing = pd.Series(True, index=table.index)
    if "budget" in table and len(table):
        budgets = table["budget"].fillna(-1)                    # -1: not recorded
        competing &= budgets == budgets.mode()[0]
    for column in (c for c in SETS if c in table.columns):
        images = table.get(f"{column} images", pd.Series(float("nan"), index=table.index))
        most = images.astype(float).where(competing).max()
        values = table[column].astype(float).where(
            competing & (images.isna() | (images == most) | pd.isna(most)))
        if values.isna().all():
            continue
        leader = values.idxmin() if LOWER_IS_BETTER[metric] else values.idxmax()
        spread = table.get(f"{column} std", pd.Series(0.0, index=table.index))
        error = (spread.astype(float).fillna(0.0)
                 / table["runs"].astype(float).clip(lower=1) ** 0.5)
        allowed = 2 * (error ** 2 + error[leader] ** 2) ** 0.5
        marks[column] = (values - values[leader]).abs() <= allowed + 1e-12
    return marks


def _thousands(value) -> str:
    return "" if pd.isna(value) else f"{value / 1000:.0f}k" if value >= 1000 \
        else f"{value:.0f}"


def _to_accuracy(row) -> str:
    """``48k img, 95 CPU s (3/3)``: the median time to the milestone, of how many runs."""
    if pd.isna(row.get("budget")):
        return ""                                # trained before it was measured
    if not row.get("tta_curves"):
        return "no curve recorded"
    if not row.get("tta_runs"):
        return "not reached"
    return (f"{_thousands(row['tta_images'])} img, {row['tta_cpu_seconds']:.0f} CPU s "
            f"({row['tta_runs']:.0f}/{row['runs']:.0f})")


#: the columns of words, aligned left in text and Markdown (numbers align right)
TEXT_COLUMNS = ("arch", "head", "data", "decoder", MILESTONE, "code")


def render(table: pd.DataFrame, metric: str, fmt: str = "table") -> str:
    """The table as text (first place and ties marked ``*``), Markdown (**bold**), CSV, HTML
    (<b>) or JSON (records, with a ``best`` list per row). Text, Markdown and HTML show
    ``mean ± std`` per cell, the published value beside it (``n/r``: published empty),
    parameters, MFLOPs, the budget and the time to accuracy; CSV and JSON every column."""
    _check(fmt, FORMATS, "format")
    sets = [c for c in SETS if c in table.columns or f"{c} reported" in table.columns]
    table = table.reindex(columns=[*table.columns, *(c for c in sets if c not in table)])
    ours = table[table["runs"].notna()] if "runs" in table else table   # not published-only
    marks = best(ours, metric).reindex(index=table.index, columns=table.columns,
                                       fill_value=False)
    digits = 1 if metric == "mse" else 3
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "json":
        records = table.astype(object).where(table.notna(), None).to_dict(orient="records")
        for record, (_, row) in zip(records, marks.iterrows()):
            record["best"] = [s for s in sets if row[s]]
        return json.dumps({"metric": metric, "rows": records}, indent=2, default=float)
    shown = pd.DataFrame(index=table.index)
    for column in [c for c in ("arch", "head", "data", "decoder", "width") if c in table]:
        shown[column] = table[column].map(lambda v: "" if pd.isna(v) else
                                          f"{v:.0f}" if isinstance(v, float) else
                                          display_name(v) if column in ("arch", "head") else v)
    if "budget" in table:
        shown["budget"] = table["budget"].map(_thousands)
    for column in sets:
        def cell(index):
            value, spread = table.at[index, column], table.get(f"{column} std")
            if pd.isna(value):
                return ""
            text = f"{value:.{digits}f}"
            if spread is not None and not pd.isna(spread[index]):
                text += f" ± {spread[index]:.{digits}f}"
            if marks.at[index, column]:
                text = {"table": f"{text} *", "md": f"**{text}**",
                        "html": f"<b>{text}</b>"}[fmt]
            return text
        shown[column] = [cell(index) for index in table.index]
        if f"{column} reported" in table:
            shown[f"{column} class"] = [
                "" if not table.at[i, "reported"] else
                "n/r" if pd.isna(table.at[i, f"{column} reported"]) else
                f"{table.at[i, f'{column} reported']:.2f}" for i in table.index]
    if "runs" in table:
        shown["runs"] = table["runs"].map(lambda v: "" if pd.isna(v) else f"{v:.0f}")
    if "params" in table:
        shown["params"] = table["params"].map(_thousands)
        shown["MFLOPs"] = table["MFLOPs"].map(lambda v: "" if pd.isna(v) else f"{v:.0f}")
        shown[MILESTONE] = [_to_accuracy(row) for _, row in table.iterrows()]
    if "images" in table:
        shown["images"] = table["images"].fillna("")
    if "code" in table:
        shown["code"] = table["code"].fillna("").replace("", "stickpose")
    if fmt == "html":
        return shown.to_html(index=False, escape=False)
    from tabulate import tabulate

    align = ["left" if c in TEXT_COLUMNS else "right" for c in shown.columns]
    return tabulate(shown, headers="keys", showindex=False, disable_numparse=True,
                    colalign=align, tablefmt="pipe" if fmt == "md" else "plain")


METRIC_NAMES = {"score": "class test score (intended)",
                "score_written": "class test score as the class's code computed it",
                "flip_score": "flip-tolerant class score",
                "swap": "left/right swap rate", "pck": "PCK@0.15", "mse": "MSE (px²)",
                "mpjpe": "MPJPE (px)", "ap": "COCO keypoint AP (OKS 0.50:0.95)",
                "ap50": "COCO keypoint AP at OKS 0.50", "ap75": "COCO keypoint AP at OKS 0.75",
                "ar": "COCO keypoint AR (OKS 0.50:0.95)"}


def legend(metric: str, reference_rows: bool = False) -> str:
    """The two lines under a table that say how to read it."""
    better = "lower" if LOWER_IS_BETTER[metric] else "higher"
    first = (f"{METRIC_NAMES[metric]}: mean ± std over seeds, {better} is better; * (bold): "
             "best in its column or tied with it (within two standard errors), of the rows "
             "evaluated on the most images at the usual budget; budget: "
             "training images per run; reference rows: keypoints no model made, measured "
             "on the same images (stand-ins: perfect keypoints, the mean training pose, all "
             "zeros; on the class's sets the floors: perfect keypoints relabelled by the "
             "handedness classifier, an oracle for the joints the drawing leaves out, both).")
    second = (f"{MILESTONE}: median training images and CPU seconds until the validation "
              f"score (intended) first fell to {MILESTONE_SHARE:.0%} of the mean training "
              "pose's score on the suite's test sets (its reference row; three quarters of "
              "the error of a guess that ignores the image removed), of the runs that did "
              "/ runs; no curve recorded: published before runs recorded their validation "
              "curve (not re-trained for it)")
    if metric == "score_written":
        second += ("; the class's code as written keeps only the coordinates equal to 224 "
                   "(the rightmost x, the lowest y): it measures the scale of two "
                   "coordinates, not where the keypoints are, and is comparable with nothing "
                   "but itself; an empty cell of a stickpose row: published before this "
                   "protocol was recorded, from a run no longer at hand (not re-trained for "
                   "it)")
    if reference_rows:
        second += ("; SET class: the class's own published score (seed 001), reported, not "
                   "re-run here and never averaged in; n/r: left empty in their table")
    return f"{first}\n{second}."


def plot(table: pd.DataFrame, metric: str, path: Path) -> None:
    """Grouped bars with error bars (one standard deviation over seeds): one panel per test
    set, architectures along x, a bar per head (per head and decoder in the decoders view;
    per setup where one arch x head has several); written atomically as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..files import write_atomic
    from ..viz import figure_png

    if "runs" in table:
        table = table[table["runs"].notna()]             # not the published-only rows
    sets = [c for c in SETS if c in table.columns]
    if table.empty or not sets:
        raise StickposeError("nothing to plot: the store holds no matching results")
    series = [c for c in ("head", "data", "decoder") if c in table.columns]
    table = table.assign(bar=table.groupby(["arch", *series]).cumcount())
    groups = table.groupby([*series, "bar"], sort=True)
    archs = sorted(table["arch"].unique())
    figure, axes = plt.subplots(1, len(sets), figsize=(4.2 * len(sets), 3.8), squeeze=False)
    width = 0.8 / max(len(groups), 1)
    for axis, column in zip(axes[0], sets):
        for k, (name, rows) in enumerate(groups):
            rows = rows.set_index("arch").reindex(archs)
            spread = rows[f"{column} std"] if f"{column} std" in rows else None
            label = " / ".join(map(str, name[:-1])) + (f" ({name[-1] + 1})" if name[-1] else "")
            axis.bar(np.arange(len(archs)) + (k - (len(groups) - 1) / 2) * width, rows[column],
                     width, yerr=spread, capsize=2, label=label)
        axis.set_xticks(np.arange(len(archs)), archs, rotation=30, ha="right")
        axis.set_title(column)
        axis.set_ylabel(metric + (" (lower is better)" if LOWER_IS_BETTER[metric] else ""))
    axes[0][-1].legend(fontsize=8)
    figure.tight_layout()
    write_atomic(Path(path), figure_png(figure, 110))


#: the suites of the overview figure (each with the runs trained on it) and their titles
OVERVIEW_SUITES = {"stickman": "stickpose's stickman suite, trained on it",
                   "class": "the class's own benchmark (2021 drawing), trained on it"}
#: the class suite's floor drawn on the overview: what the drawing and labels leave unknown
FLOOR = "label + drawing floor"


def floor(frame: pd.DataFrame, suite: str) -> float | None:
    """The mean over test1-test4 of ``suite``'s label + drawing floor (intended score), where
    measured (the class's sets)."""
    rows = measured_references(for_suite(frame, suite), "score")
    rows = rows[rows["head"] == FLOOR]
    sets = [s for s in SETS[:4] if s in rows.columns]
    return float(rows[sets].iloc[0].mean()) if len(rows) and sets else None


def overview(frame: pd.DataFrame, suite: str) -> pd.DataFrame:
    """Per architecture x head trained and measured on ``suite``: ``mean`` (the intended
    score's mean over test1-test4, averaged over runs), ``std`` (of that mean over the
    runs) and ``runs``, of one setup: at the suite's usual budget (the training images of
    most of its runs: the sweep's, not a longer run's such as a shipped model's) if it has
    one, then the one with the most runs, then the lowest mean; runs measured on all four
    sets only."""
    rows = for_suite(frame, suite)
    rows = rows[(rows["metric"] == "score") & rows["set"].isin(SETS[:4])
                & rows["decoder"].isin(HEAD_OUTPUTS) & (rows["reported"].fillna(0) == 0)
                & (rows["arch"] != REFERENCE_ARCH) & (rows["data"].map(_trained_on) == suite)]
    if rows.empty:
        return pd.DataFrame(columns=["arch", "head", "mean", "std", "runs"])
    rows = rows.assign(setup=rows["config"].map(_setup))
    budgets = rows.drop_duplicates("run_id")["train_images"].fillna(-1)   # -1: not recorded
    usual = budgets.mode().iloc[0]
    per_run = rows.groupby(["arch", "head", "setup", "run_id"]).agg(
        mean=("value", "mean"), count=("value", "count"), images=("train_images", "max"))
    per_run = per_run[per_run["count"] == 4]
    setups = per_run.groupby(level=["arch", "head", "setup"]).agg(
        mean=("mean", "mean"), std=("mean", "std"), runs=("mean", "count"),
        images=("images", "max")).reset_index()
    setups["unusual"] = setups["images"].fillna(-1) != usual
    setups = setups.sort_values(["unusual", "runs", "mean"], ascending=[True, False, True],
                                kind="stable")
    return setups.drop_duplicates(["arch", "head"])[["arch", "head", "mean", "std", "runs"]] \
        .sort_values(["arch", "head"]).reset_index(drop=True)


def plot_overview(frame: pd.DataFrame, path: Path) -> bool:
    """The whole board in one figure: a panel per suite (stickman, the class's), the
    registered architectures along x, a bar per head side by side (the intended score's
    mean over test1-test4, error bars one standard deviation over seeds, the number of
    seeds above a bar of several), an empty cell marked "not run", the class suite's label
    + drawing floor as a line. Written atomically as PNG; False (nothing written) where no
    suite has a result."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..files import write_atomic
    from ..models.registry import ARCHS, HEADS
    from ..viz import figure_png

    tables = {s: overview(frame, s) for s in OVERVIEW_SUITES}
    tables = {s: t for s, t in tables.items() if not t.empty}
    if not tables:
        return False
    archs, heads = ARCHS.names(), HEADS.names()
    figure, axes = plt.subplots(1, len(tables), figsize=(6.4 * len(tables), 4.2),
                                squeeze=False)
    width = 0.8 / len(heads)
    for axis, (suite, table) in zip(axes[0], tables.items()):
        cells = table.set_index(["arch", "head"])
        top = float(table["mean"].max())
        for k, head in enumerate(heads):
            x = np.arange(len(archs)) + (k - (len(heads) - 1) / 2) * width
            values = [cells["mean"].get((a, head), np.nan) for a in archs]
            spread = [cells["std"].get((a, head), np.nan) for a in archs]
            bars = axis.bar(x, values, width, yerr=spread, capsize=2,
                            label=display_name(head))
            for position, arch, value in zip(x, archs, values):
                runs = cells["runs"].get((arch, head), 0)
                if np.isnan(value):
                    axis.text(position, top * 0.02, "not run", rotation=90, fontsize=6,
                              ha="center", va="bottom", color=bars.patches[0].get_facecolor())
                elif runs > 1:
                    axis.text(position, value + np.nan_to_num(cells["std"][(arch, head)])
                              + top * 0.02,
                              f"{runs} seeds", rotation=90, fontsize=6, ha="center",
                              va="bottom")
        line = floor(frame, suite)
        if line is not None:
            axis.axhline(line, color="grey", linestyle="--", linewidth=1, label=FLOOR)
        axis.set_xticks(np.arange(len(archs)), [display_name(a) for a in archs],
                        rotation=20, ha="right")
        axis.set_xlim(-0.6, len(archs) - 0.4)            # every architecture, run or not
        axis.set_title(OVERVIEW_SUITES[suite], fontsize=9)
        axis.set_ylabel("class test score (intended), mean of test1-4\n(lower is better)",
                        fontsize=8)
        axis.set_ylim(0, top * 1.3)
        axis.legend(fontsize=7, ncol=4, loc="upper center")
    figure.tight_layout()
    write_atomic(Path(path), figure_png(figure, 110))
    return True


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
        rows = rows[_named(rows["arch"], arch)]
    if head:
        rows = rows[_named(rows["head"], head)]
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
    """The first lines of an exported file: the command (on one line), version and date."""
    command = command.replace("\r", "\\r").replace("\n", "\\n")
    text = f"Produced by `{command}` with stickpose {__version__} on {date.today().isoformat()}."
    return f"<!-- {text} -->\n{text}\n\n" if fmt == "md" else f"# {text}\n"


SUITE_TITLES = {"stickman": "stickpose's stickman suite",
                "class": "the class's own benchmark (its MPII test poses, drawing and "
                         "person-centric labels; data = what the model trained on)",
                "class-2022": "the class's benchmark drawn by its code as it is today (2022: "
                              "every limb drawn; its MPII test poses, person-centric labels)",
                "class-poses": "the class's MPII test poses drawn by stickpose (stickman "
                               "noise, observer-centric labels)"}
#: the tables of each suite's export, in order
EXPORT_METRICS = {"stickman": ("score", "pck"), "class-poses": ("score", "pck"),
                  "class": ("score", "score_written", "flip_score", "swap", "pck"),
                  "class-2022": ("score", "flip_score", "swap", "pck")}


def suite_board(frame: pd.DataFrame, suite: str = "stickman", metric: str = "score",
                arch: str | None = None, head: str | None = None, data: str | None = None,
                decoders: bool = False) -> pd.DataFrame:
    """The table of one suite that ``stickpose leaderboard`` prints and ``export`` writes:
    ``comparison`` of its results; under the class's score as written, the published
    reference cells beside ours (the class's, recorded under that protocol); below them
    the stand-ins and floors measured on the suite (``measured_references``), unless the
    table is narrowed to an arch, head, decoder or training data."""
    rows = for_suite(frame, suite)
    table = comparison(rows, metric, arch, head, data, decoders,
                       by_data=suite != "stickman" or rows["data"].nunique() > 1)
    if decoders or data not in (None, "class"):
        return table
    published = reference(rows, metric)
    published = published[_named(published["arch"], arch) if arch else
                          published["arch"].notna()]
    published = published[_named(published["head"], head) if head else
                          published["head"].notna()]
    if metric == "score_written":
        table = with_reference(table, published)
    if arch or head:
        return table
    table = with_every_cell(table)
    table = pd.concat([table, measured_references(rows, metric)], ignore_index=True)
    if "reported" in table:
        table["reported"] = table["reported"].fillna(False).astype(bool)
    return table


def _exported(path: Path) -> bool:
    """Whether text file ``path`` was written by ``export`` (it starts with the stamp)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            head = file.read(400)
    except OSError:
        return False
    return "Produced by `stickpose leaderboard" in head


#: every file ``export`` writes (those of an export with results on every suite)
EXPORT_NAMES = [*(f"{s}.{e}" for s in SUITES for e in ("md", "csv", "png")), "board.png",
                "decoders.md", "results.csv"]


def check_export_folder(folder: Path, names=EXPORT_NAMES, results: str = "results.csv",
                        command: str = "export") -> None:
    """Refuse, before anything is written, to replace a file among ``names`` in ``folder``
    that ``stickpose leaderboard COMMAND`` did not write: a text file without the stamp, or
    a picture beside a ``results`` file that is not one (or none)."""
    ours = _exported(folder / results)
    for name in names:
        path = folder / name
        if path.exists() and (path.is_dir() or not (_exported(path) if path.suffix != ".png"
                                                     else ours)):
            raise StickposeError(f"{path} is not a file `stickpose leaderboard {command}` "
                                 "wrote; write to another folder, or move it away (nothing "
                                 "was written)")


def export(engine, folder: Path, command: str) -> tuple[list[Path], list[Path]]:
    """Per suite with results (``SUITES``): ``SUITE.md`` (the class score with its
    legend, then PCK; the class suite also the flip-tolerant score and swap rate),
    ``SUITE.csv`` (the score table, every column) and ``SUITE.png`` (bars with error bars);
    ``decoders.md`` (every decoder recorded on stickman) and ``results.csv`` (everything,
    reference rows included, importable). Nothing is written from an empty store. A folder
    holds one export: the files an earlier export wrote there that this one does not (a
    suite the store has no results for) are removed; an interrupt waits until the files are
    all written. Returns ``(written, removed)``."""
    from ..files import interrupts_deferred, write_atomic

    folder = Path(folder)
    check_export_folder(folder)
    frame = load(engine)
    tables = {suite: {metric: suite_board(frame, suite, metric)
                      for metric in EXPORT_METRICS[suite]} for suite in SUITES}
    tables = {suite: shown for suite, shown in tables.items()
              if any(not table.empty for table in shown.values())}
    if not tables:
        raise StickposeError("nothing to export: the store holds no stickman or class results")
    titles = {"score": "Class test score (intended)",
              "score_written": "Class test score as the class's code computed it",
              "flip_score": "Flip-tolerant class score",
              "swap": "Left/right swap rate", "pck": "PCK@0.15 of the bounding-box diagonal"}
    with interrupts_deferred():      # the files of one export belong together
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for suite, shown_by_metric in tables.items():
            table = shown_by_metric["score"]
            sections = []
            for metric, shown in shown_by_metric.items():
                if shown.empty:
                    continue
                sections.append(f"## {titles[metric]} on {SUITE_TITLES[suite]}\n\n"
                                f"{render(shown, metric, 'md')}\n\n"
                                f"{legend(metric, 'reported' in shown)}\n")
            write_atomic(folder / f"{suite}.md", (stamp(command) + "\n".join(sections)).encode())
            write_atomic(folder / f"{suite}.csv",
                         (stamp(command, "csv") + render(table, "score", "csv")).encode())
            written += [folder / f"{suite}.md", folder / f"{suite}.csv"]
            if not comparison(for_suite(frame, suite), "score").empty:
                plot(table, "score", folder / f"{suite}.png")
                written.append(folder / f"{suite}.png")
        if plot_overview(frame, folder / "board.png"):
            written.append(folder / "board.png")
        stickman = for_suite(frame[frame["data"] == "stickman"], "stickman")
        if not comparison(stickman, "score").empty:
            decoders = [f"## {m}\n\n{render(comparison(stickman, m, decoders=True), m, 'md')}\n"
                        for m in ("score", "pck", "mse")]
            write_atomic(folder / "decoders.md", (stamp(command) + "\n".join(decoders)).encode())
            written.append(folder / "decoders.md")
        write_atomic(folder / "results.csv", (stamp(command, "csv")
                                              + frame.to_csv(index=False)).encode())
        written.append(folder / "results.csv")
        removed = [folder / name for name in EXPORT_NAMES
                   if (folder / name).exists() and folder / name not in written]
        for path in removed:                     # an earlier export's, checked to be one above
            path.unlink()
    return written, removed


def _config_problem(row: dict) -> str | None:
    """Why an imported run row cannot be trusted: its config is not a JSON object, does not
    hash to its ``config_hash``, or names another arch or head than the row."""
    try:
        config = json.loads(row["config"])
    except (TypeError, ValueError):
        return "has a config that is not JSON"
    if not isinstance(config, dict):
        return "has a config that is not a JSON object"
    if not hashed_as_recorded(config, row["config_hash"]):
        return "has a config that does not match its config_hash (edited or damaged?)"
    for key in ("arch", "head"):
        if config.get(key) != row[key]:
            return f"says {key} {row[key]!r} but its config says {config.get(key)!r}"
    for key in ("seed", "width", "input_size", "epochs", "steps_per_epoch"):
        if row.get(key) is not None and config.get(key) is not None and \
                float(row[key]) != float(config[key]):
            return f"says {key} {row[key]!r} but its config says {config[key]!r}"
    return None


#: the columns of the store that hold numbers (a results file's other columns are text)
NUMERIC = {c.name for table in (runs, results) for c in table.columns
           if isinstance(c.type, (Integer, Float))}
WHOLE = {c.name for table in (runs, results) for c in table.columns
         if isinstance(c.type, Integer)}
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
#: what identifies a result (a file must not give one twice), and what must not be empty
RESULT_KEY = ["run_id", "set", "decoder", "params", "data_id", "metric"]
REQUIRED = ["run_id", "arch", "head", "data", "config_hash", "config", "set", "decoder",
            "metric"]


#: metrics that are shares (PCK at any threshold, AP/AR, swap rate, AUC, labelled share) and
#: those in percent (the LSP benchmark's); every other metric is a score, distance, time or
#: count, never negative
UNIT_METRICS = re.compile(r"(pck(@.*|_visible|_occluded)?|ap|ap50|ap75|ar|swap|auc|labelled)")
PERCENT_METRICS = re.compile(r"(lsp_pck|lsp_auc|pcp|PCK .*|PCP .*)")
#: run and result columns that count something: whole and positive where given
COUNTS = ("images", "train_images", "parameters", "epochs", "steps_per_epoch", "width",
          "input_size")


def _value_problem(metric: str, value: float) -> str | None:
    """Why a recorded ``value`` of ``metric`` is impossible, or None."""
    slack = 1e-9                  # a share summed in floating point may end at 1.0000000000000002
    if UNIT_METRICS.fullmatch(metric):
        return None if -slack <= value <= 1 + slack else f"{metric} is a share, between 0 and 1"
    if PERCENT_METRICS.fullmatch(metric):
        return (None if -slack <= value <= 100 + slack
                else f"{metric} is in percent, between 0 and 100")
    return None if value >= -slack else f"{metric} (a score, distance, time or count) is >= 0"


def _range_problem(column: str, number: float, record: dict) -> str | None:
    """Why ``number`` in ``column`` of a results record is a value no measurement can have
    (a negative score, distance or time, a share outside [0, 1], a percentage outside
    [0, 100], a count that is not positive, a flag other than 0 or 1), or None."""
    if column == "value":
        return _value_problem(str(record.get("metric")), number)
    if column in COUNTS:
        return None if number >= 1 else "not a positive whole number"
    if column in ("canonical", "reported"):
        return None if number in (0, 1) else "neither 0 nor 1"
    return None if number >= 0 else "negative"


def _refuse(path: Path, where: str, problem: str):
    raise StickposeError(f"cannot import {path}: {where}: {problem}; nothing was imported")


def _check_numbers(path: Path, where: str, record: dict) -> None:
    """Refuse a record of a results file with a numeric column that is not a finite number
    written plainly (whole where the store keeps whole numbers; empty is allowed: not
    measured) or outside what a measurement can be (``_range_problem``), naming the file,
    ``where`` and the column as written: an import must never write NaN or an impossible
    value over a good cell."""
    for column in sorted(NUMERIC & set(record)):
        value = record[column]
        if value is None or value == "":
            continue
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str) and NUMBER.fullmatch(value.strip()):
            number = float(value)
        if number is None or not math.isfinite(number):
            _refuse(path, f"{where}, column {column}", f"{value!r} is not a finite number")
        if column in WHOLE and not number.is_integer():
            _refuse(path, f"{where}, column {column}", f"{value!r} is not a whole number")
        problem = _range_problem(column, number, record)
        if problem:
            _refuse(path, f"{where}, column {column}", f"{value!r} is impossible: {problem}")


def _check_rows(path: Path, frame: pd.DataFrame, where: list[str]) -> None:
    """Refuse a results file whose rows contradict each other or leave out what identifies
    them, naming the lines: an empty key column; an empty value of a measured (not
    reported) result; one result given twice; one run given with different settings."""
    for index, row in enumerate(frame.to_dict(orient="records")):
        for column in REQUIRED:
            if row.get(column) is None or str(row[column]).strip() == "":
                _refuse(path, f"{where[index]}, column {column}", "empty")
        if row.get("value") is None and not row.get("reported"):
            _refuse(path, f"{where[index]}, column value", "empty, but the result is a "
                    "measurement (only the class's reported cells may be empty)")
    keys = frame[RESULT_KEY].astype(str).agg("|".join, axis=1)
    twice = keys[keys.duplicated(keep=False)]
    if len(twice):
        first, second = twice.index[0], twice[twice == twice.iloc[0]].index[1]
        _refuse(path, f"{where[first]} and {where[second]}", "the same result (run, set, "
                "decoder, params, data, metric) given twice")
    columns = [c for c in RUN_COLUMNS if c in frame.columns and c != "recorded_at"]
    for run, rows in frame.groupby("run_id", sort=False):
        varying = [c for c in columns if rows[c].astype(str).nunique() > 1]
        if varying:
            column = varying[0]
            values = rows[column].astype(str)
            other = values[values != values.iloc[0]].index[0]
            _refuse(path, f"{where[rows.index[0]]} and {where[other]}",
                    f"run {run} has two different {column} ({values.iloc[0]!r} and "
                    f"{values[other]!r})")


def _read_results_csv(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """The rows of a ``results.csv`` (``#`` lines are comments; a byte-order mark is
    skipped), each checked: as many fields as the header, numbers where the store keeps
    numbers; and where each row is (``line N``)."""
    at, where = [0], []                        # the file's line number of the row just read

    def lines(file):
        for number, line in enumerate(file, 1):
            if not line.startswith("#"):
                at[0] = number
                yield line

    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.reader(lines(file))
        header = next(reader, None)
        if not header:
            raise ValueError("it is empty")
        rows = []
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise StickposeError(f"cannot import {path}: line {at[0]} has {len(row)} "
                                     f"field(s), the header {len(header)}; nothing was "
                                     "imported")
            _check_numbers(path, f"line {at[0]}", dict(zip(header, row)))
            rows.append(row)
            where.append(f"line {at[0]}")
    frame = pd.DataFrame(rows, columns=header).replace("", None)
    for column in NUMERIC & set(frame.columns):
        frame[column] = pd.to_numeric(frame[column])
    return frame, where


def import_results(engine, path: Path) -> tuple[int, int]:
    """Merge a ``results.csv`` (from ``export``) or the same rows as a JSON list into the
    store; rows already there are replaced, not duplicated, and a column the file lacks
    leaves what the store holds (a file without ``params`` or ``data_id``, part of what
    identifies a result, is refused). Returns (runs, results, how many results are new, how
    many replaced a different value the store held)."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".csv":
            frame, where = _read_results_csv(path)
        elif path.suffix.lower() == ".json":
            records = json.loads(path.read_text(encoding="utf-8-sig"))
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise ValueError("expected a JSON list of result objects")
            records = [{k: (None if v == "" else v) for k, v in r.items()} for r in records]
            for number, record in enumerate(records, 1):
                _check_numbers(path, f"result {number}", record)
            frame = pd.DataFrame(records)
            where = [f"result {number}" for number in range(1, len(records) + 1)]
        else:
            raise StickposeError(f"{path}: expected a .csv or .json file of results")
    except StickposeError:
        raise
    except (OSError, ValueError, csv.Error) as error:
        raise StickposeError(f"cannot read {path}: {error}") from None
    missing = [c for c in [*REQUIRED, "params", "data_id", "value"] if c not in frame.columns]
    if missing:
        raise StickposeError(f"{path} is not a stickpose results file: it lacks the "
                             f"column(s) {', '.join(missing)} (export one with "
                             "`stickpose leaderboard export DIR`: results.csv)")
    frame["params"] = frame["params"].fillna("")
    frame = frame.astype(object).where(frame.notna(), None).reset_index(drop=True)
    _check_rows(path, frame, where)
    # a column the file leaves out is left as the store holds it (a new row: empty)
    run_columns = [c for c in RUN_COLUMNS if c in frame.columns or c == "recorded_at"]
    run_rows = (frame.drop_duplicates("run_id")
                .reindex(columns=run_columns).to_dict(orient="records"))
    for row in run_rows:
        row["recorded_at"] = row["recorded_at"] or date.today().isoformat()
        problem = _config_problem(row)
        if problem:
            raise StickposeError(f"cannot import {path}: run {row['run_id']} {problem}; "
                                 "nothing was imported")
    result_rows = (frame.reindex(columns=[c for c in ["run_id", *RESULT_COLUMNS, "recorded_at"]
                                          if c in frame.columns or c == "recorded_at"])
                   .to_dict(orient="records"))
    try:
        with engine.begin() as connection:
            before = _values(connection, {row["run_id"] for row in run_rows})
            _upsert(connection, runs, run_rows)
            _upsert(connection, results, result_rows)
    except (SQLAlchemyError, TypeError, ValueError) as error:   # a value of the wrong type
        raise StoreError(f"cannot import {path}: {str(error).splitlines()[0]}") from None
    keys = [tuple(str(row[k]) for k in RESULT_KEY) for row in result_rows]
    new = sum(1 for key in keys if key not in before)
    changed = sum(1 for key, row in zip(keys, result_rows)
                  if key in before and before[key] != row["value"])
    return len(run_rows), len(result_rows), new, changed


def _values(connection, run_ids: set[str]) -> dict[tuple, float | None]:
    """The values the store holds for the results of runs ``run_ids``, by result key."""
    found = {}
    rows = connection.execute(select(*[results.c[k] for k in RESULT_KEY], results.c.value))
    for row in rows:
        if row[0] in run_ids:
            found[tuple(str(v) for v in row[:-1])] = row[-1]
    return found
