"""Two-line element set (TLE) files.

A TLE file is plain ASCII text holding one or more element sets, each in the 2-line form or the
3-line form (a name line such as ``ISS (ZARYA)`` or ``0 ISS (ZARYA)`` before lines 1 and 2), as
distributed by space-track.org and CelesTrak. Parsing is done by
:func:`cupola.geometry.orbit.parse_tle`; this module only reads the file.

>>> from cupola.io.tle import read_tle_file
>>> from cupola.geometry.orbit import parse_time, select_element_set
>>> sets = read_tle_file("iss_tle_25544_20170101-20170630.txt")           # doctest: +SKIP
>>> select_element_set(sets, parse_time("2017-05-17T05:44:09.526Z")).epoch  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from cupola.errors import InputError
from cupola.geometry.orbit import ElementSet, parse_tle

__all__ = ["read_tle_file"]

#: TLE files bigger than this are refused: a year of one satellite is ~100 KiB
MAX_TLE_FILE_BYTES = 256 * 1024 * 1024


def read_tle_file(path: str | os.PathLike) -> list[ElementSet]:
    """Read every element set in a TLE file, in file order.

    Args:
        path: a text file of 2-line or 3-line element sets (UTF-8 or ASCII; a byte-order mark
            and Windows line ends are accepted).

    Returns:
        The element sets, at least one; epochs are timezone-aware UTC.

    Raises:
        InputError: the file is missing, a folder, empty, binary or not UTF-8 text, or holds a
            malformed element set (the message gives the line number).
    """
    p = Path(path)
    from cupola.io.limits import read_bytes_bounded

    data = read_bytes_bounded(p, "a TLE file (two-line element sets)", MAX_TLE_FILE_BYTES)
    if not data.strip():
        raise InputError(f"{p}: file is empty; expected two-line element sets")
    if b"\x00" in data:
        raise InputError(f"{p}: binary file (contains NUL bytes); expected a text file of two-line element sets")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{p}: line {line}: not UTF-8/ASCII text (byte 0x{data[exc.start]:02x}); "
                         "expected a text file of two-line element sets") from None
    return parse_tle(text, source=str(p))
