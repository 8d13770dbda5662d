"""``stickpose show``: the pictures of a trained run. Truth against prediction, heatmaps per
joint with every decoder's point, GMM clusters, the worst images, per-joint errors and the
training curves, as PNG files in ``RUN/show/``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .codecs.gmm import TOP_PIXELS, _heaviest, fit_batched, top_pixels
from .data.render import resize_set
from .evaluate import HEAD_OUTPUT, forward, to_keypoints
from .files import check_output, write_atomic
from .models.registry import HEADS
from .runs import RunDir, load_run
from .skeleton import JOINT_NAMES
from .viz import contact_sheet, encode_png, figure_png

DECODER_MARKERS = {"argmax": "s", "quarter": "D", "dark": "^", "softargmax": "v",
                   "gmm": "P", "dedup-gmm": "X", "gmm-sklearn": "*", "fc": "h"}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def heatmap_grid(image: np.ndarray, heatmaps: np.ndarray, truth: np.ndarray,
                 decoded: dict) -> bytes:
    """PNG bytes of ``heatmap_figure``."""
    return figure_png(heatmap_figure(image, heatmaps, truth, decoded))


def heatmap_figure(image: np.ndarray, heatmaps: np.ndarray, truth: np.ndarray, decoded: dict):
    """One panel per joint: the heatmap ``(h, w)`` over the image in a blue (unlikely) to
    warm (likely) colour map, in input pixels, with the truth (white circle) and each
    decoder's point ``decoded[name] (16, 2)`` marked."""
    plt = _pyplot()
    size = image.shape[0]
    extent = (-0.5, size - 0.5, size - 0.5, -0.5)     # heatmap pixels cover the input
    figure, axes = plt.subplots(4, 4, figsize=(11, 11.6))
    for joint, axis in enumerate(axes.flat):
        axis.imshow(image, extent=extent, alpha=0.35)
        axis.imshow(heatmaps[..., joint], cmap="jet", alpha=0.65, extent=extent,
                    interpolation="nearest")
        axis.scatter(*truth[joint], s=90, facecolors="none", edgecolors="white", linewidths=2,
                     label="truth")
        for name, points in decoded.items():
            axis.scatter(*points[joint], s=28, marker=DECODER_MARKERS.get(name, "o"),
                         label=name)
        axis.set_title(JOINT_NAMES[joint], fontsize=9)
        axis.set_xlim(-0.5, size - 0.5)
        axis.set_ylim(size - 0.5, -0.5)
        axis.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    return figure


def gmm_overlay(heatmaps: np.ndarray, truth: np.ndarray, input_size: int,
                joints=(1, 4, 0, 5)) -> bytes:
    """For some joints (default the knees and ankles): the map, its 20 highest pixels, the
    three mixture components' means (area by weight), the heaviest (GMM's answer) and the
    truth, in heatmap pixels. PNG bytes."""

    plt = _pyplot()
    stride = input_size // heatmaps.shape[1]
    maps = heatmaps.transpose(2, 0, 1)[None]                        # (1, 16, h, w)
    points = top_pixels(maps)[0]                                     # (16, 20, 2)
    means, weights = fit_batched(points[list(joints)])
    chosen = _heaviest(means, weights)
    figure, axes = plt.subplots(1, len(joints), figsize=(3.4 * len(joints), 3.6))
    for axis, joint, mean, weight, pick in zip(np.atleast_1d(axes), joints, means, weights,
                                               chosen):
        axis.imshow(heatmaps[..., joint], cmap="jet")
        axis.scatter(*points[joint].T, s=10, c="white", label=f"top {TOP_PIXELS}")
        axis.scatter(*mean.T, s=600 * weight + 10, facecolors="none", edgecolors="magenta",
                     linewidths=2, label="components")
        axis.scatter(*pick, s=60, marker="P", c="magenta", label="heaviest")
        axis.scatter(*((truth[joint] - (stride - 1) / 2) / stride), s=80, marker="x",
                     c="lime", label="truth")
        axis.set_title(JOINT_NAMES[joint], fontsize=9)
        axis.axis("off")
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    return figure_png(figure)


