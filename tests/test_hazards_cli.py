"""cupola hazards through the real entry point."""

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from cupola.cli.main import main


def _write(path, data, left, top, res=0.0003):
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
        dtype="float32", crs="EPSG:4326", transform=from_origin(left, top, res, res),
    ) as ds:  # fmt: skip
        ds.write(data.astype(np.float32))


def _pair(tmp_path, after_left=-90.2):
    rng = np.random.default_rng(8)
    shape = (120, 150)
    b = np.stack([rng.uniform(lo, hi, shape) for lo, hi in ((0.05, 0.1), (0.06, 0.12), (0.04, 0.08), (0.25, 0.4))])
    a = b + rng.normal(0, 0.005, b.shape)
    a[:, 30:80, 40:110] = np.array([0.05, 0.08, 0.07, 0.03])[:, None, None]
    _write(tmp_path / "before.tif", b, -90.2, 30.1)
    _write(tmp_path / "after.tif", a, after_left, 30.1)
    return str(tmp_path / "before.tif"), str(tmp_path / "after.tif")


def test_flood_command_writes_the_products(tmp_path, capsys):
    before, after = _pair(tmp_path)
    out = tmp_path / "out"
    code = main(["hazards", "flood", before, after, "--out", str(out), "--quiet", "--after-time", "2024-05-02T10:00Z"])
    assert code == 0, capsys.readouterr().err
    assert (out / "hazard_polygons.geojson").exists() and (out / "map.pdf").exists() and (out / "change.tif").exists()


def test_no_overlap_is_exit_2_with_one_line_and_nothing_written(tmp_path, capsys):
    before, after = _pair(tmp_path, after_left=10.0)
    out = tmp_path / "out"
    code = main(["hazards", "change", before, after, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "do not overlap" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_burn_without_swir_names_the_flag(tmp_path, capsys):
    before, after = _pair(tmp_path)
    code = main(["hazards", "burn", before, after, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "--bands" in err and not (tmp_path / "o").exists()


def test_flood_counts_roads_and_people_in_the_flood(tmp_path, capsys):
    import json

    import shapely

    from cupola.io.zone_layer import ZoneLayer, write_zone_layer

    before, after = _pair(tmp_path)
    # the flood covers rows 30..80, cols 40..110 of a 0.0003 deg grid from (-90.2, 30.1)
    lon = lambda c: -90.2 + 0.0003 * c  # noqa: E731
    lat = lambda r: 30.1 - 0.0003 * r  # noqa: E731
    roads = np.array(
        [
            shapely.LineString([(lon(0), lat(55)), (lon(150), lat(55))]),  # crosses the flood
            shapely.LineString([(lon(0), lat(110)), (lon(150), lat(110))]),  # south of it
        ],
        dtype=object,
    )
    write_zone_layer(tmp_path / "roads.geojson", ZoneLayer(roads, {"name": np.array(["a", "b"], object)}, "EPSG:4326"))
    pop = np.zeros((1, 120, 150), np.float32)
    pop[0, 40:50, 50:60] = 2.0  # 200 people inside
    pop[0, 100:110, 0:10] = 5.0  # 500 outside
    _write(tmp_path / "pop.tif", pop, -90.2, 30.1)
    out = tmp_path / "out"
    argv = ["hazards", "flood", before, after, "--features", str(tmp_path / "roads.geojson"),
            "--population", str(tmp_path / "pop.tif"), "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    affected = json.loads((out / "result.json").read_text())["affected"]
    road = affected["features"][0]
    assert road["affected"] == 1 and road["features"] == 2
    width_km = 70 * 0.0003 * 111.32 * np.cos(np.radians(30.09))
    assert road["length_km"] == pytest.approx(width_km, rel=0.05)
    assert affected["people"] == pytest.approx(200.0)
