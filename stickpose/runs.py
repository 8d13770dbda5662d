"""A training run: its frozen config and its directory.

``RunDir`` names every artefact of ``runs/NAME`` and answers one question, the run's
state, from what is on disk (never from a flag that a kill could leave stale):

- ``new``: the folder is missing or empty;
- ``foreign``: it holds files but no ``config.json`` (not a run; never touched);
- ``training``: ``history.csv`` has fewer epochs than the run's stopping rules allow;
  ``--resume`` continues from ``backup/`` (the weights and optimizer after the last
  finished epoch);
- ``trained``: the stopping rules are met (``epochs``, ``patience``, ``minutes``, all read
  from ``history.csv``) but ``evaluation.json`` is missing: resuming only evaluates;
- ``finished``: ``evaluation.json`` is written (recording into a results store may follow);
- ``broken``: something a state needs is missing or unreadable (``why`` says what).

``history.csv`` is the run's commit record: one row per finished epoch, rewritten whole
and atomically after that epoch's backup and best model are on disk, with the cumulative
training ``seconds``. Early stopping's patience, the best validation loss so far and the
``--minutes`` budget are all derived from it, so a resumed run stops exactly where an
uninterrupted one would.
"""
from __future__ import annotations

import csv
import fcntl
import io
import json
import math
import shutil
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from .codecs.gaussian import HEATMAP_STRIDE, HEATMAP_STRIDES
from .data.poses import check_pose_sources
from .errors import StickposeError
from .models.registry import check_spec, short_name
from .skeleton import LABEL_CONVENTIONS

SCHEDULES = ("cosine", "constant", "step", "cosine-time")
#: ``cosine-time``: cosine decay over the ``minutes`` of training time instead of the steps,
#: so that a time-limited run ends its schedule with its time (``training.RunKeeper``)
TIME_SCHEDULE = "cosine-time"
#: the epochs of a run that only its ``minutes`` end (``train --minutes`` alone)
TIME_EPOCHS = 100_000
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
CONFIG_SCHEMA = 2          # config.json's "schema"; a run without one predates it (0)
#: Settings added after runs were recorded, with the value that means "as before": a run's
#: identity (``leaderboard.store.config_hash``) leaves them out at that value, so runs
#: recorded before keep their ids.
LATER_SETTINGS = {"poses": None, "recipe": None, "plugins": {}}
#: Schema 1's ``stacks`` (an hourglass setting every config carried) and its default: since
#: schema 2 it is ``arch_options["stacks"]``.
STACKS_DEFAULT = 2


class RunError(StickposeError):
    """A run directory that is missing, corrupt, busy or in the way."""


class RunInUse(RunError):
    """The run directory is held (``RunDir.lock``) by another process."""


