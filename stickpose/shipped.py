"""Files stickpose ships beside its code, at the top of the repository: the benchmark
definitions (``generators/``) and the published board (``leaderboards/results.csv``). A
wheel installs them under ``<prefix>/share/stickpose/`` (pyproject.toml's data-files); a
source checkout (editable installs, tests) is looked in first."""
from __future__ import annotations

import site
import sys
import sysconfig
from pathlib import Path

PUBLISHED = "leaderboards/results.csv"     # the published results, as `export` writes them


def shipped_dirs(name: str) -> list[Path]:
    """The folders ``name`` (``generators``, ``leaderboards``) is found in, the source
    checkout's first; only those that exist."""
    source = Path(__file__).resolve().parents[1] / name
    installed = [Path(base) / "share" / "stickpose" / name
                 for base in (sysconfig.get_path("data"), sys.prefix, site.USER_BASE) if base]
    return [d for d in dict.fromkeys([source, *installed]) if d.is_dir()]


def published_results() -> Path | None:
    """The published board's ``results.csv`` this stickpose ships, None if it has none."""
    folder, name = PUBLISHED.split("/")
    return next((d / name for d in shipped_dirs(folder) if (d / name).is_file()), None)
