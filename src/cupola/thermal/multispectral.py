"""Spectral indices of a band stack (a multi-band GeoTIFF, separate band files, or a photo's RGB),
after band-to-band coregistration.

Indices (normalized differences, −1..1), each computed only when its bands are there:

========= ======================== =========================================================
name      formula                  reference
========= ======================== =========================================================
ndvi      (NIR − R) / (NIR + R)     Rouse et al. 1974 (NASA SP-351); Tucker 1979
ndwi      (G − NIR) / (G + NIR)     McFeeters 1996, Int. J. Remote Sens. 17(7) 1425-1432
mndwi     (G − SWIR1) / (G + SWIR1) Xu 2006, Int. J. Remote Sens. 27(14) 3025-3033
nbr       (NIR − SWIR2)/(NIR+SWIR2) Key & Benson 2006 (USDA RMRS-GTR-164-CD, FIREMON)
========= ======================== =========================================================

RGB-only **proxies** where there is no NIR or SWIR (an astronaut photo), flagged ``proxy: true``
in every product: they respond to greenness seen in visible light, not to the NIR plateau, and do
not replace NDVI; there is no RGB proxy for water or burn indices that we know to be reliable:

========= ======================== =========================================================
vari      (G − R) / (G + R − B)     Gitelson et al. 2002, Remote Sens. Environ. 80, 76-87
ngrdi     (G − R) / (G + R)         Tucker 1979, Remote Sens. Environ. 8, 127-150
exg       2g − r − b (chromatic)    Woebbecke et al. 1995, Trans. ASAE 38(1) 259-269
========= ======================== =========================================================

Bands are coregistered to the reference band (red, else the first) by phase correlation
(:mod:`.coregister`) when asked; bands on different grids are refused unless coregistration is
asked for, and then resampled onto the reference grid (bilinear) before the sub-pixel alignment.

>>> import numpy as np
>>> bands = {"red": np.full((4, 4), 0.1), "nir": np.full((4, 4), 0.5), "green": np.full((4, 4), 0.2)}
>>> out = compute_indices(bands)
>>> sorted(out), round(float(out["ndvi"].values[0, 0]), 4), out["ndvi"].proxy
(['ndvi', 'ndwi'], 0.6667, False)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cupola.errors import InputError

__all__ = ["Index", "INDICES", "RGB_PROXIES", "BAND_ROLES", "compute_indices", "normalized_difference", "coregister"]

BAND_ROLES = ("blue", "green", "red", "nir", "swir1", "swir2")

#: name -> (a, b, formula, reference): (a − b) / (a + b)
INDICES: dict[str, tuple[str, str, str, str]] = {
    "ndvi": ("nir", "red", "(NIR - R) / (NIR + R)", "Rouse et al. 1974; Tucker 1979"),
    "ndwi": ("green", "nir", "(G - NIR) / (G + NIR)", "McFeeters 1996"),
    "mndwi": ("green", "swir1", "(G - SWIR1) / (G + SWIR1)", "Xu 2006"),
    "nbr": ("nir", "swir2", "(NIR - SWIR2) / (NIR + SWIR2)", "Key & Benson 2006"),
}
RGB_PROXIES: dict[str, tuple[str, str]] = {
    "vari": ("(G - R) / (G + R - B)", "Gitelson et al. 2002"),
    "ngrdi": ("(G - R) / (G + R)", "Tucker 1979"),
    "exg": ("2g - r - b, chromatic coordinates", "Woebbecke et al. 1995"),
}


@dataclass(frozen=True)
class Index:
    """An index image (float32, NaN where undefined) with its formula, reference and proxy flag."""

    name: str
    values: np.ndarray
    formula: str
    reference: str
    proxy: bool

    def to_dict(self) -> dict:
        v = self.values[np.isfinite(self.values)]
        return {
            "name": self.name,
            "formula": self.formula,
            "reference": self.reference,
            "proxy": self.proxy,
            "note": "RGB-only proxy: not a substitute for the NIR/SWIR index" if self.proxy else "",
            "mean": float(v.mean()) if v.size else None,
            "valid_fraction": float(v.size / self.values.size) if self.values.size else 0.0,
        }


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a − b) / (a + b), NaN where the sum is 0 or an input is NaN."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    s = a + b
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(s != 0, (a - b) / s, np.nan)
    return out.astype(np.float32)


def compute_indices(bands: dict[str, np.ndarray]) -> dict[str, Index]:
    """Every index of :data:`INDICES` whose bands are in ``bands`` (role -> image); the RGB proxies
    when there is no NIR band and red, green and blue are there."""
    unknown = set(bands) - set(BAND_ROLES)
    if unknown:
        raise InputError(f"unknown band role(s) {', '.join(sorted(unknown))}; use {', '.join(BAND_ROLES)}")
    shapes = {np.shape(v) for v in bands.values()}
    if len(shapes) > 1:
        raise InputError(f"bands of different sizes {sorted(shapes)}; coregister them onto one grid first")
    out: dict[str, Index] = {}
    for name, (a, b, formula, ref) in INDICES.items():
        if a in bands and b in bands:
            out[name] = Index(name, normalized_difference(bands[a], bands[b]), formula, ref, False)
    if "nir" not in bands and all(k in bands for k in ("red", "green", "blue")):
        r, g, bl = (np.asarray(bands[k], dtype=np.float64) for k in ("red", "green", "blue"))
        with np.errstate(invalid="ignore", divide="ignore"):
            den = g + r - bl
            vari = np.where(np.abs(den) > 1e-9, (g - r) / den, np.nan)
            total = r + g + bl
            exg = np.where(total > 0, (2 * g - r - bl) / total, np.nan)
        vari = np.clip(vari, -1.0, 1.0)  # VARI is unbounded where G + R ~ B; clipped to the index range
        for name, values in (("vari", vari), ("ngrdi", normalized_difference(g, r)), ("exg", exg)):
            formula, ref = RGB_PROXIES[name]
            out[name] = Index(name, np.asarray(values, dtype=np.float32), formula, ref, True)
    if not out:
        raise InputError(
            f"bands {', '.join(sorted(bands))}: no index can be computed; NDVI needs red and nir, NDWI green and "
            "nir, MNDWI green and swir1, NBR nir and swir2, the RGB proxies red, green and blue"
        )
    return out


def coregister(bands: dict[str, np.ndarray], reference: str | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Every band aligned on ``reference`` (default red, else the first) by phase correlation;
    returns the aligned bands and the shift of each (pixels) with its correlation peak."""
    from cupola.thermal.coregister import apply_shift, phase_correlation

    if not bands:
        raise InputError("no band to coregister")
    ref = reference or ("red" if "red" in bands else next(iter(bands)))
    if ref not in bands:
        raise InputError(f"`reference` band {ref!r} is not in the stack ({', '.join(bands)})")
    out = {ref: np.asarray(bands[ref], dtype=np.float64)}
    shifts: dict = {ref: {"dx_px": 0.0, "dy_px": 0.0, "peak": 1.0, "reference": True}}
    for name, img in bands.items():
        if name == ref:
            continue
        s = phase_correlation(out[ref], img)
        out[name] = apply_shift(img, -s.dx_px, -s.dy_px)
        shifts[name] = {**s.to_dict(), "reference": False, "surface": s.surface}
    return out, shifts
