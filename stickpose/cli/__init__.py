"""The ``stickpose`` command line. Each command parses options and calls one library function.

Heavy imports (TensorFlow, OpenCV, the generator) happen inside command bodies so that
``stickpose --help`` answers at once.
"""
from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

import click
from click.core import ParameterSource

from . import __version__
from .models.registry import ARCH_MODULES as ARCH_NAMES, HEAD_NAMES

PROBABILITY = click.FloatRange(0.0, 1.0)
CLASS_DIR_OPTION = click.option(
    "--class-dir", type=click.Path(path_type=Path),
    help="Your copy of the class baseline repository (EdouardYvinec/IamStickman), or a folder "
         "with train_split.npy, test_split.npy and backgrounds/ or backgrounds.zip: the files "
         "--suite class reads (never shipped with stickpose).")


def user_errors(command):
    """Turn stickpose's user-input errors, and files or folders that cannot be read or
    written (a path under /proc, a full disk, no permission), into a one-line message and
    exit status 1."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from .errors import StickposeError
        try:
            return command(*args, **kwargs)
        except StickposeError as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:
            where = f": {error.filename}" if error.filename else ""
            raise click.ClickException(f"{error.strerror or error}{where}") from None
    return wrapper


@contextlib.contextmanager
def progress_bars():
    """Yields ``make(label, total)`` -> per-chunk callback, one click progress bar each.

    A bar finishes when its total is reached; any bar left open (an error, Ctrl-C) is
    finished on exit so the terminal gets its cursor back.
    """
    open_bars = []

    def make(label: str, total: int):
        bar = click.progressbar(length=total, label=label, show_pos=True, width=30)
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


def _cores() -> int:
    """CPU cores this process may use (respects affinity and container CPU sets)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stickpose")
def main():
    """stickpose: 2D keypoint estimation on procedural stick figures and LSP.

    \b
    stickpose generate --suite stickman     stickpose's four test sets + validation
    stickpose generate --noise --out DIR    a dataset with the class training noise
    stickpose generate --suite class --class-dir DIR   the class's own test sets
    stickpose train --suite class --class-dir DIR      train and test on them
    stickpose models                        the model zoo: parameters, FLOPs, latency
    stickpose train --arch ARCH --head HEAD train a model into runs/
    stickpose evaluate RUN                  every decoder and metric on test1-test4
    stickpose train-decoder RUN             fit the fc decoder on a run's heatmaps
    stickpose lsp score PRED GT             the LSP benchmark for any method's output
    stickpose leaderboard                   the comparison table of every recorded run
    stickpose bench generate | gmm | handedness   measured numbers
    """


@main.command()
@click.option("--suite", help="Write every set of a suite: a built-in name (stickman) or a "
              ".toml file. Output goes to OUT/SET for each set.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Output folder. Default: data/SUITE for --suite, else data/generated.")
@click.option("--noise", is_flag=True,
              help="Start from the class training noise (circles 0.5, squares 0.3, "
                   "backgrounds 0.9); --circles etc. still override.")
