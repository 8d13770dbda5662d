"""Atomic file output: write beside the target, then rename over it."""
from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from .errors import StickposeError


def data_folder() -> Path:
    """stickpose's folder in the user's data folder: ``$XDG_DATA_HOME/stickpose``, else
    ``~/.local/share/stickpose`` (the default results store, the pretrained models' copies)."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") \
        / "stickpose"


#: signals received since ``stop_on_signals`` was installed (see ``check_stop``).
_stop_signals: list[int] = []


def stop_on_signals() -> None:
    """Make SIGINT (Ctrl-C) and SIGTERM (``kill``, a scheduler's stop) end the command
    reliably: the handler raises ``KeyboardInterrupt`` and also remembers the signal, so a
    ``KeyboardInterrupt`` that Python drops (one raised while TensorFlow runs a ``__del__``
    or a weakref callback is printed as "Exception ignored" and lost) is raised again by
    the next ``check_stop``: every atomic write, every store write and the command's end.
    A signal the process was started ignoring (SIGINT of a background job ``cmd &`` in a
    script, ``nohup``'s SIGHUP) stays ignored, as the shell meant."""
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(number) is not signal.SIG_IGN:   # `cmd &` in a script: kept
                signal.signal(number, _stop)
        sys.unraisablehook = _unraisable


@contextmanager
def killed_by_signals():
    """For the block, SIGINT and SIGTERM end the process at once, as without Python: for a
    wait inside TensorFlow's C++ (workers connecting) that no Python handler can end, and
    before anything is written. (Code in the block may take a signal over for itself, as
    TensorFlow's multi-worker start does with SIGTERM.)"""
    main = threading.current_thread() is threading.main_thread()
    saved = [signal.signal(n, signal.SIG_DFL) for n in (signal.SIGINT, signal.SIGTERM)] \
        if main else []
    try:
        yield
    finally:
        for number, handler in zip((signal.SIGINT, signal.SIGTERM), saved):
            signal.signal(number, handler)


def _stop(number, frame):
    _stop_signals.append(number)
    raise KeyboardInterrupt


def _unraisable(unraisable):
    """Python's report of an exception it had to drop, except for a dropped interrupt, which
    ``check_stop`` raises again (so the user sees no traceback for their Ctrl-C)."""
    if not (_stop_signals and isinstance(unraisable.exc_value, KeyboardInterrupt)):
        sys.__unraisablehook__(unraisable)


def stop_requested() -> int:
    """The first stop signal (Ctrl-C's SIGINT, SIGTERM) that arrived, 0 if none: a
    ``KeyboardInterrupt`` with none was raised by code (a plugin's), not the user."""
    return int(_stop_signals[0]) if _stop_signals else 0


class Abandoned(Exception):
    """Raised by ``check_stop`` in the main thread once another thread called ``abandon``:
    the work under way is no longer this process's (a sweep entry another worker took)."""


_abandoned: list[str] = []


def abandon(why: str | None) -> None:
    """Ask the main thread to drop the work under way at its next ``check_stop`` (None:
    withdraw the request)."""
    _abandoned.clear()
    if why is not None:
        _abandoned.append(why)


def check_stop() -> None:
    """Raise ``KeyboardInterrupt`` if a stop signal arrived (even one whose own
    ``KeyboardInterrupt`` was lost), or ``Abandoned`` after ``abandon``: long loops call it
    between steps, and nothing is committed after it."""
    if _stop_signals:
        raise KeyboardInterrupt
    if _abandoned and threading.current_thread() is threading.main_thread():
        why = _abandoned.pop()
        raise Abandoned(why)


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    check_stop()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temp, 0o666 & ~umask())          # as open() would make it, not 0600
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def load_array(path: str | Path, what: str = "", error=StickposeError):
    """A NumPy array from a ``.npy`` file, never unpickling; ``error`` (naming ``what`` and
    the file) for a file that is missing, empty, cut short or not a NumPy array file."""
    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except EOFError:
        reason = "the file is empty"
    except (OSError, ValueError) as problem:
        reason = ("it is not a NumPy .npy array file" if "pickle" in str(problem)
                  else str(problem).splitlines()[0] or "it is cut short")
    raise error(f"cannot read {what + ' ' if what else ''}{path}: {reason}") from None


def umask() -> int:
    """The process's file mode creation mask."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path: str | Path, what: str = "--out", inside: bool = False) -> None:
    """Raise ``StickposeError`` naming ``path`` unless something can be written there: its
    nearest existing ancestor (the folder ``path`` itself, with ``inside``) must be a folder
    in which a folder can be made (probed for real: permission bits do not tell about /proc,
    a read-only mount or a full disk)."""
    path = Path(path)
    ancestor = path if inside or not path.name else path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise StickposeError(f"cannot write {what} {path}: {ancestor} is a file, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(dir=ancestor, prefix=".stickpose-probe-"))
    except OSError as error:
        raise StickposeError(f"cannot write {what} {path}: {error.strerror or error} "
                             f"({ancestor})") from None


def check_output(path: str | Path, kind: str = "folder", suffix: str | None = None,
                 what: str = "--out") -> Path:
    """``path`` if a ``kind`` ("folder" or "file", with ``suffix`` such as ``.png``) can be
    written there, else a ``StickposeError`` naming it: a file where a folder is wanted or
    the reverse, a wrong suffix (never replace ``notes.txt`` with HTML), or a place that
    cannot be written (see ``check_writable``)."""
    path = Path(path)
    if kind == "folder" and path.exists() and not path.is_dir():
        raise StickposeError(f"{what} {path} is a file; expected a folder")
    if kind == "file":
        if path.is_dir():
            raise StickposeError(f"{what} {path} is a folder; expected a {suffix or ''} file "
                                 "path".replace("  ", " "))
        if suffix and path.suffix.lower() != suffix:
            raise StickposeError(f"{what} {path} is not a {suffix} file path")
        if path.exists() and not path.is_file():
            raise StickposeError(f"{what} {path} is not a regular file")
    check_writable(path, what, inside=kind == "folder" and path.is_dir())
    return path


@contextmanager
def interrupts_deferred():
    """Hold SIGINT and SIGTERM back while a few renames run, so that they all happen or
    none does; a signal that arrives meanwhile is raised as ``KeyboardInterrupt`` after."""
    check_stop()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {s: signal.signal(s, lambda number, frame: _stop_signals.append(number))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
        check_stop()


def die_with_parent(parent: int) -> None:
    """In a worker process started by process ``parent``: have Linux kill it when that
    process dies, so a SIGKILL of the command leaves no worker rendering on with nobody to
    read its work (``prctl(PR_SET_PDEATHSIG, SIGKILL)``, a no-op where that is not
    available); if it died already (while this worker started), end now."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)
