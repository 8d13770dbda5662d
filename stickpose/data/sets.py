"""Evaluation sets as arrays, whatever they come from: a suite's set rendered in memory, a
dataset folder written by ``stickpose generate``, or a set in the class's layout; and what
identifies the data that was measured.

An ``EvalSet`` names a set as results call it (``test1``, ``class/test1``; any other
``--dataset`` set by its folder's or file's name and a short hash of where it is,
``Test1@3f9a0c``), loads it on demand and says where it came from, whether it is (a prefix
of) the suite's own set (only those are ``canonical``, the data a leaderboard compares) and
its left/right label convention.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import StickposeError
from .class_format import PREFIX as CLASS_PREFIX
from .class_format import check_class_folder, is_class_set, load_class_set, set_folder_of
from .coco import LABELS, dataset_image_ids, load_coco, read_coco, recorded_labels
from .stickman import CHUNK_SIZE, StickmanGenerator
from .styles import CLASS_STYLES
from .storage import is_dataset, load_dataset

COCO_PREFIX = "coco:"
#: What ``--dataset`` takes, for messages.
DATASETS = ("a dataset folder from `stickpose generate`, a set in the class's layout "
            "(ROOT/Test1 beside ROOT/test1_labels.npy, or class:ROOT/Test1) or "
            "coco:FILE.json")


class DatasetArgumentError(StickposeError):
    """A ``--dataset`` value that names nothing stickpose can evaluate on."""


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


@dataclass(frozen=True)
class DatasetSource:
    """A ``--dataset`` value, checked (``dataset_source``): ``text`` as typed, ``kind``
    (``stickpose``: a dataset folder ``stickpose generate`` wrote; ``class``: a set in the
    class's layout; ``coco``: a COCO keypoints file) and the ``path`` it names."""

    text: str
    kind: str
    path: Path

    def result_name(self) -> str:
        """How the set is named in results unless it is a suite's own: its folder's name
        (a COCO file's stem, ``annotations`` by its folder's name, as ``coco:NAME``) and
        ``@`` the first 6 hex digits of the SHA-256 of its resolved path. Two folders of
        the same name get different names; the same folder, however it is spelled, keeps
        its own."""
        path = self.path.resolve()
        stem = path.stem if self.kind == "coco" else path.name
        if self.kind == "coco" and stem == "annotations" and path.parent.name:
            stem = path.parent.name
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:6]
        return f"{COCO_PREFIX if self.kind == 'coco' else ''}{stem[:40]}@{digest}"


def dataset_source(value, option: str = "--dataset") -> DatasetSource:
    """``value`` (a ``--dataset`` value: a folder, ``class:DIR`` or ``coco:FILE.json``)
    checked to name something stickpose reads, or a one-line error naming it as typed and
    what was expected (an empty value, a missing path, a file where a folder is expected
    and the reverse, a stickpose dataset given as ``class:``, a folder of sets)."""
    if isinstance(value, DatasetSource):
        return value
    text = str(value)
    shown = f"{option} {text!r}"
    if not text.strip():
        raise DatasetArgumentError(f"{shown} is empty; expected {DATASETS}")
    if text.startswith(COCO_PREFIX):
        path = Path(text[len(COCO_PREFIX):])
        if not text[len(COCO_PREFIX):].strip():
            raise DatasetArgumentError(f"{shown} needs a file: coco:FILE.json (a COCO "
                                       "keypoints file)")
        if path.is_dir():
            raise DatasetArgumentError(f"{shown} is a folder; expected a COCO keypoints "
                                       ".json file (a dataset folder is given without "
                                       f"{COCO_PREFIX})")
        if not path.is_file():
            raise DatasetArgumentError(f"{shown}: no such file (expected a COCO keypoints "
                                       "annotations .json)")
        return DatasetSource(text, "coco", path)
    if text.startswith(CLASS_PREFIX):
        return DatasetSource(text, "class", check_class_folder(text, shown))
    path = Path(text)
    if not path.exists():
        raise DatasetArgumentError(f"{shown}: no such folder; expected {DATASETS}")
    if not path.is_dir():
        beside = set_folder_of(path)
        if beside is not None:
            raise DatasetArgumentError(f"{shown} is a file (the class's labels); expected the "
                                       "set folder (ROOT/Test1 beside ROOT/test1_labels.npy), "
                                       f"here {beside}")
        if path.suffix.lower() == ".json":
            raise DatasetArgumentError(f"{shown} is a file; a COCO keypoints file is given "
                                       f"as {COCO_PREFIX}{text}")
        raise DatasetArgumentError(f"{shown} is a file; expected {DATASETS}")
    if is_dataset(path):
        return DatasetSource(text, "stickpose", path)
    if is_class_set(path):
        return DatasetSource(text, "class", path)
    inside = [p.name for p in sorted(path.iterdir())
              if p.is_dir() and (is_dataset(p) or is_class_set(p))]
    hint = (f"; it holds the sets {', '.join(inside)}: give one, e.g. {path / inside[0]}"
            if inside else "")
    raise DatasetArgumentError(f"{shown} is neither a stickpose dataset (no meta.json) nor a "
                               "set in the class's layout (no 0.png, 1.png, ...)" + hint)


