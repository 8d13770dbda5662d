"""``stickpose predict``, ``show`` and ``report``: using a trained run."""
from __future__ import annotations

from pathlib import Path

import click

from .common import (DB_OPTION, FLIP_OPTION, POSITIVE, OutputPath, RunPath,
                     open_results_store, user_errors)


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--run", type=RunPath(), help="A trained run, or pretrained:NAME (a model "
              "shipped with stickpose: `stickpose pretrained`).")
@click.option("--model", type=click.Path(path_type=Path),
              help="An exported model instead of a run (`stickpose export`): an export "
                   "folder, a SavedModel folder or a .tflite file.")
@click.option("--decoder", help="Heatmap decoder of a --run (see `stickpose decoders`) "
              "[quarter]; scalar and integral heads need none, and an export has its own.")
@click.option("--out", type=OutputPath("folder"), default=Path("predictions"),
              show_default=True, help="Folder for NAME.json and NAME.png per image.")
@FLIP_OPTION
@user_errors
def predict(images, run, model, decoder, out, flip):
    """Keypoints for image files (or every image directly inside a folder): each is padded
    to a square and resized to the model input, and the keypoints are mapped back to its own
    pixels. Writes NAME.json (x, y and score per joint) and NAME.png (the skeleton over the
    image) to --out (NAME-2 ... for inputs of the same name)."""
    from ..predict import image_files, predict_exported, predict_images

    if (run is None) == (model is None):
        raise click.UsageError("give either --run RUN or --model EXPORT")
    inputs = image_files(images)

    def warn(message):
        click.echo(f"warning: {message}", err=True)
    if model is not None:
        from ..export import load_exported

        for given, option in ((decoder, "--decoder"), (flip, "--flip")):
            if given:
                raise click.UsageError(f"{option} applies to --run; an export decodes as it "
                                       "was exported (`stickpose export --flip` builds flip "
                                       "averaging in)")
        results = predict_exported(load_exported(model), inputs, out, warn)
    else:
        results = predict_images(run, inputs, decoder or "quarter", out, warn, flip)
    click.echo(f"{len(results)} of {len(inputs)} images -> {out}")


@click.command()
@click.argument("run", type=RunPath())
@click.option("--dataset", type=click.Path(),
              help="A dataset folder (or a set in the class's layout) to look at [the "
                   "suite's test1].")
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
    from ..data.sets import load_set, render_set, suite_set
    from ..show import show_folder, show_run
    from ..runs import RunDir, load_run_suite

    show_folder(run)                               # before any work
    if dataset:
        images, truth, _ = load_set(dataset, max(scan, count))
    else:
        spec = load_run_suite(RunDir(run).config())
        images, truth, _ = render_set(suite_set(spec, set_name, "--set"), max(scan, count))
    try:
        picks = [int(i) for i in pick.split(",")]
    except ValueError:
        raise click.BadParameter(f"{pick!r} is not a list of image indices", param_hint="--pick")
    if max(picks) >= len(images) or min(picks) < 0:
        raise click.BadParameter(f"image {max(picks)} is outside the {len(images)} images "
                                 "looked at (see --scan)", param_hint="--pick")
    for path in show_run(run, images, truth, count, picks=picks):
        click.echo(f"-> {path}")


@click.command()
@click.argument("run", type=RunPath())
@click.option("--out", type=OutputPath("file", ".html"), help="HTML file [RUN/report.html].")
@DB_OPTION
@user_errors
def report(run, out):
    """One self-contained HTML page for a run: config, curves, evaluation tables, pictures
    (made with `stickpose show` first when missing) and its leaderboard position."""
    from ..report import write_report

    out = write_report(run, out, lambda: open_results_store(create=False))
    click.echo(f"report -> {out}")
