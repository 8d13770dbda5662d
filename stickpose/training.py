"""Training a run: the tf.data inputs, Keras ``fit``, and the run directory's epoch-by-epoch
commit (see ``runs``) that makes ``--resume`` continue exactly where a run was killed.

A run directory ``runs/NAME`` holds ``config.json``, ``best.keras`` (best validation loss),
``history.csv``, ``curves.png``, ``predictions.png`` (validation images, truth and
prediction), ``evaluation.json`` (test1-test4) and ``tensorboard/``; ``backup/`` holds the
weights and optimizer state ``--resume`` continues from while training is unfinished.

Training on several workers (``distribute``): the chief (worker 0) alone reads and writes
the run directory and decides, from it, what every worker does; each worker trains on its
part of every global batch, and keeps the chief's history so that all stop together.
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from .quiet_tf import tf
import keras  # noqa: E402  (after TensorFlow's quiet import)

from .codecs.coordinates import normalise
from .codecs.fc import fc_decoder
from .codecs.gaussian import GaussianHeatmaps
from .codecs.handedness import Handedness
from .data.pipeline import stickman_stream
from .data.poses import PoseBank
from .data.render import resize_set
from .data.sets import render_set, suite_sets
from .data.stickman import DECODER_STREAM, TRAINING_STREAM, StickmanGenerator
from .distribute import Distribution
from .errors import StickposeError
from .evaluate import evaluate_lsp, evaluate_model, predict_keypoints
from .files import check_stop, write_atomic
from .models.build import build_model
from .models.profile import count_flops
from .metrics import class_score
from .models.registry import HEADS
from .pretrained import run_path
from .runs import (BROKEN, FINISHED, FOREIGN, NEW, TIME_EPOCHS, TIME_SCHEDULE, TRAINED,
                   RunDir, RunError, TrainConfig, check_suite, describe, import_parts, load_run,
                   load_run_suite, stop_reason, stream_config, test_names, training_images,
                   validation_curve, validation_spec, with_plugins)


def fit_handedness(config: TrainConfig, suite, out: Path):
    """For a model that learns observer-centric labels on a suite whose test sets are
    labelled person-centric: fit the handedness classifier on the training stream's
    person-centric poses and save it in the run, in place of any pickled one an older
    stickpose left (``None`` when not needed). The fit is the same for every run on the same
    poses and seed: ``Handedness.fitted`` caches it."""
    tests = [spec for name, spec in suite.sets.items() if name.startswith("test")]
    if config.labels != "observer" or not any(s.config.labels == "person" for s in tests):
        return None
    poses = StickmanGenerator(replace(stream_config(config, suite), labels="person"), 0).poses
    if not isinstance(poses, PoseBank):
        raise StickposeError(f"suite {suite.name}: person-centric test sets need a pose bank "
                             "in the training stream to learn handedness from")
    handedness = Handedness.fitted(poses.poses, config.seed)
    handedness.save(RunDir(out) / RunDir.HANDEDNESS)
    (RunDir(out) / RunDir.HANDEDNESS_PICKLE).unlink(missing_ok=True)
    return handedness


def train_handedness(run: Path, class_dir: Path | None = None) -> Path:
    """Fit the handedness classifier of run ``run`` again, as its training did at its end
    (the same poses and seed: the same classifier), and save it in place of an older
    stickpose's pickled one (never loaded). ``class_dir``: where the class's files are now,
    if not where the run found them. Returns the classifier's path."""
    run = RunDir(run)
    config = run.config()
    config = replace(config, class_dir=str(class_dir) if class_dir else config.class_dir)
    if config.data != "stickman":
        raise RunError(f"run {run} trained on {config.data}; the handedness classifier is "
                       "fitted for runs of a stickman suite with person-centric test sets")
    try:
        suite = load_run_suite(config)
    except StickposeError as error:
        if class_dir is not None or not config.class_dir:
            raise
        raise StickposeError(f"{error} (if the class's files have moved, say where: "
                             f"--class-dir DIR)") from None
    check_suite(config, suite, sets=False)
    with run.lock():
        if fit_handedness(config, suite, run.path) is None:
            raise RunError(f"run {run} needs no handedness classifier: " + (
                "its model learned person-centric labels itself" if config.labels == "person"
                else f"suite {suite.name}'s test sets are not labelled person-centric"))
    return run / RunDir.HANDEDNESS


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


