"""A before/after flood pair with a known answer, on a real background: one of the bundled
localization reference images (true colour, north-up, known bounds), scaled to reflectance, a NIR
band synthesised from the colours (vegetation bright, the scene's own dark bluish water dark), and a
flood painted into the 'after' image: a smooth random field thresholded to ``fraction`` of the
frame, turbid flood-water reflectances with texture, blended over ~2 pixels at the edges. The two
dates differ by a gain, an offset and noise, as two acquisitions would.

Active fires of known position painted into a real thermal scene: :func:`paint_fires`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FloodPair", "PaintedFires", "flood_pair", "paint_fires", "square_coverage", "write_flood_pair"]

#: turbid flood water (R, G, B, NIR reflectance)
FLOOD_WATER = (0.07, 0.08, 0.06, 0.03)


@dataclass(frozen=True)
class FloodPair:
    """``before``/``after`` (4, rows, cols) float32 R, G, B, NIR; ``truth`` the flooded pixels;
    ``transform`` (GDAL six) in EPSG:4326."""

    before: np.ndarray
    after: np.ndarray
    truth: np.ndarray
    transform: tuple[float, float, float, float, float, float]


def flood_pair(reference_jpg: str | Path, *, fraction: float = 0.12, seed: int = 0) -> FloodPair:
    """The pair on the reference image ``reference_jpg`` (its ``case.json`` beside it gives the bounds)."""
    from PIL import Image
    from scipy import ndimage

    path = Path(reference_jpg)
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0 * 0.4
    box = json.loads((path.parent / "case.json").read_text())["reference_bounds"]
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    bright = (r + g + b) / 3.0
    own_water = (b >= r) & (bright < 0.06)
    nir = np.where(own_water, 0.4 * bright, 0.12 + 1.2 * bright + 1.5 * np.maximum(g - r, 0.0))
    stack = np.stack([r, g, b, nir]).astype(np.float32)
    rows, cols = r.shape
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=(rows, cols)), 40)
    t = np.quantile(field, 1.0 - fraction)
    blend = np.clip((field - t) / (4 * field.std() / 40) + 0.5, 0.0, 1.0).astype(np.float32)
    water = np.asarray(FLOOD_WATER, np.float32)[:, None, None] * (
        1.0 + 0.15 * rng.normal(size=(1, rows, cols)).astype(np.float32)
    )
    flooded = stack * (1.0 - blend) + water * blend
    before = (1.05 * stack + 0.005 + rng.normal(0, 0.004, stack.shape)).astype(np.float32)
    after = (0.97 * flooded - 0.003 + rng.normal(0, 0.004, stack.shape)).astype(np.float32)
    res_x = (box["east"] - box["west"]) / cols
    res_y = (box["north"] - box["south"]) / rows
    return FloodPair(before, after, (blend > 0.5) & ~own_water, (res_x, 0.0, box["west"], 0.0, -res_y, box["north"]))


def write_flood_pair(pair: FloodPair, folder: str | Path, *, times: tuple[str, str] | None = None) -> dict[str, Path]:
    """``before.tif``, ``after.tif`` (4-band GeoTIFFs with band descriptions red, green, blue, nir)
    and ``truth.tif`` (uint8) into ``folder``; ``times`` (before, after) as TIFF date-time tags."""
    import rasterio
    from rasterio.transform import Affine

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, data in (("before", pair.before), ("after", pair.after), ("truth", pair.truth[None].astype(np.uint8))):
        p = folder / f"{name}.tif"
        with rasterio.open(
            p, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
            dtype=data.dtype.name, crs="EPSG:4326", transform=Affine(*pair.transform), compress="deflate",
        ) as ds:  # fmt: skip
            ds.write(data)
            if name != "truth":
                ds.descriptions = ("red", "green", "blue", "nir")
                if times:
                    stamp = times[0 if name == "before" else 1]
                    ds.update_tags(TIFFTAG_DATETIME=stamp.replace("-", ":").replace("T", " ").rstrip("Z")[:19])
        out[name] = p
    return out


# --- active fires painted into a real thermal scene ------------------------------------------

#: ECOSTRESS TIR band 4 centre (µm); its bands are 8.29, 8.78, 9.20, 10.49 and 12.09 µm
ECOSTRESS_BAND_UM = 10.49


@dataclass(frozen=True)
class PaintedFires:
    """``brightness_k`` the scene with the fires (K, NaN kept); ``fraction`` the fire fraction of
    each pixel; ``labels`` (int32) fire ``k + 1`` on the pixels its footprint touches, 0 elsewhere;
    per fire: ``temperature_k``, ``area_px`` (area in pixels, may be < 1), ``centre_px`` (col, row),
    ``on_hot`` (placed among the scene's hottest pixels)."""

    brightness_k: np.ndarray
    fraction: np.ndarray
    labels: np.ndarray
    temperature_k: np.ndarray
    area_px: np.ndarray
    centre_px: np.ndarray
    on_hot: np.ndarray


def square_coverage(x0: float, x1: float, y0: float, y1: float, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The fraction of each pixel (centres ``rows`` x ``cols``, unit size) covered by the rectangle
    [x0, x1] x [y0, y1] in pixel coordinates (an outer product of the 1-D overlaps).

    >>> square_coverage(-0.5, 0.5, -0.25, 0.25, np.arange(2), np.arange(1)).tolist()
    [[0.5, 0.0]]
    """
    ox = np.clip(np.minimum(cols + 0.5, x1) - np.maximum(cols - 0.5, x0), 0.0, 1.0)
    oy = np.clip(np.minimum(rows + 0.5, y1) - np.maximum(rows - 0.5, y0), 0.0, 1.0)
    return oy[:, None] * ox[None, :]


def paint_fires(
    brightness_k: np.ndarray,
    *,
    n_fires: int,
    seed: int = 0,
    area_px: tuple[float, float] = (0.001, 25.0),
    temperature_k: tuple[float, float] = (600.0, 1200.0),
    wavelength_um: float = ECOSTRESS_BAND_UM,
    hot_share: float = 0.5,
    hot_quantile: float = 0.9,
    allowed: np.ndarray | None = None,
    spacing_px: int = 25,
) -> PaintedFires:
    """Fires of known position painted into a brightness-temperature scene (rows, cols, K).

    Each fire is a square of area ``area_px`` pixels (log-uniform in the range: from a small
    fraction of a pixel to several pixels) at a random sub-pixel position, of a temperature drawn
    uniformly in ``temperature_k``. Every pixel it covers by the fraction ``p`` mixes at the band
    wavelength after Dozier (1981): ``L = p B(T_fire) + (1 - p) B(T_pixel)``, then back to a
    brightness temperature by the inverse Planck function. ``hot_share`` of the fires are placed
    on pixels above the scene's ``hot_quantile`` (hot roofs, industry: where false alarms are
    made), the rest anywhere ``allowed`` (valid land), at least ``spacing_px`` apart. No point
    spread function and no sensor saturation (a fire pixel keeps its mixed value).
    """
    from cupola.thermal.planck import planck_radiance, planck_temperature

    t = np.asarray(brightness_k, dtype=np.float64)
    rows, cols = t.shape
    ok = np.isfinite(t) if allowed is None else np.isfinite(t) & np.asarray(allowed, bool)
    margin = 8
    ok[:margin], ok[-margin:], ok[:, :margin], ok[:, -margin:] = False, False, False, False
    if not ok.any():
        raise ValueError("paint_fires: no pixel where a fire may be placed")
    hot = ok & (t > np.nanquantile(t[ok], hot_quantile))
    rng = np.random.default_rng(seed)
    taken = np.zeros((rows, cols), bool)
    fraction = np.zeros((rows, cols))
    fire_l = np.zeros((rows, cols))
    labels = np.zeros((rows, cols), np.int32)
    temps, areas, centres, on_hot = [], [], [], []
    for k in range(n_fires):
        want_hot = rng.random() < hot_share
        pool = np.flatnonzero(hot & ~taken) if want_hot else np.empty(0, np.intp)
        if pool.size == 0:  # not asked for, or no hot pixel left (a uniform scene)
            want_hot = False
            pool = np.flatnonzero(ok & ~taken)
        if pool.size == 0:
            break
        idx = int(pool[rng.integers(pool.size)])
        r0, c0 = divmod(idx, cols)
        area = float(np.exp(rng.uniform(np.log(area_px[0]), np.log(area_px[1]))))
        tf = float(rng.uniform(*temperature_k))
        x = c0 + rng.uniform(-0.5, 0.5)
        y = r0 + rng.uniform(-0.5, 0.5)
        half = 0.5 * np.sqrt(area)
        c_lo, c_hi = max(int(np.floor(x - half)) - 1, 0), min(int(np.ceil(x + half)) + 2, cols)
        r_lo, r_hi = max(int(np.floor(y - half)) - 1, 0), min(int(np.ceil(y + half)) + 2, rows)
        cover = square_coverage(x - half, x + half, y - half, y + half, np.arange(c_lo, c_hi), np.arange(r_lo, r_hi))
        box = (slice(r_lo, r_hi), slice(c_lo, c_hi))
        fraction[box] += cover
        fire_l[box] += cover * planck_radiance(wavelength_um, tf)
        labels[box] = np.where(cover > 0, k + 1, labels[box])
        s0, s1 = max(r0 - spacing_px, 0), max(c0 - spacing_px, 0)
        taken[s0 : r0 + spacing_px + 1, s1 : c0 + spacing_px + 1] = True
        temps.append(tf)
        areas.append(area)
        centres.append((x, y))
        on_hot.append(want_hot)
    p = np.clip(fraction, 0.0, 1.0)
    with np.errstate(invalid="ignore"):
        mixed = fire_l + (1.0 - p) * planck_radiance(wavelength_um, t)
        out = np.where(p > 0, planck_temperature(wavelength_um, mixed), t)
    return PaintedFires(
        out.astype(np.float32),
        p.astype(np.float32),
        labels,
        np.asarray(temps),
        np.asarray(areas),
        np.asarray(centres, dtype=np.float64).reshape(-1, 2),
        np.asarray(on_hot, bool),
    )
