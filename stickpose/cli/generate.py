"""``stickpose generate``: render datasets."""
from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from ..data.styles import CLASS_STYLES, STYLES

from .common import (CLASS_DIR_OPTION, IMAGE_SIZE, POSES_HELP, PROBABILITY, SEED, OutputPath, cores,
                     progress_bars, user_errors)


@click.command()
@click.option("--suite", help="Write every set of a suite: a built-in name (stickman) or a "
              ".toml file. Output goes to OUT/SET for each set.")
@click.option("--out", type=OutputPath("folder"),
              help="Output folder. Default: data/SUITE for --suite, else data/generated.")
@click.option("--noise", is_flag=True,
              help="Start from the class training noise (circles 0.5, squares 0.3, "
                   "backgrounds 0.9); --circles etc. still override.")
@click.option("--count", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Images per dataset (with --suite: overrides the suite's counts).")
@click.option("--size", type=IMAGE_SIZE, default=224, show_default=True,
              help="Image side in pixels (with --suite: overrides the suite's).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed.")
@click.option("--circles", type=PROBABILITY, help="Keep adding circles while a draw < P [0].")
@click.option("--squares", type=PROBABILITY, help="Keep adding rectangles while a draw < P [0].")
@click.option("--backgrounds", type=PROBABILITY, help="Chance of a game background [0].")
@click.option("--background-dir", type=click.Path(path_type=Path),
              help="Crop backgrounds from your own images instead of procedural scenes.")
@click.option("--poses", default="procedural", show_default=True,
              help=f"Where the poses come from: {POSES_HELP}.")
@click.option("--placement", type=click.Choice(["stretch", "fit"]), default="stretch",
              show_default=True, help="stretch: bounding box fills the frame (class "
              "benchmark); fit: aspect kept, random scale and position.")
@click.option("--margin", type=click.FloatRange(0.0, 0.45, max_open=True), default=0.05,
              show_default=True,
              help="Empty border on each side, as a fraction of the size.")
@click.option("--labels", type=click.Choice(["observer", "person"]), default="observer",
              show_default=True, help="Left/right convention: observer-centric (the joint "
              "on the image's left is 'right', as for a person facing you) or person-centric.")
@click.option("--occluders", type=PROBABILITY, default=0.0, show_default=True,
              help="Keep adding solid shapes in front of the figure while a draw < P; "
                   "covered joints are marked not visible.")
@click.option("--workers", type=click.IntRange(min=1), default=cores(),
              show_default=True, help="Rendering processes (the output does not depend on it).")
@click.option("--style", type=click.Choice(STYLES), default="stickpose",
              show_default=True, help="Drawing rules. stickpose: anti-aliased sub-pixel "
              "figure, exact float labels. class: the class baseline's drawing to the letter "
              "as its 2021 test images were drawn (whole-pixel 8-connected lines, truncated "
              "head, its squares and 10 px circles, labels truncated to whole pixels; each "
              "axis stretched to [0, S] and no limb at the leftmost or topmost joint). "
              "class-2022: the class's code of today (stretched to [0, S-1], every limb). "
              "Both fill the frame: their margin is 0.")
@CLASS_DIR_OPTION
@click.option("--format", "fmt", type=click.Choice(["stickpose", "class"]), default="stickpose",
              show_default=True, help="stickpose: OUT/SET/images + keypoints.npy + COCO JSON. "
              "class: the class's layout, OUT/Test1/0.png ... + OUT/test1_labels.npy (a "
              "single dataset is written as Test1).")
@click.option("--overwrite", is_flag=True, help="Replace an existing dataset in --out.")
@click.option("--preview", type=OutputPath("file", ".png"),
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
    stickpose generate --suite class-2022 --class-dir DIR    ... drawn by its code of today
    stickpose generate --suite class --class-dir DIR --format class --out Dataset
    """
    from ..data.storage import (check_suite_target, clean_up_after_killed_runs, load_dataset,
                                write_dataset, write_suite)
    from ..data.stickman import StickmanConfig
    from ..data.suites import load_suite
    from ..files import check_writable, write_atomic
    from ..viz import encode_png, preview_sheet

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
        if style in CLASS_STYLES and not from_command_line("margin"):
            margin = 0.0                     # the class's styles fill the frame: no margin
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
    check_writable(out)                       # the default --out (a given one is checked)
    if fmt == "class":
        from ..data.class_format import staged_paths
        targets = staged_paths(names, out)
    else:
        targets = [out / name for name in names] if suite else [out]
    if suite:                   # a folder of sets: not inside a dataset, nothing else in it
        check_suite_target(out, [p.name for p in targets if p != out])
    for target in targets:
        for line in clean_up_after_killed_runs(target):
            click.echo(line)
    if fmt == "class":
        from ..data.class_format import load_class_set, write_class_sets
        folders = write_class_sets(
            render if suite else (lambda folder: {"test1": render(folder / "test1")["test1"]}),
            names, out, overwrite)
        for name, folder in folders.items():
            click.echo(f"{name}: {len(list(folder.glob('*.png')))} images -> {folder} "
                       f"(labels {folder.parent / (folder.name.lower() + '_labels.npy')})")
        if preview:
            from ..viz import contact_sheet
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
