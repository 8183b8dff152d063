"""Safe, unique folder names for catalog ids: every row of a batch gets its own folder inside
``--out``, and no id can name a place outside it.

>>> safe_names(["a b", "a_b", "..", ""])[0]
['a_b', 'a_b-2', 'row-3', 'row-4']
"""

from __future__ import annotations

import re

__all__ = ["safe_name", "safe_names"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_LEN = 120


def safe_name(text: str) -> str:
    """``text`` with every run of characters outside ``[A-Za-z0-9._-]`` replaced by ``_`` and
    leading dots removed (no hidden names, no ``.``/``..``); may be empty."""
    name = _UNSAFE.sub("_", str(text)).lstrip(".")
    return name[:_MAX_LEN]


def safe_names(ids, fallback: str = "row-{n}") -> tuple[list[str], list[str]]:
    """One safe folder name per id, unique ignoring letter case (for case-insensitive file
    systems), in order; returns ``(names, notes)`` where each note says which id was renamed and
    why. An id that sanitises to nothing gets ``fallback`` (``{n}``: its 1-based position); a
    clash gets ``-2``, ``-3``, ... appended."""
    names: list[str] = []
    notes: list[str] = []
    taken: set[str] = set()
    for n, raw in enumerate(ids, start=1):
        raw = str(raw)
        name = safe_name(raw)
        why = None
        if not name or set(name) <= {"_"}:
            name, why = fallback.format(n=n), "it names no folder"
        elif name != raw:
            why = "unsafe characters"
        base, k = name, 2
        while name.lower() in taken:
            name, k = f"{base}-{k}", k + 1
            why = "it clashes with an earlier id after sanitising"
        taken.add(name.lower())
        names.append(name)
        if why:
            notes.append(f"id {raw!r} (row {n}) is written as {name!r}: {why}")
    return names, notes
