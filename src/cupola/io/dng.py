"""Minimal DNG writing and TIFF tag reading for camera RAW files.

:func:`write_dng` writes a Bayer (CFA) mosaic as an uncompressed Adobe DNG 1.4 file with an
EXIF sub-IFD (exposure time, f-number, ISO, focal length, lens, date), which LibRaw (``rawpy``)
decodes back bit for bit. cupola uses it to make RAW test frames with known content; it is also a
way to hand simulated or preprocessed mosaics to any RAW pipeline.

:func:`read_tiff_tags` reads the tags of the first IFD and of the EXIF sub-IFD of any TIFF-based
file (DNG, Nikon NEF, Canon CR2, Sony ARW, plain TIFF) without decoding pixels: LibRaw exposes
exposure settings and the lens but not the camera model, which comes from here.

Example
-------
>>> import numpy as np
>>> from cupola.io.dng import write_dng, read_tiff_tags
>>> mosaic = np.full((64, 96), 1000, np.uint16)
>>> write_dng("frame.dng", mosaic, make="NIKON CORPORATION", model="NIKON D5",
...           exposure_s=0.5, f_number=2.8, iso=6400, focal_mm=50.0).name
'frame.dng'
>>> read_tiff_tags("frame.dng")["Model"]
'NIKON D5'
"""

from __future__ import annotations

import datetime as dt
import os
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.io.atomic import atomic_write

__all__ = ["write_dng", "read_tiff_tags", "TAG_NAMES"]

# TIFF field types
_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _SBYTE, _UNDEF, _SSHORT, _SLONG, _SRATIONAL = range(1, 11)
_FLOAT, _DOUBLE = 11, 12
_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_TYPE_FMT = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 11: "f", 12: "d", 13: "I"}

#: tags read by :func:`read_tiff_tags` (others are returned by number as ``"0x...."``)
TAG_NAMES = {
    0x010F: "Make",
    0x0110: "Model",
    0x0132: "DateTime",
    0x0100: "ImageWidth",
    0x0101: "ImageLength",
    0x0106: "PhotometricInterpretation",
    0x829A: "ExposureTime",
    0x829D: "FNumber",
    0x8827: "ISOSpeedRatings",
    0x9003: "DateTimeOriginal",
    0x9291: "SubSecTimeOriginal",
    0x920A: "FocalLength",
    0xA433: "LensMake",
    0xA434: "LensModel",
    0xC612: "DNGVersion",
    0xC614: "UniqueCameraModel",
    0xC61A: "BlackLevel",
    0xC61D: "WhiteLevel",
    0x8769: "ExifIFD",
    0xC62F: "CameraSerialNumber",
    0x9010: "OffsetTime",
}
_NAME_TAGS = {v: k for k, v in TAG_NAMES.items()}

_CFA_CODES = {"R": 0, "G": 1, "B": 2}


def _rational(value: float, signed: bool = False) -> tuple[int, int]:
    f = Fraction(float(value)).limit_denominator(1_000_000)
    num, den = f.numerator, f.denominator
    if not signed and num < 0:
        raise ValueError(f"unsigned rational cannot be negative: {value}")
    limit = 2**31 - 1 if signed else 2**32 - 1
    while abs(num) > limit or den > limit:
        num, den = num // 2, max(den // 2, 1)
    return num, den


