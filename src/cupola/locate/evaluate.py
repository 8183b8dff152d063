"""Evaluation on labelled cases in the ``apl`` format: one folder per case with ``case.json``,
``photo.jpg`` and ``reference.jpg`` (reference bounds, metadata known before localization and the
hand-labelled footprint)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.io.limits import read_json_bounded
from cupola.locate.localize import Localizer, LocateOptions


@dataclass
class CaseOutcome:
    case: str
    expected_match: bool | None  # None: the case says neither where the photo is nor that it is absent
    matched: bool
    confidence: float
    center_error_km: float | None
    truth_center_inside: bool | None
    footprint_iou: float | None
    seconds: float
    reason: str
    chosen: str | None = None  # pool mode: the tile accepted
    own_rank: int | None = None  # pool mode: where the case's own reference ranked

    @property
    def correct(self) -> bool | None:
        if self.expected_match is None:
            return None
        if not self.expected_match:
            return not self.matched
        return self.matched and self.center_error_km is not None and self.center_error_km <= 2.0


def read_case(folder: Path) -> dict:
    path = Path(folder) / "case.json"
    if not path.is_file():
        raise InputError(f"{folder}: no case.json")
    case = read_json_bounded(path, "a case file (case.json)")
    try:
        b = case["reference_bounds"]
        case["_bounds"] = (b["west"], b["south"], b["east"], b["north"])
    except (KeyError, TypeError) as exc:  # no bounds, or not an object
        raise InputError(f"{path}: not a case file ({exc})") from None
    return case


def expected_match(case: dict) -> bool | None:
    """Whether the case's photo lies in its reference: the ``expected.photo_inside_reference`` flag,
    else True when a truth footprint is given; None (unlabelled) when the case says neither."""
    flag = (case.get("expected") or {}).get("photo_inside_reference")
    if flag is not None:
        return bool(flag)
    return True if case.get("truth") else None


def find_cases(cases_dir) -> list[Path]:
    cases_dir = Path(cases_dir)
    if not cases_dir.is_dir():
        raise InputError(f"{cases_dir}: not a folder of cases")
    folders = sorted(p for p in cases_dir.iterdir() if (p / "case.json").is_file())
    if not folders:
        raise InputError(f"{cases_dir}: holds no case folders (each needs a case.json)")
    return folders


def evaluate_case(
    folder: Path, *, matcher: str = "aliked", use_prior: bool = True, localizer_cache: dict | None = None
) -> CaseOutcome:
    from pyproj import Geod
    from shapely.geometry import Point, Polygon

    from cupola.locate.job import read_photo_rgb
    from cupola.locate.reference import load_reference

    case = read_case(folder)
    meta = case.get("metadata", {})
    opts = LocateOptions(matcher=matcher, focal_mm=meta.get("lens_focal_length_mm"))
    if use_prior and meta.get("nadir_point_lat_lon"):
        lat, lon = meta["nadir_point_lat_lon"]
        opts.nadir_lonlat = (lon, lat)
    photo = read_photo_rgb(Path(folder) / case.get("photo", "photo.jpg"))
    ref = load_reference(Path(folder) / case.get("reference", "reference.jpg"), bounds=case["_bounds"])
    loc = Localizer(opts)
    t0 = time.perf_counter()
    res = loc.locate(photo, [ref])
    seconds = time.perf_counter() - t0
    truth = case.get("truth") or {}
    expected = expected_match(case)
    err = inside = iou = None
    if res.matched and truth.get("footprint_center_lat_lon"):
        tlat, tlon = truth["footprint_center_lat_lon"]
        err = Geod(ellps="WGS84").inv(res.center_lonlat[0], res.center_lonlat[1], tlon, tlat)[2] / 1000.0
        pred = Polygon(res.footprint_lonlat)
        inside = bool(pred.contains(Point(tlon, tlat)))
        if truth.get("footprint_lat_lon"):
            lab = Polygon([(lo, la) for la, lo in truth["footprint_lat_lon"]])
            if pred.is_valid and lab.is_valid:
                iou = float(pred.intersection(lab).area / pred.union(lab).area)
    return CaseOutcome(Path(folder).name, expected, res.matched, res.confidence, err, inside, iou, seconds, res.reason)


def evaluate_case_pool(
    folder: Path, pool, *, matcher: str = "aliked", use_prior: bool = True, localizer: Localizer | None = None
) -> CaseOutcome:
    """One case's photo against a pool of tiles (:class:`~cupola.locate.pool.TilePool`), e.g. every
    case's reference. A true case is correct when the accepted tile puts the photo's centre within
    2 km of the label; a wrong-candidate case (its own reference is wrong) when nothing is accepted."""
    from pyproj import Geod

    from cupola.locate.job import read_photo_rgb

    case = read_case(folder)
    meta = case.get("metadata", {})
    opts = LocateOptions(matcher=matcher, focal_mm=meta.get("lens_focal_length_mm"))
    if use_prior and meta.get("nadir_point_lat_lon"):
        lat, lon = meta["nadir_point_lat_lon"]
        opts.nadir_lonlat = (lon, lat)
    if localizer is not None:
        localizer.opts = opts
    photo = read_photo_rgb(Path(folder) / case.get("photo", "photo.jpg"))
    t0 = time.perf_counter()
    pres = pool.locate(photo, opts, localizer=localizer)
    seconds = time.perf_counter() - t0
    res = pres.result
    truth = case.get("truth") or {}
    expected = expected_match(case)
    own = f"{Path(folder).name}/{case.get('reference', 'reference.jpg')}"
    own_rank = next((r["rank"] for r in pres.ranking if r["tile"] == own), None)
    err = inside = None
    if res.matched and truth.get("footprint_center_lat_lon"):
        from shapely.geometry import Point, Polygon

        tlat, tlon = truth["footprint_center_lat_lon"]
        err = Geod(ellps="WGS84").inv(res.center_lonlat[0], res.center_lonlat[1], tlon, tlat)[2] / 1000.0
        inside = bool(Polygon(res.footprint_lonlat).contains(Point(tlon, tlat)))
    return CaseOutcome(
        Path(folder).name,
        expected,
        res.matched,
        res.confidence,
        err,
        inside,
        None,
        seconds,
        res.reason,
        chosen=None if pres.tile is None else pres.tile.name,
        own_rank=own_rank,
    )


def summarise(outcomes: list[CaseOutcome]) -> dict:
    true_cases = [o for o in outcomes if o.expected_match is True]
    wrong_cases = [o for o in outcomes if o.expected_match is False]
    errors = [o.center_error_km for o in true_cases if o.center_error_km is not None]
    return {
        "cases": len(outcomes),
        "true_candidates": len(true_cases),
        "localized_within_2km": sum(o.correct for o in true_cases),
        "wrong_candidates": len(wrong_cases),
        "false_accepts": sum(o.matched for o in wrong_cases),
        "unlabelled": sum(o.expected_match is None for o in outcomes),
        "median_center_error_km": float(np.median(errors)) if errors else None,
        "truth_center_inside": sum(bool(o.truth_center_inside) for o in true_cases),
        "seconds_per_case": float(np.mean([o.seconds for o in outcomes])) if outcomes else None,
        "max_seconds": float(np.max([o.seconds for o in outcomes])) if outcomes else None,
    }
