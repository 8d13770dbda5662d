"""``stickpose leaderboard``: the comparison table and its store."""
from __future__ import annotations

from pathlib import Path

import click

#: the suites with a board (``leaderboard.board.SUITES``, kept here so that `--help` imports
#: no pandas; a test checks they agree)
BOARD_SUITES = ("stickman", "class", "class-2022", "class-poses")

from .common import (CLASS_DIR_OPTION, DB_OPTION, INPUT_SIZE, INPUT_SIZE_HELP, POSITIVE,
                     OutputPath, check_input_size, open_results_store, parse_names,
                     progress_bars, store_url, user_errors)


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
                                 "1.5h", param_hint="--time-limit") from None


def _not_nan(value: float, option: str) -> float:
    if value != value:
        raise click.BadParameter("nan is not a number of seconds", param_hint=option)
    return value


def _images(text: str) -> int:
    from ..errors import StickposeError
    from ..leaderboard.recipe import parse_images

    try:
        return parse_images(text, "")
    except StickposeError as error:
        raise click.BadParameter(str(error).strip(), param_hint="--budget") from None


def _board_options(command):
    for option in reversed([
            click.option("--metric", default="score", show_default=True,
                         help="score (class test score), flip_score, swap, pck (PCK@0.15), "
                         "mse, mpjpe, or COCO's OKS ap, ap50, ap75, ar (higher is better)."),
            click.option("--arch", help="Only this architecture: any recorded one, by name "
                         "(resnet, tiny_net) or as recorded (my_nets:tiny_net)."),
            click.option("--head", help="Only this head: any recorded one."),
            click.option("--data", help="Only runs trained on stickman, class, lsp or the "
                         "suite file NAME.toml of your own (its NAME)."),
            click.option("--suite", type=click.Choice(BOARD_SUITES),
                         help="Whose test1-test4: stickpose's stickman suite, the class's "
                              "own benchmark (class: its 2021 drawing; class-2022: its code "
                              "today) or the class's poses drawn by stickpose (class-poses) "
                              "[the bare command prints every suite with results]."),
            click.option("--decoders", "by_decoder", is_flag=True,
                         help="A row per decoder recorded by `stickpose evaluate`."),
            DB_OPTION]):
        command = option(command)
    return command


def _results(say=None):
    """Every result of the store; where it holds none, the published board stickpose ships
    (``say`` is told so, and how a user's own runs join it)."""
    from ..leaderboard.board import load, load_published
    from ..leaderboard.store import where
    from ..shipped import published_results

    engine = open_results_store(create=False)
    frame = load(engine)
    published = published_results()
    if frame.empty and published is not None:
        if say:
            say(f"Your results store ({where(str(engine.url))}) holds no results yet: this "
                f"is stickpose's published board ({published}). `stickpose train`, "
                "`evaluate` and `leaderboard run` record your own runs into your store; "
                f"`stickpose leaderboard import {published}` shows the published ones "
                "beside them.\n")
        return load_published(published)
    return frame


def _board(metric, arch, head, data, by_decoder, suite="stickman", frame=None):
    from ..leaderboard.board import check_data, check_recorded, suite_board

    frame = _results() if frame is None else frame
    check_data(frame, data)
    check_recorded(frame, arch, "arch")
    check_recorded(frame, head, "head")
    return suite_board(frame, suite, metric, arch, head, data, by_decoder)


def _one_document(tables: dict, metric: str, fmt: str) -> str:
    """Several suites' boards as one machine-readable document: CSV with a ``suite``
    column first (the columns of every board), JSON an object keyed by suite."""
    import io
    import json

    import pandas as pd

    from ..leaderboard.board import render

    if fmt == "json":
        return json.dumps({name: json.loads(render(table, metric, "json"))
                           for name, table in tables.items()}, indent=2)
    frames = [pd.read_csv(io.StringIO(render(table, metric, "csv"))).assign(suite=name)
              for name, table in tables.items() if not table.empty]
    joined = pd.concat(frames, ignore_index=True)
    return joined[["suite", *[c for c in joined.columns if c != "suite"]]].to_csv(
        index=False).rstrip("\n")


@click.group(invoke_without_command=True)
@_board_options
@click.option("--format", "fmt", default="table", show_default=True,
              help="table, md, csv, html or json.")
