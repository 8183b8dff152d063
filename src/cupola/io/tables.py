"""Small CSV tables: tie points (pixel ↔ ground) and pixel lists.

Pixels are (col, row) with (0, 0) the centre of the top-left pixel; ground points are WGS84
geodetic latitude and longitude in degrees and height above the ellipsoid in metres.

Files are comma-separated UTF-8 text with a header line naming the columns, in any order and
any letter case, with spaces around names and values allowed. Blank lines and lines starting
with ``#`` are skipped. Columns not listed here are ignored (so a tie-point file can also be
read as a pixel list).

Tie points (:func:`read_tie_points`)::

    col,row,lat,lon,height_m
    160,92,30.320698,-100.203190,0

Pixels (:func:`read_pixels`, written with ground coordinates by :func:`write_pixels_csv`)::

    col,row
    639.5,368.5

Every CSV reader of cupola (events, frame times, flash lists, shadow batches) reads through
:func:`read_table`: the same header rules, comment and blank lines, and one-line
:class:`~cupola.errors.InputError` messages that name the file, the line and the column.

>>> _ = Path("stations.csv").write_text("# two stations\\nName, height_m\\n\\nA, 12.5\\nB,\\n")
>>> table = read_table("stations.csv", "stations", required=("name",), optional=("height_m",))
>>> [(row.line, row.text("name"), row.optional_number("height_m")) for row in table]
[(4, 'A', 12.5), (5, 'B', None)]
>>> read_table("stations.csv", "stations", required=("name", "lat"))
Traceback (most recent call last):
...
cupola.errors.InputError: stations.csv: line 2: missing column lat; expected header name,lat, found name,height_m
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cupola.errors import InputError
from cupola.io.atomic import atomic_write

__all__ = [
    "TiePoints",
    "read_tie_points",
    "read_pixels",
    "write_pixels_csv",
    "write_records_csv",
    "format_field",
    "read_table",
    "Table",
    "Row",
    "Refused",
    "ValueRange",
    "LATITUDE",
    "LONGITUDE",
    "HEIGHT",
]


@dataclass(frozen=True)
class ValueRange:
    """The values a column accepts, ``lo`` to ``hi`` (ends included unless open), and how a message
    says so (``expected``: "latitude in degrees in [-90, 90]")."""

    lo: float
    hi: float
    expected: str
    lo_open: bool = False
    hi_open: bool = False

    def contains(self, value):
        """True where ``value`` (a number or an array) lies in the range; NaN never does."""
        above = value > self.lo if self.lo_open else value >= self.lo
        below = value < self.hi if self.hi_open else value <= self.hi
        return above & below


#: heights outside this range (metres above the WGS84 ellipsoid) are refused as a likely unit
#: mistake; the upper end leaves room for cloud tops and the airglow layer (~90 km)
HEIGHT_RANGE_M = (-1_000.0, 100_000.0)

LATITUDE = ValueRange(-90.0, 90.0, "latitude in degrees in [-90, 90]")
#: longitudes may be given in [-180, 180) or [0, 360)
LONGITUDE = ValueRange(-180.0, 360.0, "longitude in degrees in [-180, 360)", hi_open=True)
HEIGHT = ValueRange(
    *HEIGHT_RANGE_M, f"height above the WGS84 ellipsoid in metres in [{HEIGHT_RANGE_M[0]:g}, {HEIGHT_RANGE_M[1]:g}]"
)


class Refused(NamedTuple):
    """A column name refused in favour of ``use`` (when the header lacks ``use``): the message says
    the name ``why`` and expects ``use`` (in ``unit`` when given)."""

    use: str
    why: str = "is not understood"
    unit: str = ""


# column names that are refused because they carry no unit
_UNITLESS = {"height": "height_m", "alt": "height_m", "altitude": "height_m", "elevation": "height_m", "h": "height_m"}


@dataclass(frozen=True, eq=False)
class TiePoints:
    """Pixel ↔ ground correspondences for one image; all arrays 1-D float64 of equal length,
    read-only.

    Attributes:
        col_px, row_px: pixel coordinates, (0, 0) the centre of the top-left pixel.
        lon_deg: WGS84 longitude in degrees, in [-180, 180).
        lat_deg: WGS84 geodetic latitude in degrees, in [-90, 90].
        height_m: height above the WGS84 ellipsoid in metres.
    """

    col_px: np.ndarray
    row_px: np.ndarray
    lon_deg: np.ndarray
    lat_deg: np.ndarray
    height_m: np.ndarray

    def __len__(self) -> int:
        return int(self.col_px.shape[0])


def read_tie_points(path: str | os.PathLike, *, image_size_px: tuple[int, int] | None = None) -> TiePoints:
    """Read tie points from a CSV file with columns ``col,row,lat,lon[,height_m]``.

    Longitudes may be given in [-180, 180) or [0, 360); they are returned in [-180, 180).
    ``height_m`` defaults to 0 (on the ellipsoid) when the column is absent.

    Args:
        path: the CSV file.
        image_size_px: optional (width, height) of the image; if given, every point must lie
            on the image, i.e. col in [-0.5, width - 0.5] and row in [-0.5, height - 0.5].

    Returns:
        :class:`TiePoints` with at least one point.

    Raises:
        InputError: missing or unreadable file, missing column, non-numeric, empty or
            non-finite value, latitude, longitude or height out of range, or no data rows;
            the message names the file, line and column.
    """
    p = Path(path)
    cols = read_columns(p, ("col", "row", "lat", "lon"), ("height_m",), what="tie points")
    col, row, lat, lon = cols["col"], cols["row"], cols["lat"], cols["lon"]
    height = cols.get("height_m")
    lines = cols["_line"]
    check_range(p, lines, lat, "lat", LATITUDE)
    check_range(p, lines, lon, "lon", LONGITUDE)
    if height is None:
        height = np.zeros_like(col)
    else:
        check_range(p, lines, height, "height_m", HEIGHT)
    if image_size_px is not None:
        check_on_image(p, lines, col, row, image_size_px)
    lon = np.where(lon >= 180.0, lon - 360.0, lon)
    return TiePoints(
        col_px=_frozen(col), row_px=_frozen(row), lon_deg=_frozen(lon), lat_deg=_frozen(lat), height_m=_frozen(height)
    )


def read_pixels(
    path: str | os.PathLike, *, image_size_px: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read pixel coordinates from a CSV file with columns ``col,row``.

    Args:
        path: the CSV file; other columns are ignored.
        image_size_px: optional (width, height) of the image; if given, every pixel must lie
            on the image, i.e. col in [-0.5, width - 0.5] and row in [-0.5, height - 0.5].

    Returns:
        ``(col_px, row_px)``: 1-D float64 arrays of equal length, at least one element.

    Raises:
        InputError: missing or unreadable file, missing column, non-numeric, empty or
            non-finite value, or no data rows; the message names the file, line and column.
    """
    p = Path(path)
    cols = read_columns(p, ("col", "row"), (), what="pixels")
    if image_size_px is not None:
        check_on_image(p, cols["_line"], cols["col"], cols["row"], image_size_px)
    return cols["col"], cols["row"]


