"""Stereo heights on pairs rendered from a real elevation model (matplotlib's Jacksboro fault DEM,
Tennessee) with known poses along a real ISS orbit arc (2017-04-18, bundled element sets), see
:mod:`cupola.simulate.stereo` (it reuses cupola's forward camera model).

The suite varies what changes in real use: the time between the photos (2, 5, 10 s), the
obliquity (views ~28 deg forward, ~25 deg back with the camera turned 90 deg) and the terrain (the
real relief, and the same relief exaggerated three times: steeper slopes, hidden ground). Each
case is a 400 mm lens on a full-frame sensor rendered at 1368 x 912 px (~27 m per pixel); the
headline case is a 20-megapixel pair (5472 x 3648 px, ~7 m per pixel, 5 s apart).

Figures (one line each):

* ``stereo_height_rmse_m``: RMSE of the DEM (dem.tif cells inside the model) against the true
  heights, 20-MP pair; baseline: sparse SIFT matches on the same rectified pair, triangulated the
  same way and interpolated linearly onto the same cells.
* ``stereo_rmse_over_predicted``: the worst ratio of RMSE to the RMS predicted sigma over the suite
  and the 20-MP pair (target <= 1.3); baseline: the same ratio for SGM's own sub-pixel disparities
  (no least-squares refinement) on the 20-MP pair, against their own predicted sigma.
* ``stereo_seconds_20mp``: seconds from the two 20-MP photos and poses to the written products
  (dem.tif, dem_error.tif, dem.png, result.json); baseline: OpenCV's SGBM alone on the rectified pair.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np
from common import bench_line

LENS = {"focal_mm": 400.0, "sensor_width_mm": 36.0, "sensor_height_mm": 24.0}


def _camera(width_px: int):
    from cupola.geometry.camera import Camera

    return Camera.from_focal_sensor(width_px=width_px, height_px=width_px * 2 // 3, **LENS)


def _terrain(gsd_m: float, relief: float = 1.0):
    from dataclasses import replace

    from cupola.simulate.stereo import jacksboro_terrain

    t = jacksboro_terrain(detail_cell_m=max(0.75 * gsd_m, 5.0))
    if relief != 1.0:
        z = t.height_m
        t = replace(t, height_m=z.min() + relief * (z - z.min()), name=f"{t.name}, relief x{relief:g} (exaggerated)")
    return t


def _dem_errors(result, terrain) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = result.dem.cell_centres()
    inside = terrain.inside(lon, lat, 2.0) & np.isfinite(result.dem.height_m)
    truth = terrain.heights_at(lon[inside], lat[inside])
    return result.dem.height_m[inside] - truth, result.dem.sigma_m[inside]


def _rms(a) -> float:
    a = np.asarray(a, dtype=float)
    return float(np.sqrt(np.mean(a**2)))


def _case(name: str, width_px: int, separation_s: float, offset_s: float = 0.0, rotation_deg: float = 0.0, relief=1.0):
    from cupola.simulate.stereo import JACKSBORO_PASS, render_pair
    from cupola.stereo.job import StereoOptions, compute_stereo

    cam = _camera(width_px)
    gsd = 420e3 * LENS["sensor_width_mm"] / width_px / LENS["focal_mm"]
    terrain = _terrain(gsd, relief)
    t0 = time.perf_counter()
    pair = render_pair(
        terrain,
        cam,
        time_mid=JACKSBORO_PASS + dt.timedelta(seconds=offset_s),
        separation_s=separation_s,
        rotation_deg=rotation_deg,
        seed=11,
    )
    render_s = time.perf_counter() - t0
    lo, hi = terrain.height_range_m
    opts = StereoOptions(height_range_m=(lo - 1000.0, hi + 1000.0))
    result = compute_stereo(pair.image1, pair.image2, pair.georef1, pair.georef2, opts)
    err, sig = _dem_errors(result, terrain)
    rmse, pred = _rms(err), _rms(sig)
    d = result.summary()
    gsd_m = float(np.mean(result.georef1.gsd_m()))
    print(
        f"# {name}: {separation_s:g} s apart, off-nadir {pair.info['off_nadir_deg'][0]:.1f}/"
        f"{pair.info['off_nadir_deg'][1]:.1f} deg, B/H {d['base_to_height']:.3f}, GSD {gsd_m:.1f} m, "
        f"posting {result.dem.posting_m:.1f} m: RMSE {rmse:.2f} m (bias {np.mean(err):+.2f}), predicted {pred:.2f} m, "
        f"ratio {rmse / pred:.2f}, {err.size} cells, matched {100 * d['matching']['valid_fraction']:.0f} %, "
        f"disparity sigma {d['matching']['disparity_sigma_px_median']:.3f} px (render {render_s:.0f} s, "
        f"stereo {result.timings_s['total']:.1f} s)",
        flush=True,
    )
    return pair, result, terrain, rmse, pred


def _sparse_baseline(pair, result, terrain) -> float:
    """Sparse SIFT matches on the rectified pair (ratio test, same row within 1 px), triangulated
    with the same geometry, interpolated linearly onto the DEM cells: RMSE against the truth."""
    import cv2
    from scipy.interpolate import griddata

    from cupola.stereo.heights import triangulate_disparities
    from cupola.stereo.job import _rectified

    rect = result.rectification
    left, _ = _rectified(pair.image1, pair.georef1, rect, 1)
    right, _ = _rectified(pair.image2, pair.georef2, rect, 2)
    to8 = lambda a: np.clip(a, 0, 255).astype(np.uint8)  # noqa: E731
    sift = cv2.SIFT.create(nfeatures=40000)
    k1, d1 = sift.detectAndCompute(to8(left), None)
    k2, d2 = sift.detectAndCompute(to8(right), None)
    matches = cv2.BFMatcher(cv2.NORM_L2).knnMatch(d1, d2, k=2)
    disp = np.full(left.shape, np.nan, np.float32)
    sigma = np.full(left.shape, np.nan, np.float32)
    for pairs in matches:
        if len(pairs) < 2 or pairs[0].distance > 0.8 * pairs[1].distance:
            continue
        p1, p2 = k1[pairs[0].queryIdx].pt, k2[pairs[0].trainIdx].pt
        if abs(p1[1] - p2[1]) > 1.0:
            continue
        c, r = int(round(p1[0])), int(round(p1[1]))
        disp[r, c] = p1[0] - p2[0] - (p1[0] - c)  # disparity at the pixel centre
        sigma[r, c] = 0.3
    pts = triangulate_disparities(rect, disp, sigma)
    ok = np.isfinite(pts.height_m)
    lon, lat = result.dem.cell_centres()
    inside = terrain.inside(lon, lat, 2.0) & np.isfinite(result.dem.height_m)
    interp = griddata((pts.lon_deg[ok], pts.lat_deg[ok]), pts.height_m[ok], (lon[inside], lat[inside]), method="linear")
    truth = terrain.heights_at(lon[inside], lat[inside])
    good = np.isfinite(interp)
    print(f"# sparse SIFT baseline: {int(ok.sum())} matches, {good.mean() * 100:.0f} % of the cells", flush=True)
    return _rms(interp[good] - truth[good])


def _sgm_only_ratio(pair, result, terrain) -> float:
    """RMSE / predicted of SGM's own sub-pixel disparities (OpenCV's 1/16 px) triangulated alone."""
    from cupola.stereo.dem import grid_points
    from cupola.stereo.heights import triangulate_disparities
    from cupola.stereo.job import REMAP_QUANTUM_SIGMA_PX, _rectified
    from cupola.stereo.matching import _search, _sgbm, to_uint8

    rect = result.rectification
    left, vl = _rectified(pair.image1, pair.georef1, rect, 1)
    right, _ = _rectified(pair.image2, pair.georef2, rect, 2)
    l8, r8 = to_uint8(left, right, vl)
    lo, n = _search(*result.match.search_px)
    disp = _sgbm(l8, r8, lo, n, result.options.matching)
    sigma_d = np.sqrt(result.match.sigma_px.astype(float) ** 2 + REMAP_QUANTUM_SIGMA_PX**2)
    disp[~np.isfinite(result.match.disparity_px)] = np.nan  # the same pixels
    pts = triangulate_disparities(rect, disp, sigma_d.astype(np.float32))
    dem = grid_points(pts.lon_deg, pts.lat_deg, pts.height_m, pts.sigma_m, result.dem.posting_m)
    lon, lat = dem.cell_centres()
    inside = terrain.inside(lon, lat, 2.0) & np.isfinite(dem.height_m)
    err = dem.height_m[inside] - terrain.heights_at(lon[inside], lat[inside])
    ratio = _rms(err) / _rms(dem.sigma_m[inside])
    print(f"# SGM sub-pixel alone (20 MP): RMSE {_rms(err):.2f} m, ratio {ratio:.2f}", flush=True)
    return ratio


def stereo_suite():
    from cupola.stereo.job import StereoOptions, _rectified, compute_stereo, write_products
    from cupola.stereo.matching import _search, _sgbm, to_uint8

    ratios = []
    for name, kw in (
        ("2 s, near nadir", {"separation_s": 2.0}),
        ("5 s, near nadir", {"separation_s": 5.0}),
        ("10 s, near nadir", {"separation_s": 10.0}),
        ("6 s, forward oblique", {"separation_s": 6.0, "offset_s": -30.0}),
        ("6 s, backward oblique, camera turned 90 deg", {"separation_s": 6.0, "offset_s": 25.0, "rotation_deg": 90.0}),
        ("5 s, relief x3 (steep)", {"separation_s": 5.0, "relief": 3.0}),
    ):
        _, _, _, rmse, pred = _case(name, 1368, **kw)
        ratios.append(rmse / pred)
    # the headline: a 20-megapixel pair, 5 s apart
    pair, result, terrain, rmse, pred = _case("20 MP, 5 s, near nadir", 5472, 5.0)
    ratios.append(rmse / pred)
    # time the whole job on the 20-MP pair, products included
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        lo, hi = terrain.height_range_m
        res = compute_stereo(
            pair.image1, pair.image2, pair.georef1, pair.georef2, StereoOptions(height_range_m=(lo - 1000, hi + 1000))
        )
        write_products(res, Path(tmp) / "out")
        seconds = time.perf_counter() - t0
    print(f"# 20 MP timings: {', '.join(f'{k} {v:.1f} s' for k, v in res.timings_s.items())}", flush=True)
    rect = res.rectification
    left, vl = _rectified(pair.image1, pair.georef1, rect, 1)
    right, _ = _rectified(pair.image2, pair.georef2, rect, 2)
    l8, r8 = to_uint8(left, right, vl)
    lo_d, n_d = _search(*res.match.search_px)
    t1 = time.perf_counter()
    _sgbm(l8, r8, lo_d, n_d, res.options.matching)
    sgbm_s = time.perf_counter() - t1
    # is full resolution needed? the same pair matched at half resolution
    half = compute_stereo(
        pair.image1,
        pair.image2,
        pair.georef1,
        pair.georef2,
        StereoOptions(height_range_m=(lo - 1000, hi + 1000), scale=0.5, posting_m=result.dem.posting_m),
    )
    err_h, sig_h = _dem_errors(half, terrain)
    print(
        f"# 20 MP matched at half resolution: RMSE {_rms(err_h):.2f} m (full: {rmse:.2f} m), predicted "
        f"{_rms(sig_h):.2f} m, {half.timings_s['total']:.1f} s (full: {res.timings_s['total']:.1f} s)",
        flush=True,
    )
    sparse = _sparse_baseline(pair, result, terrain)
    sgm_ratio = _sgm_only_ratio(pair, result, terrain)
    bench_line("stereo_height_rmse_m", rmse, "m", baseline=sparse, ratio=rmse / sparse)
    worst = max(ratios)
    bench_line("stereo_rmse_over_predicted", worst, "ratio", baseline=sgm_ratio, ratio=worst / sgm_ratio)
    bench_line("stereo_seconds_20mp", seconds, "s", baseline=sgbm_s, ratio=seconds / sgbm_s)


BENCHMARKS = {"stereo": stereo_suite}
