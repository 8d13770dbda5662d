"""``stickpose train`` and ``stickpose train-decoder``."""
from __future__ import annotations

import math
from pathlib import Path

import click
from click.core import ParameterSource

from ..distribute import STRATEGIES
from ..codecs.gaussian import HEATMAP_STRIDES
from ..leaderboard.recipe import DEFAULT_RECIPES
from ..runs import TIME_EPOCHS, TIME_SCHEDULE
from .leaderboard import BOARD_SUITES
from .common import (CLASS_DIR_OPTION, DB_OPTION, INPUT_SIZE, INPUT_SIZE_HELP, POSITIVE,
                     POSES_HELP, POSITIVE_FLOAT, PROBABILITY, SEED, NamesOption, OutputPath,
                     check_head, check_input_size, open_results_store, parse_arch_options,
                     record_run_or_warn, say_lsp, user_errors)


@click.command()
@click.option("--arch", cls=NamesOption, registry="architecture", default="hourglass",
              show_default=True)
@click.option("--head", cls=NamesOption, registry="head", default="heatmap",
              show_default=True)
@click.option("--input-size", type=INPUT_SIZE, default=64, show_default=True,
              help=INPUT_SIZE_HELP)
@click.option("--width", type=POSITIVE, default=32, show_default=True, help="Base channels.")
@click.option("--depth", type=POSITIVE, default=1, show_default=True, help="Blocks per stage.")
@click.option("--arch-option", "arch_options", multiple=True, metavar="KEY=VALUE",
              help="An option of the architecture's builder (repeatable), e.g. stacks=3 "
                   "(hourglass), se_ratio=4 (senet), expansion=6 (mobilenetv2), "
                   "output_stride=2 (unet), or your own builder's; VALUE is read as JSON "
                   "(3, 0.5, true) or else as text.")
@click.option("--heatmap-stride", type=click.Choice([str(s) for s in HEATMAP_STRIDES]),
              default="2",
              show_default=True, help="Heatmap resolution: input size / stride.")
@click.option("--deconv", is_flag=True, help="Transposed-convolution upsampling head.")
@click.option("--sigma", type=POSITIVE_FLOAT, default=1.5, show_default=True,
              help="Gaussian target spread, heatmap pixels.")
@click.option("--batch-size", type=POSITIVE, default=32, show_default=True)
@click.option("--learning-rate", type=POSITIVE_FLOAT, default=2e-3, show_default=True)
@click.option("--schedule", type=click.Choice(["cosine", "constant", "step"]),
              default="cosine", show_default=True)
@click.option("--epochs", type=POSITIVE, default=55, show_default=True,
              help="Epochs of --steps batches [55; with --minutes alone: as many as the time "
                   "allows, the cosine schedule ending with the time].")
@click.option("--steps", "--steps-per-epoch", "steps_per_epoch", type=POSITIVE, default=100,
              show_default=True, help="Training steps per epoch (steps_per_epoch in "
              "config.json).")
@click.option("--budget", help="Training images instead of --epochs (200k, 1.5M, 96000): "
              "epochs = budget / (steps x batch size), rounded up; the cosine schedule ends "
              "there.")
@click.option("--minutes", type=POSITIVE_FLOAT,
              help="Stop at the end of the first epoch past this many minutes of training, "
                   "counted over every session of a resumed run [no limit]. Without --epochs "
                   "or --budget the run trains for the whole time: the cosine schedule decays "
                   "over the minutes instead of the steps (schedule cosine-time) and early "
                   "stopping is off unless --patience is given.")
@click.option("--patience", type=POSITIVE, default=8,
              help="Early stopping: epochs without a better validation loss [8; with "
                   "--budget, or --minutes alone, none: the budget is trained, as in a "
                   "sweep].")