@click.option("--count", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Images per dataset (with --suite: overrides the suite's counts).")
@click.option("--size", type=int, default=224, show_default=True,
              help="Image side in pixels, at least 32 (with --suite: overrides the suite's).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--circles", type=PROBABILITY, help="Keep adding circles while a draw < P [0].")
@click.option("--squares", type=PROBABILITY, help="Keep adding rectangles while a draw < P [0].")
@click.option("--backgrounds", type=PROBABILITY, help="Chance of a game background [0].")
@click.option("--background-dir", type=click.Path(path_type=Path),
              help="Crop backgrounds from your own images instead of procedural scenes.")
@click.option("--poses", default="procedural", show_default=True,
              help="'procedural', or a pose bank: .npy/.csv of (N,16,2) or 32 numbers a row.")
@click.option("--placement", type=click.Choice(["stretch", "fit"]), default="stretch",
              show_default=True, help="stretch: bounding box fills the frame (class "
              "benchmark); fit: aspect kept, random scale and position.")
@click.option("--margin", type=float, default=0.05, show_default=True,
              help="Empty border on each side, as a fraction of the size.")
@click.option("--labels", type=click.Choice(["observer", "person"]), default="observer",
              show_default=True, help="Left/right convention: observer-centric (the joint "
              "on the image's left is 'right', as for a person facing you) or person-centric.")
@click.option("--occluders", type=PROBABILITY, default=0.0, show_default=True,
              help="Keep adding solid shapes in front of the figure while a draw < P; "
                   "covered joints are marked not visible.")
@click.option("--workers", type=click.IntRange(min=1), default=_cores(),
              show_default=True, help="Rendering processes (the output does not depend on it).")
@click.option("--style", type=click.Choice(["stickpose", "class"]), default="stickpose",
              show_default=True, help="Drawing rules. stickpose: anti-aliased sub-pixel "
              "figure, exact float labels. class: the class baseline's drawing to the letter "
              "(whole-pixel 8-connected lines, truncated head, its squares and 10 px circles, "
              "labels truncated to whole pixels); needs --margin 0.")
@CLASS_DIR_OPTION
@click.option("--format", "fmt", type=click.Choice(["stickpose", "class"]), default="stickpose",
              show_default=True, help="stickpose: OUT/SET/images + keypoints.npy + COCO JSON. "
              "class: the class's layout, OUT/Test1/0.png ... + OUT/test1_labels.npy (a "
              "single dataset is written as Test1).")
@click.option("--overwrite", is_flag=True, help="Replace an existing dataset in --out.")
@click.option("--preview", type=click.Path(path_type=Path),
              help="Also write a contact sheet PNG of the first images with keypoints.")
@click.pass_context
@user_errors
def generate(ctx, suite, out, noise, count, size, seed, circles, squares, backgrounds,
             background_dir, poses, placement, margin, labels, occluders, workers, style,
             class_dir, fmt, overwrite, preview):
    """Render stick-figure datasets: images, keypoints.npy, visible.npy, COCO JSON, meta.json.

    The same seed and settings give byte-identical files. Output appears only when complete.

    \b
    stickpose generate --suite stickman                      stickpose's benchmark
    stickpose generate --suite class --class-dir DIR         the class's own test sets
    stickpose generate --suite class --class-dir DIR --format class --out Dataset
    """
    from .data.storage import load_dataset, write_dataset, write_suite
    from .data.stickman import StickmanConfig
    from .data.suites import load_suite
    from .files import write_atomic
    from .viz import encode_png, preview_sheet

    from .files import check_writable

    if preview and (preview.suffix.lower() != ".png" or preview.is_dir()):
        raise click.BadParameter(f"{preview} is not a .png file path", param_hint="--preview")
    if preview:
        check_writable(preview, "--preview")

    def from_command_line(name):
        return ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE

    if suite:
        fixed = [name for name in ("noise", "seed", "circles", "squares", "backgrounds",
                                   "background_dir", "poses", "placement", "margin",
                                   "labels", "occluders", "style") if from_command_line(name)]
        if fixed:
            raise click.UsageError(f"--{fixed[0].replace('_', '-')} cannot be combined with "
                                   "--suite (a suite fixes its settings; write your own "
                                   "suite TOML to change them)")
        spec = load_suite(suite, class_dir)
        names = list(spec.sets)

        def render(folder):
            with progress_bars() as bar:
                return write_suite(spec, folder, size=size if from_command_line("size") else None,
                                   count=count if from_command_line("count") else None,
                                   workers=workers, overwrite=overwrite,
                                   progress=lambda name, total: bar(f"{name:>10}", total))
        out = out or Path("data") / spec.name
    else:
        if class_dir:
            raise click.UsageError("--class-dir goes with --suite class (or a suite that "
                                   "reads the class's files)")
        base = load_suite("stickman").streams["train"].config if noise else StickmanConfig()
        config = StickmanConfig(
            size=size, margin=margin, placement=placement, poses=poses, occluders=occluders,
            labels=labels, style=style,
            circles=base.circles if circles is None else circles,
            squares=base.squares if squares is None else squares,
            backgrounds=base.backgrounds if backgrounds is None else backgrounds,
            background_dir=str(background_dir) if background_dir else None)
        names = ["test1"]

        def render(folder):
            with progress_bars() as bar:
                path = write_dataset(folder, config, seed, count, workers=workers,
                                     overwrite=overwrite, progress=bar("generating", count))
            return {path.name: path}
        out = out or Path("data") / "generated"
    check_writable(out)
    if fmt == "class":
        from .data.class_format import load_class_set, write_class_sets
        folders = write_class_sets(
            render if suite else (lambda folder: {"test1": render(folder / "test1")["test1"]}),
            names, out, overwrite)
        for name, folder in folders.items():
            click.echo(f"{name}: {len(list(folder.glob('*.png')))} images -> {folder} "
                       f"(labels {folder.parent / (folder.name.lower() + '_labels.npy')})")
        if preview:
            from .viz import contact_sheet
            images, keypoints, _ = load_class_set(next(iter(folders.values())), 32)
            write_atomic(preview, encode_png(contact_sheet(images, keypoints, columns=8)))
            click.echo(f"preview -> {preview}")
        return
    paths = render(out)
    for name, path in paths.items():
        meta = load_dataset(path).meta
        click.echo(f"{name}: {meta['count']} images ({meta['config']['size']} px) -> {path}")
        if meta["poses"].get("skipped_incomplete"):
            rows = meta["poses"].get("rows", "0:")
            click.echo(f"{name}: pose bank {meta['poses']['path']}: "
                       f"{meta['poses']['skipped_incomplete']} incomplete row(s) skipped; "
                       + ("" if rows == "0:" else f"complete poses {rows}, ")
                       + f"{meta['poses']['poses']} used")
    if preview:
        sheet = preview_sheet({name: load_dataset(path) for name, path in paths.items()})
        write_atomic(preview, encode_png(sheet))
        click.echo(f"preview -> {preview}")


POSITIVE = click.IntRange(min=1)


def _set_names(spec, sets: str) -> list[str]:
    """The comma-separated ``--sets`` of suite ``spec``, each checked to exist."""
    names = [n.strip() for n in sets.split(",") if n.strip()]
    unknown = [n for n in names if n not in spec.sets]
    if unknown or not names:
        raise click.BadParameter(f"unknown set {(unknown or [sets])[0]!r}; {spec.name} has "
                                 f"{', '.join(spec.sets)}", param_hint="--sets")
    return names


@main.command()
@click.option("--arch", type=click.Choice(ARCH_NAMES), default="hourglass", show_default=True)
@click.option("--head", type=click.Choice(HEAD_NAMES), default="heatmap", show_default=True)
@click.option("--input-size", type=POSITIVE, default=64, show_default=True,
              help="Model input side in pixels (a multiple of the architecture's stride).")
@click.option("--width", type=POSITIVE, default=32, show_default=True, help="Base channels.")
@click.option("--depth", type=POSITIVE, default=1, show_default=True, help="Blocks per stage.")
@click.option("--stacks", type=POSITIVE, default=2, show_default=True,
              help="Hourglass stacks (intermediate supervision).")
@click.option("--heatmap-stride", type=click.Choice(["1", "2", "4"]), default="2",
              show_default=True, help="Heatmap resolution: input size / stride.")
@click.option("--deconv", is_flag=True, help="Transposed-convolution upsampling head.")
@click.option("--sigma", type=float, default=1.5, show_default=True,
              help="Gaussian target spread, heatmap pixels.")
@click.option("--batch-size", type=POSITIVE, default=32, show_default=True)
@click.option("--learning-rate", type=float, default=2e-3, show_default=True)
@click.option("--schedule", type=click.Choice(["cosine", "constant", "step"]),
              default="cosine", show_default=True)
@click.option("--epochs", type=POSITIVE, default=55, show_default=True)
@click.option("--steps", "steps_per_epoch", type=POSITIVE, default=100, show_default=True,
              help="Training steps per epoch.")
@click.option("--minutes", type=float, help="Stop after this many minutes of training.")
@click.option("--patience", type=POSITIVE, default=8, show_default=True,
              help="Early stopping: epochs without a better validation loss.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--data", default="stickman", show_default=True,
              help="stickman (the suite's rendered stream), or lsp:DIR to train on Leeds "
                   "Sports Pose (+ LSP-extended when present) from a local folder.")
@click.option("--init", help="Start from the weights of this run (the same model), e.g. a "
              "stickman run for the stickman-to-real transfer.")
@click.option("--suite", "--train-suite", "suite", default="stickman", show_default=True,
              help="Suite (name or .toml) whose training stream, validation and test sets "
                   "are used: stickman, or class (the class's own benchmark; needs "
                   "--class-dir).")
@CLASS_DIR_OPTION
@click.option("--labels", type=click.Choice(["observer", "person"]), default="observer",
              show_default=True, help="Left/right convention the model learns. observer: "
              "what a stick figure shows; on a suite labelled person-centric (class) a "
              "handedness classifier, fitted on the training poses, relabels the "
              "predictions. person: learn the suite's person-centric labels directly.")
@click.option("--circles", type=PROBABILITY, help="Override the stream's circles p.")
@click.option("--squares", type=PROBABILITY, help="Override the stream's squares p.")
@click.option("--backgrounds", type=PROBABILITY, help="Override the stream's backgrounds p.")
@click.option("--test-count", type=POSITIVE, default=1000, show_default=True,
              help="Images of each test set used for the final evaluation.")
@click.option("--precision", type=click.Choice(["float32", "mixed_float16", "mixed_bfloat16"]),
              default="float32", show_default=True)
@click.option("--jit", is_flag=True, help="Compile with XLA.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Run directory [runs/ARCH-HEAD_SIZE_wWIDTH_sSEED].")
@click.option("--resume", is_flag=True, help="Continue the unfinished run in --out.")
@click.option("--overwrite", is_flag=True, help="Start again in an existing --out.")
@user_errors
def train(out, resume, overwrite, heatmap_stride, **options):
    """Train an architecture x head on the streamed stickman training noise.

    Writes the run directory (config, best model, history, curves, predictions, test1-4
    evaluation) and prints the evaluation.
    """
    from .train import TrainConfig, train as run_training

    if options["class_dir"] is not None:
        options["class_dir"] = str(options["class_dir"].resolve())
    config = TrainConfig(heatmap_stride=int(heatmap_stride), **options)
    if config.data.startswith("lsp:"):
        _say_lsp(config.data)
    if out is None:
        if resume:
            raise click.UsageError("--resume needs --out RUN")
        out = Path("runs") / config.name
    evaluation = run_training(config, out, resume=resume, overwrite=overwrite)
    click.echo(f"run -> {out}")
    for name, values in evaluation["sets"].items():
        parts = [f"class score {values['score']:.3f}"] if "score" in values else []
        if "flip_score" in values:
            parts += [f"flip-tolerant {values['flip_score']:.3f}",
                      f"L/R swaps {values['swap']:.3f}"]
        parts += [f"PCK@0.15 {values['pck']:.3f}", f"MPJPE {values['mpjpe']:.2f} px"]
        if "lsp_pck" in values:
            parts += [f"LSP PCK@0.2 {values['lsp_pck']:.1f} %", f"PCP {values['pcp']:.1f} %"]
        click.echo(f"{name}: " + "  ".join(parts))


@main.command()
@click.option("--input-size", type=POSITIVE, default=64, show_default=True)
@click.option("--width", type=POSITIVE, default=32, show_default=True)
@click.option("--arch", "archs", type=click.Choice(ARCH_NAMES), multiple=True,
              help="Only these architectures (repeatable) [all].")
@click.option("--head", "heads", type=click.Choice(HEAD_NAMES), multiple=True,
              help="Only these heads (repeatable) [all].")
@click.option("--repeats", type=POSITIVE, default=10, show_default=True,
              help="Timed forward passes per latency figure.")
@user_errors
def models(input_size, width, archs, heads, repeats):
    """Every architecture x head: parameters, FLOPs, measured CPU latency and throughput."""
    from .models.registry import load_all
    from .models.profile import model_table

    load_all()
    total = len(archs or ARCH_NAMES) * len(heads or HEAD_NAMES)
    with progress_bars() as bar:
        table = model_table(input_size, width, list(archs), list(heads), repeats,
                            progress=bar("measuring", total))
    click.echo(table.to_string(index=False))


@main.group()
def bench():
    """Benchmarks that print measured numbers."""


@bench.command("generate")
@click.option("--suite", default="stickman", show_default=True, help="Suite to measure.")
@click.option("--sets", default="test1,test2,test3,test4", show_default=True,
              help="Comma-separated set names of the suite.")
@click.option("--sizes", default="224,128", show_default=True, help="Comma-separated sizes.")
@click.option("--images", type=click.IntRange(min=64), default=8192, show_default=True,
              help="Images rendered per measurement.")
@click.option("--workers", type=click.IntRange(min=1), default=_cores(),
              show_default=True, help="Processes for the all-core figure.")
@user_errors
def bench_generate_command(suite, sets, sizes, images, workers):
    """Images per second for each test set's settings, in one process and on all cores."""
    from .bench import bench_generate
    from .data.suites import load_suite

    spec = load_suite(suite)
    names = _set_names(spec, sets)
    try:
        size_list = [int(s) for s in sizes.split(",")]
    except ValueError:
        raise click.BadParameter(f"{sizes!r} is not a list of integers", param_hint="--sizes")
    table = bench_generate(spec, names, size_list, images, workers)
    click.echo(table.to_string(index=False))


def _say_lsp(data: str) -> None:
    """Tell which LSP folders ``lsp:DIR`` holds and what their annotations look like."""
    from .data.lsp import find_lsp

    for part in find_lsp(data[4:]).values():
        click.echo(f"{part.folder}: {part.joints.describe()}")


def _names(value: str, known: tuple, option: str) -> list[str]:
    """A comma-separated ``value`` checked against ``known`` (``all`` means every one)."""
    names = list(known) if value == "all" else [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise click.BadParameter(f"unknown value {(unknown or [value])[0]!r}; known: "
                                 f"{', '.join(known)} or all", param_hint=option)
    return names


@main.command()
@click.argument("run", required=False, type=click.Path(path_type=Path))
@click.option("--suite", help="Suite (name or .toml) whose sets are evaluated [the run's own: "
              "stickman, or class for a run trained with --suite class].")
@CLASS_DIR_OPTION
@click.option("--sets", default="test1,test2,test3,test4", show_default=True,
              help="Comma-separated set names of the suite.")
@click.option("--dataset", "datasets", multiple=True, type=click.Path(path_type=Path),
              help="Evaluate on a dataset folder (from `stickpose generate`) instead of the "
                   "suite's sets; repeatable.")
@click.option("--data", help="lsp:DIR: evaluate on LSP's test images (1001-2000) with the LSP "
              "benchmark (PCK@0.2 per part, AUC, strict PCP) as well.")
@click.option("--decoders", default="all", show_default=True,
              help="'all' or a comma-separated list (see `stickpose decoders`); 'all' skips "
                   "the slow gmm-sklearn reference and an untrained fc.")
@click.option("--occlusion", default="none", show_default=True,
              help="Comma-separated: none, random (random erasing), upper, lower (body half "
                   "blacked out), or all.")
@click.option("--count", type=POSITIVE, help="Images per set [all of them].")
@click.option("--sigma", type=click.FloatRange(min=0.1),
              help="Spread (heatmap px) of DARK's blur and soft-argmax's window [the run's "
                   "training sigma].")
@click.option("--batch-size", type=POSITIVE, default=64, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the random erasing.")
@click.option("--predictions", type=click.Path(path_type=Path),
              help="Score keypoints made by another tool instead of a run: .npy (N,16,2) "
                   "or COCO results .json, against one --dataset.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Folder for evaluation.csv and evaluation.md [RUN/evaluation].")
@user_errors
def evaluate(run, suite, class_dir, sets, datasets, data, decoders, occlusion, count, sigma,
             batch_size, seed, predictions, out):
    """Score a trained run with every decoder on the same heatmaps (seed 000's table per
    set: PCK, MSE, MPJPE, class score, swaps, timings), optionally under occlusion.

    \b
    stickpose evaluate runs/RUN                          test1-test4, every decoder
    stickpose evaluate runs/RUN --occlusion all          plus the occlusion experiments
    stickpose evaluate --predictions P.npy --dataset D   keypoints from another tool
    stickpose evaluate runs/RUN --suite class --class-dir DIR   the class's test1-test4
    stickpose evaluate runs/RUN --dataset Dataset/Test1  a set in the class's layout
    """
    from .data.occlusion import OCCLUSIONS
    from .evaluate import (dataset_loaders, evaluate_lsp_run, evaluate_run, evaluated_suite,
                           record_results, report, score_predictions, suite_loaders)
    from .files import write_atomic

    kinds = _names(occlusion, ("none",) + OCCLUSIONS, "--occlusion")
    if predictions:
        if run or len(datasets) != 1:
            raise click.UsageError("--predictions takes exactly one --dataset and no RUN")
        results = score_predictions(predictions, datasets[0])
        title = f"{predictions} on {datasets[0]}"
    else:
        if run is None:
            raise click.UsageError("give a RUN directory, or --predictions FILE --dataset DIR")
        if data:
            if not data.startswith("lsp:"):
                raise click.BadParameter(f"{data!r}: expected lsp:DIR", param_hint="--data")
            if kinds != ["none"]:
                raise click.UsageError("--occlusion applies to stickman sets, not --data lsp")
            _say_lsp(data)
            results = evaluate_lsp_run(run, data[4:], decoders, count, batch_size, sigma)
        else:
            if datasets:
                if suite or class_dir:
                    raise click.UsageError("--dataset replaces the suite's sets; give "
                                           "either --dataset or --suite/--class-dir")
                loaders, relabel = dataset_loaders(datasets, count)
            else:
                spec = evaluated_suite(run, suite, class_dir)
                loaders, relabel = suite_loaders(spec, _set_names(spec, sets), count)
            with progress_bars() as bar:
                step = bar("evaluating", len(loaders) * len(kinds))
                results = evaluate_run(run, loaders, decoders, kinds, batch_size, seed, sigma,
                                       progress=lambda label: step(1), relabel=relabel)
        title = f"stickpose evaluate {run}"
        out = out or Path(run) / "evaluation"
        record_results(run, results)
    text = report(results, title)
    click.echo(text)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "evaluation.csv", results.to_csv(index=False).encode())
        write_atomic(out / "evaluation.md", text.encode())
        click.echo(f"tables -> {out / 'evaluation.csv'}, {out / 'evaluation.md'}")


@main.command("decoders")
def decoders_command():
    """List the heatmap decoders."""
    from .codecs.decoders import DECODERS

    for name in DECODERS.names():
        click.echo(f"{name:12} {DECODERS.get(name).summary}")


@main.command("train-decoder")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--epochs", type=POSITIVE, default=10, show_default=True)
@click.option("--steps", "steps_per_epoch", type=POSITIVE, default=100, show_default=True)
@click.option("--batch-size", type=POSITIVE, default=32, show_default=True)
@click.option("--learning-rate", type=float, default=1e-3, show_default=True)
@user_errors
def train_decoder(run, epochs, steps_per_epoch, batch_size, learning_rate):
    """Train the fc decoder (seed 000: per joint 2 x 128 dense layers) on a heatmap run's
    frozen heatmaps; saves RUN/decoder-fc.keras for `stickpose evaluate --decoders fc`."""
    from .codecs.fc import FILE_NAME, train_fc

    losses = train_fc(run, epochs, steps_per_epoch, batch_size, learning_rate)
    click.echo(f"fc decoder -> {Path(run) / FILE_NAME}  (validation L1 of normalised "
               f"coordinates {losses['val_loss']:.4f})")


@bench.command("handedness")
@CLASS_DIR_OPTION
@click.option("--seed", type=int, default=0, show_default=True, help="Classifier seed.")
@user_errors
def bench_handedness_command(class_dir, seed):
    """What the left/right convention costs on the class's sets, from the exact labels: the
    class score of perfect keypoints labelled observer-centric, relabelled by the handedness
    classifier, and exact (lower is better)."""
    from .bench import bench_handedness
    from .data.suites import load_suite

    click.echo(bench_handedness(load_suite("class", class_dir), seed)
               .to_string(index=False, float_format="%.3f"))


@bench.command("gmm")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--set", "set_name", default="test1", show_default=True,
              help="Suite set whose images give the heatmaps.")
@click.option("--images", type=POSITIVE, default=50, show_default=True,
              help="Images decoded by both paths (scikit-learn takes ~0.3 s per image).")
@user_errors
def bench_gmm_command(run, set_name, images):
    """The batched GMM decoder against the scikit-learn reference on the same heatmaps:
    ms per image each, the speed-up, and how far apart their keypoints are."""
    from .bench import bench_gmm

    click.echo(bench_gmm(run, set_name, images).to_string(index=False))


@main.group()
def lsp():
    """Leeds Sports Pose tools."""


@lsp.command("score")
@click.argument("predictions", type=click.Path(path_type=Path))
@click.argument("truth", type=click.Path(path_type=Path))
@click.option("--range", "poses", help="Poses of TRUTH scored, 1-based and inclusive as in "
              "MATLAB (e.g. 1001:2000) [1001:2000 for 1000 predictions on LSP, else all].")
@click.option("--out", type=click.Path(path_type=Path), help="Also write the numbers as JSON.")
@user_errors
def lsp_score(predictions, truth, poses, out):
    """Score predictions of any method against LSP ground truth, as the MPII-benchmark
    evaluation code does: PCK@0.2 of the torso per part (left and right averaged) with AUC
    over 0-0.2, and strict PCP per part.

    PREDICTIONS: .mat (variable pred or joints, 2 x 14 x N or 3 x 14 x N, MATLAB's 1-based
    pixels) or .npy (N x 14 x 2, 0-based pixels). TRUTH: an LSP or LSP-extended joints.mat.
    """
    import json

    from .evaluate import lsp_tables, score_lsp
    from .files import write_atomic

    result = score_lsp(predictions, truth, poses)
    click.echo(f"{predictions}: {result['poses']} poses against {truth} "
               f"[{result['range']}]: {result['truth']}")
    click.echo(lsp_tables(result))
    if out:
        write_atomic(out, (json.dumps(result, indent=2) + "\n").encode())
        click.echo(f"numbers -> {out}")


DB_OPTION = click.option("--db", help="Results store: an SQLAlchemy URL (sqlite:///FILE, "
                         "postgresql://...) [$STICKPOSE_DB or a SQLite file in your data "
                         "folder; see --where].")


def _duration(text: str) -> float:
    """``5m``, ``90s``, ``1.5h`` or plain minutes -> minutes."""
    units = {"s": 1 / 60, "m": 1.0, "h": 60.0}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a duration like 5m, 90s or 1.5h",
                                 param_hint="--budget") from None


def _board_options(command):
    for option in reversed([
            click.option("--metric", default="score", show_default=True,
                         help="score (class test score), pck (PCK@0.15), mse or mpjpe."),
            click.option("--arch", help="Only this architecture."),
            click.option("--head", help="Only this head."),
            click.option("--data", help="Only runs trained on stickman, class or lsp."),
            click.option("--suite", type=click.Choice(["stickman", "class"]),
                         help="Whose test1-test4: stickpose's stickman suite or the class's "
                              "own benchmark [stickman; the bare command prints both]."),
            click.option("--decoders", "by_decoder", is_flag=True,
                         help="A row per decoder recorded by `stickpose evaluate`."),
            DB_OPTION]):
        command = option(command)
    return command


def _db(db):
    """A subcommand's --db, else the one given to `stickpose leaderboard` itself."""
    parent = click.get_current_context().parent
    return db or (parent.params.get("db") if parent else None)


def _comparison(db, metric, arch, head, data, by_decoder, suite="stickman"):
    from .leaderboard.board import comparison, for_suite, load
    from .leaderboard.store import open_store

    return comparison(for_suite(load(open_store(db)), suite), metric, arch, head, data,
                      by_decoder, by_data=suite != "stickman")


@main.group(invoke_without_command=True)
@_board_options
@click.option("--format", "fmt", default="table", show_default=True,
              help="table, md, csv, html or json.")
@click.option("--where", is_flag=True, help="Print where the results store is, and stop.")
@click.pass_context
@user_errors
def leaderboard(ctx, db, metric, arch, head, data, by_decoder, suite, fmt, where):
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
    from .leaderboard.board import render
    from .leaderboard.store import where as store_where

    if where:
        click.echo(store_where(db))
        return
    if ctx.invoked_subcommand is not None:
        return
    tables = {name: _comparison(db, metric, arch, head, data, by_decoder, name)
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
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs") / "sweep",
              show_default=True, help="Folder of the sweep's run directories.")
@DB_OPTION
@user_errors
def leaderboard_run(archs, heads, seeds, budget, out, db):
    """Train every architecture x head under the same budget (input 64, width 16, constant
    learning rate), evaluate and record each. Run it again after an interruption: finished
    entries are skipped, a killed one resumes."""
    from .leaderboard.sweep import run_sweep, sweep_configs

    try:
        seed_list = [int(s) for s in seeds.split(",")]
    except ValueError:
        raise click.BadParameter(f"{seeds!r} is not a list of integers", param_hint="--seeds")
    configs = sweep_configs(_names(archs, tuple(ARCH_NAMES), "--archs"),
                            _names(heads, tuple(HEAD_NAMES), "--heads"), seed_list,
                            _duration(budget))
    with progress_bars() as bar:
        step = bar("sweep", len(configs))
        ids = run_sweep(configs, out, _db(db), progress=lambda name: step(1))
    click.echo(f"{len(ids)} entries recorded in {out}")


@leaderboard.command("plot")
@_board_options
@click.option("--out", type=click.Path(path_type=Path), required=True, help="PNG file.")
@user_errors
def leaderboard_plot(db, metric, arch, head, data, by_decoder, suite, out):
    """Grouped bar charts of the comparison table, one panel per test set; with --decoders,
    PCK-vs-threshold curves, a line per decoder."""
    from .leaderboard.board import load, plot, plot_curves
    from .leaderboard.store import open_store

    if out.suffix.lower() != ".png":
        raise click.BadParameter(f"{out} is not a .png file path", param_hint="--out")
    if by_decoder:
        from .leaderboard.board import for_suite
        plot_curves(for_suite(load(open_store(_db(db))), suite or "stickman"), out, arch, head)
    else:
        plot(_comparison(_db(db), metric, arch, head, data, by_decoder, suite or "stickman"),
             metric, out)
    click.echo(f"plot -> {out}")


@leaderboard.command("export")
@click.argument("folder", type=click.Path(path_type=Path))
@DB_OPTION
@user_errors
def leaderboard_export(folder, db):
    """Write stickman.md/.csv/.png, decoders.md and results.csv (importable) to FOLDER,
    each stamped with the command, version and date."""
    import sys

    from .leaderboard.board import export
    from .leaderboard.store import open_store

    command = "stickpose " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["leaderboard"] \
        else f"stickpose leaderboard export {folder}"
    for path in export(open_store(_db(db)), folder, command):
        click.echo(f"-> {path}")


@leaderboard.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@DB_OPTION
@user_errors
def leaderboard_import(file, db):
    """Merge results from elsewhere (a results.csv from `export`, or its rows as JSON);
    entries already in the store are replaced, never duplicated."""
    from .leaderboard.board import import_results
    from .leaderboard.store import open_store

    run_count, result_count = import_results(open_store(_db(db)), file)
    click.echo(f"merged {run_count} runs, {result_count} results from {file}")


@main.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--run", required=True, type=click.Path(path_type=Path), help="A trained run.")
@click.option("--decoder", default="quarter", show_default=True,
              help="Heatmap decoder (see `stickpose decoders`); scalar and integral heads "
                   "need none.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("predictions"),
              show_default=True, help="Folder for NAME.json and NAME.png per image.")
@user_errors
def predict(images, run, decoder, out):
    """Keypoints for any image files: each is padded to a square and resized to the model
    input, and the keypoints are mapped back to its own pixels. Writes NAME.json (x, y and
    score per joint) and NAME.png (the skeleton over the image) to --out."""
    from .predict import predict_images

    results = predict_images(run, list(images), decoder, out,
                             warn=lambda message: click.echo(f"warning: {message}", err=True))
    click.echo(f"{len(results)} of {len(images)} images -> {out}")


@main.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--dataset", type=click.Path(path_type=Path),
              help="A dataset folder to look at [the suite's test1].")
