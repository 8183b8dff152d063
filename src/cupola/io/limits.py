"""Bounded reading: size caps on text inputs, a pixel budget checked before decoding, and no
blocking on special files (a FIFO, ``/dev/zero``, a terminal) given where a file is expected.

>>> from cupola.io.limits import check_pixel_budget
>>> check_pixel_budget(4000, 3000, "photo.jpg")  # 12 Mpx: fine
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from cupola.errors import InputError

__all__ = [
    "MAX_TEXT_BYTES",
    "MAX_JSON_BYTES",
    "MAX_PIXELS",
    "regular_file",
    "read_bytes_bounded",
    "read_json_bounded",
    "check_pixel_budget",
]

#: text inputs (CSV tables, TLE files, catalogs) larger than this are refused
MAX_TEXT_BYTES = 256 * 1024 * 1024
#: JSON inputs (result.json, case.json, STAC files, calibrations): parsed whole, so a tighter cap
#: (a parsed JSON takes several times its size in memory)
MAX_JSON_BYTES = 64 * 1024 * 1024
#: images (photos, references, frames, synthetic scenes) with more pixels than this are refused
#: before any decoding: 400 Mpx is about 1.2 GB as 8-bit RGB
MAX_PIXELS = 400_000_000


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def regular_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` if it is an existing regular file (links followed), else :class:`InputError`
    naming it: missing, a folder, or a special file that could block or never end."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise InputError(f"{p}: file not found; expected {what}") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot be read ({exc.strerror or exc}); expected {what}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{p}: is a folder; expected {what}")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{p}: is {_kind(st.st_mode)}; expected {what} (a regular file)")
    return p


def read_bytes_bounded(path: str | os.PathLike, what: str, max_bytes: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; reads at most ``max_bytes + 1`` bytes
    even if the file grows while it is read."""
    p = regular_file(path, what)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise InputError(f"{p}: file is {size} bytes, larger than the {max_bytes} bytes allowed for {what}")
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{p}: cannot be read ({exc.strerror or exc}); expected {what}") from None
    if len(data) > max_bytes:
        raise InputError(f"{p}: file is larger than the {max_bytes} bytes allowed for {what}")
    return data


def read_json_bounded(path: str | os.PathLike, what: str, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The parsed JSON of a regular file of at most ``max_bytes`` (UTF-8, a byte-order mark
    allowed); :class:`InputError` naming the file when it is missing, special, too large, not UTF-8
    or not JSON (``what`` says what was expected)."""
    data = read_bytes_bounded(path, what, max_bytes)
    try:
        return json.loads(data.decode("utf-8-sig"))
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise InputError(f"{path}: not readable JSON ({' '.join(str(exc).split())}); expected {what}") from None


def check_pixel_budget(width: int, height: int, name: str, bands: int = 1, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse an image of ``width`` x ``height`` (x ``bands``) pixels beyond the budget, before
    any memory is allocated; ``name`` is the file or option named in the message."""
    w, h = int(width), int(height)
    if w <= 0 or h <= 0:
        raise InputError(f"{name}: image size {w}x{h} pixels is not positive")
    if w * h * max(1, int(bands)) > max_pixels:
        raise InputError(
            f"{name}: {w}x{h} pixels{f' x {bands} bands' if bands > 1 else ''} is more than the "
            f"{max_pixels / 1e6:.0f} million pixels cupola reads at once; use a smaller image or tile it"
        )