@click.option("--recipe", default=DEFAULT_RECIPES, show_default=True,
              help="Recipe file (a name or a .toml) whose settings for this --arch x --head "
                   "replace the defaults shown here for every option you do not give: the "
                   "built-in one is the board's (generators/recipes.toml: width, learning "
                   "rate, sigma, batch size, steps, schedule, ...), so that a run compares "
                   "with its published row. none: the defaults shown here.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--data", default="stickman", show_default=True,
              help="stickman (the suite's rendered stream), or lsp:DIR to train on Leeds "
                   "Sports Pose (+ LSP-extended when present) from a local folder.")
@click.option("--init", help="Start from the weights of this run, e.g. a stickman run for "
              "the stickman-to-real transfer, or of pretrained:NAME (a model shipped with "
              "stickpose, `stickpose pretrained`) to fine-tune it. Its model (arch, head, "
              "input size, width, depth, heatmap stride, deconv, arch options) is this "
              "run's unless given, and must match if given; the recipe sets the rest.")
@click.option("--suite", "--train-suite", "suite", default="stickman", show_default=True,
              help="Suite (name or .toml) whose training stream, validation and test sets "
                   "are used: stickman, class (the class's own benchmark as its 2021 test "
                   "images were drawn; needs --class-dir) or class-2022 (the same drawn by "
                   "the class's code of today).")
@click.option("--stream", "train_stream", default="train", show_default=True,
              help="The suite's training stream: train (stickpose's own), or on the class "
                   "suites class (the class's teams' stream: drawn at the input size, no "
                   "pose augmentation, and on --suite class the 2021 batch-wide stretch of "
                   "64 images; add --batch-size 64 --input-size 196 to train as the class "
                   "trained).")
@CLASS_DIR_OPTION
@click.option("--labels", type=click.Choice(["observer", "person"]), default="observer",
              show_default=True, help="Left/right convention the model learns. observer: "
              "what a stick figure shows; on a suite labelled person-centric (class) a "
              "handedness classifier, fitted on the training poses, relabels the "
              "predictions. person: learn the suite's person-centric labels directly.")
@click.option("--circles", type=PROBABILITY, help="Override the stream's circles p.")
@click.option("--squares", type=PROBABILITY, help="Override the stream's squares p.")
@click.option("--backgrounds", type=PROBABILITY, help="Override the stream's backgrounds p.")
@click.option("--poses", help=f"Override the training stream's poses: {POSES_HELP}.")
@click.option("--validation-count", type=POSITIVE, default=256, show_default=True,
              help="Validation images scored after each epoch (early stopping, best model).")
@click.option("--test-count", type=POSITIVE, default=1000, show_default=True,
              help="Images of each test set used for the final evaluation.")
@click.option("--precision", type=click.Choice(["float32", "mixed_float16", "mixed_bfloat16"]),
              default="float32", show_default=True)
@click.option("--jit", is_flag=True, help="Compile with XLA.")
@click.option("--out", type=OutputPath("folder"),
              help="Run directory [runs/ARCH-HEAD_SIZE_wWIDTH_sSEED].")
@click.option("--resume", is_flag=True, help="Continue the run in --out where it stopped "
              "(even if killed): an unfinished one trains on from its last finished epoch, "
              "a trained one is evaluated, a finished one is only recorded again.")
@click.option("--overwrite", is_flag=True, help="Start again in an existing run directory "
              "(its own files are replaced; other files are left alone).")
@click.option("--strategy", type=click.Choice(STRATEGIES), default="default",
              show_default=True, help="How to train (never part of the run): default (this "
              "process's device), mirrored (every local GPU of this machine) or multiworker "
              "(several processes or machines, each started with the same command and the "
              "TF_CONFIG environment variable, e.g. TF_CONFIG='{\"cluster\": {\"worker\": "
              "[\"host1:12345\", \"host2:12345\"]}, \"task\": {\"type\": \"worker\", "
              "\"index\": 0}}' - the same cluster everywhere, each worker its own index). "
              "--batch-size is the global batch: the number of workers (and of their "
              "devices) must divide it. Worker 0 is the chief: only it writes --out and "
              "records the run.")
