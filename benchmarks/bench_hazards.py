"""Hazard mapping: flood IoU on real backgrounds with a painted flood of known extent, false alarms
on unchanged pairs, and the time of a 20-megapixel pair end to end.

Backgrounds: the four real reference images bundled for localization
(src/cupola/data/samples/apl/*/reference.jpg, 1024 x 1024 true colour, north-up with known
bounds), scaled to reflectance 0..0.4. They have no NIR, so a NIR band is synthesised from the
colours (vegetation: NIR above red and green; dark bluish pixels, the scene's own water: NIR low);
the RGB figure uses the real colours only. The flood: a smooth random field (Gaussian-filtered
noise) thresholded to ~12 % of the frame, painted with turbid flood-water reflectances (R 0.07,
G 0.08, B 0.06, NIR 0.03, with texture), blended over 2 pixels at the edges (mixed pixels); the
truth is blend > 0.5 outside the scene's own water. 'before' differs from the background by a
gain, an offset and noise, like a second acquisition. Unchanged pairs: the same background twice
with different gain, gamma, offset, noise and a 0.3-pixel shift (registration error).

Figures:
- ``hazards_flood_iou`` (NDWI + Otsu), baseline a fixed NDWI threshold of 0;
- ``hazards_flood_iou_rgb`` (RGB water model + Otsu), baseline a fixed threshold of -0.3;
- ``hazards_false_alarm_km2`` (flood + change products above the 0.01 km² noise floor, summed
  over the unchanged pairs), baseline Otsu without the noise floor / bimodality check;
- ``hazards_fire_false_alarm_km2``: the contextual fire test on four real ECOSTRESS LST scenes
  of Los Angeles (no known fire), baseline a global mean + 3.5 sigma test;
- ``hazards_pair_seconds`` read + detect + all products of a 5000 x 4000 four-band pair, baseline
  the same reading and products with the detection as a per-pixel Python loop of a fixed NDWI
  threshold (no Otsu, no polygons; timed on 200,000 pixels, extrapolated).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
from common import bench_line

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "src/cupola/data/samples/apl").glob("*/reference.jpg"))


def _background(path: Path):
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0 * 0.4
    case = json.loads((path.parent / "case.json").read_text())["reference_bounds"]
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    bright = (r + g + b) / 3.0
    own_water = (b >= r) & (bright < 0.06)
    nir = 0.12 + 1.2 * bright + 1.5 * np.maximum(g - r, 0.0)
    nir = np.where(own_water, 0.4 * bright, nir)
    stack = np.stack([r, g, b, nir]).astype(np.float32)
    rows, cols = r.shape
    res_x = (case["east"] - case["west"]) / cols
    res_y = (case["north"] - case["south"]) / rows
    transform = (res_x, 0.0, case["west"], 0.0, -res_y, case["north"])
    return stack, own_water, transform


def _flood_mask(shape, rng, fraction=0.12):
    from scipy import ndimage

    field = ndimage.gaussian_filter(rng.normal(size=shape), 40)
    t = np.quantile(field, 1.0 - fraction)
    blend = np.clip((field - t) / (4 * field.std() / 40) + 0.5, 0.0, 1.0)  # ~2-pixel soft edge
    return blend.astype(np.float32)


def _acquire(stack, rng, gain, offset, noise, gamma=1.0):
    out = gain * np.power(np.clip(stack, 0, None), gamma) + offset + rng.normal(0, noise, stack.shape)
    return out.astype(np.float32)


def _pair_from(stack, transform, tmp: Path, name: str, before, after):
    from cupola.hazards.pair import ImagePair

    roles = {"red": 0, "green": 1, "blue": 2, "nir": 3}
    return ImagePair(
        before, after, transform, "EPSG:4326", roles, tmp / f"{name}_before.tif", tmp / f"{name}_after.tif"
    )


def _iou(a, b):
    return float((a & b).sum() / max((a | b).sum(), 1))


def flood_accuracy():
    from cupola.hazards.analyse import map_hazard
    from cupola.hazards.indices import ndwi, rgb_water_index
    from cupola.hazards.pair import ImagePair

    ious, ious_rgb, base, base_rgb, names = [], [], [], [], []
    for k, path in enumerate(SAMPLES):
        rng = np.random.default_rng(100 + k)
        stack, own_water, transform = _background(path)
        blend = _flood_mask(stack.shape[1:], rng)
        water = np.array([0.07, 0.08, 0.06, 0.03], np.float32)[:, None, None] * (
            1.0 + 0.15 * rng.normal(size=(1, *stack.shape[1:])).astype(np.float32)
        )
        flooded = stack * (1.0 - blend) + water * blend
        truth = (blend > 0.5) & ~own_water
        before = _acquire(stack, rng, 1.05, 0.005, 0.004)
        after = _acquire(flooded, rng, 0.97, -0.003, 0.004)
        roles = {"red": 0, "green": 1, "blue": 2, "nir": 3}
        pair = ImagePair(before, after, transform, "EPSG:4326", roles)
        ious.append(_iou(map_hazard(pair, "flood").layer.mask, truth))
        rgb_roles = {"red": 0, "green": 1, "blue": 2}
        rgb_pair = ImagePair(before[:3], after[:3], transform, "EPSG:4326", rgb_roles)
        ious_rgb.append(_iou(map_hazard(rgb_pair, "flood").layer.mask, truth))
        base.append(_iou((ndwi(after[1], after[3]) > 0) & (ndwi(before[1], before[3]) <= 0), truth))
        ib, ia = (rgb_water_index(s[0], s[1], s[2]) for s in (before, after))
        base_rgb.append(_iou((ia > -0.3) & (ib <= -0.3), truth))
        names.append(path.parent.name)
    for n, i, ir in zip(names, ious, ious_rgb):
        print(f"  {n}: flood IoU NDWI {i:.3f}, RGB {ir:.3f}")
    v, b = float(np.mean(ious)), float(np.mean(base))
    bench_line("hazards_flood_iou", v, "iou", baseline=b, ratio=v / max(b, 1e-9))
    v, b = float(np.mean(ious_rgb)), float(np.mean(base_rgb))
    bench_line("hazards_flood_iou_rgb", v, "iou", baseline=b, ratio=v / max(b, 1e-9))


def false_alarms():
    from scipy import ndimage

    from cupola.hazards.analyse import map_hazard
    from cupola.hazards.indices import ndwi
    from cupola.hazards.normalise import match_histograms
    from cupola.hazards.pair import ImagePair
    from cupola.hazards.polygons import polygonize
    from cupola.hazards.threshold import otsu_threshold

    ours, naive = 0.0, 0.0
    for k, path in enumerate(SAMPLES):
        rng = np.random.default_rng(200 + k)
        stack, _own, transform = _background(path)
        before = _acquire(stack, rng, 1.08, 0.004, 0.005, gamma=0.95)
        shifted = ndimage.shift(stack, (0, 0.3, -0.3), order=1, mode="nearest")
        after = _acquire(shifted, rng, 0.93, -0.002, 0.005, gamma=1.05)
        pair = ImagePair(before, after, transform, "EPSG:4326", {"red": 0, "green": 1, "blue": 2, "nir": 3})
        for kind in ("flood", "change"):
            ours += float(map_hazard(pair, kind, min_area_km2=0.01).polygons.area_km2.sum())
        # baseline: plain Otsu (no bimodality check, no noise floor), every region counted
        ib, ia = ndwi(before[1], before[3]), ndwi(after[1], after[3])
        t = otsu_threshold(np.concatenate([ib.ravel(), ia.ravel()]))
        m = (ia > t) & (ib <= t)
        naive += float(polygonize(m, m.astype(np.float32), transform, "EPSG:4326").area_km2.sum())
        diff = np.sqrt((((after - match_histograms(before, after)) / 0.01) ** 2).sum(axis=0))
        m = diff > otsu_threshold(diff)
        naive += float(polygonize(m, m.astype(np.float32), transform, "EPSG:4326").area_km2.sum())
    bench_line("hazards_false_alarm_km2", ours, "km2", baseline=naive)


ECOSTRESS = ROOT.parent / "shared" / "data" / "ecostress-la" / "LST"


def fire_false_alarms():
    """The fire test on the real ECOSTRESS LST scenes of Los Angeles (../shared/data/ecostress-la,
    70 m, June-July 2023, no large fire reported in the frames): pixels flagged, in km² summed over
    the scenes; baseline a non-contextual test, T > scene mean + 3.5 scene standard deviations."""
    from cupola.analysis.zonal import pixel_area_km2
    from cupola.hazards.fire import fire_layer
    from cupola.io.raster_band import read_raster_band

    files = sorted(ECOSTRESS.glob("*.tif"))
    if not files:
        print(f"  (fire false alarms skipped: no scenes in {ECOSTRESS})")
        return
    ours, naive = 0.0, 0.0
    for f in files:
        band = read_raster_band(f)
        area = np.broadcast_to(pixel_area_km2(band.transform, band.shape, band.crs or "EPSG:4326"), band.shape)
        t = band.values
        ours += float(area[fire_layer(t, pixel_m=float(np.sqrt(np.mean(area)) * 1000.0)).mask].sum())
        naive += float(area[np.nan_to_num(t, nan=-1e9) > np.nanmean(t) + 3.5 * np.nanstd(t)].sum())
    bench_line("hazards_fire_false_alarm_km2", ours, "km2", baseline=naive)


FIRES_PER_SCENE = 60
FIRE_SEEDS = (0, 1, 2)


def _scene_masks(lst_file: Path):
    """The LST (K), pixel areas (km²) and where fires may go (valid, not water, not cloud) of one
    ECOSTRESS scene, with its product's water and cloud masks."""
    from cupola.analysis.zonal import pixel_area_km2
    from cupola.io.raster_band import read_raster_band

    band = read_raster_band(lst_file)
    area = np.broadcast_to(pixel_area_km2(band.transform, band.shape, band.crs or "EPSG:4326"), band.shape)
    allowed = np.isfinite(band.values)
    for layer in ("water_mask", "cloud_mask"):
        other = lst_file.parents[1] / layer / lst_file.name.replace("_LST_", f"_{layer}_")
        if other.exists():
            m = read_raster_band(other).values
            if m.shape == band.shape:
                allowed &= ~(np.nan_to_num(m) > 0)
    return band, np.ascontiguousarray(area), allowed


