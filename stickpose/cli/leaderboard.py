"""``stickpose leaderboard``: the comparison table and its store."""
from __future__ import annotations

from pathlib import Path

import click

from ..leaderboard.recipe import SWEEP_SETTINGS
from ..models.registry import ARCH_MODULES as ARCH_NAMES, HEAD_NAMES
from .common import (DB_OPTION, check_input_size, INPUT_SIZE, INPUT_SIZE_HELP, POSITIVE, OutputPath,
                     open_results_store, parse_names, progress_bars, store_url, user_errors)


def _duration(text: str) -> float:
    """``5m``, ``90s``, ``1.5h`` or plain minutes -> minutes."""
    units = {"s": 1 / 60, "m": 1.0, "h": 60.0}
    try:
        minutes = (float(text[:-1]) * units[text[-1]] if text and text[-1] in units
                   else float(text))
        if not minutes > 0:
            raise ValueError
        return minutes
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a positive duration like 5m, 90s or "
                                 "1.5h", param_hint="--budget") from None


def _board_options(command):
    for option in reversed([
            click.option("--metric", default="score", show_default=True,
                         help="score (class test score), pck (PCK@0.15), mse or mpjpe."),
            click.option("--arch", help=f"Only this architecture: {', '.join(ARCH_NAMES)}."),
            click.option("--head", help=f"Only this head: {', '.join(HEAD_NAMES)}."),
            click.option("--data", help="Only runs trained on stickman, class, lsp or the "
                         "suite file NAME.toml of your own (its NAME)."),
            click.option("--suite", type=click.Choice(["stickman", "class"]),
                         help="Whose test1-test4: stickpose's stickman suite or the class's "
                              "own benchmark [stickman; the bare command prints both]."),
            click.option("--decoders", "by_decoder", is_flag=True,
                         help="A row per decoder recorded by `stickpose evaluate`."),
            DB_OPTION]):
        command = option(command)
    return command


def _comparison(metric, arch, head, data, by_decoder, suite="stickman"):
    from ..leaderboard.board import check_data, comparison, for_suite, load

    frame = load(open_results_store(create=False))
    check_data(frame, data)
    return comparison(for_suite(frame, suite), metric, arch, head, data, by_decoder,
                      by_data=suite != "stickman")


@click.group(invoke_without_command=True)
@_board_options
@click.option("--format", "fmt", default="table", show_default=True,
              help="table, md, csv, html or json.")
@click.option("--where", is_flag=True, help="Print where the results store is, and stop.")
@click.pass_context
@user_errors
def leaderboard(ctx, metric, arch, head, data, by_decoder, suite, fmt, where):
    """The comparison table of every recorded run: architecture x head rows, test sets as
    columns (mean over the recorded runs), the best of each column marked. Every
    `stickpose train` and `stickpose evaluate` records into the store.

    \b
    stickpose leaderboard --metric pck --format md
    stickpose leaderboard run --budget 5m        train and record the whole sweep
    stickpose leaderboard plot --out board.png
    stickpose leaderboard export leaderboards/
    stickpose leaderboard import results.csv
    """
    from ..leaderboard.board import render
    from ..leaderboard.store import where as store_where

    if where:
        click.echo(store_where(store_url()))
        return
    if ctx.invoked_subcommand is not None:
        return
    tables = {name: _comparison(metric, arch, head, data, by_decoder, name)
              for name in ([suite] if suite else ["stickman", "class"])}
    if suite is None:
        tables = {name: table for name, table in tables.items() if not table.empty} or tables
    if all(table.empty for table in tables.values()):
        click.echo("no recorded results match these filters" if arch or head or data else
                   "no results recorded yet: `stickpose train` or `stickpose leaderboard run` "
                   "adds some")
        return
    better = "lower" if metric not in ("pck",) else "higher"
    for name, table in tables.items():
        if len(tables) > 1 and fmt in ("table", "md"):
            title = {"stickman": "stickpose's stickman suite",
                     "class": "the class's own benchmark (its MPII test poses, drawing and "
                              "person-centric labels; data = what the model trained on)"}[name]
            click.echo(f"{'## ' if fmt == 'md' else ''}{metric} on {title}, {better} is better"
                       + ("\n" if fmt == "md" else ""))
        click.echo(render(table, metric, fmt))
        if len(tables) > 1:
            click.echo()