class RunKeeper(keras.callbacks.Callback):
    """The run directory's epoch commit, in place of Keras' BackupAndRestore,
    ModelCheckpoint, EarlyStopping, CSVLogger and a time limit, whose states a resumed
    ``fit`` would lose. At each epoch's end: the validation images' class score (decoded by
    the head's own output), the training images so far, wall-clock and process CPU seconds
    are added to the epoch's row; the backup (weights and optimizer) goes to a
    new file, ``best.keras`` is replaced (atomically) when the validation loss improved on
    every earlier epoch's, then ``history.csv`` is rewritten with the new row (the commit;
    cumulative training seconds included), then the previous backup is removed. Training
    stops when ``runs.stop_reason`` says so, from the history alone.

    Across workers every worker runs it (its predictions are collective) with ``run`` None
    but the chief's: the chief loads the backup and its weights go to every worker; each
    epoch's row is the chief's on every worker, so that all stop at the same epoch."""

    def __init__(self, run: RunDir | None, config: TrainConfig, history: list[dict],
                 validation, head_target: str, distribution: Distribution):
        super().__init__()
        self.run, self.config, self.rows = run, config, list(history)
        self.validation, self.head_target = validation, head_target
        self.distribution = distribution

    def on_train_begin(self, logs=None):
        done = len(self.rows)
        across = self.distribution.workers.count > 1
        if done or across:
            if not self.model.optimizer.built:       # its variables must exist to be loaded
                self.model.optimizer.build(self.model.trainable_variables)
        if done and self.run is not None:
            self.distribution.alone(lambda: self.model.load_weights(self.run.backup(done)))
        if across:                                    # the chief's (or --init's) weights
            self.distribution.sync_variables(self.model.variables +
                                             self.model.optimizer.variables)
        last = self.rows[-1] if self.rows else {}
        self.seconds, self.cpu_seconds = last.get("seconds", 0.0), last.get("cpu_seconds", 0.0)
        self.start, self.cpu_start = time.monotonic(), time.process_time()

    def on_epoch_begin(self, epoch, logs=None):
        self.start, self.cpu_start = time.monotonic(), time.process_time()

    def on_train_batch_begin(self, batch, logs=None):
        if self.config.schedule == TIME_SCHEDULE:
            self.model.optimizer.learning_rate.assign(time_cosine(
                self.config, self.seconds + time.monotonic() - self.start))

    def on_train_batch_end(self, batch, logs=None):
        check_stop()

    def on_epoch_end(self, epoch, logs=None):
        check_stop()                                  # an interrupted epoch is not committed
        images, keypoints = self.validation      # its class score, for time to accuracy
        predicted = predict_keypoints(self.model, images, self.config, self.head_target)
        size = self.config.input_size
        self.seconds += time.monotonic() - self.start
        self.cpu_seconds += time.process_time() - self.cpu_start
        done = len(self.rows) + 1
        row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()},
               "val_score": round(class_score(predicted, keypoints, size, size), 5),
               "images": training_images(self.config, done),
               "seconds": round(self.seconds, 3), "cpu_seconds": round(self.cpu_seconds, 3)}
        if self.distribution.workers.count > 1:      # the chief's row on every worker
            values = self.distribution.from_chief(np.array(list(row.values())))
            row = {k: int(v) if k in ("epoch", "images") else float(v)
                   for k, v in zip(row, values)}
            if self.run is None:
                self.seconds, self.cpu_seconds = row["seconds"], row["cpu_seconds"]
        if self.run is not None:
            self.distribution.alone(lambda: self._commit(row, done))
        self.rows.append(row)
        if stop_reason(self.rows, self.config):
            self.model.stop_training = True

    def _commit(self, row: dict, done: int) -> None:
        backup = self.run.backup(done)
        backup.parent.mkdir(exist_ok=True)
        temporary = backup.with_name(f".{backup.name}")
        self.model.save_weights(temporary)
        temporary.replace(backup)
        if all(row["val_loss"] < earlier["val_loss"] for earlier in self.rows):
            self.model.save(self.run / RunDir.BEST_TEMPORARY)
            (self.run / RunDir.BEST_TEMPORARY).replace(self.run / RunDir.BEST)
        self.run.write_history([*self.rows, row])     # the commit
        self.run.backup(done - 1).unlink(missing_ok=True)