@click.option("--where", is_flag=True, help="Print where the results store is, and stop.")
@click.pass_context
@user_errors
def leaderboard(ctx, metric, arch, head, data, by_decoder, suite, fmt, where):
    """The comparison table of every recorded run: a row per architecture x head x training
    setup, test sets as columns (mean ± std over seeds), first place and the cells tied
    with it marked, with parameters, MFLOPs, the budget and the time to the class's best
    score. Every `stickpose train` and `stickpose evaluate` records into the store.

    \b
    stickpose leaderboard --metric pck --format md
    stickpose leaderboard run --budget 200k      train and record the whole sweep
    stickpose leaderboard status                 the sweep's queue: done, running, ...
    stickpose leaderboard reference              add the class's published table
    stickpose leaderboard plot --out board.png
    stickpose leaderboard export leaderboards/
    stickpose leaderboard import results.csv
    """
    from ..leaderboard.board import SUITE_TITLES, legend, render
    from ..leaderboard.store import where as store_where

    if where:
        click.echo(store_where(store_url()))
        return
    if ctx.invoked_subcommand is not None:
        return
    frame = _results(lambda text: click.echo(text, err=fmt not in ("table", "md")))
    tables = {name: _board(metric, arch, head, data, by_decoder, name, frame)
              for name in ([suite] if suite else BOARD_SUITES)}
    if suite is None:
        tables = {name: table for name, table in tables.items() if not table.empty} or tables
    if all(table.empty for table in tables.values()):
        click.echo("no recorded results match these filters" if arch or head or data else
                   f"no results with {metric} recorded yet: `stickpose train`, `stickpose "
                   "evaluate RUN` or `stickpose leaderboard run` adds some" + (
                       " (runs recorded before stickpose measured AP have none: evaluate "
                       "them again)" if metric.startswith("a") else ""))
        return
    if len(tables) > 1 and fmt in ("csv", "json"):            # one document, not two
        click.echo(_one_document(tables, metric, fmt))
        return
    for name, table in tables.items():
        if len(tables) > 1 and fmt in ("table", "md"):
            click.echo(f"{'## ' if fmt == 'md' else ''}{metric} on {SUITE_TITLES[name]}"
                       + ("\n" if fmt == "md" else ""))
        click.echo(render(table, metric, fmt))
        if fmt in ("table", "md"):
            click.echo(("\n" if fmt == "md" else "") + legend(metric, "reported" in table))
        if len(tables) > 1:
            click.echo()


@leaderboard.command("run")
@click.option("--archs", default="all", show_default=True,
              help="Comma-separated names, your own MODULE:NAME / FILE.py:NAME among them, "
                   "or all (every registered one).")
@click.option("--heads", default="all", show_default=True,
              help="Comma-separated names (yours as MODULE:NAME too), or all.")
@click.option("--seeds", default="0,1,2", show_default=True,
              help="Comma-separated seeds: each arch x head is trained once per seed.")
@click.option("--budget", default="200k", show_default=True,
              help="Training images per entry (200k, 1.5M, 96000); the cosine schedule ends "
                   "there. Rounded up to whole epochs of the recipe's steps x batch.")
@click.option("--recipes", default="recipes", show_default=True,
              help="Recipe file (.toml) giving each arch x head its width, learning rate, "
                   "sigma, ...; the default is generators/recipes.toml.")
@click.option("--suite", type=click.Choice(["stickman", "class"]), default="stickman",
              show_default=True, help="Whose training stream, validation and test sets: "
                                      "stickpose's or the class's (needs --class-dir).")
@CLASS_DIR_OPTION
@click.option("--time-limit", help="Also stop an entry after this much training time (5m, "
                                   "90s, 1.5h) [none: the budget alone decides, so the "
                                   "results do not depend on the machine].")
@click.option("--input-size", type=INPUT_SIZE, help=INPUT_SIZE_HELP + " Overrides the recipes.")
@click.option("--width", type=POSITIVE, help="Base channels for every entry (overrides the "
                                             "recipes).")
@click.option("--steps", "steps_per_epoch", type=POSITIVE,
              help="Training steps per epoch (overrides the recipes).")
@click.option("--test-count", type=POSITIVE, default=1000, show_default=True,
              help="Images of each test set in the final evaluation (the suite's 1,000 are "
                   "the canonical leaderboard data).")
@click.option("--out", type=OutputPath("folder"), default=Path("runs") / "sweep",
              show_default=True, help="Folder of the sweep's run directories.")
