"""Precision against compute: the runs of one architecture x head on one suite that differ
in their setup (budget, input size, width) as points of score against training CPU hours,
and ``stickpose leaderboard scaling``'s export of them (tables, a figure, the results)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import StickposeError
from ..models.registry import display_name
from .board import (FLOOR, HEAD_OUTPUTS, LOWER_IS_BETTER, METRIC_NAMES, SETS, SUITES,
                    SUITE_TITLES, _setup, _thousands, check_export_folder, floor, for_suite,
                    load, stamp)
from .reference import REFERENCE_ARCH

#: what the precision is measured by, in the order tables and panels show them
SCALING_METRICS = ("score", "flip_score", "pck")
TESTS = SETS[:4]
#: what a run's budget changes in its config (a sweep's entries stop early never), and what
#: makes runs seeds of one point: the settings a curve leaves out
BUDGET_SETTINGS = ("epochs", "patience", "minutes", "seed", "class_dir")
#: the files of a study; its results beside a board export's results.csv, never in its place
NAMES = ("scaling.md", "scaling.csv", "scaling.png", "scaling-results.csv")
RESULTS = NAMES[-1]
KEYS = ["suite", "arch", "head", "data", "curve"]


def _measured(frame: pd.DataFrame, suite: str) -> pd.DataFrame:
    """One suite's canonical head outputs of trained runs on test1-test4, in the metrics
    a scaling table shows, each with its curve."""
    rows = for_suite(frame, suite)
    rows = rows[(rows["reported"].fillna(0) == 0) & (rows["arch"] != REFERENCE_ARCH)
                & rows["decoder"].isin(HEAD_OUTPUTS) & rows["set"].isin(TESTS)
                & rows["metric"].isin(SCALING_METRICS)]
    curve = rows["config"].map(lambda config: _setup(config, BUDGET_SETTINGS))
    return rows.assign(suite=suite, curve=curve)


def _points(frame: pd.DataFrame) -> pd.DataFrame:
    """``_measured`` of every suite, each with its ``setup`` (its curve and budget), of the
    architecture x head (x training data) that a suite has in more than one setup."""
    parts = [_measured(frame, suite) for suite in SUITES]
    rows = pd.concat([p for p in parts if not p.empty] or [pd.DataFrame(columns=KEYS)],
                     ignore_index=True)
    if rows.empty:
        return rows.assign(setup=None)
    rows = rows.assign(setup=rows["curve"] + rows["train_images"].astype(str))
    several = rows.groupby(["suite", "arch", "head", "data"])["setup"].transform("nunique") > 1
    return rows[several]


def scaling(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per suite, architecture x head (x what it trained on), setup and metric, for
    every architecture x head measured on a suite with more than one setup (two budgets, or
    two input sizes): ``input_size``, ``width``, ``budget`` (training images), ``runs``
    (seeds), ``cpu_hours`` (the budget at the curve's cost per image: the lowest training
    CPU seconds per image among its runs, since sharing the CPU only ever adds to a
    process's CPU time), ``cpu_hours_measured`` (the mean over the point's runs of what
    each recorded, on its own hardware), ``test1``-``test4`` (means over the runs) and
    ``mean`` (over the four sets). Rows of a curve (every setting but the budget and seed
    alike) are in budget order."""
    columns = [*KEYS, "input_size", "width", "budget", "runs", "cpu_hours",
               "cpu_hours_measured", "metric", *TESTS, "mean"]
    rows = _points(frame)
    if rows.empty:
        return pd.DataFrame(columns=columns)
    points = [*KEYS, "setup"]
    each = rows.drop_duplicates("run_id")
    per_run = each.groupby(points)
    setups = pd.DataFrame({"input_size": per_run["input_size"].first(),
                           "width": per_run["width"].first(),
                           "budget": per_run["train_images"].max(),
                           "runs": per_run["run_id"].nunique(),
                           "cpu_hours_measured": per_run["cpu_seconds"].mean() / 3600})
    cost = (each["cpu_seconds"] / each["train_images"]).groupby(
        [each[k] for k in KEYS]).min().rename("cost")
    setups = setups.join(cost, on=KEYS)
    setups["cpu_hours"] = setups["budget"] * setups.pop("cost") / 3600
    values = rows.pivot_table(index=[*points, "metric"], columns="set", values="value",
                              aggfunc="mean").reindex(columns=list(TESTS))
    values["mean"] = values[list(TESTS)].mean(axis=1, skipna=False)
    table = values.reset_index().join(setups, on=points)
    order = {metric: k for k, metric in enumerate(SCALING_METRICS)}
    table = table.sort_values(["metric", "suite", "arch", "head", "data", "input_size",
                               "width", "budget"],
                              key=lambda c: c.map(order) if c.name == "metric" else c,
                              kind="stable")
    return table[columns].reset_index(drop=True)


