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


def test_an_item_that_would_not_validate_is_skipped_not_written(tmp_path):
    """A result.json whose footprint is no polygon (two corners) once gave an item that `catalog
    validate` then called INVALID: each item is validated before it is written."""
    root = tmp_path / "products"
    make_product(root / "a", -100.9, 29.4)
    folder = make_product(root / "line", 10.0, 45.0, cog=False)
    res = json.loads((folder / "result.json").read_text())
    res["footprint"] = {"type": "Polygon", "coordinates": [[[10.0, 45.0], [10.5, 45.0]]]}
    (folder / "result.json").write_text(json.dumps(res))
    rep = build_catalog([root], tmp_path / "cat")
    assert rep.items == ["a"]
    assert [Path(b["folder"]).name for b in rep.broken] == ["line"]
    assert "does not validate" in rep.broken[0]["reason"]
    assert not (tmp_path / "cat" / "line").exists() and (tmp_path / "cat" / "a" / "a.json").is_file()


def test_the_build_reports_its_progress(tmp_path):
    root = tmp_path / "products"
    for i in range(3):
        make_product(root / f"p{i}", -100.9 + i, 29.4)
    seen: list[tuple[int, int]] = []
    build_catalog([root], tmp_path / "cat", progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


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


# --- the web map driven in headless Chromium through the DevTools protocol ----------------------
# (a websocket client from tornado, which dask.distributed installs; no driver package needed)


class _DevTools:
    """A Chromium page driven over the DevTools protocol: calls, and the events seen meanwhile."""

    def __init__(self, browser: str, profile: Path):
        import asyncio
        import re
        import time
        import urllib.request

        from tornado.websocket import websocket_connect

        profile.mkdir(parents=True, exist_ok=True)
        self.log = open(profile.parent / "chromium.log", "w+")  # a file, never a pipe that could fill
        self.proc = subprocess.Popen(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "--window-size=1000,700", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=self.log,
        )  # fmt: skip
        port = None
        t0 = time.monotonic()
        while port is None and time.monotonic() - t0 < 30 and self.proc.poll() is None:
            time.sleep(0.1)
            self.log.seek(0)
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", self.log.read())
            port = int(m.group(1)) if m else None
        assert port, "Chromium did not open its DevTools port"
        pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        url = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
        self.loop = asyncio.new_event_loop()

        async def connect():
            return await websocket_connect(url, max_message_size=1 << 26)

        self.ws = self.loop.run_until_complete(connect())
        self.n, self.events = 0, []

    def call(self, method: str, **params):
        import asyncio

        self.n += 1
        mid = self.n

        async def go():
            await self.ws.write_message(json.dumps({"id": mid, "method": method, "params": params}))
            while True:
                msg = await asyncio.wait_for(self.ws.read_message(), 20)
                assert msg is not None, "DevTools connection closed"
                d = json.loads(msg)
                if d.get("id") == mid:
                    assert "error" not in d, d["error"]
                    return d.get("result", {})
                self.events.append(d)

        return self.loop.run_until_complete(go())

    def js(self, expr: str):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in r, r
        return r["result"].get("value")

    def screenshot(self) -> np.ndarray:
        import base64
        import io

        from PIL import Image

        png = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)

    def click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            extra = {} if kind == "mouseMoved" else {"button": "left", "clickCount": 1}
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, **extra)

    def errors(self) -> list:
        bad = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown" or (m == "Runtime.consoleAPICalled" and p.get("type") == "error"):
                bad.append(p)
            if m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                bad.append(p["entry"])
        return bad

    def close(self) -> None:
        self.ws.close()
        self.loop.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


# a rotated photo footprint at Del Rio (corners NW, NE, SE, SW) and its lon/lat image: one colour
# per quadrant around (-100.9, 29.4), transparent outside the footprint (the alpha band)
ROTATED = [(-101.05, 29.55), (-100.70, 29.50), (-100.75, 29.25), (-101.10, 29.30)]
QUADRANT_RGB = {"NW": (255, 0, 0), "NE": (0, 200, 0), "SE": (255, 255, 0), "SW": (0, 0, 255)}


