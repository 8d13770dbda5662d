"""The class baseline's on-disk test sets: ``ROOT/Test{k}/{i}.png`` (i = 0, 1, ...) and
``ROOT/test{k}_labels.npy`` (N x 32 numbers: x0, y0, ... x15, y15 in the image's pixels). The
class's generator wrote int64 (its poses' array: the stretched coordinates truncated), and
its evaluation code depends on it (``metrics.class_scores_as_written``), so stickpose writes
int64 too; it reads int64 and float labels alike.

``stickpose generate --format class`` writes this layout so that a set can be handed to
users of the class's own code; ``stickpose evaluate --dataset`` reads it back.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import cv2
import numpy as np

from ..errors import StickposeError
from ..skeleton import NUM_JOINTS

PREFIX = "class:"
LABELS_SUFFIX = "_labels.npy"


class ClassSetError(StickposeError):
    """A class-layout folder with missing or inconsistent files."""


def labels_array(keypoints: np.ndarray) -> np.ndarray:
    """Keypoints ``(N, 16, 2)`` -> the class's labels file's array ``(N, 32)`` int64 (x0, y0,
    ...), truncated as the class's int64 poses array truncated them (``render.class_labels``)."""
    from .render import class_labels

    return class_labels(keypoints).reshape(len(keypoints), -1).astype(np.int64)


def labels_path(folder: Path) -> Path:
    """Where the class keeps the labels of set folder ``ROOT/Test1``: ``ROOT/test1_labels.npy``."""
    return folder.parent / f"{folder.name.lower()}{LABELS_SUFFIX}"


def _numbered_pngs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if re.fullmatch(r"\d+\.png", p.name)),
                  key=lambda p: int(p.stem))


def is_class_set(path: str | Path) -> bool:
    """``class:DIR``, or a folder of numbered PNGs that is not a stickpose dataset (its
    labels, ``*_labels.npy`` beside it, are checked when it is read)."""
    if str(path).startswith(PREFIX):
        return True
    path = Path(path)
    return (path.is_dir() and not (path / "meta.json").exists()
            and bool(_numbered_pngs(path)))


def set_folder_of(labels_file: Path) -> Path | None:
    """The set folder beside a labels file ``ROOT/test1_labels.npy`` (``ROOT/Test1``, any
    case), or None."""
    labels_file = Path(labels_file)
    if not labels_file.name.endswith(LABELS_SUFFIX) or not labels_file.parent.is_dir():
        return None
    stem = labels_file.name[:-len(LABELS_SUFFIX)]
    return next((p for p in sorted(labels_file.parent.iterdir())
                 if p.is_dir() and p.name.lower() == stem.lower()), None)


def check_class_folder(path: str | Path, shown: str | None = None) -> Path:
    """The set folder of ``path`` (``class:`` prefix optional), checked to be a folder
    holding numbered PNGs; otherwise a one-line error naming the value as ``shown`` (default:
    ``path`` as given) and what was expected: an empty value, a missing folder, a file (the
    labels file: the set folder beside it is named), a stickpose dataset, a folder of
    sets."""
    text = str(path)
    shown = text if shown is None else shown
    rest = text[len(PREFIX):] if text.startswith(PREFIX) else text
    expected = "expected the set folder (ROOT/Test1 beside ROOT/test1_labels.npy)"
    if not rest.strip():
        raise ClassSetError(f"{shown} names no folder; {expected}, as {PREFIX}ROOT/Test1")
    folder = Path(rest)
    if not folder.exists():
        raise ClassSetError(f"{shown}: no such folder; {expected}")
    if not folder.is_dir():
        beside = set_folder_of(folder)
        hint = (f", here {PREFIX if text.startswith(PREFIX) else ''}{beside}" if beside
                else "")
        raise ClassSetError(f"{shown} is a file; {expected}{hint}")
    if (folder / "meta.json").exists():
        raise ClassSetError(f"{shown} is a stickpose dataset (it has meta.json), not a set "
                            f"in the class's layout; give it without {PREFIX} ({rest})")
    if not _numbered_pngs(folder):
        inside = [p.name for p in sorted(folder.iterdir())
                  if p.is_dir() and labels_path(p).is_file()]
        hint = (f"; it holds the class sets {', '.join(inside)}: give one, e.g. "
                f"{PREFIX if text.startswith(PREFIX) else ''}{folder / inside[0]}"
                if inside else "")
        raise ClassSetError(f"{shown} holds no numbered PNGs (0.png, 1.png, ...); "
                            f"{expected}{hint}")
    return folder


