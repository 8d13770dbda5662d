"""Training recipes: what each architecture x head of ``stickpose leaderboard run`` trains
with, read from a TOML file (``generators/recipes.toml`` by default), and the budget in
training images. Without TensorFlow, so that the command line reads them quickly.

A recipe file has ``[recipe]`` (name, version, description), ``[defaults]``, then a table
per architecture whose keys apply to all its heads and whose sub-tables (``[resnet.heatmap]``)
to one head; later tables override earlier ones. Keys are ``TrainConfig`` settings that
shape a model and its optimisation (``RECIPE_KEYS``); anything else is refused.
"""
from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

from ..errors import StickposeError

RECIPE_KEYS = ("input_size", "width", "depth", "arch_options", "heatmap_stride", "deconv",
               "sigma",
               "batch_size", "learning_rate", "schedule", "steps_per_epoch",
               "validation_count")
DEFAULT_RECIPES = "recipes"          # generators/recipes.toml


class RecipeError(StickposeError):
    """A recipe file that cannot be read or names unknown settings."""


def parse_images(text: str, option: str = "--budget", time_limit: str = "--time-limit 5m") -> int:
    """A number of training images as users type it: ``200k``, ``1.5M``, ``96000``; an
    error naming ``option`` (and the ``time_limit`` option when it looks like a duration)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKM]?)\s*", str(text))
    if match:
        images = float(match[1]) * {"": 1, "k": 1e3, "K": 1e3, "M": 1e6}[match[2]]
        if images >= 1 and images == int(images):
            return int(images)
    hint = (" (the budget is a number of training images now; a time limit is "
            f"{time_limit})" if re.fullmatch(r"\s*[\d.]+\s*[smh]\s*", str(text)) else "")
    raise StickposeError(f"{option} {text!r} is not a number of images like 200k, 1.5M or "
                         f"96000{hint}")


def budget_epochs(images: int, batch_size: int, steps_per_epoch: int) -> int:
    """Epochs of ``steps_per_epoch`` batches that train on ``images`` images (rounded up to
    whole epochs: the run sees ``epochs * steps_per_epoch * batch_size`` images)."""
    return max(1, math.ceil(images / (batch_size * steps_per_epoch)))


class Recipes:
    """The recipes of one file: ``settings(arch, head)`` gives the ``TrainConfig`` keywords,
    ``label`` what a run records about where they came from."""

    def __init__(self, path: Path, name: str, version: int, defaults: dict, archs: dict):
        self.path, self.name, self.version = path, name, version
        self.defaults, self.archs = defaults, archs

    def settings(self, arch: str, head: str) -> dict:
        own = self.archs.get(arch, {})
        return {**self.defaults, **{k: v for k, v in own.items() if not _is_head_table(k, v)},
                **own.get(head, {}), "recipe": f"{self.name} v{self.version} {arch}/{head}"}


def recipe_path(name_or_path: str | Path) -> Path:
    """A recipe file by built-in name (``recipes``) or path."""
    from ..data.suites import suite_dirs

    path = Path(name_or_path)
    if path.suffix == ".toml":
        return path
    found = [d / f"{path}.toml" for d in suite_dirs() if (d / f"{path}.toml").is_file()]
    if not found:
        raise RecipeError(f"unknown recipe file {str(name_or_path)!r}; give a .toml path "
                          f"(the built-in one is {DEFAULT_RECIPES!r})")
    return found[0]


def load_recipes(name_or_path: str | Path = DEFAULT_RECIPES) -> Recipes:
    """Read and check a recipe file: every key known, every arch and head known, every
    value accepted by ``TrainConfig`` (checked by building each entry's config)."""
    from ..models.registry import ARCHS, HEADS

    arch_names, head_names = ARCHS.names(), HEADS.names()
    path = recipe_path(name_or_path)
    try:
        document = tomllib.loads(path.read_text())
    except OSError as error:
        raise RecipeError(f"cannot read recipe file {path}: {error.strerror or error}") \
            from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RecipeError(f"recipe file {path} is not valid TOML: {error}") from None
    header = document.pop("recipe", {})
    defaults = document.pop("defaults", {})
    if not isinstance(header, dict) or not isinstance(defaults, dict):
        raise RecipeError(f"{path}: [recipe] and [defaults] must be tables")
    unknown = sorted(set(header) - {"name", "version", "description"})
    if unknown:
        raise RecipeError(f"{path}: [recipe] has unknown key(s) {', '.join(unknown)}; "
                          "expected name, version, description")
    _check_keys(path, "defaults", defaults)
    for arch, table in document.items():
        if arch not in arch_names and ":" not in arch:
            raise RecipeError(f"{path}: [{arch}] is not an architecture; expected "
                              f"[defaults], one of {', '.join(arch_names)} or "
                              "[\"MODULE:NAME\"]")
        if not isinstance(table, dict):
            raise RecipeError(f"{path}: {arch} must be a table, got {table!r}")
        for key, value in table.items():
            if _is_head_table(key, value):
                if key not in head_names and ":" not in key:
                    raise RecipeError(f"{path}: [{arch}.{key}] is not a head; expected one "
                                      f"of {', '.join(head_names)}")
                _check_keys(path, f"{arch}.{key}", value)
            else:
                _check_keys(path, arch, {key: value})
    name, version = header.get("name", path.stem), header.get("version", 1)
    if not isinstance(name, str) or not isinstance(version, int) or isinstance(version, bool):
        raise RecipeError(f"{path}: [recipe] name must be text and version an integer")
    recipes = Recipes(path, name, version, defaults, document)
    from ..runs import TrainConfig

    def check(table: str, **settings) -> None:
        try:
            TrainConfig(**settings)
        except (StickposeError, TypeError) as error:
            raise RecipeError(f"{path} [{table}]: {error}") from None
    # each table checked with what it adds, so that an error names the table it is in
    check("defaults", **defaults)
    for arch in dict.fromkeys([*arch_names, *document]):
        own = {k: v for k, v in document.get(arch, {}).items() if not _is_head_table(k, v)}
        check(arch, arch=arch, **{**defaults, **own})
        for head in head_names:
            settings = recipes.settings(arch, head)
            settings.pop("recipe")
            check(f"{arch}.{head}", arch=arch, head=head, **settings)
    return recipes


def _is_head_table(key: str, value) -> bool:
    """A sub-table of an architecture's table is a head's, except its ``arch_options``."""
    return isinstance(value, dict) and key != "arch_options"


def _check_keys(path: Path, table: str, values: dict) -> None:
    unknown = sorted(set(values) - set(RECIPE_KEYS))
    if unknown:
        raise RecipeError(f"{path}: [{table}] has unknown setting(s) {', '.join(unknown)}; "
                          f"a recipe sets {', '.join(RECIPE_KEYS)}")