def _doy(path: Path) -> str:
    """'doy2023175 11:23' from an ECOSTRESS file name."""
    stamp = path.name.split("_doy")[1][:11]
    return f"doy{stamp[:7]} {stamp[7:9]}:{stamp[9:11]}"


def score_fires(mask: np.ndarray, labels: np.ndarray, area_km2: np.ndarray) -> tuple[int, float]:
    """(fires found, false-alarm km²): a painted fire is found when a flagged pixel touches its
    footprint (one pixel of tolerance); flagged pixels farther from every fire are false alarms."""
    from scipy import ndimage

    near = ndimage.grey_dilation(labels, size=(3, 3))
    found = np.unique(near[mask])
    return int((found > 0).sum()), float(area_km2[mask & (near == 0)].sum())


def fire_detection():
    """Fires of known position painted into the four real ECOSTRESS LST scenes
    (:func:`cupola.simulate.hazards.paint_fires`: 60 fires a scene, areas log-uniform 0.001-25
    pixels, 600-1200 K, half of them on the scene's hottest 10 % of pixels, Planck mixing at
    10.49 µm), three seeds: the share of fires found by the contextual test with its defaults,
    and the false-alarm km² outside the painted fires (summed over the scenes, mean over seeds).
    Baseline: the global test, T > scene mean + 3.5 scene standard deviations."""
    from cupola.hazards.fire import fire_layer
    from cupola.simulate.hazards import paint_fires

    files = sorted(ECOSTRESS.glob("*.tif"))
    if not files:
        print(f"  (fire detection skipped: no scenes in {ECOSTRESS})")
        return
    rows = []  # (scene, seed, found, painted, fa_km2, base_found, base_fa_km2, per-fire found flags, fires)
    for f in files:
        band, area, allowed = _scene_masks(f)
        pixel_m = float(np.sqrt(np.mean(area)) * 1000.0)
        for seed in FIRE_SEEDS:
            fires = paint_fires(band.values, n_fires=FIRES_PER_SCENE, seed=seed, allowed=allowed)
            t = fires.brightness_k
            mask = fire_layer(t, pixel_m=pixel_m).mask
            found, fa = score_fires(mask, fires.labels, area)
            g = np.nan_to_num(t, nan=-1e9) > np.nanmean(t) + 3.5 * np.nanstd(t)
            bfound, bfa = score_fires(g, fires.labels, area)
            rows.append((_doy(f), seed, found, fires.area_px.size, fa, bfound, bfa, mask, fires))
    painted = sum(r[3] for r in rows)
    rate = sum(r[2] for r in rows) / painted
    base_rate = sum(r[5] for r in rows) / painted
    n_seeds = len(FIRE_SEEDS)
    fa = sum(r[4] for r in rows) / n_seeds
    base_fa = sum(r[6] for r in rows) / n_seeds
    for scene in dict.fromkeys(r[0] for r in rows):
        sub = [r for r in rows if r[0] == scene]
        print(
            f"  {scene}: found {sum(r[2] for r in sub)}/{sum(r[3] for r in sub)}, "
            f"false alarms {np.mean([r[4] for r in sub]):.3f} km² (global test {sum(r[5] for r in sub)}, "
            f"{np.mean([r[6] for r in sub]):.3f} km²)"
        )
    _detection_by_size(rows)
    bench_line("hazards_fire_detection_rate", rate, "fraction", baseline=base_rate, ratio=rate / max(base_rate, 1e-9))
    bench_line("hazards_fire_false_alarm_km2_with_fires", fa, "km2", baseline=base_fa)


