"""Benchmarks that print numbers: generator throughput, and the batched GMM decoder against
scikit-learn."""
from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .codecs.decoders import decode
from .codecs.handedness import Handedness
from .data.placement import class_stretch, place
from .data.render import class_labels, letterbox, resize_set, to_image
from .data.sets import render_set, suite_set
from .data.stickman import CHUNK_SIZE, StickmanConfig, StickmanGenerator
from .data.styles import CLASS_STYLES, class_span
from .files import die_with_parent
from .metrics import class_score
from .models.registry import HEADS
from .runs import RunDir, RunError, TrainConfig, load_run, load_run_suite
from .skeleton import observer_centric

_bench_generator: StickmanGenerator | None = None


def _init(config: StickmanConfig, seed: int, parent: int | None = None) -> None:
    """Set up the renderer (in a worker process started by ``parent``, or in this one)."""
    global _bench_generator
    if parent is not None:
        die_with_parent(parent)
    _bench_generator = StickmanGenerator(config, seed)
    _bench_generator.chunk(0)                      # warm: scene bank, first-call costs


def _render(index: int) -> int:
    images, _, _ = _bench_generator.chunk(index)
    return int(images[:, 0, 0, 0].sum())


def _ready(_: int) -> None:
    time.sleep(0.05)


def throughput(config: StickmanConfig, images: int, workers: int = 1, seed: int = 0) -> float:
    """Images per second rendered into uint8 arrays in memory (no PNG encoding).

    With ``workers`` > 1 the chunks are rendered by that many processes and only a checksum
    travels back, so the figure is rendering throughput, not transfer to one consumer.
    """
    chunks = max(-(-images // CHUNK_SIZE), workers)
    if workers == 1:
        _init(config, seed)
        start = time.perf_counter()
        for k in range(1, chunks + 1):
            _render(k)
        return chunks * CHUNK_SIZE / (time.perf_counter() - start)
    with multiprocessing.get_context("spawn").Pool(workers, _init, (config, seed, os.getpid())) as pool:
        pool.map(_ready, range(4 * workers), chunksize=1)   # every worker initialised
        start = time.perf_counter()
        pool.map(_render, range(1, chunks + 1), chunksize=1)
        elapsed = time.perf_counter() - start
    return chunks * CHUNK_SIZE / elapsed


def bench_generate(suite, names: list[str], sizes: list[int], images: int,
                   workers: int) -> pd.DataFrame:
    """Throughput of the sets ``names`` of ``suite`` at each size, one process and ``workers``.

    Returns one row per (set, size) with images/s and the multi-process speed-up.
    """
    rows = []
    for name in names:
        spec = suite.sets[name]
        for size in sizes:
            config = replace(spec.config, size=size)
            single = throughput(config, images, 1, spec.seed)
            row = {"set": name, "size": size, "1 process img/s": round(single)}
            if workers > 1:
                multi = throughput(config, images, workers, spec.seed)
                row[f"{workers} processes img/s"] = round(multi)
                row["speed-up"] = round(multi / single, 2)
            rows.append(row)
    return pd.DataFrame(rows)


def bench_gmm(run, set_name: str = "test1", images: int = 50) -> pd.DataFrame:
    """``gmm`` (batched EM) and ``gmm-sklearn`` decoding the same heatmaps of a run: ms per
    image each (decoding only), the speed-up, and the share of joints on which their
    keypoints agree within 0.5 input pixels."""
    from .evaluate import forward       # TensorFlow: not in the spawned generate workers

    config, model = load_run(run)
    if HEADS.get(config.head).target != "heatmaps":
        raise RunError(f"run {run} has a {config.head} head; GMM decoders read heatmaps")
    spec = suite_set(load_run_suite(config), set_name, "bench gmm")
    pictures, truth, _ = render_set(spec, images)
    small, _ = resize_set(pictures, truth, config.input_size)
    heatmaps, _ = forward(model, small, "heatmaps")
    points, seconds = {}, {}
    for name in ("gmm-sklearn", "gmm"):
        start = time.perf_counter()
        points[name] = decode(name, heatmaps, config.input_size, config.sigma)[0]
        seconds[name] = time.perf_counter() - start
    gap = np.linalg.norm(points["gmm"] - points["gmm-sklearn"], axis=-1)
    return pd.DataFrame([{
        "decoder": name, "images": images, "ms/image": 1000 * seconds[name] / images,
        "speed-up": seconds["gmm-sklearn"] / seconds[name],
        "joints within 0.5 px of sklearn": float((gap <= 0.5).mean()),
        "largest gap px": float(gap.max())} for name in ("gmm-sklearn", "gmm")])


def bench_handedness(suite, seed: int = 0) -> pd.DataFrame:
    """How much the left/right convention costs on a person-centric suite, measured on the
    exact labels (no keypoint model): the class score of each set's true poses relabelled
    observer-centric, relabelled by the handedness classifier fitted on the training
    stream's poses, and with only the labels' truncation (the floor of a perfect model).
    One row per set (the held-out validation set first: the figure to tune on)."""

    stream = StickmanGenerator(suite.streams["train"].config, seed).poses
    handedness = Handedness.fitted(stream.poses, seed)
    rows = []
    names = ["validation"] + [n for n in suite.sets if n.startswith("test")]
    for name in names:
        spec = suite.sets[name]
        size = spec.config.size
        poses = StickmanGenerator(spec.config, spec.seed).poses.in_order(0, spec.count)
        style = spec.config.style                 # placed as the set draws them
        exact = (class_stretch(poses, class_span(style, size)) if style in CLASS_STYLES
                 else place(poses, size, "stretch", None))
        truth = class_labels(exact)
        rows.append({"set": name, "poses": len(truth),
                     "observer-centric": class_score(observer_centric(exact), truth, size, size),
                     "handedness classifier": class_score(handedness.apply(exact), truth,
                                                          size, size),
                     "exact (truncation only)": class_score(exact, truth, size, size)})
    return pd.DataFrame(rows)


#: The models ``bench_transfer`` measures: the default one and a coordinate-head one.
TRANSFER_MODELS = (("hourglass", "heatmap"), ("hourglass", "integral"))


def transfer_entries(root, poses=("procedural", "procedural2"), models=TRANSFER_MODELS,
                     **settings) -> dict:
    """``{run folder: TrainConfig}``: each model trained on each pose source, on the
    stickman suite, with ``settings`` (epochs, ...) otherwise the defaults."""
    def folder(arch, head, source):
        plain = "".join(c if c.isalnum() or c in "-." else "_" for c in Path(source).name)
        return Path(root) / f"{arch}-{head}-{plain}"
    return {folder(arch, head, source): TrainConfig(arch=arch, head=head, poses=source,
                                                    **settings)
            for arch, head in models for source in poses}


def bench_transfer(entries: dict, real_suite, test_count: int | None = None,
                   progress=None) -> pd.DataFrame:
    """Train (or resume, or reuse) each entry of ``transfer_entries`` and score it on the
    stickman suite's test1-test4 and on ``real_suite``'s (the class's MPII test poses drawn
    by stickpose, ``class-poses``): one row per entry with both sets of class scores and
    the transfer gap, how much worse the real poses score (%). ``progress(name)`` follows
    each entry."""
    from .data.sets import suite_sets
    from .evaluate import evaluate_run
    from .training import check_entries, train_entry

    check_entries(entries, "benchmark run")
    names = [n for n in real_suite.sets if n.startswith("test")]
    rows = []
    for folder, config in entries.items():
        evaluation = train_entry(config, folder)
        real = evaluate_run(folder, suite_sets(real_suite, names, test_count),
                            HEADS.get(config.head).decoder)
        real = real[real["occlusion"] == "none"]
        real = dict(zip(real["set"].str.split("/").str[-1], real["score"]))    # SUITE/SET
        row = {"model": f"{config.arch}/{config.head}", "poses": config.poses,
               "epochs": evaluation["epochs"]}
        for name in names:
            row[f"stickman {name}"] = evaluation["sets"][name]["score"]
        for name in names:
            row[f"real {name}"] = float(real[name])
        stickman = np.mean([row[f"stickman {n}"] for n in names])
        row["gap test1 %"] = 100 * (row["real test1"] / row["stickman test1"] - 1)
        row["gap mean %"] = 100 * (np.mean([row[f"real {n}"] for n in names]) / stickman - 1)
        rows.append(row)
        if progress:
            progress(folder.name)
    return pd.DataFrame(rows)


def keras_pipeline(model, config, decoder: str):
    """``images (B, H, W, 3) uint8 -> keypoints (B, 16, 2)`` in their pixels, the way
    ``stickpose predict --run`` gets them (letterbox with OpenCV, the Keras model, the NumPy
    decoder), with Keras' fastest call for small batches (``predict_on_batch``)."""
    from .evaluate import HEAD_OUTPUT, to_keypoints
    from .export import COORDINATES

    target = HEADS.get(config.head).target
    name = HEAD_OUTPUT if decoder == COORDINATES else decoder

    def run(images):
        boxes = [letterbox(image, config.input_size) for image in images]
        inputs = np.stack([box[0] for box in boxes]).astype(np.float32) / 255.0
        output = np.asarray(model.predict_on_batch(inputs)[target])
        points = to_keypoints(name, output, config.input_size, config.sigma)
        return np.stack([to_image(p, scale, offset)
                         for p, (_, scale, offset) in zip(points, boxes)])
    return run


def _timed(pipeline, images: np.ndarray, single: int, batch: int):
    """``(ms per image over `single` one-image calls, images/s in batches of `batch`, the
    batched keypoints)`` after untimed warm-up calls of both shapes."""
    pipeline(images[:1])
    pipeline(images[:batch])
    start = time.perf_counter()
    for index in range(single):
        pipeline(images[index:index + 1])
    latency = 1000 * (time.perf_counter() - start) / single
    start = time.perf_counter()
    points = np.concatenate([pipeline(images[k:k + batch])
                             for k in range(0, len(images), batch)])
    return latency, len(images) / (time.perf_counter() - start), points


def bench_export(run, decoder: str | None = None, images: int = 1000, single: int = 100,
                 batch: int = 64, calibration: int = 200, say=lambda message: None
                 ) -> pd.DataFrame:
    """The run's model through Keras and exported (SavedModel, TFLite float, TFLite int8),
    side by side on the same test1 images of its suite: ms per image at batch 1 (over
    ``single`` calls), images/s at batch ``batch`` and the class score (lower is better) of
    the batched keypoints, each backend's whole pipeline from uint8 images to keypoints in
    their pixels. The exports are made in a temporary folder and removed."""
    import tempfile

    from .export import check_images, export_decoder, export_run, load_exported

    from .quiet_tf import tf

    tf.get_logger().setLevel("ERROR")      # Keras' retracing notes for the two batch shapes
    config, model = load_run(run)
    decoder = export_decoder(config, decoder)
    pictures, truth = check_images(config, images)
    single = min(single, len(pictures))
    pipelines = {"Keras": keras_pipeline(model, config, decoder)}
    with tempfile.TemporaryDirectory(prefix="stickpose-bench-") as folder:
        for label, format, int8 in (("SavedModel", "saved_model", False),
                                    ("TFLite float", "tflite", False),
                                    ("TFLite int8", "tflite", True)):
            say(f"exporting {label}")
            out = Path(folder) / label.replace(" ", "-")
            export_run(run, format, out, decoder, int8, calibration, check=16)
            artefact = load_exported(out)
            pipelines[label] = lambda batch_images, a=artefact: a.predict(batch_images)[0]
        rows = []
        size = pictures.shape[1]
        for label, pipeline in pipelines.items():
            say(f"timing {label}")
            latency, throughput, points = _timed(pipeline, pictures, single, batch)
            rows.append({"backend": label, "ms/image (batch 1)": latency,
                         f"images/s (batch {batch})": throughput,
                         "class score test1": class_score(points, truth, size, size)})
    table = pd.DataFrame(rows)
    keras = table.iloc[0]
    table["speed-up (batch 1)"] = keras["ms/image (batch 1)"] / table["ms/image (batch 1)"]
    table["score change"] = table["class score test1"] - keras["class score test1"]
    return table


def bench_flip(run, sets, decoder: str | None = None, batch_size: int = 64,
               progress=None) -> pd.DataFrame:
    """Test-time flip averaging (``codecs.flip``) against the plain prediction of ``run`` on
    the same ``sets`` (``data.sets.EvalSet``), evaluated without it, then with it (the model
    loaded once for each): per set and both, the class score, the flip-tolerant score,
    PCK@0.15 and the pipeline's ms per image, then the gain (flip minus plain; negative
    scores are better) and the cost (the ratio of the two pipelines' time). ``progress``
    hears each set evaluated, twice over."""
    from .evaluate import evaluate_run

    config = RunDir(run).config()
    decoder = decoder or HEADS.get(config.head).decoder
    columns = ["score", "flip_score", "pck", "pipeline_ms"]
    plain, flipped = (evaluate_run(run, list(sets), decoder, batch_size=batch_size,
                                   progress=progress, flip=flip).set_index("set")
                      for flip in (False, True))
    rows = []
    for spec in sets:
        row = {"set": spec.name, "images": int(plain.at[spec.name, "images"]),
               "decoder": decoder}
        for name in columns:
            if name in plain:
                row[f"{name} plain"] = float(plain.at[spec.name, name])
                row[f"{name} flip"] = float(flipped.at[spec.name, name])
        row.update({f"{name} gain": row[f"{name} flip"] - row[f"{name} plain"]
                    for name in columns[:3] if f"{name} plain" in row})
        row["cost x"] = row["pipeline_ms flip"] / row["pipeline_ms plain"]
        rows.append(row)
    return pd.DataFrame(rows)