@leaderboard.command("run")
@click.option("--archs", default="all", show_default=True, help="Comma-separated or all.")
@click.option("--heads", default="all", show_default=True, help="Comma-separated or all.")
@click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds.")
@click.option("--budget", default="5m", show_default=True,
              help="Training time per entry (5m, 90s, 1.5h).")
@click.option("--input-size", type=INPUT_SIZE, default=SWEEP_SETTINGS["input_size"],
              show_default=True, help=INPUT_SIZE_HELP)
@click.option("--width", type=POSITIVE, default=SWEEP_SETTINGS["width"], show_default=True,
              help="Base channels, for every entry.")
@click.option("--steps", "steps_per_epoch", type=POSITIVE,
              default=SWEEP_SETTINGS["steps_per_epoch"], show_default=True,
              help="Training steps per epoch.")
@click.option("--test-count", type=POSITIVE, default=1000, show_default=True,
              help="Images of each test set in the final evaluation (the suite's 1,000 are "
                   "the canonical leaderboard data).")
@click.option("--out", type=OutputPath("folder"), default=Path("runs") / "sweep",
              show_default=True, help="Folder of the sweep's run directories.")
@DB_OPTION
@user_errors
def leaderboard_run(archs, heads, seeds, budget, out, **settings):
    """Train every architecture x head under the same budget (input 64, width 16, constant
    learning rate), evaluate and record each. Run it again after an interruption: finished
    entries are skipped, a killed one resumes (its training time so far counts against its
    budget)."""
    from ..leaderboard.sweep import run_sweep, sweep_configs

    try:
        seed_list = [int(s) for s in seeds.split(",")]
        if not all(0 <= s < 2**32 for s in seed_list):
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"{seeds!r} is not a list of seeds (integers 0 to 2^32 - 1)",
                                 param_hint="--seeds") from None
    archs = parse_names(archs, tuple(ARCH_NAMES), "--archs")
    check_input_size(settings["input_size"], archs)
    configs = sweep_configs(archs, parse_names(heads, tuple(HEAD_NAMES), "--heads"), seed_list,
                            _duration(budget), **settings)
    engine = open_results_store()                  # a bad --db fails before any training
    with progress_bars() as bar:
        step = bar("sweep", len(configs))
        ids = run_sweep(configs, out, engine, progress=lambda name: step(1))
    click.echo(f"{len(ids)} entries recorded in {out}")


@leaderboard.command("plot")
@_board_options
@click.option("--out", type=OutputPath("file", ".png"), required=True, help="PNG file.")
@user_errors
def leaderboard_plot(metric, arch, head, data, by_decoder, suite, out):
    """Grouped bar charts of the comparison table, one panel per test set; with --decoders,
    PCK-vs-threshold curves, a line per decoder."""
    from ..leaderboard.board import load, plot, plot_curves

    if by_decoder:
        from ..leaderboard.board import for_suite
        frame = for_suite(load(open_results_store(create=False)), suite or "stickman")
        plot_curves(frame, out, arch, head)
    else:
        plot(_comparison(metric, arch, head, data, by_decoder, suite or "stickman"),
             metric, out)
    click.echo(f"plot -> {out}")


@leaderboard.command("export")
@click.argument("folder", type=OutputPath("folder"))
@DB_OPTION
@user_errors
def leaderboard_export(folder):
    """Write stickman.md/.csv/.png, decoders.md and results.csv (importable) to FOLDER,
    each stamped with the command, version and date."""
    import sys

    from ..leaderboard.board import export

    command = "stickpose " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["leaderboard"] \
        else f"stickpose leaderboard export {folder}"
    for path in export(open_results_store(create=False), folder, command):
        click.echo(f"-> {path}")


@leaderboard.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@DB_OPTION
@user_errors
def leaderboard_import(file):
    """Merge results from elsewhere (a results.csv from `export`, or its rows as JSON);
    entries already in the store are replaced, never duplicated."""
    from ..leaderboard.board import import_results

    run_count, result_count = import_results(open_results_store(), file)
    click.echo(f"merged {run_count} runs, {result_count} results from {file}")
