"""Training: a frozen config, the tf.data inputs, Keras ``fit`` and the run directory.

A run directory ``runs/NAME`` holds ``config.json``, ``best.keras`` (best validation loss),
``history.csv``, ``curves.png``, ``predictions.png`` (validation images, truth and
prediction), ``evaluation.json`` (test1-test4) and ``tensorboard/``; ``backup/`` holds the
state ``--resume`` continues from while a run is unfinished.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from .quiet_tf import tf
import keras  # noqa: E402  (after TensorFlow's quiet import)

from .errors import StickposeError

SCHEDULES = ("cosine", "constant", "step")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


class RunError(StickposeError):
    """A run directory that is missing, corrupt or in the way."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run. Saved as the run's ``config.json``."""

    arch: str = "hourglass"
    head: str = "heatmap"
    input_size: int = 64
    width: int = 32
    depth: int = 1
    stacks: int = 2                 # hourglass only
    heatmap_stride: int = 2
    deconv: bool = False
    sigma: float = 1.5              # heatmap pixels
    batch_size: int = 32
    learning_rate: float = 2e-3
    schedule: str = "cosine"
    epochs: int = 55
    steps_per_epoch: int = 100
    minutes: float | None = None    # stop after this much training time
    patience: int = 8               # early stopping on validation loss (epochs)
    seed: int = 0
    suite: str = "stickman"         # the suite whose stream, validation and test sets are used
    class_dir: str | None = None    # the user's class baseline folder (suites reading it)
    labels: str = "observer"        # left/right convention the model learns (see below)
    train_stream: str = "train"
    circles: float | None = None    # None: the stream's own setting
    squares: float | None = None
    backgrounds: float | None = None
    validation_count: int = 256
    test_count: int = 1000
    precision: str = "float32"
    jit: bool = False
    data: str = "stickman"          # or "lsp:DIR": LSP (+ LSPET) from a local folder
    init: str | None = None         # a run whose weights start this one (same model)

    def __post_init__(self):
        for name in ("input_size", "width", "depth", "stacks", "heatmap_stride", "batch_size",
                     "epochs", "steps_per_epoch", "patience", "validation_count", "test_count"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise StickposeError(f"{name} {value!r} must be a positive integer")
        for name in ("learning_rate", "sigma", "minutes"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise StickposeError(f"{name} {value!r} must be positive")
        if self.schedule not in SCHEDULES:
            raise StickposeError(f"schedule {self.schedule!r} is unknown; expected one of "
                                 f"{', '.join(SCHEDULES)}")
        if self.data != "stickman" and not self.data.startswith("lsp:"):
            raise StickposeError(f"data {self.data!r} is unknown; expected stickman or "
                                 "lsp:DIR")
        from .skeleton import LABEL_CONVENTIONS
        if self.labels not in LABEL_CONVENTIONS:
            raise StickposeError(f"labels {self.labels!r} is unknown; expected one of "
                                 f"{', '.join(LABEL_CONVENTIONS)}")
        if self.precision not in PRECISIONS:
            raise StickposeError(f"precision {self.precision!r} is unknown; expected one of "
                                 f"{', '.join(PRECISIONS)}")

    @property
    def name(self) -> str:
        data = "_lsp" if self.data != "stickman" else \
            "" if self.suite == "stickman" else f"_{Path(self.suite).stem}"
        return f"{self.arch}-{self.head}_{self.input_size}_w{self.width}_s{self.seed}{data}"

    def arch_options(self) -> dict:
        return {"stacks": self.stacks} if self.arch == "hourglass" else {}

    @classmethod
    def load(cls, path: Path) -> "TrainConfig":
        """Read a run's ``config.json``, naming what is wrong with it."""
        try:
            values = json.loads(Path(path).read_text())
            if "train_suite" in values:              # the field's name before version 0.2
                values.setdefault("suite", values.pop("train_suite"))
            known = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in values.items() if k in known})
        except (OSError, ValueError, TypeError) as error:
            raise RunError(f"cannot read run config {path}: {error}") from None


