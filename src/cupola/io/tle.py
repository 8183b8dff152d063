"""Two-line element set (TLE) files.

A TLE file is plain ASCII text holding one or more element sets, each in the 2-line form or the
3-line form (a name line such as ``ISS (ZARYA)`` or ``0 ISS (ZARYA)`` before lines 1 and 2), as
distributed by space-track.org and CelesTrak. Parsing is done by
:func:`cupola.geometry.orbit.parse_tle`; this module only reads the file.

Reading a file and picking the element set for a time, with the notes of a stale choice, is
:func:`element_set_at` (or :meth:`TleFile.at` to read once and pick for many times):

>>> from cupola.geometry.times import iso_z, parse_time
>>> from cupola.io.tle import TleFile, element_set_at
>>> from importlib.resources import files
>>> path = files("cupola") / "data/samples/iss-meteor-2017/iss_tle_25544_20170101-20170630.txt"
>>> iso_z(element_set_at(path, parse_time("2017-05-17T05:44:09.526Z")).epoch)
'2017-05-16T21:50:34.999Z'
>>> tles = TleFile.read(path)
>>> notes = []
>>> tles.at(parse_time("2017-07-05T00:00:00Z"), notes=notes).name
'NORAD 25544'
>>> len(notes)  # 5 days past the file's last element set: one note, no warning raised
1
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cupola.errors import InputError
from cupola.geometry.orbit import ElementSet, parse_tle, select_element_set

__all__ = ["read_tle_file", "TleFile", "element_set_at"]

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
        raise InputError(
            f"{p}: line {line}: not UTF-8/ASCII text (byte 0x{data[exc.start]:02x}); "
            "expected a text file of two-line element sets"
        ) from None
    return parse_tle(text, source=str(p))


@dataclass(frozen=True)
class TleFile:
    """The element sets of one TLE file, read once; :meth:`at` picks one for a time."""

    path: Path
    sets: tuple[ElementSet, ...]

    @classmethod
    def read(cls, path: str | os.PathLike) -> TleFile:
        """Read ``path`` (see :func:`read_tle_file`)."""
        return cls(Path(path), tuple(read_tle_file(path)))

    def at(self, time: dt.datetime, *, force: bool = False, notes: list[str] | None = None) -> ElementSet:
        """The element set nearest ``time`` (:func:`cupola.geometry.orbit.select_element_set`):
        beyond 3 days a note is appended to ``notes`` (a warning without it), beyond 30 days it is
        refused unless ``force``; messages name the file."""
        return select_element_set(list(self.sets), time, force=force, source=str(self.path), notes=notes)


def element_set_at(
    path: str | os.PathLike, time: dt.datetime, *, force: bool = False, notes: list[str] | None = None
) -> ElementSet:
    """Read the TLE file ``path`` and pick the element set for ``time``: ``TleFile.read(path).at(...)``."""
    return TleFile.read(path).at(time, force=force, notes=notes)
