"""stickpose: 2D keypoint estimation toolkit (Keras 3 on TensorFlow).

The Python API (imported on first use, so that ``import stickpose`` stays light):
``build_model``, ``train``, ``check_model``, and for your own model parts the decorators
``architecture`` and ``head`` and the ``Features`` a backbone returns.
"""
import os

# Silence TensorFlow's C++ start-up log (including the CUDA probe on machines without a
# GPU) before anything imports it; real failures still surface as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"

#: public name -> the module that defines it
_API = {"build_model": "stickpose.models.build", "check_model": "stickpose.models.check",
        "architecture": "stickpose.models.registry", "head": "stickpose.models.registry",
        "Features": "stickpose.models.registry"}
__all__ = [*_API, "train"]


def __getattr__(name):
    if name in _API:
        import importlib
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'stickpose' has no attribute {name!r}")


def train(arch="hourglass", head="heatmap", out=None, *, resume=False, overwrite=False,
          record=True, verbose=None, strategy="default", **settings):
    """Train ``arch`` x ``head`` (each a registered name, ``MODULE:NAME`` / ``FILE.py:NAME``,
    or the builder itself, defined at the top level of a module or notebook) into run
    directory ``out`` [``runs/NAME``], with ``settings`` of ``runs.TrainConfig`` (e.g.
    ``input_size``, ``width``, ``epochs``, ``arch_options``); records the run in the
    default results store when ``record``. Returns the evaluation (``evaluation.json``).
    ``strategy``: ``default``, ``mirrored`` or ``multiworker`` (``stickpose.distribute``);
    across workers only the chief writes ``out`` and records, the others return ``{}``."""
    from pathlib import Path

    from .models.registry import ARCHS, HEADS, spec_of
    from .runs import TrainConfig
    from .training import train as run_training

    config = TrainConfig(arch=spec_of(arch, ARCHS), head=spec_of(head, HEADS), **settings)
    out = Path(out) if out is not None else Path("runs") / config.name
    evaluation = run_training(config, out, resume=resume, overwrite=overwrite,
                              verbose=verbose, strategy=strategy)
    if record and evaluation:
        from .leaderboard.store import open_store, record_run
        record_run(open_store(None), out)
    return evaluation
