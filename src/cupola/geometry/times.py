"""ISO 8601 times: the one parser every reader and option goes through, and the one formatter.

The rule: **a time must say its zone** (a trailing ``Z`` or an offset such as ``+02:00``);
a time without one is refused, because reading a local clock as UTC would put a photo hours
and thousands of kilometres off without a word. The single exception is a field whose *name*
declares the zone, a ``time_utc`` column of a table: there the caller passes
``naive_is_utc=True`` and the name stands in for the ``Z``.

Accepted: a date, ``T`` or a space, ``HH:MM[:SS[.fraction]]`` (up to nanoseconds, ``.`` or
``,``), an optional zone (``Z``, ``z``, ``+HH``, ``+HHMM``, ``+HH:MM``); a leap second
(``:60``) is read as the next second. :func:`parse_time` gives a timezone-aware UTC
:class:`datetime.datetime` (microseconds; further digits dropped), :func:`parse_time_ns` a
``numpy.datetime64[ns]`` in UTC (no digit lost).

>>> parse_time("2017-05-17T07:44:09.526+02:00")
datetime.datetime(2017, 5, 17, 5, 44, 9, 526000, tzinfo=datetime.timezone.utc)
>>> str(parse_time_ns("2017-05-17 05:44:09.123456789", naive_is_utc=True))
'2017-05-17T05:44:09.123456789'
>>> parse_time("2017-05-17T05:44:09")
Traceback (most recent call last):
...
cupola.errors.InputError: time: '2017-05-17T05:44:09' has no time zone; add Z for UTC
>>> iso_z(parse_time("2017-05-17T05:44:09.5Z"))
'2017-05-17T05:44:09.500Z'
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np

from cupola.errors import InputError

__all__ = ["parse_time", "parse_time_ns", "iso_z"]

_TIME_RE = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)
_EXAMPLE = "e.g. 2017-05-17T05:44:09.526Z"


def _parse(text: str, where: str, naive_is_utc: bool) -> tuple[dt.datetime, int]:
    """(whole seconds as an aware UTC datetime, nanoseconds after them)."""
    m = _TIME_RE.match(text or "")
    if not m:
        raise InputError(f"{where}: {str(text).strip()[:40]!r} is not an ISO 8601 time ({_EXAMPLE})")
    y, mo, d, hh, mm, ss, frac, zone = m.groups()
    if zone is None and not naive_is_utc:
        raise InputError(f"{where}: {text.strip()!r} has no time zone; add Z for UTC")
    sec = int(ss or 0)
    try:
        base = dt.datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), min(sec, 59), tzinfo=dt.timezone.utc)
    except ValueError as exc:
        raise InputError(
            f"{where}: {text.strip()!r} is not a valid date-time ({exc}); expected ISO 8601, {_EXAMPLE}"
        ) from None
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "").ljust(4, "0")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise InputError(f"{where}: {text.strip()!r} has an invalid UTC offset {zone!r}")
        base -= sign * dt.timedelta(hours=hours, minutes=minutes)
    ns = int((frac or "").ljust(9, "0")) + (1_000_000_000 if sec == 60 else 0)  # leap second -> next
    return base, ns


def parse_time(text: str, field: str = "time", *, naive_is_utc: bool = False) -> dt.datetime:
    """An ISO 8601 time as a timezone-aware UTC datetime.

    Args:
        text: the time, with its zone (``Z`` or an offset).
        field: what the text is (a parameter, or ``file: line N, column C``), named in errors.
        naive_is_utc: read a time without a zone as UTC (only where the field's name says UTC).

    Raises:
        InputError: not ISO 8601, not a valid date, or no zone (unless ``naive_is_utc``).
    """
    base, ns = _parse(text, field, naive_is_utc)
    return base + dt.timedelta(microseconds=ns // 1000)


def parse_time_ns(text: str, where: str = "time", *, naive_is_utc: bool = False) -> np.datetime64:
    """An ISO 8601 time as ``numpy.datetime64[ns]`` (UTC, nanoseconds kept); as :func:`parse_time`."""
    base, ns = _parse(text, where, naive_is_utc)
    return np.datetime64(base.replace(tzinfo=None), "ns") + np.timedelta64(ns, "ns")


def iso_z(time: dt.datetime) -> str:
    """ISO 8601 UTC with a trailing Z and milliseconds."""
    return time.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