def make_draped_product(folder: Path) -> Path:
    import rasterio
    import shapely
    from rasterio.transform import from_bounds

    folder.mkdir(parents=True)
    w, s, e, n = -101.1, 29.25, -100.7, 29.55
    ring = [list(p) for p in ROTATED] + [list(ROTATED[0])]
    res = {
        "time_utc": "2017-05-17T05:44:09.526Z",
        "footprint": {"type": "Polygon", "coordinates": [ring]},
        "pose": {"off_nadir_deg": 30.0},
    }
    (folder / "result.json").write_text(json.dumps(res))
    (folder / "description.txt").write_text("Ciudad Acuña and Del Rio on the Rio Grande, by night.\n")
    width, height = 400, 300
    lon, lat = np.meshgrid(
        w + (np.arange(width) + 0.5) * (e - w) / width, n - (np.arange(height) + 0.5) * (n - s) / height
    )
    img = np.zeros((4, height, width), np.uint8)
    for q, rgb in QUADRANT_RGB.items():
        m = ((lat >= 29.4) == (q[0] == "N")) & ((lon >= -100.9) == (q[1] == "E"))
        for b in range(3):
            img[b][m] = rgb[b]
    img[3] = 255 * shapely.contains_xy(shapely.Polygon(ROTATED), lon, lat)
    with rasterio.open(
        folder / "georef.tif", "w", driver="GTiff", width=width, height=height, count=4, dtype="uint8",
        crs="EPSG:4326", transform=from_bounds(w, s, e, n, width, height), photometric="RGB",
    ) as ds:  # fmt: skip
        ds.write(img)
        ds.colorinterp = [rasterio.enums.ColorInterp.red, rasterio.enums.ColorInterp.green,
                          rasterio.enums.ColorInterp.blue, rasterio.enums.ColorInterp.alpha]  # fmt: skip
    return folder


