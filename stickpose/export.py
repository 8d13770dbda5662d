"""Exported models: a run's network with the letterbox resize and its decoder inside, as a
TensorFlow SavedModel or a TFLite model (float, or int8 calibrated on rendered validation
images), and reading them back.

An artefact has one signature, ``serve``: input ``images`` ``(B, H, W, 3) uint8`` RGB, any
one size per call; outputs ``keypoints`` ``(B, 16, 2) float32`` (xy in the images' own
pixels, pixel centres as in ``stickpose.skeleton``) and ``scores`` ``(B, 16) float32`` (each
heatmap's peak; NaN for heads that predict coordinates themselves). Inside, each image is
padded to a centred square and resized to the model input by area averaging (OpenCV's
``INTER_AREA``, exactly when shrinking, within one grey level when enlarging), the model
runs (with ``--flip`` also on the mirrored input, the two outputs averaged as
``codecs.flip`` does), the decoder (``codecs.tf_decoders``) turns heatmaps into points and
they are mapped back. No Python is needed to use it: any TensorFlow or LiteRT runtime will do.

An export folder holds the artefact (SavedModel files, or ``model.tflite``) and
``stickpose.json``: what it was made from and its measured agreement with the run.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .codecs.flip import FLIP, averaged_graph
from .codecs.tf_decoders import GRAPH_DECODERS, decode_graph
from .errors import StickposeError
from .files import check_output, check_stop, interrupts_deferred, umask, write_atomic
from .models.registry import HEADS
from .runs import TRAINING, RunDir, RunError, TrainConfig, has_handedness, load_run
from .skeleton import JOINT_NAMES, NUM_JOINTS

FORMATS = ("saved_model", "tflite")
SIGNATURE, INPUT = "serve", "images"
META, TFLITE = "stickpose.json", "model.tflite"
SAVED_MODEL_FILES = ("saved_model.pb", "fingerprint.pb", "variables", "assets")
OWNED = (META, TFLITE, *SAVED_MODEL_FILES)       # what --overwrite may replace
COORDINATES = "coordinates"                      # the "decoder" of scalar and integral heads


def export_decoder(config: TrainConfig, decoder: str | None) -> str:
    """The decoder an export of a run with ``config`` puts in its graph: ``decoder`` checked
    against the head (default: the head's own, ``quarter`` for heatmaps)."""
    head = HEADS.get(config.head)
    if head.target != "heatmaps":
        if decoder not in (None, COORDINATES):
            raise StickposeError(f"--decoder {decoder}: the run's {config.head} head predicts "
                                 "coordinates itself and takes no decoder")
        return COORDINATES
    decoder = decoder or head.decoder
    if decoder not in GRAPH_DECODERS:
        raise StickposeError(f"--decoder {decoder!r} cannot be exported: in-graph decoders are "
                             f"{', '.join(GRAPH_DECODERS)} (see `stickpose decoders`)")
    return decoder


def default_out(run: Path, format: str, decoder: str, int8: bool, flip: bool = False) -> Path:
    """``RUN/export/DECODER[-flip]-FORMAT[-int8]``."""
    return (RunDir(run) / RunDir.EXPORT
            / f"{decoder}{'-' + FLIP if flip else ''}-{format}{'-int8' if int8 else ''}")


# --- the graph ------------------------------------------------------------------------------

def _area_weights(tf, count, offset, size: int, side):
    """``(size, count)`` weights resizing ``count`` pixels, placed at ``offset`` in a row of
    ``side`` (the rest is black padding), to ``size`` pixels by area: output pixel ``i``
    covers ``[i, i + 1) * side / size``; each source pixel weighs by its overlap."""
    step = tf.cast(side, tf.float32) / size
    out = tf.range(size, dtype=tf.float32)[:, None]
    source = tf.cast(tf.range(count) + offset, tf.float32)[None, :]
    overlap = tf.minimum((out + 1) * step, source + 1) - tf.maximum(out * step, source)
    return tf.maximum(overlap, 0.0) / step


def letterbox_graph(images, size: int):
    """``data.render.letterbox`` in-graph for a batch ``(B, H, W, 3) uint8``: the model input
    ``(B, size, size, 3) float32`` in [0, 1] (rounded to grey levels, as the uint8 resize
    is), image pixels per input pixel, and the pad offset ``(x, y)`` in image pixels."""
    from .quiet_tf import tf

    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    side = tf.maximum(height, width)
    left, top = (side - width) // 2, (side - height) // 2
    channels_first = tf.transpose(tf.cast(images, tf.float32), (0, 3, 1, 2))
    resized = tf.matmul(tf.matmul(_area_weights(tf, height, top, size, side), channels_first),
                        _area_weights(tf, width, left, size, side), transpose_b=True)
    resized = tf.round(tf.clip_by_value(resized, 0.0, 255.0)) / 255.0
    return (tf.transpose(resized, (0, 2, 3, 1)), tf.cast(side, tf.float32) / size,
            tf.cast(tf.stack([left, top]), tf.float32))


def serving_function(model, config: TrainConfig, decoder: str, flip: bool = False):
    """``images (B, H, W, 3) uint8 -> {"keypoints", "scores"}`` for ``model``: the graph of
    an export (see the module's docstring); ``flip``: with test-time flip averaging
    (``codecs.flip``)."""
    from .quiet_tf import tf

    target = HEADS.get(config.head).target
    size = config.input_size

    def serve(images):
        with tf.name_scope("letterbox"):
            inputs, scale, offset = letterbox_graph(images, size)
        output = model(inputs, training=False)[target]
        if flip:
            with tf.name_scope(FLIP):
                mirrored = model(tf.reverse(inputs, axis=[2]), training=False)[target]
                output = averaged_graph(output, mirrored, target, size)
        with tf.name_scope("decode"):
            if target == "heatmaps":
                points, scores = decode_graph(decoder, output, size, config.sigma)
            else:
                points = tf.cast(output, tf.float32) * size
                scores = tf.fill(tf.shape(points)[:2], float("nan"))
            points = (points + 0.5) * scale - 0.5 - offset
        return {"keypoints": points, "scores": scores}
    return serve


def _write_saved_model(model, config: TrainConfig, decoder: str, folder: Path,
                       flip: bool = False) -> None:
    import keras

    from .quiet_tf import quiet_stderr, tf

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(SIGNATURE, serving_function(model, config, decoder, flip),
                         input_signature=[
        tf.TensorSpec((None, None, None, 3), tf.uint8, name=INPUT)])
    with quiet_stderr():
        archive.write_out(str(folder), verbose=False)


def _tflite(saved_model: Path, model_name: str, calibration: np.ndarray | None) -> bytes:
    """The TFLite conversion of an export's SavedModel: float, or with ``calibration``
    images the network alone quantised to int8 (the letterbox and the decoder stay float:
    coordinates in 8 bits would lose a pixel)."""
    from .quiet_tf import quiet_stderr, tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), [SIGNATURE])
    with quiet_stderr(), warnings.catch_warnings():
        warnings.simplefilter("ignore")        # tf.lite.Interpreter's deprecation notice
        flat = converter.convert()
        if calibration is None:
            return flat

        def representative():
            for image in calibration:
                yield {INPUT: image[None]}
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        # every tensor outside the network (named after the Keras model) stays float
        outside = [d["name"] for d in _interpreter(flat).get_tensor_details()
                   if not d["name"].startswith(model_name + "_")
                   and not d["name"].startswith(model_name + "/")]
        if len(outside) == len(_interpreter(flat).get_tensor_details()):
            raise StickposeError(f"cannot tell the network {model_name!r} from the letterbox "
                                 "and decoder in the TFLite graph; int8 needs to know which "
                                 "tensors to quantise")
        options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=outside)
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter, debug_dataset=representative, debug_options=options)
        return debugger.get_nondebug_quantized_model()


