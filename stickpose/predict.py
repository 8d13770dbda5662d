"""Keypoints for any image files: letterboxed to the model input, decoded, mapped back to
the original pixels, written as JSON and as an overlay PNG."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .codecs.fc import load_fc
from .data.render import letterbox, read_image, to_image
from .errors import StickposeError
from .evaluate import HEAD_OUTPUT, forward, resolve_decoders, to_keypoints
from .files import write_atomic
from .models.registry import HEADS
from .runs import RunDir, load_handedness, load_run
from .skeleton import JOINT_NAMES
from .viz import draw_skeleton, encode_png


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def image_files(paths) -> list[Path]:
    """The inputs, with a folder standing for the image files directly inside it."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            inside = sorted(p for p in path.iterdir()
                            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not inside:
                raise StickposeError(f"folder {path} holds no image files "
                                     f"({', '.join(IMAGE_SUFFIXES)})")
            files += inside
        else:
            files.append(path)
    return files


def output_stems(paths: list[Path]) -> list[str]:
    """A distinct output name per input image: its stem, and ``STEM-2``, ``STEM-3`` ... for
    later images of the same stem (``a/img.png`` and ``b/img.png`` must not overwrite each
    other's results; each JSON names its image)."""
    own = {p.stem for p in paths}             # names that other inputs need as they are
    used, stems = set(), []
    for path in paths:
        stem, k = path.stem, 1
        while stem in used or (stem != path.stem and stem in own):
            k += 1
            stem = f"{path.stem}-{k}"
        used.add(stem)
        stems.append(stem)
    return stems


#: an image longer than this many times its width (or wider than its height) gets a warning
MAX_ASPECT = 4


def _readable(paths, warn) -> tuple[list[Path], list[np.ndarray]]:
    """The input files (folders expanded) that are readable images, and those images; the
    others are skipped with ``warn(message)``, and none readable is an error."""
    paths = image_files(paths)
    names, images = [], []
    for path in paths:
        image = read_image(path)
        if image is None:
            warn(f"skipped {path}: " + ("not a readable image" if path.exists()
                                        else "no such file"))
            continue
        height, width = image.shape[:2]
        if max(height, width) > MAX_ASPECT * min(height, width):
            warn(f"{path} is {width}x{height} px: padded to a square, the picture fills under "
                 f"1/{MAX_ASPECT} of the model's input, so its keypoints are guesses (crop it "
                 "around the person)")
        names.append(path)
        images.append(image)
    if not images:
        raise StickposeError(f"none of the {len(paths)} input(s) is a readable image "
                             "(PNG, JPEG, ...); nothing was written")
    return names, images


def _number(value) -> float | None:
    """A JSON number, or null for what is not one (NaN: not predicted)."""
    return float(value) if np.isfinite(value) else None


def check_outputs(names: list[Path], out: Path | None) -> None:
    """Refuse, before any work, an ``out`` where a result (``STEM.json``, ``STEM.png``) would
    replace one of the input images themselves (``--out`` the images' own folder)."""
    if not out:
        return
    inputs = {path.resolve() for path in names}
    for stem in output_stems(names):
        for suffix in (".json", ".png"):
            target = (Path(out) / f"{stem}{suffix}").resolve()
            if target in inputs:
                raise StickposeError(f"--out {out} would replace your image {target} with its "
                                     "result; give another folder (nothing was written)")


def _results(names, images, points, scores, source: dict, out: Path | None) -> list[dict]:
    """One result per image (keypoints in its pixels), written to ``out`` when given."""
    if out:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
    results = []
    for path, image, keypoints, score, stem in zip(names, images, points, scores,
                                                   output_stems(names)):
        result = {"image": str(path), "width": image.shape[1], "height": image.shape[0],
                  **source,
                  "keypoints": [{"name": joint, "x": _number(x), "y": _number(y),
                                 "score": _number(s)}
                                for joint, (x, y), s in zip(JOINT_NAMES, keypoints, score)]}
        results.append(result)
        if out:
            write_atomic(out / f"{stem}.json", (json.dumps(result, indent=2) + "\n").encode())
            write_atomic(out / f"{stem}.png", encode_png(draw_skeleton(image, keypoints)))
    return results


def predict_images(run: Path, paths: list[Path], decoder: str = "quarter",
                   out: Path | None = None, warn=print, flip: bool = False) -> list[dict]:
    """For each image: ``{"image", "width", "height", "keypoints": [{name, x, y, score}]}``
    written to ``out/NAME.json`` with ``out/NAME.png`` (the skeleton over the image).
    Unreadable images are skipped with ``warn(message)``. ``flip``: test-time flip
    averaging (``codecs.flip``)."""

    config, model = load_run(run)
    head_target = HEADS.get(config.head).target
    if head_target != "heatmaps" and decoder not in (HEAD_OUTPUT, "quarter"):
        raise StickposeError(f"decoder {decoder!r} reads heatmaps, but run {run} has a "
                             f"{config.head} head that predicts coordinates itself")
    name = resolve_decoders(decoder if head_target == "heatmaps" else HEAD_OUTPUT,
                            head_target, Path(run))[0]
    fc_model = None
    if name == "fc":
        fc_model = load_fc(RunDir(run) / RunDir.FC)
    handedness = load_handedness(run)
    names, images = _readable(paths, warn)
    check_outputs(names, out)
    boxes = [letterbox(image, config.input_size) for image in images]
    output, _ = forward(model, np.stack([b[0] for b in boxes]), head_target, flip=flip)
    points = to_keypoints(name, output, config.input_size, config.sigma, fc_model)
    scores = (output.max(axis=(1, 2)) if head_target == "heatmaps"
              else np.full(points.shape[:2], np.nan))
    if handedness is not None:           # a run trained for person-centric test sets
        order = handedness.order(points)
        points = np.take_along_axis(points, order[..., None], axis=1)
        scores = np.take_along_axis(scores, order, axis=1)
    labels = ("person-centric (the run's handedness classifier)" if handedness is not None
              else "observer-centric")
    points = [to_image(p, scale, offset) for p, (_, scale, offset) in zip(points, boxes)]
    return _results(names, images, points, scores,
                    {"run": str(run), "decoder": name, "flip": flip, "labels": labels}, out)


def predict_exported(artefact, paths: list[Path], out: Path | None = None,
                     warn=print) -> list[dict]:
    """``predict_images`` through an exported artefact (``export.Exported``): each image
    goes in at its own size; the letterbox and the decoder are the artefact's."""
    names, images = _readable(paths, warn)
    check_outputs(names, out)
    points, scores = zip(*(artefact.predict(image[None]) for image in images))
    meta = artefact.meta
    return _results(names, images, [p[0] for p in points], [s[0] for s in scores],
                    {"model": str(artefact.path), "format": artefact.kind,
                     "int8": bool(meta.get("int8")), "decoder": meta.get("decoder"),
                     "flip": bool(meta.get("flip")),
                     "labels": meta.get("labels", "observer-centric")}, out)
