"""``stickpose leaderboard run``: every architecture x head trained under the same budget,
evaluated and recorded; resumable."""
from __future__ import annotations

from pathlib import Path

from ..files import check_stop
from ..runs import TrainConfig
from ..train import check_entries, train_entry
from .recipe import SWEEP_SETTINGS
from .store import record_run


def sweep_configs(archs, heads, seeds, minutes: float, **overrides) -> list[TrainConfig]:
    """The ``TrainConfig`` of each entry, in order."""
    settings = {**SWEEP_SETTINGS, **overrides}
    return [TrainConfig(arch=arch, head=head, seed=seed, minutes=minutes, **settings)
            for arch in archs for head in heads for seed in seeds]


def run_sweep(configs, root: Path, engine, progress=None) -> list[str]:
    """Train, evaluate and record into ``engine`` (``store.open_store``) each config in
    ``root/NAME``. A finished entry is only recorded again; one that was killed resumes
    where it was (its training time so far counts against its budget); a broken one starts
    again. ``progress(name)`` follows each entry. Returns the run ids."""
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