def load_run(path: Path):
    """``(config, model)`` of a trained run directory, or a ``RunError`` naming what is
    missing."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise RunError(f"{path} is not a stickpose run (no config.json); train one with "
                       "`stickpose train --out RUN`")
    if not (path / "best.keras").is_file():
        raise RunError(f"run {path} has no model (best.keras); it has not finished an epoch "
                       "- continue it with `stickpose train --resume --out RUN`")
    from .models.registry import load_all

    load_all()                                   # heads register their layers for loading
    config = TrainConfig.load(path / "config.json")
    try:
        model = keras.models.load_model(path / "best.keras", compile=False)
    except (OSError, ValueError) as error:
        raise RunError(f"cannot load {path / 'best.keras'}: {error}") from None
    return config, model


def stream_config(config: TrainConfig, suite):
    """The training stream's generator config, with the run's overrides and label
    convention, at the size it is rendered at: the stream's ``render_size`` (then resized to
    the model input) or else the model's input size."""
    if config.train_stream not in suite.streams:
        raise StickposeError(f"suite {suite.name} has no stream {config.train_stream!r}; "
                             f"it has {', '.join(suite.streams) or 'none'}")
    stream = suite.streams[config.train_stream]
    overrides = {k: getattr(config, k) for k in ("circles", "squares", "backgrounds")
                 if getattr(config, k) is not None}
    return replace(stream.config, size=stream.render_size or config.input_size,
                   labels=config.labels, **overrides)


def validation_spec(config: TrainConfig, suite):
    """The suite's validation set, labelled in the convention the model learns."""
    validation = suite.sets["validation"]
    return replace(validation, config=replace(validation.config, labels=config.labels))


def set_key(suite: str, name: str) -> str:
    """How a suite's set is named in results: ``test1`` for stickpose's own suite,
    ``SUITE/test1`` for any other (the class's test1 is not stickpose's test1)."""
    return name if suite == "stickman" else f"{suite}/{name}"


def load_run_suite(config: TrainConfig):
    """The suite a run trains and is tested on (reading the user's class folder if the
    suite needs it)."""
    from .data.suites import load_suite

    return load_suite(config.suite, config.class_dir)


def fit_handedness(config: TrainConfig, suite, out: Path):
    """For a model that learns observer-centric labels on a suite whose test sets are
    labelled person-centric: fit the handedness classifier on the training stream's
    person-centric poses and save it in the run (``None`` when not needed)."""
    from .codecs.handedness import FILE_NAME, Handedness
    from .data.poses import PoseBank
    from .data.stickman import StickmanGenerator

    tests = [spec for name, spec in suite.sets.items() if name.startswith("test")]
    if config.labels != "observer" or not any(s.config.labels == "person" for s in tests):
        return None
    poses = StickmanGenerator(replace(stream_config(config, suite), labels="person"), 0).poses
    if not isinstance(poses, PoseBank):
        raise StickposeError(f"suite {suite.name}: person-centric test sets need a pose bank "
                             "in the training stream to learn handedness from")
    handedness = Handedness.fit(poses.poses, config.seed)
    handedness.save(out / FILE_NAME)
    return handedness


def heatmap_loss(y_true, y_pred):
    """MSE on heatmaps with the foreground weighted up: plain MSE against near-zero targets
    is minimised early by predicting zeros everywhere; weighting pixels by ``1 + 20 * t``
    keeps the peaks worth learning. Summed over the map: ``(B, 16)``, one loss per joint, so
    that per-joint sample weights can mask joints out (Keras averages what is left)."""
    from keras import ops

    weight = 1.0 + 20.0 * y_true
    return ops.sum(weight * ops.square(y_pred - y_true), axis=(1, 2))


def _targets(config: TrainConfig, head_target: str, output_names: list[str], codec):
    """A function mapping a stream batch to ``(images, {output: target})``; for LSP also
    ``{output: visible}`` as per-joint sample weights, so that joints that are missing or
    outside the crop count for nothing."""
    from .codecs.coordinates import normalise

    def to_targets(batch):
        if head_target == "heatmaps":
            target = codec.encode(batch["keypoints"], batch["visible"])
        else:
            target = normalise(batch["keypoints"], config.input_size)
        targets = {name: target for name in output_names}
        if config.data == "stickman":
            return batch["image"], targets
        weight = tf.cast(batch["visible"], tf.float32)
        return batch["image"], targets, {name: weight for name in output_names}
    return to_targets