def load_class_set(path: str | Path, count: int | None = None):
    """Images ``(n, S, S, 3) uint8`` RGB, keypoints ``(n, 16, 2)`` float32 and visible
    ``(n, 16)`` (all True) of a class-layout set folder (``class:`` prefix optional)."""
    folder = check_class_folder(path)
    labels_file = labels_path(folder)
    if not labels_file.is_file():
        raise ClassSetError(f"class set {folder} has no labels: expected {labels_file} "
                            "(N x 32 numbers, as the class's generator/test.py writes them)")
    from .class_baseline import read_npy

    labels = read_npy(labels_file, ClassSetError)
    if labels.ndim != 2 or labels.shape[1] != 2 * NUM_JOINTS:
        raise ClassSetError(f"{labels_file} has shape {labels.shape}; expected (N, 32)")
    if not np.isfinite(labels).all():
        raise ClassSetError(f"{labels_file} holds NaN or infinite values; expected pixel "
                            "coordinates")
    files = _numbered_pngs(folder)
    stray = sorted(p.name for p in folder.iterdir()
                   if ".png" in p.name and not re.fullmatch(r"\d+\.png", p.name))
    if stray:
        raise ClassSetError(f"class set {folder} holds {stray[0]!r}, which is not a numbered "
                            "PNG (0.png, 1.png, ...): the class's evaluation pairs every file "
                            "whose name contains '.png' with a label row, so it would score "
                            "this set against the wrong labels; move it away")
    expected = [f"{i}.png" for i in range(len(files))]
    if [p.name for p in files] != expected or len(files) != len(labels):
        raise ClassSetError(f"class set {folder} holds {len(files)} numbered PNG(s) for "
                            f"{len(labels)} label rows; expected 0.png ... "
                            f"{len(labels) - 1}.png")
    count = len(files) if count is None else min(count, len(files))
    images = []
    for path in files[:count]:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ClassSetError(f"cannot read image {path}")
        images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    if len({image.shape for image in images}) > 1:
        raise ClassSetError(f"class set {folder}: images differ in size")
    keypoints = labels[:count].reshape(-1, NUM_JOINTS, 2).astype(np.float32)
    return np.stack(images), keypoints, np.ones(keypoints.shape[:2], bool)


def staged_paths(names, root: str | Path) -> list[Path]:
    """What ``write_class_sets`` stages beside: ``root`` itself, and each set's folder and
    labels file under it (``storage.clean_up_after_killed_runs`` takes each; the command
    line reports what it removes)."""
    root = Path(root)
    folders = [root / name.capitalize() for name in names]
    return [root, *folders, *(labels_path(folder) for folder in folders)]