class _IFD:
    """Entries of one IFD: (tag, type, count, payload bytes)."""

    def __init__(self) -> None:
        self.entries: dict[int, tuple[int, int, bytes]] = {}

    def add(self, tag: int, typ: int, values) -> None:
        if typ == _ASCII:
            data = str(values).encode("ascii", "replace") + b"\0"
            self.entries[tag] = (typ, len(data), data)
            return
        if typ == _UNDEF:
            data = bytes(values)
            self.entries[tag] = (typ, len(data), data)
            return
        vals = list(values) if isinstance(values, (list, tuple, np.ndarray)) else [values]
        if typ in (_RATIONAL, _SRATIONAL):
            parts = [_rational(v, typ == _SRATIONAL) for v in vals]
            fmt = "<" + ("i" if typ == _SRATIONAL else "I") * 2 * len(parts)
            data = struct.pack(fmt, *[x for p in parts for x in p])
            self.entries[tag] = (typ, len(parts), data)
            return
        data = struct.pack("<" + _TYPE_FMT[typ] * len(vals), *vals)
        self.entries[tag] = (typ, len(vals), data)

    def size(self) -> int:
        extra = sum(len(d) + (len(d) & 1) for _, _, d in self.entries.values() if len(d) > 4)
        return 2 + 12 * len(self.entries) + 4 + extra

    def pack(self, offset: int, next_ifd: int = 0) -> bytes:
        """Bytes of the IFD placed at ``offset`` (its out-of-line values follow it)."""
        n = len(self.entries)
        data_at = offset + 2 + 12 * n + 4
        head = [struct.pack("<H", n)]
        tail = []
        for tag in sorted(self.entries):
            typ, count, payload = self.entries[tag]
            if len(payload) <= 4:
                head.append(struct.pack("<HHI", tag, typ, count) + payload.ljust(4, b"\0"))
            else:
                head.append(struct.pack("<HHII", tag, typ, count, data_at))
                pad = payload + (b"\0" if len(payload) & 1 else b"")
                tail.append(pad)
                data_at += len(pad)
        head.append(struct.pack("<I", next_ifd))
        return b"".join(head) + b"".join(tail)