@click.option("--set", "set_name", default="test1", show_default=True,
              help="Suite set used without --dataset.")
@click.option("--n", "count", type=POSITIVE, default=16, show_default=True,
              help="Images on the truth-vs-prediction sheet.")
@click.option("--scan", type=POSITIVE, default=200, show_default=True,
              help="Images searched for the worst ones and averaged for per-joint errors.")
@click.option("--pick", default="0,1", show_default=True,
              help="Comma-separated image indices to draw heatmap grids and GMM clusters for.")
@user_errors
def show(run, dataset, set_name, count, scan, pick):
    """Pictures of a trained run in RUN/show/: truth against prediction, the worst images,
    per-joint errors by decoder, heatmap grids with every decoder's point, GMM clusters and
    the training curves."""
    from .evaluate import load_set, render_set
    from .show import show_run
    from .train import TrainConfig

    if dataset:
        images, truth, _ = load_set(dataset, max(scan, count))
    else:
        from .data.suites import load_suite
        from .train import load_run_suite
        spec = (load_run_suite(TrainConfig.load(Path(run) / "config.json"))
                if (Path(run) / "config.json").is_file() else load_suite("stickman"))
        images, truth, _ = render_set(spec.sets[_set_names(spec, set_name)[0]],
                                      max(scan, count))
    try:
        picks = [int(i) for i in pick.split(",")]
    except ValueError:
        raise click.BadParameter(f"{pick!r} is not a list of image indices", param_hint="--pick")
    if max(picks) >= len(images) or min(picks) < 0:
        raise click.BadParameter(f"image {max(picks)} is outside the {len(images)} images "
                                 "looked at (see --scan)", param_hint="--pick")
    for path in show_run(run, images, truth, count, picks=picks):
        click.echo(f"-> {path}")


@main.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="HTML file [RUN/report.html].")
@user_errors
def report(run, out):
    """One self-contained HTML page for a run: config, curves, evaluation tables, pictures
    (made with `stickpose show` first when missing) and its leaderboard position."""
    from .report import write_report

    out = write_report(run, out)
    click.echo(f"report -> {out}")
