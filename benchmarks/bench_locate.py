"""Astronaut-photo localization on the four real sample cases (three true candidates, one wrong),
with and without the nadir prior, against a plain-SIFT baseline measured in the same run.

Plain SIFT = OpenCV SIFT on the full-resolution photo and reference, Lowe ratio 0.8, RANSAC
homography, accepted when it has >= 15 inliers: the usual script-level approach.
"""

from __future__ import annotations

import time

from common import ROOT, bench_line

CASES = ROOT / "src" / "cupola" / "data" / "samples" / "apl"


def plain_sift(folder):
    """(matched, centre lon/lat) from plain SIFT + RANSAC."""
    import cv2
    import numpy as np

    from cupola.locate.evaluate import read_case
    from cupola.locate.reference import load_reference

    case = read_case(folder)
    ref = load_reference(folder / "reference.jpg", bounds=case["_bounds"])
    p = cv2.imread(str(folder / "photo.jpg"), cv2.IMREAD_GRAYSCALE)
    r = cv2.cvtColor(ref.image, cv2.COLOR_RGB2GRAY)
    sift = cv2.SIFT_create()
    kp, dp = sift.detectAndCompute(p, None)
    kr, dr = sift.detectAndCompute(r, None)
    good = [a for a, b in cv2.BFMatcher().knnMatch(dp, dr, k=2) if a.distance < 0.8 * b.distance]
    if len(good) < 4:
        return False, None
    src = np.float32([kp[g.queryIdx].pt for g in good])
    dst = np.float32([kr[g.trainIdx].pt for g in good])
    h, mask = cv2.findHomography(src, dst, cv2.RANSAC, 5.0)
    if h is None or mask.sum() < 15:
        return False, None
    c = h @ np.array([(p.shape[1] - 1) / 2, (p.shape[0] - 1) / 2, 1.0])
    lon, lat = ref.pixel_to_lonlat(c[0] / c[2], c[1] / c[2])
    return True, (float(lon), float(lat))


def samples():
    from pyproj import Geod

    from cupola.locate.evaluate import evaluate_case, find_cases, read_case, summarise

    folders = find_cases(CASES)
    # plain SIFT baseline
    sift_ok = sift_false = 0
    for f in folders:
        case = read_case(f)
        matched, centre = plain_sift(f)
        truth = (case.get("truth") or {}).get("footprint_center_lat_lon")
        if not case["expected"]["photo_inside_reference"]:
            sift_false += int(matched)
        elif matched and truth:
            err = Geod(ellps="WGS84").inv(centre[0], centre[1], truth[1], truth[0])[2] / 1000
            sift_ok += int(err <= 2.0)
    results = {}
    for prior in (True, False):
        t0 = time.perf_counter()
        outcomes = [evaluate_case(f, use_prior=prior) for f in folders]
        s = summarise(outcomes)
        results[prior] = s
        tag = "with" if prior else "without"
        for o in outcomes:
            err = "" if o.center_error_km is None else f", centre error {o.center_error_km:.2f} km"
            iou = "" if o.footprint_iou is None else f", footprint IoU {o.footprint_iou:.2f}"
            print(
                f"# {tag} prior: {o.case}: {'localized' if o.matched else 'rejected'}{err}{iou}, "
                f"{o.seconds:.1f} s ({o.reason[:90]})",
                flush=True,
            )
        print(f"# {tag} prior: {time.perf_counter() - t0:.1f} s for {len(folders)} cases", flush=True)
    xfeat = {}
    for prior in (True, False):
        outcomes = [evaluate_case(f, matcher="xfeat", use_prior=prior) for f in folders]
        xfeat[prior] = summarise(outcomes)
        print(
            f"# xfeat + LighterGlue {'with' if prior else 'without'} prior: "
            + "; ".join(f"{o.case} {'localized' if o.matched else 'rejected'} {o.seconds:.1f} s" for o in outcomes),
            flush=True,
        )
    s, n = results[True], results[False]
    bench_line("locate_samples_localized", s["localized_within_2km"], "cases", baseline=sift_ok)
    bench_line("locate_samples_localized_no_prior", n["localized_within_2km"], "cases", baseline=sift_ok)
    bench_line("locate_samples_false_accepts", s["false_accepts"] + n["false_accepts"], "cases", baseline=sift_false)
    bench_line("locate_samples_seconds_per_case", s["seconds_per_case"], "s", baseline=5.0)
    bench_line("locate_samples_seconds_per_case_no_prior", n["seconds_per_case"], "s", baseline=5.0)
    bench_line("locate_median_center_error", s["median_center_error_km"], "km", baseline=2.0)
    bench_line(
        "locate_xfeat_localized", xfeat[True]["localized_within_2km"], "cases", baseline=s["localized_within_2km"]
    )
    bench_line(
        "locate_xfeat_localized_no_prior",
        xfeat[False]["localized_within_2km"],
        "cases",
        baseline=n["localized_within_2km"],
    )
    bench_line("locate_xfeat_false_accepts", xfeat[True]["false_accepts"] + xfeat[False]["false_accepts"], "cases")
    bench_line("locate_xfeat_seconds_per_case", xfeat[True]["seconds_per_case"], "s", baseline=s["seconds_per_case"])
    bench_line("locate_sift_baseline_localized", sift_ok, "cases", baseline=s["true_candidates"])
    bench_line("locate_sift_baseline_false_accepts", sift_false, "cases")


