"""``stickpose lsp``: Leeds Sports Pose tools."""
from __future__ import annotations

from pathlib import Path

import click

from .common import OutputPath, user_errors


@click.group()
def lsp():
    """Leeds Sports Pose tools."""


@lsp.command("score")
@click.argument("predictions", type=click.Path(path_type=Path))
@click.argument("truth", type=click.Path(path_type=Path))
@click.option("--range", "poses", help="Poses of TRUTH scored, 1-based and inclusive as in "
              "MATLAB (e.g. 1001:2000) [1001:2000 for 1000 predictions on LSP, else all].")
@click.option("--out", type=OutputPath("file", ".json"),
              help="Also write the numbers as JSON.")
@user_errors
def lsp_score(predictions, truth, poses, out):
    """Score predictions of any method against LSP ground truth, as the MPII-benchmark
    evaluation code does: PCK@0.2 of the torso per part (left and right averaged) with AUC
    over 0-0.2, and strict PCP per part.

    PREDICTIONS: .mat (variable pred or joints, 2 x 14 x N or 3 x 14 x N, MATLAB's 1-based
    pixels) or .npy (N x 14 x 2, 0-based pixels). TRUTH: an LSP or LSP-extended joints.mat.
    """
    import json

    from ..evaluate import lsp_tables, score_lsp
    from ..files import write_atomic

    result = score_lsp(predictions, truth, poses)
    click.echo(f"{predictions}: {result['poses']} poses against {truth} "
               f"[{result['range']}]: {result['truth']}")
    click.echo(lsp_tables(result))
    if out:
        write_atomic(out, (json.dumps(result, indent=2) + "\n").encode())
        click.echo(f"numbers -> {out}")
