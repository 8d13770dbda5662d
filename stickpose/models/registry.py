"""Architectures and heads by name: stickpose's own, installed packages' and users' modules.

A model part is named by a spec, as users type it:

- a registered name (``resnet``, ``heatmap``): an entry point of the group
  ``stickpose.architectures`` or ``stickpose.heads`` of an installed package (stickpose's
  own six architectures and three heads register this way too); listing the names reads
  package metadata only, and a name's module is imported when it is first used;
- an import string ``MODULE:NAME`` (the module imported with the current folder on the path,
  as ``python -m`` does) or ``FILE.py:NAME`` (a file anywhere).

A backbone is a builder ``(inputs, width=..., depth=..., **options) -> Features`` (or
feature tensors, their stride inferred), optionally declared with ``@architecture``; or a
functional ``keras.Model`` mapping images to feature maps. A head is a builder
``(feature, stride=..., input_size=..., heatmap_stride=..., deconv=..., name=...) ->
tensor`` declared with ``@head(target=...)``.

This module imports no TensorFlow: the command line reads names from here quickly.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import traceback
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ..errors import StickposeError
from ..files import stop_requested
from ..registry import Registry, RegistryError

ARCH_GROUP = "stickpose.architectures"
HEAD_GROUP = "stickpose.heads"
#: a head's target -> the codecs that encode it (``codecs.gaussian``, ``codecs.coordinates``)
CODECS = {"heatmaps": ("gaussian",), "coordinates": ("normalised",)}


class PluginError(RegistryError):
    """A user's or a package's model part that cannot be imported or does not fit."""


class PluginWarning(UserWarning):
    """A run's plugin whose source changed since the run was trained."""


@dataclass(frozen=True)
class Features:
    """Backbone output: feature maps ``(B, S/stride, S/stride, C)``; several for stacked
    models (intermediate supervision), the last being the final one."""

    maps: list
    stride: int


@dataclass(frozen=True)
class Architecture:
    """A feature extractor: ``build(inputs, width, depth, **options) -> Features``.

    ``divisor``: input sizes must be multiples of it (1: checked when built, from the
    features' stride). ``spec``: what a run records to find it again.
    """

    name: str
    build: Callable
    divisor: int = 1
    summary: str = ""
    spec: str = ""
    options: dict = field(default_factory=dict)    # option -> default; None: any (**kwargs)


@dataclass(frozen=True)
class Head:
    """``build(feature, stride=, input_size=, heatmap_stride=, deconv=, name=) -> tensor``,
    the target it trains on (``heatmaps`` or ``coordinates``) and the codec of that target."""

    name: str
    build: Callable
    target: str
    codec: str
    summary: str = ""
    spec: str = ""

    @property
    def decoder(self) -> str:
        """What a run of this head records as its own output's decoder."""
        return "quarter" if self.target == "heatmaps" else "coordinates"


def _summary(build) -> str:
    return ((getattr(build, "__doc__", None) or "").strip().splitlines() or [""])[0]


