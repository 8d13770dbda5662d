"""``stickpose leaderboard run``: every architecture x head x seed trained on the same
budget of training images with its recipe, evaluated and recorded; resumable."""
from __future__ import annotations

from pathlib import Path

from ..files import check_stop
from ..runs import TrainConfig
from ..training import check_entries, train_entry
from .recipe import Recipes, budget_epochs
from .store import record_run


def sweep_configs(archs, heads, seeds, images: int, recipes: Recipes,
                  minutes: float | None = None, **overrides) -> list[TrainConfig]:
    """The ``TrainConfig`` of each entry, seed by seed (so that an unfinished sweep has
    every combination at its first seeds): each combination's recipe, then ``overrides``
    (``suite``, ``class_dir``, ``test_count``, or a recipe setting for every entry), trained
    on ``images`` images with the schedule ending there; ``minutes`` adds a time limit.
    Early stopping is off: every entry sees its whole budget."""
    configs = []
    for seed in seeds:
        for arch in archs:
            for head in heads:
                settings = {**recipes.settings(arch, head), **overrides}
                epochs = budget_epochs(images, settings.get("batch_size", 32),
                                       settings.get("steps_per_epoch", 100))
                configs.append(TrainConfig(arch=arch, head=head, seed=seed, epochs=epochs,
                                           patience=epochs, minutes=minutes, **settings))
    return configs


def run_sweep(configs, root: Path, engine, progress=None) -> list[str]:
    """Train, evaluate and record into ``engine`` (``store.open_store``) each config in
    ``root/NAME``. A finished entry is only recorded again; one that was killed resumes
    from its last finished epoch; a broken one starts again. ``progress(name)`` follows
    each entry. Returns the run ids."""
    check_entries({Path(root) / config.name: config for config in configs}, "sweep entry")
    ids = []
    for config in configs:
        check_stop()
        out = Path(root) / config.name
        train_entry(config, out)
        ids.append(record_run(engine, out))
        if progress:
            progress(config.name)
    return ids