@DB_OPTION
@user_errors
def train(out, resume, overwrite, heatmap_stride, strategy, **options):
    """Train an architecture x head on the streamed stickman training noise.

    Writes the run directory (config, best model, history, curves, predictions, test1-4
    evaluation), records the evaluation in the results store and prints it.
    """
    from ..data.poses import absolute_pose_sources
    from ..distribute import Distribution, strategy_workers
    from ..files import check_writable, killed_by_signals
    from ..errors import StickposeError
    from ..models.registry import absolute_spec
    from ..runs import RunDir, TrainConfig, training_images
    from ..training import prepare, train as run_training

    options["arch_options"] = parse_arch_options(options["arch_options"])
    heatmap_stride = int(heatmap_stride)
    from_init = set()
    if options["init"] is not None:
        heatmap_stride, from_init = _with_init(options, heatmap_stride)
    recipe = options.pop("recipe")
    heatmap_stride, from_recipe = _with_recipe(options, recipe, heatmap_stride, from_init)
    typed = options["arch"], options["head"]
    options["arch"], options["head"] = absolute_spec(typed[0]), absolute_spec(typed[1])

    budget = options.pop("budget")
    context = click.get_current_context()
    if options["minutes"] and budget is None and context.get_parameter_source("epochs") != \
            ParameterSource.COMMANDLINE:             # the whole time, its schedule with it
        options["epochs"] = TIME_EPOCHS
        if options["schedule"] == "step":
            raise click.UsageError("--schedule step divides the learning rate at fractions of "
                                   "the epochs; with --minutes alone the epochs are not known: "
                                   "give --epochs or --budget too, or another --schedule")
        if options["schedule"] == "cosine":
            options["schedule"] = TIME_SCHEDULE
        if context.get_parameter_source("patience") != ParameterSource.COMMANDLINE:
            options["patience"] = TIME_EPOCHS
    if budget is not None:
        from ..leaderboard.recipe import budget_epochs, parse_images

        if click.get_current_context().get_parameter_source("epochs") == \
                ParameterSource.COMMANDLINE:
            raise click.UsageError("give --budget (training images) or --epochs, not both")
        try:
            images = parse_images(budget, "", "--minutes 5")
        except StickposeError as error:
            raise click.BadParameter(str(error).strip(), param_hint="--budget") from None
        options["epochs"] = budget_epochs(images, options["batch_size"],
                                          options["steps_per_epoch"])
        if click.get_current_context().get_parameter_source("patience") != \
                ParameterSource.COMMANDLINE:
            options["patience"] = options["epochs"]     # no early stop unless asked for
    if options["class_dir"] is not None:
        options["class_dir"] = str(options["class_dir"].resolve())
    if options["poses"] is not None:                 # kept in config.json: resumable anywhere
        options["poses"] = absolute_pose_sources(options["poses"])
    config = TrainConfig(heatmap_stride=heatmap_stride, **options)
    if not resume:                            # named as typed; the config keeps absolute paths
        check_input_size(config.input_size, [typed[0]], f"{config.recipe} (--recipe {recipe})"
                         if "input_size" in from_recipe else None)
        check_head(typed[1])
    if config.data.startswith("lsp:"):
        say_lsp(config.data)
    if out is None:
        if resume:
            raise click.UsageError("--resume needs --out RUN")
        out = Path("runs") / config.name
    if resume and overwrite:
        raise click.UsageError("--resume continues a run, --overwrite starts it again: "
                               "give one")
    # the cluster and, for a new run, the global batch: the same checks on every worker
    workers = strategy_workers(strategy, None if resume else config.batch_size)
    if workers.count > 1:
        click.echo(f"worker {workers.index} of {workers.count}"
                   f"{' (the chief)' if workers.chief else ''}: waiting for every worker "
                   "to start (Ctrl-C stops it)", err=True)
    store = []

    def refusals():                           # the chief's, before any work
        if resume and RunDir(out).is_run():
            _check_resume(RunDir(out).config(), config, options, budget)
        prepare(config, out, resume, overwrite)
        check_writable(out)                   # the default --out (a given one is checked)
        store.append(open_results_store())
    with killed_by_signals():                 # connecting waits in C++ until all have come
        distribution = Distribution(strategy)
    with killed_by_signals(), distribution.lost_workers():   # again: TF took over SIGTERM
        distribution.relay(refusals, errors=(click.ClickException,))
    if distribution.chief and config.data == "stickman" and config.suite not in BOARD_SUITES:
        click.echo(f"note: suite {config.suite} has no board (boards: "
                   f"{', '.join(BOARD_SUITES)}): its results are recorded and exported, "
                   "but no `stickpose leaderboard` table shows them", err=True)
    with distribution.lost_workers():
        evaluation = run_training(config, out, resume=resume, overwrite=overwrite,
                                  strategy=distribution)
    if not distribution.chief:
        click.echo(f"worker {workers.index} of {workers.count}: trained with the chief "
                   "(worker 0), which wrote and recorded the run")
        return
    click.echo(f"run -> {out}")
    if config.epochs == TIME_EPOCHS and evaluation["stopped_by"] == "minutes":
        click.echo(f"trained for --minutes {config.minutes:g}: {evaluation['epochs']} "
                   f"epoch(s), {evaluation['train_images']:,} training images")
    elif evaluation["stopped_by"] in ("patience", "minutes"):
        why = (f"no better validation loss for --patience {config.patience} epochs"
               if evaluation["stopped_by"] == "patience" else f"--minutes {config.minutes:g}")
        click.echo(f"stopped early ({why}) after epoch {evaluation['epochs']} of "
                   f"{config.epochs}: {evaluation['train_images']:,} training images of the "
                   f"{training_images(config):,} planned")
    record_run_or_warn(store[0], out)
    for name, values in evaluation["sets"].items():
        parts = [f"class score {values['score']:.3f}"] if "score" in values else []
        if "score_written" in values:
            parts += [f"(as the class's code wrote it {values['score_written']:.3f})"]
        if "flip_score" in values:
            parts += [f"flip-tolerant {values['flip_score']:.3f}",
                      f"L/R swaps {values['swap']:.3f}"]
        pck = values.get("pck", float("nan"))
        parts += ["PCK@0.15 n/a" if math.isnan(pck) else f"PCK@0.15 {pck:.3f}",
                  f"MPJPE {values['mpjpe']:.2f} px"]
        if "lsp_pck" in values:
            parts += [f"LSP PCK@0.2 {values['lsp_pck']:.1f} %", f"PCP {values['pcp']:.1f} %"]
        click.echo(f"{name}: " + "  ".join(parts))