@pytest.mark.skipif(_browser() is None, reason="no Chromium from the OS packages")
def test_the_web_map_in_a_browser_drapes_images_opens_panels_and_filters_by_time(tmp_path):
    from cupola.catalog.webmap import export_webmap

    make_draped_product(tmp_path / "p" / "delrio")
    later = make_product(tmp_path / "p" / "later", -100.3, 29.9)  # a 0.4 x 0.2 deg box of noise
    res = json.loads((later / "result.json").read_text())
    res["time_utc"] = "2018-01-01T12:00:00Z"
    (later / "result.json").write_text(json.dumps(res))
    build_catalog([tmp_path / "p"], tmp_path / "cat")
    page = export_webmap(tmp_path / "cat", tmp_path / "web")
    assert (tmp_path / "web" / "overlays" / "delrio.png").is_file()

    b = _DevTools(_browser(), tmp_path / "profile")
    try:
        for domain in ("Page", "Runtime", "Log"):
            b.call(f"{domain}.enable")
        b.call("Emulation.setDeviceMetricsOverride", width=1000, height=700, deviceScaleFactor=1, mobile=False)
        b.call("Page.navigate", url=page.as_uri())
        ready = "document.body && document.body.dataset.ready && items.every(i => !i.ovimg || i.ovimg.complete)"
        b.js(f"new Promise(ok => {{ const f = () => ({ready}) ? ok(true) : setTimeout(f, 50); f(); }})")
        b.js("new Promise(ok => requestAnimationFrame(() => requestAnimationFrame(ok)))")
        v = b.js(
            "({cx: view.cx, cy: view.cy, s: view.s, w: cv.width, h: cv.height, cw: cv.clientWidth,"
            " left: cv.getBoundingClientRect().left, top: cv.getBoundingClientRect().top})"
        )
        assert v["w"] == v["cw"]  # one canvas pixel per screen pixel

        def xy(lon, lat):  # the page's equirectangular projection, computed here from its view
            return v["left"] + v["w"] / 2 + (lon - v["cx"]) * v["s"], v["top"] + v["h"] / 2 - (lat - v["cy"]) * v["s"]

        shot = b.screenshot()

        def rgb_at(lon, lat, img=None):
            x, y = xy(lon, lat)
            return (img if img is not None else shot)[int(round(y)), int(round(x))]

        def near(c, rgb, tol=40):
            return bool(np.all(np.abs(np.asarray(c) - rgb) <= tol))

        # the overlay lies at its georeferenced place: 0.03 deg inside each footprint corner, the
        # colour of that corner's quadrant; the red/green edge (lon -100.9) and the red/blue edge
        # (lat 29.4) fall within 2 px of where the projection puts them
        cx, cy = np.mean(ROTATED, axis=0)

        def inside_corner(k):  # 0.03 deg from footprint corner k toward the centre
            d = np.array([cx, cy]) - ROTATED[k]
            return np.array(ROTATED[k]) + 0.03 * d / np.linalg.norm(d)

        for k, q in enumerate(("NW", "NE", "SE", "SW")):
            assert near(rgb_at(*inside_corner(k)), QUADRANT_RGB[q]), (q, rgb_at(*inside_corner(k)))
        x0, y_row = xy(-100.9, 29.47)
        row = shot[int(round(y_row)), int(x0) - 15 : int(x0) + 16]
        green = [i for i, c in enumerate(row) if near(c, QUADRANT_RGB["NE"])]
        assert green and abs((int(x0) - 15 + green[0]) - x0) <= 2
        x_col, y0 = xy(-101.0, 29.4)
        col = shot[int(y0) - 15 : int(y0) + 16, int(round(x_col))]
        blue = [i for i, c in enumerate(col) if near(c, QUADRANT_RGB["SW"])]
        assert blue and abs((int(y0) - 15 + blue[0]) - y0) <= 2
        # draped onto the footprint: the image's own corner (outside the rotated footprint) is not drawn
        assert not near(rgb_at(-101.09, 29.54), QUADRANT_RGB["NW"], tol=80)
        # the later item is drawn too (its noise image), before the time slider moves
        later_px = rgb_at(-100.3, 29.9)
        assert not near(later_px, (223, 233, 243), tol=6)

        # clicking a footprint opens its panel: that item's id, time and description
        b.click(*xy(-100.3, 29.9))
        assert b.js("document.getElementById('sel-id').textContent") == "later"
        assert b.js("document.getElementById('sel-time').textContent").startswith("2018-01-01T12:00:00")
        # inside the delrio image's bounding box but outside its footprint: nothing else opens
        b.click(*xy(-101.09, 29.54))
        assert b.js("document.getElementById('sel-id').textContent") == "later"
        b.click(*xy(cx, cy))
        assert b.js("document.getElementById('sel-id').textContent") == "delrio"
        assert b.js("document.getElementById('sel-time').textContent").startswith("2017-05-17T05:44:09")
        assert "Ciudad Acuña and Del Rio" in b.js("document.getElementById('desc').textContent")

        # the time slider: back to the first time, the list and the map keep only the 2017 item
        b.js("{const e = document.getElementById('time'); e.value = 0; e.dispatchEvent(new Event('input'));}")
        b.js("new Promise(ok => requestAnimationFrame(() => requestAnimationFrame(ok)))")
        assert b.js("document.getElementById('count').textContent") == "1 of 2 items"
        assert b.js("[...document.querySelectorAll('.item')].map(e => e.textContent.split(' ')[0])") == ["delrio"]
        shot2 = b.screenshot()
        assert near(rgb_at(-100.3, 29.9, shot2), (223, 233, 243), tol=6)  # the later image is gone
        assert near(rgb_at(*inside_corner(0), shot2), QUADRANT_RGB["NW"])  # the 2017 image stays
        assert b.errors() == []  # no console errors, no failed loads
    finally:
        b.close()