def write_dng(
    path: str | os.PathLike,
    mosaic: np.ndarray,
    *,
    make: str = "NIKON CORPORATION",
    model: str = "NIKON D5",
    cfa_pattern: str = "RGGB",
    black_level: float | tuple = 0,
    white_level: int = 16383,
    exposure_s: float | None = None,
    f_number: float | None = None,
    iso: int | None = None,
    focal_mm: float | None = None,
    lens_make: str | None = None,
    lens_model: str | None = None,
    datetime_original: dt.datetime | str | None = None,
    color_matrix: np.ndarray | None = None,
    as_shot_neutral=(1.0, 1.0, 1.0),
) -> Path:
    """Write a Bayer mosaic as an uncompressed DNG (written atomically).

    Parameters
    ----------
    path : output file (``.dng``).
    mosaic : (H, W) uint16 array of raw sensor values, H and W even.
    make, model : IFD0 Make and Model (e.g. ``"NIKON CORPORATION"``, ``"NIKON D5"``).
    cfa_pattern : the 2x2 colour filter layout read row by row, e.g. ``"RGGB"``, ``"BGGR"``.
    black_level : one value, or four (one per CFA position, row by row), in raw units.
    white_level : the raw value of a saturated pixel.
    exposure_s, f_number, iso, focal_mm, lens_make, lens_model, datetime_original : EXIF
        ExposureTime, FNumber, ISOSpeedRatings, FocalLength, LensMake, LensModel and
        DateTimeOriginal (a naive or UTC datetime, written as ``YYYY:MM:DD HH:MM:SS`` with
        SubSecTimeOriginal); a value left as None is not written (to make files with missing EXIF).
    color_matrix : 3x3 XYZ -> camera matrix (DNG ColorMatrix1, D65); identity when None.
    as_shot_neutral : DNG AsShotNeutral (white balance), three numbers.
    """
    a = np.asarray(mosaic)
    if a.ndim != 2 or a.shape[0] % 2 or a.shape[1] % 2 or a.shape[0] < 2:
        raise InputError(f"{path}: the mosaic must be a 2-D array with even sides, got shape {a.shape}")
    if a.dtype != np.uint16:
        if np.issubdtype(a.dtype, np.integer) and a.min() >= 0 and a.max() <= 65535:
            a = a.astype(np.uint16)
        else:
            raise InputError(f"{path}: the mosaic must be uint16 (or integers in 0..65535), got {a.dtype}")
    pattern = cfa_pattern.upper()
    if len(pattern) != 4 or set(pattern) - set(_CFA_CODES) or sorted(set(pattern)) != ["B", "G", "R"]:
        raise InputError(f"{path}: cfa_pattern must be 4 letters of R, G, B such as 'RGGB', got {cfa_pattern!r}")
    h, w = a.shape
    black = (
        np.broadcast_to(np.asarray(black_level, dtype=float), (4,))
        if np.ndim(black_level)
        else np.full(4, black_level, dtype=float)
    )
    cm = np.eye(3) if color_matrix is None else np.asarray(color_matrix, dtype=float).reshape(3, 3)

    ifd0 = _IFD()
    ifd0.add(0x00FE, _LONG, 0)  # NewSubfileType: full-resolution image
    ifd0.add(0x0100, _LONG, w)
    ifd0.add(0x0101, _LONG, h)
    ifd0.add(0x0102, _SHORT, 16)  # BitsPerSample
    ifd0.add(0x0103, _SHORT, 1)  # Compression: none
    ifd0.add(0x0106, _SHORT, 32803)  # PhotometricInterpretation: CFA
    ifd0.add(0x010F, _ASCII, make)
    ifd0.add(0x0110, _ASCII, model)
    ifd0.add(0x0111, _LONG, 0)  # StripOffsets (patched below)
    ifd0.add(0x0112, _SHORT, 1)  # Orientation
    ifd0.add(0x0115, _SHORT, 1)  # SamplesPerPixel
    ifd0.add(0x0116, _LONG, h)  # RowsPerStrip
    ifd0.add(0x0117, _LONG, a.nbytes)  # StripByteCounts
    ifd0.add(0x011C, _SHORT, 1)  # PlanarConfiguration
    ifd0.add(0x0131, _ASCII, "cupola")
    ifd0.add(0x828D, _SHORT, (2, 2))  # CFARepeatPatternDim
    ifd0.add(0x828E, _BYTE, [_CFA_CODES[c] for c in pattern])  # CFAPattern
    ifd0.add(0x8769, _LONG, 0)  # ExifIFD (patched below)
    ifd0.add(0xC612, _BYTE, (1, 4, 0, 0))  # DNGVersion
    ifd0.add(0xC613, _BYTE, (1, 1, 0, 0))  # DNGBackwardVersion
    ifd0.add(0xC614, _ASCII, model)  # UniqueCameraModel
    ifd0.add(0xC619, _SHORT, (2, 2))  # BlackLevelRepeatDim
    ifd0.add(0xC61A, _RATIONAL, list(black))  # BlackLevel, one per CFA position
    ifd0.add(0xC61D, _LONG, int(white_level))  # WhiteLevel
    ifd0.add(0xC621, _SRATIONAL, list(cm.ravel()))  # ColorMatrix1
    ifd0.add(0xC628, _RATIONAL, list(as_shot_neutral))  # AsShotNeutral
    ifd0.add(0xC65A, _SHORT, 21)  # CalibrationIlluminant1: D65

    exif = _IFD()
    if exposure_s is not None:
        exif.add(0x829A, _RATIONAL, float(exposure_s))
    if f_number is not None:
        exif.add(0x829D, _RATIONAL, float(f_number))
    if iso is not None:
        exif.add(0x8827, _SHORT, int(iso))
    exif.add(0x9000, _UNDEF, b"0230")  # ExifVersion
    if datetime_original is not None:
        if isinstance(datetime_original, dt.datetime):
            t = datetime_original
            if t.tzinfo is not None:
                t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
            exif.add(0x9003, _ASCII, t.strftime("%Y:%m:%d %H:%M:%S"))
            exif.add(0x9291, _ASCII, f"{t.microsecond // 1000:03d}")
        else:
            exif.add(0x9003, _ASCII, str(datetime_original))
    if focal_mm is not None:
        exif.add(0x920A, _RATIONAL, float(focal_mm))
    if lens_make is not None:
        exif.add(0xA433, _ASCII, lens_make)
    if lens_model is not None:
        exif.add(0xA434, _ASCII, lens_model)

    ifd0_at = 8
    exif_at = ifd0_at + ifd0.size()
    exif_at += exif_at & 1
    strip_at = exif_at + exif.size()
    strip_at += (-strip_at) % 16
    ifd0.add(0x8769, _LONG, exif_at)
    ifd0.add(0x0111, _LONG, strip_at)
    blob = bytearray(b"II*\0" + struct.pack("<I", ifd0_at))
    blob += ifd0.pack(ifd0_at)
    blob += b"\0" * (exif_at - len(blob))
    blob += exif.pack(exif_at)
    blob += b"\0" * (strip_at - len(blob))
    path = Path(path)
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(bytes(blob))
            f.write(a.astype("<u2", copy=False).tobytes())
    return path