def prepare(config: TrainConfig, out: Path, resume: bool = False, overwrite: bool = False):
    """Check what ``train`` would do with run directory ``out`` before anything is written:
    returns ``(config, run, state)``, the config being the run's own when resuming."""
    run = RunDir(out)
    state = run.state()
    if resume:
        if state.kind in (NEW, FOREIGN):
            raise RunError(f"cannot resume {out}: no {RunDir.CONFIG} there (not a stickpose "
                           "run)")
        if state.kind == BROKEN:
            raise RunError(f"cannot resume: {state.why}")
        given = config.class_dir                      # the class files may have moved since
        config = run.config()
        config = replace(config, class_dir=given or config.class_dir)
    elif state.kind == FOREIGN:
        raise RunError(f"{out} already holds files that are not a stickpose run; choose "
                       "another --out")
    elif state.kind == BROKEN and not overwrite:
        raise RunError(f"{out} already holds a run that cannot be continued ({state.why}); "
                       "pass --overwrite to start again")
    elif state.kind != NEW and not overwrite:
        raise RunError(f"{out} already holds a run ({describe(state)}); pass --resume to "
                       "continue it or --overwrite to start again")
    return config, run, state


def keras_verbosity(verbose: int | None = None) -> int:
    """Keras' ``verbose`` for ``fit``: ``verbose`` as given, else a progress bar per step
    in a terminal (1) and one line per epoch where stdout is a log or a pipe (2): a bar
    redrawn with carriage returns fills a log with thousands of updates."""
    if verbose is not None:
        return verbose
    return 1 if sys.stdout.isatty() else 2


def train(config: TrainConfig, out: Path, resume: bool = False, overwrite: bool = False,
          verbose: int | None = None, strategy: str | Distribution = "default") -> dict:
    """Train ``config`` into the run directory ``out`` and evaluate it on the suite's test
    sets; returns the evaluation (also written as ``evaluation.json``). Recording it into a
    results store is the caller's (``leaderboard.store.record_run``).

    ``resume``: continue the run in ``out`` from its last finished epoch (a run killed at
    any point ends as an uninterrupted one would); a trained run is only evaluated, a
    finished one returned as it is. ``overwrite``: start again, replacing the run's own
    files (never other files in the folder).

    ``strategy``: how it trains, never part of the run: ``default``, ``mirrored`` or
    ``multiworker`` (see ``distribute``), or a started ``Distribution``. Across workers
    every worker calls ``train`` with the same arguments; the chief (worker 0) alone reads
    and writes ``out`` and evaluates, the others return ``{}`` once training is over.
    ``verbose``: Keras' (``keras_verbosity``: by default a bar in a terminal, a line per
    epoch in a log)."""
    distribution = strategy if isinstance(strategy, Distribution) else Distribution(strategy)
    with distribution.lost_workers():
        return _train(config, Path(out), resume, overwrite, keras_verbosity(verbose),
                      distribution)


