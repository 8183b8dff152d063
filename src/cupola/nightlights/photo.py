"""Night photos that are not RAW: JPEG, TIFF and PNG, turned into the linear planes of a RAW frame.

A camera's JPEG (or a TIFF/PNG export) is not a measurement of light: the camera has demosaicked
it, applied a white balance and a colour matrix, a tone curve, and 8-bit quantisation (JPEG also
its lossy compression). What can be undone is the encoding: the values are decoded with the
**sRGB transfer function** of IEC 61966-2-1 (``V <= 0.04045: V / 12.92``, else
``((V + 0.055) / 1.055) ** 2.4``), which is the curve a JPEG declares, or taken as they are for a
linear export (``transfer="linear"``, e.g. a 16-bit linear TIFF from a RAW converter).

A camera's own tone curve is *not* exactly sRGB (cameras add contrast, shadow and highlight
shaping, "Active D-Lighting" and picture controls, and may subtract a noise floor), so the decoded
values are linear only approximately: star photometry and radiance from a JPEG carry errors of
tens of percent that vary with brightness, colour ratios are those of the camera's white-balanced
output, not of its sensor channels, and the faintest light is lost to quantisation and
compression. :attr:`RawFrame.linearity` says so, and ``result.json`` carries it.

The decoded image becomes a :class:`~cupola.nightlights.raw.RawFrame` of the same layout as a RAW
(four half-resolution planes R, G1, G2, B, G1 = G2 = G): each plane pixel is the mean of a 2x2
block of photo pixels, centred at sensor pixel (2 j + 0.5, 2 i + 0.5), the superpixel centre of the
RAW path, so everything downstream (stars, photometry, radiance) runs unchanged. The values are
decoded fractions of the file's full scale times that full scale (255 or 65535), black at 0.

>>> import numpy as np
>>> from PIL import Image
>>> from cupola.nightlights.photo import read_photo_frame, srgb_to_linear
>>> float(srgb_to_linear(np.array([0.5]))[0].round(4))  # half the code value is 21 % of the light
0.214
>>> Image.fromarray(np.full((4, 6, 3), 128, np.uint8)).save("night.png")
>>> frame = read_photo_frame("night.png")
>>> frame.planes.shape, round(float(frame.planes[0, 0, 0]), 2), frame.meta.cfa
((4, 2, 3), 55.04, 'RGB (demosaicked)')
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.io.srgb import linear_to_srgb, srgb_to_linear
from cupola.nightlights.raw import RawFrame, RawMetadata

__all__ = [
    "PHOTO_SUFFIXES",
    "TRANSFERS",
    "is_photo",
    "srgb_to_linear",
    "linear_to_srgb",
    "read_photo_frame",
    "photo_time",
]

#: file name endings read as photos (not RAW); other TIFF-based files (NEF, DNG) are RAW
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".png")
#: how the values of a photo encode light
TRANSFERS = ("srgb", "linear")
#: a photo value at or above this fraction of full scale is saturated (clipped, or squeezed by the
#: tone curve's shoulder and JPEG ringing)
SATURATION_FRACTION = 0.98


def is_photo(path: str | os.PathLike) -> bool:
    """True for a JPEG, PNG or plain TIFF (by its first bytes and name), False for RAW files:
    NEF, DNG and other TIFF-based RAWs have their own endings, and a DNG named ``.tif`` is
    recognised by its DNGVersion tag."""
    from cupola.io.images import file_format

    p = Path(path)
    try:
        fmt = file_format(p)
    except OSError:
        return p.suffix.lower() in PHOTO_SUFFIXES  # the reader will say what is wrong
    if fmt in ("JPEG", "PNG"):
        return True
    if fmt in ("TIFF", "BigTIFF"):
        if p.suffix.lower() not in (".tif", ".tiff"):
            return False
        from cupola.io.dng import read_tiff_tags

        try:
            return "DNGVersion" not in read_tiff_tags(p)
        except InputError:
            return True
    return p.suffix.lower() in PHOTO_SUFFIXES


def _number(exif: dict, *names: str) -> float | None:
    for name in names:
        v = exif.get(name)
        if isinstance(v, list):
            v = v[0] if v else None
        try:
            f = float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if np.isfinite(f) and f > 0:
            return f
    return None


def photo_time(datetime_original: str | None, subsec: str | None = None) -> dt.datetime | None:
    """EXIF DateTimeOriginal (``YYYY:MM:DD HH:MM:SS``, camera clock, no zone) plus
    SubSecTimeOriginal as a naive datetime, or None when absent or unreadable."""
    if not datetime_original:
        return None
    try:
        t = dt.datetime.strptime(datetime_original.strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    sub = (subsec or "").strip()
    if sub.isdigit():
        t += dt.timedelta(seconds=float("0." + sub))
    return t


def _linearity(kind: str, transfer: str, bits: int) -> str:
    if transfer == "linear":
        return (
            f"{kind} read as linear ({bits}-bit values taken as proportional to light): radiance as "
            "linear as the export was; colour ratios are those of the converter's white-balanced RGB, "
            "not of the sensor channels"
        )
    return (
        f"sRGB-decoded {kind} ({bits}-bit, IEC 61966-2-1 transfer function): radiance approximate, "
        "the camera's tone curve is not exactly sRGB (errors of tens of percent that vary with "
        "brightness); colour ratios are those of the camera's white-balanced RGB, not of the sensor "
        "channels"
        + (
            "; lossy compression blurs faint stars and adds block artefacts"
            if kind == "JPEG"
            else "; quantisation loses the faintest light"
        )
    )


def read_photo_frame(
    path: str | os.PathLike, *, transfer: str = "srgb", saturation_fraction: float = SATURATION_FRACTION
) -> RawFrame:
    """Read a JPEG, TIFF or PNG night photo into linear half-resolution planes (see the module).

    Args:
        path: the photo (8-bit JPEG/PNG/TIFF, 16-bit grey PNG/TIFF, 16-bit RGB TIFF).
        transfer: ``"srgb"`` (decode the IEC 61966-2-1 curve; JPEGs and most exports) or
            ``"linear"`` (values already proportional to light).
        saturation_fraction: a 2x2 block with a value at or above this fraction of full scale
            (before decoding) in a channel is saturated in that channel's plane.

    Raises:
        InputError: a missing, empty, corrupt or truncated file, an image smaller than 4x4 pixels,
            an unknown ``transfer``.
    """
    from cupola.io.images import read_photo_full_depth

    if transfer not in TRANSFERS:
        raise InputError(f"`transfer` must be one of {', '.join(TRANSFERS)}, got {transfer!r}")
    p = Path(path)
    pixels, info = read_photo_full_depth(p)
    h, w = pixels.shape[:2]
    if h < 4 or w < 4:
        raise InputError(f"{p}: image of {w}x{h} pixels is too small")
    full = 65535 if pixels.dtype == np.uint16 else 255
    bits = 16 if full == 65535 else 8
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    h2, w2 = h // 2, w // 2
    # decoding by a table of every code value: one lookup per pixel, no power function
    codes = np.arange(full + 1, dtype=np.float64) / full
    table = (srgb_to_linear(codes) if transfer == "srgb" else codes) * full
    table = table.astype(np.float32)
    sat_code = int(np.ceil(saturation_fraction * full))
    planes = np.empty((4, h2, w2), np.float32)
    saturated = np.empty((4, h2, w2), bool)
    channels = (0, 1, 1, 2) if pixels.shape[2] >= 3 else (0, 0, 0, 0)
    done: dict[int, int] = {}
    for n, c in enumerate(channels):
        if c in done:
            planes[n] = planes[done[c]]
            saturated[n] = saturated[done[c]]
            continue
        block = pixels[: 2 * h2, : 2 * w2, c]
        lin = table[block].reshape(h2, 2, w2, 2)
        planes[n] = lin.mean(axis=(1, 3))
        saturated[n] = (block >= sat_code).reshape(h2, 2, w2, 2).any(axis=(1, 3))
        done[c] = n
    kind = {"JPEG": "JPEG", "PNG": "PNG", "TIFF": "TIFF"}.get(_format(p), "photo")
    exif = info.exif
    meta = RawMetadata(
        path=p,
        make=info.camera_make,
        model=info.camera_model,
        lens_make=exif.get("LensMake") if isinstance(exif.get("LensMake"), str) else None,
        lens_model=exif.get("LensModel") if isinstance(exif.get("LensModel"), str) else None,
        exposure_s=_number(exif, "ExposureTime"),
        f_number=_number(exif, "FNumber"),
        iso=_number(exif, "ISOSpeedRatings", "PhotographicSensitivity"),
        focal_mm=info.focal_length_mm,
        datetime_original=photo_time(info.datetime_original, info.subsec),
        width_px=w,
        height_px=h,
        cfa="RGB (demosaicked)" if pixels.shape[2] >= 3 else "grey",
        black_level=(0.0, 0.0, 0.0, 0.0),
        white_level=float(full),
    )
    notes = []
    if info.orientation not in (None, 1):
        notes.append(
            f"EXIF orientation {info.orientation} not applied: pixel coordinates are those of the stored image"
        )
    return RawFrame(
        meta=meta,
        planes=planes,
        saturated=saturated,
        offsets=((0.5, 0.5),) * 4,
        dark=f"none ({kind}: black already removed by the camera or converter)",
        notes=notes,
        linearity=_linearity(kind, transfer, bits),
    )


def _format(p: Path) -> str:
    from cupola.io.images import file_format

    try:
        fmt = file_format(p)
    except OSError:
        return ""
    return "TIFF" if fmt == "BigTIFF" else fmt
