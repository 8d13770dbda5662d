"""Keypoint metrics in pure NumPy (and COCO's OKS AP through pycocotools). Keypoints
``(N, J, 2)`` xy pixels; ``visible`` ``(N, J)`` bool where given. Per-joint results are
``(J,)`` arrays. A true joint that is NaN is unlabelled (a COCO dataset without it):
distances, PCK and OKS leave it out; the class score needs every joint (see
``evaluate.score``)."""
from __future__ import annotations

import numpy as np

from .errors import StickposeError
from .skeleton import FLIP_INDEX, FLIP_PAIRS, HEAD_TOP, UPPER_NECK

L_SHOULDER, R_HIP = 13, 2
NORMALISERS = ("bbox", "torso", "head")


def distances(predicted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Euclidean error per joint ``(N, J)`` pixels."""
    predicted, truth = _pair_of_poses(predicted, truth)
    return np.linalg.norm(predicted - truth, axis=-1)


def class_scores(predicted: np.ndarray, truth: np.ndarray, width: int, height: int) -> np.ndarray:
    """The class test score of each image ``(N,)``, **as the class meant it** (the intended
    score, stickpose's default): the sum of |truth - prediction| over the coordinates whose
    true value is > 0 (a zero coordinate, the leftmost or topmost joint of a stretched
    figure, is skipped), with x divided by the image **height** and y by its **width** (the
    class's order; the same for its square images). The class's own code, read literally,
    computed something else: ``class_scores_as_written``."""
    predicted, truth = _pair_of_poses(predicted, truth)
    scale = np.array([height, width], dtype=np.float64)
    error = np.abs(truth / scale - predicted / scale)
    return np.where(truth / scale > 0, error, 0.0).sum(axis=(1, 2))


def _pair_of_poses(predicted, truth) -> tuple[np.ndarray, np.ndarray]:
    predicted, truth = np.asarray(predicted, np.float64), np.asarray(truth, np.float64)
    if predicted.shape != truth.shape or predicted.ndim != 3 or predicted.shape[-1] != 2:
        raise StickposeError(f"predictions {predicted.shape} and truth {truth.shape} must "
                             "both be (N, J, 2)")
    return predicted, truth


def class_file_order(count: int) -> np.ndarray:
    """``(count,)``: for image ``i`` of a set in the class's layout (file ``{i}.png``), the
    row of the labels file that the class's ``evaluation_test/test.py`` scores it against.
    That code sorts the file names **as strings** (``0.png, 1.png, 10.png, 100.png, ...``)
    and pairs the k-th name with label row k, so ``10.png`` meets row 2; with at most 10
    images the order is the numeric one."""
    names = sorted(f"{i}.png" for i in range(count))
    row = {name: k for k, name in enumerate(names)}
    return np.array([row[f"{i}.png"] for i in range(count)], dtype=np.int64)


def class_scores_as_written(predicted: np.ndarray, truth: np.ndarray, width: int,
                            height: int) -> np.ndarray:
    """The class test score of each image ``(N,)`` **as the class's evaluation code computed
    it** (``evaluation_test/test.py`` at its 2021 commit 1fc45d9, read literally), for a set
    in the class's layout holding exactly these images as ``0.png ... {N-1}.png`` with their
    labels in that order:

    1. image ``i`` is paired with label row ``class_file_order(N)[i]`` (names sorted as
       strings);
    2. the labels are int64 (the class's labels file; stored values are truncated), and x /
       height and y / width are written back into that int64 array: every coordinate
       becomes 0 except one equal to the image's size, which becomes 1;
    3. the sum of |label - prediction / size| over the coordinates whose (truncated) label is
       > 0: the rightmost joint's x and the lowest joint's y, where they reach the size.

    ``predicted`` ``(N, J, 2)`` in the images' pixels (divided by the size here, as the
    class divided its model's output by its input size); ``truth`` in the same order, as
    stored. It measures the scale of two coordinates, not where the keypoints are: on sets
    where no label reaches the size (the class's 2022 drawing, stickpose's own suite) every
    prediction scores 0."""
    predicted, truth = _pair_of_poses(predicted, truth)
    stored = np.trunc(truth[class_file_order(len(truth))]).astype(np.int64)
    scale = np.array([height, width], dtype=np.float64)
    kept = np.trunc(stored / scale).astype(np.int64)       # written back into int64
    error = np.abs(kept - predicted / scale)
    return np.where(kept > 0, error, 0.0).sum(axis=(1, 2))


def class_score(predicted: np.ndarray, truth: np.ndarray, width: int, height: int) -> float:
    """The class test score as intended: ``class_scores`` averaged over images (lower is
    better)."""
    return float(class_scores(predicted, truth, width, height).mean())


def class_score_as_written(predicted: np.ndarray, truth: np.ndarray, width: int,
                           height: int) -> float:
    """The class test score as the class's code computed it: ``class_scores_as_written``
    averaged over images."""
    return float(class_scores_as_written(predicted, truth, width, height).mean())


def flip_tolerant_score(predicted: np.ndarray, truth: np.ndarray, width: int,
                        height: int) -> float:
    """The intended class score with, per image, the better of the prediction and its left/right
    mirror labelling (every left joint exchanged with its right twin): what remains once
    the left/right convention, which a stick figure cannot show, is forgiven."""
    predicted = np.asarray(predicted)
    own = class_scores(predicted, truth, width, height)
    mirror = class_scores(predicted[:, list(FLIP_INDEX)], truth, width, height)
    return float(np.minimum(own, mirror).mean())


def labelled(truth: np.ndarray) -> np.ndarray:
    """``(N, J)`` bool: the true joints that are labelled (not NaN)."""
    return np.isfinite(np.asarray(truth, np.float64)).all(axis=-1)


def mpjpe(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Mean per-joint position error in pixels (over labelled joints)."""
    return float(distances(predicted, truth)[labelled(truth)].mean())


def mse(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Mean squared Euclidean error per joint, squared pixels (seed 000's MSE)."""
    return float((distances(predicted, truth)[labelled(truth)] ** 2).mean())


def bbox_diagonal(truth: np.ndarray) -> np.ndarray:
    """Diagonal of each ground-truth pose's bounding box (its labelled joints) ``(N,)``
    pixels."""
    return np.linalg.norm(np.nanmax(truth, axis=1) - np.nanmin(truth, axis=1), axis=-1)


def reference_length(truth: np.ndarray, normaliser: str = "bbox") -> np.ndarray:
    """Per-image reference distance ``(N,)`` pixels: ``bbox`` the pose's bounding-box
    diagonal (the class), ``torso`` left shoulder to right hip (LSP), ``head`` upper neck to
    head top (the head segment)."""
    if normaliser == "bbox":
        return bbox_diagonal(truth)
    pairs = {"torso": (L_SHOULDER, R_HIP), "head": (UPPER_NECK, HEAD_TOP)}
    if normaliser not in pairs:
        raise StickposeError(f"unknown PCK normaliser {normaliser!r}; known: "
                             f"{', '.join(NORMALISERS)}")
    a, b = pairs[normaliser]
    return np.linalg.norm(truth[:, a] - truth[:, b], axis=-1)


def correct(predicted: np.ndarray, truth: np.ndarray, threshold: float = 0.15,
            normaliser: str = "bbox") -> np.ndarray:
    """``(N, J)`` bool: joints within ``threshold`` x the image's reference length."""
    reference = reference_length(np.asarray(truth, np.float64), normaliser)
    return distances(predicted, truth) <= threshold * reference[:, None]


def measurable(truth: np.ndarray, normaliser: str = "bbox") -> np.ndarray:
    """``(N, J)`` bool: the joints PCK can judge: labelled, in an image whose reference
    length is a positive number (one labelled joint has a bounding box of diagonal 0, and
    "within 0 px" would be no measurement)."""
    truth = np.asarray(truth, np.float64)
    reference = reference_length(truth, normaliser)
    with np.errstate(invalid="ignore"):
        return labelled(truth) & (reference > 0)[:, None]


def pck(predicted: np.ndarray, truth: np.ndarray, threshold: float = 0.15,
        normaliser: str = "bbox") -> float:
    """Share of the ``measurable`` joints within ``threshold`` x the reference length
    (default: the bounding-box diagonal of the ground truth, as the class did); NaN (not
    a measured zero) where no joint is measurable."""
    judged = measurable(truth, normaliser)
    if not judged.any():
        return float("nan")
    return float(correct(predicted, truth, threshold, normaliser)[judged].mean())


def pck_per_joint(predicted: np.ndarray, truth: np.ndarray, threshold: float = 0.15,
                  normaliser: str = "bbox") -> np.ndarray:
    """PCK of each joint ``(J,)`` (NaN for a joint measurable nowhere)."""
    hit = np.where(measurable(truth, normaliser),
                   correct(predicted, truth, threshold, normaliser), np.nan)
    counts = (~np.isnan(hit)).sum(axis=0)
    with np.errstate(invalid="ignore"):
        return np.where(counts > 0, np.nansum(hit, axis=0) / counts, np.nan)


def pck_auc(predicted: np.ndarray, truth: np.ndarray, max_threshold: float = 0.2,
            normaliser: str = "bbox", steps: int = 21) -> float:
    """Area under the PCK-vs-threshold curve over ``[0, max_threshold]``, divided by the
    range (1.0 is perfect): the trapezoid rule over ``steps`` evenly spaced thresholds."""
    thresholds = np.linspace(0, max_threshold, steps)
    values = [pck(predicted, truth, t, normaliser) for t in thresholds]
    return float(np.trapezoid(values, thresholds) / max_threshold)


def swap_rate(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Share of left/right joints predicted closer to their mirror joint's truth than to
    their own (a left/right confusion)."""
    lateral = sorted(j for pair in FLIP_PAIRS for j in pair)
    own = distances(predicted, truth)[:, lateral]
    mirror = distances(predicted, truth[:, list(FLIP_INDEX)])[:, lateral]
    return float((mirror < own).mean())


def split_by_visibility(predicted: np.ndarray, truth: np.ndarray, visible: np.ndarray,
                        threshold: float = 0.15, normaliser: str = "bbox") -> dict:
    """PCK and MSE over visible and over occluded joints separately (NaN when a group is
    empty), with the joint counts."""
    visible = np.asarray(visible, bool)
    known = labelled(truth)
    hit = correct(predicted, truth, threshold, normaliser)
    squared = distances(predicted, truth) ** 2
    result = {}
    for name, mask in (("visible", visible & known), ("occluded", ~visible & known)):
        count = int(mask.sum())
        result[f"pck_{name}"] = float(hit[mask].mean()) if count else float("nan")
        result[f"mse_{name}"] = float(squared[mask].mean()) if count else float("nan")
        result[f"joints_{name}"] = count
    return result


# --- the LSP benchmark (the MPII-benchmark evalLSP routines) --------------------------------
# Keypoints in LSP's 14-joint order. Distances are divided by the reference length first and
# then compared with "<=", as the MATLAB code does; a zero reference gives inf (a miss).

LSP_PARTS = {"Head": (12, 13), "Shoulder": (8, 9), "Elbow": (7, 10), "Wrist": (6, 11),
             "Hip": (2, 3), "Knee": (1, 4), "Ankle": (0, 5)}
LSP_THRESHOLDS = np.round(np.arange(0, 21) * 0.01, 2)        # 0:0.01:0.2
# sticks as evalLSP's keypoints2sticks builds them; "torso" joins the hip and shoulder midpoints
LSP_STICKS = ((0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 8), (9, 10), (10, 11), (12, 13),
              ("hips", "shoulders"))
PCP_PARTS = {"Torso": (9,), "Upper leg": (1, 2), "Lower leg": (0, 3), "Upper arm": (5, 6),
             "Forearm": (4, 7), "Head": (8,)}


def _ratio(distance: np.ndarray, reference: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = distance / reference
    return np.where(np.isfinite(ratio), ratio, np.inf)


def lsp_pck(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """LSP PCK in percent: per part at 0.2 of the torso (left shoulder to right hip of the
    truth), left and right averaged, ``Mean`` over all joints, and ``AUC`` of the mean PCK
    over thresholds 0-0.2 (the range scaled to [0, 1], trapezoids). ``(N, 14, 2)`` each."""
    reference = np.linalg.norm(truth[:, 9] - truth[:, 2], axis=-1)
    ratio = _ratio(np.linalg.norm(predicted - truth, axis=-1), reference[:, None])
    per_joint = 100 * (ratio <= 0.2).mean(axis=0)
    table = {part: float(per_joint[list(joints)].mean()) for part, joints in LSP_PARTS.items()}
    table["Mean"] = float(100 * (ratio <= 0.2).mean())
    curve = [100 * (ratio <= t).mean() for t in LSP_THRESHOLDS]
    table["AUC"] = float(np.trapezoid(curve, np.linspace(0, 1, len(LSP_THRESHOLDS))))
    return table


def _sticks(keypoints: np.ndarray) -> np.ndarray:
    """``(N, 10, 2, 2)``: each stick's two end points."""
    ends = {"hips": keypoints[:, [2, 3]].mean(1), "shoulders": keypoints[:, [8, 9]].mean(1)}
    return np.stack([np.stack([ends[a] if isinstance(a, str) else keypoints[:, a],
                               ends[b] if isinstance(b, str) else keypoints[:, b]], 1)
                     for a, b in LSP_STICKS], 1)


def lsp_pcp(predicted: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> dict:
    """Strict PCP in percent: a stick is correct when each predicted end lies within
    ``threshold`` x the true stick's length of the same true end. Per part (left and right
    averaged) and ``Mean`` over all ten sticks."""
    predicted, truth = _sticks(predicted), _sticks(truth)
    length = np.linalg.norm(truth[:, :, 0] - truth[:, :, 1], axis=-1)          # (N, 10)
    ratio = _ratio(np.linalg.norm(predicted - truth, axis=-1), length[..., None])
    correct = 100 * (ratio <= threshold).all(-1).mean(axis=0)                 # (10,)
    table = {part: float(correct[list(sticks)].mean()) for part, sticks in PCP_PARTS.items()}
    table["Mean"] = float(correct.mean())
    return table


# --- COCO's keypoint AP (object keypoint similarity), through pycocotools ------------------

#: OKS sigmas of the 16 joints: COCO's own (pycocotools' ``kpt_oks_sigmas``) for the twelve
#: joints both skeletons have; for the four COCO does not mark, those of the COCO joints
#: each is made from or nearest to: pelvis the hips' (it is their mean), thorax and upper
#: neck the shoulders', head top the ears' (the widest-spread of COCO's head points).
OKS_SIGMAS = np.array([0.089, 0.087, 0.107, 0.107, 0.087, 0.089,      # legs
                       0.107, 0.079, 0.079, 0.035,                    # pelvis ... head top
                       0.062, 0.072, 0.079, 0.079, 0.072, 0.062])     # arms


def oks_ap(predicted: np.ndarray, truth: np.ndarray, confidence: np.ndarray | None = None,
           areas: np.ndarray | None = None, image_ids=None) -> dict:
    """COCO keypoint AP (over OKS 0.50:0.05:0.95), AP50, AP75 and AR, by pycocotools'
    ``COCOeval`` with ``OKS_SIGMAS``: one person per image, its scale ``areas`` ``(N,)``
    (default: the area of the true joints' bounding box, as stickpose's
    ``annotations.json`` records it), unlabelled joints left out, and images ranked by
    ``confidence`` ``(N,)`` (default: all equal), ties in the order of ``image_ids``
    (default ``1 .. N``), as ``COCOeval`` breaks them. NaN where no joint is labelled."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from .data.coco import coco_keypoints, results

    predicted, truth = np.asarray(predicted, np.float64), np.asarray(truth, np.float64)
    ids = list(range(1, len(truth) + 1)) if image_ids is None else [int(i) for i in image_ids]
    document = coco_keypoints(truth, labelled(truth), None, [""] * len(truth),
                              image_ids=ids)
    if areas is not None:
        for annotation, area in zip(document["annotations"], areas):
            annotation["area"] = float(area)
    confidence = np.ones(len(truth)) if confidence is None else np.asarray(confidence)
    with contextlib.redirect_stdout(io.StringIO()):          # pycocotools prints its steps
        ground = COCO()
        ground.dataset = document
        ground.createIndex()
        found = ground.loadRes(results(predicted, confidence, ids))
        evaluation = COCOeval(ground, found, "keypoints")
        evaluation.params.kpt_oks_sigmas = OKS_SIGMAS
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = [float(v) if v >= 0 else float("nan") for v in evaluation.stats]  # -1: none
    return {"ap": stats[0], "ap50": stats[1], "ap75": stats[2], "ar": stats[5]}