MAX_BATCH_SIZE = 65536     # far above any step that fits in memory, below TensorFlow's limits


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run. Saved as the run's ``config.json``."""

    arch: str = "hourglass"
    head: str = "heatmap"
    input_size: int = 64
    width: int = 32
    depth: int = 1
    arch_options: dict = field(default_factory=dict)   # the backbone builder's own options
    heatmap_stride: int = HEATMAP_STRIDE
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
    labels: str = "observer"        # left/right convention the model learns
    train_stream: str = "train"
    circles: float | None = None    # None: the stream's own setting
    squares: float | None = None
    backgrounds: float | None = None
    poses: str | None = None        # None: the stream's own (see data.poses.load_pose_source)
    validation_count: int = 256
    test_count: int = 1000
    precision: str = "float32"
    jit: bool = False
    data: str = "stickman"          # or "lsp:DIR": LSP (+ LSPET) from a local folder
    init: str | None = None         # a run whose weights start this one (same model)
    recipe: str | None = None       # the recipe the settings came from ("FILE vN arch/head")
    plugins: dict = field(default_factory=dict)   # {spec: {file, sha256}} of plugin parts

    def __post_init__(self):
        for name in ("input_size", "width", "depth", "heatmap_stride", "batch_size",
                     "epochs", "steps_per_epoch", "patience", "validation_count", "test_count"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise StickposeError(f"{name} {value!r} must be a positive integer")
        if self.batch_size > MAX_BATCH_SIZE:
            raise StickposeError(f"batch_size {self.batch_size} is more than "
                                 f"{MAX_BATCH_SIZE:,} images a step; use a smaller one")
        if self.heatmap_stride not in HEATMAP_STRIDES:
            raise StickposeError(f"heatmap_stride {self.heatmap_stride} must be one of "
                                 f"{', '.join(map(str, HEATMAP_STRIDES))}")
        for name in ("learning_rate", "sigma", "minutes"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float))
                                          and not isinstance(value, bool) and value > 0
                                          and math.isfinite(value)):
                raise StickposeError(f"{name} {value!r} must be a positive finite number")
        for name in ("deconv", "jit"):
            if not isinstance(getattr(self, name), bool):
                raise StickposeError(f"{name} {getattr(self, name)!r} must be true or false")
        for name, value, known in (("schedule", self.schedule, SCHEDULES),
                                   ("labels", self.labels, LABEL_CONVENTIONS),
                                   ("precision", self.precision, PRECISIONS)):
            if value not in known:
                raise StickposeError(f"{name} {value!r} is unknown; expected one of "
                                     f"{', '.join(known)}")
        if self.schedule == TIME_SCHEDULE and not self.minutes:
            raise StickposeError(f"schedule {TIME_SCHEDULE} decays over the training time: "
                                 "it needs minutes")
        check_spec(self.arch, "arch")
        check_spec(self.head, "head")
        for name in ("arch_options", "plugins"):
            value = getattr(self, name)
            if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                raise StickposeError(f"{name} {value!r} must be a mapping of names")
        if self.recipe is not None and not isinstance(self.recipe, str):
            raise StickposeError(f"recipe {self.recipe!r} must be text")
        if self.poses is not None:
            if not isinstance(self.poses, str):
                raise StickposeError(f"poses {self.poses!r} must be text")
            check_pose_sources(self.poses)
        if not isinstance(self.suite, str) or not self.suite:
            raise StickposeError(f"suite {self.suite!r} must be a suite name or .toml path")
        if self.data != "stickman" and not str(self.data).startswith("lsp:"):
            raise StickposeError(f"data {self.data!r} is unknown; expected stickman or "
                                 "lsp:DIR")

    @property
    def name(self) -> str:
        data = "_lsp" if self.data != "stickman" else \
            "" if self.suite == "stickman" else f"_{Path(self.suite).stem}"
        return (f"{short_name(self.arch)}-{short_name(self.head)}_{self.input_size}"
                f"_w{self.width}_s{self.seed}{data}")

    def model_settings(self) -> dict:
        """What decides the model's weights' shapes (two runs can share weights iff equal)."""
        return {"arch": self.arch, "head": self.head, "input_size": self.input_size,
                "width": self.width, "depth": self.depth, "heatmap_stride": self.heatmap_stride,
                "deconv": self.deconv, "arch_options": self.arch_options}

    def to_json(self) -> str:
        return json.dumps({"schema": CONFIG_SCHEMA, **asdict(self)}, indent=2) + "\n"

    @classmethod
    def load(cls, path: Path) -> "TrainConfig":
        """Read a run's ``config.json``, naming what is wrong with it. Configs written
        before the schema number existed are read forward; unknown keys are an error."""
        try:
            values = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise RunError(f"cannot read run config {path}: {error}") from None
        if not isinstance(values, dict):
            raise RunError(f"cannot read run config {path}: expected a JSON object")
        schema = values.pop("schema", 0)
        if not isinstance(schema, int) or isinstance(schema, bool) or not \
                0 <= schema <= CONFIG_SCHEMA:
            raise RunError(f"run config {path} has schema {schema!r}; this stickpose reads "
                           f"up to {CONFIG_SCHEMA} (upgrade stickpose)")
        if "train_suite" in values:                 # schema 0: the suite's earlier name
            values.setdefault("suite", values.pop("train_suite"))
        if schema < 2 and "stacks" in values:       # schema 1: stacks, for the hourglass
            stacks = values.pop("stacks")
            if values.get("arch") == "hourglass" and stacks != STACKS_DEFAULT:
                values.setdefault("arch_options", {"stacks": stacks})
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise RunError(f"run config {path} has unknown setting(s) {', '.join(unknown)}; "
                           "was it written by a newer stickpose?")
        try:
            return cls(**values)
        except (TypeError, StickposeError) as error:
            raise RunError(f"cannot read run config {path}: {error}") from None


