"""Georeferencing speed, memory and accuracy (issue: foundation).

* geolocate_meteor_frame: every pixel of the real 1280x738 Meteor frame, vectorized, one core;
  baseline: a per-pixel Python loop (each pixel projected on its own, as public ISS geolocation
  scripts do), timed on a subsample and extrapolated to the frame.
* geolocate_d5_frame / geolocate_d5_frame_memory: a full Nikon D5 frame (5568x3712).
* geolocate_ground_accuracy: largest ground distance between cupola and an independent chain
  (astropy TEME->GCRS/ITRS frames, hand-written rotations, root-found ellipsoid intersection).
* geolocate_subpoint_accuracy: sub-satellite point vs astropy's.
"""

from __future__ import annotations

import subprocess
import sys
import time

from common import ROOT, bench_line, meteor_georeference


def _best_time(func, repeat=5):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - t0)
    return best


def meteor_frame():
    import numpy as np

    _, _, geo = meteor_georeference()
    n_pixels = geo.camera.width_px * geo.camera.height_px
    geo.ground_grid()  # warm-up
    fast = _best_time(geo.ground_grid)
    rng = np.random.default_rng(0)
    n_sub = 3000
    cols = rng.uniform(0, geo.camera.width_px - 1, n_sub)
    rows = rng.uniform(0, geo.camera.height_px - 1, n_sub)

    def loop():
        for c, r in zip(cols, rows):
            geo.pixels_to_ground(c, r)

    per_pixel = _best_time(loop, repeat=2) / n_sub
    baseline = per_pixel * n_pixels
    print(f"# meteor frame: {n_pixels} pixels; per-pixel loop {1 / per_pixel:,.0f} pixels/s", flush=True)
    bench_line("geolocate_meteor_frame", fast, "s", baseline=baseline, ratio=baseline / fast)


D5_SCRIPT = r"""
import resource, sys, time, tracemalloc
sys.path.insert(0, sys.argv[1])
from common import meteor_georeference
from cupola.geometry.camera import Camera
from cupola.geometry.projection import Georeference
_, _, g = meteor_georeference()
cam = Camera.from_focal_sensor(focal_mm=50, sensor_width_mm=35.9, sensor_height_mm=23.9, width_px=5568, height_px=3712)
geo = Georeference(cam, g.pose, g.time)
mode = sys.argv[2]
if mode == "time":
    geo.ground_grid(step=8)
    best = 1e9
    for _ in range(3):
        t0 = time.perf_counter(); lon, lat = geo.ground_grid(); best = min(best, time.perf_counter() - t0)
        del lon, lat
    print(best)
else:
    tracemalloc.start()
    lon, lat = geo.ground_grid()
    print(tracemalloc.get_traced_memory()[1] / 1e6)
"""


def d5_frame():
    bench_dir = str(ROOT / "benchmarks")
    t = float(subprocess.check_output([sys.executable, "-c", D5_SCRIPT, bench_dir, "time"], text=True).split()[-1])
    bench_line("geolocate_d5_frame", t, "s")
    mb = float(subprocess.check_output([sys.executable, "-c", D5_SCRIPT, bench_dir, "memory"], text=True).split()[-1])
    print("# peak memory allocated during the D5 frame, outputs (2 x float64 lon/lat) included", flush=True)
    bench_line("geolocate_d5_frame_memory", mb, "MB")


def accuracy():
    import numpy as np
    from astropy.utils import iers

    iers.conf.auto_download = False
    from reference import astropy_state, reference_ground_points

    from cupola.geometry import attitude

    el, state, geo = meteor_georeference()
    rpy = attitude.rpy_from_pose(state, geo.pose)
    cam = geo.camera
    rng = np.random.default_rng(7)
    cols = np.r_[0, cam.width_px - 1, 0, cam.width_px - 1, rng.uniform(0, cam.width_px - 1, 46)]
    rows = np.r_[0, 0, cam.height_px - 1, cam.height_px - 1, rng.uniform(0, cam.height_px - 1, 46)]
    pos, axes = astropy_state(el.line1, el.line2, geo.time)
    ref = reference_ground_points(pos, axes, rpy, cam.focal_x_px, cam.focal_y_px, cam.cx_px, cam.cy_px, cols, rows)
    lon, lat = geo.pixels_to_ground(cols, rows)
    from pyproj import Geod

    _, _, dist = Geod(ellps="WGS84").inv(lon, lat, ref[:, 0], ref[:, 1])
    bench_line("geolocate_ground_accuracy", float(np.max(dist)), "m", baseline=1.0)
    from astropy import units as u
    from astropy.coordinates import ITRS, CartesianRepresentation

    loc = ITRS(CartesianRepresentation(pos * u.m), obstime=geo.time).earth_location
    sub_lon, sub_lat = state.subpoint
    _, _, d = Geod(ellps="WGS84").inv(sub_lon, sub_lat, loc.lon.deg, loc.lat.deg)
    bench_line("geolocate_subpoint_accuracy", abs(d), "m", baseline=10.0)


BENCHMARKS = {
    "geolocate_meteor_frame": meteor_frame,
    "geolocate_d5_frame": d5_frame,
    "geolocate_accuracy": accuracy,
}
