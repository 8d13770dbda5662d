"""What the command modules share: option types and decorators, error handling, progress
bars and the parsing of comma-separated option values.
"""
from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import sys
from pathlib import Path

import click

POSITIVE = click.IntRange(min=1)
PROBABILITY = click.FloatRange(0.0, 1.0)
class FiniteFloatRange(click.FloatRange):
    """A ``click.FloatRange`` that also refuses inf (``1e400`` too): no setting is
    endless."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


POSITIVE_FLOAT = FiniteFloatRange(min=0.0, min_open=True)
POSES_HELP = ("procedural (the sampler of stickpose's test sets), procedural2 (tuned against "
              "real poses), a pose bank (.npy/.csv of (N,16,2) or 32 numbers a row, lsp:DIR), "
              "or a mix such as procedural2:0.7,bank.npy:0.3 (each pose from a source drawn "
              "with those weights)")
SEED = click.IntRange(0, 2**32 - 1)      # what NumPy's and Keras' seeding accept
INPUT_SIZE = click.IntRange(min=32)
IMAGE_SIZE = click.IntRange(32, 4096)     # data.stickman's MIN_SIZE, MAX_SIZE (a test checks)
INPUT_SIZE_HELP = ("Model input side in pixels: at least 32 and a multiple of the "
                   "architecture's stride (16; 32 for the hourglass; your own backbone's).")
ARCH_HELP = ("Architecture: {names}, or your own as MODULE:NAME (a module in the current "
             "folder or on PYTHONPATH) or FILE.py:NAME.")
HEAD_HELP = ("Head: {names}, or your own (declared with @stickpose.head) as MODULE:NAME or "
             "FILE.py:NAME.")


class NamesOption(click.Option):
    """An option whose help lists the names of a registry (``"architecture"`` or
    ``"head"``), read from package metadata only when help is shown."""

    def __init__(self, *args, registry: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.registry = registry

    def get_help_record(self, ctx):
        from ..models.registry import ARCHS, HEADS

        names = (ARCHS if self.registry == "architecture" else HEADS).names()
        self.help = (ARCH_HELP if self.registry == "architecture" else HEAD_HELP).format(
            names=", ".join(names))
        return super().get_help_record(ctx)


def parse_arch_options(values) -> dict:
    """``--arch-option key=value`` (repeatable) -> ``{key: value}``, each value read as JSON
    (numbers, true/false, lists) or else kept as text."""
    import json

    options = {}
    for text in values:
        key, sep, value = text.partition("=")
        if not sep or not key.strip().isidentifier():
            raise click.BadParameter(f"{text!r} is not KEY=VALUE (e.g. stacks=3)",
                                     param_hint="--arch-option")
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    return options
CLASS_DIR_OPTION = click.option(
    "--class-dir", type=click.Path(path_type=Path),
    help="Your copy of the class baseline repository (EdouardYvinec/IamStickman), or a folder "
         "with train_split.npy, test_split.npy and backgrounds/ or backgrounds.zip: the files "
         "--suite class reads (never shipped with stickpose).")


class OutputPath(click.Path):
    """An output location, checked as the command line is parsed, so before any work:
    ``kind`` "folder" or "file" (with ``suffix``). Every command's output options use it;
    ``tests/test_outputs.py`` finds them all and points each at bad places."""

    def __init__(self, kind: str = "folder", suffix: str | None = None):
        super().__init__(path_type=Path)
        self.kind, self.suffix = kind, suffix

    def convert(self, value, param, ctx):
        from ..errors import StickposeError
        from ..files import check_output

        what = param.opts[0] if param is not None and param.param_type_name == "option" \
            else (param.human_readable_name if param is not None else "output")
        if isinstance(value, str) and not value.strip():    # Path("") is the current folder
            self.fail(f"{value!r} names no {self.kind}: give a path", param, ctx)
        path = super().convert(value, param, ctx)
        try:
            return check_output(path, self.kind, self.suffix, what)
        except StickposeError as error:
            self.fail(str(error), param, ctx)


class RunPath(click.Path):
    """A trained run: its directory, or ``pretrained:NAME`` (a model shipped with stickpose,
    checked against its published hashes and placed in the user's data folder)."""

    def __init__(self):
        super().__init__(path_type=Path)

    def convert(self, value, param, ctx):
        from ..pretrained import PretrainedError, is_pretrained, run_path

        if isinstance(value, str) and not value.strip():    # Path("") is the current folder
            self.fail(f"{value!r} names no run: give a run folder or pretrained:NAME", param,
                      ctx)
        if not is_pretrained(value):
            return super().convert(value, param, ctx)
        try:
            return run_path(value)
        except PretrainedError as error:
            self.fail(str(error), param, ctx)
        except OSError as error:                 # the data folder it is copied into
            self.fail(f"cannot place {value} in your data folder: {error.strerror or error}"
                      f" ({error.filename or '$XDG_DATA_HOME'}; set XDG_DATA_HOME to a "
                      "folder you can write)", param, ctx)


def _remember_db(ctx, param, value):
    if value is not None and not value.strip():
        raise click.BadParameter(f"{value!r} names no results store; expected an SQLAlchemy "
                                 "URL such as sqlite:///FILE or postgresql://...")
    if value:
        ctx.meta["stickpose.db"] = value        # meta is shared by every nested context
    return value


DB_OPTION = click.option(
    "--db", expose_value=False, callback=_remember_db, metavar="URL",
    help="Results store: an SQLAlchemy URL (sqlite:///FILE, postgresql://...). Given "
         "before or after the command, it is the only store read or written [$STICKPOSE_DB, "
         "else a SQLite file in your data folder; see `stickpose leaderboard --where`].")

FLIP_OPTION = click.option(
    "--flip", is_flag=True,
    help="Test-time flip averaging: the network also sees each image mirrored, and its "
         "output there, mirrored back with left and right exchanged, is averaged with the "
         "output on the image (heatmaps for heatmap heads, coordinates otherwise) before "
         "decoding. Two forward passes: about twice the network's time per image.")


def store_url() -> str | None:
    """The ``--db`` given anywhere on the command line (None: the default store)."""
    return click.get_current_context().meta.get("stickpose.db")


def open_results_store(create: bool = True):
    """An engine on the store ``--db`` names, opened (and created or migrated) now, so that
    a bad store fails before any work. ``create`` False: for commands that only read."""
    from ..leaderboard.store import open_store

    return open_store(store_url(), create)


def record_run_or_warn(engine, run: Path) -> None:
    """Record a finished run into ``engine``; a store that fails now (its files are saved)
    is reported with the command that records it later."""
    from ..leaderboard.store import StoreError, record_run, where

    try:
        record_run(engine, run)
        click.echo(f"recorded in {where(str(engine.url))}")
    except StoreError as error:
        click.echo(f"warning: results not recorded ({error}); the run is complete - record "
                   f"it with `stickpose train --resume --out {run}`", err=True)


def check_input_size(input_size: int, archs, recipe: str | None = None) -> None:
    """``--input-size`` checked against each architecture's rule, named as typed (an
    architecture that cannot be found or imported is named as typed too); ``recipe``: the
    size is that recipe's (``"NAME vN arch/head (FILE)"``), not the option's, and is named
    so."""
    from ..models.build import input_size_problem

    for arch in archs:
        problem = input_size_problem(arch, input_size)
        if problem and recipe:
            raise click.ClickException(f"input_size {input_size} of recipe {recipe} {problem}")
        if problem:
            raise click.BadParameter(f"{input_size} {problem}", param_hint="'--input-size'")


def show_warnings() -> None:
    """Print stickpose's own warnings (a plugin changed since training) as one line,
    ``warning: ...``, on stderr; other warnings as Python shows them."""
    import warnings

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        from ..models.registry import PluginWarning

        if issubclass(category, PluginWarning):
            click.echo(f"warning: {message}", err=True)
        else:
            shown(message, category, filename, lineno, file, line)
    warnings.showwarning = show


def check_head(head: str) -> None:
    """``--head`` found and importable, named as typed."""
    from ..models.registry import HEADS

    HEADS.get(head)


def user_errors(command):
    """Turn stickpose's user-input errors, and files or folders that cannot be read or
    written (a path under /proc, a full disk, no permission), into a one-line message and
    exit status 1."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from ..errors import StickposeError
        try:
            return command(*args, **kwargs)
        except StickposeError as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:
            if error.errno == errno.EPIPE and error.filename is None:
                raise                  # stdout's reader went away (| head): click ends quietly
            where = f": {error.filename}" if error.filename else ""
            raise click.ClickException(f"{error.strerror or error}{where}") from None
    return wrapper


@contextlib.contextmanager
def progress_bars():
    """Yields ``make(label, total)`` -> per-chunk callback, one click progress bar each,
    on stderr (so that a command's output piped or redirected is its output alone).

    A bar finishes when its total is reached; any bar left open (an error, Ctrl-C) is
    finished on exit so the terminal gets its cursor back.
    """
    open_bars = []

    def make(label: str, total: int):
        if not sys.stderr.isatty():
            return _log_lines(label, total)
        bar = click.progressbar(length=total, label=label, show_pos=True, width=30,
                                file=sys.stderr)
        open_bars.append(bar)

        def update(done: int) -> None:
            bar.update(done)
            if bar.pos >= total and bar in open_bars:
                open_bars.remove(bar)
                bar.render_finish()
        return update

    try:
        yield make
    finally:
        for bar in open_bars:
            bar.render_finish()


def _log_lines(label: str, total: int, steps: int = 10):
    """``progress_bars``' callback where stdout is a log or a pipe: a plain line at every
    tenth of ``total`` (and at the end), never a carriage return."""
    done, said = [0], [0]

    def update(count: int) -> None:
        done[0] += count
        tenth = min(done[0] * steps // max(total, 1), steps)
        if tenth > said[0]:
            said[0] = tenth
            click.echo(f"{label}: {min(done[0], total)}/{total} ({100 * tenth // steps}%)",
                       err=True)
    return update


def cores() -> int:
    """CPU cores this process may use (respects affinity and container CPU sets)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def set_names(spec, sets: str) -> list[str]:
    """The comma-separated ``--sets`` of suite ``spec``, each checked to exist."""
    names = [n.strip() for n in sets.split(",") if n.strip()]
    unknown = [n for n in names if n not in spec.sets]
    if unknown or not names:
        raise click.BadParameter(f"unknown set {(unknown or [sets])[0]!r}; {spec.name} has "
                                 f"{', '.join(spec.sets)}", param_hint="--sets")
    return names


def parse_names(value: str, known: tuple, option: str, plugins: bool = False) -> list[str]:
    """A comma-separated ``value`` checked against ``known`` (``all`` means every one);
    with ``plugins``, import strings ``MODULE:NAME`` are accepted too."""
    names = list(known) if value == "all" else [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in known and not (plugins and ":" in n)]
    if unknown or not names:
        raise click.BadParameter(f"unknown value {(unknown or [value])[0]!r}; known: "
                                 f"{', '.join(known)} or all", param_hint=option)
    return names


def say_lsp(data: str) -> None:
    """Tell which LSP folders ``lsp:DIR`` holds and what their annotations look like."""
    from ..data.lsp import find_lsp

    for part in find_lsp(data[4:]).values():
        click.echo(f"{part.folder}: {part.joints.describe()}")
