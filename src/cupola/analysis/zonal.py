"""Exact zonal statistics of a night-light raster: every pixel a zone touches counts with the
fraction of it that the zone covers (exactextract's coverage fractions), and every pixel with its
true area on the ellipsoid, so sums and means do not depend on how polygons fall on the grid.

The method, in order:

1. The zones are transformed into the raster's CRS (edges densified when the CRSs differ) and
   exactextract gives, for each zone, the cells it touches and the covered fraction ``c`` of each
   (Baston 2022, exactextract; the same cells whatever the raster holds).
2. Each cell's true area ``a`` (km²): for a geographic raster the exact area of its lat/lon box on
   the CRS's ellipsoid (Snyder 1987, eq. 3-12 via the authalic function q); for a projected one
   the nominal cell area divided by the projection's areal scale factor (pyproj ``get_factors``)
   at the cell.
3. Zone areas, centroids and distances come from the zones in a Lambert azimuthal equal-area
   projection centred on the layer (EPSG method 9820, WGS84) and from geodesics (pyproj Geod).

Per zone (NaN where a zone has no valid pixel: outside the raster, all nodata, or empty):
``radiance_sum`` the coverage-weighted sum of pixel values (``sum`` of exactextract/rasterstats,
in raster units x pixels, "sum of lights"), ``radiance_mean`` and ``radiance_median`` weighted by
covered area ``c * a``, ``lit_fraction`` the covered area above ``lit_threshold``, ``light_w_sr``
the radiance integrated over the zone's covered area (radiance in nW cm-2 sr-1 times cm²: W sr-1,
= 10 x km² x nW cm-2 sr-1), ``light_w_sr_per_km2``, and with a population raster (persons per
pixel, same grid) ``population``, ``population_per_km2`` and ``light_w_sr_per_person``.

>>> import numpy as np, shapely
>>> from cupola.io.raster_band import RasterBand
>>> from cupola.analysis.zonal import zonal_statistics
>>> grid = RasterBand(np.ones((4, 4), np.float32), (1.0, 0.0, 0.0, 0.0, -1.0, 4.0), "EPSG:32611")
>>> st = zonal_statistics(grid, np.array([shapely.box(0.5, 0.5, 2.5, 1.5)]), "EPSG:32611")
>>> float(st.radiance_sum[0]), float(st.radiance_mean[0])   # 2 pixels' worth of ones
(2.0, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from cupola.errors import InputError
from cupola.io.raster_band import RasterBand

__all__ = [
    "ZoneStatistics",
    "zonal_statistics",
    "zone_coverage",
    "pixel_area_km2",
    "equal_area_crs",
    "weighted_median",
    "LIT_THRESHOLD",
    "reproject_geometries",
    "transformer",
    "segment_length",
]

#: a pixel is lit above this radiance (nW cm-2 sr-1): VIIRS DNB background after stray-light and
#: airglow correction lies below ~0.3-0.5 (Elvidge et al. 2017; Levin et al. 2020)
LIT_THRESHOLD = 0.5
#: a weighted median is midway between two values when the cumulative weight is this close to half
#: (relative): true pixel areas of a projected grid differ by ~1e-7, equal pixels should tie
TIE_TOLERANCE = 1e-6
#: cells handled at once (zones are batched so that their cells add up to about this many)
BATCH_CELLS = 1 << 20
#: W sr-1 per (km² x nW cm-2 sr-1): 1 km² = 1e10 cm², 1 nW = 1e-9 W
W_SR_PER_KM2_NW = 10.0


@dataclass(frozen=True)
class ZoneStatistics:
    """Per-zone statistics, every field an array with one value per zone (see the module)."""

    zone_area_km2: np.ndarray
    covered_area_km2: np.ndarray
    covered_fraction: np.ndarray
    pixels: np.ndarray
    radiance_sum: np.ndarray
    radiance_mean: np.ndarray
    radiance_median: np.ndarray
    lit_fraction: np.ndarray
    light_w_sr: np.ndarray
    light_w_sr_per_km2: np.ndarray
    population: np.ndarray | None
    population_per_km2: np.ndarray | None
    light_w_sr_per_person: np.ndarray | None
    centroid_lon: np.ndarray
    centroid_lat: np.ndarray

    def __len__(self) -> int:
        return len(self.zone_area_km2)

    def columns(self) -> dict[str, np.ndarray]:
        """Every statistic by name, in order (the population ones only when there is a population)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