def _options(build) -> dict | None:
    """A builder's keyword options beyond the contract's, with their defaults (None when it
    takes ``**kwargs``, so any option may reach it)."""
    try:
        parameters = list(inspect.signature(build).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return None
    return {p.name: p.default for p in parameters[1:]
            if p.name not in ("width", "depth") and p.kind != p.VAR_POSITIONAL}


def architecture(name: str | None = None, divisor: int = 1):
    """Decorator declaring a backbone builder: its registered ``name`` (the function's by
    default) and the ``divisor`` its input sizes must be multiples of."""
    if callable(name):                                  # used bare: @architecture
        return architecture()(name)

    def declare(build: Callable) -> Callable:
        if not isinstance(divisor, int) or divisor < 1:
            raise PluginError(f"@architecture divisor {divisor!r} must be a positive integer")
        build.stickpose_architecture = Architecture(name or build.__name__, build, divisor,
                                                    _summary(build), options=_options(build))
        return build
    return declare


def head(target: str, codec: str | None = None, name: str | None = None):
    """Decorator declaring a head builder: the ``target`` it trains on (``heatmaps`` or
    ``coordinates``), the ``codec`` of that target (its only one by default) and its name."""
    if target not in CODECS:
        raise PluginError(f"@head target {target!r} is unknown; expected heatmaps or "
                          "coordinates")
    codec = codec or CODECS[target][0]
    if codec not in CODECS[target]:
        raise PluginError(f"@head codec {codec!r} does not encode {target}; expected "
                          f"{', '.join(CODECS[target])}")

    def declare(build: Callable) -> Callable:
        build.stickpose_head = Head(name or build.__name__, build, target, codec,
                                    _summary(build))
        return build
    return declare


# --- specs --------------------------------------------------------------------------------

def is_import_string(spec: str) -> bool:
    return ":" in spec


def short_name(spec: str) -> str:
    """The part's own name: a registered name as it is, ``NAME`` of ``MODULE:NAME``."""
    return spec.rsplit(":", 1)[-1] if is_import_string(spec) else spec


def display_name(spec: str) -> str:
    """A spec for tables: a file plugin's path shortened to its file name."""
    if not is_import_string(spec):
        return spec
    module, attribute = spec.rsplit(":", 1)
    return f"{Path(module).name}:{attribute}" if _is_file(module) else spec


def _is_file(module: str) -> bool:
    return module.endswith(".py") or "/" in module or os.sep in module


def check_spec(spec, what: str) -> None:
    """``spec`` is a name or ``MODULE:NAME`` / ``FILE.py:NAME`` (not whether it exists)."""
    if not isinstance(spec, str) or not spec.strip():
        raise StickposeError(f"{what} {spec!r} must be a name or MODULE:NAME")
    if is_import_string(spec):
        module, attribute = spec.rsplit(":", 1)
        if not module or not attribute.isidentifier():
            raise StickposeError(f"{what} {spec!r} is not an import string like "
                                 "my_nets:tiny_net or ./my_nets.py:tiny_net")


def absolute_spec(spec: str) -> str:
    """A file plugin's spec with its file made absolute (resumable from any folder)."""
    if is_import_string(spec):
        module, attribute = spec.rsplit(":", 1)
        if _is_file(module):
            return f"{Path(module).expanduser().resolve()}:{attribute}"
    return spec


def _one_line(error: BaseException, file: str | None) -> str:
    """The user's exception in one line, with where in their file it was raised."""
    where = ""
    if isinstance(error, SyntaxError) and error.lineno:
        where = f" ({Path(error.filename or file or '?').name}, line {error.lineno})"
        message = error.msg
    else:
        message = str(error).splitlines()[0] if str(error) else ""
        frames = [f for f in traceback.extract_tb(error.__traceback__)
                  if file and Path(f.filename) == Path(file)]
        if frames:
            where = f" ({Path(file).name}, line {frames[-1].lineno})"
    return f"{type(error).__name__}{': ' + message if message else ''}{where}"


@lru_cache(maxsize=None)
def _import_module(module: str):
    """Import a plugin module by name (the current folder first on the path) or file."""
    if _is_file(module):
        path = Path(module).expanduser().resolve()
        if path.is_dir():
            raise PluginError(f"{module!r} is a folder, not a .py file")
        if not path.is_file():
            raise PluginError(f"no such file {module!r}")
        if path.suffix != ".py":
            raise PluginError(f"{module!r} is not a .py file")
        name = f"stickpose_plugin_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
        if name in sys.modules:                          # the same file, typed another way
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, path)
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        try:
            spec.loader.exec_module(loaded)
        except BaseException as error:
            del sys.modules[name]
            if isinstance(error, KeyboardInterrupt) and stop_requested():
                raise                                    # the user's Ctrl-C, not the plugin
            raise PluginError(f"{module} does not import: {_one_line(error, str(path))}") \
                from None
        return loaded
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name and module.split(".")[0] == error.name.split(".")[0]:
            raise PluginError(f"no module named {module!r} (looked in the current folder "
                              f"{os.getcwd()} and on PYTHONPATH)") from None
        raise PluginError(f"{module} does not import: {_one_line(error, None)}") from None
    except (Exception, SystemExit, KeyboardInterrupt) as error:     # the user's code
        if isinstance(error, KeyboardInterrupt) and stop_requested():
            raise                                        # the user's Ctrl-C, not the plugin
        file = getattr(sys.modules.get(module), "__file__", None)
        frames = traceback.extract_tb(error.__traceback__)
        file = file or next((f.filename for f in reversed(frames)
                             if Path(f.filename).stem == module.split(".")[-1]), None)
        raise PluginError(f"{module} does not import: {_one_line(error, file)}") from None


