"""Urban night lights by zone: read a night-light raster (cupola's calibrated radiance, VIIRS or
Black Marble GeoTIFFs) and a polygon layer of zones (neighbourhoods, districts, cities), and
compute per zone the exact statistics of :mod:`cupola.analysis.zonal`, then across zones the
comparisons of :mod:`cupola.nightlights.urban`: inequality, centre-periphery rings, deprived
versus other areas within each city, and light versus population.

>>> import numpy as np, shapely
>>> from cupola.io.raster_band import RasterBand
>>> from cupola.nightlights.zones import ZonesOptions, analyse_zones
>>> grid = RasterBand(np.full((20, 20), 2.0, np.float32), (100.0, 0, 500000.0, 0, -100.0, 3800000.0), "EPSG:32611")
>>> zones = np.array([shapely.box(500000 + 200 * k, 3798100, 500200 + 200 * k, 3798400) for k in range(5)])
>>> result = analyse_zones(grid, zones, "EPSG:32611", {}, ZonesOptions())
>>> round(result.inequality[0].gini, 9), float(result.stats.radiance_mean[0])
(0.0, 2.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cupola.analysis.zonal import (
    LIT_THRESHOLD,
    ZoneStatistics,
    reproject_geometries,
    segment_length,
    zonal_statistics,
)
from cupola.errors import InputError
from cupola.io.raster_band import RasterBand, read_raster_band
from cupola.io.zone_layer import ZoneLayer, read_zone_layer
from cupola.nightlights import urban

__all__ = ["ZonesOptions", "ZonesResult", "analyse_zones", "run_zones", "deprived_flags", "RING_STEPS_KM"]

#: ring widths chosen from (km): the smallest that covers the farthest zone in about 8 rings
RING_STEPS_KM = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0)
_TRUE = {"1", "true", "t", "yes", "y", "deprived"}
_FALSE = {"0", "false", "f", "no", "n", "other", "not deprived", ""}


@dataclass(frozen=True)
class ZonesOptions:
    """How to read and compare the zones: ``zone_field`` names each zone (default: a ``name`` column
    if there is one, else the feature number), ``class_field`` flags deprived zones (true/false,
    yes/no, 1/0, deprived/other), ``city_field`` groups zones into cities (default: one city),
    ``centre_lat_lon`` the centre of the rings (default: each city's light-weighted centroid),
    ``ring_km`` their width (default: automatic), ``band`` the raster band (1-based),
    ``lit_threshold`` the radiance above which a pixel is lit (nW cm-2 sr-1), ``n_boot`` and
    ``seed`` the bootstrap."""

    zone_field: str | None = None
    class_field: str | None = None
    city_field: str | None = None
    centre_lat_lon: tuple[float, float] | None = None
    ring_km: float | None = None
    band: int = 1
    lit_threshold: float = LIT_THRESHOLD
    n_boot: int = urban.DEFAULT_BOOTSTRAP
    seed: int = 0

    def __post_init__(self) -> None:
        if self.centre_lat_lon is not None:
            lat, lon = self.centre_lat_lon
            if not (-90.0 <= lat <= 90.0 and -180.0 <= lon < 360.0):
                raise InputError(f"`centre` must be a latitude and a longitude in degrees, got {self.centre_lat_lon}")
        if self.ring_km is not None and not (self.ring_km > 0 and math.isfinite(self.ring_km)):
            raise InputError(f"`ring_km` must be a positive width in km, got {self.ring_km}")
        if not math.isfinite(self.lit_threshold):
            raise InputError(f"`lit_threshold` must be a finite radiance, got {self.lit_threshold}")
        if self.n_boot < 1:
            raise InputError(f"`n_boot` must be at least 1, got {self.n_boot}")

    def to_dict(self) -> dict:
        return {
            "zone_field": self.zone_field,
            "class_field": self.class_field,
            "city_field": self.city_field,
            "centre_lat_lon": list(self.centre_lat_lon) if self.centre_lat_lon else None,
            "ring_km": self.ring_km,
            "band": self.band,
            "lit_threshold_nw_cm2_sr": self.lit_threshold,
            "bootstrap_resamples": self.n_boot,
            "seed": self.seed,
        }


@dataclass
class ZonesResult:
    """Everything the products show: the zones (names, cities, classes, geometries in their own CRS
    and in lon/lat), the per-zone statistics and the comparisons across zones."""

    names: np.ndarray
    cities: np.ndarray
    deprived: np.ndarray | None
    geometries: np.ndarray
    crs: str
    lonlat: np.ndarray
    fields: dict[str, np.ndarray]
    stats: ZoneStatistics
    options: ZonesOptions
    radiance_units: str
    distance_km: np.ndarray
    ring: np.ndarray
    ring_km: float
    centres: dict[str, tuple[float, float]]
    inequality: list[urban.Inequality]
    lorenz: dict[str, tuple[np.ndarray, np.ndarray]]
    rings: list[dict]
    comparisons: list[urban.GroupComparison]
    correlations: list[urban.Correlation]
    fit: urban.LogFit | None
    residual_dex: np.ndarray | None
    inputs: dict[str, str | None] = field(default_factory=dict)

    def zone_table(self) -> dict[str, np.ndarray]:
        """One row per zone: name, city, class, every statistic, distance and ring, residual."""
        table: dict[str, np.ndarray] = {"zone": self.names, "city": self.cities}
        if self.deprived is not None:
            table["deprived"] = np.array([None if d is None else bool(d) for d in self.deprived.tolist()], dtype=object)
        table.update(self.stats.columns())
        table["centre_distance_km"] = self.distance_km
        table["ring"] = self.ring
        if self.residual_dex is not None:
            table["light_vs_population_residual_dex"] = self.residual_dex
        return table


def deprived_flags(values: np.ndarray, field_name: str) -> np.ndarray:
    """The deprived flag of each zone from a column: booleans, numbers (non-zero is deprived) or
    words (true/yes/1/deprived, false/no/0/other); a missing value is None (left out).

    >>> deprived_flags(np.array(["yes", "no", None, "Deprived"], dtype=object), "deprived").tolist()
    [True, False, None, True]
    """
    out = np.empty(len(values), dtype=object)
    for k, v in enumerate(values.tolist()):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out[k] = None
        elif isinstance(v, (bool, np.bool_)):
            out[k] = bool(v)
        elif isinstance(v, (int, float, np.integer, np.floating)):
            out[k] = bool(v != 0)
        else:
            text = str(v).strip().lower()
            if text in _TRUE:
                out[k] = True
            elif text in _FALSE:
                out[k] = False
            else:
                raise InputError(
                    f"`class_field` {field_name!r}: feature {k + 1} has {v!r}; expected true/false, yes/no, "
                    "1/0 or deprived/other"
                )
    return out


def _column(layer_fields: dict[str, np.ndarray], name: str, option: str) -> np.ndarray:
    if name in layer_fields:
        return layer_fields[name]
    lower = {k.lower(): k for k in layer_fields}
    if name.lower() in lower:
        return layer_fields[lower[name.lower()]]
    have = ", ".join(layer_fields) or "none"
    raise InputError(f"`{option}` {name!r}: the zone layer has no such field (fields: {have})")


def _names(layer_fields: dict[str, np.ndarray], n: int, zone_field: str | None) -> np.ndarray:
    if zone_field:
        col = _column(layer_fields, zone_field, "zone_field")
    else:
        lower = {k.lower(): k for k in layer_fields}
        key = next((lower[k] for k in ("name", "zone", "id", "areaname") if k in lower), None)
        if key is None:
            return np.array([str(k + 1) for k in range(n)], dtype=object)
        col = layer_fields[key]
    return np.array(["" if v is None else str(v) for v in col.tolist()], dtype=object)


def _ring_width(distance_km: np.ndarray) -> float:
    d = distance_km[np.isfinite(distance_km)]
    far = float(d.max()) if d.size else 1.0
    for step in RING_STEPS_KM:
        if far / step <= 8.0:
            return step
    return RING_STEPS_KM[-1]


def _centres(result_stats: ZoneStatistics, cities: np.ndarray, opts: ZonesOptions) -> dict[str, tuple[float, float]]:
    """Per city (lat, lon) of the ring centre: the given centre, else the light-weighted centroid."""
    from cupola.analysis.zonal import equal_area_crs, transformer

    out: dict[str, tuple[float, float]] = {}
    for city in dict.fromkeys(cities.tolist()):
        if opts.centre_lat_lon is not None:
            out[city] = (float(opts.centre_lat_lon[0]), float(opts.centre_lat_lon[1]))
            continue
        sel = (cities == city) & np.isfinite(result_stats.centroid_lon) & np.isfinite(result_stats.light_w_sr)
        lon, lat = result_stats.centroid_lon[sel], result_stats.centroid_lat[sel]
        w = np.clip(result_stats.light_w_sr[sel], 0.0, None)
        if lon.size == 0:
            continue
        if w.sum() <= 0:
            w = np.ones_like(lon)
        laea = equal_area_crs(float(np.mean(lon)), float(np.mean(lat)))
        x, y = transformer("EPSG:4326", laea).transform(lon, lat)
        clon, clat = transformer(laea, "EPSG:4326").transform(np.average(x, weights=w), np.average(y, weights=w))
        out[city] = (float(clat), float(clon))
    return out


def analyse_zones(
    radiance: RasterBand,
    geometries: np.ndarray,
    crs: str | None,
    layer_fields: dict[str, np.ndarray],
    opts: ZonesOptions,
    *,
    population: RasterBand | None = None,
) -> ZonesResult:
    """Per-zone statistics and the comparisons across zones (see the module)."""
    from pyproj import Geod

    geoms = np.asarray(geometries, dtype=object)
    n = len(geoms)
    stats = zonal_statistics(radiance, geoms, crs, population=population, lit_threshold=opts.lit_threshold)
    names = _names(layer_fields, n, opts.zone_field)
    if opts.city_field:
        cities = np.array(
            ["" if v is None else str(v) for v in _column(layer_fields, opts.city_field, "city_field").tolist()],
            dtype=object,
        )
    else:
        cities = np.full(n, "all", dtype=object)
    deprived = (
        deprived_flags(_column(layer_fields, opts.class_field, "class_field"), opts.class_field)
        if opts.class_field
        else None
    )

    lonlat = reproject_geometries(geoms, str(crs), "EPSG:4326", segment_length(geoms))
    centres = _centres(stats, cities, opts)
    geod = Geod(ellps="WGS84")
    distance = np.full(n, np.nan)
    for city, (clat, clon) in centres.items():
        sel = (cities == city) & np.isfinite(stats.centroid_lon)
        if sel.any():
            _, _, d_m = geod.inv(
                np.full(sel.sum(), clon), np.full(sel.sum(), clat), stats.centroid_lon[sel], stats.centroid_lat[sel]
            )
            distance[sel] = np.asarray(d_m) / 1000.0
    ring_km = opts.ring_km or _ring_width(distance)
    ring = np.where(np.isfinite(distance), np.floor(np.nan_to_num(distance) / ring_km), np.nan)

    has = np.isfinite(stats.radiance_mean)
    city_list = list(dict.fromkeys(cities.tolist()))
    groups = [("all", np.ones(n, bool))] + ([(c, cities == c) for c in city_list] if len(city_list) > 1 else [])
    ineq: list[urban.Inequality] = []
    lorenz: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for label, sel in groups:
        s = sel & has
        ineq.append(
            urban.inequality(stats.radiance_mean[s], stats.covered_area_km2[s], f"radiance_mean [{label}]", "area")
        )
        lorenz[f"area [{label}]"] = urban.lorenz_curve(stats.radiance_mean[s], stats.covered_area_km2[s])
        if stats.population is not None and stats.light_w_sr_per_person is not None:
            ok = s & np.isfinite(stats.light_w_sr_per_person)
            ineq.append(
                urban.inequality(
                    stats.light_w_sr_per_person[ok],
                    stats.population[ok],
                    f"light_w_sr_per_person [{label}]",
                    "population",
                )
            )
            lorenz[f"population [{label}]"] = urban.lorenz_curve(stats.light_w_sr_per_person[ok], stats.population[ok])

    rings = []
    for label, sel in [(c, cities == c) for c in city_list]:
        prof = urban.ring_profile(
            np.where(sel, distance, np.nan),
            stats.covered_area_km2,
            stats.light_w_sr,
            ring_km,
            population=stats.population,
            lit_area_km2=stats.lit_fraction * stats.covered_area_km2,
        )
        prof_rows = len(prof["ring_inner_km"])
        for k in range(prof_rows):
            if prof["zones"][k] == 0:
                continue
            rings.append({"city": label, **{key: float(v[k]) for key, v in prof.items()}})

    correlations: list[urban.Correlation] = []
    fit = None
    residual = None
    if stats.population_per_km2 is not None:
        for label, sel in groups:
            correlations.append(urban.correlate_log(stats.population_per_km2[sel], stats.radiance_mean[sel], label))
        fit, residual = urban.fit_log_line(stats.population_per_km2, stats.radiance_mean)

    comparisons: list[urban.GroupComparison] = []
    if deprived is not None:
        flag = np.array([d is True for d in deprived.tolist()])
        known = np.array([d is not None for d in deprived.tolist()])
        measures = [("radiance_mean", stats.radiance_mean)]
        if residual is not None:  # darker or brighter than the population predicts
            measures.append(("light_vs_population_residual_dex", residual))
        for measure, values in measures:
            for label, sel in [(c, cities == c) for c in city_list]:
                s = sel & np.isfinite(values) & known
                comparisons.append(
                    urban.compare_groups(
                        values[s & flag], values[s & ~flag], label, n_boot=opts.n_boot, seed=opts.seed, measure=measure
                    )
                )

    return ZonesResult(
        names=names,
        cities=cities,
        deprived=deprived,
        geometries=geoms,
        crs=str(crs),
        lonlat=np.asarray(lonlat, dtype=object),
        fields=layer_fields,
        stats=stats,
        options=opts,
        radiance_units=radiance.units or "nW cm-2 sr-1 (assumed)",
        distance_km=distance,
        ring=ring,
        ring_km=float(ring_km),
        centres=centres,
        inequality=ineq,
        lorenz=lorenz,
        rings=rings,
        comparisons=comparisons,
        correlations=correlations,
        fit=fit,
        residual_dex=residual,
        inputs={
            "radiance": str(radiance.path) if radiance.path else None,
            "population": str(population.path) if population is not None and population.path else None,
        },
    )


def run_zones(
    radiance_path: str | Path,
    zones_path: str | Path,
    opts: ZonesOptions,
    *,
    population_path: str | Path | None = None,
) -> ZonesResult:
    """Read the raster, the zone layer and the population raster and :func:`analyse_zones`."""
    radiance = read_raster_band(radiance_path, opts.band, what="a night-light raster (GeoTIFF)")
    layer: ZoneLayer = read_zone_layer(zones_path)
    if len(layer) == 0:
        raise InputError(f"{zones_path}: the zone layer has no features")
    population = None
    if population_path is not None:
        population = read_raster_band(population_path, 1, what="a population raster (persons per pixel, GeoTIFF)")
    try:
        result = analyse_zones(radiance, layer.geometries, layer.crs, layer.fields, opts, population=population)
    except InputError as exc:
        text = str(exc)
        # name the files behind the parameters
        text = text.replace("`zones`:", f"`zones` {zones_path}:", 1)
        raise InputError(text) from None
    result.inputs["zones"] = str(zones_path)
    return result
