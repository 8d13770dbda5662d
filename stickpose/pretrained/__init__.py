"""Pretrained models shipped inside the package: ``pretrained:NAME`` stands for a trained run
wherever one is taken (``predict --run``, ``evaluate``, ``export``, ``show``, ``train
--init``).

Each one is a folder ``stickpose/pretrained/NAME/`` holding a finished run's files (the
model without its optimizer state, ``config.json``, ``history.csv``, ``evaluation.json``
and, where it has one, the handedness classifier) and ``pretrained.json``: what it is,
the command that reproduces it, its scores and each file's SHA-256, recorded when it was
published (``publish``). Using one checks every file against those hashes, then places a
copy in the user's data folder (``$XDG_DATA_HOME/stickpose/pretrained/NAME-HASH``, made
once, checked again at every use), so that what commands write beside a run (evaluation
tables, exports) never goes into the installed package. Nothing is downloaded.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from ..errors import StickposeError
from ..files import data_folder, write_atomic

PREFIX = "pretrained:"
MANIFEST = "pretrained.json"
SHIPPED = Path(__file__).resolve().parent        # stickpose/pretrained/NAME/
#: what ``publish`` records in ``pretrained.json`` (``manifest`` checks each is there)
RECORDED = ("name", "description", "command", "arch", "head", "suite", "seed",
            "training_images", "parameters", "sets", "hardware", "files")


class PretrainedError(StickposeError):
    """An unknown pretrained model, or one whose files are not what was published."""


def names() -> list[str]:
    """The pretrained models this stickpose ships."""
    return sorted(p.parent.name for p in SHIPPED.glob(f"*/{MANIFEST}"))


def manifest(name: str) -> dict:
    """``pretrained.json`` of model ``name``, or an error listing the shipped ones."""
    path = SHIPPED / name / MANIFEST
    if name not in names():
        raise PretrainedError(f"{PREFIX}{name} is not a pretrained model of this stickpose; "
                              f"it ships {', '.join(PREFIX + n for n in names()) or 'none'}")
    try:
        record = json.loads(path.read_text())
        _check_record(record)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise PretrainedError(f"{PREFIX}{name}: {path} is damaged ({reason}); reinstall "
                              "stickpose") from None
    return record


def _check_record(record) -> None:
    """A ``ValueError`` saying what is wrong with a ``pretrained.json`` that is not what
    ``publish`` writes (its keys, their types)."""
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    lacks = [key for key in RECORDED if key not in record]
    if lacks:
        raise ValueError(f"it lacks {', '.join(lacks)}")
    number = (int, float)
    wrong = [key for key, kind in (("description", str), ("command", str), ("arch", str),
                                   ("head", str), ("suite", str), ("seed", int),
                                   ("training_images", int), ("parameters", int))
             if not isinstance(record[key], kind) or isinstance(record[key], bool)]
    files, sets = record["files"], record["sets"]
    if not (isinstance(files, dict) and files
            and all(isinstance(v, str) for v in files.values())):
        wrong.append("files")
    if not (isinstance(sets, dict) and all(
            isinstance(values, dict) and all(isinstance(v, number) and not isinstance(v, bool)
                                             for v in values.values())
            for values in sets.values())):
        wrong.append("sets")
    if wrong:
        raise ValueError(f"{', '.join(wrong)} not as publish writes them")


def is_pretrained(spec) -> bool:
    return str(spec).startswith(PREFIX)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _check(folder: Path, files: dict, what: str, remedy: str) -> None:
    """Every file of ``files`` (name -> SHA-256) in ``folder`` has its hash."""
    for file, digest in files.items():
        path = folder / file
        if not path.is_file():
            raise PretrainedError(f"{what}: {path} is missing; {remedy}")
        if sha256(path) != digest:
            raise PretrainedError(f"{what}: {path} does not match the SHA-256 recorded when "
                                  f"it was published (changed or damaged); {remedy}")


def cache_folder() -> Path:
    """Where the checked copies of the pretrained models are placed."""
    return data_folder() / "pretrained"


def run_path(spec) -> Path:
    """The run directory ``spec`` names: ``pretrained:NAME`` checked and placed in the
    user's data folder (see the module's docstring), anything else as a path."""
    if not is_pretrained(spec):
        return Path(spec)
    name = str(spec)[len(PREFIX):]
    record = manifest(name)
    files = record["files"]
    _check(SHIPPED / name, files, f"{PREFIX}{name}", "reinstall stickpose")
    key = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:12]
    target = cache_folder() / f"{name}-{key}"
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(SHIPPED / name, staging)
        try:
            os.rename(staging, target)
        except OSError:                       # another process placed it first
            shutil.rmtree(staging, ignore_errors=True)
    _check(target, files, f"{PREFIX}{name} (its copy in {target.parent})",
           f"delete {target} and a fresh copy is made from the package")
    return target


def publish(run: Path, name: str, command: str, description: str,
            replace_shipped: bool = False) -> Path:
    """Ship finished run ``run`` as ``pretrained:NAME`` (a developer's step; the folder is
    committed): its model without optimizer state, its config (the class folder it was
    trained with left out: a user names their own), history, evaluation and handedness
    classifier, and ``pretrained.json`` with ``command`` (how to reproduce it),
    ``description``, its scores and every file's SHA-256. A name already shipped is
    replaced only with ``replace_shipped``."""
    from dataclasses import replace

    from ..quiet_tf import tf  # noqa: F401  (TensorFlow's start-up quietly, before Keras)
    from ..runs import FINISHED, FOREIGN, RunDir, describe, load_run, training_images

    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name or ""):
        raise PretrainedError(f"--name {name!r}: use lower-case letters, digits, - and _, "
                              "starting with a letter or digit")
    if (SHIPPED / name).exists() and not replace_shipped:
        raise PretrainedError(f"pretrained:{name} is shipped already; give --replace to put "
                              "this run in its place (nothing was written)")
    source = RunDir(run)
    state = source.state()
    if not Path(run).exists():
        raise PretrainedError(f"run {run} does not exist")
    if state.kind != FINISHED:
        why = state.why if state.kind == FOREIGN else f"it is {describe(state)}"
        raise PretrainedError(f"cannot publish {run}: {why}; only a finished (trained and "
                              "evaluated) run is published")
    config, model = load_run(run)
    folder = SHIPPED / name
    staging = SHIPPED / f".{name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        model.save(staging / RunDir.BEST)               # loaded uncompiled: no optimizer
        write_atomic(staging / RunDir.CONFIG,
                     replace(config, class_dir=None).to_json().encode())
        for file in (RunDir.HISTORY, RunDir.EVALUATION, RunDir.HANDEDNESS):
            if (source / file).is_file():
                shutil.copyfile(source / file, staging / file)
        try:
            evaluation = json.loads((source / RunDir.EVALUATION).read_text())
        except ValueError as error:
            raise PretrainedError(f"run {run}: its {RunDir.EVALUATION} is not JSON ({error}); "
                                  "evaluate the run again") from None
        if not evaluation.get("sets"):
            raise PretrainedError(f"run {run}: its {RunDir.EVALUATION} records no test set; "
                                  "evaluate the run again")
        files = {p.name: sha256(p) for p in sorted(staging.iterdir())}
        record = {"name": name, "description": description, "command": command,
                  "arch": config.arch, "head": config.head, "suite": config.suite,
                  "seed": config.seed, "training_images": training_images(
                      config, len(source.history())),
                  "parameters": int(model.count_params()),
                  "sets": {s: {k: v for k, v in values.items()
                               if k in ("score", "flip_score", "score_written", "pck", "mpjpe",
                                        "images")}
                           for s, values in evaluation.get("sets", {}).items()},
                  "hardware": evaluation.get("hardware"), "files": files}
        write_atomic(staging / MANIFEST, (json.dumps(record, indent=2) + "\n").encode())
        old = SHIPPED / f".{name}.old-{os.getpid()}"
        if folder.exists():
            os.rename(folder, old)
        os.rename(staging, folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder
