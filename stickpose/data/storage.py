"""Datasets on disk: PNG images, keypoints/visibility arrays, COCO keypoints JSON, meta.json.

A dataset directory holds::

    images/000000.png ...   RGB stick-figure images
    keypoints.npy           (N, 16, 2) float32, xy, pixels (centres at integers)
    visible.npy             (N, 16) bool
    annotations.json        COCO keypoints (v = 2 visible, 1 occluded; ids from 1; the
                            left/right convention in info.labels)
    meta.json               generator config, seed, stickpose version, content hash

It is rendered into a hidden sibling folder and renamed into place only when complete, so
an interrupted run never leaves a folder that looks like a dataset.
"""
from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .. import __version__
from ..errors import StickposeError
from ..files import check_stop, die_with_parent, load_array
from ..skeleton import JOINT_NAMES, NUM_JOINTS
from ..viz import encode_png
from .coco import coco_keypoints
from .stickman import CHUNK_SIZE, StickmanConfig, StickmanGenerator

FORMAT = "stickpose-dataset"
FORMAT_VERSION = 1


class DatasetError(StickposeError):
    """A dataset folder that is missing, incomplete or in the way."""


def is_dataset(path: Path) -> bool:
    """True when ``path`` holds a finished dataset (its meta.json is written last)."""
    return (Path(path) / "meta.json").is_file()


DATASET_FILES = ("meta.json", "images", "keypoints.npy", "visible.npy", "annotations.json")


def foreign_files(out: Path) -> list[str]:
    """What a dataset folder holds besides what ``write_dataset`` writes there."""
    foreign = [p.name for p in out.iterdir() if p.name not in DATASET_FILES]
    images = out / "images"
    if images.is_dir():
        foreign += [f"images/{p.name}" for p in images.iterdir()
                    if not (p.suffix == ".png" and p.stem.isdigit() and len(p.stem) == 6)]
    return sorted(foreign)


def check_target(out: Path, overwrite: bool) -> None:
    """Refuse an output folder that holds a dataset (unless ``overwrite``) or other files."""
    out = Path(out)
    if is_dataset(out):
        if not overwrite:
            raise DatasetError(f"{out} already holds a dataset; pass --overwrite to replace it")
        foreign = foreign_files(out)
        if foreign:
            raise DatasetError(f"{out} holds files stickpose did not write there "
                               f"({', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''})"
                               "; --overwrite replaces a dataset whole, so move them first or "
                               "choose another --out")
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DatasetError(f"{out} exists and is not an empty folder or a stickpose dataset; "
                           "choose another --out")


def check_suite_target(out: Path, allowed) -> None:
    """Refuse a folder for a whole suite (``generate --suite``) that is itself a dataset or
    holds anything but the suite's own entries ``allowed`` (its set folders, and in the
    class's layout their labels files; hidden staging of an interrupted run is cleaned
    up elsewhere): a suite's sets are written side by side in a folder of their own."""
    out = Path(out)
    if is_dataset(out):
        raise DatasetError(f"{out} is a dataset (it has meta.json); a suite is written as a "
                           "folder of its sets: choose a folder of its own, e.g. "
                           f"{out.parent / 'suite'} (nothing was written)")
    if out.is_dir():
        others = sorted(p.name for p in out.iterdir()
                        if p.name not in set(allowed) and not p.name.startswith("."))
        if others:
            raise DatasetError(f"{out} holds {', '.join(others[:3])}"
                               f"{' ...' if len(others) > 3 else ''}, which is not one of "
                               "this suite's sets; a suite's folder holds its sets alone: "
                               "choose another --out (nothing was written)")


# --- rendering workers ----------------------------------------------------------------------
_worker_generator: StickmanGenerator | None = None


def _init_worker(config: StickmanConfig, seed: int, parent: int) -> None:
    global _worker_generator
    die_with_parent(parent)
    _worker_generator = StickmanGenerator(config, seed)


