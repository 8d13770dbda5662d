"""``stickpose bench``: benchmarks that print measured numbers."""
from __future__ import annotations

from pathlib import Path

import click

from .common import (CLASS_DIR_OPTION, POSITIVE, SEED, OutputPath, RunPath, cores,
                     progress_bars, set_names, user_errors)


@click.group()
def bench():
    """Benchmarks that print measured numbers."""


@bench.command("generate")
@click.option("--suite", default="stickman", show_default=True, help="Suite to measure.")
@click.option("--sets", default="test1,test2,test3,test4", show_default=True,
              help="Comma-separated set names of the suite.")
@click.option("--sizes", default="224,128", show_default=True, help="Comma-separated sizes.")
@click.option("--images", type=click.IntRange(min=64), default=8192, show_default=True,
              help="Images rendered per measurement.")
@click.option("--workers", type=click.IntRange(min=1), default=cores(),
              show_default=True, help="Processes for the all-core figure.")
@user_errors
def bench_generate_command(suite, sets, sizes, images, workers):
    """Images per second for each test set's settings, in one process and on all cores."""
    from ..bench import bench_generate
    from ..data.suites import load_suite

    spec = load_suite(suite)
    names = set_names(spec, sets)
    try:
        size_list = [int(s) for s in sizes.split(",")]
    except ValueError:
        raise click.BadParameter(f"{sizes!r} is not a list of integers", param_hint="--sizes")
    table = bench_generate(spec, names, size_list, images, workers)
    click.echo(table.to_string(index=False))


@bench.command("handedness")
@CLASS_DIR_OPTION
@click.option("--seed", type=SEED, default=0, show_default=True, help="Classifier seed.")
@user_errors
def bench_handedness_command(class_dir, seed):
    """What the left/right convention costs on the class's sets, from the exact labels: the
    class score of perfect keypoints labelled observer-centric, relabelled by the handedness
    classifier, and exact (lower is better)."""
    from ..bench import bench_handedness
    from ..data.suites import load_suite

    if class_dir is None:
        raise click.UsageError("bench handedness measures the class's test sets: give the "
                               "class baseline's folder with --class-dir DIR")
    click.echo(bench_handedness(load_suite("class", class_dir), seed)
               .to_string(index=False, float_format="%.3f"))


@bench.command("gmm")
@click.argument("run", type=RunPath())
@click.option("--set", "set_name", default="test1", show_default=True,
              help="Suite set whose images give the heatmaps.")
@click.option("--images", type=POSITIVE, default=50, show_default=True,
              help="Images decoded by both paths (scikit-learn takes ~0.3 s per image).")
@user_errors
def bench_gmm_command(run, set_name, images):
    """The batched GMM decoder against the scikit-learn reference on the same heatmaps:
    ms per image each, the speed-up, and how far apart their keypoints are."""
    from ..bench import bench_gmm

    click.echo(bench_gmm(run, set_name, images).to_string(index=False))


@bench.command("transfer")
@CLASS_DIR_OPTION
@click.option("--out", type=OutputPath("folder"), default=Path("runs/transfer"),
              show_default=True, help="Folder of the benchmark's runs (kept: run the command "
              "again after an interruption and it goes on where it stopped).")
@click.option("--poses", multiple=True, default=("procedural", "procedural2"),
              show_default=True, help="A pose source to train on, as `train --poses` takes "
              "it (a mix such as procedural2:0.7,bank.npy:0.3 is one source); repeat it for "
              "more.")
@click.option("--epochs", type=POSITIVE, default=30, show_default=True,
              help="Epochs of 100 steps per run (the cosine schedule ends there).")
@click.option("--test-count", type=POSITIVE, default=None,
              help="Images of each test set scored [all: 1000 stickman, 879 class-poses].")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Training seed.")