def _detection_by_size(rows) -> None:
    from scipy import ndimage

    areas, temps, hits, hot = [], [], [], []
    for r in rows:
        mask, fires = r[7], r[8]
        near = ndimage.grey_dilation(fires.labels, size=(3, 3))
        found = set(np.unique(near[mask]).tolist())
        areas += fires.area_px.tolist()
        temps += fires.temperature_k.tolist()
        hot += fires.on_hot.tolist()
        hits += [k + 1 in found for k in range(fires.area_px.size)]
    a, tk, h, on = (np.asarray(v) for v in (areas, temps, hits, hot))
    edges = (0.001, 0.003, 0.01, 0.03, 0.1, 1.0, 25.0)
    parts = [f"{lo:g}-{hi:g} px {h[(a >= lo) & (a < hi)].mean():.2f}" for lo, hi in zip(edges[:-1], edges[1:])]
    print("  found by fire area: " + ", ".join(parts))
    print(f"  found on hot (urban) pixels {h[on].mean():.2f}, elsewhere {h[~on].mean():.2f}; "
          f"fires <= 900 K {h[tk <= 900].mean():.2f}, > 900 K {h[tk > 900].mean():.2f}")  # fmt: skip


def pair_seconds():
    import rasterio
    from rasterio.transform import from_origin

    from cupola.hazards.analyse import map_hazard
    from cupola.hazards.indices import ndwi
    from cupola.hazards.pair import read_pair
    from cupola.hazards.products import write_hazard_products

    rows, cols = 4000, 5000
    stack, _own, _t = _background(SAMPLES[0])
    rng = np.random.default_rng(7)
    reps = (1, -(-rows // stack.shape[1]), -(-cols // stack.shape[2]))
    big = np.tile(stack, reps)[:, :rows, :cols]
    blend = _flood_mask((rows, cols), rng)
    water = np.array([0.07, 0.08, 0.06, 0.03], np.float32)[:, None, None]
    after = (big * (1.0 - blend) + water * blend).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name, data in (("before", big), ("after", after)):
            with rasterio.open(
                tmp / f"{name}.tif", "w", driver="GTiff", width=cols, height=rows, count=4, dtype="float32",
                crs="EPSG:4326", transform=from_origin(-90.5, 30.2, 0.0001, 0.0001), tiled=True,
            ) as ds:  # fmt: skip
                ds.write(data)
        t0 = time.perf_counter()
        pair = read_pair(tmp / "before.tif", tmp / "after.tif")
        t1 = time.perf_counter()
        hmap = map_hazard(pair, "flood")
        t2 = time.perf_counter()
        write_hazard_products(hmap, pair, tmp / "out", inputs=[tmp / "before.tif", tmp / "after.tif"])
        t3 = time.perf_counter()
        seconds = t3 - t0
    print(f"  20 MP pair: read {t1 - t0:.1f} s, detect + polygons {t2 - t1:.1f} s, products {t3 - t2:.1f} s")
    n = 200_000
    g, nir = after[1].ravel()[:n].tolist(), after[3].ravel()[:n].tolist()
    gb, nb = big[1].ravel()[:n].tolist(), big[3].ravel()[:n].tolist()
    t_loop = time.perf_counter()
    out = [((a - c) / (a + c) > 0) & ((x - y) / (x + y) <= 0) for a, c, x, y in zip(g, nir, gb, nb)]
    # the naive route: the same reading and products, detection as a per-pixel Python loop
    loop = (time.perf_counter() - t_loop) * rows * cols / n + (t1 - t0) + (t3 - t2)
    assert len(out) == n and ndwi(after[1, :1, :1], after[3, :1, :1]).size == 1
    bench_line("hazards_pair_seconds", seconds, "s", baseline=loop, ratio=seconds / loop)


BENCHMARKS = {
    "hazards_flood_iou": flood_accuracy,
    "hazards_false_alarm_km2": false_alarms,
    "hazards_fire_false_alarm_km2": fire_false_alarms,
    "hazards_fire_detection_rate": fire_detection,
    "hazards_pair_seconds": pair_seconds,
}

if __name__ == "__main__":
    import sys

    chosen = sys.argv[1:] or list(BENCHMARKS)
    for name in chosen:
        BENCHMARKS[name]()
