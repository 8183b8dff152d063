"""cupola catalog: STAC items from product folders validate (offline, the core schemas pystac
ships), a catalog with a broken folder reports it and builds the rest, bad input writes nothing."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cupola.catalog import build_catalog, product_item, validate_stac
from cupola.errors import InputError


def make_product(folder: Path, lon: float = -100.9, lat: float = 29.4, *, cog: bool = True) -> Path:
    """A small georef-like product folder: result.json, georef.tif (EPSG:4326), quicklook.png."""
    import rasterio
    from PIL import Image
    from rasterio.transform import from_bounds

    folder.mkdir(parents=True)
    w, s, e, n = lon - 0.2, lat - 0.1, lon + 0.2, lat + 0.1
    res = {
        "time_utc": "2017-05-17T05:44:09.526Z",
        "footprint": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "center": {"lon_deg": lon, "lat_deg": lat},
        "pose": {"off_nadir_deg": 12.5},
        "sun": {"at_center": {"elevation_deg": -38.8, "azimuth_deg": 342.2}},
        "iss": {"subpoint_lon_deg": lon + 1, "subpoint_lat_deg": lat + 1, "altitude_m": 408e3},
        "gsd_at_center_m": {"along_columns": 260.0, "along_rows": 270.0},
    }
    (folder / "result.json").write_text(json.dumps(res))
    img = (np.random.default_rng(0).random((3, 40, 60)) * 255).astype(np.uint8)
    if cog:
        with rasterio.open(
            folder / "georef.tif",
            "w",
            driver="GTiff",
            width=60,
            height=40,
            count=3,
            dtype="uint8",
            crs="EPSG:4326",
            transform=from_bounds(w, s, e, n, 60, 40),
        ) as ds:
            ds.write(img)
    Image.fromarray(np.moveaxis(img, 0, -1)).save(folder / "quicklook.png")
    return folder


def test_an_item_has_the_extension_fields_and_validates(tmp_path):
    item = product_item(make_product(tmp_path / "p1"))
    d = item.to_dict(include_self_link=False)
    p = d["properties"]
    assert p["view:off_nadir"] == 12.5 and p["view:sun_elevation"] == -38.8 and p["gsd"] == 265.0
    assert p["proj:code"] == "EPSG:4326" and d["assets"]["image"]["proj:shape"] == [40, 60]
    assert d["assets"]["image"]["type"].startswith("image/tiff; application=geotiff; profile=cloud-optimized")
    assert {"image", "result", "quicklook"} <= set(d["assets"])
    assert d["geometry"]["type"] == "Polygon" and d["bbox"] == pytest.approx([-101.1, 29.3, -100.7, 29.5])
    assert validate_stac(d) == []


def test_the_validator_can_fail():
    d = {"type": "Feature", "stac_version": "1.1.0", "id": "x", "properties": {}, "links": [], "assets": {}}
    assert validate_stac(d)  # no geometry, no datetime
    ok_but_bad_view = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": "x",
        "geometry": None,
        "links": [],
        "assets": {},
        "properties": {"datetime": "2020-01-01T00:00:00Z", "view:off_nadir": 120.0},
    }
    assert any("off_nadir" in e for e in validate_stac(ok_but_bad_view))


def test_a_catalog_with_a_broken_folder_reports_it_and_builds_the_rest(tmp_path):
    root = tmp_path / "products"
    make_product(root / "a", -100.9, 29.4)
    make_product(root / "b", 38.2, 36.4, cog=False)
    (root / "broken").mkdir()
    (root / "broken" / "result.json").write_text("{not json")
    out = tmp_path / "cat"
    rep = build_catalog([root], out)
    assert sorted(rep.items) == ["a", "b"]
    assert [Path(b["folder"]).name for b in rep.broken] == ["broken"]
    coll = json.loads((out / "collection.json").read_text())
    assert validate_stac(coll) == []
    assert coll["extent"]["spatial"]["bbox"][0] == pytest.approx([-101.1, 29.3, 38.4, 36.5])
    for iid in ("a", "b"):
        item = json.loads((out / iid / f"{iid}.json").read_text())
        assert validate_stac(item) == []
        assert (out / iid / "thumbnail.png").is_file()
        assert (out / iid / item["assets"]["result"]["href"]).resolve() == (root / iid / "result.json").resolve()
    assert json.loads((out / "build_report.json").read_text())["broken"][0]["folder"].endswith("broken")


def test_no_usable_folder_is_an_input_error_and_nothing_is_written(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no usable"):
        build_catalog([tmp_path / "empty"], tmp_path / "cat")
    assert not (tmp_path / "cat").exists()


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "cupola", *map(str, args)], capture_output=True, text=True)


def test_the_command_builds_reports_and_validates(tmp_path):
    make_product(tmp_path / "p" / "one")
    (tmp_path / "p" / "two").mkdir()
    (tmp_path / "p" / "two" / "result.json").write_text(json.dumps({"matched": False}))
    out = tmp_path / "cat"
    r = _cli("catalog", "build", tmp_path / "p", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "two" in r.stderr and "no footprint" in r.stderr
    r = _cli("catalog", "validate", out / "collection.json", out / "one" / "one.json")
    assert r.returncode == 0 and r.stdout.count("valid") == 2
    bad = _cli("catalog", "build", tmp_path / "p" / "two", "--out", tmp_path / "cat2")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) >= 1
    assert not (tmp_path / "cat2").exists()


def _browser():
    import shutil

    for name in ("chromium-headless-shell", "chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(_browser() is None, reason="no Chromium from the OS packages")
def test_the_web_map_renders_in_a_headless_browser_offline(tmp_path):
    from cupola.catalog.webmap import export_webmap

    make_product(tmp_path / "p" / "delrio", -100.9, 29.4)
    make_product(tmp_path / "p" / "tishrin", 38.2, 36.4)
    build_catalog([tmp_path / "p"], tmp_path / "cat")
    page = export_webmap(tmp_path / "cat", tmp_path / "web")
    html = page.read_text()
    assert "http://" not in html and "https://" not in html  # offline: no CDN
    assert (tmp_path / "web" / "thumbs" / "delrio.png").is_file()

    def dom(fragment=""):
        r = subprocess.run(
            [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000",
             "--dump-dom", page.as_uri() + fragment],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return r.stdout

    out = dom()
    assert 'data-ready="' in out and "2 of 2 items" in out
    assert "delrio" in out and "tishrin" in out
    assert "1 of 2 items" in dom("#q=tish")  # the search filters the list


def test_products_without_a_footprint_field_use_footprint_geojson_or_their_geotiff(tmp_path):
    import shutil

    a = make_product(tmp_path / "lightning-like", 10.0, 45.0)
    res = json.loads((a / "result.json").read_text())
    fp = {"type": "Feature", "geometry": res.pop("footprint"), "properties": {}}
    res["reference_time_utc"] = res.pop("time_utc")
    (a / "result.json").write_text(json.dumps(res))
    (a / "footprint.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [fp]}))
    b = make_product(tmp_path / "thermal-like", -118.0, 34.0)
    shutil.move(b / "georef.tif", b / "lst.tif")
    (b / "result.json").write_text(json.dumps({"schema": "thermal"}))
    da = product_item(a).to_dict(include_self_link=False)
    db = product_item(b).to_dict(include_self_link=False)
    assert da["bbox"] == pytest.approx([9.8, 44.9, 10.2, 45.1]) and da["properties"]["datetime"].startswith(
        "2017-05-17"
    )
    assert db["bbox"] == pytest.approx([-118.2, 33.9, -117.8, 34.1])
    assert validate_stac(da) == [] and validate_stac(db) == []


def test_export_and_serve_through_the_command(tmp_path):
    import socket
    import time
    import urllib.request

    make_product(tmp_path / "p" / "one")
    assert _cli("catalog", "build", tmp_path / "p", "--out", tmp_path / "cat").returncode == 0
    r = _cli("catalog", "export", tmp_path / "cat", "--out", tmp_path / "web")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "web" / "index.html").is_file() and (tmp_path / "web" / "thumbs" / "one.png").is_file()
    bad = _cli("catalog", "export", tmp_path / "nothing", "--out", tmp_path / "web2")
    assert bad.returncode == 2 and not (tmp_path / "web2").exists()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cupola", "catalog", "serve", str(tmp_path / "cat"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        page = None
        for _ in range(100):
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2).read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert page is not None and "<canvas" in page and '"one"' in page
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert not list((tmp_path / "cat").glob("index.html"))  # nothing written beside the catalog
