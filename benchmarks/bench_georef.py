"""The georeferenced COG of a 25-megapixel photo (``cupola.io.geotiff.write_georeferenced_cog``),
the product that dominated ``cupola locate``'s time on full-size frames (issue 10).

The photo is the bundled ISS050-E-70536 frame (1024 px) upsampled to 5000 x 5000 px; its mapping
is the one ``cupola locate`` builds: the reference's affine lon/lat -> pixel, then the inverse of
the photo -> reference homography, here the homography that puts the photo's corners on the
analysts' footprint. The grid is sized as ``locate.job.write_products`` sizes it. Baseline, in the
same run: the previous writer (NumPy bilinear, the mapping at every grid cell, DEFLATE level 6);
new: ``cv2.remap``, the mapping declared smooth (coarse lattice), DEFLATE level
``DEFLATE_LEVEL``. Also printed: the largest pixel difference between the two (cells both see),
the cells whose alpha differs, and the file size ratio. The CPU seconds (all the process's
threads: GDAL's compression, OpenCV's) are less at the mercy of other jobs than the wall seconds.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, bench_line

CASE = ROOT / "src" / "cupola" / "data" / "samples" / "apl" / "ISS050-E-70536"
SIDE_PX = 5000  # 25 MP


def _photo_and_mapping():
    import cv2
    from pyproj import Geod

    from cupola.geometry.geodesy import M_PER_DEG
    from cupola.locate.homography import apply_h

    case = json.loads((CASE / "case.json").read_text())
    photo = cv2.cvtColor(cv2.imread(str(CASE / "photo.jpg")), cv2.COLOR_BGR2RGB)
    photo = cv2.resize(photo, (SIDE_PX, SIDE_PX), interpolation=cv2.INTER_CUBIC)
    ref_h, ref_w = cv2.imread(str(CASE / "reference.jpg")).shape[:2]
    b = case["reference_bounds"]
    west, south, east, north = b["west"], b["south"], b["east"], b["north"]

    def lonlat_to_ref_px(lon, lat):  # north-up reference, (0, 0) the centre of its top-left pixel
        return (lon - west) / (east - west) * ref_w - 0.5, (north - lat) / (north - south) * ref_h - 0.5

    ring = np.array([(lon, lat) for lat, lon in case["truth"]["footprint_lat_lon"]])
    ref_px = np.column_stack(lonlat_to_ref_px(ring[:, 0], ring[:, 1])).astype(np.float32)
    corners = np.float32([[-0.5, -0.5], [-0.5, SIDE_PX - 0.5], [SIDE_PX - 0.5, SIDE_PX - 0.5], [SIDE_PX - 0.5, -0.5]])
    h_inv = np.linalg.inv(cv2.getPerspectiveTransform(corners, ref_px).astype(float))

    def to_photo(lon, lat):
        c, r = lonlat_to_ref_px(np.asarray(lon, float), np.asarray(lat, float))
        p = apply_h(h_inv, np.column_stack([np.ravel(c), np.ravel(r)]))
        return p[:, 0].reshape(np.shape(lon)), p[:, 1].reshape(np.shape(lon))

    geod = Geod(ellps="WGS84")
    edges = [geod.inv(*ring[i], *ring[(i + 1) % 4])[2] for i in range(4)]
    res_deg = max(edges) / SIDE_PX / M_PER_DEG
    bounds = (*ring.min(axis=0), *ring.max(axis=0))
    return photo, to_photo, bounds, res_deg


def cog_25mp():
    import rasterio

    from cupola.io import geotiff

    photo, to_photo, bounds, res_deg = _photo_and_mapping()
    with tempfile.TemporaryDirectory(prefix="cupola-bench-georef-") as tmp:
        old, new = Path(tmp) / "old.tif", Path(tmp) / "new.tif"
        level = geotiff.DEFLATE_LEVEL
        geotiff.DEFLATE_LEVEL = 6  # the previous writer's level (GDAL's default)
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            info = geotiff.write_georeferenced_cog(old, photo, to_photo, bounds, res_deg, resampler="numpy")
            t_old, cpu_old = time.perf_counter() - t0, time.process_time() - c0
        finally:
            geotiff.DEFLATE_LEVEL = level
        t0, c0 = time.perf_counter(), time.process_time()
        geotiff.write_georeferenced_cog(new, photo, to_photo, bounds, res_deg, mapping_is_smooth=True)
        t_new, cpu_new = time.perf_counter() - t0, time.process_time() - c0
        with rasterio.open(old) as a, rasterio.open(new) as b:
            assert a.overviews(1) and b.overviews(1)
            ra, rb = a.read(), b.read()
        both = (ra[3] > 0) & (rb[3] > 0)
        diff = int(np.abs(ra[:3].astype(int) - rb[:3].astype(int))[:, both].max()) if both.any() else 0
        alpha_differs = int((ra[3] != rb[3]).sum())
        size_ratio = new.stat().st_size / old.stat().st_size
    print(
        f"# georef COG: {info['width']} x {info['height']} cells "
        f"({info['width'] * info['height'] / 1e6:.1f} MP) of a {SIDE_PX} x {SIDE_PX} photo",
        flush=True,
    )
    bench_line("georef_cog_seconds_25mp", t_new, "s", baseline=t_old, ratio=t_old / t_new)
    bench_line("georef_cog_cpu_seconds_25mp", cpu_new, "s", baseline=cpu_old, ratio=cpu_old / cpu_new)
    bench_line("georef_cog_max_pixel_difference", diff, "DN")
    bench_line("georef_cog_alpha_cells_differing", alpha_differs, "cells")
    bench_line("georef_cog_size_ratio", size_ratio, "ratio")


BENCHMARKS = {"georef_cog": cog_25mp}