def _label_rows(labels: Path) -> int | None:
    """How many label rows a labels file holds, or None if it is not an ``(N, 32)`` array."""
    try:
        array = np.load(labels, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    return len(array) if array.ndim == 2 and array.shape[1] == 2 * NUM_JOINTS else None


def check_class_targets(names, root: str | Path, overwrite: bool = False) -> dict:
    """``{name: (set folder, labels file)}`` under ``root``, each checked to be free or,
    with ``overwrite``, to be a class set stickpose can replace: a folder of numbered PNGs
    (``0.png`` up to one per label row) with its labels file beside it, and nothing else in
    the folder."""
    from ..files import check_writable

    root = Path(root)
    check_writable(root)
    if root.exists() and not root.is_dir():
        raise ClassSetError(f"cannot write --out {root}: it is a file, not a folder")
    targets = {}
    for name in names:
        folder = root / name.capitalize()
        labels = labels_path(folder)
        if folder.exists() or labels.exists():
            foreign = ([f"{folder.name}/{p.name}" for p in folder.iterdir()
                        if not re.fullmatch(r"\d+\.png", p.name)]
                       if folder.is_dir() else [folder.name] if folder.exists() else [])
            if not labels.is_file():
                foreign.append(labels.name if labels.exists() else
                               f"{folder.name} without {labels.name}")
            elif not folder.is_dir():
                foreign.append(labels.name + f" without {folder.name}/")
            else:                           # numbered PNGs beyond its labels are not ours
                rows = _label_rows(labels)
                foreign += ([labels.name + " (not an N x 32 array)"] if rows is None else
                            [f"{folder.name}/{p.name}" for p in _numbered_pngs(folder)
                             if int(p.stem) >= rows or p.name != f"{int(p.stem)}.png"])
            if foreign:
                raise ClassSetError(f"{root} holds {foreign[0]}, which is not a class set "
                                    "stickpose wrote; choose another --out (nothing of "
                                    "yours is replaced)")
            if not overwrite:
                raise ClassSetError(f"{folder} already holds a class set; pass --overwrite "
                                    "to replace it")
        targets[name] = (folder, labels)
    return targets


def write_class_layout(datasets: dict, root: str | Path, overwrite: bool = False) -> list[Path]:
    """Copy stickpose datasets ``{set name: storage.Dataset}`` into the class layout under
    ``root``: ``Test{k}``-style folders (the name capitalised) and ``NAME_labels.npy``
    (int64, ``labels_array``). Every set is prepared in hidden folders first; the old sets are then
    swapped for the new ones with interrupts held back, so an interrupted run leaves the
    old sets whole. An existing set is replaced only with ``overwrite``, and only if it is
    one (see ``check_class_targets``). Returns the set folders."""
    from ..files import interrupts_deferred
    from .storage import clean_up_after_killed_runs

    root = Path(root)
    targets = check_class_targets(datasets, root, overwrite)
    root.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    staged = []
    try:
        for name, dataset in datasets.items():
            folder, labels = targets[name]
            clean_up_after_killed_runs(folder)
            clean_up_after_killed_runs(labels)
            staging = root / f".{folder.name}.partial-{pid}"
            new_labels = root / f".{labels.name}.partial-{pid}"
            staged.append((staging, new_labels, folder, labels))
            staging.mkdir()
            for index in range(len(dataset)):
                shutil.copyfile(dataset.image_path(index), staging / f"{index}.png")
            with open(new_labels, "wb") as stream:
                np.save(stream, labels_array(dataset.keypoints))
        with interrupts_deferred():
            old = []
            for staging, new_labels, folder, labels in staged:
                if folder.exists():
                    old.append(root / f".{folder.name}.old-{pid}")
                    os.rename(folder, old[-1])
                os.rename(staging, folder)
                os.replace(new_labels, labels)
    except BaseException:
        for staging, new_labels, _, _ in staged:
            shutil.rmtree(staging, ignore_errors=True)
            new_labels.unlink(missing_ok=True)
        raise
    for folder in old:
        shutil.rmtree(folder, ignore_errors=True)
    return [folder for _, _, folder, _ in staged]


def write_class_sets(render, names, root: str | Path, overwrite: bool = False) -> dict:
    """Render sets ``names`` with ``render(folder) -> {name: dataset path}`` into a hidden
    staging folder beside ``root``, then write them in the class layout under ``root``
    (targets checked first). Returns ``{name: set folder}``."""
    from .storage import clean_up_after_killed_runs, load_dataset

    root = Path(root)
    check_class_targets(names, root, overwrite)
    clean_up_after_killed_runs(root)
    staging = root.parent / f".{root.name}.partial-{os.getpid()}"
    try:
        paths = render(staging)
        folders = write_class_layout({n: load_dataset(p) for n, p in paths.items()}, root,
                                     overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dict(zip(paths, folders))