@click.option("--stale-after", type=click.FloatRange(min=1, max=86400 * 365), default=120,
              show_default=True, callback=lambda c, p, v: _not_nan(v, "--stale-after"),
              help="Seconds without a heartbeat (renewed every stale-after / 4 s, at most "
                   "10 s) after which another worker takes over a running entry.")
@click.option("--retry-failed", is_flag=True,
              help="Queue the entries that failed before again (they are skipped otherwise).")
@DB_OPTION
@user_errors
def leaderboard_run(archs, heads, seeds, budget, recipes, suite, class_dir, time_limit, out,
                    stale_after, retry_failed, **settings):
    """Train every architecture x head x seed on the same budget of training images, each
    with its recipe, then evaluate on the suite's test1-test4 and record. Entries go seed by
    seed, so an unfinished sweep has every combination at its first seed.

    Several workers share one sweep: run the same command on several machines (or several
    times on one) with the same --db, e.g. a PostgreSQL server; each worker (HOST:PID)
    claims the next waiting entry, trains and records it, and takes the next. An entry whose
    worker died is taken over after --stale-after seconds and resumes in its run directory
    if this worker can reach it, else starts again in --out. `stickpose leaderboard status`
    shows the queue. Run it again after an interruption: finished entries are skipped, a
    killed one resumes from its last finished epoch."""
    from ..leaderboard.recipe import load_recipes
    from ..leaderboard.sweep import run_sweep, sweep_configs

    try:
        seed_list = [int(s) for s in seeds.split(",")]
        if not all(0 <= s < 2**32 for s in seed_list):
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"{seeds!r} is not a list of seeds (integers 0 to 2^32 - 1)",
                                 param_hint="--seeds") from None
    images = _images(budget)
    minutes = _duration(time_limit) if time_limit is not None else None
    from ..models.registry import ARCHS, HEADS, absolute_spec

    archs = [absolute_spec(a) for a in parse_names(archs, tuple(ARCHS.names()), "--archs",
                                                   plugins=True)]
    heads = [absolute_spec(h) for h in parse_names(heads, tuple(HEADS.names()), "--heads",
                                                   plugins=True)]
    for head in heads:
        HEADS.get(head)
    overrides = {k: v for k, v in settings.items() if v is not None}
    if class_dir is not None and suite == "stickman":
        raise click.UsageError("--class-dir goes with --suite class (the stickman suite reads "
                               "none of the class's files)")
    if suite != "stickman":
        overrides.update(suite=suite, class_dir=str(class_dir) if class_dir else None)
    recipe_file = load_recipes(recipes)
    configs = sweep_configs(archs, heads, seed_list, images, recipe_file, minutes,
                            **overrides)
    for config in configs:
        check_input_size(config.input_size, [config.arch], None if "input_size" in overrides
                         else f"{config.recipe} ({recipe_file.path})")
    if suite != "stickman":                        # the class files, before any training
        from ..runs import load_run_suite
        load_run_suite(configs[0])
    engine = open_results_store()                  # a bad --db fails before any training
    with progress_bars() as bar:
        step = bar("sweep entries trained here", len(configs))
        ids = run_sweep(configs, out, engine, progress=lambda name: step(1),
                        stale_after=stale_after, retry_failed=retry_failed,
                        say=lambda text: click.echo("\n" + text, err=True))
    click.echo(f"{len(ids)} entries done and recorded")


@leaderboard.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="table for people; csv or json (one object per entry) "
                                      "for other tools.")
@DB_OPTION
@user_errors
def leaderboard_status(fmt):
    """The shared sweep's queue in the results store: every entry `leaderboard run` was
    given, done, running (on which worker, since when, seconds since its last heartbeat),
    waiting or failed (with the one-line reason). Times are the database server's, in UTC."""
    from ..leaderboard.sweep import status_report, sweep_status

    line, table = status_report(sweep_status(open_results_store(create=False)))
    if fmt == "csv":
        click.echo(table.to_csv(index=False), nl=False)
    elif fmt == "json":
        click.echo(table.to_json(orient="records", indent=1))
    elif table.empty:
        click.echo("no sweep entries yet: `stickpose leaderboard run` queues them")
    else:
        text = table.astype(object).where(table.notna(), "").to_string(index=False)
        click.echo(line + "\n\n" + "\n".join(row.rstrip() for row in text.splitlines()))


@leaderboard.command("reference")
@click.option("--suite", "suites", multiple=True,
              help="Also measure the stand-ins (perfect keypoints, the mean training pose, "
                   "all zeros) on this suite's test1-test4 (all images: a few minutes), and "
                   "on the class's suite the floors (label, drawing, both); repeatable "
                   "[none: the published table alone].")
@CLASS_DIR_OPTION
@click.option("--test-count", type=POSITIVE,
              help="Images of each test set [all: the leaderboard's data].")
@DB_OPTION
@user_errors
def leaderboard_reference(suites, class_dir, test_count):
    """Record the rows that no trained model made. The class's published table (seed 001:
    12 arch x head cells on the class's test1-test4, three left empty) as reported, never
    re-run: it was computed by the class's evaluation code as written, so it stands under
    that protocol (score_written). And, measured here, the stand-ins of each suite and the
    floors of the class's benchmark (arch `reference`), under every metric. Again:
    replaced, not duplicated."""
    from ..data.suites import load_suite
    from ..leaderboard.reference import record_class_table, record_measured
    from ..runs import test_names

    if class_dir and not any(name.startswith("class") for name in suites):
        raise click.UsageError("--class-dir is read for --suite class (or class-2022); give "
                               "that suite too")
    chosen = [load_suite(name, class_dir if name.startswith("class") else None)
              for name in suites]                     # every suite checked before any work
    engine = open_results_store()
    cells = record_class_table(engine)
    click.echo(f"recorded the class's published table ({cells} cells) as reference rows")
    for suite in chosen:
        names = test_names(suite)
        with progress_bars() as bar:
            step = bar(f"stand-ins on {suite.name}", len(names))
            recorded = record_measured(engine, suite, names, test_count,
                                       progress=lambda label: step(1))
        click.echo(f"measured on {suite.name} {', '.join(names)}: {', '.join(recorded)}")


@leaderboard.command("plot")
@_board_options
@click.option("--out", type=OutputPath("file", ".png"), required=True, help="PNG file.")
@user_errors
def leaderboard_plot(metric, arch, head, data, by_decoder, suite, out):
    """Grouped bar charts of the comparison table, one panel per test set, error bars of
    one standard deviation over seeds; with --decoders, PCK-vs-threshold curves, a line per
    decoder."""
    from ..leaderboard.board import load, plot, plot_curves

    if by_decoder:
        from ..leaderboard.board import for_suite
        frame = for_suite(load(open_results_store(create=False)), suite or "stickman")
        plot_curves(frame, out, arch, head)
    else:
        frame = _results(lambda text: click.echo(text, err=True))
        plot(_board(metric, arch, head, data, by_decoder, suite or "stickman", frame), metric,
             out)
    click.echo(f"plot -> {out}")


@leaderboard.command("export")
@click.argument("folder", type=OutputPath("folder"))
@DB_OPTION
@user_errors
def leaderboard_export(folder):
    """Write, per suite with results, SUITE.md (tables and legend), SUITE.csv and SUITE.png,
    then decoders.md and results.csv (everything, importable) to FOLDER, each stamped with
    the command, version and date."""
    import shlex
    import sys

    from ..leaderboard.board import export

    command = "stickpose " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["leaderboard"] \
        else f"stickpose leaderboard export {shlex.quote(str(folder))}"
    written, removed = export(open_results_store(create=False), folder, command)
    for path in written:
        click.echo(f"-> {path}")
    for path in removed:
        click.echo(f"removed {path}: an earlier export's, of results this store does not hold "
                   "(a folder holds one export)")


@leaderboard.command("scaling")
@click.argument("folder", type=OutputPath("folder"))
@DB_OPTION
@user_errors
def leaderboard_scaling(folder):
    """Precision against compute: for every architecture x head the store holds in more than
    one setup on a suite (budgets of `leaderboard run --budget`, input sizes), write
    scaling.md (intended score, flip-tolerant score and PCK@0.15 per setup, with its
    training CPU hours), scaling.csv, scaling.png (each metric against CPU hours, a line
    per curve: setups alike but for their budget) and scaling-results.csv (those runs,
    importable) to FOLDER."""
    import shlex
    import sys

    from ..leaderboard.scaling import export

    command = "stickpose " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["leaderboard"] \
        else f"stickpose leaderboard scaling {shlex.quote(str(folder))}"
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

    run_count, result_count, new, changed = import_results(open_results_store(), file)
    click.echo(f"merged {run_count} runs, {result_count} results from {file}: {new} new, "
               f"{changed} replaced a different value the store held, "
               f"{result_count - new - changed} already held")