def write_pixels_csv(path: str | os.PathLike, col, row, lon_deg, lat_deg, height_m=None) -> Path:
    """Write pixels with their ground coordinates as CSV ``col,row,lat,lon`` (and ``height_m``).

    Pixels are written with 4 decimals (1e-4 px), latitude and longitude with 9 decimals of a
    degree (~0.1 mm); a NaN or infinite value (e.g. a pixel that sees no ground) is written as
    an empty field. The file is written under a hidden temporary name in the same folder and
    renamed into place (:func:`cupola.io.atomic.atomic_write`), so a crash never leaves a
    half-written file.

    Args:
        path: the CSV file to create or replace.
        col, row: pixel coordinates, (0, 0) the centre of the top-left pixel.
        lon_deg, lat_deg: WGS84 longitude and latitude in degrees.
        height_m: when given, the height above the WGS84 ellipsoid each pixel was located at,
            written as a fifth column ``height_m`` in the shortest form (``{:g}``).

    Returns:
        The path written.

    Raises:
        ValueError: the four arrays do not have the same number of elements.
        InputError: the folder does not exist or cannot be written.
    """
    p = Path(path)
    columns = [col, row, lat_deg, lon_deg] + ([] if height_m is None else [height_m])
    arrays = [np.asarray(a, dtype=float).ravel() for a in columns]
    n = {a.shape[0] for a in arrays}
    if len(n) != 1:
        names = "col, row, lon_deg, lat_deg" + ("" if height_m is None else ", height_m")
        raise ValueError(f"write_pixels_csv: {names} have different lengths {[a.shape[0] for a in arrays]}")
    out_lines = ["col,row,lat,lon" + ("" if height_m is None else ",height_m")]
    formats = ("{:.4f}", "{:.4f}", "{:.9f}", "{:.9f}", "{:g}")[: len(arrays)]
    cells = []
    for a, fmt in zip(arrays, formats):
        finite = np.isfinite(a)
        cells.append([fmt.format(v) if ok else "" for v, ok in zip(a.tolist(), finite.tolist())])
    out_lines.extend(",".join(r) for r in zip(*cells))
    _write_text_atomic(p, "\n".join(out_lines) + "\n")
    return p