@user_errors
def bench_transfer_command(class_dir, out, poses, epochs, test_count, seed):
    """The transfer gap of procedural poses: the default model (hourglass/heatmap) and a
    coordinate-head one (hourglass/integral), trained on each pose source, scored with the
    class score (lower is better) on stickpose's test1-test4 and on the class's MPII test
    poses drawn the same way (suite class-poses: same renderer, noise and labels). The gap
    is how much worse the real poses score. Four runs of about 9 minutes each on 2 cores."""
    from ..bench import bench_transfer, transfer_entries
    from ..data.suites import load_suite
    from ..files import write_atomic

    real = load_suite("class-poses", class_dir)
    from ..data.poses import absolute_pose_sources

    sources = list(dict.fromkeys(absolute_pose_sources(source) for source in poses))
    settings = {"epochs": epochs, "seed": seed}
    if test_count:
        settings["test_count"] = test_count
    entries = transfer_entries(out, sources, **settings)
    with progress_bars() as bar:
        step = bar("transfer", len(entries))
        table = bench_transfer(entries, real, test_count, progress=lambda name: step(1))
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    write_atomic(out / "transfer.csv", table.to_csv(index=False).encode())
    click.echo(f"table -> {out / 'transfer.csv'}")


@bench.command("flip")
@click.argument("run", type=RunPath())
@click.option("--suite", help="Suite whose sets are measured [the run's own].")
@CLASS_DIR_OPTION
@click.option("--sets", default="test1,test2,test3,test4", show_default=True,
              help="Comma-separated set names of the suite.")
@click.option("--count", type=POSITIVE, help="Images per set [all of them].")
@click.option("--decoder", help="Heatmap decoder [the head's own: quarter; none for scalar "
              "and integral heads].")
@user_errors
def bench_flip_command(run, suite, class_dir, sets, count, decoder):
    """Test-time flip averaging against the plain prediction, side by side on the same
    images: per set the class score (lower is better), the flip-tolerant score and PCK@0.15
    of each, the gain (flip minus plain) and the cost (flip's ms per image over plain's,
    whole pipeline: resize, network, decoding)."""
    from ..bench import bench_flip
    from ..evaluate import evaluation_sets, run_config

    names = list(dict.fromkeys(n.strip() for n in sets.split(",") if n.strip()))
    if not names:
        raise click.BadParameter(f"{sets!r} names no set", param_hint="--sets")
    chosen = evaluation_sets(run_config(run), suite, class_dir, names, count=count)
    with progress_bars() as bar:
        step = bar("bench flip (plain, then flipped)", 2 * len(chosen))
        table = bench_flip(run, chosen, decoder, progress=lambda label: step(1))
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if table["images"].min() < FEW_IMAGES:
        click.echo(f"warning: {table['images'].min()} images a set: a pass takes "
                   "milliseconds, so 'cost x' is mostly noise; time at least "
                   f"{FEW_IMAGES} images a set", err=True)


#: below this many images a set, bench flip's timings are noise (one batch or less)
FEW_IMAGES = 256


@bench.command("export")
@click.argument("run", type=RunPath())
@click.option("--decoder", help="Heatmap decoder of every backend [quarter; none for scalar "
              "and integral heads].")
@click.option("--images", type=POSITIVE, default=1000, show_default=True,
              help="Test1 images scored and pushed through in batches.")
@click.option("--single", type=POSITIVE, default=100, show_default=True,
              help="One-image calls timed for the batch-1 latency.")
@click.option("--batch", type=POSITIVE, default=64, show_default=True,
              help="Batch size of the throughput figure.")
@click.option("--calibration", type=POSITIVE, default=200, show_default=True,
              help="Validation images calibrating the int8 model.")
@user_errors
def bench_export_command(run, decoder, images, single, batch, calibration):
    """The run's model in Keras, as a SavedModel, and as TFLite float and int8, side by
    side on this machine: ms per image at batch 1, images/s at --batch and the class
    score on test1 (lower is better), each from uint8 images to keypoints in their pixels
    (letterbox and decoder included). Exports are made in a temporary folder."""
    from ..bench import bench_export

    with progress_bars() as bar:
        step = bar("bench export", 7)
        table = bench_export(run, decoder, images, single, batch, calibration,
                             say=lambda message: step(1))
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
