"""``stickpose pretrained``: the models shipped with stickpose, and publishing one."""
from __future__ import annotations

from pathlib import Path

import click

from .common import user_errors


@click.group(invoke_without_command=True)
@click.pass_context
@user_errors
def pretrained(ctx):
    """The pretrained models shipped with stickpose: use one wherever a run is taken as
    pretrained:NAME. Each is checked against the SHA-256 recorded when it was published;
    nothing is downloaded.

    \b
    stickpose predict photo.png --run pretrained:class
    stickpose evaluate pretrained:stickman --flip
    stickpose export pretrained:class --out class-model
    stickpose train --suite class --class-dir DIR --init pretrained:class   fine-tune
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..pretrained import PREFIX, manifest, names

    shipped = names()
    if not shipped:
        click.echo("this stickpose ships no pretrained model")
    for name in shipped:
        record = manifest(name)
        click.echo(f"{PREFIX}{name}: {record['description']}")
        click.echo(f"  {record['arch']} / {record['head']}, {record['parameters']:,} "
                   f"parameters, {record['training_images']:,} training images, seed "
                   f"{record['seed']}, on {record['hardware']}")
        for set_name, values in record["sets"].items():
            parts = [f"class score {values['score']:.3f}"] if "score" in values else []
            if "flip_score" in values:
                parts.append(f"flip-tolerant {values['flip_score']:.3f}")
            if "pck" in values:
                parts.append(f"PCK@0.15 {values['pck']:.3f}")
            images = f" ({values['images']:,} images)" if "images" in values else ""
            click.echo(f"  {set_name}{images}: {'  '.join(parts)}")
        click.echo(f"  reproduce: {record['command']}")


@pretrained.command("publish")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--name", required=True, help="Its name: pretrained:NAME.")
@click.option("--command", "command_", required=True,
              help="The command that trains it again, as a user would type it.")
@click.option("--description", required=True, help="One line: what it is.")
@click.option("--replace", is_flag=True, help="Replace the model shipped under NAME.")
@user_errors
def publish(run, name, command_, description, replace):
    """Ship finished run RUN as pretrained:NAME (for stickpose's developers: it writes
    stickpose/pretrained/NAME/ into this checkout, to be committed): the model without its
    optimizer state, its config, history, evaluation and handedness classifier, and
    pretrained.json with the command, the scores and every file's SHA-256."""
    from ..pretrained import publish as publish_run

    folder = publish_run(run, name, command_, description, replace)
    size = sum(p.stat().st_size for p in folder.iterdir())
    click.echo(f"pretrained:{name} -> {folder} ({size / 1e6:.1f} MB)")
