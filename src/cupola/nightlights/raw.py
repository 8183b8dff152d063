"""RAW decoding with LibRaw (``rawpy``) into linear Bayer planes.

No demosaicking: the four colour-filter sites of each 2x2 Bayer cell become four half-resolution
planes (R, G1, G2, B; G1 is the green on the red row), so every value stays a linear measurement of
one pixel. Plane pixel (i, j) is sensor pixel (col, row) = (2 j + dx, 2 i + dy) for the plane's
offset (dx, dy) in the cell; the "superpixel" (i, j) is centred at sensor pixel (2 j + 0.5, 2 i + 0.5).

Per pixel: raw value -> minus the black level (or a dark frame, which includes it) -> optional
linearity correction -> DN (data numbers) above dark. Pixels at or above ``saturation_fraction`` of
the white level are flagged in :attr:`RawFrame.saturated`; they are never scaled into radiance.

>>> import numpy as np
>>> from cupola.io.dng import write_dng
>>> from cupola.nightlights.raw import read_raw
>>> _ = write_dng("frame.dng", np.full((64, 96), 1000, np.uint16), make="NIKON CORPORATION",
...               model="NIKON D5", exposure_s=0.5, f_number=2.8, iso=6400, focal_mm=50.0)
>>> frame = read_raw("frame.dng")  # a camera's NEF or DNG reads the same way
>>> frame.planes.shape, frame.meta.iso  # four Bayer planes of half the size
((4, 32, 48), 6400.0)
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cupola.errors import InputError

__all__ = ["RawMetadata", "RawFrame", "read_raw", "read_raw_metadata", "subtract_dark", "PLANES"]

#: order of the planes in :attr:`RawFrame.planes`
PLANES = ("R", "G1", "G2", "B")


@dataclass(frozen=True)
class RawMetadata:
    """What the RAW file says (EXIF / maker notes through LibRaw, TIFF tags for make and model).

    Numbers are None when the file does not have them; ``datetime_original`` is the camera clock
    (no zone) as written in EXIF DateTimeOriginal plus SubSecTimeOriginal.
    """

    path: Path
    make: str | None
    model: str | None
    lens_make: str | None
    lens_model: str | None
    exposure_s: float | None
    f_number: float | None
    iso: float | None
    focal_mm: float | None
    datetime_original: dt.datetime | None
    width_px: int
    height_px: int
    cfa: str
    black_level: tuple
    white_level: float

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "make": self.make,
            "model": self.model,
            "lens_make": self.lens_make,
            "lens_model": self.lens_model,
            "exposure_s": self.exposure_s,
            "f_number": self.f_number,
            "iso": self.iso,
            "focal_mm": self.focal_mm,
            "datetime_original": self.datetime_original.isoformat() if self.datetime_original else None,
            "width_px": self.width_px,
            "height_px": self.height_px,
            "cfa": self.cfa,
            "black_level": list(self.black_level),
            "white_level": self.white_level,
        }


@dataclass(eq=False)
class RawFrame:
    """Linear Bayer planes of one RAW frame.

    Attributes:
        meta: :class:`RawMetadata`.
        planes: (4, H/2, W/2) float32, DN above the black level (or dark frame), order :data:`PLANES`.
        saturated: (4, H/2, W/2) bool, raw value >= ``saturation_fraction`` of the white level.
        offsets: (dx, dy) of each plane in the 2x2 cell.
        dark: how the zero level was removed ("black level 600" or "dark frame FILE").
        linearity: how far the values are proportional to light, in words (a RAW's are; an
            sRGB-decoded JPEG's only approximately, see :mod:`cupola.nightlights.photo`).
    """

    meta: RawMetadata
    planes: np.ndarray
    saturated: np.ndarray
    offsets: tuple
    dark: str
    notes: list = field(default_factory=list)
    linearity: str = "linear: RAW sensor values above the black level"

    @property
    def shape(self) -> tuple[int, int]:
        return self.planes.shape[1], self.planes.shape[2]

    def channel(self, name: str) -> np.ndarray:
        """ "R", "G" (mean of the two greens) or "B" plane."""
        if name == "G":
            return 0.5 * (self.planes[1] + self.planes[2])
        return self.planes[PLANES.index(name)]

    def channel_saturated(self, name: str) -> np.ndarray:
        if name == "G":
            return self.saturated[1] | self.saturated[2]
        return self.saturated[PLANES.index(name)]


def _open(path: Path):
    import rawpy

    from cupola.io.limits import regular_file

    regular_file(path, "a RAW image (NEF, CR2, DNG, ...)")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file, not a RAW image")
    try:
        raw = rawpy.imread(str(path))
    except Exception as exc:  # noqa: BLE001 - LibRaw's errors are many small classes
        raise InputError(f"{path}: not a readable RAW file (LibRaw: {type(exc).__name__}: {exc})") from None
    return raw


def _text(v) -> str | None:
    if v is None:
        return None
    v = str(v).strip().strip("\0").strip()
    return v or None


def _positive(*values) -> float | None:
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if np.isfinite(f) and f > 0:
            return f
    return None


def _exif_time(tags: dict, fallback) -> dt.datetime | None:
    text = tags.get("DateTimeOriginal")
    if isinstance(text, str):
        try:
            t = dt.datetime.strptime(text.strip(), "%Y:%m:%d %H:%M:%S")
        except ValueError:
            t = None
        if t is not None:
            sub = str(tags.get("SubSecTimeOriginal") or "").strip()
            if sub.isdigit():
                t += dt.timedelta(seconds=float("0." + sub))
            return t
    if isinstance(fallback, dt.datetime) and fallback.year > 1970:
        return fallback
    return None


def _metadata(path: Path, raw) -> RawMetadata:
    from cupola.io.dng import read_tiff_tags

    try:
        tags = read_tiff_tags(path)
    except InputError:
        tags = {}  # not TIFF-based (e.g. CR3, RAF): LibRaw's fields only
    other = getattr(raw, "other", None)
    lens = getattr(raw, "lens", None)
    pattern = np.asarray(raw.raw_pattern)
    desc = raw.color_desc.decode("ascii", "replace")
    cfa = "".join(desc[int(k)] for k in pattern.ravel()) if pattern.shape == (2, 2) else "?"
    black = (
        tuple(float(raw.black_level_per_channel[int(k)]) for k in pattern.ravel())
        if pattern.shape == (2, 2)
        else tuple(float(b) for b in raw.black_level_per_channel)
    )
    s = raw.sizes
    return RawMetadata(
        path=path,
        make=_text(tags.get("Make")),
        model=_text(tags.get("Model") or tags.get("UniqueCameraModel")),
        lens_make=_text(getattr(lens, "make", None)) or _text(tags.get("LensMake")),
        lens_model=_text(getattr(lens, "model", None)) or _text(tags.get("LensModel")),
        exposure_s=_positive(tags.get("ExposureTime"), getattr(other, "shutter_speed", None)),
        f_number=_positive(tags.get("FNumber"), getattr(other, "aperture", None)),
        iso=_positive(tags.get("ISOSpeedRatings"), getattr(other, "iso_speed", None)),
        focal_mm=_positive(tags.get("FocalLength"), getattr(other, "focal_length", None)),
        datetime_original=_exif_time(tags, getattr(other, "timestamp", None)),
        width_px=int(s.width),
        height_px=int(s.height),
        cfa=cfa,
        black_level=black,
        white_level=float(raw.white_level),
    )


def read_raw_metadata(path: str | os.PathLike) -> RawMetadata:
    """The metadata of a RAW file without decoding its pixels."""
    p = Path(path)
    with _open(p) as raw:
        return _metadata(p, raw)


def read_raw(
    path: str | os.PathLike, *, saturation_fraction: float = 0.98, linearity: tuple[float, ...] | None = None
) -> RawFrame:
    """Decode a RAW file into linear Bayer planes above the black level.

    Args:
        path: NEF, DNG or any Bayer RAW that LibRaw reads.
        saturation_fraction: a pixel whose raw value reaches ``black + fraction * (white - black)``
            is flagged saturated (sensors leave linearity a little below their white level).
        linearity: optional coefficients (c2, c3, ...) of a linearity correction
            ``DN' = DN * (1 + c2 x + c3 x^2 + ...)`` with ``x = DN / (white - black)`` (Sánchez de
            Miguel et al. 2021 measure it per ISO); None = the sensor is taken as linear.

    Raises:
        InputError: missing, empty, corrupt or non-RAW file; a sensor that is not a 2x2 RGB Bayer
            mosaic (X-Trans, Foveon, monochrome).
    """
    p = Path(path)
    with _open(p) as raw:
        try:
            meta = _metadata(p, raw)
            pattern = np.asarray(raw.raw_pattern)
            data = raw.raw_image_visible
        except Exception as exc:  # noqa: BLE001 - LibRaw decoding errors surface here
            raise InputError(f"{p}: not a readable RAW file (LibRaw: {type(exc).__name__}: {exc})") from None
        if pattern.shape != (2, 2) or sorted(meta.cfa) != ["B", "G", "G", "R"]:
            raise InputError(
                f"{p}: unsupported sensor layout (CFA {meta.cfa!r}): only 2x2 RGB Bayer mosaics are supported"
            )
        h, w = data.shape
        if h < 4 or w < 4:
            raise InputError(f"{p}: image of {w}x{h} pixels is too small")
        h -= h % 2
        w -= w % 2
        letters = list(meta.cfa)
        order = {}
        for k, letter in enumerate(letters):
            name = letter if letter in "RB" else ("G1" if "G1" not in order else "G2")
            order[name] = k
        if set(order) != set(PLANES):
            raise InputError(f"{p}: unsupported colour filter pattern {meta.cfa!r}: need R, G, G, B")
        white = meta.white_level
        planes = np.empty((4, h // 2, w // 2), np.float32)
        saturated = np.empty((4, h // 2, w // 2), bool)
        offsets = []
        for n, name in enumerate(PLANES):
            k = order[name]
            dy, dx = divmod(k, 2)
            sub = data[dy:h:2, dx:w:2]
            black = meta.black_level[k]
            saturated[n] = sub >= black + saturation_fraction * (white - black)
            np.subtract(sub, np.float32(black), out=planes[n], dtype=np.float32)
            offsets.append((dx, dy))
    if linearity:
        for n in range(4):
            k = order[PLANES[n]]
            x = planes[n] / np.float32(white - meta.black_level[k])
            corr = np.zeros_like(x)
            for c in reversed(linearity):
                corr = (corr + np.float32(c)) * x
            planes[n] *= 1.0 + corr
    dark = "black level " + "/".join(f"{b:g}" for b in meta.black_level)
    linear = "linear: RAW sensor values above the black level"
    if linearity:
        linear += ", corrected by the linearity polynomial " + ", ".join(f"{c:g}" for c in linearity)
    return RawFrame(meta=meta, planes=planes, saturated=saturated, offsets=tuple(offsets), dark=dark, linearity=linear)


def subtract_dark(frame: RawFrame, dark: RawFrame) -> RawFrame:
    """The frame minus a dark frame (same camera, exposure and ISO, lens cap on).

    Both are above their black levels already, so the dark's residual signal (dark current,
    amplifier glow, hot pixels) is what is removed. Warns (in ``notes``) when the exposure or ISO differ.
    """
    if dark.planes.shape != frame.planes.shape:
        raise InputError(
            f"{dark.meta.path}: dark frame of {dark.meta.width_px}x{dark.meta.height_px} px does not "
            f"match {frame.meta.path} ({frame.meta.width_px}x{frame.meta.height_px} px)"
        )
    notes = list(frame.notes)
    for name in ("exposure_s", "iso"):
        a, b = getattr(frame.meta, name), getattr(dark.meta, name)
        if a and b and abs(a - b) > 1e-3 * max(a, b):
            notes.append(f"dark frame {dark.meta.path.name} has {name} {b:g}, the frame {a:g}")
    return replace(
        frame,
        planes=frame.planes - dark.planes,
        saturated=frame.saturated,
        dark=f"dark frame {dark.meta.path.name}",
        notes=notes,
    )
