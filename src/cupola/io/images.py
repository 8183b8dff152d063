"""Photographs and their EXIF metadata, read with Pillow.

Two entry points:

- :func:`read_photo_info` reads only the header and EXIF (fast, decodes no pixels);
- :func:`read_photo` decodes the pixels too and refuses truncated or corrupt files;
- :func:`read_photo_full_depth` is :func:`read_photo` for users' images: a 16-bit colour PNG or
  TIFF keeps its 16 bits (Pillow alone keeps their high byte).

No EXIF orientation is applied: the array is exactly as stored in the file, so pixel
coordinates (col, row), with (0, 0) the centre of the top-left pixel, refer to the stored
image. The Orientation tag is reported in :attr:`PhotoInfo.orientation` for the caller to act on.

>>> from importlib.resources import files
>>> from cupola.io.images import read_photo
>>> pixels, info = read_photo(files("cupola") / "data/samples/iss-meteor-2017/meteor_20170517T054409.526Z.jpg")
>>> pixels.shape, info.focal_length_mm  # a video frame: no EXIF focal length
((738, 1280, 3), None)
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cupola.errors import InputError

__all__ = [
    "PhotoInfo",
    "check_same_depth",
    "read_photo_info",
    "read_photo",
    "read_photo_full_depth",
    "file_format",
    "signature_format",
]

# EXIF tag numbers (EXIF 2.32 / TIFF 6.0)
_TAG_MAKE = 0x010F
_TAG_MODEL = 0x0110
_TAG_ORIENTATION = 0x0112
_IFD_EXIF = 0x8769
_IFD_GPS = 0x8825
_TAG_FOCAL_LENGTH = 0x920A
_TAG_FOCAL_LENGTH_35MM = 0xA405
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_SUBSEC_ORIGINAL = 0x9291

# tuples longer than this (strip offsets, tone curves, ...) are left out of PhotoInfo.exif
_MAX_TUPLE_LEN = 16
# text longer than this (maker notes decoded as text, ...) is left out of PhotoInfo.exif
_MAX_TEXT_LEN = 1024

# Pillow modes returned as they are: 8-bit grey/RGB and 16-bit grey
_NATIVE_MODES = {
    "L": np.uint8,
    "RGB": np.uint8,
    "I;16": np.uint16,
    "I;16L": np.uint16,
    "I;16B": np.uint16,
    "I;16N": np.uint16,
}
# Pillow modes converted on read, to the mode given
_CONVERT_MODES = {
    "1": "L",
    "LA": "L",
    "La": "L",
    "P": "RGB",
    "PA": "RGB",
    "RGBA": "RGB",
    "RGBa": "RGB",
    "RGBX": "RGB",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
}


@dataclass(frozen=True)
class PhotoInfo:
    """What the file says about a photograph, without its pixels.

    Attributes:
        path: the file read.
        width_px, height_px: image size in pixels as stored (before any EXIF orientation).
        mode: Pillow's mode of the stored image (``"RGB"``, ``"L"``, ``"I;16"``, ...).
        camera_make, camera_model: EXIF Make (0x010F) and Model (0x0110), stripped, or None.
        focal_length_mm: EXIF FocalLength (0x920A) in millimetres, or None if absent or zero.
        focal_length_35mm: EXIF FocalLengthIn35mmFilm (0xA405), the 35 mm-equivalent focal
            length in millimetres, or None if absent or zero (zero means "unknown" in EXIF).
        datetime_original: EXIF DateTimeOriginal (0x9003) as written, ``"YYYY:MM:DD HH:MM:SS"``,
            local camera time with no zone (the ISS cameras are usually, not always, on UTC).
        subsec: EXIF SubSecTimeOriginal (0x9291): the digits of the fraction of a second, as
            text (``"52"`` means 0.52 s), or None.
        orientation: EXIF Orientation (0x0112), 1-8, or None; *not* applied to the pixels.
        exif: every readable tag of the base, Exif and GPS IFDs by Pillow's tag name (numbers
            as ``"0x...."`` for unknown tags), values as str, int, float or lists of these.
    """

    path: Path
    width_px: int
    height_px: int
    mode: str
    camera_make: str | None = None
    camera_model: str | None = None
    focal_length_mm: float | None = None
    focal_length_35mm: float | None = None
    datetime_original: str | None = None
    subsec: str | None = None
    orientation: int | None = None
    exif: dict = field(default_factory=dict, hash=False)


def read_photo_info(path: str | os.PathLike) -> PhotoInfo:
    """Read the size, mode and EXIF metadata of an image file, without decoding its pixels.

    The pixels are not decoded (except for PNG files without an early EXIF chunk, where
    Pillow decodes the image to look for EXIF after the data), so a JPEG cut short after its
    header is *not* detected here; :func:`read_photo` detects it.

    Args:
        path: a JPEG, PNG, TIFF or any other raster format Pillow reads.

    Returns:
        :class:`PhotoInfo`.

    Raises:
        InputError: the file is missing, empty, a folder, unreadable or not an image (or, for
            PNG, truncated).
    """
    p = _check_file(path)
    with _open(p) as img:
        return _info(p, img)


def read_photo(path: str | os.PathLike) -> tuple[np.ndarray, PhotoInfo]:
    """Decode an image file into a NumPy array, with its metadata.

    The array is (H, W) for grey images and (H, W, 3) for colour, ``uint8``, or ``uint16`` for
    16-bit grey images (PNG/TIFF). Palette, alpha, CMYK and other colour modes are converted to
    RGB (alpha is dropped), 1-bit to 8-bit grey; 32-bit integer grey is kept as ``uint16`` if
    its values fit. No EXIF orientation is applied (see :attr:`PhotoInfo.orientation`).
    Only the first frame of a multi-frame file is read.

    Truncated files are refused as long as ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` is False,
    Pillow's default; code that sets it to True opts in to grey-filled partial images.

    Args:
        path: a JPEG, PNG, TIFF or any other raster format Pillow reads.

    Returns:
        ``(pixels, info)``.

    Raises:
        InputError: the file is missing, empty, not an image, truncated or corrupt, or has a
            pixel format that cannot be represented as 8- or 16-bit unsigned integers.
    """
    p = _check_file(path)
    with _open(p) as img:
        info = _info(p, img)
        try:
            img.load()
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InputError(
                f"{p}: image data is truncated or corrupt ({_one_line(exc)}); expected a complete image file"
            ) from None
        if img.format == "PNG":
            _check_png_complete(p)
        pixels = _to_array(p, img)
    return pixels, info


def read_photo_full_depth(path: str | os.PathLike) -> tuple[np.ndarray, PhotoInfo]:
    """:func:`read_photo`, but a colour TIFF or PNG of 16 bits per sample keeps its 16 bits.

    Pillow reads a 16-bit RGB TIFF or PNG as 8-bit RGB (the low byte lost: a 12-bit image stored in
    16 bits keeps 4); such files are decoded with OpenCV (libtiff, libpng) instead, as (H, W, 3)
    ``uint16`` in R, G, B order; every other file as :func:`read_photo` reads it. The metadata is
    Pillow's.

    Raises:
        InputError: as :func:`read_photo`; a 16-bit TIFF or PNG OpenCV cannot decode.
    """
    p = _check_file(path)
    with _open(p) as img:
        fmt = img.format
        colour = img.mode in ("RGB", "RGBA", "RGBX")
        deep = colour and ((fmt == "TIFF" and _bits_per_sample(img) > 8) or (fmt == "PNG" and _png_bit_depth(p) > 8))
    if not deep:
        return read_photo(p)
    info = read_photo_info(p)
    import cv2

    a = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)  # as stored: no EXIF orientation, no depth change
    if a is None or a.ndim != 3 or a.shape[2] not in (3, 4) or a.dtype != np.uint16:
        what = "nothing" if a is None else f"{a.dtype} of shape {a.shape}"
        raise InputError(
            f"{p}: 16-bit {fmt} could not be decoded as RGB (OpenCV gave {what}); expected a 16-bit RGB {fmt}"
        )
    if a.shape[:2] != (info.height_px, info.width_px):
        raise InputError(
            f"{p}: 16-bit {fmt} decoded as {a.shape[1]}x{a.shape[0]} px, its header says "
            f"{info.width_px}x{info.height_px}; expected a complete image file"
        )
    return np.ascontiguousarray(a[..., 2::-1]), info


def check_same_depth(path, pixels: np.ndarray, dtype, what: str) -> None:
    """Images compared in counts (a sequence's frames and its background, a stereo pair) must share
    one bit depth: refuse ``pixels`` (read from ``path``) unless they are of ``dtype`` (None: no
    check), naming the file and what (``what``) has that depth.

    >>> check_same_depth("b.png", np.zeros(1, np.uint8), np.uint16, "the first frame")
    Traceback (most recent call last):
    ...
    cupola.errors.InputError: b.png: 8-bit pixels, but the first frame has 16-bit; expected one bit depth
    """
    if dtype is not None and pixels.dtype != np.dtype(dtype):
        raise InputError(
            f"{path}: {_depth_name(pixels.dtype)} pixels, but {what} has {_depth_name(dtype)}; expected one bit depth"
        )


def _depth_name(dtype) -> str:
    d = np.dtype(dtype)
    return f"{8 * d.itemsize}-bit" if d in (np.dtype(np.uint8), np.dtype(np.uint16)) else str(d)


def _png_bit_depth(p: Path) -> int:
    """The bit depth of a PNG's samples, from its header (IHDR: byte 24 of the file)."""
    with open(p, "rb") as f:
        head = f.read(25)
    return head[24] if len(head) == 25 and head[12:16] == b"IHDR" else 8


def _bits_per_sample(img) -> int:
    """The largest BitsPerSample (TIFF tag 258) of a Pillow TIFF image, 8 if not given."""
    tags = getattr(img, "tag_v2", None)
    bits = tags.get(258) if tags is not None else None
    if isinstance(bits, (tuple, list)):
        return max((int(b) for b in bits), default=8)
    try:
        return int(bits) if bits is not None else 8
    except (TypeError, ValueError):
        return 8


def _check_png_complete(p: Path) -> None:
    """Refuse a PNG whose image data holds fewer rows than its header says (Pillow fills them
    with zeros when the compressed stream ends early). Non-interlaced PNGs only; the data is
    decompressed in pieces, never held whole."""
    import struct
    import zlib

    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
    got = 0
    inflate = zlib.decompressobj()
    with open(p, "rb") as f:
        f.read(8)
        head = f.read(8)
        if len(head) < 8 or head[4:] != b"IHDR":
            return
        ihdr = f.read(struct.unpack(">I", head[:4])[0] + 4)
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr[:13])
        if interlace or colour not in channels:
            return
        expected = height * (1 + (width * channels[colour] * depth + 7) // 8)
        while got < expected:
            head = f.read(8)
            if len(head) < 8:
                break
            size, kind = struct.unpack(">I", head[:4])[0], head[4:]
            if kind == b"IEND":
                break
            if kind != b"IDAT":
                f.seek(size + 4, 1)
                continue
            data = f.read(size)
            f.read(4)
            try:
                while data and got < expected:
                    got += len(inflate.decompress(data, 1 << 22))
                    data = inflate.unconsumed_tail
            except zlib.error:
                break
    if got < expected:
        rows = got // max(1, expected // max(1, height))
        raise InputError(
            f"{p}: image data is truncated: the header says {width}x{height} pixels but the file "
            f"holds about {rows} rows; expected a complete image file"
        )


def _check_file(path: str | os.PathLike) -> Path:
    from cupola.io.limits import regular_file

    p = regular_file(path, "an image file")
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise InputError(f"{p}: cannot be read ({_one_line(exc)})") from None
    if size == 0:
        raise InputError(f"{p}: file is empty (0 bytes); expected an image file")
    return p


def file_format(path: str | os.PathLike) -> str:
    """A file's format from its first bytes (its signature, whatever its name): "JPEG", "PNG",
    "TIFF" (classic, 32-bit offsets), "BigTIFF" or "". Raises OSError when it cannot be opened."""
    with open(path, "rb") as f:
        return signature_format(f.read(8))


def signature_format(head: bytes) -> str:
    """:func:`file_format` of a file whose first bytes (at least 8 for PNG) are ``head``."""
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if head[:4] in (b"II*\0", b"MM\0*"):
        return "TIFF"
    if head[:4] in (b"II+\0", b"MM\0+"):
        return "BigTIFF"
    return ""


def _unreadable_kind(p: Path) -> str:
    """What a file Pillow cannot identify is: a TIFF of samples Pillow does not decode as a photo
    (floating point, several bands of 32 bits), said with its sample type, or not an image."""
    if file_format(p) in ("TIFF", "BigTIFF"):
        try:
            import rasterio

            with rasterio.open(p) as ds:
                kinds = ", ".join(sorted(set(ds.dtypes)))
                return (
                    f"a TIFF of {ds.count} band(s) of {kinds} samples, which is not read as a photo "
                    "(8- or 16-bit integer samples are)"
                )
        except Exception:  # noqa: BLE001 - the message falls back to the plain one
            pass
    return "not an image file Pillow can read"


def _open(p: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(p)
    except UnidentifiedImageError:
        raise InputError(f"{p}: {_unreadable_kind(p)}; expected JPEG, PNG or TIFF") from None
    except Image.DecompressionBombError as exc:
        raise InputError(f"{p}: image too large to read safely ({_one_line(exc)})") from None
    except PermissionError:
        raise InputError(f"{p}: permission denied; expected a readable image file") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{p}: image header is corrupt ({_one_line(exc)}); expected a valid image file") from None
    try:
        from cupola.io.limits import check_pixel_budget

        check_pixel_budget(img.size[0], img.size[1], str(p))
    except InputError:
        img.close()
        raise
    return img


def _info(p: Path, img) -> PhotoInfo:
    width, height = img.size
    base, sub, gps = _read_exif(p, img)
    make = _text(base.get(_TAG_MAKE))
    model = _text(base.get(_TAG_MODEL))
    orientation = _positive_int(base.get(_TAG_ORIENTATION))
    return PhotoInfo(
        path=p,
        width_px=int(width),
        height_px=int(height),
        mode=str(img.mode),
        camera_make=make,
        camera_model=model,
        focal_length_mm=_positive_float(sub.get(_TAG_FOCAL_LENGTH)),
        focal_length_35mm=_positive_float(sub.get(_TAG_FOCAL_LENGTH_35MM)),
        datetime_original=_text(sub.get(_TAG_DATETIME_ORIGINAL)),
        subsec=_text(sub.get(_TAG_SUBSEC_ORIGINAL)),
        orientation=orientation,
        exif=_readable(base, sub, gps),
    )


def _read_exif(p: Path, img) -> tuple[dict, dict, dict]:
    """The base IFD, Exif IFD and GPS IFD as {tag number: raw value}; empty where absent.

    Broken EXIF does not make the photo unreadable: it is reported as a warning and ignored.
    """
    try:
        exif = img.getexif()
        base = dict(exif)
        sub = dict(exif.get_ifd(_IFD_EXIF)) if _IFD_EXIF in exif else {}
        gps = dict(exif.get_ifd(_IFD_GPS)) if _IFD_GPS in exif else {}
    except OSError as exc:
        # PNG keeps EXIF wherever it likes, so Pillow may decode the whole image to find it
        if any(w in str(exc) for w in ("truncated", "broken data stream", "decoder error")):
            raise InputError(
                f"{p}: image data is truncated or corrupt ({_one_line(exc)}); expected a complete image file"
            ) from None
        warnings.warn(f"{p}: EXIF metadata is corrupt and was ignored ({_one_line(exc)})", stacklevel=3)
        return {}, {}, {}
    except Exception as exc:  # Pillow raises many types on malformed EXIF blocks
        warnings.warn(f"{p}: EXIF metadata is corrupt and was ignored ({_one_line(exc)})", stacklevel=3)
        return {}, {}, {}
    return base, sub, gps


def _readable(base: dict, sub: dict, gps: dict) -> dict:
    from PIL import ExifTags

    out: dict = {}
    for tags, names in ((base, ExifTags.TAGS), (sub, ExifTags.TAGS)):
        for tag, value in tags.items():
            if tag in (_IFD_EXIF, _IFD_GPS):
                continue  # pointers to the sub-IFDs, expanded below
            v = _plain(value)
            if v is not None:
                out[names.get(tag, f"0x{tag:04X}")] = v
    if gps:
        g = {}
        for tag, value in gps.items():
            v = _plain(value)
            if v is not None:
                g[ExifTags.GPSTAGS.get(tag, f"0x{tag:04X}")] = v
        out["GPSInfo"] = g
    return out


def _plain(value):
    """An EXIF value as str/int/float/list, or None if it is not meaningful as text."""
    if isinstance(value, bytes):
        try:
            text = value.decode("ascii").strip("\x00 ")
        except UnicodeDecodeError:
            return None
        if not text.isprintable() or len(text) > _MAX_TEXT_LEN:
            return None
        return text
    if isinstance(value, str):
        text = value.strip("\x00 ")
        return text if len(text) <= _MAX_TEXT_LEN else None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, (tuple, list)):
        if len(value) > _MAX_TUPLE_LEN:
            return None
        items = [_plain(v) for v in value]
        return None if any(v is None for v in items) else items
    try:
        f = float(value)  # IFDRational and other numbers
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return f if math.isfinite(f) else None


def _text(value) -> str | None:
    v = _plain(value)
    if v is None:
        return None
    v = str(v).strip()
    return v or None


def _positive_float(value) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return f if math.isfinite(f) and f > 0 else None


def _positive_int(value) -> int | None:
    try:
        i = int(value)
    except (TypeError, ValueError):
        return None
    return i if i > 0 else None


def _to_array(p: Path, img) -> np.ndarray:
    mode = img.mode
    if mode in _CONVERT_MODES:
        img = img.convert(_CONVERT_MODES[mode])
        mode = img.mode
    if mode in _NATIVE_MODES:
        a = np.asarray(img)
        return np.ascontiguousarray(a, dtype=_NATIVE_MODES[mode])
    if mode == "I":
        a = np.asarray(img)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise InputError(
                f"{p}: 32-bit integer pixels outside 0..65535 are not supported; expected 8- or 16-bit unsigned pixels"
            )
        return a.astype(np.uint16)
    raise InputError(f"{p}: pixel mode {mode!r} is not supported; expected 8- or 16-bit grey or 8-bit RGB")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