def load_set(path, count: int | None = None):
    """The same triple from a dataset folder written by ``stickpose generate``, or from a
    set in the class's layout (``Test1/`` beside ``test1_labels.npy``; ``class:DIR``):
    ``path`` as ``--dataset`` takes it (or a ``DatasetSource``)."""
    source = dataset_source(path)
    if source.kind == "coco":
        raise DatasetArgumentError(f"--dataset {source.text!r}: a COCO file is read for "
                                   "`stickpose evaluate RUN` only; give a dataset folder")
    if source.kind == "class":
        return load_class_set(source.path, count)
    dataset = load_dataset(source.path)
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
    visible)``, where it came from, whether it is the suite's own data and its labels'
    left/right convention (``person``: predictions are relabelled by a run's handedness;
    ``observer``; None: unknown, not relabelled)."""

    name: str
    load: Callable
    source: str
    canonical: bool = False
    labels: str | None = None
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
    #: labelled and laid out as the class's sets (drawn in a class style, or a folder in
    #: the class's layout): scored under the class's code as written too
    #: (``metrics.class_scores_as_written``)
    class_layout: bool = False

    @property
    def person(self) -> bool:
        """Whether the set is labelled person-centric."""
        return self.labels == "person"

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
                    source, builtin, suite_set(suite, n).config.labels,
                    class_layout=suite_set(suite, n).config.style in CLASS_STYLES)
            for n in names]


def folder_sets(paths, count: int | None = None, labels: str | None = None) -> list[EvalSet]:
    """``EvalSet`` s for ``--dataset`` values (``dataset_source``): dataset folders
    (stickpose's or the class's layout) and COCO files. A folder that ``stickpose generate
    --suite SUITE`` wrote from a suite's set (same settings, seed and size) is that set: it
    is named and counted as the suite's own; any other is named by
    ``DatasetSource.result_name``. ``labels``: the convention of the COCO files that record
    none (``coco_set``)."""
    sources = [dataset_source(path) for path in paths]
    if labels is not None and not any(s.kind == "coco" for s in sources):
        raise DatasetArgumentError(f"--dataset-labels {labels} says the left/right convention "
                                   "of --dataset coco:FILE.json files that record none; "
                                   "dataset folders and class sets record their own")
    result = []
    for source in sources:
        path, text = source.path, source.text
        if source.kind == "coco":
            result.append(coco_set(source, count, labels=labels))
            continue
        note = partial(_folder_note, source)
        if source.kind == "class":           # the class's layout: person-centric labels
            result.append(EvalSet(source.result_name(), partial(load_set, source, count),
                                  text, False, "person", summary=partial(note, "person"),
                                  class_layout=True))
            continue
        meta = load_dataset(path).meta
        convention = meta["config"].get("labels", "observer")
        name, canonical = source.result_name(), False
        suite_name, _, set_name = (meta.get("name") or "").partition("/")
        spec = _suite_spec(suite_name, set_name)
        if spec is not None and _same_data(spec, meta):
            name, canonical = set_key(suite_name, set_name), True
        result.append(EvalSet(name, partial(load_set, source, count), text, canonical,
                              convention, partial(_dataset_images, path),
                              summary=None if canonical else partial(note, convention),
                              class_layout=meta["config"].get("style") in CLASS_STYLES))
    _check_distinct(result, sources)
    return result


def _folder_note(source: DatasetSource, convention: str) -> str:
    """What the report says of a ``--dataset`` folder: where it is and its labels."""
    layout = "a set in the class's layout" if source.kind == "class" else "a stickpose dataset"
    return (f"{source.text} ({source.path.resolve()}): {layout}, labels "
            f"{LABELS.get(convention, convention)}")


def _check_distinct(sets: list[EvalSet], sources: list[DatasetSource]) -> None:
    """Refuse ``--dataset`` sets that would share a name in the results: the same folder
    or file given twice (however spelled), or two copies of a suite's own set."""
    seen = {}
    for spec, source in zip(sets, sources):
        if spec.name in seen:
            first = seen[spec.name]
            if first.path.resolve() == source.path.resolve():
                raise DatasetArgumentError(f"--dataset {first.text!r} and --dataset "
                                           f"{source.text!r} are the same set; give it once")
            why = " (both are that suite set)" if spec.canonical else ""
            raise DatasetArgumentError(f"--dataset {first.text!r} and --dataset "
                                       f"{source.text!r} would both be named {spec.name!r} "
                                       f"in the results{why}; give one of them")
        seen[spec.name] = source