class TimeLimit(keras.callbacks.Callback):
    """Stops training at the end of the first epoch past ``minutes`` of wall time."""

    def __init__(self, minutes: float):
        super().__init__()
        self.seconds = minutes * 60

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if time.monotonic() - self.start > self.seconds:
            self.model.stop_training = True


def train(config: TrainConfig, out: Path, resume: bool = False, overwrite: bool = False,
          verbose: int = 1) -> dict:
    """Train ``config`` into the run directory ``out``; returns the final evaluation."""
    from .codecs.gaussian import GaussianHeatmaps
    from .data.pipeline import stickman_stream
    from .data.stickman import TRAINING_STREAM
    from .data.render import resize_set
    from .evaluate import evaluate_on_sets, render_set
    from .files import write_atomic
    from .leaderboard.store import record_or_warn
    from .models.profile import count_flops
    from .models.registry import HEADS, build_model

    out = Path(out)
    is_run = (out / "config.json").is_file()
    replace_old = False
    if resume:
        if not is_run:
            raise RunError(f"cannot resume {out}: no config.json there (not a stickpose run)")
        if not (out / "backup").is_dir() and (out / "evaluation.json").is_file():
            raise RunError(f"cannot resume {out}: the run has finished; use --overwrite "
                           "to train it again")
        given = config.class_dir     # the class files may have moved since
        config = TrainConfig.load(out / "config.json")
        config = replace(config, class_dir=given or config.class_dir)
    elif out.exists() and any(out.iterdir()):
        if not overwrite or not is_run:
            raise RunError(f"{out} already holds " + (
                "a run; pass --resume to continue it or --overwrite to start again" if is_run
                else "files that are not a stickpose run; choose another --out"))
        replace_old = True
    suite = load_run_suite(config)
    generator_config = stream_config(config, suite)
    if config.data == "stickman":                    # pose banks and backgrounds, before
        from .data.stickman import StickmanGenerator  # anything is written
        StickmanGenerator(generator_config, config.seed).check_backgrounds()
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy(config.precision)
    model = build_model(config.arch, config.head, config.input_size, width=config.width,
                        depth=config.depth, heatmap_stride=config.heatmap_stride,
                        deconv=config.deconv, **config.arch_options())
    head_target = HEADS.get(config.head).target
    codec = GaussianHeatmaps(config.input_size, config.heatmap_stride, config.sigma)
    if config.data != "stickman":                    # checked before anything is written
        from .data.lsp import lsp_splits
        splits = lsp_splits(config.data[4:])
    if config.init and not resume:
        _initialise(model, config, Path(config.init))
    if replace_old:                                  # --overwrite, once the config is sound
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    if not resume:
        write_atomic(out / "config.json", (json.dumps(asdict(config), indent=2) + "\n").encode())

    to_targets = _targets(config, head_target, list(model.output), codec)
    # after --resume, carry on where the finished epochs left the stream
    done = (max(len((out / "history.csv").read_text().splitlines()) - 1, 0)
            if resume and (out / "history.csv").is_file() else 0)
    start = done * config.steps_per_epoch * config.batch_size
    if config.data == "stickman":
        train_data = stickman_stream(generator_config, config.seed,
                                     batch_size=config.batch_size, stream=TRAINING_STREAM,
                                     start=start, output_size=config.input_size)
        val_images, val_keypoints, val_visible = render_set(validation_spec(config, suite),
                                                            config.validation_count)
        val_images, val_keypoints = resize_set(val_images, val_keypoints, config.input_size)
    else:
        from .data.lsp import lsp_stream, test_crops
        train_data = lsp_stream(splits["train"], config.input_size, config.seed,
                                config.batch_size, start)
        val_images, val_keypoints, val_visible, _ = test_crops(
            splits["validation"], config.input_size, config.validation_count)
    train_data = train_data.map(to_targets)
    val_batch = to_targets({"image": val_images.astype(np.float32) / 255.0,
                            "keypoints": val_keypoints.astype(np.float32),
                            "visible": val_visible})
    val_data = tf.data.Dataset.from_tensor_slices(val_batch).batch(config.batch_size)

    total_steps = config.epochs * config.steps_per_epoch
    learning_rate = {
        "cosine": keras.optimizers.schedules.CosineDecay(config.learning_rate, total_steps),
        "step": keras.optimizers.schedules.PiecewiseConstantDecay(
            [total_steps // 2, total_steps * 3 // 4],
            [config.learning_rate, config.learning_rate / 10, config.learning_rate / 100]),
        "constant": config.learning_rate,
    }[config.schedule]
    loss = heatmap_loss if head_target == "heatmaps" else "mean_absolute_error"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss={name: loss for name in model.output}, jit_compile=config.jit)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        keras.callbacks.ModelCheckpoint(str(out / "best.keras"), monitor="val_loss",
                                        save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience),
        keras.callbacks.CSVLogger(str(out / "history.csv"), append=resume),
        keras.callbacks.TensorBoard(str(out / "tensorboard")),
    ]
    if config.minutes:
        callbacks.append(TimeLimit(config.minutes))
    start = time.monotonic()
    history = model.fit(train_data, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
                        shuffle=False, validation_data=val_data, callbacks=callbacks,
                        verbose=verbose)
    seconds = time.monotonic() - start
    images_seen = len(history.epoch) * config.steps_per_epoch * config.batch_size

    best = keras.models.load_model(out / "best.keras", compile=False)
    if config.data == "stickman":
        handedness = fit_handedness(config, suite, out)
        names = [n for n in ("test1", "test2", "test3", "test4") if n in suite.sets]
        sets, inference_ms = evaluate_on_sets(best, suite, names, config, head_target,
                                              count=config.test_count, handedness=handedness)
        sets = {set_key(suite.name, name): values for name, values in sets.items()}
    else:
        from .evaluate import evaluate_lsp
        row = evaluate_lsp(best, config, splits["test"], ["quarter"], head_target,
                           count=config.test_count)[0]
        sets = {"lsp-test": {k: v for k, v in row.items() if k != "decoder"}}
        inference_ms = row["pipeline_ms"]
    evaluation = {
        "run": config.name, "train_seconds": round(seconds, 1),
        "epochs": len(history.epoch),
        "train_images_per_second": round(images_seen / seconds, 1),
        "parameters": int(best.count_params()),
        "flops": count_flops(best, config.input_size),
        "inference_ms": round(inference_ms, 3),
        "sets": sets,
    }
    evaluation["run_id"] = record_or_warn(asdict(config), evaluation, sets,
                                          "quarter" if head_target == "heatmaps"
                                          else "coordinates")
    write_atomic(out / "evaluation.json", (json.dumps(evaluation, indent=2) + "\n").encode())
    _pictures(out, best, config, val_images, val_keypoints, head_target)
    return evaluation


