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
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.io.atomic import atomic_write

__all__ = ["TiePoints", "read_tie_points", "read_pixels", "write_pixels_csv"]

#: heights outside this range (metres above the WGS84 ellipsoid) are refused as a likely unit
#: mistake; the upper end leaves room for cloud tops and the airglow layer (~90 km)
HEIGHT_RANGE_M = (-1_000.0, 100_000.0)

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
    check_range(p, lines, lat, "lat", -90.0, 90.0, "latitude in degrees in [-90, 90]", upper_open=False)
    check_range(p, lines, lon, "lon", -180.0, 360.0, "longitude in degrees in [-180, 360)", upper_open=True)
    if height is None:
        height = np.zeros_like(col)
    else:
        lo, hi = HEIGHT_RANGE_M
        check_range(
            p,
            lines,
            height,
            "height_m",
            lo,
            hi,
            f"height above the WGS84 ellipsoid in metres in [{lo:g}, {hi:g}]",
            upper_open=False,
        )
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


def read_columns(p: Path, required: tuple[str, ...], optional: tuple[str, ...], what: str) -> dict:
    """Numeric columns by name (float64 arrays) plus ``_line``: the file line of each row."""
    wanted = ",".join(required) + "".join(f"[,{o}]" for o in optional)
    header_line, names, seen, data = read_header(p, what, wanted)
    for name in names:
        if name in _UNITLESS and _UNITLESS[name] in optional + required and _UNITLESS[name] not in seen:
            raise InputError(
                f"{p}: line {header_line}: column {name!r} has no unit; "
                f"expected {_UNITLESS[name]!r} (metres above the WGS84 ellipsoid)"
            )
    missing = [r for r in required if r not in seen]
    if missing:
        raise InputError(
            f"{p}: line {header_line}: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}; expected header {wanted}, found {','.join(names)}"
        )
    use = [n for n in required + optional if n in seen]
    values = {n: np.empty(len(data)) for n in use}
    line_numbers = np.empty(len(data), dtype=np.int64)
    for k, (no, fields) in enumerate(data):
        if len(fields) != len(names):
            raise InputError(f"{p}: line {no}: {len(fields)} fields; expected {len(names)} as in the header")
        line_numbers[k] = no
        for n in use:
            values[n][k] = _number(p, no, n, fields[seen[n]])
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


def parse_number(p: Path, line: int, column: str, text: str) -> float:
    """A finite number from a CSV field; :class:`InputError` naming file, line and column."""
    s = text.strip()
    if not s:
        raise InputError(f"{p}: line {line}, column {column}: empty value; expected a number")
    try:
        v = float(s)
    except ValueError:
        raise InputError(f"{p}: line {line}, column {column}: {s[:40]!r} is not a number") from None
    if not math.isfinite(v):
        raise InputError(f"{p}: line {line}, column {column}: {s!r} is not a finite number")
    return v


def check_range(
    p: Path,
    lines: np.ndarray,
    values: np.ndarray,
    column: str,
    lo: float,
    hi: float,
    expected: str,
    *,
    upper_open: bool,
) -> None:
    bad = (values < lo) | ((values >= hi) if upper_open else (values > hi))
    if bad.any():
        k = int(np.argmax(bad))
        raise InputError(
            f"{p}: line {int(lines[k])}, column {column}: {values[k]:g} is out of range; expected {expected}"
        )


def check_on_image(
    p: Path, lines: np.ndarray, col: np.ndarray, row: np.ndarray, image_size_px: tuple[int, int]
) -> None:
    width, height = image_size_px
    for name, v, size in (("col", col, width), ("row", row, height)):
        check_range(
            p,
            lines,
            v,
            name,
            -0.5,
            size - 0.5,
            f"a pixel on the {width}x{height} image, {name} in [-0.5, {size - 0.5:g}]",
            upper_open=False,
        )


def _write_text_atomic(p: Path, text: str) -> None:
    try:
        with atomic_write(p) as tmp:
            with open(tmp, "x", encoding="utf-8", newline="") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
    except OSError as exc:
        raise InputError(f"{p}: cannot be written ({' '.join(str(exc).split())})") from None


_number = parse_number
