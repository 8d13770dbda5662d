"""Strict registries: a name is registered once, and an unknown name lists the known ones."""
from __future__ import annotations

from .errors import StickposeError


class RegistryError(StickposeError):
    """An unknown or duplicate registry name."""


class Registry:
    """Names -> objects. Registering a name twice or asking for an unknown one raises."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, object] = {}

    def register(self, name: str, item: object) -> object:
        if name in self._items:
            raise RegistryError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def get(self, name: str):
        if name not in self._items:
            raise RegistryError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        return self._items[name]

    def names(self) -> list[str]:
        return list(self._items)