def _dataset_images(path: Path, count: int) -> tuple[list[int], list[str]]:
    return dataset_image_ids(path, count), [f"images/{i:06d}.png" for i in range(count)]


def coco_set(path, count: int | None = None, size: int = 224,
             labels: str | None = None) -> EvalSet:
    """An ``EvalSet`` for a COCO keypoints file (``coco:FILE.json`` or its
    ``DatasetSource``; ``data.coco.load_coco``, images read once, when first loaded): named
    ``coco:STEM@HASH`` (``DatasetSource.result_name``), its images letterboxed to ``size``
    px. Its left/right convention is the one the file records (``info.labels``, as
    stickpose writes it), else ``labels`` (the user's word), else unknown: predictions are
    then not relabelled, and the report says so. A file recording one convention and
    ``labels`` saying the other is refused."""
    source = dataset_source(path if isinstance(path, DatasetSource)
                            else f"{COCO_PREFIX}{path}")
    path = source.path
    document = read_coco(path)
    recorded = recorded_labels(document, path)
    if recorded is not None and labels is not None and labels != recorded:
        raise DatasetArgumentError(f"{path} records {LABELS[recorded]} labels (info.labels); "
                                   f"--dataset-labels {labels} says otherwise")
    convention = recorded or labels
    said = ("recorded in the file" if recorded else "as --dataset-labels says; the file "
            "records none")
    labelling = (f"labels {LABELS[convention]} ({said})" if convention else
                 "left/right convention unknown (the file records none): predictions are "
                 "not relabelled; say --dataset-labels person (COCO's own sets are "
                 "person-centric) or observer")
    read = lru_cache(maxsize=1)(partial(load_coco, path, size, count, document))

    def load():
        data = read()
        return data.images, data.keypoints, data.visible
    return EvalSet(source.result_name(), load, f"COCO file {path}", labels=convention,
                   coco_images=lambda n: (read().ids[:n], read().file_names[:n]),
                   original=lambda points: read().original(points),
                   areas=lambda in_files: read().areas / (read().scales ** 2 if in_files
                                                          else 1.0),
                   summary=lambda: f"{read().summary}; {labelling}")


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