def _render_chunk(index: int, count: int, images_dir: str,
                  generator: StickmanGenerator | None = None):
    """Render chunk ``index``, write its first ``count`` PNGs; return labels and digests."""
    images, keypoints, visible = (generator or _worker_generator).chunk(index)
    digests = []
    for k in range(count):
        data = encode_png(images[k])
        (Path(images_dir) / f"{index * CHUNK_SIZE + k:06d}.png").write_bytes(data)
        digests.append(hashlib.sha256(data).digest())
    return keypoints[:count], visible[:count], digests


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def clean_up_after_killed_runs(out: Path) -> list[str]:
    """Remove hidden folders left by killed runs for the same target; returns what was done,
    a line each, for the user.

    A ``partial`` folder is an unfinished render and is deleted. An ``old`` folder is the
    previous dataset of a run killed while swapping it for the new one: it is put back if
    the target is missing, else deleted.
    """
    done = []
    for stale in sorted(Path(out).parent.glob(f".{Path(out).name}.*-*")):
        kind, _, pid = stale.name[len(Path(out).name) + 2:].rpartition("-")
        if kind not in ("partial", "old") or _alive(pid):
            continue
        if kind == "old" and not Path(out).exists():
            os.rename(stale, out)
            done.append(f"restored {out} from {stale.name}, left by an interrupted run")
            continue
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
        done.append(f"removed {stale}, left by an interrupted run")
    return done


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass
    return True


