"""``stickpose export``: a run's model as a SavedModel or TFLite file, decoder inside."""
from __future__ import annotations


import click
from click.core import ParameterSource

from .common import FLIP_OPTION, POSITIVE, OutputPath, RunPath, user_errors


@click.command()
@click.argument("run", type=RunPath())
@click.option("--format", "format_", type=click.Choice(["saved_model", "tflite"]),
              default="tflite", show_default=True,
              help="saved_model: a TensorFlow SavedModel folder; tflite: model.tflite for "
                   "LiteRT / TensorFlow Lite (phones, boards, browsers).")
@click.option("--decoder", help="Heatmap decoder built into the graph: argmax, quarter, dark "
              "or softargmax [quarter; scalar and integral heads need none].")
@click.option("--int8", is_flag=True, help="TFLite only: quantise the network to 8-bit "
              "integers, calibrated on the run's validation images (the letterbox and the "
              "decoder stay float); the accuracy change is measured and reported.")
@click.option("--calibration", type=POSITIVE, default=200, show_default=True,
              help="Validation images rendered to calibrate --int8 with (at most what the "
              "suite's validation set has: 500 for stickman).")
@click.option("--check", type=POSITIVE, default=200, show_default=True,
              help="Test1 images on which the export is compared with the run (at most "
              "the set's 1000).")
@click.option("--out", type=OutputPath("folder"),
              help="Export folder, new or empty [RUN/export/DECODER[-flip]-FORMAT[-int8]].")
@click.option("--overwrite", is_flag=True, help="Replace an earlier export in --out (only "
              "an export's own files; a folder holding anything else is refused).")
@FLIP_OPTION
@user_errors
def export(run, format_, decoder, int8, calibration, check, out, overwrite, flip):
    """Export a trained run for deployment: one artefact mapping an RGB image of any size
    to 16 keypoints (x, y in the image's pixels) and a score per joint, with the letterbox
    resize and the decoder inside the graph. Signature `serve`: input `images` (B, H, W, 3)
    uint8; outputs `keypoints` (B, 16, 2) and `scores` (B, 16). The folder also holds
    stickpose.json (settings, and how the export agrees with the run on test1).

    \b
    stickpose export runs/RUN                            TFLite float, quarter decoder
    stickpose export runs/RUN --int8                     TFLite int8
    stickpose export runs/RUN --format saved_model --decoder dark
    stickpose export runs/RUN --flip                     flip averaging in the graph
    stickpose predict photo.jpg --model runs/RUN/export/quarter-tflite
    """
    from ..export import export_run

    if not int8 and click.get_current_context().get_parameter_source("calibration") \
            == ParameterSource.COMMANDLINE:
        raise click.UsageError("--calibration applies to --int8 exports only")
    meta = export_run(run, format_, out, decoder, int8, calibration, check, overwrite,
                      say=click.echo, flip=flip)
    result = meta["check"]
    click.echo(f"class score on {result['images']} {result['set']} images (lower is "
               f"better): run {result['score_run']:.4f}, export {result['score_export']:.4f} "
               f"({result['score_export'] - result['score_run']:+.4f}); keypoints "
               f"{result['mean_gap_px']:.3f} px from the run's on average, at most "
               f"{result['max_gap_px']:.3f} px")
    click.echo(f"{meta['format']}{' int8' if meta['int8'] else ''} export, decoder "
               f"{meta['decoder']}{' with flip averaging' if meta['flip'] else ''} -> "
               f"{meta['out']}")