# --- helpers -------------------------------------------------------------------------------


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    a.flags.writeable = False
    return a


def read_text(p: Path, what: str) -> str:
    from cupola.io.limits import read_bytes_bounded

    data = read_bytes_bounded(p, f"a CSV file of {what}")
    if b"\x00" in data:
        raise InputError(f"{p}: binary file (contains NUL bytes); expected a CSV file of {what}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{p}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); expected a CSV file of {what}"
        ) from None


def read_header(p: Path, what: str, wanted: str = "") -> tuple[int, list[str], dict[str, int], list]:
    """Read a CSV file's header: (header line number, lower-case names, name -> index, data rows
    as (line number, fields)). Refuses an empty file, ';' separators, a column named twice and a
    header without data rows, naming the file and the line."""
    text = read_text(p, what)
    rows = [(no, r) for no, r in csv_rows(p, text) if r]
    expected = f" (header {wanted})" if wanted else ""
    if not rows:
        raise InputError(
            f"{p}: file is empty; expected a CSV header{' ' + wanted if wanted else ''} and rows of {what}"
        )
    header_line, header = rows[0]
    names = [h.strip().lower() for h in header]
    if len(names) == 1 and ";" in names[0]:
        raise InputError(f"{p}: line {header_line}: fields are separated by ';'; expected commas{expected}")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen and name:
            raise InputError(f"{p}: line {header_line}: column {name!r} appears twice")
        seen[name] = i
    if len(rows) < 2:
        raise InputError(f"{p}: no data rows after the header; expected at least one row of {what}")
    return header_line, names, seen, rows[1:]


@dataclass(frozen=True, eq=False)
class Row:
    """One data row of a CSV table: the file line it stands on and its fields by column name (a
    column the table does not have reads as an empty field)."""

    path: Path
    line: int
    fields: list[str]
    index: Mapping[str, int]

    def text(self, column: str) -> str:
        """The field of ``column`` without surrounding spaces ('' where there is none)."""
        i = self.index.get(column)
        return self.fields[i].strip() if i is not None and i < len(self.fields) else ""

    def where(self, column: str) -> str:
        """``FILE: line N, column NAME``: how a message about one field begins."""
        return f"{self.path}: line {self.line}, column {column}"

    def number(self, column: str, within: ValueRange | None = None) -> float:
        """The field as a finite number (in ``within`` when given); see :func:`parse_number`."""
        return parse_number(self.path, self.line, column, self.text(column), within=within)

    def optional_number(self, column: str, within: ValueRange | None = None) -> float | None:
        """As :meth:`number`, but None for an empty field or a column the table does not have."""
        text = self.text(column)
        return parse_number(self.path, self.line, column, text, within=within) if text else None


@dataclass(frozen=True, eq=False)
class Table:
    """A CSV table read by :func:`read_table`: its header's line and column names (lower case), and
    its data rows in file order. Iterating gives the rows, each checked (:meth:`check`)."""

    path: Path
    header_line: int
    columns: tuple[str, ...]
    rows: tuple[Row, ...]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Row]:
        return (self.check(row) for row in self.rows)

    def has(self, column: str) -> bool:
        return column in self.columns

    def check(self, row: Row) -> Row:
        """``row`` when it has as many fields as the header; else :class:`InputError` naming its line."""
        if len(row.fields) != len(self.columns):
            raise InputError(
                f"{self.path}: line {row.line}: {len(row.fields)} fields; expected {len(self.columns)} as in the header"
            )
        return row


def read_table(
    path: str | os.PathLike,
    what: str,
    *,
    required: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
    refused: Mapping[str, Refused] | None = None,
    header: str = "",
) -> Table:
    """Read a CSV table by its header's column names: the one way cupola reads CSV.

    UTF-8 text (a byte-order mark allowed) with a header line; names in any order and letter case,
    spaces around names and values allowed, other columns ignored; blank lines and lines starting
    with ``#`` skipped.

    Args:
        path: the CSV file.
        what: what a row is, for messages ("tie points").
        required: the columns that must be there.
        optional: the columns read where present (messages show them as ``[,name]``).
        refused: column names refused in favour of another (a name without its unit, a synonym),
            where the header lacks the other: name -> :class:`Refused`.
        header: the header messages expect; default ``required`` then ``[,optional]``.

    Raises:
        InputError: missing, unreadable, binary or empty file, ';' separators, a column named
            twice, a refused or missing column, no data rows, or (as rows are read) a row with
            another number of fields than the header; the message names the file and line.
    """
    p = Path(path)
    wanted = header or ",".join(required) + "".join(f"[,{o}]" for o in optional)
    header_line, names, index, data = read_header(p, what, wanted)
    for name in names:
        why = (refused or {}).get(name)
        if why is not None and why.use not in index:
            unit = f" ({why.unit})" if why.unit else ""
            raise InputError(f"{p}: line {header_line}: column {name!r} {why.why}; expected {why.use!r}{unit}")
    missing = [c for c in required if c not in index]
    if missing:
        raise InputError(
            f"{p}: line {header_line}: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}; expected header {wanted}, found {','.join(names)}"
        )
    rows = tuple(Row(p, no, fields, index) for no, fields in data)
    return Table(p, header_line, tuple(names), rows)


