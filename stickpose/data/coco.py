"""COCO keypoints files: stickpose's sets and predictions written for the COCO API, and
COCO datasets and results read back.

Ids start at 1 in every file stickpose writes (image ``i`` of a set, counted from 0, is
image and annotation ``i + 1``): pycocotools treats a match with id 0 as no match. A COCO
dataset is read with the 16 joints in stickpose's order, or in COCO's own 17-keypoint
layout through ``COCO17``: pelvis and thorax are the means of the hips and of the
shoulders, and the upper neck and head top, which COCO does not mark, are left unlabelled
(NaN), so the metrics that need every joint leave such sets out.

Every file stickpose writes records its left/right label convention in ``info.labels``
(``person-centric`` or ``observer-centric``; ``LABELS``), so that a set read back through
its file is relabelled as the set's folder is. A file without that record (a foreign one)
is of unknown convention unless the user says which.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import StickposeError
from ..skeleton import JOINT_NAMES, LIMBS, NUM_JOINTS
from .render import letterbox, read_image

#: COCO's 17 keypoints, in its order.
COCO17_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
                "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
                "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
                "right_ankle")
#: stickpose joint -> the COCO keypoints it is read from (their mean); joints missing here
#: have no counterpart in COCO and are left unlabelled.
COCO17 = {"r_ankle": ("right_ankle",), "r_knee": ("right_knee",), "r_hip": ("right_hip",),
          "l_hip": ("left_hip",), "l_knee": ("left_knee",), "l_ankle": ("left_ankle",),
          "pelvis": ("left_hip", "right_hip"), "thorax": ("left_shoulder", "right_shoulder"),
          "r_wrist": ("right_wrist",), "r_elbow": ("right_elbow",),
          "r_shoulder": ("right_shoulder",), "l_shoulder": ("left_shoulder",),
          "l_elbow": ("left_elbow",), "l_wrist": ("left_wrist",)}
CATEGORY = 1
#: ``info.labels`` of a COCO file for each left/right convention
#: (``skeleton.LABEL_CONVENTIONS``).
LABELS = {"person": "person-centric", "observer": "observer-centric"}


def coco_keypoints(keypoints: np.ndarray, visible: np.ndarray, size: int | None,
                   file_names: list[str], description: str = "",
                   image_ids: list[int] | None = None, labels: str | None = None) -> dict:
    """A COCO keypoints document (one person per image, category 1 ``person``, ids from 1).

    keypoints ``(N, 16, 2)`` xy pixels with centres at integers (COCO's own convention);
    visibility v = 2 for visible joints, 1 for labelled but occluded ones, 0 (and x = y = 0)
    for unlabelled (NaN) ones. ``bbox`` and ``area`` (the scale of COCO's OKS) are those of
    the labelled joints' bounding box. ``size``: the images' side (None: not recorded).
    ``image_ids``: the images' ids (default ``1 .. N``; annotation ids are ``1 .. N``).
    ``labels``: the keypoints' left/right convention (``person`` or ``observer``), recorded
    as ``info.labels`` (None: not recorded).
    """
    keypoints = np.asarray(keypoints, float)
    known = np.isfinite(keypoints).all(axis=-1)
    flags = np.where(known, np.where(visible, 2, 1), 0)
    images, annotations = [], []
    for i, name in enumerate(file_names):
        points = np.where(known[i][:, None], keypoints[i], 0.0)
        x0, y0 = points[known[i]].min(axis=0) if known[i].any() else (0.0, 0.0)
        x1, y1 = points[known[i]].max(axis=0) if known[i].any() else (0.0, 0.0)
        triples = np.column_stack([points.round(4), flags[i]]).ravel().tolist()
        image_id = i + 1 if image_ids is None else int(image_ids[i])
        image = {"id": image_id, "file_name": name}
        if size is not None:
            image.update(width=size, height=size)
        images.append(image)
        annotations.append({
            "id": i + 1, "image_id": image_id, "category_id": CATEGORY, "iscrowd": 0,
            "keypoints": [int(v) if k % 3 == 2 else v for k, v in enumerate(triples)],
            "num_keypoints": int((flags[i] > 0).sum()),
            "bbox": [round(float(x0), 4), round(float(y0), 4),
                     round(float(x1 - x0), 4), round(float(y1 - y0), 4)],
            "area": round(float((x1 - x0) * (y1 - y0)), 4),
        })
    info = {"description": description, "version": __version__, "contributor": "stickpose"}
    if labels is not None:
        info["labels"] = LABELS[labels]
    return {
        "info": info,
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [category()],
    }


def category() -> dict:
    """stickpose's COCO category: ``person`` with its 16 joints and limbs (1-based)."""
    return {"id": CATEGORY, "name": "person", "supercategory": "person",
            "keypoints": list(JOINT_NAMES), "skeleton": [[a + 1, b + 1] for a, b in LIMBS]}


def results(keypoints: np.ndarray, confidence: np.ndarray, image_ids) -> list[dict]:
    """A COCO keypoint results list: per image ``{image_id, category_id, keypoints: [x, y,
    1] * 16, score}`` (``confidence`` ``(N,)``, the instance score that ranks images)."""
    return [{"image_id": int(image), "category_id": CATEGORY,
             "keypoints": [round(float(v), 4) if k % 3 < 2 else 1 for k, v in enumerate(
                 np.column_stack([points, np.ones(NUM_JOINTS)]).ravel())],
             "score": round(float(score), 6)}
            for image, points, score in zip(image_ids, keypoints, confidence)]


def dataset_image_ids(folder: Path, count: int) -> list[int]:
    """The COCO image id of each of a dataset folder's ``count`` images, in order: from
    its ``annotations.json`` (datasets written before ids started at 1 keep theirs), else
    ``1 .. count``."""
    path = Path(folder) / "annotations.json"
    if not path.is_file():
        return list(range(1, count + 1))
    try:
        images = json.loads(path.read_text())["images"]
        ids = [image["id"] for image in sorted(images, key=lambda i: i["file_name"])]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StickposeError(f"cannot read the image ids of {path}: {error}") from None
    for identity in ids:
        _integer(identity, "image id", path)
    if len(set(ids)) != len(ids):
        twice = next(i for i in ids if ids.count(i) > 1)
        raise StickposeError(f"{path}: image id {twice} appears twice")
    if len(ids) < count:
        raise StickposeError(f"{path} lists {len(ids)} images but the dataset has {count}")
    return ids[:count]


def read_results(path: Path, image_ids: list[int], joints: int = NUM_JOINTS):
    """Keypoints ``(len(image_ids), joints, 2)`` and scores ``(len(image_ids),)`` from a
    COCO keypoint results file, image ``k`` from the entry with ``image_id ==
    image_ids[k]`` (the highest-scored one per image); a one-line error naming the first
    offending id for results of images the dataset does not have, images without results,
    or entries of another keypoint count."""
    try:
        entries = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise StickposeError(f"cannot read predictions {path}: {error}") from None
    if not isinstance(entries, list):
        raise StickposeError(f"predictions {path}: a COCO results file is a JSON list of "
                             "{image_id, keypoints, score} objects")
    known, best = set(image_ids), {}
    for entry in entries:
        image = entry.get("image_id") if isinstance(entry, dict) else None
        if not isinstance(image, int) or isinstance(image, bool) or not isinstance(
                entry.get("keypoints"), list):
            raise StickposeError(f"predictions {path}: every entry needs an integer image_id "
                                 f"and a keypoints list; found {str(entry)[:80]}")
        try:
            values = np.asarray(entry["keypoints"], float)
        except (TypeError, ValueError):
            raise StickposeError(f"predictions {path}: image id {image} has keypoints that "
                                 "are not all numbers") from None
        if entry.get("category_id", CATEGORY) != CATEGORY:
            raise StickposeError(f"predictions {path}: image id {image} is of category "
                                 f"{entry.get('category_id')!r}; stickpose's person is "
                                 f"category {CATEGORY}")
        score = entry.get("score", 0.0)
        if not isinstance(score, (int, float)) or isinstance(score, bool) or \
                not np.isfinite(score):
            raise StickposeError(f"predictions {path}: image {image} has score "
                                 f"{entry.get('score')!r}; expected a number") from None
        if image not in known:
            raise StickposeError(f"predictions {path} have results for image id {image}, "
                                 f"which the dataset does not have (its ids run "
                                 f"{min(image_ids)}..{max(image_ids)})")
        if values.size != 3 * joints:
            raise StickposeError(f"predictions {path}: image id {image} has {len(values)} "
                                 f"keypoint numbers; expected {3 * joints} (x, y, v for "
                                 f"{joints} joints)")
        if image not in best or score > best[image][0]:
            best[image] = (score, values)
    missing = [i for i in image_ids if i not in best]
    if missing:
        raise StickposeError(f"predictions {path} have no results for image id {missing[0]} "
                             f"({len(missing)} of the dataset's {len(image_ids)} images "
                             "have none)")
    return (np.array([np.reshape(best[i][1], (joints, 3))[:, :2] for i in image_ids], float),
            np.array([best[i][0] for i in image_ids], float))


# --- COCO datasets --------------------------------------------------------------------------

def read_coco(path: Path) -> dict:
    """A COCO keypoints file's document (a JSON object with an images list), or a one-line
    error naming the file."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise StickposeError(f"cannot read COCO file {path}: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        raise StickposeError(f"{path} is not a COCO keypoints file (no images list)")
    return document


def recorded_labels(document: dict, path: Path) -> str | None:
    """The left/right convention a COCO document records in ``info.labels`` (as stickpose
    writes it: ``person-centric`` or ``observer-centric``) as ``person`` or ``observer``;
    None when it records none (a file stickpose did not write)."""
    info = document.get("info")
    value = info.get("labels") if isinstance(info, dict) else None
    if value is None:
        return None
    for convention, text in LABELS.items():
        if value in (convention, text):
            return convention
    raise StickposeError(f"{path}: info.labels is {json.dumps(value)[:40]}; expected "
                         f"{' or '.join(LABELS.values())} (the keypoints' left/right "
                         "convention), or no labels entry")


def _layout(document: dict, path: Path) -> tuple[int, int, dict, str]:
    """The person category's id, its keypoint count, ``{stickpose joint: its keypoint
    indices}`` (matched by name) and the layout's name."""
    categories = document.get("categories")
    if not isinstance(categories, list) or not categories or not all(
            isinstance(c, dict) for c in categories):
        raise StickposeError(f"{path} has no categories list of objects; a COCO keypoints "
                             "file has a category with a keypoints list")
    chosen = next((c for c in categories if c.get("name") == "person"), categories[0])
    names = chosen.get("keypoints")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise StickposeError(f"{path}: category {chosen.get('name')!r} has no keypoints "
                             "list of names")
    identity = chosen.get("id")
    if not isinstance(identity, int) or isinstance(identity, bool):
        raise StickposeError(f"{path}: category {chosen.get('name')!r} has id "
                             f"{identity!r}; expected an integer")
    if sorted(names) == sorted(JOINT_NAMES) and len(names) == NUM_JOINTS:
        return (identity, len(names), {joint: (names.index(joint),) for joint in JOINT_NAMES},
                "stickpose 16 joints")
    if sorted(names) == sorted(COCO17_NAMES) and len(names) == len(COCO17_NAMES):
        return (identity, len(names), {joint: tuple(names.index(n) for n in parts)
                                       for joint, parts in COCO17.items()},
                "COCO 17 keypoints")
    raise StickposeError(f"{path}: category {chosen.get('name')!r} has {len(names)} "
                         f"keypoints ({', '.join(map(str, names[:3]))}, ...); stickpose "
                         f"reads its own 16 joints ({', '.join(JOINT_NAMES[:3])}, ...) or "
                         "COCO's 17 (nose, left_eye, ...), by name, with no mapping for "
                         "others")


@dataclass(frozen=True)
class CocoSet:
    """A COCO dataset read for evaluation (``load_coco``): ``images`` ``(n, size, size,
    3)``, ``keypoints`` ``(n, 16, 2)`` in that frame (NaN: unlabelled), ``visible``, each
    image's COCO ``ids`` and ``file_names``, its person's ``areas`` (the file's, in that
    frame: the scale of OKS), the letterbox ``scales`` ``(n,)`` and ``offsets`` ``(n,
    2)``, and a one-line ``summary``."""

    images: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray
    ids: list
    file_names: list
    areas: np.ndarray
    scales: np.ndarray
    offsets: np.ndarray
    summary: str

    def original(self, points: np.ndarray) -> np.ndarray:
        """Keypoints ``(n, 16, 2)`` of the letterboxed frame in the images' own pixels."""
        return (points + 0.5) / self.scales[:, None, None] - 0.5 - self.offsets[:, None]


def _integer(value, what: str, path: Path) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise StickposeError(f"{path}: {what} {json.dumps(value)[:40]} is not an integer id")
    return value


def _person(annotation: dict, layout: dict, count: int, path: Path):
    """``(keypoints (16, 2) NaN where unlabelled, visible (16,), area or None)`` of an
    annotation, or an error naming it."""
    name = f"annotation {annotation.get('id')!r}"
    try:
        values = np.asarray(annotation["keypoints"], float)
    except (KeyError, TypeError, ValueError):
        raise StickposeError(f"{path}: {name} has no list of numbers as keypoints") from None
    if values.ndim != 1 or values.size != 3 * count:
        raise StickposeError(f"{path}: {name} has {values.size} keypoint numbers, not 3 "
                             f"for each of its category's {count} keypoints")
    triples = values.reshape(-1, 3)
    points = np.full((NUM_JOINTS, 2), np.nan)
    shown = np.zeros(NUM_JOINTS, bool)
    for j, joint in enumerate(JOINT_NAMES):
        parts = list(layout.get(joint, ()))
        if parts and (triples[parts, 2] > 0).all() and np.isfinite(triples[parts]).all():
            points[j] = triples[parts, :2].mean(axis=0)
            shown[j] = bool((triples[parts, 2] == 2).all())
    area = annotation.get("area")
    if area is not None and not (isinstance(area, (int, float)) and not isinstance(area, bool)
                                 and np.isfinite(area) and area >= 0):
        raise StickposeError(f"{path}: {name} has area {json.dumps(area)[:40]}; expected a "
                             "number >= 0")
    return points, shown, area


def load_coco(path: Path, size: int = 224, count: int | None = None,
              document: dict | None = None) -> CocoSet:
    """A COCO keypoints dataset as an evaluation set: images with exactly one annotated
    person of the person category (other images are counted and left out: stickpose is
    single-person), each padded to a centred square and resized to ``size`` (area), with
    keypoints in that frame (NaN for joints the file does not label or has no counterpart
    for). Image files are found beside the annotations file or in its ``images/``
    folder. ``document``: the file's content when already read (``read_coco``)."""
    path = Path(path)
    document = read_coco(path) if document is None else document
    category_id, keypoint_count, layout, layout_name = _layout(document, path)
    annotations = document.get("annotations") or []
    if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
        raise StickposeError(f"{path}: annotations is not a list of objects")
    people: dict[int, list] = {}
    for annotation in annotations:
        if annotation.get("category_id") != category_id or annotation.get("iscrowd", 0) != 0:
            continue
        image_id = _integer(annotation.get("image_id"), "an annotation's image_id", path)
        person = _person(annotation, layout, keypoint_count, path)
        if np.isfinite(person[0]).all(axis=-1).any():        # at least one labelled joint
            people.setdefault(image_id, []).append(person)
    seen, crowded, unlabelled = set(), 0, 0
    images, keypoints, visible, ids, names, areas, boxes = [], [], [], [], [], [], []
    for entry in document["images"]:
        if not isinstance(entry, dict):
            raise StickposeError(f"{path}: images holds {json.dumps(entry)[:40]}, not an "
                                 "image object")
        image_id = _integer(entry.get("id"), "image id", path)
        if image_id in seen:
            raise StickposeError(f"{path}: image id {image_id} appears twice")
        seen.add(image_id)
        found = people.get(image_id, [])
        crowded += len(found) > 1
        unlabelled += not found
        if len(found) != 1 or (count is not None and len(images) == count):
            continue
        file = _image_file(path.parent, str(entry.get("file_name", "")))
        image = read_image(file) if file else None
        if image is None:
            raise StickposeError(f"{path}: image id {image_id}: cannot read "
                                 f"{entry.get('file_name')!r} beside the file or in its "
                                 "images/ folder")
        points, shown, area = found[0]
        square, scale, offset = letterbox(image, size)
        known = np.isfinite(points).all(axis=-1)
        if area is None:                          # the labelled joints' box, as we write it
            extent = points[known].max(axis=0) - points[known].min(axis=0)
            area = float(extent[0] * extent[1])
        images.append(square)
        keypoints.append((points + offset + 0.5) * scale - 0.5)
        visible.append(shown)
        ids.append(image_id)
        names.append(str(entry["file_name"]))
        areas.append(area * scale ** 2)
        boxes.append((scale, offset))
    if not images:
        raise StickposeError(f"{path} has no image with exactly one annotated person with a "
                             f"labelled joint ({crowded} with several, {unlabelled} with "
                             "none)")
    left_out = [f"{n} {what}" for n, what in ((crowded, "with several people"),
                                              (unlabelled, "with no labelled person")) if n]
    summary = (f"{path.name}: {layout_name}, {len(images)} images letterboxed to {size} px"
               + (f" ({', '.join(left_out)} left out)" if left_out else ""))
    return CocoSet(np.stack(images), np.stack(keypoints), np.stack(visible), ids, names,
                   np.array(areas), np.array([b[0] for b in boxes]),
                   np.array([b[1] for b in boxes], float), summary)


def _image_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / "images" / name):
        if name and candidate.is_file():
            return candidate
    return None