def _with_recipe(options: dict, recipe: str, heatmap_stride: int,
                 from_init=frozenset()) -> tuple[int, set]:
    """Fill ``options`` the user did not give (on the command line, or through --init's
    model: ``from_init``) with ``recipe``'s settings for the arch x head (``none``: none;
    an architecture the file has no table for gets its ``[defaults]``, as in ``leaderboard
    run``) and name the recipe in ``options["recipe"]``; returns the heatmap stride (an
    argument of its own) and the names of the settings taken from the recipe."""
    from ..leaderboard.recipe import load_recipes

    options["recipe"] = None
    if recipe == "none":
        return heatmap_stride, set()
    recipes = load_recipes(recipe)
    settings = recipes.settings(options["arch"], options["head"])
    context = click.get_current_context()
    given = [name for name in settings if name != "recipe" and (name in from_init or
             context.get_parameter_source(name) == ParameterSource.COMMANDLINE)]
    for name, value in settings.items():
        if name == "heatmap_stride":
            heatmap_stride = heatmap_stride if name in given else value
        elif name not in given:
            options[name] = value
    if given:
        options["recipe"] += " with " + ", ".join(
            f"{name} {options[name] if name != 'heatmap_stride' else heatmap_stride} "
            f"{'of --init' if name in from_init else 'given'}" for name in given)
    return heatmap_stride, set(settings) - set(given) - {"recipe"}


