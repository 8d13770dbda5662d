"""TensorFlow, imported without its C++ start-up log.

TensorFlow 2.18+ logs (oneDNN notice, CUDA probe) through absl before it reads
``TF_CPP_MIN_LOG_LEVEL``, so the variable alone no longer silences start-up. Unless the user
asked for logs (``TF_CPP_MIN_LOG_LEVEL`` 0 or 1), the import runs with the process's stderr
pointed at /dev/null; Python errors raised by the import still reach the user. Starting a
multi-worker strategy logs the same notices again; ``quiet_stderr`` silences it the same way.
"""
from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def quiet_stderr():
    """The process's stderr (file descriptor 2, where TensorFlow's C++ log goes) pointed at
    /dev/null for the block, unless the user asked for logs."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3") in ("0", "1"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _import_quietly():
    if "tensorflow" in sys.modules:
        import tensorflow
        return tensorflow
    with quiet_stderr():
        import tensorflow
    return tensorflow


tf = _import_quietly()
