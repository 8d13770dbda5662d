"""``stickpose poses``: where the training poses come from, and how they differ."""
from __future__ import annotations

import click

from .common import POSES_HELP, SEED, OutputPath, user_errors


@click.group()
def poses():
    """Pose sources: compare the procedural samplers with real poses."""


@poses.command("compare")
@click.argument("bank")
@click.option("--against", default="procedural", show_default=True,
              help=f"The poses compared with BANK: {POSES_HELP}.")
@click.option("--count", type=click.IntRange(1, 1_000_000), default=10000, show_default=True,
              help="Poses drawn from a sampler or a mix (a single bank gives all its poses).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of those draws.")
@click.option("--out", type=OutputPath("file", ".png"),
              help="Also draw each feature's two histograms over each other, the largest "
                   "difference first, into this PNG.")
@click.option("--format", "fmt", type=click.Choice(["table", "md", "csv", "json"]),
              default="table", show_default=True, help="How the table is printed.")
@user_errors
def compare(bank, against, count, seed, out, fmt):
    """How the poses of --against differ from those of BANK (the reference, usually real
    poses): per feature of the 2-D skeleton (bone lengths over the torso, elbow, knee, hip,
    shoulder and neck angles, trunk tilt, aspect ratio, crossing limbs, left/right
    foreshortening), both means and standard deviations and the Wasserstein distance, also
    divided by BANK's standard deviation (W/σ) so that features compare. Largest first.

    \b
    stickpose poses compare train_split.npy --out procedural.png
    stickpose poses compare train_split.npy --against procedural2
    """
    from ..data.pose_stats import comparison_figure, feature_table, pose_features, source_poses
    from ..files import write_atomic

    reference, about_bank = source_poses(bank, count, seed)
    mine, about_mine = source_poses(against, count, seed)
    mine_features, bank_features = pose_features(mine), pose_features(reference)
    table = feature_table(mine_features, bank_features)
    shown = table.drop(columns="meaning").rename(columns={
        "reference mean": "bank mean", "reference std": "bank std", "distance": "W",
        "distance / spread": "W/σ"})
    click.echo(f"mean, std: {about_mine}\nbank: {about_bank}\nW/σ summed over the features: "
               f"{table['distance / spread'].sum():.3f} (n/a: a feature the poses do not "
               "vary in)")
    if fmt == "csv":
        click.echo(shown.to_csv(index=False), nl=False)
    elif fmt == "json":
        click.echo(shown.to_json(orient="records", indent=2))
    elif fmt == "md":
        click.echo(shown.to_markdown(index=False, floatfmt=".3f"))
    else:
        click.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if out:
        write_atomic(out, comparison_figure(mine_features, bank_features, table, against, bank))
        click.echo(f"histograms -> {out}")
