"""Lens corrections: vignetting (flat field) and geometric distortion.

Two sources, reported in :attr:`LensModel.source`:

* the **lensfun** database (through ``lensfunpy``) for the camera and lens named in EXIF, at the
  frame's focal length, f-number and (far) focus distance: vignetting by the Pablo d'Angelo model
  ``V(r) = 1 + k1 r^2 + k2 r^4 + k3 r^6`` and distortion by the PTLens, poly3 or poly5 model;
* a **user flat field** (a RAW frame of a uniform source through the same lens and aperture):
  vignetting measured per Bayer channel, smoothed; distortion from lensfun when known, else none.

Coordinates follow lensfun (``lfModifier``): the optical centre is the image centre
((W-1)/2, (H-1)/2) plus the lens' centre shift; the vignetting radius is normalised by the half
diagonal and the distortion radius by the half shorter side of the image, both scaled by the ratio
of the camera's crop factor to that of the lens calibration. These conventions are checked against
``lensfunpy.Modifier`` in the tests (vignetting to 1e-4, distortion to 0.15 px).

The gain returned by :meth:`LensModel.plane_gain` multiplies the raw signal: 1 at the optical
centre, ``1/V(r)`` elsewhere. Distortion maps ideal (pinhole) pixels to the pixels of the photo
(:meth:`LensModel.distort`) and back (:meth:`LensModel.undistort`); all pixel coordinates are
full-resolution sensor pixels, (0, 0) the centre of the top-left pixel.

>>> from cupola.nightlights.lens import lens_from_lensfun
>>> lens = lens_from_lensfun("NIKON CORPORATION", "NIKON D5", "Nikon", "AF-S Zoom-Nikkor 24-70mm f/2.8G ED",
...                          focal_mm=50, f_number=2.8, width_px=5568, height_px=3712)
>>> print(lens.source)  # doctest: +ELLIPSIS
lensfun ...: Nikon ...Zoom-Nikkor 24-70mm f/2.8G ED on Nikon Corporation Nikon D5 at 50 mm f/2.8; vignetting ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

__all__ = [
    "LensModel",
    "UnknownLensWarning",
    "same_lens",
    "lens_from_lensfun",
    "no_lens_correction",
    "flat_field_gain",
    "lensfun_available",
    "LENSFUN_DISTANCE_M",
]

#: focus distance used for lensfun's interpolation: the Earth and the stars are at infinity
#: (lensfun's calibrations stop at 1000 m)
LENSFUN_DISTANCE_M = 1000.0


class UnknownLensWarning(UserWarning):
    """The lens named in EXIF is not in the lensfun database: no vignetting or distortion profile."""


def lensfun_available() -> tuple[bool, str]:
    """(True, version) if lensfunpy imports, else (False, the reason)."""
    try:
        import lensfunpy
    except ImportError as exc:  # pragma: no cover - depends on the installation
        return False, f"lensfunpy not importable ({exc})"
    return True, getattr(lensfunpy, "__version__", "?")


@lru_cache(maxsize=1)
def _database():
    import lensfunpy

    return lensfunpy.Database()


@dataclass(frozen=True, eq=False)
class LensModel:
    """Vignetting and distortion of one lens setting on one sensor (full-resolution pixels).

    Attributes:
        width_px, height_px: full sensor image size.
        source: what was used, in words (written to result.json).
        vignetting: "lensfun", "flat" or "none".
        distortion: "lensfun" or "none".
        vignetting_terms: (k1, k2, k3) of the PA model (lensfun), else None.
        distortion_model: "ptlens", "poly3" or "poly5" (lensfun), else None.
        distortion_terms: the model's coefficients.
        center_px: optical centre (col, row).
        vignetting_scale_px, distortion_scale_px: the radii that normalise r to 1.
        flat_gain: (4, H/2, W/2) float32 gain per Bayer plane for a user flat field, else None.
        notes: warnings about the lens path.
    """

    width_px: int
    height_px: int
    source: str
    vignetting: str = "none"
    distortion: str = "none"
    vignetting_terms: tuple | None = None
    distortion_model: str | None = None
    distortion_terms: tuple = ()
    center_px: tuple[float, float] | None = None
    vignetting_scale_px: float = 1.0
    distortion_scale_px: float = 1.0
    flat_gain: np.ndarray | None = field(default=None, repr=False)
    notes: tuple = ()
    #: the EXIF lens when lensfun has no profile for it (None when found, or none was named)
    unknown_lens: str | None = None

    def __post_init__(self):
        if self.center_px is None:
            object.__setattr__(self, "center_px", ((self.width_px - 1) / 2.0, (self.height_px - 1) / 2.0))

    # -- vignetting ----------------------------------------------------------------------------
    def relative_illumination(self, col, row) -> np.ndarray:
        """V: the fraction of the on-axis signal a uniform scene gives at full-res pixels (col, row)."""
        if self.vignetting == "lensfun":
            cx, cy = self.center_px
            r2 = ((np.asarray(col, float) - cx) ** 2 + (np.asarray(row, float) - cy) ** 2) / self.vignetting_scale_px**2
            k1, k2, k3 = self.vignetting_terms
            return 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        if self.vignetting == "flat":
            from scipy.ndimage import map_coordinates

            g = self.flat_gain.mean(axis=0)
            i = (np.asarray(row, float) - 0.5) / 2.0
            j = (np.asarray(col, float) - 0.5) / 2.0
            return 1.0 / map_coordinates(g, [np.ravel(i), np.ravel(j)], order=1, mode="nearest").reshape(np.shape(i))
        return np.ones(np.broadcast(np.asarray(col), np.asarray(row)).shape)

    def plane_gain(self, plane_offset: tuple[int, int], shape: tuple[int, int], plane_index: int = 0) -> np.ndarray:
        """Flat-field gain (1/V) for the Bayer plane whose pixel (i, j) is sensor pixel
        (col, row) = (2j + dx, 2i + dy), ``plane_offset`` = (dx, dy); float32 of ``shape``."""
        h2, w2 = shape
        if self.vignetting == "flat":
            return self.flat_gain[plane_index]
        if self.vignetting != "lensfun":
            return np.ones(shape, np.float32)
        dx, dy = plane_offset
        cx, cy = self.center_px
        s2 = np.float32(1.0 / self.vignetting_scale_px**2)
        x2 = ((2.0 * np.arange(w2) + dx - cx) ** 2).astype(np.float32) * s2
        y2 = ((2.0 * np.arange(h2) + dy - cy) ** 2).astype(np.float32) * s2
        r2 = y2[:, None] + x2[None, :]
        k1, k2, k3 = (np.float32(k) for k in self.vignetting_terms)
        v = r2 * k3
        v += k2
        v *= r2
        v += k1
        v *= r2
        v += np.float32(1.0)
        np.reciprocal(v, out=v)
        return v

    # -- distortion ----------------------------------------------------------------------------
    def _radial_factor(self, ru):
        t = self.distortion_terms
        if self.distortion_model == "ptlens":
            a, b, c = t
            return a * ru**3 + b * ru**2 + c * ru + 1.0 - a - b - c
        if self.distortion_model == "poly3":
            (k1,) = t[:1]
            return 1.0 - k1 + k1 * ru**2
        if self.distortion_model == "poly5":
            k1, k2 = t[:2]
            return 1.0 + k1 * ru**2 + k2 * ru**4
        return np.ones_like(ru)

    def distort(self, col_u, row_u):
        """Ideal (pinhole) sensor pixels -> pixels of the photo."""
        col_u = np.asarray(col_u, float)
        row_u = np.asarray(row_u, float)
        if self.distortion != "lensfun":
            return col_u, row_u
        cx, cy = self.center_px
        s = self.distortion_scale_px
        x = (col_u - cx) / s
        y = (row_u - cy) / s
        with np.errstate(over="ignore", invalid="ignore"):
            f = self._radial_factor(np.hypot(x, y))
            return cx + x * f * s, cy + y * f * s

    def undistort(self, col_d, row_d, iterations: int = 30):
        """Pixels of the photo -> ideal (pinhole) pixels (fixed-point inversion of :meth:`distort`)."""
        col_d = np.asarray(col_d, float)
        row_d = np.asarray(row_d, float)
        if self.distortion != "lensfun":
            return col_d, row_d
        cu, ru_ = col_d.copy(), row_d.copy()
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(iterations):
                c2, r2 = self.distort(cu, ru_)
                cu += col_d - c2
                ru_ += row_d - r2
        return cu, ru_

    def area_factor(self, col_d, row_d, eps_px: float = 0.5) -> np.ndarray:
        """Area of one photo pixel in ideal pixels (|det| of d(undistorted)/d(distorted))."""
        if self.distortion != "lensfun":
            return np.ones(np.broadcast(np.asarray(col_d), np.asarray(row_d)).shape)
        c = np.asarray(col_d, float)
        r = np.asarray(row_d, float)
        x1, y1 = self.undistort(c + eps_px, r)
        x0, y0 = self.undistort(c - eps_px, r)
        x3, y3 = self.undistort(c, r + eps_px)
        x2, y2 = self.undistort(c, r - eps_px)
        j11, j21 = (x1 - x0) / (2 * eps_px), (y1 - y0) / (2 * eps_px)
        j12, j22 = (x3 - x2) / (2 * eps_px), (y3 - y2) / (2 * eps_px)
        return np.abs(j11 * j22 - j12 * j21)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "vignetting": self.vignetting,
            "distortion": self.distortion,
            "vignetting_model": "pa" if self.vignetting == "lensfun" else None,
            "vignetting_terms": list(self.vignetting_terms) if self.vignetting_terms else None,
            "distortion_model": self.distortion_model,
            "distortion_terms": list(self.distortion_terms) if self.distortion_terms else None,
            "center_px": list(self.center_px),
            "vignetting_scale_px": self.vignetting_scale_px,
            "distortion_scale_px": self.distortion_scale_px,
            "unknown_lens": self.unknown_lens,
            "notes": list(self.notes),
        }


def no_lens_correction(width_px: int, height_px: int, reason: str, unknown_lens: str | None = None) -> LensModel:
    return LensModel(width_px, height_px, source=f"none ({reason})", notes=(reason,), unknown_lens=unknown_lens)


#: mount and autofocus families of Nikon lens names (the longest first, for the search)
_FAMILIES = ("af-s", "af-p", "af-i", "ai-s", "af", "ai", "z")
_ROMAN = {"ii": 2, "iii": 3, "iv": 4}


def _lens_key(name: str) -> dict:
    """What identifies a lens in its name: focal range, aperture, the type letter after the
    f-number (D, G, E), the mount family (AF-S, AF-P, AF, AI-S, AI, Z), the version (II, III) and a
    teleconverter; None where the name does not say."""
    import re

    t = " " + str(name).lower().replace("zoom-nikkor", "nikkor").replace(",", " ") + " "
    key: dict = {}
    m = re.search(r"(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?))?\s*mm", t)
    if m:
        lo = float(m.group(1))
        key["focal"] = (lo, float(m.group(2)) if m.group(2) else lo)
    m = re.search(r"\bf\s*/?\s*(\d+(?:\.\d+)?)(?:\s*-\s*(\d+(?:\.\d+)?))?([a-z]?)\b", t)
    if m:
        key["aperture"] = float(m.group(1))
        key["type"] = m.group(3) or None
    for fam in _FAMILIES:
        if re.search(r"(?<![a-z-])" + re.escape(fam) + r"(?![a-z-])", t):
            key["family"] = fam
            break
    key["version"] = max([v for k, v in _ROMAN.items() if re.search(r"\b" + k + r"\b", t)], default=1)
    key["converter"] = bool(re.search(r"converter|\btc-?\d", t))
    return key


def same_lens(exif_name: str, profile_name: str) -> tuple[bool, str]:
    """Whether a lens profile's name denotes the lens named in EXIF: focal range and aperture
    agree, and the type letter (D/G/E) and mount family agree where both names give them; the
    version (II, III) and a teleconverter must agree. Returns (same, why not).

    >>> same_lens("AF-S NIKKOR 28mm f/1.4E ED", "AF Nikkor 28mm f/1.4D")
    (False, 'type f/1.4E, not f/1.4D')
    >>> same_lens("AF-S Zoom-Nikkor 24-70mm f/2.8G ED", "AF-S Zoom-Nikkor 24-70mm f/2.8G ED")[0]
    True
    """
    a, b = _lens_key(exif_name), _lens_key(profile_name)
    if "focal" in a and "focal" in b and any(abs(x - y) > 0.5 for x, y in zip(a["focal"], b["focal"])):
        return False, "focal length " + "-".join(f"{x:g}" for x in a["focal"]) + " mm, not " + "-".join(
            f"{x:g}" for x in b["focal"]
        ) + " mm"
    if "aperture" in a and "aperture" in b and abs(a["aperture"] - b["aperture"]) > 0.05:
        return False, f"f/{a['aperture']:g}, not f/{b['aperture']:g}"
    if a.get("type") and b.get("type") and a["type"] != b["type"]:
        ap = f"f/{a.get('aperture', 0):g}"
        return False, f"type {ap}{a['type'].upper()}, not {ap}{b['type'].upper()}"
    if a.get("family") and b.get("family") and a["family"] != b["family"]:
        return False, f"{a['family'].upper()}, not {b['family'].upper()}"
    if a["version"] != b["version"]:
        return False, f"version {a['version']}, not {b['version']}"
    if a["converter"] != b["converter"]:
        return False, "with a teleconverter" if b["converter"] else "without the teleconverter"
    return True, ""


def lens_from_lensfun(
    camera_make: str | None,
    camera_model: str | None,
    lens_make: str | None,
    lens_model: str | None,
    *,
    focal_mm: float,
    f_number: float,
    width_px: int,
    height_px: int,
    warn: bool = True,
) -> LensModel:
    """Vignetting and distortion from the lensfun database for the EXIF camera and lens.

    Falls back to no correction, with the reason in ``notes``, when lensfunpy is missing or the
    camera or lens is not in the database (the caller may then use a user flat field). A lens
    that lensfun does not know is never replaced by the nearest name in the database when that
    is another lens (:func:`same_lens`): it is reported in ``unknown_lens`` and the notes, and
    with ``warn`` as an :class:`UnknownLensWarning`.
    """
    ok, why = lensfun_available()
    if not ok:
        return no_lens_correction(width_px, height_px, why)
    if not lens_model:
        return no_lens_correction(width_px, height_px, "no lens named in EXIF")
    db = _database()
    cams = db.find_cameras(camera_make or "", camera_model or "", loose_search=True) if camera_model else []
    if not cams:
        return no_lens_correction(
            width_px, height_px, f"camera {camera_make} {camera_model} not in the lensfun database"
        )
    cam = cams[0]
    found = db.find_lenses(cam, lens_make or None, lens_model, loose_search=True)
    if not found:
        found = db.find_lenses(cam, None, lens_model, loose_search=True)
    # lensfun's loose search returns the nearest name, which can be another lens (an AF 28mm
    # f/1.4D for an AF-S 28mm f/1.4E): keep only profiles of the lens named
    lenses = [lf for lf in found if same_lens(lens_model, lf.model)[0]]
    if not lenses:
        nearest = ""
        if found:
            why = same_lens(lens_model, found[0].model)[1]
            nearest = f" (the nearest entry, {found[0].model!r}, is another lens: {why})"
        reason = f"lens {lens_model!r} is not in the lensfun database{nearest}: no vignetting or distortion profile"
        if warn:
            import warnings

            warnings.warn(reason, UnknownLensWarning, stacklevel=2)
        return no_lens_correction(width_px, height_px, reason, unknown_lens=str(lens_model))
    lens = lenses[0]
    notes = []
    if len(lenses) > 1 and lenses[1].score == lens.score:
        notes.append(
            f"lens {lens_model!r} is ambiguous in lensfun ({lens.model!r} or {lenses[1].model!r}); used {lens.model!r}"
        )
    if not (lens.min_focal - 0.5 <= focal_mm <= (lens.max_focal or lens.min_focal) + 0.5):
        notes.append(f"focal length {focal_mm:g} mm outside the lens' range {lens.min_focal:g}-{lens.max_focal:g} mm")
    crop = float(cam.crop_factor) / float(lens.crop_factor or cam.crop_factor)
    w, h = int(width_px), int(height_px)
    half_diag = 0.5 * np.hypot(w - 1, h - 1) * crop
    half_short = 0.5 * (min(w, h) - 1) * crop
    center = (
        (w - 1) / 2.0 + float(lens.center_x or 0.0) * half_short,
        (h - 1) / 2.0 + float(lens.center_y or 0.0) * half_short,
    )
    vig = dist = None
    try:
        vig = lens.interpolate_vignetting(float(focal_mm), float(f_number), LENSFUN_DISTANCE_M)
    except Exception:  # noqa: BLE001 - lensfunpy raises plain errors for missing calibrations
        vig = None
    try:
        dist = lens.interpolate_distortion(float(focal_mm))
    except Exception:  # noqa: BLE001
        dist = None
    vterms = None
    if vig is not None and getattr(vig.model, "name", str(vig.model)).upper().endswith("PA"):
        vterms = tuple(float(x) for x in vig.terms[:3])
    else:
        notes.append(f"lensfun has no vignetting calibration for {lens.model} at {focal_mm:g} mm f/{f_number:g}")
    dmodel, dterms = None, ()
    if dist is not None:
        name = getattr(dist.model, "name", str(dist.model)).upper()
        for key in ("PTLENS", "POLY3", "POLY5"):
            if name.endswith(key):
                dmodel, dterms = key.lower(), tuple(float(x) for x in dist.terms)
    if dmodel is None:
        notes.append(f"lensfun has no usable distortion calibration for {lens.model} at {focal_mm:g} mm")
    parts = [
        f"lensfun {_version()}: {lens.maker} {lens.model} on {cam.maker} {cam.model} at {focal_mm:g} mm f/{f_number:g}"
    ]
    parts.append("vignetting PA k=(" + ", ".join(f"{k:.5g}" for k in vterms) + ")" if vterms else "no vignetting data")
    parts.append(
        f"distortion {dmodel} (" + ", ".join(f"{k:.5g}" for k in dterms) + ")" if dmodel else "no distortion data"
    )
    return LensModel(
        w,
        h,
        source="; ".join(parts),
        vignetting="lensfun" if vterms else "none",
        distortion="lensfun" if dmodel else "none",
        vignetting_terms=vterms,
        distortion_model=dmodel,
        distortion_terms=dterms,
        center_px=center,
        vignetting_scale_px=float(half_diag),
        distortion_scale_px=float(half_short),
        notes=tuple(notes),
    )


def _version() -> str:
    import lensfunpy

    return getattr(lensfunpy, "__version__", "")


def flat_field_gain(
    flat_planes: np.ndarray,
    *,
    smooth_px: float = 6.0,
    center_px: tuple[float, float] | None = None,
    fit_radius_fraction: float = 0.3,
) -> np.ndarray:
    """Per-plane gain (4, h, w) float32 from a flat-field frame's dark-subtracted Bayer planes.

    Each plane is smoothed (Gaussian, ``smooth_px`` plane pixels: vignetting is smooth, the flat's
    photon noise is not), normalised to its value **on the optical axis** and inverted, so that the
    gain is 1 on the axis as with lensfun's profiles (the calibration refers fluxes to the axis).
    The on-axis value is the constant of a fit ``c0 + c1 x + c2 y + c3 r^2 + c4 r^4`` to the
    smoothed plane within ``fit_radius_fraction`` of the half diagonal of ``center_px`` (the
    optical centre, full-resolution sensor pixels; default the image centre): the mean over a
    central area would refer the constants to that area's mean vignetting (0.5-1 % low for fast
    lenses). Non-positive values (a dead flat) give gain NaN.
    """
    from scipy.ndimage import gaussian_filter

    planes = np.asarray(flat_planes, dtype=np.float32)
    out = np.empty_like(planes)
    h, w = planes.shape[1:]
    cx, cy = center_px if center_px is not None else (w - 0.5, h - 0.5)  # sensor px: (2w - 1) / 2
    jc, ic = (cx - 0.5) / 2.0, (cy - 0.5) / 2.0  # plane pixels (the 2x2 offsets are far below the scale)
    half_diag = 0.5 * np.hypot(w, h)
    rad = max(fit_radius_fraction * half_diag, 4.0)
    step = max(1, int(rad // 60))  # ~(2 * 60)^2 samples are plenty for five terms
    i0, i1 = max(0, int(ic - rad)), min(h, int(ic + rad) + 1)
    j0, j1 = max(0, int(jc - rad)), min(w, int(jc + rad) + 1)
    ii, jj = np.mgrid[i0:i1:step, j0:j1:step]
    x, y = (jj - jc) / half_diag, (ii - ic) / half_diag
    r2 = x * x + y * y
    disc = r2 <= (rad / half_diag) ** 2
    design = np.column_stack([np.ones(disc.sum()), x[disc], y[disc], r2[disc], r2[disc] ** 2])
    for k in range(planes.shape[0]):
        s = gaussian_filter(planes[k], smooth_px, mode="nearest")
        vals = s[ii, jj][disc].astype(float)
        ok = np.isfinite(vals)
        coef, *_ = np.linalg.lstsq(design[ok], vals[ok], rcond=None)
        c = float(coef[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(s > 0, c / s, np.nan).astype(np.float32)
        out[k] = g
    return out
