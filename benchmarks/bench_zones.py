"""Urban night lights by zone: speed of the exact zonal statistics (10,000 polygons over a
20-megapixel raster, every statistic and a population raster) against the brute-force route of
rasterstats (rasterize each polygon on its window, pixel centres, then sum/mean/median), and
the accuracy of zone sums against an exact geometric reference, with the pixel-centre
rasterization's error as the baseline.

The scene: a 5000 x 4000 float32 radiance raster (gamma-distributed, 0.0005 deg pixels near Los
Angeles) and the Voronoi cells of 10,000 random points clipped to it (a tessellation: every pixel in
exactly one zone). The accuracy set adds small discs (0.5-6 pixels across) where partial pixels
matter most; its reference sums weigh each pixel by the area of the polygon inside its square,
computed by shapely for every pixel (exact geometry, no rasterization).
"""

from __future__ import annotations

import time

import numpy as np
from common import bench_line

ROWS, COLS = 4000, 5000
RES_DEG = 0.0005
WEST, NORTH = -118.7, 34.3
TRANSFORM = (RES_DEG, 0.0, WEST, 0.0, -RES_DEG, NORTH)
N_ZONES = 10_000
#: polygons of the brute-force baseline timed (the rest extrapolated: the cost is per polygon)
BASELINE_SAMPLE = 2_000


def _scene(seed: int = 0):
    import shapely

    rng = np.random.default_rng(seed)
    radiance = rng.gamma(2.0, 5.0, (ROWS, COLS)).astype(np.float32)
    population = rng.gamma(1.5, 20.0, (ROWS, COLS)).astype(np.float32)
    pts = rng.uniform([0, 0], [COLS, ROWS], (N_ZONES, 2))
    frame = shapely.box(0, 0, COLS, ROWS)
    cells = shapely.intersection(
        shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=frame)), frame
    )

    def to_lonlat(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([WEST + xy[:, 0] * RES_DEG, NORTH - xy[:, 1] * RES_DEG])

    return radiance, population, shapely.transform(cells, to_lonlat), rng


def _brute_force(radiance: np.ndarray, zones: np.ndarray) -> np.ndarray:
    """rasterstats' route: each polygon rasterized on its own window (pixel centres inside), then
    sum, mean and median of the pixels it takes."""
    import shapely
    from rasterio import features
    from rasterio.transform import Affine

    out = np.full((len(zones), 3), np.nan)
    for k, z in enumerate(zones):
        x0, y0, x1, y1 = shapely.bounds(z)
        c0 = max(int(np.floor((x0 - WEST) / RES_DEG)), 0)
        c1 = min(int(np.ceil((x1 - WEST) / RES_DEG)), COLS)
        r0 = max(int(np.floor((NORTH - y1) / RES_DEG)), 0)
        r1 = min(int(np.ceil((NORTH - y0) / RES_DEG)), ROWS)
        if c1 <= c0 or r1 <= r0:
            continue
        window_transform = Affine(RES_DEG, 0, WEST + c0 * RES_DEG, 0, -RES_DEG, NORTH - r0 * RES_DEG)
        mask = features.rasterize(
            [(z, 1)], out_shape=(r1 - r0, c1 - c0), transform=window_transform, fill=0, dtype="uint8"
        ).astype(bool)
        v = radiance[r0:r1, c0:c1][mask]
        if v.size:
            out[k] = (v.sum(), v.mean(), np.median(v))
    return out


def seconds_10k() -> None:
    from cupola.analysis.zonal import zonal_statistics
    from cupola.io.raster_band import RasterBand

    radiance, population, zones, _ = _scene()
    rad = RasterBand(radiance, TRANSFORM, "EPSG:4326")
    pop = RasterBand(population, TRANSFORM, "EPSG:4326")
    t0 = time.perf_counter()
    st = zonal_statistics(rad, zones, "EPSG:4326", population=pop)
    ours = time.perf_counter() - t0
    total = float(np.nansum(st.radiance_sum))
    print(
        f"# {N_ZONES} zones over {ROWS}x{COLS} px: {ours:.2f} s for coverage, true areas, sum, area-weighted mean "
        f"and median, lit fraction, light, population; sum over zones / raster sum = "
        f"{total / float(radiance.sum(dtype=np.float64)):.9f}",
        flush=True,
    )
    sample = zones[:BASELINE_SAMPLE]
    t0 = time.perf_counter()
    _brute_force(radiance, sample)
    brute = (time.perf_counter() - t0) * N_ZONES / len(sample)
    print(f"# brute force (rasterize per polygon, {len(sample)} timed, scaled to {N_ZONES}): {brute:.2f} s", flush=True)
    bench_line("nightlights_zones_seconds_10k", ours, "s", baseline=brute, ratio=ours / brute)


def sum_error() -> None:
    import shapely

    from cupola.analysis.zonal import zonal_statistics
    from cupola.io.raster_band import RasterBand

    radiance, _, zones, rng = _scene(seed=1)
    pick = rng.choice(len(zones), 150, replace=False)
    centres = rng.uniform([50, 50], [COLS - 50, ROWS - 50], (150, 2))
    radii = rng.uniform(0.25, 3.0, 150)
    discs = shapely.buffer(shapely.points(WEST + centres[:, 0] * RES_DEG, NORTH - centres[:, 1] * RES_DEG),
                           radii * RES_DEG, quad_segs=8)  # fmt: skip
    test = np.concatenate([zones[pick], discs])
    st = zonal_statistics(RasterBand(radiance, TRANSFORM, "EPSG:4326"), test, "EPSG:4326")
    reference = np.empty(len(test))
    for k, z in enumerate(test):
        x0, y0, x1, y1 = shapely.bounds(z)
        c0, c1 = int(np.floor((x0 - WEST) / RES_DEG)), int(np.ceil((x1 - WEST) / RES_DEG))
        r0, r1 = int(np.floor((NORTH - y1) / RES_DEG)), int(np.ceil((NORTH - y0) / RES_DEG))
        cols, rows = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
        boxes = shapely.box(WEST + cols * RES_DEG, NORTH - (rows + 1) * RES_DEG,
                            WEST + (cols + 1) * RES_DEG, NORTH - rows * RES_DEG)  # fmt: skip
        frac = shapely.area(shapely.intersection(boxes, z)) / RES_DEG**2
        reference[k] = float(np.sum(frac * radiance[r0:r1, c0:c1]))
    ours = np.abs(st.radiance_sum - reference) / reference * 100.0
    centre_sums = _brute_force(radiance, test)[:, 0]
    centre = np.abs(np.nan_to_num(centre_sums, nan=0.0) - reference) / reference * 100.0
    print(
        f"# {len(test)} zones (150 Voronoi cells, 150 discs 0.5-6 px across) against shapely pixel-square "
        f"intersections: max error {ours.max():.2e} % (median {np.median(ours):.1e} %); pixel-centre "
        f"rasterization max {centre.max():.1f} % (median {np.median(centre):.1f} %)",
        flush=True,
    )
    bench_line("nightlights_zones_sum_error", float(ours.max()), "%", baseline=float(centre.max()))


BENCHMARKS = {"nightlights_zones_seconds_10k": seconds_10k, "nightlights_zones_sum_error": sum_error}
