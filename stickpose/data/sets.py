"""Evaluation sets as arrays, whatever they come from: a suite's set rendered in memory, a
dataset folder written by ``stickpose generate``, or a set in the class's layout; and what
identifies the data that was measured.

An ``EvalSet`` names a set as results call it (``test1``, ``class/test1``, a folder's name),
loads it on demand and says where it came from and whether it is (a prefix of) the suite's
own set: only those are ``canonical``, the data a leaderboard compares.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import StickposeError
from .class_format import is_class_set, load_class_set
from .coco import dataset_image_ids, load_coco
from .stickman import CHUNK_SIZE, StickmanGenerator
from .storage import is_dataset, load_dataset


def set_key(suite: str, name: str) -> str:
    """How a suite's set is named in results: ``test1`` for stickpose's own suite,
    ``SUITE/test1`` for any other (the class's test1 is not stickpose's test1)."""
    return name if suite == "stickman" else f"{suite}/{name}"


def render_set(spec, count: int | None = None):
    """Images ``(n, S, S, 3) uint8``, keypoints ``(n, 16, 2)`` and visible ``(n, 16)`` of a
    suite set (``suites.SetSpec``), rendered in memory exactly as ``generate`` writes them:
    its first ``count`` images (at most the set's own count; all of them by default)."""
    count = spec.count if count is None else min(count, spec.count)
    generator = StickmanGenerator(spec.config, spec.seed)
    generator.check_count(count)
    parts = [generator.chunk(k) for k in range(-(-count // CHUNK_SIZE))]
    return tuple(np.concatenate(p)[:count] for p in zip(*parts))


def load_set(path: Path, count: int | None = None):
    """The same triple from a dataset folder written by ``stickpose generate``, or from a
    set in the class's layout (``Test1/`` beside ``test1_labels.npy``; ``class:DIR``)."""
    if is_class_set(path):
        return load_class_set(path, count)
    dataset = load_dataset(path)
    count = len(dataset) if count is None else min(count, len(dataset))
    images = np.stack([dataset.image(i) for i in range(count)])
    return images, dataset.keypoints[:count], dataset.visible[:count]


def data_id(images: np.ndarray, keypoints: np.ndarray, visible: np.ndarray) -> str:
    """What was measured, as a short content hash of the arrays themselves (images, labels,
    visibility; so their count and size too): the same data gives the same id wherever it
    was read from, and any difference gives another."""
    digest = hashlib.sha256()
    for array in (np.ascontiguousarray(images, np.uint8),
                  np.ascontiguousarray(keypoints, np.float64),
                  np.ascontiguousarray(visible, bool)):
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class EvalSet:
    """A set to evaluate on: its result name, a loader returning ``(images, keypoints,
    visible)``, where it came from, whether it is the suite's own data and whether it is
    labelled person-centric (predictions are then relabelled by a run's handedness)."""

    name: str
    load: Callable
    source: str
    canonical: bool = False
    person: bool = False
    #: ``count -> (COCO image ids, file names)`` of the first ``count`` images (default:
    #: ids from 1 and ``images/000000.png`` ..., as ``stickpose generate`` writes them)
    coco_images: Callable | None = None
    #: keypoints ``(n, 16, 2)`` as loaded -> in the images' own files' pixels (default: the
    #: same; a COCO file's images are letterboxed when loaded)
    original: Callable | None = None
    #: ``(in_files: bool) -> (n,)`` each person's OKS scale, as loaded or in the files'
    #: pixels (default None: the true joints' bounding box)
    areas: Callable | None = None
    #: ``() -> str``, what was read (and left out), once loaded
    summary: Callable | None = None

    def oks_areas(self, in_files: bool = False):
        return None if self.areas is None else self.areas(in_files)

    def notes(self) -> dict:
        """``{"note": ...}`` for a set whose loading has something to say, else ``{}``."""
        return {"note": self.summary()} if self.summary is not None else {}

    def image_info(self, count: int) -> tuple[list[int], list[str]]:
        """The COCO image ids and file names of the first ``count`` images."""
        if self.coco_images is not None:
            return self.coco_images(count)
        return list(range(1, count + 1)), [f"images/{i:06d}.png" for i in range(count)]

    def in_files(self, keypoints: np.ndarray) -> np.ndarray:
        """``keypoints`` as loaded, in the pixels of the set's own image files."""
        return keypoints if self.original is None else self.original(keypoints)


def suite_set(suite, name: str, purpose: str = "evaluation"):
    """Set ``name`` of ``suite``, or an error naming the sets it has."""
    if name not in suite.sets:
        raise StickposeError(f"suite {suite.name} ({suite.path}) has no set {name!r} "
                             f"(needed for {purpose}); it has {', '.join(suite.sets)}")
    return suite.sets[name]


def suite_sets(suite, names: list[str], count: int | None = None) -> list[EvalSet]:
    """``EvalSet`` s for sets ``names`` of ``suite``, rendered in memory; canonical when the
    suite is a built-in one (a user's suite file is never the benchmark's data)."""
    from .suites import is_builtin

    builtin = is_builtin(suite)
    source = f"suite {suite.name}" if builtin else f"suite file {suite.path}"
    return [EvalSet(set_key(suite.name, n), partial(render_set, suite_set(suite, n), count),
                    source, builtin, suite_set(suite, n).config.labels == "person")
            for n in names]


def folder_sets(paths, count: int | None = None) -> list[EvalSet]:
    """``EvalSet`` s for dataset folders (stickpose's or the class's layout). A folder that
    ``stickpose generate --suite SUITE`` wrote from a suite's set (same settings, seed and
    size) is that set: it is named and counted as the suite's own."""
    result = []
    for path in map(Path, paths):
        if str(path) == "coco:" or str(path).startswith("coco:") and not str(path)[5:]:
            raise StickposeError("--dataset coco: needs a file: coco:FILE.json")
        if str(path).startswith("coco:"):
            result.append(coco_set(Path(str(path)[5:]), count))
            continue
        if is_class_set(path):               # the class's layout: person-centric labels
            result.append(EvalSet(path.name, partial(load_set, path, count), str(path),
                                  False, True))
            continue
        name, canonical, person = path.name, False, False
        if is_dataset(path):
            meta = load_dataset(path).meta
            person = meta["config"].get("labels") == "person"
            suite_name, _, set_name = (meta.get("name") or "").partition("/")
            spec = _suite_spec(suite_name, set_name)
            if spec is not None and _same_data(spec, meta):
                name, canonical = set_key(suite_name, set_name), True
        result.append(EvalSet(name, partial(load_set, path, count), str(path), canonical,
                              person, partial(_dataset_images, path)))
    names = [s.name for s in result]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice:
        raise StickposeError(f"two --dataset sets would both be named {twice!r} in the "
                             "results; give each a folder (or COCO file) of its own name")
    return result


def _dataset_images(path: Path, count: int) -> tuple[list[int], list[str]]:
    return dataset_image_ids(path, count), [f"images/{i:06d}.png" for i in range(count)]


def coco_set(path: Path, count: int | None = None, size: int = 224) -> EvalSet:
    """An ``EvalSet`` for a COCO keypoints file (``data.coco.load_coco``, read once, when
    first loaded): named ``coco:STEM``, its images letterboxed to ``size`` px."""
    if not path.is_file():
        raise StickposeError(f"--dataset coco:{path}: no such file (expected a COCO "
                             "keypoints annotations .json)")
    read = lru_cache(maxsize=1)(partial(load_coco, path, size, count))

    def load():
        data = read()
        return data.images, data.keypoints, data.visible
    name = path.parent.name if path.stem == "annotations" and path.parent.name else path.stem
    return EvalSet(f"coco:{name}", load, f"COCO file {path}",
                   coco_images=lambda n: (read().ids[:n], read().file_names[:n]),
                   original=lambda points: read().original(points),
                   areas=lambda in_files: read().areas / (read().scales ** 2 if in_files
                                                          else 1.0),
                   summary=lambda: read().summary)


def _suite_spec(suite_name: str, set_name: str):
    """A built-in suite's set spec, or None (unknown, or needing the class's files)."""
    from .suites import known_suites, load_suite

    if not set_name or suite_name not in known_suites():
        return None
    try:
        return load_suite(suite_name).sets.get(set_name)
    except StickposeError:
        return None


def _same_data(spec, meta: dict) -> bool:
    """Whether a dataset folder's meta.json says it holds (a prefix of) suite set ``spec``."""
    from dataclasses import asdict

    return (meta.get("seed") == spec.seed and meta.get("count", 0) <= spec.count
            and meta.get("config") == _jsonable(asdict(spec.config)))


def _jsonable(value):
    """``value`` as it reads back from JSON (tuples become lists)."""
    import json
    return json.loads(json.dumps(value))