def _train(config: TrainConfig, out: Path, resume: bool, overwrite: bool, verbose: int,
           distribution: Distribution) -> dict:
    chief = {}

    def decide():        # the chief's run directory decides what every worker does
        nonlocal config
        config, run, state = prepare(config, out, resume, overwrite)
        chief.update(run=run, state=state)
        if resume and state.kind == FINISHED:
            return {"fit": False}
        if resume:
            import_parts(config, f"run {out}")
        else:
            config = with_plugins(config)             # where its plugins' code comes from
        distribution.check_batch(config.batch_size)
        if config.init and (not resume or state.epochs == 0):
            chief["init"] = _init_weights(config)
        return {"fit": not (resume and state.kind == TRAINED), "config": asdict(config),
                "history": run.history()}

    plan = distribution.relay(decide)
    if not distribution.chief:
        if not plan["fit"]:
            return {}
        config = TrainConfig(**plan["config"])
        import_parts(config, "the chief's run")
    elif "config" not in plan:
        return chief["run"].evaluation()
    run, state = chief.get("run"), chief.get("state")
    suite, splits = load_run_suite(config), None
    if config.data == "stickman":                     # checked before anything is written
        check_suite(config, suite)
    else:
        from .data.lsp import lsp_splits
        splits = lsp_splits(config.data[4:])
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy(config.precision)
    with distribution.scope():
        model = build_model(config.arch, config.head, config.input_size, width=config.width,
                            depth=config.depth, heatmap_stride=config.heatmap_stride,
                            deconv=config.deconv, **config.arch_options)
    if "init" in chief:
        model.set_weights(chief["init"])
    distribution.synchronize_batch_norm(model)
    head_target = HEADS.get(config.head).target
    lsp_train = splits and splits["train"]
    if not distribution.chief:
        _fit(model, config, None, plan["history"], suite, head_target,
             _validation(config, suite, splits), lsp_train, verbose, distribution)
        return {}
    with run.lock():
        if run.state() != state:                      # another process got there first
            raise RunError(f"run {out} changed while this one started ({describe(state)} -> "
                           f"{describe(run.state())}); run the command again")
        if not resume:
            run.start(config)                         # --overwrite, once the config is sound
        images, keypoints, visible = _validation(config, suite, splits)
        if plan["fit"]:
            _fit(model, config, run, run.history(), suite, head_target,
                 (images, keypoints, visible), lsp_train, verbose, distribution)
        best = keras.models.load_model(run / RunDir.BEST, compile=False)
        run.remove_backup()
        evaluation = _evaluate(best, config, run, suite, splits and splits["test"])
        _pictures(run, best, config, images, keypoints, head_target)
        write_atomic(run / RunDir.EVALUATION, (json.dumps(evaluation, indent=2) + "\n").encode())
        return evaluation


def _validation(config: TrainConfig, suite, lsp_splits):
    """The validation images scored after each epoch: ``(images, keypoints, visible)``."""
    if lsp_splits is None:
        images, keypoints, visible = render_set(validation_spec(config, suite),
                                                config.validation_count)
        images, keypoints = resize_set(images, keypoints, config.input_size)
        return images, keypoints, visible
    from .data.lsp import test_crops
    images, keypoints, visible, _ = test_crops(lsp_splits["validation"], config.input_size,
                                               config.validation_count)
    return images, keypoints, visible


class MinutesProgress(keras.callbacks.Callback):
    """Keras' progress output for a run that only its ``--minutes`` end, whose epochs are
    not known in advance: each epoch is headed with the training time so far instead of
    "Epoch N/100000" (``verbose`` as Keras': 1 a bar per step, 2 a line per epoch)."""

    def __init__(self, keeper: RunKeeper, verbose: int):
        super().__init__()
        self.keeper, self.verbose = keeper, verbose

    def on_epoch_begin(self, epoch, logs=None):
        if self.verbose:
            print(f"Epoch {epoch + 1}: {self.keeper.seconds / 60:.1f} of "
                  f"{self.keeper.config.minutes:g} minutes trained", flush=True)
        self.bar = keras.utils.Progbar(self.keeper.config.steps_per_epoch,
                                       verbose=self.verbose)

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 < self.keeper.config.steps_per_epoch:
            self.bar.update(batch + 1, list((logs or {}).items()))

    def on_epoch_end(self, epoch, logs=None):
        self.bar.update(self.keeper.config.steps_per_epoch, list((logs or {}).items()),
                        finalize=True)


