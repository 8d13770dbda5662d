"""The contract check of a model part: ``stickpose check-model`` and, for users' own tests,
``stickpose.check_model``."""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..quiet_tf import tf  # noqa: F401  (TensorFlow before Keras, quietly)
import keras

from ..errors import StickposeError
from .build import build_model
from .registry import ARCHS, HEADS, resolve

STAGES = ("build", "forward", "training step", "save and reload")


@dataclass(frozen=True)
class Check:
    """One architecture x head through the contract: ``stage`` reached (the failing one,
    or the last), ``problem`` (None when it passed) and what was measured."""

    arch: str
    head: str
    stage: str
    problem: str | None = None
    parameters: int | None = None
    outputs: dict | None = None          # output name -> shape (without the batch)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def line(self) -> str:
        if self.ok:
            shapes = ", ".join(f"{k} {v}" for k, v in (self.outputs or {}).items())
            return f"ok    {self.arch} + {self.head}: {self.parameters:,} parameters; {shapes}"
        return f"FAIL  {self.arch} + {self.head} at {self.stage}: {self.problem}"


def check_model(arch, heads=None, input_size: int = 64, width: int = 8, depth: int = 1,
                **arch_options) -> list[Check]:
    """Build ``arch`` (a spec, builder or ``keras.Model``) with each of ``heads`` [every
    registered head] at ``input_size`` px: a forward pass on a batch of 2, one training step
    (outputs finite, weights changed), then save to ``.keras`` and load back (the same
    outputs). One ``Check`` per head; ``all(c.ok for c in checks)`` in a user's test."""
    architecture_ = resolve(arch, ARCHS)
    return [_check(architecture_, head, input_size, width, depth, arch_options)
            for head in (heads or HEADS.names())]


def _check(architecture_, head, input_size, width, depth, arch_options) -> Check:
    name = architecture_.spec or architecture_.name
    head_name = head if isinstance(head, str) else getattr(head, "__name__", repr(head))
    stage = STAGES[0]
    try:
        head_ = resolve(head, HEADS)
        model = build_model(architecture_, head_, input_size, width=width, depth=depth,
                            **arch_options)
        stage = STAGES[1]
        images = np.random.default_rng(0).random((2, input_size, input_size, 3),
                                                 dtype=np.float32)
        outputs = {k: np.asarray(v) for k, v in model(images, training=False).items()}
        bad = [k for k, v in outputs.items() if not np.all(np.isfinite(v))]
        if bad:
            raise StickposeError(f"output {bad[0]} is not finite on random images")
        stage = STAGES[2]
        targets = {k: np.random.default_rng(1).random(v.shape, dtype=np.float32)
                   for k, v in outputs.items()}
        with tf.GradientTape() as tape:           # one eager step: no graph to trace
            predicted = model(images, training=True)
            loss = sum(tf.reduce_mean(tf.square(predicted[k] - targets[k])) for k in targets)
        gradients = tape.gradient(loss, model.trainable_weights)
        if not np.isfinite(float(loss)):
            raise StickposeError(f"the training loss is {float(loss)}")
        missing = [w.path for w, g in zip(model.trainable_weights, gradients) if g is None]
        if missing:
            raise StickposeError(f"no gradient reaches {missing[0]} (is it used?)")
        keras.optimizers.SGD(1e-3).apply(gradients, model.trainable_weights)
        stage = STAGES[3]
        expected = {k: np.asarray(v) for k, v in model(images, training=False).items()}
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.keras"
            model.save(path)
            loaded = keras.models.load_model(path, compile=False)
        again = {k: np.asarray(v) for k, v in loaded(images, training=False).items()}
        differ = [k for k in expected if k not in again or not np.allclose(
            expected[k], again[k], atol=1e-5)]
        if differ:
            raise StickposeError(f"the reloaded model's {differ[0]} differs from the saved "
                                 "one's (a custom layer without get_config?)")
    except (StickposeError, TypeError, ValueError) as error:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        if not isinstance(error, StickposeError):
            text = f"{type(error).__name__}: {text}"
        if "Could not locate class" in text or "register_keras_serializable" in text:
            text += " (decorate the layer with keras.saving.register_keras_serializable)"
        return Check(name, head_name, stage, text)
    return Check(name, head_.name, stage, None, int(model.count_params()),
                 {k: tuple(v.shape[1:]) for k, v in outputs.items()})