def _load(spec: str):
    """The object ``MODULE:NAME`` names."""
    module, attribute = spec.rsplit(":", 1)
    loaded = _import_module(module)
    try:
        value = getattr(loaded, attribute)
    except AttributeError:
        where = getattr(loaded, "__file__", None) or "built in"
        raise PluginError(f"{module} ({where}) has no {attribute!r}") from None
    return value


def source_file(spec: str) -> str | None:
    """The file that defines plugin ``spec`` (an import string or an installed package's
    entry point), or None for stickpose's own parts."""
    if is_import_string(spec):
        module = _import_module(spec.rsplit(":", 1)[0])
    else:
        point = _entry_points(ARCH_GROUP).get(spec) or _entry_points(HEAD_GROUP).get(spec)
        if point is None or point.dist is None or point.dist.name == "stickpose":
            return None
        module = importlib.import_module(point.module)
    return getattr(module, "__file__", None)


def source_hash(file: str | None) -> str | None:
    try:
        return hashlib.sha256(Path(file).read_bytes()).hexdigest() if file else None
    except OSError:
        return None


# --- registries fed by entry points and import strings --------------------------------------

@lru_cache(maxsize=None)
def _entry_points(group: str) -> dict:
    """Name -> entry point of ``group``, stickpose's own first (package metadata only)."""
    from importlib.metadata import entry_points

    points = sorted(entry_points(group=group),
                    key=lambda p: (p.dist is None or p.dist.name != "stickpose"))
    found = {}
    for point in points:
        found.setdefault(point.name, point)
    return found


class PluginRegistry(Registry):
    """A strict registry whose names are entry points of ``group``, loaded on first use,
    and which also resolves import strings ``MODULE:NAME`` / ``FILE.py:NAME``."""

    def __init__(self, kind: str, group: str, wrap: Callable):
        super().__init__(kind)
        self.group, self._wrap = group, wrap

    def names(self) -> list[str]:
        if "stickpose" not in {getattr(p.dist, "name", None)
                               for p in _entry_points(self.group).values()}:
            raise RegistryError(f"stickpose's own {self.kind}s are not registered (no "
                                f"{self.group} entry points): install stickpose with pip")
        return list(_entry_points(self.group))

    def get(self, spec: str):
        if not isinstance(spec, str):
            raise RegistryError(f"{self.kind} {spec!r} must be a name or MODULE:NAME")
        if spec in self._items:
            return self._items[spec]
        if is_import_string(spec):
            check_spec(spec, self.kind)
            try:
                loaded = _load(spec)
            except PluginError as error:
                raise PluginError(f"{self.kind} {spec}: {error}") from None
            item = self.wrap(loaded, spec)
        else:
            point = _entry_points(self.group).get(spec)
            if point is None:
                raise RegistryError(f"unknown {self.kind} {spec!r}; known: "
                                    f"{', '.join(self.names())}, or MODULE:NAME / "
                                    "FILE.py:NAME of your own")
            try:
                value = point.load()
            except Exception as error:                  # noqa: BLE001 (a package's code)
                package = f"package {point.dist.name}" if point.dist else "its package"
                raise PluginError(f"{self.kind} {spec!r} ({package}: {point.value}) cannot "
                                  f"be loaded: {_one_line(error, None)}") from None
            item = self.wrap(value, spec)
        return self.register(spec, item)

    def wrap(self, value, spec: str):
        """The ``Architecture`` or ``Head`` of a loaded builder, or a ``PluginError``
        naming ``spec``."""
        try:
            return self._wrap(value, spec)
        except PluginError as error:
            raise PluginError(f"{self.kind} {spec}: {error}") from None


