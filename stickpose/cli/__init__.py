"""The ``stickpose`` command line. Each command parses options and calls one library function.

Each command (or command group) lives in its own module of this package, imported only when
the command is resolved (see ``LazyGroup``). Heavy imports (TensorFlow, OpenCV, the generator)
happen inside command bodies, never at a command module's top, so that ``stickpose --help``,
which resolves every command for its short help, answers at once.
"""
from __future__ import annotations

import importlib

import click

from .. import __version__
from ..files import check_stop, stop_on_signals, stop_requested
from .common import DB_OPTION, show_warnings

#: command name -> "module.attribute" of its click command, relative to this package.
COMMANDS = {
    "bench": "bench.bench",
    "check-model": "models.check_model",
    "decoders": "evaluate.decoders_command",
    "evaluate": "evaluate.evaluate",
    "export": "export.export",
    "generate": "generate.generate",
    "leaderboard": "leaderboard.leaderboard",
    "lsp": "lsp.lsp",
    "models": "models.models",
    "poses": "poses.poses",
    "predict": "runs.predict",
    "pretrained": "pretrained.pretrained",
    "report": "runs.report",
    "show": "runs.show",
    "train": "train.train",
    "train-decoder": "train.train_decoder",
    "train-handedness": "train.train_handedness",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported when first resolved (click's "Lazily
    Loading Subcommands" pattern): ``lazy_subcommands`` maps a command name to the
    "module.attribute" of its command."""

    def __init__(self, *args, lazy_subcommands: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_subcommands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            return self._lazy_load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def main(self, *args, **kwargs):
        """click's ``main``, ending a command stopped by signal N with the status shells
        give it, 128 + N (130 for Ctrl-C, 143 for SIGTERM), where click says 1."""
        try:
            return super().main(*args, **kwargs)
        except SystemExit as exit_:
            if exit_.code not in (0, None) and stop_requested():
                raise SystemExit(128 + stop_requested()) from None
            raise

    def _lazy_load(self, cmd_name: str) -> click.Command:
        module_name, attribute = self.lazy_subcommands[cmd_name].rsplit(".", 1)
        command = getattr(importlib.import_module(f".{module_name}", __name__), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy_subcommands[cmd_name]} is not a click command")
        return command


@click.group(cls=LazyGroup, lazy_subcommands=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stickpose")
@DB_OPTION
def main():
    """stickpose: 2D keypoint estimation on procedural stick figures and LSP.

    \b
    stickpose generate --suite stickman     stickpose's four test sets + validation
    stickpose generate --noise --out DIR    a dataset with the class training noise
    stickpose generate --suite class --class-dir DIR   the class's own test sets
    stickpose train --suite class --class-dir DIR      train and test on them
    stickpose models                        the model zoo: parameters, FLOPs, latency
    stickpose check-model my_nets:tiny_net  does your own backbone work with stickpose?
    stickpose poses compare BANK            procedural poses against real ones
    stickpose train --arch ARCH --head HEAD train a model into runs/
    stickpose evaluate RUN                  every decoder and metric on test1-test4
    stickpose train-decoder RUN             fit the fc decoder on a run's heatmaps
    stickpose lsp score PRED GT             the LSP benchmark for any method's output
    stickpose export RUN [--int8]           deploy: TFLite / SavedModel, decoder inside
    stickpose pretrained                    the shipped models (--run pretrained:class)
    stickpose leaderboard                   the comparison table of every recorded run
    stickpose bench generate | gmm | export ...   measured numbers
    """
    stop_on_signals()        # SIGTERM ends a command as Ctrl-C does: its clean-up runs
    show_warnings()          # stickpose's warnings as one line each


@main.result_callback()
def _finished(*args, **kwargs):
    check_stop()             # an interrupted command never exits 0, even if TF swallowed it
