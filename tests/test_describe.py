"""cupola describe: countries by polygon with shares (both sides of a border), open ocean, the
bundled real cases against their known places, and the command's bad-input contract."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cupola.describe import describe_result, paragraph
from cupola.errors import InputError

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "samples" / "apl"


def _box(w, s, e, n):
    return {"footprint_lonlat": [[w, s], [e, s], [e, n], [w, n], [w, s]]}


def test_a_footprint_across_a_border_names_both_countries_with_shares():
    # the Rio Grande at Del Rio (US) / Ciudad Acuna (MX): a nearest-point geocoder on the centre says one
    f = describe_result(_box(-101.2, 29.1, -100.6, 29.6))
    shares = {c["name"]: c["share"] for c in f["countries"]}
    assert set(shares) == {"United States of America", "Mexico"}
    assert 0.45 < shares["United States of America"] < 0.7 and 0.25 < shares["Mexico"] < 0.5
    text = paragraph(f)
    assert "Mexico (" in text and "United States of America (" in text
    names = {c["name"] for c in f["cities_in_view"]}
    assert {"Del Rio", "Ciudad Acuña"} <= names
    regions = {r["name"] for r in f["regions"]}
    assert "Texas, United States of America" in regions and "Coahuila, Mexico" in regions


def test_a_footprint_in_the_open_ocean_says_so():
    f = describe_result(_box(-140.0, 0.0, -139.0, 1.0))
    assert f["water"]["open_ocean"] and f["countries"] == [] and f["land_share"] == 0.0
    assert "open ocean" in paragraph(f)


def test_a_coastal_footprint_is_not_open_ocean():
    # ISS064-E-358, the Atacama coast near Arica (Chile)
    truth = json.loads((SAMPLES / "ISS064-E-358" / "case.json").read_text())["truth"]["footprint_lat_lon"]
    f = describe_result({"footprint_lonlat": [[lo, la] for la, lo in truth]})
    assert [c["name"] for c in f["countries"]] == ["Chile"]
    assert f["water"]["sea_coast_in_view"] and not f["water"]["open_ocean"]
    assert 0.05 < f["water"]["water_share"] < 0.5


def test_a_georeferencing_result_gives_light_season_view_and_scale():
    d = _box(38.1, 36.3, 38.35, 36.45)
    d.update(
        time_utc="2017-01-20T10:00:00Z",
        sun={"at_center": {"elevation_deg": 30.0, "azimuth_deg": 160.0}},
        pose={"off_nadir_deg": 25.0},
        iss={"subpoint_lon_deg": 39.3, "subpoint_lat_deg": 35.4, "altitude_m": 405e3},
        gsd_at_center_m={"along_columns": 6.0, "along_rows": 8.0},
    )
    f = describe_result(d)
    assert f["countries"][0]["name"] == "Syria"
    assert f["sun"]["daylight"] == "day" and f["season"] == "winter" and f["gsd_m"] == 7.0
    assert not f["view"]["nadir"] and f["view"]["toward"] == "north-west"
    assert "oblique" in paragraph(f) and "winter" in paragraph(f)


def test_bad_samples_is_an_input_error_naming_the_parameter():
    with pytest.raises(InputError, match="samples"):
        describe_result(_box(0, 0, 1, 1), samples=3)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "cupola", *map(str, args)], capture_output=True, text=True)


def test_the_command_writes_text_and_json(tmp_path):
    src = tmp_path / "prod"
    src.mkdir()
    (src / "result.json").write_text(json.dumps(_box(-101.2, 29.1, -100.6, 29.6)))
    out = tmp_path / "out"
    r = _cli("describe", src, "--out", out)
    assert r.returncode == 0, r.stderr
    facts = json.loads((out / "description.json").read_text())
    assert facts["countries"][0]["name"] == "United States of America"
    assert "Mexico" in (out / "description.txt").read_text()


@pytest.mark.parametrize("content", [None, "{broken", json.dumps({"matched": False, "reason": "no match"})])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, content):
    src = tmp_path / "prod"
    src.mkdir()
    if content is not None:
        (src / "result.json").write_text(content)
    out = tmp_path / "out"
    r = _cli("describe", src, "--out", out)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "result.json" in r.stderr
    assert not out.exists()


def test_a_night_scene_names_its_brightest_lights(tmp_path):
    import numpy as np
    import rasterio
    from rasterio.transform import from_bounds

    w, s, e, n = -101.2, 29.1, -100.6, 29.6
    lon, lat = np.meshgrid(np.linspace(w, e, 120), np.linspace(n, s, 100))
    img = 200 * np.exp(-(((lon + 100.896) / 0.02) ** 2 + ((lat - 29.363) / 0.02) ** 2))  # Del Rio's lights
    img += 120 * np.exp(-(((lon + 100.523 - 0.4) / 0.02) ** 2 + ((lat - 28.7) / 0.02) ** 2))  # nothing here
    prod = tmp_path / "night"
    prod.mkdir()
    with rasterio.open(
        prod / "georef.tif", "w", driver="GTiff", width=120, height=100, count=3, dtype="uint8",
        crs="EPSG:4326", transform=from_bounds(w, s, e, n, 120, 100),
    ) as ds:  # fmt: skip
        ds.write(np.repeat(img[None].astype(np.uint8), 3, axis=0))
    d = _box(w, s, e, n)
    d["sun"] = {"at_center": {"elevation_deg": -40.0, "azimuth_deg": 0.0}}
    (prod / "result.json").write_text(json.dumps(d))
    from cupola.describe import load_result

    f = describe_result(load_result(prod))
    assert f["sun"]["daylight"] == "night"
    assert f["lit_areas"][0]["name"] == "Del Rio" and f["lit_areas"][0]["relative_brightness"] == 1.0
    assert "Brightest lit areas: Del Rio" in paragraph(f)


def test_a_product_with_its_footprint_beside_result_json_is_described(tmp_path):
    from cupola.describe import load_result

    prod = tmp_path / "lightning"
    prod.mkdir()
    (prod / "result.json").write_text(json.dumps({"reference_time_utc": "2017-05-17T05:44:09Z"}))
    geom = {"type": "Polygon", "coordinates": [_box(-140.0, 0.0, -139.0, 1.0)["footprint_lonlat"]]}
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": geom, "properties": {}}]}
    (prod / "footprint.geojson").write_text(json.dumps(fc))
    f = describe_result(load_result(prod))
    assert f["water"]["open_ocean"] and f["season"] == "tropical (May)"


# --- water bodies (Natural Earth marine areas) and terrain (pvlib's altitude map) -----------------


def test_elevations_of_known_places_and_no_data_over_the_ocean():
    import numpy as np

    from cupola.describe.terrain import elevation_and_relief_m

    # Lake Titicaca (3,812 m) on the Altiplano, Amsterdam (about sea level), the Tibetan plateau at
    # Lhasa (3,650 m in a valley of a 4,500-5,000 m plateau), the Dead Sea shore (-430 m), mid-Pacific
    pts = np.array([[-69.6, -15.9], [4.9, 52.37], [91.1, 29.65], [35.5, 31.5], [-140.0, 0.5]])
    z, relief = elevation_and_relief_m(pts)
    assert 3600 <= z[0] <= 4100 and -30 <= z[1] <= 30 and 3400 <= z[2] <= 5200 and -450 <= z[3] <= 0
    assert np.isnan(z[4]) and np.isnan(relief[4])
    assert relief[2] >= 400 and relief[1] < 100  # mountains around Lhasa, flat Holland


def test_terrain_of_the_alps_the_netherlands_and_the_ocean():
    alps = describe_result(_box(7.5, 45.8, 8.2, 46.2))  # Valais: Monte Rosa, Matterhorn
    t = alps["terrain"]
    assert t["dominant"] == "mountains" and t["elevation_max_m"] > 2800 and t["elevation_min_m"] < 1500
    assert "mostly mountainous" in paragraph(alps)
    dutch = describe_result(_box(4.6, 52.0, 5.2, 52.4))  # Holland: polders and the IJ
    assert dutch["terrain"]["dominant"] == "plains" and dutch["terrain"]["elevation_max_m"] < 60
    assert "mostly flat" in paragraph(dutch)
    assert describe_result(_box(-140.0, 0.0, -139.0, 1.0))["terrain"] is None


def test_seas_in_view_and_next_to_the_footprint_are_named():
    gib = describe_result(_box(-5.9, 35.85, -5.3, 36.15))  # the Strait of Gibraltar
    names = {s["name"] for s in gib["water"]["seas"] if s["in_view"]}
    assert "Strait of Gibraltar" in names
    assert "Strait of Gibraltar" in paragraph(gib)
    # a footprint ~10 km inland of the Black Sea coast (Odesa): the sea is next to it, not in it
    od = describe_result(_box(30.55, 46.45, 30.65, 46.55))
    seas = od["water"]["seas"]
    assert [s["name"] for s in seas] == ["Black Sea"] and not seas[0]["in_view"]
    assert "Next to the footprint: Black Sea." in paragraph(od)
    # far inland (Del Rio) no sea is named; the open ocean is named by its ocean
    assert describe_result(_box(-101.2, 29.1, -100.6, 29.6))["water"]["seas"] == []
    ocean = describe_result(_box(-30.0, 30.0, -29.0, 31.0))
    assert [s["name"] for s in ocean["water"]["seas"]] == ["North Atlantic Ocean"]
    assert "open ocean (North Atlantic Ocean)" in paragraph(ocean)


def test_the_marine_areas_are_read_without_running_code_from_the_file(tmp_path):
    import pickle

    from cupola.describe.water import _PlainUnpickler

    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    blob = pickle.dumps({"marine": [Evil()]})
    import io

    with pytest.raises(pickle.UnpicklingError, match="refused"):
        _PlainUnpickler(io.BytesIO(blob)).load()


def test_a_missing_data_package_is_reported_and_the_rest_described(monkeypatch):
    from cupola.describe import terrain, water

    def missing():
        raise InputError("terrain: the pvlib package (its altitude map, data/Altitude.h5) is not installed")

    monkeypatch.setattr(terrain, "_dem_path", missing)
    terrain._dem.cache_clear()
    water.marine_areas.cache_clear()
    monkeypatch.setattr(water, "_cache_path", lambda: (_ for _ in ()).throw(InputError("water bodies: gone")))
    try:
        f = describe_result(_box(-101.2, 29.1, -100.6, 29.6))
        assert f["terrain"] is None and f["water"]["seas"] is None
        assert any("pvlib" in u for u in f["unavailable"]) and "water bodies: gone" in f["unavailable"]
        assert "Mexico (" in paragraph(f) and "mostly" not in paragraph(f)
    finally:
        terrain._dem.cache_clear()
        water.marine_areas.cache_clear()
