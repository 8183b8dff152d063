"""Localization on real imagery that no default was chosen on: ECOSTRESS scenes of Los Angeles.

The robustness suite (``locate_suite.py``) varies three real astronaut photos; every default of
``cupola locate`` was chosen on it. This probe measures the same defaults, unchanged, on other
real data: the four ECOSTRESS land-surface-temperature scenes of ``../shared/data/ecostress-la``
(the thermal radiometer on the ISS, 70 m, summer 2023: a night, a morning under a marine layer,
an evening and an afternoon). A crop of one scene, turned by a right angle, is the "photo"; a
larger crop of another scene (another day and hour, so another pattern of heat, cloud and shade)
is the reference, 2-4 times the photo's width with the photo off its centre; the truth is the
crop's own georeference. Wrong pairs: each scene's photo against each bundled astronaut-photo
reference, and each bundled photo against two Los Angeles references. Nothing here feeds back into
a default: it reports what the defaults do.

    .venv/bin/python benchmarks/locate_ecostress.py [--log rows.json]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from locate_suite import SUCCESS_KM, _keep, _km, _outcome, base_cases  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCENES_DIR = ROOT.parent / "shared" / "data" / "ecostress-la" / "LST"
# (photo width km, reference width / photo width): the held-out span of references 2-4x the footprint
FRAMINGS = ((30.0, 2), (22.0, 3), (17.0, 4))
# where the reference window sits across the scene (fraction of the room left for it, west to east)
# and where the photo's centre lies in the reference (fractions of its width and height)
PLACES = ((0.3, (0.4, 0.6)), (0.7, (0.6, 0.4)))
LOCAL_HOUR = {"175": "night 04:23", "184": "morning 08:25", "194": "evening 21:06", "205": "afternoon 16:17"}
PHOTO_PX_KM = 0.07  # the photo resampled to square pixels of the scene's along-track size


def read_scenes(folder: Path = SCENES_DIR) -> list[dict]:
    """Each LST scene: day of year, the uint16 array (0 = no data) and its lon/lat grid."""
    import rasterio

    out = []
    for f in sorted(folder.glob("*LST_doy*.tif")):
        with rasterio.open(f) as ds:
            if ds.crs is None or not ds.crs.is_geographic:
                raise SystemExit(f"{f.name}: expected a lon/lat GeoTIFF")
            out.append({"doy": f.name.split("doy2023")[1][:3], "lst": ds.read(1), "transform": ds.transform})
    if len(out) < 2:
        raise SystemExit(f"need at least two ECOSTRESS LST scenes in {folder}")
    return out


def stretch8(values: np.ndarray) -> np.ndarray:
    """An 8-bit grey image of a crop, its valid pixels stretched between their 1st and 99th
    percentiles (as one would display each scene); no-data pixels black."""
    valid = values > 0
    if not valid.any():
        return np.zeros(values.shape, np.uint8)
    lo, hi = np.percentile(values[valid], [1, 99])
    out = np.clip((values.astype(float) - lo) / max(hi - lo, 1.0) * 255.0, 0, 255)
    return np.where(valid, out, 0).astype(np.uint8)


def pixel_km(scene: dict) -> tuple[float, float]:
    """A pixel's ground width and height (km) at the scene's middle latitude."""
    from pyproj import Geod

    t = scene["transform"]
    lat0 = t.f + t.e * scene["lst"].shape[0] / 2
    g = Geod(ellps="WGS84")
    return g.inv(t.c, lat0, t.c + t.a, lat0)[2] / 1000.0, g.inv(t.c, lat0, t.c, lat0 + t.e)[2] / 1000.0


def _window_km(scene: dict, west_px: float, north_px: float, width_km: float):
    """(row slice, column slice, lon/lat bounds) of a ground square ``width_km`` wide whose
    north-west corner is at pixel (``west_px``, ``north_px``)."""
    t = scene["transform"]
    h, w = scene["lst"].shape
    km_x, km_y = pixel_km(scene)
    c0, r0 = round(west_px), round(north_px)
    c1, r1 = c0 + round(width_km / km_x), r0 + round(width_km / km_y)
    if c0 < 0 or r0 < 0 or c1 > w or r1 > h:
        raise ValueError("window beyond the scene")
    bounds = (t.c + t.a * c0, t.f + t.e * r1, t.c + t.a * c1, t.f + t.e * r0)
    return slice(r0, r1), slice(c0, c1), bounds


def true_cases(scenes: list[dict]):
    """(name, framing, photo, Reference, truth centre lon/lat, the two scenes' doy) for every
    ordered pair of scenes, framing and place. The photo is grey stored as RGB (three equal bands),
    as a grey picture exported to JPEG comes; the reference is single-band."""
    import cv2

    from cupola.locate.reference import Reference

    out = []
    n = 0
    for ph in scenes:
        for rf in scenes:
            if ph is rf:
                continue
            for photo_km, times in FRAMINGS:
                ref_km = photo_km * times
                for across, (fx, fy) in PLACES:
                    h, w = rf["lst"].shape
                    # the reference window: ``across`` of the room left for it, vertically centred
                    km_x, km_y = pixel_km(rf)
                    ref_w_px, ref_h_px = ref_km / km_x, ref_km / km_y
                    rows, cols, bounds = _window_km(rf, across * (w - ref_w_px), (h - ref_h_px) / 2, ref_km)
                    ref_img = stretch8(rf["lst"][rows, cols])
                    west, south, east, north = bounds
                    lon_c, lat_c = west + fx * (east - west), north - fy * (north - south)
                    # the photo: the same ground square cut from the other scene, square pixels, turned
                    t = ph["transform"]
                    col_c, row_c = (lon_c - t.c) / t.a, (lat_c - t.f) / t.e
                    # the window is placed with the reference scene's pixel size (the photo scene's
                    # differs in the 8th digit: 5 of the 72 windows would move by a pixel at a
                    # rounding); the truth is the window's own centre either way
                    prow, pcol, pb = _window_km(ph, col_c - photo_km / km_x / 2, row_c - photo_km / km_y / 2, photo_km)
                    side = round(photo_km / PHOTO_PX_KM)
                    photo = cv2.resize(stretch8(ph["lst"][prow, pcol]), (side, side), interpolation=cv2.INTER_AREA)
                    photo = np.rot90(photo, k=n % 4).copy()
                    truth = ((pb[0] + pb[2]) / 2, (pb[1] + pb[3]) / 2)
                    where = f"{photo_km:.0f} km in {times}x, place {across}, turned {90 * (n % 4)}"
                    name = f"LA {ph['doy']} on {rf['doy']} / {where}"
                    ref = Reference(ref_img, f"LA-{rf['doy']}", bounds=bounds)
                    out.append((name, f"{times}x", np.dstack([photo] * 3), ref, truth, (ph["doy"], rf["doy"])))
                    n += 1
    return out


def wrong_cases(scenes: list[dict]):
    """Each scene's photo (the 3x framing, first place) against each bundled astronaut-photo
    reference, and each bundled photo against the two clear Los Angeles references (21:06, 16:17)."""
    from cupola.locate.reference import Reference

    la = [c for c in true_cases(scenes) if c[1] == "3x" and "place 0.3" in c[0]]
    photos = {c[5][0]: c[2] for c in la}  # one photo per scene
    refs = {c[5][1]: c[3] for c in la}
    out = []
    bases = base_cases()
    for doy, photo in photos.items():
        for b in bases:
            ref = Reference(b.reference, b.name, bounds=b.bounds)
            out.append((f"LA {doy} photo on {b.name}'s reference", photo, ref))
    for b in bases:
        for doy in sorted(refs)[-2:]:
            out.append((f"{b.name} photo on LA {doy}'s reference", b.photo, refs[doy]))
    return out


def run(log=None, verbose: bool = True) -> list[dict]:
    from pyproj import Geod

    from cupola.locate.localize import Localizer, LocateOptions

    scenes = read_scenes()
    g = Geod(ellps="WGS84")
    rows: list[dict] = []
    loc = Localizer(LocateOptions())
    for name, framing, photo, ref, truth, doys in true_cases(scenes):
        t0 = time.perf_counter()
        res = loc.locate(photo, [ref])
        sec = time.perf_counter() - t0
        err = g.inv(*res.center_lonlat, *truth)[2] / 1000.0 if res.center_lonlat is not None else None
        ok = bool(res.matched and err is not None and err <= SUCCESS_KM)
        row = {"case": name, "factor": framing, "expected": True, "correct": ok, "scenes": doys}
        row.update(_outcome(res, err, sec))
        what = "matched" if res.matched else "rejected"
        text = f"{name}: {what}{_km(err)}, {res.inliers} inl, {sec:.1f} s; {res.reason[:70]}"
        _keep(rows, row, text, verbose, log)
    for name, photo, ref in wrong_cases(scenes):
        t0 = time.perf_counter()
        res = loc.locate(photo, [ref])
        sec = time.perf_counter() - t0
        row = {"case": name, "factor": "wrong", "expected": False, "correct": not res.matched}
        row.update(_outcome(res, None, sec))
        text = f"{name}: {'ACCEPTED' if res.matched else 'rejected'}, {res.inliers} inl, {sec:.1f} s"
        _keep(rows, row, text, verbose, log)
    summarise(rows)
    return rows


def summarise(rows: list[dict]) -> None:
    true = [r for r in rows if r["expected"]]
    wrong = [r for r in rows if not r["expected"]]
    by: dict[str, list[bool]] = defaultdict(list)
    for r in true:
        by[f"framing {r['factor']}"].append(r["correct"])
        p, q = r["scenes"]
        by[f"photo {LOCAL_HOUR.get(p, p)}"].append(r["correct"])
        by[f"reference {LOCAL_HOUR.get(q, q)}"].append(r["correct"])
    for k in sorted(by):
        print(f"{k}: {sum(by[k])} of {len(by[k])}")
    errs = sorted(r["center_error_km"] for r in true if r["correct"])
    placed_wrong = sum(1 for r in true if r["matched"] and not r["correct"])
    print(f"localized {sum(r['correct'] for r in true)} of {len(true)} (centre within {SUCCESS_KM:g} km)")
    if errs:
        print(f"centre error of those: median {statistics.median(errs):.2f} km, max {max(errs):.2f} km")
    print(f"wrong placements (accepted, > {SUCCESS_KM:g} km off): {placed_wrong}")
    print(f"wrong pairs accepted: {sum(r['matched'] for r in wrong)} of {len(wrong)}")
    secs = [r["seconds"] for r in rows]
    print(f"seconds per pair: median {statistics.median(secs):.2f}, max {max(secs):.2f}")


if __name__ == "__main__":
    log = sys.argv[sys.argv.index("--log") + 1] if "--log" in sys.argv else None
    run(log)
    if log:
        print(json.dumps({"log": log}))