def _read_value(buf: bytes, order: str, typ: int, count: int, at: int):
    size = _TYPE_SIZE.get(typ, 1)
    raw = buf[at : at + size * count]
    if len(raw) < size * count:
        raise ValueError("value runs past the end of the file")
    if typ == _ASCII:
        return raw.split(b"\0", 1)[0].decode("latin-1").strip()
    if typ == _UNDEF:
        return raw if count > 4 else raw
    if typ in (_RATIONAL, _SRATIONAL):
        f = order + ("I" if typ == _RATIONAL else "i") * 2 * count
        nums = struct.unpack(f, raw)
        vals = [n / d if d else float("nan") for n, d in zip(nums[::2], nums[1::2])]
    else:
        vals = list(struct.unpack(order + _TYPE_FMT[typ] * count, raw))
    return vals[0] if count == 1 else vals


def _read_ifd(buf: bytes, order: str, at: int, out: dict, max_values: int = 64) -> int:
    (n,) = struct.unpack_from(order + "H", buf, at)
    if n > 4096:
        raise ValueError(f"implausible IFD with {n} entries")
    for i in range(n):
        tag, typ, count, inline = struct.unpack_from(order + "HHI4s", buf, at + 2 + 12 * i)
        if typ not in _TYPE_SIZE or count > max_values and typ not in (_ASCII,):
            continue
        size = _TYPE_SIZE[typ] * count
        if size <= 4:
            value = _read_value(inline, order, typ, count, 0)
        else:
            (off,) = struct.unpack(order + "I", inline)
            value = _read_value(buf, order, typ, count, off)
        out[TAG_NAMES.get(tag, f"0x{tag:04X}")] = value
    (nxt,) = struct.unpack_from(order + "I", buf, at + 2 + 12 * n)
    return nxt


def read_tiff_tags(path: str | os.PathLike) -> dict:
    """Tags of IFD0 and of the EXIF sub-IFD of a TIFF-based file, by name (see :data:`TAG_NAMES`).

    Values are str, int, float or lists; arrays of more than 64 values are skipped. Raises
    :class:`InputError` when the file is missing or not TIFF-based.
    """
    from cupola.io.images import signature_format
    from cupola.io.limits import regular_file

    p = regular_file(path, "a TIFF-based file (DNG, NEF, TIFF)")
    with open(p, "rb") as f:
        buf = f.read(4 << 20)  # headers and EXIF live in the first megabytes
    fmt = signature_format(buf[:8])
    if fmt != "TIFF":
        what = "a BigTIFF, whose tags are not read here" if fmt == "BigTIFF" else "no TIFF header"
        raise InputError(f"{p}: not a TIFF-based file ({what}), cannot read its EXIF")
    order = "<" if buf[:2] == b"II" else ">"
    tags: dict = {}
    try:
        (first,) = struct.unpack_from(order + "I", buf, 4)
        _read_ifd(buf, order, first, tags)
        exif_at = tags.get("ExifIFD")
        if isinstance(exif_at, int) and 0 < exif_at < len(buf):
            _read_ifd(buf, order, exif_at, tags)
    except (struct.error, ValueError) as exc:
        raise InputError(f"{p}: corrupt TIFF/EXIF structure ({exc})") from None
    return tags