def joint_errors(errors: dict) -> bytes:
    """Mean error per joint (pixels), a bar per decoder: ``errors[name] (16,)``. PNG."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(11, 3.8))
    width = 0.8 / len(errors)
    for k, (name, values) in enumerate(errors.items()):
        axis.bar(np.arange(16) + (k - (len(errors) - 1) / 2) * width, values, width, label=name)
    axis.set_xticks(np.arange(16), JOINT_NAMES, rotation=45, ha="right")
    axis.set_ylabel("mean error (px)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure_png(figure)


def show_folder(run: Path) -> Path:
    """``RUN/show/``, where ``show_run`` writes, once it is known to be writable (an error
    naming it otherwise: a run on a read-only disk, a file named ``show``)."""
    run = RunDir(run)
    run.config()                                    # an error for a folder that is no run
    return check_output(run / run.SHOW, "folder", what="pictures folder")


def show_run(run: Path, images: np.ndarray, truth: np.ndarray, count: int = 16,
             decoders=("argmax", "quarter", "dark", "softargmax", "gmm", "dedup-gmm"),
             picks=(0, 1)) -> list[Path]:
    """Write the pictures of ``run`` for ``images`` ``(n, S, S, 3)`` with keypoints
    ``truth`` (their pixels) to ``RUN/show/``: the first ``count`` as truth-vs-prediction
    sheets, the 8 worst of all by mean joint error, per-joint errors of every decoder, heatmap
    grids and GMM clusters of the images ``picks`` (indices), the training curves. Returns
    the files written."""

    out = show_folder(run)
    config, model = load_run(run)
    head_target = HEADS.get(config.head).target
    out.mkdir(parents=True, exist_ok=True)
    size = images.shape[1]
    small, small_truth = resize_set(images, truth, config.input_size)
    output, _ = forward(model, small, head_target)
    names = list(decoders) if head_target == "heatmaps" else [HEAD_OUTPUT]
    decoded = {n: to_keypoints(n, output, config.input_size, config.sigma) for n in names}
    main = "quarter" if head_target == "heatmaps" else HEAD_OUTPUT
    predicted = (decoded[main] + 0.5) * size / config.input_size - 0.5
    written = []

    def save(name: str, data: bytes) -> None:
        write_atomic(out / name, data)
        written.append(out / name)

    shown = min(count, len(images))
    sheet = np.concatenate([contact_sheet(images[:shown], truth[:shown], columns=8, tile=128,
                                          row_labels=["truth"]),
                            contact_sheet(images[:shown], predicted[:shown], columns=8,
                                          tile=128, row_labels=[main])])
    save("predictions.png", encode_png(sheet))
    error = np.linalg.norm(predicted - truth, axis=-1)                  # (n, 16)
    worst = np.argsort(-error.mean(1), kind="stable")[:min(8, len(images))]
    save("worst.png", encode_png(np.concatenate([
        contact_sheet(images[worst], truth[worst], columns=8, tile=128, row_labels=["truth"]),
        contact_sheet(images[worst], predicted[worst], columns=8, tile=128,
                      row_labels=["worst"])])))
    errors = {n: np.linalg.norm((p + 0.5) * size / config.input_size - 0.5 - truth,
                                axis=-1).mean(0) for n, p in decoded.items()}
    save("joint-errors.png", joint_errors(errors))
    if head_target == "heatmaps":
        for index in (i for i in picks if i < len(images)):
            save(f"heatmaps-{index}.png",
                 heatmap_grid(small[index], output[index], small_truth[index],
                              {n: p[index] for n, p in decoded.items()}))
            save(f"gmm-{index}.png", gmm_overlay(output[index], small_truth[index],
                                                 config.input_size))
    if (Path(run) / "curves.png").is_file():
        save("curves.png", (Path(run) / "curves.png").read_bytes())
    return written
