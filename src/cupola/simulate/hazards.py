"""A before/after flood pair with a known answer, on a real background: one of the bundled
localization reference images (true colour, north-up, known bounds), scaled to reflectance, a NIR
band synthesised from the colours (vegetation bright, the scene's own dark bluish water dark), and a
flood painted into the 'after' image: a smooth random field thresholded to ``fraction`` of the
frame, turbid flood-water reflectances with texture, blended over ~2 pixels at the edges. The two
dates differ by a gain, an offset and noise, as two acquisitions would.

A flood painted into a real astronaut photo that is not georeferenced (the 'after' that
``cupola hazards ... --reference`` locates first): :func:`flood_photo`; its truth carried onto the
located grid by the located homography: :func:`mask_on_grid`.

Active fires of known position painted into a real thermal scene: :func:`paint_fires`. A volcanic
ash plume and water clouds in a real thermal scene made a split-window pair:
:func:`thermal_plume_scene` (:func:`write_plume_pair`). Fires and new street lights painted into a
real night frame: :func:`paint_night_fires` (:func:`write_night_pair` puts the pair on a north-up
grid from the frame's tie points). The benchmark (benchmarks/bench_hazards.py) and ``make demo``
use the same painters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "FloodPair",
    "FloodedPhoto",
    "NightFireScene",
    "PaintedFires",
    "ThermalPlumeScene",
    "flood_pair",
    "flood_photo",
    "mask_on_grid",
    "score_located_flood",
    "write_located_flood_case",
    "night_background",
    "north_up_nearest",
    "paint_fires",
    "paint_night_fires",
    "smooth_field",
    "soft_blobs",
    "square_coverage",
    "thermal_plume_scene",
    "through_layer_k",
    "tie_point_affine",
    "toa_brightness_k",
    "write_flood_pair",
    "write_night_pair",
    "write_plume_pair",
]

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


@dataclass(frozen=True)
class FloodedPhoto:
    """``photo`` (rows, cols, 3) uint8 with the flood painted in; ``truth`` (rows, cols) bool, the
    flooded pixels (the photo's own dark bluish water left out)."""

    photo: np.ndarray
    truth: np.ndarray


def flood_photo(rgb8: np.ndarray, *, fraction: float = 0.12, seed: int = 0) -> FloodedPhoto:
    """A flood painted into a real photo in its own brightness scale: smooth random blobs over
    ~``fraction`` of the frame (:func:`soft_blobs`, correlation length 1/25 of the long side),
    turbid water (:data:`FLOOD_WATER`) relative to the photo's median taken as land of reflectance
    0.2, on top of the photo's dark-object level per band (its 0.5 % quantile: the haze a real flood
    would be seen through), 15 % texture."""
    rgb = np.asarray(rgb8, dtype=np.float32)[..., :3]
    rows, cols = rgb.shape[:2]
    rng = np.random.default_rng(seed)
    flat = rgb.reshape(-1, 3)
    dark = np.percentile(flat, 0.5, axis=0)
    median = np.median(flat, axis=0)
    bright = rgb.mean(axis=-1)
    own_water = (rgb[..., 2] >= rgb[..., 0]) & (bright < dark.mean() + 0.15 * (median.mean() - dark.mean()))
    blend = soft_blobs((rows, cols), rng, fraction, max(rows, cols) / 25.0)[..., None]
    water = dark + (median - dark) * np.asarray(FLOOD_WATER[:3], np.float32) / 0.2
    texture = 1.0 + 0.15 * rng.normal(size=(rows, cols, 1)).astype(np.float32)
    painted = rgb * (1.0 - blend) + water * texture * blend
    return FloodedPhoto(np.clip(np.rint(painted), 0, 255).astype(np.uint8), (blend[..., 0] > 0.5) & ~own_water)


def mask_on_grid(mask, h_photo_to_ref, ref_transform, grid_transform, grid_shape: tuple[int, int]) -> np.ndarray:
    """A mask in photo pixels carried onto a georeferenced grid (nearest pixel): each grid pixel's
    centre goes through the reference's geotransform to reference pixels and through the inverse
    of the located homography (photo pixels -> reference pixels) to the photo; outside: False.
    Transforms are rasterio ``Affine`` objects (or GDAL six-tuples) in the same CRS."""
    from rasterio.transform import Affine

    rt = ref_transform if isinstance(ref_transform, Affine) else Affine(*ref_transform[:6])
    gt = grid_transform if isinstance(grid_transform, Affine) else Affine(*grid_transform[:6])
    rows, cols = np.mgrid[0 : grid_shape[0], 0 : grid_shape[1]]
    x, y = gt * (cols.ravel() + 0.5, rows.ravel() + 0.5)
    c, r = ~rt * (x, y)
    p = np.linalg.inv(np.asarray(h_photo_to_ref, float)) @ np.stack([c - 0.5, r - 0.5, np.ones(c.size)])
    with np.errstate(divide="ignore", invalid="ignore"):
        px, py = np.rint(p[0] / p[2]), np.rint(p[1] / p[2])
    m = np.asarray(mask, bool)
    inside = np.isfinite(px) & np.isfinite(py) & (px >= 0) & (py >= 0) & (px < m.shape[1]) & (py < m.shape[0])
    out = np.zeros(c.size, bool)
    out[inside] = m[py[inside].astype(int), px[inside].astype(int)]
    return out.reshape(grid_shape)


def write_located_flood_case(
    case_dir: str | Path, folder: str | Path, *, seed: int, fraction: float = 0.12
) -> tuple[Path, Path, np.ndarray]:
    """The inputs of ``cupola hazards flood REF PHOTO --reference REF`` made from a bundled
    localization case (``case_dir`` with ``case.json``): its reference as a north-up GeoTIFF
    (``folder/reference.tif``) and its photo, not georeferenced, with a flood painted in
    (:func:`flood_photo`, ``folder/after.jpg``, JPEG quality 92). Returns the two paths and the
    truth mask in photo pixels."""
    from PIL import Image

    from cupola.io.geotiff import write_lonlat_geotiff
    from cupola.simulate.locate_cases import read_base_case

    case = read_base_case(Path(case_dir))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    reference = write_lonlat_geotiff(folder / "reference.tif", case.reference, case.bounds)
    painted = flood_photo(case.photo, fraction=fraction, seed=seed)
    after = folder / "after.jpg"
    Image.fromarray(painted.photo).save(after, quality=92)
    return reference, after, painted.truth


def score_located_flood(products: str | Path, reference: str | Path, truth_photo_px: np.ndarray) -> dict[str, float]:
    """Score the products of ``cupola hazards flood ... --reference REF`` against the flood painted
    into the photo (``truth_photo_px``, photo pixels): the truth carried onto the located grid by
    the located homography (``products/located/result.json``; :func:`mask_on_grid`), both restricted
    to the pixels with data (finite ``change.tif``: cloud-free and covered by both images).
    Returns ``iou``, ``precision``, ``recall`` and ``seen`` (the share of the grid with data)."""
    import rasterio

    products = Path(products)
    h = json.loads((products / "located" / "result.json").read_text())["homography_photo_to_reference"]
    with rasterio.open(products / "confidence.tif") as ds, rasterio.open(products / "change.tif") as ch:
        seen = np.isfinite(ch.read(1))
        found = (ds.read(1) > 0) & seen
        with rasterio.open(reference) as ref:
            truth = mask_on_grid(truth_photo_px, h, ref.transform, ds.transform, ds.shape) & seen
    hit = float((found & truth).sum())
    return {
        "iou": hit / max(float((found | truth).sum()), 1.0),
        "precision": hit / max(float(found.sum()), 1.0),
        "recall": hit / max(float(truth.sum()), 1.0),
        "seen": float(seen.mean()),
    }


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


# --- a volcanic ash plume and water clouds in a real thermal scene (split window) -------------

#: the split-window wavelengths (µm) of the synthesised BT11 and BT12 bands
SPLIT_WINDOW_UM = (10.8, 12.0)


def smooth_field(shape: tuple[int, int], rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise of correlation length ``sigma`` pixels, scaled to 0..1 (float32)."""
    from scipy import ndimage

    f = ndimage.gaussian_filter(rng.normal(size=shape), sigma)
    return ((f - f.min()) / max(float(f.max() - f.min()), 1e-12)).astype(np.float32)


def soft_blobs(
    shape: tuple[int, int],
    rng: np.random.Generator,
    fraction: float,
    sigma: float,
    avoid: np.ndarray | None = None,
) -> np.ndarray:
    """A soft mask (float32, 0..1, edges ~2 pixels wide) of smooth random blobs (a field of
    correlation length ``sigma`` pixels thresholded at its ``1 - fraction`` quantile: the part
    above 0.5 covers ~``fraction`` of the frame), kept 6 pixels away from ``avoid`` (a soft mask)."""
    from scipy import ndimage

    field = ndimage.gaussian_filter(rng.normal(size=shape), sigma)
    if avoid is not None:
        field = np.where(ndimage.binary_dilation(avoid > 0, iterations=6), field.min(), field)
    t = np.quantile(field, 1.0 - fraction)
    return np.clip((field - t) / (4 * field.std() / sigma) + 0.5, 0.0, 1.0).astype(np.float32)


def toa_brightness_k(ts_k, eps, t_atm_k: float, wavelength_um: float, k_vapour: float, water_cm: float):
    """Top-of-atmosphere brightness temperature (K) of ground at ``ts_k`` of emissivity ``eps``
    under a water-vapour layer at ``t_atm_k`` (transmittance exp(-``k_vapour`` W), W the column in
    cm), the sky's light reflected by the ground included."""
    from cupola.analysis.planck import planck_radiance as b
    from cupola.analysis.planck import planck_temperature

    t = np.exp(-k_vapour * water_cm)
    sky = b(wavelength_um, t_atm_k)
    ground = eps * b(wavelength_um, ts_k) + (1 - eps) * sky
    return planck_temperature(wavelength_um, t * ground + (1 - t) * sky)


def through_layer_k(bt_k, wavelength_um: float, tau, top_k: float):
    """Brightness temperature (K) seen through a layer of optical depth ``tau`` whose top is at
    ``top_k`` (an absorbing layer, no scattering: Planck radiances mixed by the transmittance)."""
    from cupola.analysis.planck import planck_radiance as b
    from cupola.analysis.planck import planck_temperature

    t = np.exp(-tau)
    return planck_temperature(wavelength_um, b(wavelength_um, bt_k) * t + b(wavelength_um, top_k) * (1 - t))


@dataclass(frozen=True)
class ThermalPlumeScene:
    """``before``/``after`` (2, rows, cols) float32 brightness temperatures (K) at 10.8 and 12 µm
    (band roles tir11, tir12); ``plume`` the painted ash (layer blend > 0.5) and ``cloud`` the
    painted water clouds (bool); ``origin_px`` (row, col) of the window's top-left pixel in the
    LST scene it was cut from."""

    before: np.ndarray
    after: np.ndarray
    plume: np.ndarray
    cloud: np.ndarray
    origin_px: tuple[int, int]


def thermal_plume_scene(lst_k: np.ndarray, rng: np.random.Generator | int, window: int = 600) -> ThermalPlumeScene:
    """A before/after split-window pair with a volcanic ash plume and water clouds of known extent,
    on the centre ``window`` x ``window`` pixels of a real land-surface-temperature scene ``lst_k``
    (K; NaN kept). The ground: emissivity 0.955-0.985 at 11 µm, higher at 12 µm by 0-0.02 (quartz
    soils at the top of that range: their BT11 - BT12 is negative on both dates), water vapour
    1-4 cm (12 µm absorbs more: a clear-sky BTD > 0); 'before' a second date 0-3 K warmer or
    cooler (plus a smooth 0-2 K) under other vapour. In 'after': an ash layer over ~10 % of the
    window (blobs of 25-pixel scale, 2-pixel edges) of 11-µm optical depth 0.3-2.5 (with texture)
    and 12-µm depth 0.65-0.85 of it (silicate ash: BTD < 0, Prata 1989), top 220-260 K; water
    clouds over ~6 % (away from the ash) of depth 0.5-5 with 12-µm depth 1.15-1.35 of it (BTD > 0),
    top 240-280 K; 0.15 K noise per band and date. ``rng`` a generator or a seed."""
    rng = np.random.default_rng(rng)
    rows, cols = lst_k.shape
    r0, c0 = (rows - window) // 2, (cols - window) // 2
    ts = lst_k[r0 : r0 + window, c0 : c0 + window].astype(np.float64)
    shape = ts.shape
    w11, w12 = SPLIT_WINDOW_UM
    eps11 = 0.955 + 0.03 * smooth_field(shape, rng, 8)
    deps = 0.02 * smooth_field(shape, rng, 12) ** 2
    t_atm = float(np.nanmedian(ts)) - 10.0

    def scene(ts_k, water):
        return np.stack(
            [
                toa_brightness_k(ts_k, eps11, t_atm, w11, 0.04, water),
                toa_brightness_k(ts_k, eps11 + deps, t_atm, w12, 0.09, water),
            ]
        )

    w_before, w_after = rng.uniform(1, 4, 2)
    before = scene(ts + rng.uniform(-3, 3) + 2 * smooth_field(shape, rng, 30), w_before)
    after = scene(ts, w_after)
    plume = soft_blobs(shape, rng, 0.10, 25)
    cloud = soft_blobs(shape, rng, 0.06, 15, avoid=plume)
    tau = plume * rng.uniform(0.3, 2.5) * (0.6 + 0.4 * smooth_field(shape, rng, 10))
    beta = rng.uniform(0.65, 0.85)
    top = rng.uniform(220, 260)
    after = np.stack([through_layer_k(after[0], w11, tau, top), through_layer_k(after[1], w12, beta * tau, top)])
    tau_c = cloud * rng.uniform(0.5, 5.0)
    gamma, top_c = rng.uniform(1.15, 1.35), rng.uniform(240, 280)
    after = np.stack(
        [through_layer_k(after[0], w11, tau_c, top_c), through_layer_k(after[1], w12, gamma * tau_c, top_c)]
    )
    before = before + rng.normal(0, 0.15, before.shape)
    after = after + rng.normal(0, 0.15, after.shape)
    return ThermalPlumeScene(before.astype(np.float32), after.astype(np.float32), plume > 0.5, cloud > 0.5, (r0, c0))


# --- fires and new lamps painted into a real night frame ---------------------------------------

#: read noise per band of the linear Meteor night frame (its dark sky is ~0.004)
NIGHT_NOISE = 0.001


def night_background(jpeg: str | Path) -> np.ndarray:
    """(3, rows, cols) float64 linear R, G, B 0..1 of an sRGB night frame (e.g. the Meteor frame of
    Del Rio): the JPEG's sRGB curve undone; saturated pixels stay at 1."""
    from PIL import Image

    from cupola.io.srgb import srgb_to_linear

    v = np.asarray(Image.open(jpeg).convert("RGB"), dtype=np.float64) / 255.0
    return np.moveaxis(srgb_to_linear(v), -1, 0)


@dataclass(frozen=True)
class NightFireScene:
    """``before``/``after`` (3, rows, cols) linear R, G, B; ``fires`` and ``lamps`` one footprint
    (bool mask: the painted light above 5 % of its peak, grown by a pixel) per painted fire and
    per painted new lamp row; ``lamp_ids`` the row of the lamp table (``read_lamp_table("d3s")``)
    of each new lamp. Fires ``1, 3, 5, ...`` (odd indices) were put in the lit towns."""

    before: np.ndarray
    after: np.ndarray
    fires: list[np.ndarray]
    lamps: list[np.ndarray]
    lamp_ids: list[int]


def paint_night_fires(
    background: np.ndarray, camera, seed: int, n_fires: int = 30, n_lamps: int = 30
) -> NightFireScene:
    """A night pair on the linear frame ``background`` (3, rows, cols) with ``n_fires`` painted
    fires and ``n_lamps`` painted new street-light rows, in the signal system of ``camera`` (a
    :class:`cupola.analysis.lamps.CameraResponse`, e.g. the Nikon D3S).

    Each fire: a Gaussian spot (sigma 0.7-3 px log-uniform, peak R 0.005-0.3 log-uniform) whose
    colour is a flame's (grey body or soot, :func:`cupola.hazards.night_fire.flame_spd`) of a
    random temperature 800-1500 K, soot alpha 0-1.4, aerosol depth 0.05-0.5 and airmass 1-2 seen
    through ``camera``; every second fire is put on the lit towns (the frame's brightest 3 %),
    the others anywhere 10 px from the edges. Each lamp row: 3-8 spots (sigma 1 px, 4 px apart)
    with the colour of one lamp of the library (a family drawn uniformly, then a lamp of it).
    'before' is the frame plus read noise ``NIGHT_NOISE``; 'after' the frame times a gain
    0.9-1.1, shifted by up to 0.4 px (misregistration), plus the painted light and new noise,
    saturating at 1."""
    from scipy import ndimage

    from cupola.analysis.lamp_colour import read_lamp_table
    from cupola.analysis.lamps import WAVELENGTH_NM, camera_ratios
    from cupola.hazards.night_fire import flame_spd

    bg = background
    rng = np.random.default_rng(seed)
    shape = bg.shape[1:]
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    lit = np.argwhere(bg.sum(axis=0) > np.quantile(bg.sum(axis=0), 0.97))

    def spot(row, col, sigma):
        return np.exp(-((rr - row) ** 2 + (cc - col) ** 2) / (2 * sigma**2))

    add = np.zeros_like(bg)
    fires, lamps_fp, lamp_ids = [], [], []
    for k in range(n_fires):
        if k % 2 and len(lit):  # half in the lit towns
            row, col = lit[rng.integers(len(lit))] + rng.uniform(-0.5, 0.5, 2)
        else:
            row, col = rng.uniform(10, shape[0] - 10), rng.uniform(10, shape[1] - 10)
        t = rng.uniform(800, 1500)
        spd = flame_spd(WAVELENGTH_NM, t, rng.uniform(0, 1.4))
        atm = {"tau_550": rng.uniform(0.05, 0.5), "airmass": rng.uniform(1, 2)}
        gr, bg_ = camera_ratios(WAVELENGTH_NM, spd, camera, atmosphere_kw=atm)
        s = spot(row, col, np.exp(rng.uniform(np.log(0.7), np.log(3.0))))
        amp = np.exp(rng.uniform(np.log(0.005), np.log(0.3)))
        add += amp * np.array([1.0, gr, gr * bg_])[:, None, None] * s
        fires.append(ndimage.binary_dilation(s > 0.05))
    table = read_lamp_table("d3s")
    fam = np.array(table.family)
    families = sorted(set(fam))
    for _ in range(n_lamps):
        i = int(rng.choice(np.flatnonzero(fam == families[rng.integers(len(families))])))
        row, col = rng.uniform(10, shape[0] - 10), rng.uniform(10, shape[1] - 10)
        ang, n = rng.uniform(0, np.pi), int(rng.integers(3, 9))
        amp = np.exp(rng.uniform(np.log(0.005), np.log(0.3)))
        s = sum(spot(row + 4 * j * np.sin(ang), col + 4 * j * np.cos(ang), 1.0) for j in range(n))
        add += amp * np.array([1.0, table.g_r[i], table.g_r[i] * table.b_g[i]])[:, None, None] * s
        lamps_fp.append(ndimage.binary_dilation(s > 0.05))
        lamp_ids.append(i)
    gain = rng.uniform(0.9, 1.1)
    shifted = ndimage.shift(bg, (0, *rng.uniform(-0.4, 0.4, 2)), order=1, mode="nearest")
    before = bg + rng.normal(0, NIGHT_NOISE, bg.shape)
    after = np.minimum(shifted * gain + add + rng.normal(0, NIGHT_NOISE, bg.shape), 1.0)  # saturation
    return NightFireScene(before, after, fires, lamps_fp, lamp_ids)


# --- writing the painted pairs as the command line reads them ----------------------------------


def _write_stack(path: Path, data: np.ndarray, transform, descriptions: tuple[str, ...] | None = None) -> Path:
    """A (bands, rows, cols) GeoTIFF in EPSG:4326 (deflate), band descriptions if given."""
    import rasterio
    from rasterio.transform import Affine

    profile = {"driver": "GTiff", "width": data.shape[2], "height": data.shape[1], "count": data.shape[0]}
    with rasterio.open(
        path, "w", dtype=data.dtype.name, crs="EPSG:4326", transform=Affine(*transform), compress="deflate", **profile
    ) as ds:
        ds.write(data)
        if descriptions:
            ds.descriptions = descriptions
    return path


def write_plume_pair(scene: ThermalPlumeScene, lst_transform, folder: str | Path) -> dict[str, Path]:
    """``before.tif``, ``after.tif`` (float32 BT11, BT12 in K, band descriptions tir11, tir12) and
    ``truth.tif`` (uint8 band 1 the painted ash, band 2 the painted water clouds) into ``folder``,
    on the grid of the window ``scene.origin_px`` of the LST scene whose geotransform (rasterio
    order a, b, c, d, e, f; EPSG:4326) is ``lst_transform``."""
    from rasterio.transform import Affine

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    r0, c0 = scene.origin_px
    t = tuple(Affine(*tuple(lst_transform)[:6]) @ Affine.translation(c0, r0))[:6]
    truth = np.stack([scene.plume, scene.cloud]).astype(np.uint8)
    return {
        "before": _write_stack(folder / "before.tif", scene.before, t, ("tir11", "tir12")),
        "after": _write_stack(folder / "after.tif", scene.after, t, ("tir11", "tir12")),
        "truth": _write_stack(folder / "truth.tif", truth, t),
    }


def tie_point_affine(cols_px, rows_px, lons_deg, lats_deg) -> tuple[tuple[float, ...], float]:
    """The affine (rasterio order a, b, c, d, e, f: pixel corner coordinates to lon, lat) that
    fits tie points (pixel centres ``cols_px``, ``rows_px``, (0, 0) the centre of the top-left
    pixel) best in least squares, and its largest residual in pixels. At least three points."""
    x = np.asarray(cols_px, float) + 0.5
    y = np.asarray(rows_px, float) + 0.5
    design = np.column_stack([x, y, np.ones_like(x)])
    (a, b, c), *_ = np.linalg.lstsq(design, np.asarray(lons_deg, float), rcond=None)
    (d, e, f), *_ = np.linalg.lstsq(design, np.asarray(lats_deg, float), rcond=None)
    fit = np.column_stack([design @ (a, b, c), design @ (d, e, f)])
    inv = np.linalg.inv(np.array([[a, b], [d, e]]))
    off = (np.column_stack([lons_deg, lats_deg]) - fit) @ inv.T
    return (float(a), float(b), float(c), float(d), float(e), float(f)), float(np.max(np.hypot(*off.T)))


def north_up_nearest(stack: np.ndarray, affine, fill) -> tuple[np.ndarray, tuple[float, ...]]:
    """``stack`` (bands, rows, cols) on a grid rotated by ``affine`` (rasterio order) resampled by
    nearest neighbour onto the north-up grid that holds it, of square pixels of the same area
    (degrees); ``fill`` outside the frame. Returns the new stack and its geotransform."""
    a, b, c, d, e, f = affine
    rows, cols = stack.shape[1:]
    corners = np.array([[0, 0], [cols, 0], [0, rows], [cols, rows]], float)
    lon = a * corners[:, 0] + b * corners[:, 1] + c
    lat = d * corners[:, 0] + e * corners[:, 1] + f
    res = float(np.sqrt(abs(a * e - b * d)))
    # a span of a whole number of pixels (up to rounding) is that number, not one more
    out_cols = int(np.ceil((lon.max() - lon.min()) / res - 1e-6))
    out_rows = int(np.ceil((lat.max() - lat.min()) / res - 1e-6))
    transform = (res, 0.0, float(lon.min()), 0.0, -res, float(lat.max()))
    gl = lon.min() + (np.arange(out_cols) + 0.5) * res
    gt = lat.max() - (np.arange(out_rows) + 0.5) * res
    glon, glat = np.meshgrid(gl, gt)
    inv = np.linalg.inv(np.array([[a, b], [d, e]]))
    x = inv[0, 0] * (glon - c) + inv[0, 1] * (glat - f)
    y = inv[1, 0] * (glon - c) + inv[1, 1] * (glat - f)
    col, row = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    inside = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
    out = np.full((stack.shape[0], out_rows, out_cols), fill, dtype=stack.dtype)
    out[:, inside] = stack[:, row[inside], col[inside]]
    return out, transform


def write_night_pair(scene: NightFireScene, affine, folder: str | Path) -> dict[str, Path]:
    """The night pair put on a north-up EPSG:4326 grid (:func:`north_up_nearest` of the frame's
    ``affine``, e.g. :func:`tie_point_affine` of its tie points; NaN outside the frame):
    ``before.tif``, ``after.tif`` (float32 R, G, B, band descriptions red, green, blue) and
    ``truth.tif`` (int32 band 1: fire ``k + 1`` on the footprint of fire ``k``, band 2: lamp row
    ``k + 1`` on its footprint, 0 elsewhere; a later footprint over an earlier one wins)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.zeros((2, *scene.before.shape[1:]), np.int32)
    for band, masks in ((0, scene.fires), (1, scene.lamps)):
        for k, m in enumerate(masks):
            labels[band][m] = k + 1
    rgb = ("red", "green", "blue")
    before, t = north_up_nearest(scene.before.astype(np.float32), affine, np.nan)
    after, _ = north_up_nearest(scene.after.astype(np.float32), affine, np.nan)
    truth, _ = north_up_nearest(labels, affine, 0)
    return {
        "before": _write_stack(folder / "before.tif", before, t, rgb),
        "after": _write_stack(folder / "after.tif", after, t, rgb),
        "truth": _write_stack(folder / "truth.tif", truth, t),
    }
