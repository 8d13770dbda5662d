"""The class baseline's own files in a user's folder: its two pose splits and game art.

The class's public repository (EdouardYvinec/IamStickman) keeps ``generator/train_split.npy``,
``generator/test_split.npy`` (int64 rows of 32 numbers ``x0, y0, ... x15, y15``, MPII order,
-1 for a missing joint) and ``backgrounds.zip`` (RGBA PNG screenshots). stickpose never
ships them; a suite refers to them as ``class:train_split``, ``class:test_split`` and
``class:backgrounds`` and they are found here in the folder the user gives (``--class-dir``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import StickposeError
from ..files import load_array

SPLITS = ("train_split", "test_split")
WHERE = ("the class baseline repository (EdouardYvinec/IamStickman) or a folder holding "
         "train_split.npy, test_split.npy and backgrounds/ or backgrounds.zip")


class ClassFilesError(StickposeError):
    """A class folder that lacks a file, or holds one in the wrong shape."""


def read_npy(path: Path, error_class=ClassFilesError) -> np.ndarray:
    """A ``.npy`` array of numbers, or ``error_class`` naming the file and what is wrong."""
    array = load_array(path, error=error_class)
    if not np.issubdtype(array.dtype, np.number):
        raise error_class(f"{path} holds {array.dtype} values; expected numbers")
    return array


def check_split(path: Path) -> None:
    """Raise ``ClassFilesError`` unless ``path`` holds an ``(N, 32)`` numeric array."""
    array = read_npy(path, ClassFilesError)
    if array.ndim != 2 or array.shape[1] != 32:
        raise ClassFilesError(f"{path} holds a {array.dtype} array of shape {array.shape}; "
                              "expected (N, 32) numbers: x0, y0, ... x15, y15 per pose, -1 "
                              "for a missing joint (the class baseline's generator/"
                              f"{path.name})")


def class_files(folder: str | Path) -> dict[str, str]:
    """Paths of ``train_split``, ``test_split`` and ``backgrounds`` (a folder or a zip) in
    ``folder`` or its ``generator/`` sub-folder, each checked; the error names what is
    missing and where it comes from."""
    if not str(folder).strip():
        raise ClassFilesError(f"--class-dir is empty; expected {WHERE}")
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise ClassFilesError(f"class folder {folder} " + ("is a file, not a folder"
                                                          if folder.exists() else
                                                          "does not exist")
                              + f"; expected {WHERE}")
    places = (folder, folder / "generator")
    found = {}
    for name in SPLITS:
        path = next((p / f"{name}.npy" for p in places if (p / f"{name}.npy").is_file()), None)
        if path is None:
            raise ClassFilesError(f"class folder {folder} has no {name}.npy (looked in "
                                  f"{folder} and {folder / 'generator'}); expected {WHERE}")
        check_split(path)
        found[name] = str(path)
    candidates = [p / "backgrounds" for p in places] + [p / "backgrounds.zip" for p in places]
    usable = [p for p in candidates if (p.is_dir() and any(p.iterdir()))
              or (p.is_file() and p.suffix == ".zip")]
    backgrounds = next(iter(usable or [p for p in candidates if p.exists()]), None)
    if backgrounds is None:
        raise ClassFilesError(f"class folder {folder} has no backgrounds/ or backgrounds.zip "
                              f"(looked in {folder} and {folder / 'generator'}); expected "
                              f"{WHERE}")
    found["backgrounds"] = str(backgrounds)
    return found


def resolve(value, files: dict[str, str] | None, where: str):
    """``value`` with a ``class:NAME`` reference replaced by the user's file."""
    if not (isinstance(value, str) and value.startswith("class:")):
        return value
    name = value[len("class:"):]
    if files is None:
        raise ClassFilesError(f"{where} reads the class baseline's {name}; give its folder "
                              f"with --class-dir DIR ({WHERE})")
    if name not in files:
        raise ClassFilesError(f"{where}: unknown class file {value!r}; known: "
                              f"{', '.join('class:' + n for n in files)}")
    return files[name]
