"""Lazy attribute loading for package ``__init__`` files (PEP 562)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_getattr(package: str, table: Mapping[str, str], namespace: dict[str, Any],
                 modules: tuple[str, ...] = ()) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``table[name]`` (a submodule) on first use.

    ``modules`` are submodule names returned as modules themselves (e.g. ``"plots"``).
    """

    def __getattr__(name: str) -> Any:
        if name in modules:
            return import_module(f".{name}", package)
        if name in table:
            value = getattr(import_module(f".{table[name]}", package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