def _interpreter(content: bytes, threads: int | None = None):
    """A TFLite interpreter of ``content``: LiteRT's (``ai_edge_litert``) where installed,
    else TensorFlow's own."""
    from .quiet_tf import quiet_stderr
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from .quiet_tf import tf
        Interpreter = tf.lite.Interpreter
    with quiet_stderr(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Interpreter(model_content=content, num_threads=threads)


# --- export ---------------------------------------------------------------------------------

def check_suite(config: TrainConfig, say=lambda message: None):
    """The suite whose images check (and calibrate) an export of a run: the run's own, or
    stickpose's stickman suite where the run's needs the class's files and its config names
    none (a published pretrained model; ``say`` tells so)."""
    from .data.sets import render_set, suite_set
    from .data.suites import load_suite
    from .runs import load_run_suite, test_names

    try:
        suite = load_run_suite(config)
        render_set(suite_set(suite, test_names(suite)[0]), 1)
    except StickposeError:
        if config.class_dir is not None:
            raise
        say(f"note: the run's {config.suite} suite reads the class's files, which its config "
            "does not name (a published pretrained model): the export is checked, and int8 "
            "calibrated, on stickpose's stickman suite instead")
        return load_suite("stickman")
    return suite


def calibration_images(config: TrainConfig, count: int, suite=None) -> np.ndarray:
    """``count`` images of what the run was validated on, to calibrate int8 with: the
    validation set of ``suite`` (default: the run's) rendered (stickman runs) or LSP
    validation crops (LSP runs)."""
    if config.data.startswith("lsp:"):
        from .data.lsp import lsp_splits, test_crops
        return test_crops(lsp_splits(config.data[4:])["validation"], config.input_size,
                          count)[0]
    from .data.sets import render_set
    from .runs import load_run_suite, validation_spec
    return render_set(validation_spec(config, suite or load_run_suite(config)), count)[0]


def check_images(config: TrainConfig, count: int, suite=None):
    """The first ``count`` images and keypoints of test1 of ``suite`` (default: the run's),
    on which an export is compared with the run."""
    from .data.sets import render_set, suite_set
    from .runs import load_run_suite, test_names
    suite = suite or load_run_suite(config)
    return render_set(suite_set(suite, test_names(suite)[0]), count)[:2]


def run_keypoints(model, config: TrainConfig, decoder: str, images: np.ndarray,
                  batch_size: int = 64, flip: bool = False) -> np.ndarray:
    """The run's own keypoints ``(n, 16, 2)`` in the pixels of square ``images``, with the
    NumPy decoder and flip averaging (what ``stickpose evaluate`` scores)."""
    from .data.render import resize_set
    from .evaluate import HEAD_OUTPUT, forward, to_keypoints

    target = HEADS.get(config.head).target
    small, _ = resize_set(images, np.zeros((len(images), NUM_JOINTS, 2)), config.input_size)
    output, _ = forward(model, small, target, batch_size, flip)
    points = to_keypoints(HEAD_OUTPUT if decoder == COORDINATES else decoder, output,
                          config.input_size, config.sigma)
    return (points + 0.5) * images.shape[1] / config.input_size - 0.5


def _prepare_out(out: Path, overwrite: bool) -> None:
    """``out`` may be written: missing, an empty folder, or (``overwrite``) an earlier
    export holding nothing but an export's own files; never a folder inside an export."""
    check_output(out, "folder")
    if (out.parent / META).is_file():
        raise StickposeError(f"--out {out} is inside the export {out.parent}; choose a "
                             "folder of its own")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise StickposeError(f"--out {out} already holds files; give another folder, or "
                             "--overwrite to replace an earlier export there")
    foreign = sorted(p.name for p in out.iterdir() if p.name not in OWNED)
    if foreign:
        raise StickposeError(f"--out {out} holds {', '.join(foreign[:3])}, which no export "
                             "wrote; --overwrite replaces only an export's own files, so "
                             "choose another folder")


def _writer(path: Path) -> int | None:
    """The process id in a build (``.NAME.tmp-PID-…``) or set-aside (``.NAME.old-PID``)
    folder's name."""
    tail = path.name.rsplit(".tmp-", 1)[-1] if ".tmp-" in path.name else \
        path.name.rsplit(".old-", 1)[-1]
    pid = tail.split("-")[0]
    return int(pid) if pid.isdigit() else None


def _alive(pid: int | None) -> bool:
    return pid is not None and Path(f"/proc/{pid}").exists()


def _remove_leftovers(folder: Path) -> None:
    """What killed exports left in ``folder``: half-built exports go; an earlier export
    set aside while being replaced goes back to its place if nothing took it."""
    for path in folder.glob(".*.tmp-*-*"):
        if path.is_dir() and not path.is_symlink() and not _alive(_writer(path)):
            shutil.rmtree(path, ignore_errors=True)
    for path in folder.glob(".*.old-*"):
        if path.is_dir() and not path.is_symlink() and not _alive(_writer(path)):
            home = path.with_name(path.name[1:].rsplit(".old-", 1)[0])
            if home.exists():
                _remove_export(path)
            else:
                os.rename(path, home)


def _claim(out: Path) -> Path:
    """A new build folder beside ``out``, or an error if another live export is building
    one for the same place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(out.parent)
    built = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-{os.getpid()}-"))
    others = [_writer(p) for p in out.parent.glob(f".{out.name}.tmp-*-*")
              if p != built and _alive(_writer(p))]
    if others:
        shutil.rmtree(built)
        raise StickposeError(f"--out {out} is being written by another stickpose export "
                             f"(process {others[0]}); wait for it or choose another folder")
    os.chmod(built, 0o777 & ~umask())             # as mkdir would make it, not mkdtemp's 0700
    return built


def _place(built: Path, out: Path, overwrite: bool) -> None:
    """Move the finished export folder ``built`` to ``out`` by renames, so ``out`` is never
    half-written; checked again first (files may have appeared in ``out`` meanwhile), and
    of an earlier export replaced only its own files are removed."""
    with interrupts_deferred():
        try:
            _prepare_out(out, overwrite)
        except StickposeError as error:
            raise StickposeError(f"{error} (it changed while the export was made; nothing "
                                 "was replaced)") from None
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.rename(out, old)
        os.rename(built, out)
    if old is not None:
        _remove_export(old)


def _remove_export(folder: Path) -> None:
    """An export's own files in ``folder``, then the folder if that emptied it (anything
    else there is the user's: the folder is kept, visible, as ``NAME.kept-PID``)."""
    for name in OWNED:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    try:
        folder.rmdir()
    except OSError:
        folder.rename(folder.with_name(folder.name.lstrip(".").replace(".old-", ".kept-")))


@dataclass(frozen=True)
class ExportCheck:
    """How an export agrees with its run on ``images`` test images: the class score of
    each (lower is better) and how far the export's keypoints are from the run's (px)."""

    set: str
    images: int
    score_run: float
    score_export: float
    mean_gap_px: float
    max_gap_px: float


def export_run(run: Path, format: str, out: Path | None = None, decoder: str | None = None,
               int8: bool = False, calibration: int = 200, check: int = 200,
               overwrite: bool = False, say=lambda message: None, flip: bool = False) -> dict:
    """Export a trained run (see the module's docstring) to folder ``out`` (default
    ``RUN/export/DECODER[-flip]-FORMAT[-int8]``) and return what ``stickpose.json`` records.
    ``flip``: test-time flip averaging in the graph (``codecs.flip``).
    ``int8`` (TFLite only) calibrates on ``calibration`` validation images; every export
    is checked against the run on ``check`` test1 images (``ExportCheck``)."""
    from .metrics import class_score

    if format not in FORMATS:
        raise StickposeError(f"--format {format!r} is unknown; expected one of "
                             f"{', '.join(FORMATS)}")
    if int8 and format != "tflite":
        raise StickposeError("--int8 quantises TFLite models; use it with --format tflite")
    config = RunDir(run).config()
    decoder = export_decoder(config, decoder)
    out = Path(out) if out else default_out(run, format, decoder, int8, flip)
    if out.is_symlink():
        out = Path(os.path.realpath(out))        # written where the link points
    _prepare_out(out, overwrite)
    config, model = load_run(run)
    state = RunDir(run).state()
    if state.kind == TRAINING:
        say(f"note: run {run} is still training ({state.epochs} epoch(s) done); the export "
            "holds its best model so far")
    suite = check_suite(config, say)
    handedness = has_handedness(run)
    if handedness:
        say(f"note: run {run} relabels left/right person-centric with a scikit-learn "
            "classifier, which stays outside the export: the export's keypoints are "
            "observer-centric")
    built = _claim(out)
    try:
        started = time.perf_counter()
        meta = {"stickpose": __version__, "format": format, "int8": int8,
                "decoder": decoder, "flip": flip, "run": str(Path(run).resolve()),
                "model": model.name,
                "input_size": config.input_size, "signature": SIGNATURE, "input": INPUT,
                "outputs": {"keypoints": f"(B, {NUM_JOINTS}, 2) xy image pixels",
                            "scores": f"(B, {NUM_JOINTS}) heatmap peak, NaN for "
                                      "coordinate heads"},
                "joints": list(JOINT_NAMES),
                "labels": "observer-centric" if handedness or config.labels == "observer"
                else "person-centric", "config": json.loads(config.to_json())}
        if format == "saved_model":
            say("writing the SavedModel")
            _write_saved_model(model, config, decoder, built, flip)
        else:
            scratch = built / ".to-convert"
            say("writing the SavedModel to convert")
            _write_saved_model(model, config, decoder, scratch, flip)
            images = None
            if int8:
                images = calibration_images(config, calibration, suite)
                meta["calibration"] = {"images": len(images), "source": "validation"}
            check_stop()
            say("converting to TFLite" + (f" and quantising the network to int8, calibrated "
                                          f"on {len(images)} validation images" if int8
                                          else ""))
            content = _tflite(scratch, model.name, images)
            shutil.rmtree(scratch)
            write_atomic(built / TFLITE, content)
        check_stop()
        images, truth = check_images(config, check, suite)
        checked = "test1" if suite.name == config.suite else f"{suite.name} test1"
        say(f"comparing with the run on {len(images)} {checked} images")
        expected = run_keypoints(model, config, decoder, images, flip=flip)
        got, _ = load_exported(built).predict(images)
        gap = np.linalg.norm(got - expected, axis=-1)
        size = images.shape[1]
        meta["check"] = asdict(ExportCheck(
            checked, len(images), class_score(expected, truth, size, size),
            class_score(got, truth, size, size), float(gap.mean()), float(gap.max())))
        meta["seconds"] = round(time.perf_counter() - started, 1)
        write_atomic(built / META, (json.dumps(meta, indent=2) + "\n").encode())
        _place(built, out, overwrite)
    finally:
        shutil.rmtree(built, ignore_errors=True)
    meta["out"] = str(out)
    return meta


# --- reading an export back -----------------------------------------------------------------

class Exported:
    """An exported artefact, ready to run: ``predict(images)`` for a batch of images of one
    size. ``meta`` is its ``stickpose.json`` (empty for a bare ``.tflite`` file)."""

    def __init__(self, path: Path, kind: str, meta: dict, call):
        self.path, self.kind, self.meta, self._call = path, kind, meta, call

    @property
    def label(self) -> str:
        """``DECODER[+flip] (FORMAT)``, as results name it."""
        kind = f"{self.kind}{' int8' if self.meta.get('int8') else ''}"
        flip = f"+{FLIP}" if self.meta.get("flip") else ""
        return f"{self.meta.get('decoder', 'exported')}{flip} ({kind})"

    def predict(self, images: np.ndarray, batch_size: int = 64):
        """Keypoints ``(n, 16, 2)`` in the images' pixels and scores ``(n, 16)`` for
        ``images`` ``(n, H, W, 3) uint8`` RGB."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise StickposeError(f"an export takes images (n, H, W, 3) uint8; got "
                                 f"{images.shape} {images.dtype}")
        points, scores = [], []
        for start in range(0, len(images), batch_size):
            batch = np.ascontiguousarray(images[start:start + batch_size])
            result = self._call(batch)
            points.append(np.asarray(result["keypoints"], np.float32))
            scores.append(np.asarray(result["scores"], np.float32))
            if points[-1].shape != (len(batch), NUM_JOINTS, 2) or \
                    scores[-1].shape != (len(batch), NUM_JOINTS):
                raise StickposeError(
                    f"--model {self.path} returned keypoints {points[-1].shape} and scores "
                    f"{scores[-1].shape} for {len(batch)} image(s); a stickpose export "
                    f"returns ({len(batch)}, {NUM_JOINTS}, 2) and ({len(batch)}, "
                    f"{NUM_JOINTS})")
        return np.concatenate(points), np.concatenate(scores)


def _meta(folder: Path) -> dict:
    path = folder / META
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise StickposeError(f"cannot read {path}: {error}") from None
    if not isinstance(meta, dict):
        raise StickposeError(f"{path} is not an export's record (expected a JSON object)")
    for key, kind, what in (("decoder", str, "a decoder name"), ("int8", bool, "true or "
                            "false"), ("labels", str, "text"), ("config", dict, "an object")):
        if key in meta and not isinstance(meta[key], kind):
            raise StickposeError(f"{path}: {key} is {json.dumps(meta[key])[:40]}; expected "
                                 f"{what} (was the file edited?)")
    return meta


def load_exported(path: Path, threads: int | None = None) -> Exported:
    """The artefact at ``path``: an export folder, a SavedModel folder, or a ``.tflite``
    file; an error naming what was found when it is none of them. ``threads``: TFLite's
    CPU threads [all cores]."""
    path = Path(path)
    if not path.exists():
        raise StickposeError(f"--model {path} does not exist; make one with `stickpose "
                             "export RUN`")
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            artefact = _load_saved_model(path)
        elif (path / TFLITE).is_file():
            artefact = _load_tflite(path / TFLITE, threads)
        else:
            found = sorted(p.name for p in path.iterdir())
            raise StickposeError(f"--model {path} is not an export: it has no saved_model.pb "
                                 f"or {TFLITE} (it holds {', '.join(found[:5]) or 'nothing'})")
    elif path.name == "saved_model.pb":
        artefact = _load_saved_model(path.parent)
    else:
        artefact = _load_tflite(path, threads)
    artefact.path = path                             # as the user named it
    return artefact


def _load_saved_model(folder: Path) -> Exported:
    from .quiet_tf import quiet_stderr, tf

    try:
        with quiet_stderr():
            loaded = tf.saved_model.load(str(folder))
    except (OSError, ValueError, RuntimeError, tf.errors.OpError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        raise StickposeError(f"cannot load SavedModel {folder}: {reason}") from None
    function = loaded.signatures.get(SIGNATURE)
    inputs = function.structured_input_signature[1] if function is not None else {}
    if function is None or set(inputs) != {INPUT} or not {"keypoints", "scores"} <= set(
            function.structured_outputs):
        raise StickposeError(f"SavedModel {folder} was not made by `stickpose export`: it "
                             f"has no {SIGNATURE!r} signature taking {INPUT!r} (its "
                             f"signatures: {', '.join(loaded.signatures) or 'none'})")

    def call(images):
        return function(**{INPUT: tf.constant(images)})
    return Exported(folder, "saved_model", _meta(folder), call)


def _load_tflite(file: Path, threads: int | None) -> Exported:
    from .quiet_tf import quiet_stderr

    if not file.is_file():
        raise StickposeError(f"--model {file} is not a regular file nor an export folder")
    try:
        content = file.read_bytes()
    except OSError as error:
        raise StickposeError(f"cannot read --model {file}: {error.strerror}") from None
    if content[4:8] != b"TFL3":
        raise StickposeError(f"--model {file} is not a TFLite model (no TFL3 mark; "
                             f"{len(content)} bytes) nor an export folder")
    try:
        interpreter = _interpreter(content, threads or len(os.sched_getaffinity(0)))
        runner = interpreter.get_signature_runner(SIGNATURE)
    except (ValueError, RuntimeError) as error:
        reason = str(error).splitlines()[0]
        if "buffer" in reason.lower():
            raise StickposeError(f"--model {file} is a damaged or cut-short TFLite model "
                                 f"({reason}); export it again") from None
        raise StickposeError(f"{file} is a TFLite model but not one `stickpose export` made "
                             f"(no {SIGNATURE!r} signature taking {INPUT!r}: {reason})"
                             ) from None
    signature = interpreter.get_signature_list().get(SIGNATURE, {})
    if signature.get("inputs") != [INPUT] or not {"keypoints", "scores"} <= set(
            signature.get("outputs", [])):
        raise StickposeError(f"{file} is a TFLite model but not one `stickpose export` made "
                             f"(signature {SIGNATURE!r}: {signature})")
    meta = _meta(file.parent) if file.name == TFLITE else {}

    def call(images):
        return runner(**{INPUT: images})
    with quiet_stderr():                  # the runtime's notice of its CPU delegate
        call(np.zeros((1, 8, 8, 3), np.uint8))
    return Exported(file, "tflite", meta, call)


def read_run_config(meta: dict) -> TrainConfig | None:
    """The run config an export records (None for a bare artefact)."""
    values = dict(meta.get("config") or {})
    values.pop("schema", None)
    try:
        return TrainConfig(**values) if values else None
    except (TypeError, StickposeError) as error:
        raise RunError(f"the export's {META} has an unreadable run config: {error}") from None