def _label(row) -> str:
    """A curve's name in a legend: its arch, head, input size and width."""
    return (f"{display_name(row['arch'])} {display_name(row['head'])}, "
            f"{row['input_size']:.0f} px, width {row['width']:.0f}")


def render(table: pd.DataFrame, metric: str) -> str:
    """One metric's rows as Markdown: a row per point, curves together in budget order."""
    rows = table[table["metric"] == metric]
    shown = pd.DataFrame({
        "suite": rows["suite"], "arch": rows["arch"].map(display_name),
        "head": rows["head"].map(display_name), "setup": rows["curve"],
        "input": rows["input_size"].map("{:.0f}".format),
        "width": rows["width"].map("{:.0f}".format),
        "images": rows["budget"].map(lambda v: "?" if pd.isna(v) else _thousands(v)),
        "CPU h": rows["cpu_hours"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}"),
        "runs": rows["runs"].map("{:.0f}".format)})
    for column in (*TESTS, "mean"):
        shown[column] = rows[column].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    words = ("suite", "arch", "head", "setup")                # left; numbers right
    return shown.to_markdown(index=False, disable_numparse=True,
                             colalign=["left" if c in words else "right" for c in shown])


def plot(table: pd.DataFrame, floors: dict[str, float], path: Path) -> None:
    """A row of panels per suite, one per metric: the mean over test1-test4 against training
    CPU hours (log scale), a line per curve with each point's budget beside it; on the
    score panels the suite's floor (``floors``: suite -> the mean of its label + drawing
    floor), where measured. Written atomically as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator

    from ..files import write_atomic
    from ..viz import figure_png

    hours = FuncFormatter(lambda value, _: f"{value:g}")
    suites = list(dict.fromkeys(table["suite"]))
    figure, axes = plt.subplots(len(suites), len(SCALING_METRICS), squeeze=False,
                                figsize=(4.4 * len(SCALING_METRICS), 3.6 * len(suites)))
    for row_axes, suite in zip(axes, suites):
        for axis, metric in zip(row_axes, SCALING_METRICS):
            rows = table[(table["suite"] == suite) & (table["metric"] == metric)]
            curves = list(rows.groupby(["arch", "head", "data", "curve"], sort=True))
            labels = [_label(curve.iloc[0]) for _, curve in curves]
            for (key, curve), label in zip(curves, labels):
                curve = curve.sort_values("budget")
                if labels.count(label) > 1:               # alike but for other settings
                    label += f", setup {key[-1]}"
                line, = axis.plot(curve["cpu_hours"], curve["mean"], marker="o", label=label)
                for _, point in curve.iterrows():
                    axis.annotate(_thousands(point["budget"]),
                                  (point["cpu_hours"], point["mean"]), fontsize=7,
                                  textcoords="offset points", xytext=(4, 4),
                                  color=line.get_color())
            if metric == "score" and suite in floors:
                axis.axhline(floors[suite], color="grey", linestyle="--", linewidth=1,
                             label=FLOOR)
            axis.set_xscale("log")
            axis.margins(x=0.15, y=0.1)                 # room for the budgets' labels
            axis.xaxis.set_major_formatter(hours)
            axis.xaxis.set_minor_locator(LogLocator(subs=(2, 5)))
            axis.xaxis.set_minor_formatter(hours)
            axis.tick_params(axis="x", which="both", labelsize=7)
            axis.set_xlabel("training CPU hours (log)")
            axis.set_ylabel(f"{METRIC_NAMES[metric]}, mean of test1-4"
                            + (" (lower is better)" if LOWER_IS_BETTER[metric] else ""),
                            fontsize=8)
            axis.set_title(f"{suite}: {METRIC_NAMES[metric]}", fontsize=9)
            if len(rows):
                axis.legend(fontsize=6)
    figure.tight_layout()
    write_atomic(Path(path), figure_png(figure, 110))


LEGEND = ("Each row is one setup of an architecture x head on a suite (its recipe, input size "
          "and width), trained on `images` training images with its own cosine schedule "
          "ending there; `setup`: what the rows of one curve share (every setting but the "
          "budget and the seed, hashed); `CPU h`: its training images at its curve's cost "
          "per image, the lowest training CPU time per image (process time, every core "
          "counted, evaluation not included) among the curve's runs: a run that shared the "
          "CPU with others records more CPU time for the same work, so the least disturbed "
          "run is the closest to the cost; each run's own figure is `cpu_hours_measured` in "
          "`scaling.csv`, its hardware in `scaling-results.csv`; `runs`: seeds averaged; "
          "`mean`: of test1-test4. An architecture x head is shown where a suite has it in "
          "more than one setup.")


def export(engine, folder: Path, command: str) -> list[Path]:
    """``scaling.md`` (a table per metric, the class suite's floor under its score),
    ``scaling.csv`` (every row of ``scaling``), ``scaling.png`` (``plot``) and
    ``scaling-results.csv`` (the runs shown and their suites' reference rows, importable:
    the same study again) in ``folder``, each written atomically and stamped with
    ``command``; an interrupt waits until all four are written."""
    from ..files import interrupts_deferred, write_atomic

    folder = Path(folder)
    check_export_folder(folder, NAMES, RESULTS, "scaling")
    frame = load(engine)
    table = scaling(frame)
    if table.empty:
        raise StickposeError("nothing to show: no architecture x head has been measured in "
                             "more than one setup (budget, input size) on one suite; "
                             "`stickpose leaderboard run --budget 50k ...` adds a point")
    suites = list(dict.fromkeys(table["suite"]))
    floors = {s: floor(frame, s) for s in suites}
    floors = {s: v for s, v in floors.items() if v is not None}
    sections = []
    for metric in SCALING_METRICS:
        text = f"## {METRIC_NAMES[metric]}\n\n{render(table, metric)}\n"
        if metric == "score" and floors:
            text += "\n" + "; ".join(f"{FLOOR} on {s}: {v:.3f} (mean of test1-4)"
                                     for s, v in floors.items()) + ".\n"
        sections.append(text)
    titles = "; ".join(f"{s}: {SUITE_TITLES[s]}" for s in suites)
    body = f"Suites: {titles}.\n\n{LEGEND}\n\n" + "\n".join(sections)
    shown = set(_points(frame)["run_id"])
    kept = frame[frame["run_id"].isin(shown) | ((frame["arch"] == REFERENCE_ARCH)
                                                & frame["set"].map(_suite_of).isin(suites))]
    whole = ["input_size", "width", "budget", "runs"]
    with interrupts_deferred():                   # the four files belong together
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / "scaling.md", (stamp(command) + body).encode())
        write_atomic(folder / "scaling.csv", (stamp(command, "csv") + table.astype(
            {c: "Int64" for c in whole}).to_csv(index=False)).encode())
        plot(table, floors, folder / "scaling.png")
        write_atomic(folder / RESULTS, (stamp(command, "csv")
                                        + kept.to_csv(index=False)).encode())
    return [folder / name for name in NAMES]


def _suite_of(name: str) -> str:
    return name.split("/")[0] if "/" in name else "stickman"