def _initialise(model, config: TrainConfig, source: Path) -> None:
    """Start ``model`` from the weights of run ``source`` (e.g. stickman -> LSP transfer);
    the two must be the same model."""
    other, weights = load_run(source)
    fields_that_matter = ("arch", "head", "input_size", "width", "depth", "stacks",
                          "heatmap_stride", "deconv")
    for name in fields_that_matter:
        if getattr(other, name) != getattr(config, name):
            raise RunError(f"--init {source} has {name} {getattr(other, name)!r} but this run "
                           f"has {getattr(config, name)!r}; the models must match")
    model.set_weights(weights.get_weights())


def _pictures(out: Path, model, config, images, keypoints, head_target) -> None:
    """``curves.png`` from history.csv and ``predictions.png`` for 16 validation images."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from .evaluate import predict_keypoints
    from .files import write_atomic
    from .viz import contact_sheet, encode_png

    history = pd.read_csv(out / "history.csv")
    figure, axis = plt.subplots(figsize=(6, 4))
    for column in ("loss", "val_loss"):
        if column in history:
            axis.plot(history["epoch"] + 1, history[column], label=column)
    axis.set_xlabel("epoch")
    axis.set_ylabel("loss")
    axis.set_yscale("log")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / ".curves.tmp.png")
    plt.close(figure)
    (out / ".curves.tmp.png").replace(out / "curves.png")
    predicted = predict_keypoints(model, images[:16], config, head_target)
    sheet = np.concatenate([contact_sheet(images[:16], keypoints[:16], columns=8, tile=128,
                                          row_labels=["truth", ""]),
                            contact_sheet(images[:16], predicted, columns=8, tile=128,
                                          row_labels=["predicted", ""])])
    write_atomic(out / "predictions.png", encode_png(sheet))
