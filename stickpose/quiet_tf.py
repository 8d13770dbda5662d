"""TensorFlow, imported without its C++ start-up log.

TensorFlow 2.18+ logs (oneDNN notice, CUDA probe) through absl before it reads
``TF_CPP_MIN_LOG_LEVEL``, so the variable alone no longer silences start-up. Unless the user
asked for logs (``TF_CPP_MIN_LOG_LEVEL`` 0 or 1), the import runs with the process's stderr
pointed at /dev/null; Python errors raised by the import still reach the user.
"""
from __future__ import annotations

import os
import sys


def _import_quietly():
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3") in ("0", "1") or "tensorflow" in sys.modules:
        import tensorflow
        return tensorflow
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow


tf = _import_quietly()
