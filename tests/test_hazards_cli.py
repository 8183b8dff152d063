"""cupola hazards through the real entry point."""

from pathlib import Path

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


# --- the 'after' photo located first (--reference) ----------------------------------------------

APL = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "samples" / "apl"


def _reference_tif(case: str, path: Path) -> Path:
    from cupola.io.geotiff import write_lonlat_geotiff
    from cupola.simulate.locate_cases import read_base_case

    c = read_base_case(APL / case)
    return write_lonlat_geotiff(path, c.reference, c.bounds)


def test_reference_locates_a_plain_photo_and_maps_a_painted_flood_on_its_grid(tmp_path, capsys):
    import json

    from cupola.simulate.hazards import score_located_flood, write_located_flood_case

    ref, after, truth = write_located_flood_case(APL / "ISS064-E-358", tmp_path, seed=5)
    out = tmp_path / "out"
    argv = ["hazards", "flood", str(ref), str(after), "--reference", str(ref), "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    assert "located after.jpg against reference.tif" in capsys.readouterr().out
    result = json.loads((out / "result.json").read_text())
    assert result["located"]["confidence"] > 0.5 and result["bands"] == ["red", "green", "blue"]
    assert "located against reference.tif" in result["sources"][1]
    assert (out / "located" / "georef.tif").exists() and (out / "located" / "footprint.geojson").exists()
    sc = score_located_flood(out, ref, truth)
    precision, recall = sc["precision"], sc["recall"]
    assert precision > 0.9 and recall > 0.4, (precision, recall)


def test_reference_that_does_not_hold_the_photo_is_exit_2_and_nothing_written(tmp_path, capsys):
    ref = _reference_tif("ISS050-E-70536", tmp_path / "syria.tif")  # the Chilean photo is not in it
    out = tmp_path / "out"
    argv = ["hazards", "change", str(ref), str(APL / "ISS064-E-358" / "photo.jpg"), "--reference", str(ref)]
    code = main([*argv, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "not found in the reference" in err
    assert not out.exists()


def test_reference_without_georeferencing_names_the_flag(tmp_path, capsys):
    before, _ = _pair(tmp_path)
    out = tmp_path / "out"
    plain = APL / "ISS064-E-358" / "reference.jpg"
    code = main(["hazards", "flood", before, str(APL / "ISS064-E-358" / "photo.jpg"), "--reference", str(plain),
                 "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--reference" in err and "georeferencing" in err and not out.exists()


def test_an_alpha_band_is_a_mask_not_nir(tmp_path):
    from rasterio.enums import ColorInterp

    from cupola.hazards.pair import read_pair

    rng = np.random.default_rng(3)
    before = tmp_path / "before.tif"
    _write(before, rng.uniform(0.05, 0.4, (4, 40, 50)), -90.2, 30.1)
    with rasterio.open(before, "r+") as ds:
        ds.descriptions = ("red", "green", "blue", "nir")
    after = tmp_path / "after_rgba.tif"
    rgba = rng.integers(0, 255, (4, 40, 50)).astype(np.uint8)
    rgba[3] = 255
    rgba[3, :, :10] = 0  # outside the photo's footprint
    with rasterio.open(
        after, "w", driver="GTiff", width=50, height=40, count=4, dtype="uint8", crs="EPSG:4326",
        transform=from_origin(-90.2, 30.1, 0.0003, 0.0003), photometric="RGB", alpha="YES",
    ) as ds:  # fmt: skip
        ds.write(rgba)
    with rasterio.open(after) as ds:  # as cupola locate's georef.tif: the last band is alpha
        assert ds.colorinterp[3] == ColorInterp.alpha
    pair = read_pair(before, after)
    assert sorted(pair.roles) == ["blue", "green", "red"] and pair.after.shape[0] == 3
    assert np.isnan(pair.after[:, :, :10]).all() and np.isfinite(pair.after[:, :, 10:]).all()


def test_ctrl_c_after_the_photo_is_located_leaves_nothing(tmp_path, capsys, monkeypatch):
    """The located products are staged with the hazard products: an interrupt while mapping (after
    locate has written georef.tif and the rest) leaves no --out folder and no located/ behind."""
    import cupola.hazards.analyse as analyse

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(analyse, "map_hazard", interrupted)
    ref = _reference_tif("ISS064-E-358", tmp_path / "reference.tif")
    out = tmp_path / "out"
    photo = str(APL / "ISS064-E-358" / "photo.jpg")
    code = main(["hazards", "flood", str(ref), photo, "--reference", str(ref), "--out", str(out), "--quiet"])
    assert code == 130 and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reference.tif"]