# --- the run directory ----------------------------------------------------------------------

NEW, FOREIGN, TRAINING, TRAINED, FINISHED, BROKEN = (
    "new", "foreign", "training", "trained", "finished", "broken")


@dataclass(frozen=True)
class RunState:
    kind: str
    why: str = ""
    epochs: int = 0                 # finished epochs (history rows)
    stopped: str | None = None      # epochs | patience | minutes, once training is over


class RunDir:
    """The files of one run directory, and its state."""

    CONFIG = "config.json"
    BEST = "best.keras"
    HISTORY = "history.csv"
    BACKUP = "backup"
    EVALUATION = "evaluation.json"
    CURVES = "curves.png"
    PREDICTIONS = "predictions.png"
    TENSORBOARD = "tensorboard"
    FC = "decoder-fc.keras"
    HANDEDNESS = "handedness.npz"
    HANDEDNESS_PICKLE = "handedness.joblib"  # an older stickpose's: never loaded
    SHOW = "show"
    TABLES = "evaluation"
    REPORT = "report.html"
    EXPORT = "export"                       # stickpose export's folders
    LOCK = ".lock"
    BEST_TEMPORARY = ".best.tmp.keras"       # best.keras while it is written
    OWNED = (CONFIG, BEST, HISTORY, BACKUP, EVALUATION, CURVES, PREDICTIONS, TENSORBOARD, FC,
             HANDEDNESS, HANDEDNESS_PICKLE, SHOW, TABLES, REPORT, EXPORT, LOCK,
             BEST_TEMPORARY)

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __str__(self) -> str:
        return str(self.path)

    def is_run(self) -> bool:
        return (self / self.CONFIG).is_file()

    def config(self) -> TrainConfig:
        if not self.path.exists():
            raise RunError(f"run {self.path} does not exist; train one with `stickpose train "
                           "--out RUN`")
        if not self.is_run():
            raise RunError(f"{self.path} is not a stickpose run (no {self.CONFIG}); train one "
                           "with `stickpose train --out RUN`")
        return TrainConfig.load(self / self.CONFIG)

    def history(self) -> list[dict]:
        """The finished epochs: one dict per ``history.csv`` row (numbers as floats,
        ``epoch`` as int); empty before the first epoch ends."""
        path = self / self.HISTORY
        if not path.is_file():
            return []
        try:
            rows = [{k: int(v) if k in ("epoch", "images") else float(v)
                     for k, v in row.items() if v != ""}
                    for row in csv.DictReader(io.StringIO(path.read_text()))]
        except (OSError, ValueError, TypeError) as error:
            raise RunError(f"cannot read {path}: {error}") from None
        if [row.get("epoch") for row in rows] != list(range(len(rows))):
            raise RunError(f"{path} does not list epochs 0, 1, 2, ... once each (was it "
                           "edited?)")
        return rows

    def write_history(self, rows: list[dict]) -> None:
        from .files import write_atomic

        text = io.StringIO()
        columns = list(dict.fromkeys(key for row in rows for key in row))  # older rows: fewer
        writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_atomic(self / self.HISTORY, text.getvalue().encode())

    def backup(self, epochs: int) -> Path:
        """The weights and optimizer state after ``epochs`` finished epochs."""
        return self / self.BACKUP / f"epoch{epochs:05d}.weights.h5"

    def evaluation(self) -> dict:
        try:
            return json.loads((self / self.EVALUATION).read_text())
        except (OSError, ValueError) as error:
            raise RunError(f"cannot read {self / self.EVALUATION}: {error}") from None

    def state(self) -> RunState:
        if not self.path.exists() or (self.path.is_dir() and all(
                p.name == self.LOCK for p in self.path.iterdir())):
            return RunState(NEW)
        if not self.path.is_dir():
            return RunState(FOREIGN, f"{self.path} is a file")
        if not self.is_run():
            return RunState(FOREIGN, f"{self.path} holds files that are not a stickpose run")
        try:
            config = self.config()
            history = self.history()
        except RunError as error:
            return RunState(BROKEN, str(error))
        stopped = stop_reason(history, config)
        epochs = len(history)
        if (self / self.EVALUATION).is_file():
            return RunState(FINISHED, epochs=epochs, stopped=stopped)
        if stopped:
            if not (self / self.BEST).is_file():
                return RunState(BROKEN, f"{self.path} finished training but has no "
                                f"{self.BEST}", epochs, stopped)
            return RunState(TRAINED, epochs=epochs, stopped=stopped)
        if epochs and not (self / self.BEST).is_file():
            return RunState(BROKEN, f"{self.path} has {epochs} finished epoch(s) but no "
                            f"{self.BEST}", epochs)
        if epochs and not self.backup(epochs).is_file():
            return RunState(BROKEN, f"{self.path} has {epochs} finished epoch(s) but not the "
                            f"backup to continue from ({self.backup(epochs)})", epochs)
        return RunState(TRAINING, epochs=epochs)

    @contextmanager
    def lock(self):
        """Hold the run for this process: a second process training or evaluating the same
        run directory at once gets a ``RunError`` instead of mixing files."""
        created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self / self.LOCK, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise RunInUse(f"run {self.path} is in use by another stickpose process; "
                               "wait for it to finish") from None
            try:
                yield self
            finally:
                if created and [p.name for p in self.path.iterdir()] == [self.LOCK]:
                    (self / self.LOCK).unlink()       # nothing was written: leave nothing
                    self.path.rmdir()
                fcntl.flock(handle, fcntl.LOCK_UN)

    def start(self, config: "TrainConfig") -> None:
        """Make this folder a fresh run of ``config`` (new, or ``--overwrite``): the run's
        own files are replaced, anything else is left. In an order that leaves, if killed
        at any moment, a run that ``--resume`` or ``--overwrite`` takes up: first the
        records of progress go, then the new config is written, then the rest goes."""
        from .files import write_atomic

        for name in (self.EVALUATION, self.HISTORY):
            self._remove(name)
        write_atomic(self / self.CONFIG, config.to_json().encode())
        for name in self.OWNED:
            if name not in (self.CONFIG, self.LOCK):
                self._remove(name)

    def _remove(self, name: str) -> None:
        path = self / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()

    def remove_backup(self) -> None:
        """Once training is over: the backup, and a best model a kill left half-written."""
        shutil.rmtree(self / self.BACKUP, ignore_errors=True)
        self._remove(self.BEST_TEMPORARY)