# --- geometry -------------------------------------------------------------------------------------


def equal_area_crs(lon: float, lat: float) -> str:
    """A Lambert azimuthal equal-area projection on WGS84 centred at (``lon``, ``lat``) degrees."""
    return f"+proj=laea +lat_0={lat:.6f} +lon_0={lon:.6f} +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"


def transformer(src: str, dst: str):
    from pyproj import CRS, Transformer

    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def _same_crs(a: str, b: str) -> bool:
    from pyproj import CRS

    return CRS.from_user_input(a) == CRS.from_user_input(b)


def reproject_geometries(geoms: np.ndarray, src: str, dst: str, max_segment: float | None = None) -> np.ndarray:
    """``geoms`` from ``src`` to ``dst``; edges longer than ``max_segment`` (``src`` units) are split
    first so that straight edges stay where they were after a curved mapping."""
    import shapely

    if _same_crs(src, dst):
        return geoms
    if max_segment is not None and max_segment > 0:
        geoms = shapely.segmentize(geoms, max_segment)
    tr = transformer(src, dst)

    def move(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    out = shapely.transform(geoms, move)
    return np.asarray(out, dtype=object)


def _crs_or_error(crs: str | None, what: str):
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    if not crs:
        raise InputError(f"{what}: has no coordinate reference system (CRS); assign one (e.g. with GDAL) first")
    try:
        return CRS.from_user_input(crs)
    except CRSError as exc:
        raise InputError(f"{what}: its CRS is not understood ({' '.join(str(exc).split())})") from None


def _authalic_q(phi: np.ndarray, e: float) -> np.ndarray:
    """Snyder (1987) eq. 3-12: q(phi) of the authalic latitude; the area between two latitudes
    over one radian of longitude is a²/2 * (q2 - q1) (the whole ellipsoid: 2 pi a² q(90°))."""
    s = np.sin(phi)
    if e == 0.0:
        return 2.0 * s
    es = e * s
    return (1.0 - e * e) * (s / (1.0 - es * es) - (1.0 / (2.0 * e)) * np.log((1.0 - es) / (1.0 + es)))


def pixel_area_km2(transform, shape: tuple[int, int], crs: str) -> np.ndarray:
    """True area (km²) of every pixel of a north-up grid, as an array broadcastable to ``shape``
    (rows, cols): one value per row for a geographic grid, a constant or a smooth field for a
    projected one (nominal area / areal scale factor, sampled on a coarse grid and interpolated).

    >>> a = pixel_area_km2((0.01, 0, 0.0, 0, -0.01, 0.01), (1, 1), "EPSG:4326")  # 0.01° at the equator (Geod: 1.23091)
    >>> round(float(a[0, 0]), 4)
    1.2309
    """
    from pyproj import CRS, Proj

    c = CRS.from_user_input(crs)
    a_, b_, c0, d_, e_, f0 = (float(v) for v in transform[:6])
    rows, cols = shape
    if c.is_geographic:
        ell = c.ellipsoid
        semi_major = ell.semi_major_metre if ell is not None else 6378137.0
        semi_minor = ell.semi_minor_metre if ell is not None else 6356752.314245179
        ecc = math.sqrt(max(0.0, 1.0 - (semi_minor / semi_major) ** 2))
        edges = np.radians(f0 + e_ * np.arange(rows + 1, dtype=np.float64))
        q = _authalic_q(edges, ecc)
        band = np.abs(np.diff(q)) * semi_major**2 / 2.0  # m² per radian of longitude
        area_m2 = band * math.radians(abs(a_))
        return (area_m2 / 1e6)[:, None]
    unit = c.axis_info[0].unit_conversion_factor if c.axis_info else 1.0
    nominal_km2 = abs(a_ * e_ - b_ * d_) * unit * unit / 1e6
    # areal scale on a coarse grid of pixel centres, interpolated bilinearly
    n_r, n_c = min(rows, 33), min(cols, 33)
    rr = np.linspace(0, rows - 1, n_r)
    cc = np.linspace(0, cols - 1, n_c)
    cgrid, rgrid = np.meshgrid(cc + 0.5, rr + 0.5)
    x = c0 + a_ * cgrid + b_ * rgrid
    y = f0 + d_ * cgrid + e_ * rgrid
    geo = c.geodetic_crs
    lon, lat = transformer(c.to_wkt(), geo.to_wkt() if geo is not None else "EPSG:4326").transform(x, y)
    try:
        scale = np.asarray(Proj(c).get_factors(lon, lat).areal_scale, dtype=np.float64)
    except Exception:  # a projection without factors: take its nominal areas
        scale = np.ones_like(x)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    if np.all(np.abs(scale - 1.0) < 1e-9):
        return np.full((1, 1), nominal_km2)
    if n_r == rows and n_c == cols:
        return nominal_km2 / scale
    from scipy.interpolate import RegularGridInterpolator

    f = RegularGridInterpolator((rr, cc), scale, method="linear")
    full_r, full_c = np.meshgrid(np.arange(rows, dtype=np.float64), np.arange(cols, dtype=np.float64), indexing="ij")
    return nominal_km2 / f(np.stack([full_r.ravel(), full_c.ravel()], axis=1)).reshape(rows, cols)


# --- coverage -------------------------------------------------------------------------------------


def _check_grid(transform, what: str) -> None:
    a_, b_, _c, d_, e_, _f = (float(v) for v in transform[:6])
    if b_ != 0.0 or d_ != 0.0:
        raise InputError(f"{what}: a rotated grid is not supported; warp it north-up first (gdalwarp)")
    if not (a_ > 0.0 and e_ < 0.0):
        raise InputError(f"{what}: the grid must be north-up (positive x step, negative y step)")


def _wkb_source(wkb: np.ndarray):
    """An exactextract feature source handing over WKB as it is (no GeoJSON round trip)."""
    from exactextract.feature import Feature, FeatureSource

    class WkbFeature(Feature):
        def __init__(self, blob: bytes) -> None:
            Feature.__init__(self)
            self.blob = blob
            self.values: dict = {}

        def geometry(self) -> bytes:
            return self.blob

        def set_geometry_format(self) -> str:
            return "wkb"

        def set(self, name, value) -> None:
            self.values[name] = value

        def get(self, name):
            return self.values[name]

        def fields(self) -> list:
            return list(self.values)

    class WkbSource(FeatureSource):
        def __init__(self) -> None:
            super().__init__()

        def count(self) -> int:
            return len(wkb)

        def __iter__(self):
            for blob in wkb:
                yield WkbFeature(bytes(blob))

        def srs_wkt(self):
            return None

    return WkbSource()


def zone_coverage(geometries: np.ndarray, transform, shape: tuple[int, int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each geometry (in the grid's CRS): the flat cell indices (row * cols + col) it touches and
    the fraction of each cell it covers, from exactextract. Missing or empty geometries get none."""
    import shapely
    from exactextract import exact_extract
    from exactextract.raster import NumPyRasterSource

    rows, cols = shape
    a_, _b, c0, _d, e_, f0 = (float(v) for v in transform[:6])
    geoms = np.asarray(geometries, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    where = np.flatnonzero(ok)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.float64))
    result: list[tuple[np.ndarray, np.ndarray]] = [empty] * len(geoms)
    if where.size == 0:
        return result
    wkb = shapely.to_wkb(geoms[where])
    source = NumPyRasterSource(np.broadcast_to(np.float32(0.0), (rows, cols)), c0, f0 + e_ * rows, c0 + a_ * cols, f0)
    out = exact_extract(source, _wkb_source(wkb), ["cell_id", "coverage"])
    for k, feat in zip(where, out):
        props = feat["properties"]
        result[k] = (np.asarray(props["cell_id"], np.int64), np.asarray(props["coverage"], np.float64))
    return result


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The median of ``values`` with ``weights``: the value where the cumulative weight of the sorted
    values reaches half the total; midway between two values when it is exactly half there (so
    equal weights give the ordinary median). NaN when nothing has weight.

    >>> weighted_median(np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4))
    2.5
    >>> weighted_median(np.array([1.0, 9.0]), np.array([3.0, 1.0]))
    1.0
    """
    keep = weights > 0
    v = values[keep]
    w = weights[keep]
    if v.size == 0:
        return math.nan
    order = np.argsort(v, kind="stable")
    v = v[order]
    cum = np.cumsum(w[order])
    half = 0.5 * cum[-1]
    k = int(np.searchsorted(cum, half * (1.0 - TIE_TOLERANCE)))
    k = min(k, v.size - 1)
    if abs(cum[k] - half) <= TIE_TOLERANCE * cum[-1] and k + 1 < v.size:
        return float(0.5 * (v[k] + v[k + 1]))
    return float(v[k])


def _median_of_zone(values: np.ndarray, weights: np.ndarray, filter_first: bool) -> float:
    """:func:`weighted_median` without the copying when every cell counts (the common case)."""
    if filter_first:
        return weighted_median(values, weights)
    order = np.argsort(values)
    v = values[order]
    cum = np.cumsum(weights[order])
    half = 0.5 * cum[-1]
    k = min(int(np.searchsorted(cum, half * (1.0 - TIE_TOLERANCE))), v.size - 1)
    if abs(cum[k] - half) <= TIE_TOLERANCE * cum[-1] and k + 1 < v.size:
        return 0.5 * (float(v[k]) + float(v[k + 1]))
    return float(v[k])


# --- statistics -----------------------------------------------------------------------------------


def _polygons_only(geoms: np.ndarray, what: str) -> None:
    import shapely

    types = shapely.get_type_id(geoms)
    bad = np.flatnonzero((types >= 0) & (types != 3) & (types != 6))
    if bad.size:
        k = int(bad[0])
        name = shapely.get_type_id(geoms[k])
        kinds = {0: "Point", 1: "LineString", 2: "LinearRing", 4: "MultiPoint", 5: "MultiLineString", 7: "collection"}
        raise InputError(
            f"{what}: feature {k + 1} is a {kinds.get(int(name), 'non-polygon')}; zones must be polygons "
            f"({bad.size} of {len(geoms)} features are not)"
        )


def zonal_statistics(
    radiance: RasterBand,
    zones: np.ndarray,
    zones_crs: str | None,
    *,
    population: RasterBand | None = None,
    lit_threshold: float = LIT_THRESHOLD,
    zones_name: str = "`zones`",
    radiance_name: str = "radiance raster",
    population_name: str = "`population`",
) -> ZoneStatistics:
    """Exact per-zone statistics of ``radiance`` over the polygons ``zones`` (in ``zones_crs``);
    see the module for the method and the fields.

    Raises:
        InputError: a layer or raster without a CRS, zones that are not polygons, no zone that
            overlaps the raster, or a population raster on another grid (shape, transform or CRS).
    """
    import shapely

    if not math.isfinite(lit_threshold):
        raise InputError(f"`lit_threshold` must be a finite radiance, got {lit_threshold!r}")
    r_crs = _crs_or_error(radiance.crs, f"{radiance_name} {radiance.path or ''}".strip())
    z_crs = _crs_or_error(zones_crs, zones_name)
    _check_grid(radiance.transform, f"{radiance_name} {radiance.path or ''}".strip())
    geoms = np.asarray(zones, dtype=object)
    if geoms.size == 0:
        raise InputError(f"{zones_name}: the layer has no features")
    _polygons_only(geoms, zones_name)
    if population is not None:
        _same_grid(radiance, population, radiance_name, population_name)

    rows, cols = radiance.shape
    # zones in lon/lat, then in a local equal-area projection for areas and centroids
    lonlat = reproject_geometries(geoms, z_crs.to_wkt(), "EPSG:4326", segment_length(geoms))
    usable = ~(shapely.is_missing(lonlat) | shapely.is_empty(lonlat))
    if not usable.any():
        raise InputError(f"{zones_name}: every feature is empty")
    x0, y0, x1, y1 = shapely.total_bounds(lonlat[usable])
    laea = equal_area_crs(0.5 * (x0 + x1), 0.5 * (y0 + y1))
    ea = reproject_geometries(lonlat, "EPSG:4326", laea, segment_length(lonlat))
    zone_area = np.where(usable, shapely.area(ea) / 1e6, np.nan)
    cx = np.full(len(geoms), np.nan)
    cy = np.full(len(geoms), np.nan)
    cen = shapely.centroid(ea[usable])
    cx[usable], cy[usable] = shapely.get_x(cen), shapely.get_y(cen)
    clon, clat = transformer(laea, "EPSG:4326").transform(cx, cy)

    in_grid = reproject_geometries(geoms, z_crs.to_wkt(), r_crs.to_wkt(), segment_length(geoms))
    cover = zone_coverage(in_grid, radiance.transform, (rows, cols))
    n_cells = np.array([len(c[0]) for c in cover])
    if not n_cells.any():
        raise InputError(
            f"{zones_name}: no zone overlaps the raster {radiance.path or ''} (zones span lon "
            f"{x0:.4f}..{x1:.4f}, lat {y0:.4f}..{y1:.4f}); check that the layer and the raster show the same place"
        )
    area = pixel_area_km2(radiance.transform, (rows, cols), r_crs.to_wkt())
    area_flat_rows = area.shape[1] == 1 and area.shape[0] == rows
    flat = radiance.values.reshape(-1)
    pop_flat = population.values.reshape(-1) if population is not None else None

    n = len(geoms)
    row_area = area[:, 0] if area_flat_rows else None
    sums = {key: np.zeros(n) for key in ("pixels", "covered", "radiance", "light", "lit", "pop")}
    median = np.full(n, np.nan)
    # zones in batches of about BATCH_CELLS cells: arrays stay small (no page faults of huge fresh
    # arrays, bounded memory) and each zone's cells are one contiguous run summed by reduceat
    bounds = np.searchsorted(np.cumsum(n_cells), np.arange(BATCH_CELLS, int(n_cells.sum()), BATCH_CELLS))
    edges = np.unique(np.concatenate([[0], bounds + 1, [n]]).clip(0, n))
    for k0, k1 in zip(edges[:-1], edges[1:]):
        counts = n_cells[k0:k1]
        if not counts.any():
            continue
        cell = np.concatenate([cover[k][0] for k in range(k0, k1)])
        frac = np.concatenate([cover[k][1] for k in range(k0, k1)])
        values = flat[cell]  # float32, NaN = no data
        if area.size == 1:
            w = frac * float(area.reshape(-1)[0])
        elif row_area is not None:
            w = frac * row_area[cell // cols]
        else:
            w = frac * area.reshape(-1)[cell]
        invalid = np.isnan(values)
        any_invalid = bool(invalid.any())
        if any_invalid:  # no-data cells weigh nothing
            values_0 = np.where(invalid, np.float32(0.0), values)
            w[invalid] = 0.0
            frac = np.where(invalid, 0.0, frac)
        else:
            values_0 = values
        starts = np.concatenate([[0], np.cumsum(counts)])
        nonempty = counts > 0
        first = starts[:-1][nonempty]
        where = np.arange(k0, k1)[nonempty]

        def add(key: str, weights: np.ndarray, first: np.ndarray = first, where: np.ndarray = where) -> None:
            sums[key][where] = np.add.reduceat(weights, first)

        add("pixels", frac)
        add("covered", w)
        add("radiance", frac * values_0)
        add("light", w * values_0)
        add("lit", np.where(values_0 > lit_threshold, w, 0.0))
        if pop_flat is not None:
            p = pop_flat[cell]
            add("pop", frac * np.where(np.isnan(p), np.float32(0.0), p))
        for j in np.flatnonzero(nonempty):
            s = slice(starts[j], starts[j + 1])
            median[k0 + j] = _median_of_zone(values[s], w[s], any_invalid)

    pixels = sums["pixels"]
    covered = sums["covered"]
    has = covered > 0
    safe = np.where(has, covered, 1.0)
    nan = np.full(n, np.nan)
    median = np.where(has, median, nan)
    radiance_sum = np.where(has, sums["radiance"], nan)
    light_km2_nw = sums["light"]
    radiance_mean = np.where(has, light_km2_nw / safe, nan)
    lit = np.where(has, sums["lit"] / safe, nan)
    light = np.where(has, W_SR_PER_KM2_NW * light_km2_nw, nan)
    pop = pop_density = per_person = None
    if pop_flat is not None:
        pop = np.where(has, sums["pop"], nan)
        pop_density = np.where(has, pop / safe, nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_person = np.where(has & (pop > 0), light / pop, nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        covered_fraction = np.where(zone_area > 0, covered / zone_area, nan)
    return ZoneStatistics(
        zone_area_km2=zone_area,
        covered_area_km2=covered,
        covered_fraction=covered_fraction,
        pixels=pixels,
        radiance_sum=radiance_sum,
        radiance_mean=radiance_mean,
        radiance_median=median,
        lit_fraction=lit,
        light_w_sr=light,
        light_w_sr_per_km2=np.where(has, light / np.where(has, covered, 1.0), nan),
        population=pop,
        population_per_km2=pop_density,
        light_w_sr_per_person=per_person,
        centroid_lon=np.where(usable, clon, nan),
        centroid_lat=np.where(usable, clat, nan),
    )


def segment_length(geoms: np.ndarray) -> float | None:
    """Edges are split to 1/200 of the layer's extent before a change of CRS."""
    import shapely

    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return None
    x0, y0, x1, y1 = shapely.total_bounds(geoms[ok])
    span = math.hypot(x1 - x0, y1 - y0)
    return span / 200.0 if span > 0 and math.isfinite(span) else None


def _same_grid(a: RasterBand, b: RasterBand, a_name: str, b_name: str) -> None:
    where = f"{b_name} {b.path or ''}".strip()
    if b.shape != a.shape:
        raise InputError(
            f"{where}: is {b.shape[1]}x{b.shape[0]} pixels, the radiance {a.shape[1]}x{a.shape[0]}; "
            f"the population raster must be on the radiance grid (resample it first)"
        )
    if not np.allclose(
        np.asarray(b.transform[:6]), np.asarray(a.transform[:6]), rtol=0, atol=1e-6 * abs(a.transform[0])
    ):
        raise InputError(
            f"{where}: its grid (origin, pixel size) differs from the radiance's; "
            f"the population raster must be on the radiance grid (resample it first)"
        )
    if not b.crs or not a.crs or not _same_crs(a.crs, b.crs):
        raise InputError(
            f"{where}: its CRS ({b.crs or 'none'}) differs from the radiance's ({a.crs}); "
            f"the population raster must be on the radiance grid"
        )