def write_dataset(out: str | Path, config: StickmanConfig, seed: int, count: int, *,
                  workers: int = 1, overwrite: bool = False, name: str = "",
                  progress: Callable[[int], None] | None = None) -> Path:
    """Render ``count`` images with ``config`` and ``seed`` into the dataset folder ``out``.

    Uses ``workers`` processes; the bytes written do not depend on it. ``progress`` is called
    with the number of images finished after each chunk. Returns the dataset path.
    """
    out = Path(out)
    if count < 1:
        raise DatasetError(f"count {count} must be a positive number of images")
    if workers < 1:
        raise DatasetError(f"workers {workers} must be at least 1")
    clean_up_after_killed_runs(out)
    check_target(out, overwrite)
    generator = StickmanGenerator(config, seed)      # fails early on a bad pose bank
    generator.check_backgrounds()                    # ... or background folder
    generator.check_count(count)                     # ... or too few poses in order
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    images_dir = staging / "images"
    images_dir.mkdir(parents=True)
    chunks = -(-count // CHUNK_SIZE)
    sizes = [min(CHUNK_SIZE, count - k * CHUNK_SIZE) for k in range(chunks)]
    workers = min(workers, chunks)
    pool = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                initializer=_init_worker,
                                initargs=(config, seed, os.getpid()))
            if workers > 1 else None)
    try:
        work = (range(chunks), sizes, [str(images_dir)] * chunks)
        results = (pool.map(_render_chunk, *work) if pool
                   else map(partial(_render_chunk, generator=generator), *work))
        keypoints, visible, digest = [], [], hashlib.sha256()
        for chunk_keypoints, chunk_visible, chunk_digests in results:
            keypoints.append(chunk_keypoints)
            visible.append(chunk_visible)
            for d in chunk_digests:
                digest.update(d)
            if progress:
                progress(len(chunk_keypoints))
            check_stop()
        keypoints = np.concatenate(keypoints).astype(np.float32)
        visible = np.concatenate(visible).astype(bool)
        arrays = {"keypoints.npy": _npy_bytes(keypoints), "visible.npy": _npy_bytes(visible)}
        for file_name, data in arrays.items():
            (staging / file_name).write_bytes(data)
            digest.update(data)
        file_names = [f"images/{i:06d}.png" for i in range(count)]
        coco = coco_keypoints(keypoints, visible, config.size, file_names,
                              description=f"stickpose {name or 'dataset'} (seed {seed})",
                              labels=config.labels)
        (staging / "annotations.json").write_text(json.dumps(coco, separators=(",", ":")))
        meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "stickpose_version": __version__, "name": name,
            "seed": int(seed), "count": int(count), "chunk_size": CHUNK_SIZE,
            "config": asdict(config), "poses": generator.pose_source(),
            "num_joints": NUM_JOINTS, "joint_names": list(JOINT_NAMES),
            "colour_order": "RGB in memory; PNG files as standard",
            "coordinates": "xy pixels, pixel centres at integer coordinates",
            "content_sha256": digest.hexdigest(),
        }
        (staging / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        check_stop()
        if out.exists():                             # --overwrite of a dataset, or empty dir
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.rename(out, old)
            os.rename(staging, out)
            shutil.rmtree(old)
        else:
            os.rename(staging, out)
    except BaseException:
        if pool:                   # stop the workers before removing what they write into
            pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    return out


@dataclass(frozen=True)
class Dataset:
    """A dataset read back from disk; images are loaded on demand."""

    path: Path
    keypoints: np.ndarray     # (N, 16, 2) float32, xy, pixels
    visible: np.ndarray       # (N, 16) bool
    meta: dict

    def __len__(self) -> int:
        return len(self.keypoints)

    def image_path(self, index: int) -> Path:
        return self.path / "images" / f"{index:06d}.png"

    def image(self, index: int) -> np.ndarray:
        """Image ``index`` as ``(S, S, 3) uint8`` RGB."""
        image = cv2.imread(str(self.image_path(index)), cv2.IMREAD_COLOR)
        if image is None:
            raise DatasetError(f"cannot read image {self.image_path(index)}")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def load_dataset(path: str | Path) -> Dataset:
    """Read a dataset folder written by ``write_dataset``, checking its shapes."""
    path = Path(path)
    if not is_dataset(path):
        raise DatasetError(f"{path} is not a stickpose dataset (no meta.json); "
                           "make one with `stickpose generate --out DIR`")
    try:
        meta = json.loads((path / "meta.json").read_text())
        if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
            raise ValueError("expected a JSON object with a config")
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}/meta.json cannot be read: {error}") from None
    keypoints, visible = (load_array(path / name, "dataset file", DatasetError)
                          for name in ("keypoints.npy", "visible.npy"))
    if keypoints.ndim != 3 or keypoints.shape[2] != 2 or keypoints.shape[1] != NUM_JOINTS:
        raise DatasetError(f"{path}/keypoints.npy has shape {keypoints.shape}; "
                           f"expected (N, {NUM_JOINTS}, 2)")
    if visible.shape != keypoints.shape[:2]:
        raise DatasetError(f"{path}/visible.npy has shape {visible.shape}; "
                           f"expected {keypoints.shape[:2]}")
    return Dataset(path, keypoints, visible, meta)


def write_suite(suite, out: str | Path, *, size: int | None = None, count: int | None = None,
                workers: int = 1, overwrite: bool = False,
                progress: Callable[[str, int], Callable[[int], None]] | None = None
                ) -> dict[str, Path]:
    """Write every set of ``suite`` (a ``suites.Suite``) to ``out/NAME``.

    ``size`` and ``count`` override the suite's values (e.g. a small copy for a quick try).
    Every target, pose bank and background folder is checked before anything is written. ``progress(name, total)`` returns
    the per-chunk callback for one set. Returns ``{set name: dataset path}``.
    """
    out = Path(out)
    specs = {}
    for name, spec in suite.sets.items():
        config = spec.config if size is None else replace(spec.config, size=size)
        specs[name] = (config, spec.seed, spec.count if count is None else count)
        check_target(out / name, overwrite)
        generator = StickmanGenerator(config, spec.seed)         # pose banks, folders
        generator.check_backgrounds()
        generator.check_count(specs[name][2])
    return {name: write_dataset(out / name, config, seed, n, workers=workers,
                                overwrite=overwrite, name=f"{suite.name}/{name}",
                                progress=progress(name, n) if progress else None)
            for name, (config, seed, n) in specs.items()}