def plain_sift_pair(photo, ref):
    """(matched, centre lon/lat) of plain SIFT + RANSAC (>= 15 inliers) on in-memory images."""
    import cv2
    import numpy as np

    p = photo if photo.ndim == 2 else cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    r = ref.image if ref.image.ndim == 2 else cv2.cvtColor(ref.image, cv2.COLOR_RGB2GRAY)
    sift = cv2.SIFT_create()
    kp, dp = sift.detectAndCompute(p, None)
    kr, dr = sift.detectAndCompute(r, None)
    if dp is None or dr is None or len(kp) < 2 or len(kr) < 2:
        return False, None
    good = [m[0] for m in cv2.BFMatcher().knnMatch(dp, dr, k=2) if len(m) == 2 and m[0].distance < 0.8 * m[1].distance]
    if len(good) < 4:
        return False, None
    h, mask = cv2.findHomography(
        np.float32([kp[g.queryIdx].pt for g in good]), np.float32([kr[g.trainIdx].pt for g in good]), cv2.RANSAC, 5.0
    )
    if h is None or mask.sum() < 15:
        return False, None
    c = h @ np.array([(p.shape[1] - 1) / 2, (p.shape[0] - 1) / 2, 1.0])
    lon, lat = ref.pixel_to_lonlat(c[0] / c[2], c[1] / c[2])
    return True, (float(lon), float(lat))


def robustness():
    """The robustness suite (cupola.simulate.locate_cases): success per factor, false accepts on
    every reference against every other case's photo, seconds per photo-candidate pair; plain
    SIFT on the same suite as the baseline."""
    import locate_suite
    from pyproj import Geod

    from cupola.simulate.locate_cases import build_suite

    rows = locate_suite.run(verbose=True)
    s = locate_suite.summary(rows)
    true_cases, wrong = build_suite(locate_suite.CASES)
    g = Geod(ellps="WGS84")
    sift_ok = sift_false = 0
    for c in true_cases:
        m, centre = plain_sift_pair(c.photo, c.reference)
        sift_ok += int(m and g.inv(*centre, *c.truth_center_lonlat)[2] / 1000 <= locate_suite.SUCCESS_KM)
    for c in wrong:
        sift_false += int(plain_sift_pair(c.photo, c.reference)[0])
    for factor, (n, m) in s["per_factor"].items():
        print(f"# robustness factor {factor}: {n}/{m} localized within {locate_suite.SUCCESS_KM:g} km", flush=True)
    bench_line("locate_robustness_success", s["success_pct"], "%", baseline=100.0 * sift_ok / max(1, len(true_cases)))
    bench_line("locate_robustness_false_accepts", s["false_accepts"], "cases", baseline=sift_false)
    print(
        f"# robustness: {s['wrong_placements']} true photos accepted more than {locate_suite.SUCCESS_KM:g} km off",
        flush=True,
    )
    bench_line("locate_seconds_per_case", s["median_s"], "s", baseline=5.0)
    bench_line("locate_seconds_per_case_max", s["max_s"], "s", baseline=15.0)


def ecostress():
    """The defaults on real imagery none of them was chosen on (``locate_ecostress.py``: ECOSTRESS
    scenes of Los Angeles, a crop of one scene on a larger crop of another), plain SIFT on the same
    pairs as the baseline."""
    import statistics

    import locate_ecostress as eco
    from pyproj import Geod

    rows = eco.run(verbose=False)
    scenes = eco.read_scenes()
    g = Geod(ellps="WGS84")
    sift_ok = sift_false = 0
    for _, _, photo, ref, truth, _ in eco.true_cases(scenes):
        m, centre = plain_sift_pair(photo, ref)
        sift_ok += int(m and g.inv(*centre, *truth)[2] / 1000 <= eco.SUCCESS_KM)
    for _, photo, ref in eco.wrong_cases(scenes):
        sift_false += int(plain_sift_pair(photo, ref)[0])
    true = [r for r in rows if r["expected"]]
    wrong = [r for r in rows if not r["expected"]]
    n = max(1, len(true))
    found = sum(r["correct"] for r in true)
    bench_line("locate_ecostress_success", 100.0 * found / n, "%", baseline=100.0 * sift_ok / n)
    bench_line("locate_ecostress_false_accepts", sum(r["matched"] for r in wrong), "cases", baseline=sift_false)
    bench_line("locate_ecostress_wrong_placements", sum(r["matched"] and not r["correct"] for r in true), "cases")
    bench_line("locate_ecostress_seconds_per_case", statistics.median(r["seconds"] for r in rows), "s", baseline=5.0)


BENCHMARKS = {"locate_robustness": robustness, "locate_samples": samples, "locate_ecostress": ecostress}