def stop_reason(history: list[dict], config: TrainConfig) -> str | None:
    """Why training is over after the epochs of ``history``, or None: ``epochs`` (all
    done), ``patience`` (no better validation loss for ``patience`` epochs, as Keras'
    EarlyStopping) or ``minutes`` (the cumulative training time passed the budget)."""
    if not history:
        return None
    if len(history) >= config.epochs:
        return "epochs"
    losses = [row.get("val_loss", float("nan")) for row in history]
    best = min(range(len(losses)), key=lambda i: (losses[i], i))
    if len(losses) - 1 - best >= config.patience:
        return "patience"
    if config.minutes and history[-1].get("seconds", 0.0) > config.minutes * 60:
        return "minutes"
    return None


def training_images(config: TrainConfig, epochs: int | None = None) -> int:
    """Images seen in ``epochs`` finished epochs (all of them by default): the budget."""
    return (config.epochs if epochs is None else epochs) * config.steps_per_epoch \
        * config.batch_size


def validation_curve(history: list[dict]) -> list[dict]:
    """The run's validation curve from its ``history.csv`` rows: per finished epoch with a
    validation score, the training ``images`` so far, the process's ``cpu_seconds`` (None
    in runs trained before it was logged) and the ``score`` (the intended class score on
    the validation set). Recorded with the run, so that a time to accuracy can be read off
    it for any mark, afterwards (``leaderboard.board``)."""
    return [{"images": int(row["images"]), "cpu_seconds": row.get("cpu_seconds"),
             "score": float(row["val_score"])}
            for row in history if row.get("val_score") is not None
            and row.get("images") is not None]