class Diverged(keras.callbacks.Callback):
    """Stop at the first training step whose loss is not a finite number, with an error
    that says so (a model that has diverged would otherwise train on, and every picture and
    score of it would be NaN)."""

    def __init__(self, config: TrainConfig):
        super().__init__()
        self.config, self.epoch = config, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            raise StickposeError(
                f"training diverged: the loss became {loss} at epoch {self.epoch + 1}, step "
                f"{batch + 1}; lower the learning rate (now {self.config.learning_rate:g}) "
                "and train again with --overwrite (epochs finished before it are kept for "
                "--resume)")


def time_cosine(config: TrainConfig, seconds: float) -> float:
    """The learning rate of schedule ``cosine-time`` after ``seconds`` of training (every
    session of a resumed run counted): cosine decay from ``learning_rate`` to 0 at
    ``minutes``, 0 after."""
    done = min(1.0, seconds / (60 * config.minutes))
    return 0.5 * config.learning_rate * (1 + math.cos(math.pi * done))


def _fit(model, config: TrainConfig, run: RunDir | None, history: list[dict], suite,
         head_target: str, validation, lsp_train, verbose: int,
         distribution: Distribution) -> None:
    """``model.fit`` from the run's last committed epoch (``history``) until
    ``runs.stop_reason``; ``run`` None on workers other than the chief."""
    codec = GaussianHeatmaps(config.input_size, config.heatmap_stride, config.sigma)
    to_targets = _targets(config, head_target, list(model.output), codec)
    done = len(history)
    start = done * config.steps_per_epoch * config.batch_size   # where the stream was

    def stream(shard):                                # this worker's part of each batch
        if lsp_train is None:
            data = stickman_stream(stream_config(config, suite), config.seed,
                                   batch_size=config.batch_size, stream=TRAINING_STREAM,
                                   start=start, output_size=config.input_size, shard=shard)
        else:
            from .data.lsp import lsp_stream
            data = lsp_stream(lsp_train, config.input_size, config.seed, config.batch_size,
                              start, shard)
        return data.map(to_targets)
    images, keypoints, visible = validation
    val_batch = to_targets({"image": images.astype(np.float32) / 255.0,
                            "keypoints": keypoints.astype(np.float32), "visible": visible})
    val_data = tf.data.Dataset.from_tensor_slices(val_batch).batch(config.batch_size)
    total_steps = config.epochs * config.steps_per_epoch
    learning_rate = {
        "cosine": keras.optimizers.schedules.CosineDecay(config.learning_rate, total_steps),
        "step": keras.optimizers.schedules.PiecewiseConstantDecay(
            [total_steps // 2, total_steps * 3 // 4],
            [config.learning_rate, config.learning_rate / 10, config.learning_rate / 100]),
        "constant": config.learning_rate,
        TIME_SCHEDULE: config.learning_rate,          # set before each step by RunKeeper
    }[config.schedule]
    loss = heatmap_loss if head_target == "heatmaps" else "mean_absolute_error"
    keeper = RunKeeper(run, config, history, (images, keypoints), head_target, distribution)
    callbacks = [keeper, Diverged(config)]
    if config.epochs == TIME_EPOCHS:             # Keras' own lines would say "Epoch 1/100000"
        callbacks.append(MinutesProgress(keeper, verbose))
        verbose = 0
    if run is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(run / RunDir.TENSORBOARD)))
    with distribution.scope():
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss={name: loss for name in model.output}, jit_compile=config.jit)
        model.fit(distribution.distribute(stream, config.batch_size), epochs=config.epochs,
                  initial_epoch=done, steps_per_epoch=config.steps_per_epoch, shuffle=False,
                  validation_data=val_data, callbacks=callbacks, verbose=verbose)


