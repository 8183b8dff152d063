"""Atomic file writing: write to a temporary name, then rename over the target.

Every cupola writer goes through :func:`atomic_write`, so a crash, an exception or a Ctrl-C in
the middle of writing leaves either the old file or no file, never half a file.

Example
-------
>>> from cupola.io.atomic import atomic_write
>>> with atomic_write("result.json") as tmp:  # tmp: a hidden name beside result.json
...     _ = tmp.write_text("{}")
>>> from pathlib import Path
>>> Path("result.json").read_text(), sorted(p.name for p in Path(".").iterdir())
('{}', ['result.json'])
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from cupola.errors import InputError

__all__ = ["atomic_write", "temporary_name"]


def temporary_name(path: str | os.PathLike) -> Path:
    """A hidden, unique temporary path next to ``path`` that keeps its file extension.

    ``out/georef.tif`` becomes e.g. ``out/.georef.3f9a1c20.tmp.tif``. The extension is kept
    because some writers (GDAL, matplotlib) choose the format from it; the name is unique so two
    writers of the same target in one directory never share a temporary file.
    """
    path = Path(path)
    token = secrets.token_hex(4)
    return path.with_name(f".{path.stem}.{token}.tmp{path.suffix}")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Context manager yielding a temporary path that is renamed over ``path`` on success.

    The temporary file lies in the same directory as ``path`` (so the final ``os.replace`` is an
    atomic rename on the same file system). The body of the ``with`` block must create the file
    at the yielded path and close it. If the block raises (any exception, including
    ``KeyboardInterrupt``) the temporary file is deleted and ``path`` is left untouched.

    Parameters
    ----------
    path : str or os.PathLike
        Final destination. Its directory must exist.

    Yields
    ------
    pathlib.Path
        Temporary path to write to.

    Raises
    ------
    cupola.errors.InputError
        If the directory of ``path`` does not exist.
    FileNotFoundError
        If the block finished without creating the temporary file.
    """
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"{path}: cannot write, directory {parent} does not exist")
    tmp = temporary_name(path)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{path}: the writer produced no file at the temporary path {tmp}")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