def read_columns(p: Path, required: tuple[str, ...], optional: tuple[str, ...], what: str) -> dict:
    """Numeric columns by name (float64 arrays) plus ``_line``: the file line of each row."""
    wanted = required + optional
    unitless = {
        name: Refused(use, "has no unit", "metres above the WGS84 ellipsoid")
        for name, use in _UNITLESS.items()
        if use in wanted
    }
    table = read_table(p, what, required=required, optional=optional, refused=unitless)
    use = [n for n in wanted if table.has(n)]
    values: dict[str, np.ndarray] = {n: np.empty(len(table)) for n in use}
    line_numbers = np.empty(len(table), dtype=np.int64)
    for k, row in enumerate(table):
        line_numbers[k] = row.line
        for n in use:
            values[n][k] = row.number(n)
    values["_line"] = line_numbers
    return values


def csv_rows(p: Path, text: str):
    """(line number, fields) for each CSV record, skipping blank and '#' comment lines."""
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True, strict=True)
    try:
        for fields in reader:
            if not fields or all(not f.strip() for f in fields):
                continue
            if fields[0].lstrip().startswith("#"):
                continue
            yield reader.line_num, fields
    except csv.Error as exc:
        raise InputError(f"{p}: line {reader.line_num}: not valid CSV ({exc})") from None


def parse_number(p: Path, line: int, column: str, text: str, *, within: ValueRange | None = None) -> float:
    """A finite number from a CSV field, in ``within`` when given; :class:`InputError` naming file,
    line and column (and what was expected) otherwise."""
    s = text.strip()
    where = f"{p}: line {line}, column {column}"
    expected = f"; expected {within.expected}" if within is not None else ""
    if not s:
        raise InputError(f"{where}: empty value; expected {within.expected if within is not None else 'a number'}")
    try:
        v = float(s)
    except ValueError:
        raise InputError(f"{where}: {s[:40]!r} is not a number{expected}") from None
    if not math.isfinite(v):
        raise InputError(f"{where}: {s!r} is not a finite number{expected}")
    if within is not None and not within.contains(v):
        raise InputError(f"{where}: {s[:40]} is out of range{expected}")
    return v


def check_range(p: Path, lines: np.ndarray, values: np.ndarray, column: str, within: ValueRange) -> None:
    """:class:`InputError` naming the first row whose value of ``column`` lies outside ``within``."""
    bad = ~within.contains(values)
    if bad.any():
        k = int(np.argmax(bad))
        raise InputError(
            f"{p}: line {int(lines[k])}, column {column}: {values[k]:g} is out of range; expected {within.expected}"
        )


def check_on_image(
    p: Path, lines: np.ndarray, col: np.ndarray, row: np.ndarray, image_size_px: tuple[int, int]
) -> None:
    width, height = image_size_px
    for name, v, size in (("col", col, width), ("row", row, height)):
        on_image = ValueRange(
            -0.5, size - 0.5, f"a pixel on the {width}x{height} image, {name} in [-0.5, {size - 0.5:g}]"
        )
        check_range(p, lines, v, name, on_image)


def _write_text_atomic(p: Path, text: str) -> None:
    try:
        with atomic_write(p) as tmp:
            with open(tmp, "x", encoding="utf-8", newline="") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
    except OSError as exc:
        raise InputError(f"{p}: cannot be written ({' '.join(str(exc).split())})") from None


def format_field(value, significant_digits: int = 10) -> str:
    """A CSV field: '' for None and non-finite numbers, true/false for booleans, numbers to
    ``significant_digits``."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return "" if not math.isfinite(float(value)) else f"{float(value):.{significant_digits}g}"
    return str(value)


def write_records_csv(path: str | os.PathLike, records: list[dict], *, significant_digits: int = 10) -> Path:
    """Write dictionaries as CSV rows (atomically): the columns are every key in first-seen order
    (a lone ``none`` column when there are no records), the fields as :func:`format_field` writes
    them."""
    p = Path(path)
    columns = list(dict.fromkeys(k for r in records for k in r)) or ["none"]
    with atomic_write(p) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(columns)
        for r in records:
            w.writerow([format_field(r.get(c), significant_digits) for c in columns])
    return p