def _evaluate(best, config: TrainConfig, run: RunDir, suite, lsp_test) -> dict:
    """The run's summary: training totals from ``history.csv`` and its head's own output on
    the suite's test sets (``test_count`` images each), with what identifies the data."""
    head_target = HEADS.get(config.head).target
    decoder = HEADS.get(config.head).decoder
    if lsp_test is None:
        handedness = fit_handedness(config, suite, run.path)
        table = evaluate_model(best, config, suite_sets(suite, test_names(suite),
                                                        config.test_count),
                               [decoder], head_target, handedness=handedness)
    else:
        table = evaluate_lsp(best, config, lsp_test, [decoder], head_target,
                             count=config.test_count)
    kept = ("images", "data_id", "canonical", "source", "score", "score_written", "flip_score",
            "swap", "pck",
            "mpjpe", "mse", "ap", "ap50", "ap75", "ar")
    sets = {row["set"]: {k: _plain(v) for k, v in row.items() if v == v and (
                k in kept or lsp_test is not None and k not in (
                    "set", "occlusion", "decoder", "params", "decode_ms", "pipeline_ms"))}
            for _, row in table.iterrows()}
    history = run.history()
    seconds = history[-1].get("seconds")       # None in runs trained before it was logged
    cpu_seconds = history[-1].get("cpu_seconds")
    return {"run": config.name, "epochs": len(history),
            "stopped_by": stop_reason(history, config),
            "train_images": training_images(config, len(history)),
            "train_seconds": seconds and round(seconds, 1),
            "cpu_seconds": cpu_seconds and round(cpu_seconds, 1),
            "train_images_per_second": seconds and round(
                training_images(config, len(history)) / seconds, 1),
            "validation_curve": validation_curve(history), "hardware": hardware(),
            "parameters": int(best.count_params()),
            "flops": count_flops(best, config.input_size),
            "inference_ms": round(float(table["pipeline_ms"].mean()), 3),
            "decoder": decoder, "params": "", "sets": sets}


def hardware() -> str:
    """The machine a run trained on: CPU model and cores, and any GPUs TensorFlow sees."""
    import os
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    gpus = [tf.config.experimental.get_device_details(device).get("device_name", device.name)
            for device in tf.config.list_physical_devices("GPU")]
    cores = len(os.sched_getaffinity(0))
    return f"{cpu}, {cores} cores" + (f"; {', '.join(gpus)}" if gpus else "")


def _plain(value):
    """A NumPy scalar as the Python value JSON writes."""
    return value.item() if isinstance(value, np.generic) else value


def _init_weights(config: TrainConfig) -> list:
    """The weights of run ``config.init`` (a run folder or ``pretrained:NAME``) that start
    this run (e.g. stickman -> LSP transfer); the two must be the same model."""
    other, weights = load_run(run_path(config.init))
    mine, theirs = config.model_settings(), other.model_settings()
    for name in sorted(set(mine) | set(theirs)):
        if mine.get(name) != theirs.get(name):
            raise RunError(f"--init {config.init} has {name} {theirs.get(name)!r} but this run "
                           f"has {mine.get(name)!r}; the models must match")
    return weights.get_weights()


