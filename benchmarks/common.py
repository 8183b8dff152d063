"""Helpers shared by the benchmarks: the BENCH line and the bundled Meteor sample."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# one core: keep BLAS and friends single-threaded before numpy is imported
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "cupola" / "data" / "samples" / "iss-meteor-2017"
sys.path.insert(0, str(ROOT / "tests"))  # the independent reference chain lives with the tests


def bench_line(name: str, value: float, unit: str, baseline: float | None = None, ratio: float | None = None) -> str:
    parts = [f"BENCH name={name}", f"value={value:.6g}", f"unit={unit}"]
    if baseline is not None:
        parts.append(f"baseline={baseline:.6g}")
    if ratio is not None:
        parts.append(f"ratio={ratio:.6g}")
    line = " ".join(parts)
    print(line, flush=True)
    return line


def meteor_georeference():
    """Georeference of the real Meteor frame with its attitude solved from the tie points."""
    import csv
    import datetime as dt

    import numpy as np

    from cupola.geometry import attitude, orbit
    from cupola.geometry.camera import Camera
    from cupola.geometry.projection import Georeference

    t = dt.datetime(2017, 5, 17, 5, 44, 9, 526000, tzinfo=dt.timezone.utc)
    sets = orbit.parse_tle((SAMPLE / "iss_tle_25544_20170101-20170630.txt").read_text())
    el = orbit.select_element_set(sets, t)
    state = orbit.state_at(el, t)
    cam = Camera.from_focal_sensor(
        focal_mm=10.5, sensor_width_mm=8.7, sensor_height_mm=4.89375, width_px=1280, height_px=738
    )
    rows = list(csv.DictReader((SAMPLE / "tie_points.csv").open()))
    col = np.array([float(r["col"]) for r in rows])
    row = np.array([float(r["row"]) for r in rows])
    lat = np.array([float(r["lat"]) for r in rows])
    lon = np.array([float(r["lon"]) for r in rows])
    sol = attitude.solve_attitude(cam, state.position_m, col_px=col, row_px=row, lon_deg=lon, lat_deg=lat)
    return el, state, Georeference(sol.camera, sol.pose, t)
