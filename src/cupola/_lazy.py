"""Lazy public names for a package's ``__init__``: ``import cupola`` (or ``cupola.locate``) stays
fast, and a name's module (with its numpy, scipy, rasterio or torch) is imported on first use.

>>> getattr_, dir_ = lazy_names("cupola.geometry", {"parse_time": "cupola.geometry.times"})
>>> getattr_("parse_time").__name__
'parse_time'
>>> getattr_("nothing")
Traceback (most recent call last):
...
AttributeError: module 'cupola.geometry' has no attribute 'nothing'
"""

from __future__ import annotations

import importlib


def lazy_names(package: str, names: dict[str, str]):
    """``(__getattr__, __dir__)`` for ``package`` whose public ``names`` map to the module that
    defines each one (``"module"`` or ``"module:attribute"`` where the public name differs)."""

    def __getattr__(name: str):
        where = names.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = where.partition(":")
        return getattr(importlib.import_module(module), attribute or name)

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__