def import_parts(config: TrainConfig, what: str):
    """Import the run's architecture and head (their Keras layers register for loading):
    a warning for a plugin whose source changed since ``what`` was trained, an error for one
    that cannot be imported. Returns ``(architecture, head)``."""
    from .models.registry import ARCHS, HEADS, check_sources

    check_sources(config.plugins, what)
    return ARCHS.get(config.arch), HEADS.get(config.head)


def with_plugins(config: TrainConfig) -> TrainConfig:
    """``config`` with its file plugins' paths made absolute and, in ``plugins``, where the
    code of its plugin architecture and head comes from (file and sha256)."""
    from .models.registry import absolute_spec, plugin_sources

    config = replace(config, arch=absolute_spec(config.arch), head=absolute_spec(config.head))
    return replace(config, plugins=plugin_sources([config.arch, config.head]))


def load_run(path: Path):
    """``(config, model)`` of a trained run directory, or a ``RunError`` naming what is
    missing."""
    run = RunDir(path)
    config = run.config()
    if not (run / run.BEST).is_file():
        state = run.state()
        raise RunError(f"run {path} has no model ({run.BEST}); " + (
            "it has not finished an epoch - continue it with `stickpose train --resume "
            "--out RUN`" if state.kind == TRAINING else
            f"it is {describe(state)} - train it again with `stickpose train --overwrite`"))
    import keras

    import_parts(config, f"run {path}")          # plugins register their layers for loading
    try:
        model = keras.models.load_model(run / run.BEST, compile=False)
    except (OSError, ValueError, EOFError, TypeError) as error:    # a truncated zip is not
        # "missing"; TypeError: a custom layer its plugin no longer defines
        reason = str(error).splitlines()[0] if (run / run.BEST).stat().st_size else "empty"
        raise RunError(f"cannot load {run / run.BEST} (damaged or not a Keras model: "
                       f"{reason}); train the run again with --overwrite") from None
    built = (model.name, tuple(model.input_shape[1:3]))
    expected = (f"{short_name(config.arch)}-{short_name(config.head)}",
                (config.input_size, config.input_size))
    if built != expected:
        raise RunError(f"run {path}: {run.BEST} holds a {built[0]} model for {built[1][0]} px "
                       f"but {run.CONFIG} says {expected[0]} at {config.input_size} px; the "
                       "files do not belong together")
    return config, model


def has_handedness(path: Path) -> bool:
    """Whether run ``path`` relabels left/right with a handedness classifier (its own, or
    one an older stickpose saved as a pickle)."""
    run = RunDir(path)
    return (run / run.HANDEDNESS).is_file() or (run / run.HANDEDNESS_PICKLE).is_file()


