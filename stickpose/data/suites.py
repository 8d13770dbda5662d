"""Benchmark suites as data: named, seeded sets read from ``generators/*.toml``."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import StickposeError
from ..shipped import shipped_dirs
from .class_baseline import class_files, resolve
from .poses import SAMPLERS, split_pose_sources
from .stickman import StickmanConfig


class SuiteError(StickposeError):
    """An unknown suite, or a suite file that does not follow the format."""


@dataclass(frozen=True)
class SetSpec:
    """One named set of a suite: its generator config, seed and (for datasets) image count."""

    name: str
    seed: int
    config: StickmanConfig
    count: int | None = None   # None for an infinite training stream
    render_size: int | None = None   # a stream: render at this size, then resize to the
                                     # model input (None: render at the input size)


@dataclass(frozen=True)
class Suite:
    """A versioned collection of datasets (``sets``) and training ``streams``."""

    name: str
    version: int
    description: str
    sets: dict[str, SetSpec]
    streams: dict[str, SetSpec]
    path: Path


def suite_dirs() -> list[Path]:
    """Folders searched for built-in suites: the source checkout, then installed data."""
    return shipped_dirs("generators")


def is_builtin(suite: Suite) -> bool:
    """Whether ``suite`` is the built-in suite of its name, read from stickpose's own file
    (not a user's edited copy, whatever its ``name`` says)."""
    return any(suite.path.resolve() == (d / f"{suite.name}.toml").resolve()
               for d in suite_dirs())


def known_suites() -> list[str]:
    """Names of the built-in suites (the files of ``generators/`` with a ``[suite]`` table;
    the others there are pose samplers and training recipes)."""
    def is_suite(path: Path) -> bool:
        try:
            return "suite" in tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            return False
    return sorted({p.stem for d in suite_dirs() for p in d.glob("*.toml") if is_suite(p)})


def _spec(name: str, values: dict, defaults: dict, where: str, stream: bool,
          class_files: dict | None) -> SetSpec:
    merged = {**defaults, **values}

    def located(value, key):                   # paths in a suite are relative to its file
        value = resolve(value, class_files, f"{where} [{name}] {key}")
        if isinstance(value, str) and value not in SAMPLERS and not value.startswith("lsp:") \
                and not Path(value).is_absolute():
            return str(Path(where).parent / value)
        return value
    if "background_dir" in merged:
        merged["background_dir"] = located(merged["background_dir"], "background_dir")
    if isinstance(merged.get("poses"), str):      # each source of a mixture
        merged["poses"] = ",".join(
            located(source, "poses") + ("" if weight is None else f":{weight:g}")
            for source, weight in split_pose_sources(merged["poses"]))
    seed, count = merged.pop("seed", None), merged.pop("count", None)
    render_size = merged.pop("render_size", None) if stream else None
    if render_size is not None and (not isinstance(render_size, int) or render_size < 32):
        raise SuiteError(f"{where}: stream {name!r} render_size {render_size!r} is not an "
                         "integer >= 32")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise SuiteError(f"{where}: set {name!r} needs an integer seed from 0 to 2^32 - 1, "
                         f"got {seed!r}")
    if not stream and (not isinstance(count, int) or count < 1):
        raise SuiteError(f"{where}: set {name!r} needs a positive integer count, got {count!r}")
    config = StickmanConfig.from_dict(merged, where=f"{where} [{name}]")
    return SetSpec(name, seed, config, None if stream else count, render_size)


def _find(name_or_path: str) -> Path:
    """The file of a suite given by built-in name or by path."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        found = [d / f"{name_or_path}.toml" for d in suite_dirs()
                 if (d / f"{name_or_path}.toml").is_file()]
        if not found:
            raise SuiteError(f"unknown suite {name_or_path!r}; known suites: "
                             f"{', '.join(known_suites()) or 'none found'} (or give a .toml path)")
        path = found[0]
    if not path.is_file():
        raise SuiteError(f"suite file {path} does not exist")
    return path


def _document(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    """A suite file's tables, checked, with those of the suite it ``extends`` (a built-in
    name or a path relative to it) beneath: its [defaults] keys and each set's and stream's
    keys override the base's, and its sets and streams are added to the base's."""
    try:
        document = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SuiteError(f"suite file {path} is not valid TOML: {error}") from None
    unknown = sorted(set(document) - {"suite", "defaults", "sets", "streams"})
    if unknown:
        raise SuiteError(f"{path}: unknown table(s) {', '.join(unknown)}; "
                         "expected suite, defaults, sets, streams")
    for table in ("suite", "defaults", "sets", "streams"):
        if not isinstance(document.get(table, {}), dict):
            raise SuiteError(f"{path}: [{table}] must be a table, got {document[table]!r}")
    for table in ("sets", "streams"):
        for name, values in document.get(table, {}).items():
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
                raise SuiteError(f"{path}: [{table}.{name}]: a set's name is a plain name "
                                 "(letters, digits, - and _), because it names a folder")
            if not isinstance(values, dict):
                raise SuiteError(f"{path}: [{table}.{name}] must be a table, got {values!r}")
    base_name = document.get("suite", {}).get("extends")
    if base_name is None:
        return document
    if not isinstance(base_name, str) or not base_name.strip():
        raise SuiteError(f"{path}: extends {base_name!r} is not a suite name or .toml path")
    base_path = _find(base_name if not base_name.endswith(".toml")
                      else str(path.parent / base_name))
    if base_path.resolve() in [p.resolve() for p in (*chain, path)]:
        raise SuiteError(f"{path}: extends {base_name!r}, which extends it back")
    base = _document(base_path, (*chain, path))
    merged = {"suite": {k: v for k, v in document.get("suite", {}).items() if k != "extends"},
              "defaults": {**base.get("defaults", {}), **document.get("defaults", {})}}
    for table in ("sets", "streams"):
        ours = document.get(table, {})
        merged[table] = {name: {**values, **ours.get(name, {})}
                         for name, values in base.get(table, {}).items()}
        merged[table].update({n: v for n, v in ours.items() if n not in merged[table]})
    return merged


def load_suite(name_or_path: str, class_dir: str | Path | None = None) -> Suite:
    """A suite by built-in name (``stickman``) or by the path of a TOML file. ``class_dir``:
    the user's copy of the class baseline, for suites that read its files
    (``class:test_split`` etc., see ``class_baseline``)."""
    path = _find(name_or_path)
    document = _document(path)
    head = document.get("suite", {})
    defaults = document.get("defaults", {})
    if not isinstance(head.get("version", 1), int):
        raise SuiteError(f"{path}: suite version {head['version']!r} is not an integer")
    files = None if class_dir is None else class_files(class_dir)
    sets = {n: _spec(n, v, defaults, str(path), False, files)
            for n, v in document.get("sets", {}).items()}
    stream_defaults = {k: v for k, v in defaults.items() if k != "count"}
    streams = {n: _spec(n, v, stream_defaults, str(path), True, files)
               for n, v in document.get("streams", {}).items()}
    if not sets:
        raise SuiteError(f"{path}: no [sets.NAME] table; a suite needs at least one set")
    return Suite(head.get("name", path.stem), int(head.get("version", 1)),
                 head.get("description", ""), sets, streams, path)
