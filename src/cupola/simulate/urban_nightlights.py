"""Example inputs for the zone analysis, built from real outlines and counts where they exist and
from a stated model where they do not (for the demo, the tests and the benchmark).

* zones around populated places: :func:`cupola.analysis.places.zones_from_places` (re-exported);
* :func:`population_raster`: persons per pixel, each zone's population density spread uniformly
  over the part of the zone on land (coverage-weighted, so the zone sums give the counts back).
* :func:`synthetic_radiance`: a night-light raster from a stated model (no real night-light
  raster is bundled): radiance rising with population density to the power ``elasticity``, a
  brighter centre, darker deprived zones, per-zone and per-pixel log-normal scatter, dark water.
  The analysis must recover what was put in; it is not a picture of any real night.
* :func:`census_deprivation`: a deprivation proxy from census columns, in the manner of Townsend
  (1987): the share of rented homes and the mean household size (a crowding proxy), each as a
  z-score, summed; the top quarter of zones is flagged deprived. Two of Townsend's four inputs
  (unemployment and car ownership are not in the table): a proxy, not an index.

"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cupola.analysis.places import SQ_MILE_KM2, zones_from_places
from cupola.analysis.zonal import pixel_area_km2, zone_coverage

__all__ = [
    "zones_from_places",
    "population_raster",
    "RadianceModel",
    "synthetic_radiance",
    "census_deprivation",
    "SQ_MILE_KM2",
]


def population_raster(
    zones_lonlat: np.ndarray,
    density_per_km2: np.ndarray,
    transform,
    shape: tuple[int, int],
    *,
    land: np.ndarray | None = None,
) -> np.ndarray:
    """Persons per pixel (float32) on a north-up EPSG:4326 grid: each zone's ``density_per_km2``
    times the area of the pixel it covers (coverage-weighted, on ``land`` pixels only when given);
    where zones overlap their people add up."""
    cover = zone_coverage(zones_lonlat, transform, shape)
    area = pixel_area_km2(transform, shape, "EPSG:4326")
    rows, cols = shape
    out = np.zeros(rows * cols, np.float64)
    land_flat = None if land is None else np.asarray(land, bool).reshape(-1)
    for (cell, frac), dens in zip(cover, np.asarray(density_per_km2, dtype=np.float64)):
        if cell.size == 0 or not np.isfinite(dens) or dens <= 0:
            continue
        w = frac * area[cell // cols, 0]
        if land_flat is not None:
            w = w * land_flat[cell]
        np.add.at(out, cell, dens * w)
    return out.reshape(rows, cols).astype(np.float32)


@dataclass(frozen=True)
class RadianceModel:
    """The stated model of :func:`synthetic_radiance` (radiance in nW cm-2 sr-1):
    ``L = background + scale * (D / 1000)**elasticity * (1 + centre_boost * exp(-d / centre_km))
    * (deprived_factor if deprived) * zone scatter * pixel scatter`` on land, ``water`` on water;
    D the population density (persons/km², smoothed over ``spill_px`` pixels: light spills past
    boundaries), d the distance from the centre (km)."""

    background: float = 0.3
    scale: float = 12.0
    elasticity: float = 0.6
    centre_boost: float = 1.5
    centre_km: float = 8.0
    deprived_factor: float = 0.75
    zone_sigma_dex: float = 0.12
    pixel_sigma_dex: float = 0.15
    spill_px: float = 3.0
    water: float = 0.05

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def synthetic_radiance(
    population: np.ndarray,
    transform,
    centre_lat_lon: tuple[float, float],
    zones_lonlat: np.ndarray,
    deprived: np.ndarray,
    *,
    land: np.ndarray | None = None,
    model: RadianceModel | None = None,
    seed: int = 0,
) -> np.ndarray:
    """A night-light raster (float32, nW cm-2 sr-1) on the grid of ``population`` (persons per
    pixel, EPSG:4326) from :class:`RadianceModel`; the random parts come from ``seed``."""
    from pyproj import Geod
    from scipy import ndimage

    m = model or RadianceModel()
    rng = np.random.default_rng(seed)
    rows, cols = population.shape
    area = pixel_area_km2(transform, (rows, cols), "EPSG:4326")
    density = np.asarray(population, dtype=np.float64) / area
    if m.spill_px > 0:
        density = ndimage.gaussian_filter(density, m.spill_px)
    a_, _b, c0, _d, e_, f0 = (float(v) for v in transform[:6])
    lon = c0 + a_ * (np.arange(cols) + 0.5)
    lat = f0 + e_ * (np.arange(rows) + 0.5)
    glon, glat = np.meshgrid(lon, lat)
    _, _, d_m = Geod(ellps="WGS84").inv(
        np.full(glon.size, centre_lat_lon[1]), np.full(glon.size, centre_lat_lon[0]), glon.ravel(), glat.ravel()
    )
    d_km = np.asarray(d_m).reshape(rows, cols) / 1000.0
    factor = np.ones(rows * cols)
    cover = zone_coverage(zones_lonlat, transform, (rows, cols))
    zone_scatter = 10.0 ** rng.normal(0.0, m.zone_sigma_dex, len(cover))
    for (cell, frac), dep, s in zip(cover, np.asarray(deprived, dtype=object), zone_scatter):
        f = s * (m.deprived_factor if dep is True else 1.0)
        factor[cell[frac > 0.5]] = f
    factor = factor.reshape(rows, cols)
    noise = ndimage.gaussian_filter(rng.normal(0.0, 1.0, (rows, cols)), 1.0)
    noise *= m.pixel_sigma_dex / max(float(noise.std()), 1e-12)
    lights = (
        m.scale
        * (np.clip(density, 0.0, None) / 1000.0) ** m.elasticity
        * (1.0 + m.centre_boost * np.exp(-d_km / m.centre_km))
        * factor
        * 10.0**noise
    )
    out = m.background * 10.0 ** (0.5 * noise) + lights
    if land is not None:
        out = np.where(np.asarray(land, bool), out, m.water * 10.0 ** (0.5 * noise))
    return out.astype(np.float32)


def census_deprivation(renter: np.ndarray, owner: np.ndarray, household_size: np.ndarray, *, top: float = 0.25):
    """Deprivation proxy (see the module): returns (score, deprived flag) per zone; the flag marks
    the ``top`` fraction of scores.

    >>> s, d = census_deprivation(np.array([10, 50, 90, 30]), np.array([90, 50, 10, 70]), np.array([2, 3, 4, 2.5]))
    >>> d.tolist()
    [False, False, True, False]
    """
    renter = np.asarray(renter, dtype=np.float64)
    owner = np.asarray(owner, dtype=np.float64)
    size = np.asarray(household_size, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = renter / (renter + owner)

    def z(v: np.ndarray) -> np.ndarray:
        return (v - np.nanmean(v)) / (np.nanstd(v) or 1.0)

    score = z(share) + z(size)
    cut = np.nanquantile(score, 1.0 - top)
    return score, score >= cut


#: downtown Los Angeles (City Hall), the centre of the demo's rings and of its model's bright core
LA_CENTRE_LAT_LON = (34.0537, -118.2428)


def build_la_scene(cities_path, water_mask_path, out_dir, *, seed: int = 0) -> dict:
    """The demo's inputs in ``out_dir``: ``zones.gpkg`` (a zone per census place of the Los Angeles
    scene, from the points and census 2000 columns of ``cities_path``), ``population.tif`` (census
    2000 density spread over each zone's land) and ``radiance.tif`` (:func:`synthetic_radiance`),
    on the grid of the real ECOSTRESS water mask ``water_mask_path`` (its water pixels are dark).
    Returns the paths and what was put in (the model, the deprived zones)."""
    from pathlib import Path

    import shapely

    from cupola.io.raster_band import read_raster_band, write_raster_band
    from cupola.io.zone_layer import ZoneLayer, read_zone_layer, write_zone_layer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    places = read_zone_layer(cities_path)
    water = read_raster_band(water_mask_path, 1, what="the ECOSTRESS water mask")
    land = np.nan_to_num(water.values, nan=1.0) == 0
    rows, cols = water.shape
    a_, _b, c0, _d, e_, f0 = water.transform
    bounds = shapely.box(c0, f0 + e_ * rows, c0 + a_ * cols, f0)
    f = places.fields
    lon = shapely.get_x(places.geometries)
    lat = shapely.get_y(places.geometries)
    area = np.asarray(f["AREALAND"], dtype=np.float64) * SQ_MILE_KM2
    inside = shapely.contains_xy(bounds, lon, lat)
    zones = zones_from_places(lon, lat, area, keep=inside)
    pop2000 = np.asarray(f["POP2000"], dtype=np.float64)[inside]
    density = pop2000 / area[inside]
    score, deprived = census_deprivation(f["RENTER_OCC"][inside], f["OWNER_OCC"][inside], f["AVE_HH_SZ"][inside])
    population = population_raster(zones, density, water.transform, water.shape, land=land)
    model = RadianceModel()
    radiance = synthetic_radiance(
        population, water.transform, LA_CENTRE_LAT_LON, zones, deprived, land=land, model=model, seed=seed
    )
    renter = np.asarray(f["RENTER_OCC"], dtype=np.float64)[inside]
    owner = np.asarray(f["OWNER_OCC"], dtype=np.float64)[inside]
    layer = ZoneLayer(
        zones,
        {
            "name": np.asarray(f["AREANAME"], dtype=object)[inside],
            "class": np.asarray(f["CLASS"], dtype=object)[inside],
            "city": np.full(int(inside.sum()), "Los Angeles basin", dtype=object),
            "pop2000": pop2000,
            "arealand_km2": area[inside],
            "renter_share": renter / np.maximum(renter + owner, 1.0),
            "household_size": np.asarray(f["AVE_HH_SZ"], dtype=np.float64)[inside],
            "deprivation_score": score,
            "deprived": np.where(deprived, "yes", "no").astype(object),
        },
        "EPSG:4326",
    )
    paths = {
        "zones": write_zone_layer(out / "zones.gpkg", layer),
        "population": write_raster_band(
            out / "population.tif", population, water.transform, "EPSG:4326", units="persons"
        ),
        "radiance": write_raster_band(
            out / "radiance.tif", radiance, water.transform, "EPSG:4326", units="nW cm-2 sr-1"
        ),
    }
    return {"paths": paths, "model": model.to_dict(), "zones": int(inside.sum()), "deprived": int(deprived.sum())}