def load_handedness(path: Path):
    """The handedness classifier (``codecs.handedness.Handedness``) of run ``path``, None
    if it has none; a ``RunError`` for one an older stickpose saved as a pickle, which is
    never loaded (loading a pickle can run any code): ``stickpose train-handedness`` fits
    it again."""
    from .codecs.handedness import Handedness

    run = RunDir(path)
    if (run / run.HANDEDNESS).is_file():
        return Handedness.load(run / run.HANDEDNESS)
    if (run / run.HANDEDNESS_PICKLE).is_file():
        raise RunError(f"run {path} has a handedness classifier written by an older "
                       f"stickpose ({run.HANDEDNESS_PICKLE}, a pickle, which stickpose no "
                       f"longer loads: loading one can run any code); fit it again with "
                       f"`stickpose train-handedness {path}` (add --class-dir DIR if the "
                       f"class's files have moved)")
    return None


# --- what a run trains and is tested on -----------------------------------------------------

def load_run_suite(config: TrainConfig):
    """The suite a run trains and is tested on (reading the user's class folder if the
    suite needs it)."""
    from .data.suites import load_suite

    return load_suite(config.suite, config.class_dir)


def test_names(suite) -> list[str]:
    """The suite's test sets, in order (``test1`` ... ``test4`` for the built-in suites)."""
    return [n for n in ("test1", "test2", "test3", "test4") if n in suite.sets]


def stream_config(config: TrainConfig, suite):
    """The training stream's generator config, with the run's overrides and label
    convention, at the size it is rendered at: the stream's ``render_size`` (then resized to
    the model input) or else the model's input size."""
    if config.train_stream not in suite.streams:
        raise StickposeError(f"suite {suite.name} has no stream {config.train_stream!r}; "
                             f"it has {', '.join(suite.streams) or 'none'}")
    stream = suite.streams[config.train_stream]
    overrides = {k: getattr(config, k) for k in ("circles", "squares", "backgrounds", "poses")
                 if getattr(config, k) is not None}
    return replace(stream.config, size=stream.render_size or config.input_size,
                   labels=config.labels, **overrides)


def validation_spec(config: TrainConfig, suite):
    """The suite's validation set, labelled in the convention the model learns."""
    from .data.sets import suite_set

    validation = suite_set(suite, "validation", "validation during training")
    return replace(validation, config=replace(validation.config, labels=config.labels))


def check_suite(config: TrainConfig, suite, sets: bool = True) -> None:
    """Everything a stickman run needs of its suite, before anything is written: the
    stream, a validation set, at least one test set, and with ``sets`` (training, which
    validates and tests on them) pose banks with poses enough for every set (the class's
    split files: a set that takes its rows in order needs as many complete rows as images)
    and their backgrounds."""
    from .data.poses import PoseBank
    from .data.stickman import StickmanGenerator

    stream = StickmanGenerator(stream_config(config, suite), config.seed)
    stream.check_backgrounds()
    if isinstance(stream.poses, PoseBank) and not len(stream.poses.poses):
        start, stop = stream.config.pose_rows
        raise StickposeError(f"pose bank {stream.poses.source} has no complete pose in rows "
                             f"{start}:{'' if stop is None else stop} for the training stream "
                             "(a row with any -1 is skipped)")
    if not test_names(suite):
        raise StickposeError(f"suite {suite.name} ({suite.path}) has no test set (test1 ... "
                             f"test4) to evaluate the run on; it has {', '.join(suite.sets)}")
    validation = validation_spec(config, suite)
    if not sets:
        return
    for spec, count in [(validation, config.validation_count),
                        *((suite.sets[name], config.test_count) for name in test_names(suite))]:
        generator = StickmanGenerator(spec.config, spec.seed)
        generator.check_backgrounds()
        generator.check_count(min(count, spec.count))


def describe(state: RunState) -> str:
    """One line for a user about a run's state."""
    return {NEW: "not started", FOREIGN: state.why, BROKEN: f"broken: {state.why}",
            TRAINING: f"training, {state.epochs} epoch(s) done (resumable)" if state.epochs
            else "started, but its first epoch never finished (killed, or a crash); nothing "
                 "is kept yet: --resume or --overwrite trains it from the start",
            TRAINED: f"trained ({state.epochs} epochs, stopped by {state.stopped}), "
                     "not evaluated",
            FINISHED: f"finished ({state.epochs} epochs)"}[state.kind]
