"""``stickpose models`` (the model zoo table) and ``stickpose check-model``."""
from __future__ import annotations

import click

from .common import (INPUT_SIZE, INPUT_SIZE_HELP, POSITIVE, NamesOption, check_input_size,
                     parse_arch_options, progress_bars, user_errors)


@click.command()
@click.option("--input-size", type=INPUT_SIZE, default=64, show_default=True,
              help=INPUT_SIZE_HELP)
@click.option("--width", type=POSITIVE, default=32, show_default=True,
              help="Base channels (the models' size scales with its square).")
@click.option("--arch", "archs", cls=NamesOption, registry="architecture", multiple=True,
              help="Only these architectures (repeatable) [all registered].")
@click.option("--head", "heads", cls=NamesOption, registry="head", multiple=True,
              help="Only these heads (repeatable) [all registered].")
@click.option("--repeats", type=POSITIVE, default=10, show_default=True,
              help="Timed forward passes per latency figure.")
@user_errors
def models(input_size, width, archs, heads, repeats):
    """Every architecture x head: parameters, FLOPs, measured CPU latency and throughput.

    Lists stickpose's own and every installed package's (entry points), or the ones
    --arch / --head name, your own included (MODULE:NAME, FILE.py:NAME)."""
    from ..models.registry import ARCHS, HEADS, PluginError
    from ..models.profile import model_table

    given = bool(archs)
    archs, heads = list(archs) or ARCHS.names(), list(heads) or HEADS.names()
    usable = []
    for arch in archs:
        try:
            check_input_size(input_size, [arch])
            usable.append(arch)
        except PluginError as error:
            if given:
                raise
            click.echo(f"warning: skipped {error}", err=True)   # a broken package's name
        except click.BadParameter:
            if given:
                raise
            usable.append(arch)                   # measured at its own smallest size
    for name in heads:
        HEADS.get(name)
    with progress_bars() as bar:
        table = model_table(input_size, width, usable, heads, repeats,
                            progress=bar("measuring", len(usable) * len(heads)))
    click.echo(table.to_string(index=False))


@click.command("check-model")
@click.argument("arch")
@click.option("--head", "heads", cls=NamesOption, registry="head", multiple=True,
              help="Only these heads (repeatable) [every registered head].")
@click.option("--input-size", type=INPUT_SIZE, default=64, show_default=True,
              help="Input side in pixels the model is built at.")
@click.option("--width", type=POSITIVE, default=8, show_default=True,
              help="Base channels (small: the check builds and trains a step per head).")
@click.option("--depth", type=POSITIVE, default=1, show_default=True,
              help="Blocks per stage.")
@click.option("--arch-option", "arch_options", multiple=True, metavar="KEY=VALUE",
              help="An option of the builder (repeatable), as for `stickpose train`.")
@user_errors
def check_model(arch, heads, input_size, width, depth, arch_options):
    """Check that ARCH (a registered name, MODULE:NAME or FILE.py:NAME) works with stickpose:
    built with every head at a small size, a forward pass, a training step, saved and
    reloaded. One line per head; exit status 1 if any fails. From Python, for your own
    tests: stickpose.check_model("my_nets:tiny_net")."""
    from ..models.check import check_model as run_checks
    checks = run_checks(arch, list(heads) or None,
                        input_size, width, depth, **parse_arch_options(arch_options))
    for check in checks:
        click.echo(check.line())
    failed = [c for c in checks if not c.ok]
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(checks)} check(s) failed")
    click.echo(f"{arch}: all {len(checks)} head(s) pass")