def _as_architecture(value, spec: str) -> Architecture:
    declared = getattr(value, "stickpose_architecture", None)
    if isinstance(declared, Architecture):
        return Architecture(short_name(spec), declared.build, declared.divisor,
                            declared.summary, spec, declared.options)
    if _is_keras_model(value):
        return Architecture(short_name(spec), value, 1, f"Keras model {value.name}", spec, {})
    if isinstance(value, type) or not callable(value):
        raise PluginError(f"it is a {type(value).__name__}, not a backbone builder "
                          "(a function (inputs, width=..., depth=...) -> Features) or a "
                          "keras.Model")
    return Architecture(short_name(spec), value, 1, _summary(value), spec, _options(value))


def _as_head(value, spec: str) -> Head:
    declared = getattr(value, "stickpose_head", None)
    if isinstance(declared, Head):
        return Head(short_name(spec), declared.build, declared.target, declared.codec,
                    declared.summary, spec)
    if callable(value) and not isinstance(value, type):
        raise PluginError("it is not declared as a head: decorate it with "
                          "@stickpose.head(target='heatmaps') or (target='coordinates')")
    raise PluginError(f"it is a {type(value).__name__}, not a head builder")


def _is_keras_model(value) -> bool:
    return any(c.__module__.startswith("keras") and c.__name__ in ("Model", "Functional")
               for c in type(value).__mro__)


ARCHS = PluginRegistry("architecture", ARCH_GROUP, _as_architecture)
HEADS = PluginRegistry("head", HEAD_GROUP, _as_head)


def spec_of(value, registry: PluginRegistry) -> str:
    """The spec that finds ``value`` (a spec, a builder or a ``keras.Model``) again: a
    name, or ``MODULE:NAME`` of the module that defines it at its top level."""
    if isinstance(value, str):
        return value
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if module and name and "<" not in name and "." not in name:
        return f"{module}:{name}"
    found = [k for k, v in vars(sys.modules.get("__main__", object)).items()
             if v is value and not k.startswith("_")]
    if found:                                        # e.g. a keras.Model in a notebook
        return f"__main__:{found[0]}"
    raise PluginError(f"cannot find this {registry.kind} again by name to reload its runs: "
                      "define it at the top level of a module and pass it (or "
                      "'MODULE:NAME')")


def resolve(value, registry: PluginRegistry):
    """The ``Architecture`` or ``Head`` for a spec, a builder or a ``keras.Model``."""
    if isinstance(value, str):
        return registry.get(value)
    if isinstance(value, (Architecture, Head)):
        return value
    try:
        spec = spec_of(value, registry)
    except PluginError:                  # defined in a function: fine for one process
        spec = f"local:{getattr(value, '__name__', None) or getattr(value, 'name', 'model')}"
    return registry.wrap(value, spec)


def plugin_sources(specs) -> dict:
    """``{spec: {"file": ..., "sha256": ...}}`` for the specs that are plugins (not
    stickpose's own parts): what a run records to say where its code came from."""
    sources = {}
    for spec in specs:
        file = source_file(spec)
        if file is not None:
            sources[spec] = {"file": str(file), "sha256": source_hash(file)}
    return sources


def check_sources(recorded: dict, what: str) -> None:
    """Import each plugin of ``recorded`` (``plugin_sources``) and warn when its source
    changed since; a plugin that cannot be imported is a ``PluginError``."""
    for spec, source in recorded.items():
        try:
            file = source_file(spec)
        except (PluginError, RegistryError) as error:
            folder = Path(source.get("file") or ".").parent
            raise PluginError(f"{what} needs plugin {spec} (trained from "
                              f"{source.get('file')}): {error}; run from {folder} or add it "
                              "to PYTHONPATH") from None
        now = source_hash(file)
        if now != source.get("sha256"):
            warnings.warn(PluginWarning(
                f"plugin {spec} changed since {what} was trained ({Path(file or '?').name}: "
                f"sha256 {str(source.get('sha256'))[:12]} then, {str(now)[:12]} now); "
                "results may differ"), stacklevel=2)
