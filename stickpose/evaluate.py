"""Scoring trained runs: every decoder on the same heatmaps, on the benchmark sets, any
dataset folder, occluded copies of them, or keypoints another tool produced.

Metrics are measured in the evaluated images' own pixels (224 for the class benchmark):
images are resized to the model input and predictions mapped back.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from . import metrics
from .codecs.coordinates import denormalise
from .codecs.decoders import DECODERS, decode
from .codecs.fc import decode_fc, load_fc
from .codecs.flip import FLIP, averaged, mirror_images
from .data.coco import coco_keypoints, dataset_image_ids, read_results, results
from .data.lsp import LSP_COUNT, from_skeleton, lsp_splits, read_joints, test_crops, uncrop
from .data.occlusion import occlude
from .data.render import resize_set
from .data.sets import EvalSet, data_id, dataset_source, folder_sets, load_set, suite_sets
from .data.suites import load_suite
from .errors import StickposeError
from .files import check_stop, interrupts_deferred, load_array, write_atomic
from .models.registry import HEADS
from .runs import RunDir, TrainConfig, load_handedness, load_run, test_names
from .skeleton import JOINT_NAMES, NUM_JOINTS

ALL = "all"
REFERENCE_ONLY = ("gmm-sklearn",)      # left out of "all": the slow reference path
HEAD_OUTPUT = "coordinates"            # the "decoder" of scalar and integral heads
CURVE = np.round(np.arange(1, 13) * 0.025, 3)    # PCK thresholds 0.025-0.3 of the diagonal
WRITTEN_NOTE = ("class score (as written): the class's evaluation_test/test.py read "
                "literally (its int64 labels keep only coordinates equal to the image size, "
                "the rightmost x and the lowest y; files paired with labels in string "
                "order), the protocol of the class's published scores. It measures the "
                "scale of two coordinates, not where the keypoints are: compare it only "
                "with scores computed the same way, never with the intended score.")
KEYPOINTS = "_keypoints"       # a table row's predictions and confidences (not a column)
COLUMNS = {"decoder": "decoder", "pck": "PCK@0.15", "mse": "MSE px²", "mpjpe": "MPJPE px",
           "score": "class score (intended)", "score_written": "class score (as written)",
           "flip_score": "flip-tolerant score", "swap": "L/R swaps",
           "auc": "AUC@0.2", "ap": "OKS AP", "ap50": "AP50", "ap75": "AP75", "ar": "AR",
           "decode_ms": "decode ms/img", "pipeline_ms": "pipeline ms/img",
           "pck_visible": "PCK visible", "pck_occluded": "PCK occluded",
           "lsp_pck": "LSP PCK@0.2", "lsp_auc": "LSP AUC", "pcp": "strict PCP"}


def resolve_decoders(spec: str, head_target: str, run: Path | None = None) -> list[str]:
    """Decoder names for ``--decoders``: ``all`` or a comma-separated list. ``all`` leaves out
    the slow reference path and, in a run without trained weights, ``fc``. Scalar and
    integral heads have their own coordinates and take no decoder."""
    if head_target != "heatmaps":
        if spec not in (ALL, HEAD_OUTPUT):
            raise StickposeError(f"decoders apply to heatmap heads only; this run's head "
                                 f"predicts coordinates (use --decoders {ALL})")
        return [HEAD_OUTPUT]
    if spec == ALL:
        has_fc = run is not None and (run / RunDir.FC).is_file()
        return [n for n in DECODERS.names()
                if n not in REFERENCE_ONLY and (n != "fc" or has_fc)]
    names = list(dict.fromkeys(n.strip() for n in spec.split(",") if n.strip()))   # once each
    if not names:
        raise StickposeError(f"--decoders {spec!r} names no decoder; known: "
                             f"{', '.join(DECODERS.names())} or {ALL}")
    for name in names:
        DECODERS.get(name)                              # unknown: the error lists the known
    if "fc" in names and (run is None or not (run / RunDir.FC).is_file()):
        raise StickposeError(f"run {run} has no trained fc decoder ({RunDir.FC}); "
                             "train it with `stickpose train-decoder RUN`")
    return names


def forward(model, images: np.ndarray, head_target: str, batch_size: int = 64,
            flip: bool = False):
    """The model's final output for ``images`` ``(n, s, s, 3) uint8`` and the seconds the
    forward pass took (after untimed warm-up batches of both sizes the pass uses, a full
    one and the last, shorter one, which absorb tracing). ``flip``: averaged with the output
    on the mirrored images (``codecs.flip``; two forward passes)."""
    inputs = images.astype(np.float32) / 255.0

    def run(batch):
        return np.asarray(model.predict(batch, batch_size=batch_size, verbose=0)[head_target])
    for size in {min(batch_size, len(inputs)), len(inputs) % batch_size} - {0}:
        run(inputs[:size])
    start = time.perf_counter()
    output = run(inputs)
    if flip:
        output = averaged(output, run(mirror_images(inputs)), head_target, images.shape[1])
    return output, time.perf_counter() - start


def to_keypoints(name: str, output: np.ndarray, input_size: int, sigma: float,
                 fc_model=None) -> np.ndarray:
    """Keypoints ``(n, 16, 2)`` input px from a model output with decoder ``name``."""
    if name == HEAD_OUTPUT:
        return denormalise(output, input_size)
    if name == "fc":
        return decode_fc(fc_model, output, input_size)[0]
    return decode(name, output, input_size, sigma)[0]


def score(predicted: np.ndarray, truth: np.ndarray, size: int | None,
          visible: np.ndarray | None = None, confidence: np.ndarray | None = None,
          oks: bool = True, as_written: bool = False) -> dict:
    """The metrics of one prediction set in ``size`` x ``size`` images: the class's (score
    as intended, and with ``as_written`` ``score_written``, the score as its code computed
    it, on these same predictions; PCK@0.15 of the bounding-box diagonal, MPJPE), seed
    000's MSE, the left/right swap rate, AUC of PCK over 0-0.2, PCK at the ``CURVE`` thresholds (``pck@T``), COCO's OKS
    AP, AP50, AP75 and AR (``metrics.oks_ap``; images ranked by ``confidence``), and PCK /
    MSE split by visibility when some joints are hidden. Images of mixed sizes (``size``
    None) have no class score; neither do sets where some joints are unlabelled (NaN):
    the class score and the swap rate need every joint, the other metrics leave those out.
    ``oks`` False: no AP (``evaluate_sets`` adds it with the set's own ids and scales)."""
    complete = bool(metrics.labelled(truth).all())
    result = {"pck": metrics.pck(predicted, truth, 0.15),
              "mse": metrics.mse(predicted, truth),
              "mpjpe": metrics.mpjpe(predicted, truth),
              "swap": metrics.swap_rate(predicted, truth) if complete else float("nan"),
              "auc": metrics.pck_auc(predicted, truth, 0.2),
              **(metrics.oks_ap(predicted, truth, confidence) if oks else {}),
              # the PCK-vs-threshold curve (the leaderboard plots it per decoder)
              **{f"pck@{t:g}": metrics.pck(predicted, truth, t) for t in CURVE}}
    if size is not None and complete:
        result["score"] = metrics.class_score(predicted, truth, size, size)
        result["flip_score"] = metrics.flip_tolerant_score(predicted, truth, size, size)
        if as_written:
            result["score_written"] = metrics.class_score_as_written(predicted, truth, size,
                                                                     size)
    if visible is not None and not np.all(visible[metrics.labelled(truth)]):
        split = metrics.split_by_visibility(predicted, truth, visible)
        result.update(pck_visible=split["pck_visible"], pck_occluded=split["pck_occluded"])
    return result


def confidence_of(output: np.ndarray, head_target: str) -> np.ndarray | None:
    """Each image's instance score ``(n,)`` for COCO's AP ranking: the mean of its heatmaps'
    peaks (None for heads that predict coordinates and give no confidence)."""
    return output.max(axis=(1, 2)).mean(axis=-1) if head_target == "heatmaps" else None


def _decode_each(decoders: list[str], output: np.ndarray, config, fc_model=None):
    """Yields ``(name, keypoints (n, 16, 2) input px, seconds spent decoding)`` per decoder."""
    for name in decoders:
        start = time.perf_counter()
        predicted = to_keypoints(name, output, config.input_size, config.sigma, fc_model)
        yield name, predicted, time.perf_counter() - start


def decoder_table(model, config, images: np.ndarray, truth: np.ndarray, visible: np.ndarray,
                  decoders: list[str], head_target: str, fc_model=None,
                  batch_size: int = 64, handedness=None, as_written: bool = False,
                  flip: bool = False) -> list[dict]:
    """One row per decoder: metrics in the images' pixels and milliseconds per image, for
    decoding alone and for the whole pipeline (resize, forward pass, decoding). With
    ``handedness`` (``codecs.handedness.Handedness``), the decoded observer-centric keypoints
    are relabelled person-centric before scoring. ``as_written``: also ``score_written``,
    the class score as the class's code computed it, on predictions made as that code made
    them (the images resized with OpenCV's default, bilinear; see ``written_scores``).
    ``flip``: the model's output averaged with its output on the mirrored images
    (``codecs.flip``) before decoding, in both."""
    size, count = images.shape[1], len(images)
    start = time.perf_counter()
    small, _ = resize_set(images, truth, config.input_size)
    resize_seconds = time.perf_counter() - start
    output, forward_seconds = forward(model, small, head_target, batch_size, flip)
    confidence = confidence_of(output, head_target)
    written = (written_scores(model, config, images, truth, decoders, head_target, fc_model,
                              batch_size, handedness, flip) if as_written else {})
    rows = []
    for name, predicted, decode_seconds in _decode_each(decoders, output, config, fc_model):
        predicted = _to_images(predicted, size, config, handedness)
        rows.append({"decoder": name,
                     **score(predicted, truth, size, visible, confidence, oks=False),
                     **({"score_written": written[name]} if written else {}),
                     "decode_ms": 1000 * decode_seconds / count,
                     "pipeline_ms": 1000 * (resize_seconds + forward_seconds
                                            + decode_seconds) / count,
                     KEYPOINTS: (predicted, confidence)})
    return rows


def _to_images(predicted: np.ndarray, size: int, config, handedness=None) -> np.ndarray:
    """Decoded keypoints in input pixels -> the ``size`` px images' pixels (the convention
    the model trained with), relabelled person-centric by ``handedness`` when given."""
    predicted = (predicted + 0.5) * size / config.input_size - 0.5
    return predicted if handedness is None else handedness.apply(predicted)


def written_scores(model, config, images: np.ndarray, truth: np.ndarray,
                   decoders: list[str], head_target: str, fc_model=None,
                   batch_size: int = 64, handedness=None,
                   flip: bool = False) -> dict[str, float]:
    """``{decoder: the class score as written}`` (``metrics.class_score_as_written``) of a
    model on square images ``(n, S, S, 3)`` with labels ``truth``, predicted as the class's
    ``evaluation_test/test.py`` predicted: each image resized to the model input with
    OpenCV's default interpolation (bilinear). The prediction enters the score divided by
    the image size after it is mapped to the labels' pixels by the convention the model
    trained with (for the class's models, trained with ``p / input * S``, that is the
    class's ``p / input``)."""
    size = images.shape[1]
    small, _ = resize_set(images, truth, config.input_size, cv2.INTER_LINEAR)
    output, _ = forward(model, small, head_target, batch_size, flip)
    return {name: metrics.class_score_as_written(
                _to_images(predicted, size, config, handedness), truth, size, size)
            for name, predicted, _ in _decode_each(decoders, output, config, fc_model)}


def evaluate_lsp(model, config, split, decoders: list[str], head_target: str, fc_model=None,
                 count: int | None = None, batch_size: int = 64,
                 params: str = "", flip: bool = False) -> pd.DataFrame:
    """One row per decoder (set ``lsp-test``, with the columns of ``evaluate_model``) on LSP
    images (``data.lsp.LspSplit``): person-centred crops at the
    model's input, predictions mapped back to the original pixels; the metrics of ``score``
    (no class score: the images differ in size) and the LSP benchmark (PCK@0.2 of the torso
    per part, its AUC, strict PCP per part; percent) on the 14 LSP joints."""

    start = time.perf_counter()
    crops, _, _, matrices = test_crops(split, config.input_size, count)
    crop_seconds = time.perf_counter() - start
    truth, visible = split.keypoints[:len(crops)], split.visible[:len(crops)]
    output, forward_seconds = forward(model, crops, head_target, batch_size, flip)
    confidence = confidence_of(output, head_target)
    identity = {"set": "lsp-test", "occlusion": "none", "images": len(crops)}
    identity.update(data_id=data_id(crops, truth, visible),
                    canonical=len(crops) == len(split), source="LSP test images 1001-2000")
    rows = []
    for name, predicted, decode_seconds in _decode_each(decoders, output, config, fc_model):
        predicted = np.stack([uncrop(p, m) for p, m in zip(predicted, matrices)])
        pck = metrics.lsp_pck(from_skeleton(predicted), from_skeleton(truth))
        pcp = metrics.lsp_pcp(from_skeleton(predicted), from_skeleton(truth))
        rows.append({**identity, "decoder": name, "params": _params_of(name, params, flip),
                     **score(predicted, truth, None, visible, confidence),
                     "lsp_pck": pck["Mean"], "lsp_auc": pck["AUC"], "pcp": pcp["Mean"],
                     **{f"PCK {k}": v for k, v in pck.items() if k not in ("Mean", "AUC")},
                     **{f"PCP {k}": v for k, v in pcp.items() if k != "Mean"},
                     "decode_ms": 1000 * decode_seconds / len(crops),
                     "pipeline_ms": 1000 * (crop_seconds + forward_seconds + decode_seconds)
                     / len(crops)})
    return pd.DataFrame(rows)


def predict_keypoints(model, images: np.ndarray, config, head_target: str,
                      decoder: str = "quarter") -> np.ndarray:
    """Keypoints ``(n, 16, 2)`` in input pixels for ``images`` ``(n, s, s, 3) uint8`` at the
    model's input size."""
    output = np.asarray(model.predict(images.astype(np.float32) / 255.0, verbose=0)[head_target])
    name = decoder if head_target == "heatmaps" else HEAD_OUTPUT
    return to_keypoints(name, output, config.input_size, config.sigma)


# --- keypoints from other tools -------------------------------------------------------------

def _keypoint_array(path: Path, joints: int) -> np.ndarray:
    """A ``.npy`` of keypoints ``(N, joints, 2)`` as float64, or an error naming its shape."""
    predicted = load_array(path, "predictions")
    if predicted.ndim != 3 or predicted.shape[1:] != (joints, 2):
        raise StickposeError(f"predictions {path} have shape {predicted.shape}; expected "
                             f"(N, {joints}, 2)")
    return predicted.astype(np.float64)


def load_predictions(path: Path, image_ids: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
    """Keypoints ``(n, 16, 2)`` for the images with COCO ids ``image_ids``, and their
    scores (None for an array), from ``.npy`` ``(n, 16, 2)`` or a COCO keypoint results
    JSON (a list of ``{"image_id", "keypoints": [x, y, v] * 16, "score"}`` for the
    dataset's ids, ``annotations.json``'s; the highest-scored entry per image is used)."""
    path = Path(path)
    count = len(image_ids)
    scores = None
    if path.suffix.lower() == ".npy":
        predicted = _keypoint_array(path, NUM_JOINTS)
    elif path.suffix.lower() == ".json":
        predicted, scores = read_results(path, image_ids)
    else:
        raise StickposeError(f"predictions {path}: expected a .npy array or a COCO results "
                             ".json file")
    if len(predicted) != count:
        raise StickposeError(f"predictions {path} hold {len(predicted)} poses but the dataset "
                             f"has {count} images")
    missing = ~np.isfinite(predicted).all(axis=-1)
    if missing.any():
        raise StickposeError(f"predictions {path} have {int(missing.sum())} joint(s) that are "
                             f"NaN or infinite (first: image {int(np.argwhere(missing)[0][0])})"
                             "; give every joint a position (a guess counts as a miss)")
    return predicted.astype(np.float64), scores


def score_predictions(predictions: Path, dataset, as_written: bool = False) -> pd.DataFrame:
    """One row of metrics for keypoints another tool made on a dataset folder (``dataset``
    as ``--dataset`` takes it; the set named ``NAME@HASH``, ``DatasetSource.result_name``);
    the class score as written too on a set in the class's layout or with ``as_written``."""
    if str(dataset).startswith("coco:"):
        raise StickposeError("--predictions scores against a dataset folder; for a COCO file "
                             "use pycocotools on it and your results directly")
    source = dataset_source(dataset)
    images, truth, visible = load_set(source)
    ids = dataset_image_ids(source.path, len(truth))
    predicted, scores = load_predictions(predictions, ids)
    return pd.DataFrame([{"set": source.result_name(), "occlusion": "none",
                          "images": len(truth),
                          "decoder": Path(predictions).name,
                          **score(predicted, truth, images.shape[1], visible, oks=False,
                                  as_written=as_written or source.kind == "class"),
                          **metrics.oks_ap(predicted, truth, scores, image_ids=ids)}])


# --- tables ---------------------------------------------------------------------------------

def markdown(rows: pd.DataFrame) -> str:
    """Seed 000's table for one set: a row per decoder, the measured columns present."""
    shown = [c for c in COLUMNS if c in rows and (rows[c].notna().any() or c == "pck")]
    table = rows[shown].rename(columns=COLUMNS)
    table = table.astype(object).where(table.notna(), None)     # not measured: n/a
    return table.to_markdown(index=False, floatfmt=".3f", missingval="n/a")


def occlusion_markdown(results: pd.DataFrame) -> str:
    """Seed 000's second table: PCK and MSE with the upper or the lower body blacked out."""
    parts = []
    for kind in ("upper", "lower"):
        part = results[results["occlusion"] == kind].groupby("decoder", sort=False)[["pck", "mse"]]
        parts.append(part.mean().add_prefix(f"{kind}_"))
    table = pd.concat(parts, axis=1).reset_index()
    table = table[["decoder", "upper_pck", "lower_pck", "upper_mse", "lower_mse"]]
    return table.rename(columns={"upper_pck": "Upper PCK", "lower_pck": "Lower PCK",
                                 "upper_mse": "Upper MSE", "lower_mse": "Lower MSE"}
                        ).to_markdown(index=False, floatfmt=".3f")


def report(results: pd.DataFrame, title: str) -> str:
    """The Markdown report: one decoder table per (set, occlusion), then upper vs lower."""
    lines = [f"# {title}", ""]
    for (set_name, occlusion), rows in results.groupby(["set", "occlusion"], sort=False):
        heading = set_name if occlusion == "none" else f"{set_name}, occlusion: {occlusion}"
        lines += [f"## {heading} ({int(rows['images'].iloc[0])} images)", ""]
        if "note" in rows and rows["note"].notna().any():
            lines += [str(rows["note"].iloc[0]), ""]
        if "labelled" in rows and rows["labelled"].notna().any():
            missing = rows["unlabelled"].iloc[0]
            lines += [f"{100 * (1 - rows['labelled'].iloc[0]):.0f} % of the joints are not "
                      "labelled" + (f" (no image has {missing})" if missing else "")
                      + ": PCK, MPJPE, MSE and AP leave them out, and the class score, "
                      "flip-tolerant score and L/R swaps, which need all 16, are not "
                      "given.", ""]
        lines += [markdown(rows), ""]
    if "score_written" in results and results["score_written"].notna().any():
        lines += [WRITTEN_NOTE, ""]
    for prefix, title in (("PCK ", "LSP PCK@0.2 per part (torso reference, %)"),
                          ("PCP ", "LSP strict PCP per part (%)")):
        parts = [c for c in results if c.startswith(prefix)]
        if parts:
            table = results[["decoder", *parts]].rename(columns=lambda c: c[len(prefix):]
                                                        if c.startswith(prefix) else c)
            lines += [f"## {title}", "", table.to_markdown(index=False, floatfmt=".1f"), ""]
    kinds = set(results["occlusion"])
    if {"upper", "lower"} <= kinds:
        lines += ["## Upper vs lower body occluded (mean over sets)", "",
                  occlusion_markdown(results), ""]
    return "\n".join(lines)


# --- a whole run ----------------------------------------------------------------------------

def _prepare(run: Path, decoders: str, sigma: float | None):
    """A run's ``(config, model, head target, decoder names, fc model or None, params)``,
    with ``sigma`` (when given) replacing the training sigma for DARK and soft-argmax;
    ``params`` says so in results (``""`` for the run's own settings)."""
    from dataclasses import replace

    config, model = load_run(run)
    head_target = HEADS.get(config.head).target
    params = ("" if sigma is None or sigma == config.sigma or head_target != "heatmaps"
              else f"sigma={sigma:g}")
    if sigma is not None:
        config = replace(config, sigma=sigma)
    names = resolve_decoders(decoders, head_target, Path(run))
    return (config, model, head_target, names,
            load_fc(RunDir(run) / RunDir.FC) if "fc" in names else None, params)


def evaluated_suite(own: TrainConfig | None, suite: str | None = None, class_dir=None):
    """The suite to evaluate on: ``suite`` or else the one of ``own`` (a run's config, or
    the one an export records; default: stickman), with ``class_dir`` or else the class
    folder the run trained with (for its own suite)."""

    own = own or TrainConfig()
    name = suite or own.suite
    return load_suite(name, class_dir or (own.class_dir if name == own.suite else None))


def run_config(run: Path) -> TrainConfig | None:
    """The config of ``run`` if it is a run (the evaluation of anything else fails later,
    naming what is wrong)."""
    return RunDir(run).config() if RunDir(run).is_run() else None


def evaluation_sets(own: TrainConfig | None, suite: str | None = None, class_dir=None,
                    names: list[str] | None = None, datasets=(), count: int | None = None,
                    labels: str | None = None):
    """What ``stickpose evaluate`` measures on: ``--dataset`` folders and COCO files when
    given (``labels``: the convention of COCO files that record none), else sets ``names``
    (default test1-test4) of ``suite`` or the suite of ``own`` (``evaluated_suite``)."""
    if datasets:
        if suite or class_dir:
            raise StickposeError("--dataset replaces the suite's sets; give either --dataset "
                                 "or --suite/--class-dir")
        return folder_sets(datasets, count, labels)
    if labels is not None:
        raise StickposeError(f"--dataset-labels {labels} says the convention of --dataset "
                             "coco:FILE.json files; the suite's sets record their own")
    spec = evaluated_suite(own, suite, class_dir)
    return suite_sets(spec, names or test_names(spec), count)


def evaluate_model(model, config, sets: list[EvalSet], decoders: list[str], head_target: str,
                   occlusions=("none",), batch_size: int = 64, seed: int = 0, fc_model=None,
                   handedness=None, params: str = "", progress=None,
                   keep=None, as_written: bool = False, flip: bool = False) -> pd.DataFrame:
    """Every decoder on every set and occlusion (``evaluate_sets``): one row each, with
    ``params`` for the decoders that read them. ``handedness`` relabels predictions on sets
    labelled person-centric. The class score as written is given on the sets in the
    class's layout, and on every set with ``as_written``. ``flip``: test-time flip
    averaging (``codecs.flip``), which results name in their ``params``."""
    def table(images, truth, visible, spec):
        rows = decoder_table(model, config, images, truth, visible, decoders, head_target,
                             fc_model, batch_size, handedness if spec.person else None,
                             _written(spec, images, truth, as_written), flip)
        return [{**row, "params": _params_of(row["decoder"], params, flip)} for row in rows]
    return evaluate_sets(sets, table, occlusions, seed, progress, keep)


def _written(spec: EvalSet, images: np.ndarray, truth: np.ndarray, asked: bool) -> bool:
    """Whether a set is scored as the class's code wrote it too: it is the class's (or
    ``asked``), its images are square and every joint is labelled."""
    return ((spec.class_layout or asked) and images.shape[1] == images.shape[2]
            and bool(metrics.labelled(truth).all()))


def evaluate_sets(sets: list[EvalSet], table, occlusions=("none",), seed: int = 0,
                  progress=None, keep=None) -> pd.DataFrame:
    """``table(images, keypoints, visible, spec) -> rows`` (each with its ``decoder``) on
    every set and occlusion: one row each, with the columns ``set, occlusion, images,
    decoder, params`` and what identifies the measured data (``data_id``, the content hash
    of the images and labels scored; ``canonical``; ``source``), then the row's metrics
    (those of ``score``) and timings. ``progress(label)`` is called as each (set,
    occlusion) is done; ``keep(spec, occlusion, decoder, keypoints, confidence, truth,
    visible)`` with each row's predictions."""
    rows = []
    for spec in sets:
        images, truth, visible = spec.load()
        if any(kind != "none" for kind in occlusions) and not metrics.labelled(truth).all():
            raise StickposeError(f"set {spec.name} leaves some joints unlabelled; occlusion "
                                 "needs every joint (use --occlusion none)")
        for kind in occlusions:
            shown, seen = ((images, visible) if kind == "none"
                           else occlude(kind, images, truth, visible, seed))
            identity = {"data_id": data_id(shown, truth, seen), "canonical": spec.canonical,
                        "source": spec.source, **_coverage(truth), **spec.notes()}
            ids = spec.image_info(len(truth))[0]
            for row in table(shown, truth, seen, spec):
                predicted, confidence = row.pop(KEYPOINTS)
                row.update(metrics.oks_ap(predicted, truth, confidence, spec.oks_areas(),
                                          ids))
                if keep:
                    keep(spec, kind, row["decoder"], predicted, confidence, truth, seen)
                rows.append({"set": spec.name, "occlusion": kind, "images": len(images),
                             "decoder": row.pop("decoder"), "params": row.pop("params", ""),
                             **identity, **row})
            check_stop()
            if progress:
                progress(f"{spec.name}, occlusion {kind}")
    return pd.DataFrame(rows)


def _coverage(truth: np.ndarray) -> dict:
    """For a set with unlabelled joints: the share of joints labelled and the joints that
    no image labels (report() says what that leaves out)."""
    known = metrics.labelled(truth)
    if known.all():
        return {}
    return {"labelled": float(known.mean()),
            "unlabelled": ", ".join(JOINT_NAMES[j] for j in np.flatnonzero(~known.any(0)))}


class PredictionFiles:
    """``keep`` for ``evaluate_sets`` writing each set's predictions as COCO files:
    ``SET[-OCCLUSION]-DECODER.results.json`` (keypoint results, scored with the run's
    confidence) beside ``SET[-OCCLUSION].annotations.json`` (its ground truth with the
    same image ids and OKS scales), in the pixels of the set's own images, so that
    pycocotools' ``COCOeval`` on the pair gives the AP that ``evaluate`` reports. They are
    written beside ``folder`` and replace it only at ``finish()``, once the whole
    evaluation is done: a failed or interrupted one leaves the earlier folder as it was."""

    SUFFIXES = (".results.json", ".annotations.json")

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if self.folder.exists():
            foreign = [p.name for p in self.folder.iterdir()
                       if not p.name.endswith(self.SUFFIXES)]
            if foreign or not self.folder.is_dir():
                raise StickposeError(f"{self.folder} holds {', '.join(foreign[:3]) or 'a file'}"
                                     ", which --save-predictions did not write; move it or "
                                     "choose another --out")
        self.staging = self.folder.with_name(f".{self.folder.name}.partial-{os.getpid()}")

    def __call__(self, spec, occlusion, decoder, predicted, confidence, truth, visible):
        def plain(text):
            return "".join(c if c.isalnum() or c in "-." else "_" for c in text).strip("_")
        ids, names = spec.image_info(len(truth))
        stem = plain(spec.name) + ("" if occlusion == "none" else f"-{occlusion}")
        annotations = coco_keypoints(spec.in_files(truth), visible, None, names,
                                     f"stickpose evaluate: {spec.name}", ids, spec.labels)
        areas = spec.oks_areas(in_files=True)
        if areas is not None:                       # the file's own scales
            for annotation, area in zip(annotations["annotations"], areas):
                annotation["area"] = float(area)
        write_atomic(self.staging / f"{stem}.annotations.json",
                     json.dumps(annotations, separators=(",", ":")).encode())
        scores = np.ones(len(truth)) if confidence is None else confidence
        write_atomic(self.staging / f"{stem}-{plain(decoder)}.results.json",
                     json.dumps(results(spec.in_files(predicted), scores, ids)).encode())

    def finish(self) -> Path:
        """Put the written files in place of the earlier ones (with interrupts held)."""
        with interrupts_deferred():
            old = self.folder.with_name(f".{self.folder.name}.old-{os.getpid()}")
            if self.folder.exists():
                os.rename(self.folder, old)
            os.rename(self.staging, self.folder)
        shutil.rmtree(old, ignore_errors=True)
        return self.folder

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def evaluate_exported(artefact, sets: list[EvalSet], occlusions=("none",),
                      batch_size: int = 64, seed: int = 0, progress=None,
                      keep=None, as_written: bool = False) -> pd.DataFrame:
    """``evaluate_sets`` for an exported artefact (``export.Exported``): the images go in
    at their own size (the letterbox is the artefact's) and come back as keypoints in their
    pixels; one row per set and occlusion, ``decoder`` naming the artefact's decoder and
    format. ``pipeline_ms``: the artefact's whole run, per image. The class score as
    written (on class sets, or every set with ``as_written``) is taken on the same
    predictions: the artefact resizes as it was exported to."""
    def table(images, truth, visible, spec):
        artefact.predict(images[:1])                  # untimed: first-call set-up
        start = time.perf_counter()
        predicted, scores = artefact.predict(images, batch_size)
        seconds = time.perf_counter() - start
        confidence = None if np.isnan(scores).all() else scores.mean(axis=-1)
        return [{"decoder": artefact.label,
                 **score(predicted, truth, images.shape[1], visible, confidence, oks=False,
                         as_written=_written(spec, images, truth, as_written)),
                 "pipeline_ms": 1000 * seconds / len(images),
                 KEYPOINTS: (predicted, confidence)}]
    return evaluate_sets(sets, table, occlusions, seed, progress, keep)


def _params_of(decoder: str, params: str, flip: bool = False) -> str:
    """A decoder's settings in results: ``params`` only for decoders that read them (the
    same argmax under another sigma is the same measurement), then ``flip`` for
    flip-averaged predictions (``""``: the run's own settings, what the board shows)."""
    own = params if decoder in DECODERS.names() and DECODERS.get(decoder).uses_sigma else ""
    return ",".join(p for p in (own, FLIP if flip else "") if p)


def evaluate_run(run: Path, sets: list[EvalSet], decoders: str = ALL, occlusions=("none",),
                 batch_size: int = 64, seed: int = 0, sigma: float | None = None,
                 progress=None, keep=None, as_written: bool = False,
                 flip: bool = False) -> pd.DataFrame:
    """``evaluate_model`` for a trained run directory. ``sigma``: the spread DARK blurs with
    and soft-argmax's window follows, in heatmap pixels (default: the run's training sigma).
    A run with a handedness classifier relabels its predictions on person-centric sets."""
    config, model, head_target, names, fc_model, params = _prepare(run, decoders, sigma)
    handedness = load_handedness(run) if any(s.person for s in sets) else None
    return evaluate_model(model, config, sets, names, head_target, occlusions, batch_size,
                          seed, fc_model, handedness, params, progress, keep, as_written,
                          flip)


def write_tables(results: pd.DataFrame, title: str, out: Path) -> tuple[str, list[Path]]:
    """The Markdown report of ``results``, and ``evaluation.csv`` / ``evaluation.md`` written
    atomically to folder ``out``."""

    text = report(results, title)
    paths = [write_atomic(Path(out) / "evaluation.csv", results.to_csv(index=False).encode()),
             write_atomic(Path(out) / "evaluation.md", text.encode())]
    return text, paths


# --- the LSP benchmark ----------------------------------------------------------------------

def read_lsp_predictions(path: Path) -> np.ndarray:
    """Predicted LSP keypoints ``(N, 14, 2)``, 0-based pixels: a ``.mat`` as the literature's
    evaluation code stores them (variable ``pred`` or ``joints``, 2 x 14 x N or 3 x 14 x N,
    1-based MATLAB pixels) or a ``.npy`` ``(N, 14, 2)`` in stickpose's 0-based pixels."""

    path = Path(path)
    if path.suffix.lower() == ".npy":
        return _keypoint_array(path, LSP_COUNT)
    if path.suffix.lower() != ".mat":
        raise StickposeError(f"predictions {path}: expected a .mat (2 x 14 x N) or .npy "
                             "(N x 14 x 2) file")
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError
    try:
        content = loadmat(str(path))
    except (OSError, ValueError, TypeError, MatReadError) as error:
        raise StickposeError(f"cannot read {path} as a MATLAB file: {error}") from None
    name = next((n for n in ("pred", "joints") if n in content), None)
    if name is None:
        names = [k for k in content if not k.startswith("__")]
        raise StickposeError(f"{path} has no variable `pred` or `joints` (it has "
                             f"{', '.join(names) or 'none'})")
    array = np.asarray(content[name], np.float64)
    if array.ndim != 3 or array.shape[0] not in (2, 3) or array.shape[1] != LSP_COUNT:
        raise StickposeError(f"{path}: `{name}` has shape {array.shape}; expected 2 x 14 x N "
                             "or 3 x 14 x N")
    return array[:2].transpose(2, 1, 0) - 1.0


def parse_range(text: str | None, total: int, count: int) -> slice:
    """``--range A:B`` (1-based, inclusive, as MATLAB's ``A:B``) -> a slice of the truth.
    Without it: LSP's test images 1001:2000 when the truth has 2000 poses and there are 1000
    predictions, else every pose."""
    if text is None:
        start, end = (1001, 2000) if (total, count) == (2000, 1000) else (1, total)
    else:
        try:
            start, end = (int(v) for v in text.split(":"))
        except ValueError:
            raise StickposeError(f"range {text!r} is not A:B (1-based, inclusive, e.g. "
                                 "1001:2000)") from None
    if not 1 <= start <= end <= total:
        raise StickposeError(f"range {start}:{end} is outside the {total} poses of the truth")
    if end - start + 1 != count:
        raise StickposeError(f"{count} predictions for range {start}:{end} "
                             f"({end - start + 1} poses); they must match")
    return slice(start - 1, end)


def score_lsp(predictions: Path, truth_path: Path, poses: str | None = None) -> dict:
    """The LSP benchmark (PCK@0.2 per part, AUC, strict PCP) of a predictions file against a
    ``joints.mat``."""

    predicted = read_lsp_predictions(predictions)
    truth = read_joints(truth_path)
    part = parse_range(poses, len(truth.keypoints), len(predicted))
    return {"pck": metrics.lsp_pck(predicted, truth.keypoints[part]),
            "pcp": metrics.lsp_pcp(predicted, truth.keypoints[part]),
            "poses": len(predicted), "range": f"{part.start + 1}:{part.stop}",
            "truth": truth.describe()}


def lsp_tables(result: dict) -> str:
    """The two LSP tables as the MATLAB code prints them (percent, one decimal)."""
    lines = []
    for key, title in (("pck", "PCK@0.2 (torso)"), ("pcp", "strict PCP")):
        names = list(result[key])
        lines += [f"{title:18}" + "".join(f"{n:>10}" for n in names),
                  f"{'':18}" + "".join(f"{result[key][n]:>10.1f}" for n in names)]
    return "\n".join(lines)


def evaluate_lsp_run(run: Path, folder: str, decoders: str = ALL, count: int | None = None,
                     batch_size: int = 64, sigma: float | None = None,
                     flip: bool = False) -> pd.DataFrame:
    """``evaluate_run`` on LSP's test images (1001-2000) of a local folder."""

    config, model, head_target, names, fc_model, params = _prepare(run, decoders, sigma)
    split = lsp_splits(folder)["test"]
    return evaluate_lsp(model, config, split, names, head_target, fc_model, count, batch_size,
                        params, flip)