def train_decoder(run: Path, epochs: int = 10, steps_per_epoch: int = 100,
                  batch_size: int = 32, learning_rate: float = 1e-3, overwrite: bool = False,
                  verbose: int | None = None) -> dict:
    """Fit the fc decoder (``codecs.fc``) of a heatmap run on its frozen model's heatmaps
    of freshly rendered training-noise images (a stream of their own, seeded by the run's
    seed) and save it as ``RUN/decoder-fc.keras``. Returns the final losses."""
    for name, value in (("epochs", epochs), ("steps", steps_per_epoch),
                        ("batch size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise StickposeError(f"{name} {value!r} must be a positive integer")
    if not learning_rate > 0:
        raise StickposeError(f"learning rate {learning_rate!r} must be positive")
    run = RunDir(run)
    config, model = load_run(run.path)
    if (run / RunDir.FC).is_file() and not overwrite:
        raise RunError(f"run {run} already has a trained fc decoder ({RunDir.FC}); pass "
                       "--overwrite to replace it")
    if HEADS.get(config.head).target != "heatmaps":
        raise RunError(f"run {run} has a {config.head} head; the fc decoder reads heatmaps")
    if config.data != "stickman":
        raise RunError(f"run {run} trained on {config.data}; the fc decoder is trained on "
                       "the stickman stream of a stickman run")
    suite = load_run_suite(config)
    check_suite(config, suite, sets=False)
    keras.utils.set_random_seed(config.seed)
    model.trainable = False                               # frozen: BatchNorm in inference
    heatmaps = model(model.inputs[0])["heatmaps"]
    decoder = fc_decoder(heatmaps.shape[1])
    joined = keras.Model(model.inputs[0], decoder(heatmaps), name="frozen_heatmaps_fc")
    joined.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mean_absolute_error")

    def pairs(batch):
        return batch["image"], normalise(batch["keypoints"], config.input_size)
    data = stickman_stream(stream_config(config, suite), config.seed, batch_size=batch_size,
                           stream=DECODER_STREAM, output_size=config.input_size).map(pairs)
    images, keypoints, _ = render_set(validation_spec(config, suite), config.validation_count)
    images, keypoints = resize_set(images, keypoints, config.input_size)
    validation = (images.astype(np.float32) / 255.0,
                  normalise(keypoints, config.input_size).astype(np.float32))
    with run.lock():
        history = joined.fit(data, epochs=epochs, steps_per_epoch=steps_per_epoch,
                             validation_data=validation, shuffle=False,
                             verbose=keras_verbosity(verbose))
        temporary = run / f".{RunDir.FC}.tmp.keras"
        decoder.save(temporary)
        temporary.replace(run / RunDir.FC)
    return {k: float(v[-1]) for k, v in history.history.items()}


def _pictures(out, model, config, images, keypoints, head_target) -> None:
    """``curves.png`` from history.csv and ``predictions.png`` for 16 validation images."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from .viz import contact_sheet, encode_png, figure_png

    history = pd.read_csv(out / RunDir.HISTORY)
    figure, axis = plt.subplots(figsize=(6, 4))
    for column in ("loss", "val_loss"):
        if column in history:
            axis.plot(history["epoch"] + 1, history[column], label=column)
    axis.set_xlabel("epoch")
    axis.set_ylabel("loss")
    axis.set_yscale("log")
    axis.legend()
    figure.tight_layout()
    write_atomic(out / RunDir.CURVES, figure_png(figure))
    predicted = predict_keypoints(model, images[:16], config, head_target)
    sheet = np.concatenate([contact_sheet(images[:16], keypoints[:16], columns=8, tile=128,
                                          row_labels=["truth", ""]),
                            contact_sheet(images[:16], predicted, columns=8, tile=128,
                                          row_labels=["predicted", ""])])
    write_atomic(out / RunDir.PREDICTIONS, encode_png(sheet))


def check_entries(entries: dict, what: str = "entry") -> None:
    """Refuse, before any training, run folders ``{folder: TrainConfig}`` of a sweep or a
    benchmark that were trained with other settings (another budget, say) or that hold
    files of another kind; ``what`` names an entry in the message."""
    for folder, config in entries.items():
        run = RunDir(folder)
        state = run.state()
        if state.kind == FOREIGN:
            raise RunError(f"{what} {run}: {state.why}; choose another --out")
        if state.kind not in (NEW, BROKEN):
            theirs = replace(run.config(), class_dir=config.class_dir,
                             plugins=config.plugins)         # a changed plugin: a warning
            if theirs != config:
                changed = [f"{k} {getattr(theirs, k)!r} (now {getattr(config, k)!r})"
                           for k in config.__dataclass_fields__
                           if getattr(theirs, k) != getattr(config, k)]
                raise RunError(f"{what} {run} was trained with other settings: "
                               f"{', '.join(changed)}; use another --out to keep both")


def train_entry(config: TrainConfig, out: Path) -> dict:
    """``train`` for an entry of a sweep or a benchmark, whatever its folder holds (checked
    by ``check_entries``): a finished run is returned, a killed one resumes where it was
    (its training time so far counts against its budget), a broken one starts again."""
    kind = RunDir(out).state().kind
    return train(config, out, resume=kind not in (NEW, BROKEN), overwrite=kind == BROKEN,
                 verbose=0)