def _with_init(options: dict, heatmap_stride: int) -> tuple[int, set]:
    """The model of the run ``--init`` names (a run folder or ``pretrained:NAME``, checked)
    for every model setting (arch, head, input size, width, depth, heatmap stride, deconv,
    arch options) not given on the command line, so that ``train --init pretrained:NAME``
    fine-tunes that model as it is. Returns the heatmap stride and the names taken."""
    from ..errors import StickposeError
    from ..pretrained import run_path
    from ..runs import RunDir

    try:
        theirs = RunDir(run_path(options["init"])).config().model_settings()
    except StickposeError as error:
        raise click.BadParameter(str(error), param_hint="--init") from None
    context = click.get_current_context()
    taken = {name for name in theirs
             if context.get_parameter_source(name) != ParameterSource.COMMANDLINE}
    for name in taken - {"heatmap_stride"}:
        options[name] = theirs[name]
    return (theirs["heatmap_stride"] if "heatmap_stride" in taken else heatmap_stride), taken


def _check_resume(own, config, options: dict, budget) -> None:
    """Refuse a ``--resume`` that changes the run's settings on the command line."""
    from ..runs import training_images

    context = click.get_current_context()
    changed = [(p.opts[0], p.name) for p in context.command.params
               if p.name in ("heatmap_stride", *options) and p.name != "class_dir"
               and context.get_parameter_source(p.name) == ParameterSource.COMMANDLINE
               and getattr(config, p.name) != getattr(own, p.name)]
    if budget is not None and config.epochs != own.epochs:
        raise click.UsageError(f"--budget cannot be changed on --resume (the run trains on "
                               f"{training_images(own)} images, not "
                               f"{training_images(config)}); start a new run to change it")
    if changed:
        option, name = changed[0]
        raise click.UsageError(f"{option} cannot be changed on --resume (the run has "
                               f"{getattr(own, name)!r}, not {getattr(config, name)!r}): "
                               "the run continues with its own settings "
                               "(config.json); start a new run to change them")


@click.command("train-decoder")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--epochs", type=POSITIVE, default=10, show_default=True)
@click.option("--steps", "steps_per_epoch", type=POSITIVE, default=100, show_default=True)
@click.option("--batch-size", type=POSITIVE, default=32, show_default=True)
@click.option("--learning-rate", type=POSITIVE_FLOAT, default=1e-3, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace the run's trained fc decoder.")
@user_errors
def train_decoder(run, epochs, steps_per_epoch, batch_size, learning_rate, overwrite):
    """Train the fc decoder (seed 000: per joint 2 x 128 dense layers) on a heatmap run's
    frozen heatmaps; saves RUN/decoder-fc.keras for `stickpose evaluate --decoders fc` once
    training has finished (an interrupted one leaves the old decoder in place)."""
    from ..runs import RunDir
    from ..training import train_decoder as fit_decoder

    losses = fit_decoder(run, epochs, steps_per_epoch, batch_size, learning_rate,
                         overwrite=overwrite)
    click.echo(f"fc decoder -> {RunDir(run) / RunDir.FC}  (validation L1 of normalised "
               f"coordinates {losses['val_loss']:.4f})")


@click.command("train-handedness")
@click.argument("run", type=click.Path(path_type=Path))
@CLASS_DIR_OPTION
@user_errors
def train_handedness(run, class_dir):
    """Fit a run's handedness classifier again, as training does at its end (the same poses
    and seed give the same classifier; a cached fit is reused): for a run whose
    classifier an older stickpose saved as a pickle (handedness.joblib), which stickpose no
    longer loads. Saves RUN/handedness.npz and removes the pickle."""
    from ..runs import RunDir
    from ..training import train_handedness as fit_handedness

    old = RunDir(run) / RunDir.HANDEDNESS_PICKLE
    pickled = old.is_file()
    path = fit_handedness(run, class_dir.resolve() if class_dir is not None else None)
    click.echo(f"handedness classifier -> {path}")
    if pickled:
        click.echo(f"removed the older stickpose's pickled classifier {old}")
