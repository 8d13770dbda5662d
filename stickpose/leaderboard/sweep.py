"""``stickpose leaderboard run``: every architecture x head trained under the same budget,
evaluated and recorded; resumable."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..files import check_stop
from ..runs import BROKEN, NEW, FOREIGN, RunDir, RunError, TrainConfig
from ..train import train
from .recipe import SWEEP_SETTINGS
from .store import record_run


def sweep_configs(archs, heads, seeds, minutes: float, **overrides) -> list[TrainConfig]:
    """The ``TrainConfig`` of each entry, in order."""
    settings = {**SWEEP_SETTINGS, **overrides}
    return [TrainConfig(arch=arch, head=head, seed=seed, minutes=minutes, **settings)
            for arch in archs for head in heads for seed in seeds]


def check_entries(configs, root: Path) -> None:
    """Refuse, before any training, a sweep folder whose entries were trained with other
    settings (another budget, say) or that holds files of another kind."""
    for config in configs:
        run = RunDir(Path(root) / config.name)
        state = run.state()
        if state.kind == FOREIGN:
            raise RunError(f"sweep entry {run}: {state.why}; choose another --out")
        if state.kind not in (NEW, BROKEN):
            theirs = replace(run.config(), class_dir=config.class_dir)
            if theirs != config:
                changed = [f"{k} {getattr(theirs, k)!r} (now {getattr(config, k)!r})"
                           for k in config.__dataclass_fields__
                           if getattr(theirs, k) != getattr(config, k)]
                raise RunError(f"sweep entry {run} was trained with other settings: "
                               f"{', '.join(changed)}; use another --out to keep both")


def run_sweep(configs, root: Path, engine, progress=None) -> list[str]:
    """Train, evaluate and record into ``engine`` (``store.open_store``) each config in
    ``root/NAME``. A finished entry is only recorded again; one that was killed resumes
    where it was (its training time so far counts against its budget); a broken one starts
    again. ``progress(name)`` follows each entry. Returns the run ids."""
    check_entries(configs, root)
    ids = []
    for config in configs:
        check_stop()
        out = Path(root) / config.name
        kind = RunDir(out).state().kind
        train(config, out, resume=kind not in (NEW, BROKEN), overwrite=kind == BROKEN,
              verbose=0)
        ids.append(record_run(engine, out))
        if progress:
            progress(config.name)
    return ids
