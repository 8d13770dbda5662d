"""``stickpose models``: the model zoo table."""
from __future__ import annotations

import click

from ..models.registry import ARCH_MODULES as ARCH_NAMES, HEAD_NAMES
from .common import (INPUT_SIZE, INPUT_SIZE_HELP, POSITIVE, check_input_size, progress_bars,
                     user_errors)


@click.command()
@click.option("--input-size", type=INPUT_SIZE, default=64, show_default=True,
              help=INPUT_SIZE_HELP)
@click.option("--width", type=POSITIVE, default=32, show_default=True,
              help="Base channels (the models' size scales with its square).")
@click.option("--arch", "archs", type=click.Choice(ARCH_NAMES), multiple=True,
              help="Only these architectures (repeatable) [all].")
@click.option("--head", "heads", type=click.Choice(HEAD_NAMES), multiple=True,
              help="Only these heads (repeatable) [all].")
@click.option("--repeats", type=POSITIVE, default=10, show_default=True,
              help="Timed forward passes per latency figure.")
@user_errors
def models(input_size, width, archs, heads, repeats):
    """Every architecture x head: parameters, FLOPs, measured CPU latency and throughput."""
    from ..models.registry import load_all
    from ..models.profile import model_table

    load_all()
    check_input_size(input_size, archs or ARCH_NAMES)
    total = len(archs or ARCH_NAMES) * len(heads or HEAD_NAMES)
    with progress_bars() as bar:
        table = model_table(input_size, width, list(archs), list(heads), repeats,
                            progress=bar("measuring", total))
    click.echo(table.to_string(index=False))
