"""Descriptions and STAC catalogs: two figures, each with its baseline measured in the same run.

* ``describe_facts_correct``: share of the places cupola describe states (countries, first-level
  regions, cities in view, and the open-ocean/coast claim) that are true, on the bundled real cases:
  the Meteor frame (georeferenced here from its tie points), the three localization samples with a
  true footprint (``samples/apl/*/case.json`` truth), and the ECOSTRESS Los Angeles scene (its
  GeoTIFF bounds). The truth sets below are written from the known geography of each place, with
  internationally recognised borders (Crimea is Ukraine), before the figure was run. Baseline: a
  nearest-point reverse geocoder (reverse_geocoder) on the footprint centre only: its country,
  region and nearest place.
* ``catalog_build_seconds_1000``: ``cupola.catalog.build_catalog`` over 1000 small product folders
  made here (result.json, a 64x48 COG, a quicklook), thumbnails included. Baseline: pystac's route,
  the same Items and thumbnails added to a ``pystac.Collection``, ``normalize_hrefs`` and ``save``.
* ``catalog_page_load_ms``: the exported web map of those 1000 items in headless Chromium (OS
  package), navigation start to all footprints drawn (median of 3). Baseline: the same data drawn
  the DOM way (an SVG path per footprint and base-map line, thumbnails as SVG images, every item
  listed).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, SAMPLE, bench_line

APL = ROOT / "src" / "cupola" / "data" / "samples" / "apl"
LA = ROOT.parent / "shared" / "data" / "ecostress-la" / "LST" / "ECO_L2_LSTE.002_LST_doy2023194040614_aid0001.tif"

# truth: countries, regions (first-level), and whether a sea coast is in view
TRUTH = {
    "meteor-del-rio": {
        "countries": {"United States of America", "Mexico"},
        "regions": {"Texas", "Coahuila"},
        "coast": False,
    },
    "ISS050-E-70536": {"countries": {"Syria"}, "regions": {"Aleppo"}, "coast": False},
    "ISS062-E-150758": {"countries": {"Ukraine"}, "regions": {"Kherson", "Crimea"}, "coast": True},
    "ISS064-E-358": {"countries": {"Chile"}, "regions": {"Tarapaca", "Arica y Parinacota"}, "coast": True},
    "ecostress-la": {"countries": {"United States of America"}, "regions": {"California"}, "coast": True},
}
ISO2 = {"United States of America": "US", "Mexico": "MX", "Syria": "SY", "Ukraine": "UA", "Chile": "CL"}

# truth for water bodies and terrain, written down from the known geography of each footprint BEFORE
# the water and terrain code was first run (bounds: Meteor -103.6..-99.7 E, 28.0..31.5 N; Tishrin
# 38.15..38.32 E, 36.33..36.44 N; Perekop 33.6..34.4 E, 45.8..46.4 N; Arica -70.6..-69.4 E,
# -19.7..-18.7 N; Los Angeles -118.7..-117.5 E, 33.7..34.3 N).
# seas: the Natural Earth marine areas truly in or next to the footprint (a name outside is wrong).
#   Del Rio and Tishrin are far inland (the Gulf of Mexico is ~400 km east of the footprint);
#   Perekop lies between Karkinit Bay (Black Sea) and the Syvash (a lagoon of the Sea of Azov);
#   Arica is on the South Pacific, Los Angeles on the North Pacific.
# classes: terrain classes truly present (relief over ~28 km: plains < 100 m, hills 100-400 m,
#   mountains >= 400 m; plateau: plains-like relief at 500 m or higher); dominant: the classes
#   that may truly cover the largest share; min_m/max_m: the range that the lowest and the highest
#   point of the footprint on a ~9 km elevation grid must fall in.
#   Del Rio: Rio Grande plains near Eagle Pass (~220 m, lower toward the Nueces), Edwards and
#     Stockton plateaus (500-900 m), Serranias del Burro and Sierra del Carmen (peaks 2,000-2,700 m).
#   Tishrin: the Euphrates valley (~325 m, Tishrin lake) cut ~100 m into a ~400-450 m plateau edge.
#   Perekop: steppe lowland 0-40 m between two lagoons.
#   Arica: the coast (0 m), the Pampa/Atacama plateau (~1,000-1,500 m) cut by the Azapa and
#     Camarones canyons, rising to the precordillera (~3,000-3,500 m at the eastern edge).
#   Los Angeles: the LA basin (0-150 m), Puente Hills and Palos Verdes, Santa Monica Mountains,
#     San Gabriel Mountains (Mount San Antonio 3,068 m inside the north-east corner).
WATER_TERRAIN_TRUTH = {
    "meteor-del-rio": {
        "seas": set(),
        "classes": {"plains", "plateau", "hills", "mountains"},
        "dominant": {"plateau", "hills"},
        "min_m": (100, 350),
        "max_m": (1200, 2800),
    },
    "ISS050-E-70536": {
        "seas": set(),
        "classes": {"plains", "hills"},
        "dominant": {"plains", "hills"},
        "min_m": (250, 400),
        "max_m": (350, 550),
    },
    "ISS062-E-150758": {
        "seas": {"Black Sea", "Sea of Azov"},
        "classes": {"plains"},
        "dominant": {"plains"},
        "min_m": (-30, 10),
        "max_m": (0, 100),
    },
    "ISS064-E-358": {
        "seas": {"South Pacific Ocean"},
        "classes": {"plateau", "hills", "mountains"},
        "dominant": {"plateau", "hills", "mountains"},
        "min_m": (-50, 100),
        "max_m": (2000, 4500),
    },
    "ecostress-la": {
        "seas": {"North Pacific Ocean"},
        "classes": {"plains", "hills", "mountains"},
        "dominant": {"plains", "hills"},
        "min_m": (-20, 100),
        "max_m": (1200, 3100),
    },
}


def cases(tmp: Path) -> dict[str, dict]:
    out: dict[str, dict] = {}
    frame = json.loads((SAMPLE / "frame.json").read_text())
    cam, mark = frame["camera"], frame["landmark"]
    prod = tmp / "meteor"
    argv = [
        sys.executable, "-m", "cupola", "geolocate", str(SAMPLE / frame["image"]), "--time", frame["time_utc"],
        "--tle", str(SAMPLE / frame["orbit"]["tle_file"]), "--focal-mm", str(cam["focal_length_mm"]),
        "--sensor-mm", str(cam["sensor_width_mm"]), str(cam["sensor_height_mm"]),
        "--tie-points", str(SAMPLE / frame["tie_points"]["file"]), "--solve-focal",
        "--landmark", f"{mark['name']}:{mark['lat']}:{mark['lon']}", "--out", str(prod),
    ]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True)
    out["meteor-del-rio"] = json.loads((prod / "result.json").read_text())
    for case in ("ISS050-E-70536", "ISS062-E-150758", "ISS064-E-358"):
        truth = json.loads((APL / case / "case.json").read_text())["truth"]["footprint_lat_lon"]
        out[case] = {"footprint_lonlat": [[lo, la] for la, lo in truth]}
    if LA.exists():
        import rasterio

        with rasterio.open(LA) as ds:
            w, s, e, n = ds.bounds
        out["ecostress-la"] = {"footprint_lonlat": [[w, s], [e, s], [e, n], [w, n], [w, s]]}
    return out


def facts_correct(results: dict[str, dict]) -> tuple[float, float, tuple[float, float]]:
    import reverse_geocoder as rg

    from cupola.describe import describe_result

    right = wrong = b_right = b_wrong = 0
    named = named_base = total = 0
    for name, d in results.items():
        t = TRUTH[name]
        f = describe_result(d)
        stated: list[tuple[str, bool]] = []
        stated += [(f"country {c['name']} {c['share']:.0%}", c["name"] in t["countries"]) for c in f["countries"]]
        for r in f["regions"]:
            reg, _, ctry = r["name"].partition(", ")
            stated.append((f"region {reg}", reg in t["regions"] and ctry in t["countries"]))
        codes = {ISO2[c] for c in t["countries"]}
        stated += [(f"city {c['name']}", c["country_code"] in codes) for c in f["cities_in_view"]]
        stated.append(("open ocean" if f["water"]["open_ocean"] else "not open ocean", not f["water"]["open_ocean"]))
        stated.append((f"sea coast {f['water']['sea_coast_in_view']}", f["water"]["sea_coast_in_view"] == t["coast"]))
        wt = WATER_TERRAIN_TRUTH[name]
        seas = f["water"]["seas"] or []
        stated += [
            (f"sea {x['name']} {'in view' if x['in_view'] else 'next to'}", x["name"] in wt["seas"]) for x in seas
        ]
        ter = f["terrain"]
        if ter:
            stated.append((f"terrain mostly {ter['dominant']}", ter["dominant"] in wt["dominant"]))
            stated += [(f"terrain {c} {sh:.0%}", c in wt["classes"]) for c, sh in ter["shares"].items() if sh >= 0.1]
            for key in ("min_m", "max_m"):
                z = ter[f"elevation_{key}"]
                stated.append((f"elevation {key[:3]} {z} m", wt[key][0] <= z <= wt[key][1]))
        missed = wt["seas"] - {x["name"] for x in seas}
        if missed:
            print(f"    seas not named: {sorted(missed)}")
        ok = sum(v for _, v in stated)
        got = {c["name"] for c in f["countries"]} | {r["name"].partition(", ")[0] for r in f["regions"]}
        named += len(got & (t["countries"] | t["regions"]))
        total += len(t["countries"] | t["regions"])
        right, wrong = right + ok, wrong + len(stated) - ok
        print(f"  {name}: {ok}/{len(stated)} right; wrong: {[s for s, v in stated if not v]}")
        c = f["center"]
        h = rg.search([(c["lat_deg"], c["lon_deg"])], mode=1, verbose=False)[0]
        inv = {v: k for k, v in ISO2.items()}
        b = [inv.get(h["cc"], h["cc"]) in t["countries"], h["admin1"] in t["regions"], h["cc"] in codes]
        b_right, b_wrong = b_right + sum(b), b_wrong + 3 - sum(b)
        named_base += len({inv.get(h["cc"], h["cc"]), h["admin1"]} & (t["countries"] | t["regions"]))
        print(f"    baseline (centre, nearest place): {h['name']}, {h['admin1']}, {h['cc']}: {sum(b)}/3")
    recall = (named / total, named_base / total)
    return right / (right + wrong), b_right / (b_right + b_wrong), recall


def make_products(root: Path, n: int) -> None:
    import numpy as np
    import rasterio
    from PIL import Image
    from rasterio.transform import from_bounds

    rng = np.random.default_rng(1)
    img = (rng.random((3, 48, 64)) * 255).astype(np.uint8)
    for i in range(n):
        f = root / f"p{i:04d}"
        f.mkdir(parents=True)
        lon, lat = -170 + (i * 7.3) % 340, -60 + (i * 3.1) % 120
        w, s, e, nn = lon, lat, lon + 0.3, lat + 0.2
        res = {
            "time_utc": f"2020-01-{1 + i % 28:02d}T12:00:00Z",
            "footprint": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, nn], [w, nn], [w, s]]]},
            "pose": {"off_nadir_deg": float(i % 40)},
            "sun": {"at_center": {"elevation_deg": float(i % 90 - 30), "azimuth_deg": float(i % 360)}},
            "gsd_at_center_m": {"along_columns": 30.0, "along_rows": 31.0},
        }
        (f / "result.json").write_text(json.dumps(res))
        with rasterio.open(
            f / "georef.tif", "w", driver="GTiff", width=64, height=48, count=3, dtype="uint8",
            crs="EPSG:4326", transform=from_bounds(w, s, e, nn, 64, 48),
        ) as ds:  # fmt: skip
            ds.write(img)
        Image.fromarray(np.moveaxis(img, 0, -1)).save(f / "quicklook.png")


def pystac_route(root: Path, out: Path) -> None:
    import pystac

    from cupola.catalog.build import _thumbnail, find_product_folders
    from cupola.catalog.items import product_item

    folders, _ = find_product_folders([root])
    coll = pystac.Collection(
        "naive",
        "naive",
        pystac.Extent(pystac.SpatialExtent([[-180, -90, 180, 90]]), pystac.TemporalExtent([[None, None]])),
    )
    for f in folders:
        (out / f.name).mkdir(parents=True)
        _thumbnail(f, out / f.name / "thumbnail.png", 256)
        coll.add_item(product_item(f.resolve(), (out / f.name).resolve(), thumbnail="thumbnail.png"))
    coll.update_extent_from_items()
    coll.normalize_hrefs(str(out))
    coll.save(pystac.CatalogType.SELF_CONTAINED)


def page_load_ms(catalog: Path, web: Path) -> tuple[float | None, float | None]:
    """Milliseconds from navigation start until the web map has drawn all items (the page's own
    performance.now() at the end of its script), in headless Chromium; None without a browser."""
    import re

    from cupola.catalog.webmap import export_webmap

    browser = next((shutil.which(n) for n in ("chromium-headless-shell", "chromium") if shutil.which(n)), None)
    if browser is None:
        print("  (no Chromium: catalog_page_load_ms not measured)")
        return None, None
    page = export_webmap(catalog, web)
    naive = web / "naive.html"
    naive.write_text(_naive_page(page.read_text()))

    def median_ms(p: Path) -> float | None:
        runs = []
        for _ in range(3):
            r = subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", p.as_uri()],
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            m = re.search(r'data-ready="([0-9.]+)"', r.stdout)
            if m:
                runs.append(float(m.group(1)))
        return sorted(runs)[len(runs) // 2] if runs else None

    return median_ms(page), median_ms(naive)


def _naive_page(exported: str) -> str:
    """The baseline page: the same data drawn the DOM way, one SVG path per footprint and base-map
    line, every item in the list, thumbnails as <image> elements (what a first try looks like)."""
    import re

    data = re.search(r"const DATA=(.*?), BASE=", exported, re.S).group(1)
    base = re.search(r", BASE=(.*?);\n", exported, re.S).group(1)
    return (
        "<!doctype html><html><body style='margin:0;display:flex'><div id='list' style='width:300px'></div>"
        "<svg id='map' viewBox='-180 -90 360 180' style='flex:1;height:100vh' transform='scale(1,-1)'></svg><script>"
        f"const DATA={data}, BASE={base};"
        "const svg=document.getElementById('map'),L=document.getElementById('list'),NS='http://www.w3.org/2000/svg';"
        "for(const ln of BASE){const p=document.createElementNS(NS,'path');"
        "p.setAttribute('d','M'+ln.map(q=>q.join(' ')).join('L'));p.setAttribute('fill','none');"
        "p.setAttribute('stroke','#777');p.setAttribute('stroke-width','0.1');svg.appendChild(p);}"
        "for(const it of DATA.items){if(it.thumb){const im=document.createElementNS(NS,'image');"
        "im.setAttribute('href',it.thumb);im.setAttribute('x',it.bbox[0]);im.setAttribute('y',it.bbox[1]);"
        "im.setAttribute('width',it.bbox[2]-it.bbox[0]);im.setAttribute('height',it.bbox[3]-it.bbox[1]);svg.appendChild(im);}"
        "const p=document.createElementNS(NS,'path');"
        "p.setAttribute('d','M'+it.geometry.coordinates[0].map(q=>q.join(' ')).join('L')+'Z');"
        "p.setAttribute('fill','none');p.setAttribute('stroke','blue');p.setAttribute('stroke-width','0.05');"
        "svg.appendChild(p);const e=document.createElement('div');"
        "e.textContent=it.id+' '+it.datetime;L.appendChild(e);}"
        "document.body.getBoundingClientRect();document.body.dataset.ready=String(performance.now());"
        "</script></body></html>"
    )


def catalog_seconds(n: int = 1000) -> tuple[float, float, tuple[float | None, float | None]]:
    from cupola.catalog import build_catalog

    tmp = Path(tempfile.mkdtemp(prefix="bench-catalog-"))
    try:
        make_products(tmp / "products", n)
        t0 = time.perf_counter()
        rep = build_catalog([tmp / "products"], tmp / "cat")
        ours = time.perf_counter() - t0
        assert len(rep.items) == n and not rep.broken
        t0 = time.perf_counter()
        pystac_route(tmp / "products", tmp / "naive")
        base = time.perf_counter() - t0
        load = page_load_ms(tmp / "cat", tmp / "web")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ours, base, load


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-describe-") as tmp:
        res = cases(Path(tmp))
        ours, base, (rec, rec_base) = facts_correct(res)
    bench_line("describe_facts_correct", ours, "share", baseline=base, ratio=ours / base if base else None)
    # what a description leaves out: the true countries and regions it names (the baseline names one of each)
    bench_line("describe_places_named", rec, "share", baseline=rec_base, ratio=rec / rec_base if rec_base else None)
    if "--describe-only" in sys.argv:
        return
    s, b, load = catalog_seconds()
    bench_line("catalog_build_seconds_1000", s, "s", baseline=b, ratio=b / s)
    if load[0] is not None:
        base_ms = load[1]
        bench_line(
            "catalog_page_load_ms", load[0], "ms", baseline=base_ms, ratio=base_ms / load[0] if base_ms else None
        )


BENCHMARKS = {"describe": main}

if __name__ == "__main__":
    main()
