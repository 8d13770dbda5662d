"""``stickpose leaderboard run``: every architecture x head trained under the same budget,
evaluated and recorded; resumable."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

# every entry shares these settings; only arch, head and seed change
SWEEP_SETTINGS = dict(input_size=64, width=16, schedule="constant", epochs=1000,
                      steps_per_epoch=50, patience=1000)


def sweep_configs(archs, heads, seeds, minutes: float, **overrides) -> list:
    """The ``TrainConfig`` of each entry, in order."""
    from ..train import TrainConfig

    settings = {**SWEEP_SETTINGS, **overrides}
    return [TrainConfig(arch=arch, head=head, seed=seed, minutes=minutes, **settings)
            for arch in archs for head in heads for seed in seeds]


def run_sweep(configs, root: Path, url: str | None = None, progress=None) -> list[str]:
    """Train, evaluate and record each config in ``root/NAME``. A finished entry (its
    ``evaluation.json`` written) is only recorded again; one that was killed resumes from
    its last finished epoch. ``progress(name)`` follows each entry. Returns the run ids."""
    from .store import open_store, record
    from ..train import train

    engine = open_store(url)                       # a bad --db fails before any training
    ids = []
    for config in configs:
        out = Path(root) / config.name
        finished = (out / "evaluation.json").is_file() and not (out / "backup").exists()
        if not finished:
            resume = (out / "config.json").is_file() and (out / "backup").is_dir()
            train(config, out, resume=resume, overwrite=out.exists() and not resume,
                  verbose=0)
        evaluation = json.loads((out / "evaluation.json").read_text())
        head_output = "quarter" if config.head == "heatmap" else "coordinates"
        ids.append(record(engine, asdict(config), evaluation, evaluation["sets"], head_output))
        if progress:
            progress(config.name)
    return ids
