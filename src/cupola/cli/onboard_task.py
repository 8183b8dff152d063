"""The task metric of ``cupola onboard bench``: localization of the bundled cases with ALIKED's
backbone run in each runtime (ALIKED + LightGlue, the rest of locate unchanged).

This joins two capabilities (``onboard`` runs the network, ``locate`` localizes), which DESIGN.md
lets only the command-line layer do; it holds no maths of its own. The swap: a
:class:`~cupola.locate.localize.Localizer` is built as usual, then its matcher's ALIKED is replaced
by :class:`RuntimeAliked`, which pads the image as kornia does, takes the score map and the feature
maps x1..x4 from the runtime (:class:`cupola.onboard.backbone.BackboneRuntime`) and then runs the
module's own keypoint detection (DKD) and descriptor head (SDDH, sampled at the keypoints, the
sparse path of :mod:`cupola.locate.aliked_fast`) in PyTorch. LightGlue stays in PyTorch fp32.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from cupola.locate.aliked_ort import BackboneAliked as RuntimeAliked

__all__ = ["RuntimeAliked", "localize_case", "localization_drift", "task_case_folders", "APL_CASES"]

APL_CASES = Path(__file__).resolve().parents[1] / "data" / "samples" / "apl"


def task_case_folders(text: str) -> list[Path]:
    """``all``, ``none`` or comma-separated names of the bundled ``apl`` cases or case folders
    (``apl`` format: case.json, photo, reference) -> their folders."""
    from cupola.errors import InputError

    known = sorted(p.name for p in APL_CASES.iterdir() if (p / "case.json").is_file())
    names = [s.strip() for s in text.split(",") if s.strip()]
    if names == ["none"]:
        return []
    if names == ["all"]:
        return [APL_CASES / n for n in known]
    if not names:
        raise InputError(f"--task-cases: empty; expected all, none or some of {', '.join(known)}")
    out = []
    for n in names:
        if n in known:
            out.append(APL_CASES / n)
        elif (Path(n) / "case.json").is_file():
            out.append(Path(n))
        else:
            expected = f"expected all, none, some of {', '.join(known)} or case folders"
            raise InputError(f"--task-cases {n!r}: neither a bundled case nor a folder with a case.json; {expected}")
    return out


def _localizer(folder: Path, threads: int):
    from cupola.locate.evaluate import read_case
    from cupola.locate.localize import Localizer, LocateOptions

    case = read_case(folder)
    meta = case.get("metadata", {})
    opts = LocateOptions(matcher="aliked", focal_mm=meta.get("lens_focal_length_mm"))
    if meta.get("nadir_point_lat_lon"):
        lat, lon = meta["nadir_point_lat_lon"]
        opts.nadir_lonlat = (lon, lat)
    loc = Localizer(opts)
    import torch

    torch.set_num_threads(threads)  # the matcher sets its own count when first built
    return case, loc


def localize_case(folder: Path, backbone=None, threads: int = 1, glue=None) -> dict:
    """Localize one ``apl`` case (as ``cupola.locate.evaluate.evaluate_case`` does, with the nadir
    prior and the focal length), ALIKED's backbone from ``backbone`` (None: locate's own) and
    LightGlue from ``glue`` (pieces of ``cupola.locate.lightglue_ort``, what ``CUPOLA_LIGHTGLUE=ort``
    plugs in; None: kornia's).
    Returns case, expected, matched, correct (matched within 2 km, or not matched when the photo
    is absent), centre_error_km, seconds (wall), cpu_s, reason."""
    from pyproj import Geod

    from cupola.locate.evaluate import expected_match
    from cupola.locate.job import read_photo_rgb
    from cupola.locate.reference import load_reference

    folder = Path(folder)
    case, loc = _localizer(folder, threads)
    if backbone is not None:
        loc.matcher._aliked = RuntimeAliked(loc.matcher._aliked.aliked, backbone)
    if glue is not None:
        loc.matcher._ort = glue
    photo = read_photo_rgb(folder / case.get("photo", "photo.jpg"))
    ref = load_reference(folder / case.get("reference", "reference.jpg"), bounds=case["_bounds"])
    t0, c0 = time.perf_counter(), time.process_time()
    res = loc.locate(photo, [ref])
    seconds, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    expected = expected_match(case)
    truth = case.get("truth") or {}
    err = None
    if res.matched and truth.get("footprint_center_lat_lon"):
        tlat, tlon = truth["footprint_center_lat_lon"]
        err = Geod(ellps="WGS84").inv(res.center_lonlat[0], res.center_lonlat[1], tlon, tlat)[2] / 1000.0
    if expected is None:
        correct = None
    elif expected:
        correct = bool(res.matched and err is not None and err <= 2.0)
    else:
        correct = not res.matched
    return {
        "case": folder.name,
        "expected": expected,
        "matched": bool(res.matched),
        "correct": correct,
        "centre_error_km": err,
        "centre_lonlat": list(res.center_lonlat) if res.matched and res.center_lonlat else None,
        "seconds": seconds,
        "cpu_s": cpu_s,
        "reason": res.reason,
    }


def _summary(runtime: str, cases: list[dict], ref: list[dict] | None) -> dict:
    """success count, mean centre error over the matched labelled cases, and against ``ref`` (the
    torch rows): success unchanged (same cases correct) and the centre-error change in % (mean
    over the cases both located, of (error - reference error) / reference error)."""
    row: dict[str, Any] = {
        "runtime": runtime,
        "status": "ok",
        "cases": len(cases),
        "success": sum(1 for c in cases if c["correct"]),
        "centre_error_km_mean": _mean([c["centre_error_km"] for c in cases]),
        "cpu_s": sum(c["cpu_s"] for c in cases),
        "per_case": cases,
    }
    if ref is not None:
        row["success_unchanged"] = [c["correct"] for c in cases] == [c["correct"] for c in ref]
        changes = [
            100.0 * (c["centre_error_km"] - r["centre_error_km"]) / r["centre_error_km"]
            for c, r in zip(cases, ref)
            if c["centre_error_km"] is not None and r["centre_error_km"]
        ]
        row["centre_error_change_pct"] = _mean(changes)
        row["centre_error_change_abs_max_pct"] = max((abs(x) for x in changes), default=None)
        # how far the located centre moved against the reference run (km), the largest over cases
        from pyproj import Geod

        geod = Geod(ellps="WGS84")
        shifts = [
            geod.inv(c["centre_lonlat"][0], c["centre_lonlat"][1], r["centre_lonlat"][0], r["centre_lonlat"][1])[2]
            / 1e3
            for c, r in zip(cases, ref)
            if c.get("centre_lonlat") and r.get("centre_lonlat")
        ]
        row["centre_shift_km_max"] = max(shifts, default=None)
    return row


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def localization_drift(
    runtimes: tuple[str, ...],
    cases: list[Path],
    *,
    threads: int = 1,
    seed: int = 0,
    bitflip_trials: int = 0,
    bitflip_bits: int = 1,
    progress=None,
    glue_runtimes: tuple[str, ...] = (),
    glue_factory=None,
) -> dict:
    """The task metric per runtime (``torch`` first, the reference; a missing runtime is a row
    ``not installed``, a precision the device does not run ``unsupported: ...``, a failing one
    ``failed: ...``) and, with ``bitflip_trials``, the same cases
    localized with ``bitflip_bits`` random weight bits of ALIKED flipped per trial (PyTorch):
    a trial is broken when any case's success changes against the clean run. ``glue_runtimes``:
    the same cases with LightGlue in each of these runtimes (``glue_factory(runtime, threads)`` ->
    (pieces, size)), ALIKED in PyTorch; ``network`` in each row says which network ran in the
    row's runtime (``aliked+lightglue`` for the reference: both in PyTorch).

    Returns {"cases": [...], "rows": [...], "bitflip": {...} or None}."""
    from cupola.locate.features import make_matcher
    from cupola.onboard.backbone import BackboneRuntime, backbone_module
    from cupola.onboard.faults import flipped_weights
    from cupola.onboard.runtimes import Unsupported, runtime_available

    order = ("torch",) + tuple(r for r in runtimes if r != "torch")
    glue_order = tuple(r for r in glue_runtimes if r != "torch")
    steps = (len(order) + len(glue_order)) * len(cases) + bitflip_trials * len(cases)
    done = 0
    aliked = make_matcher("aliked", max_keypoints=2048)._aliked.aliked  # the cached module locate uses
    module = backbone_module(aliked)
    rows: list[dict] = []
    ref: list[dict] | None = None

    def localize_all(backbone=None, glue=None) -> list[dict]:
        nonlocal done
        per_case = []
        for folder in cases:
            per_case.append(localize_case(folder, backbone, threads, glue=glue))
            done += 1
            if progress:
                progress("task", done, steps)
        return per_case

    def row_of(rt: str, network: str, measure) -> dict:
        """``measure(rt)``'s row; a missing runtime, a precision this device does not run or a
        failure is a row with its status, not a crash."""
        nonlocal done
        if not runtime_available(rt):
            row = {"runtime": rt, "status": "not installed"}
            done += len(cases)
        else:
            try:
                row = measure(rt)
            except Unsupported as exc:
                row = {"runtime": rt, "status": f"unsupported: {exc}"}
            except Exception as exc:
                row = {"runtime": rt, "status": f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"}
        row["network"] = network
        return row

    with tempfile.TemporaryDirectory(prefix="cupola-onboard-task-") as tmp:

        def aliked_row(rt: str) -> dict:
            nonlocal ref
            backbone = BackboneRuntime(rt, module, Path(tmp), threads, seed)
            per_case = localize_all(backbone)
            row = {**_summary(rt, per_case, ref), "shapes_exported": backbone.exports, "load_s": backbone.load_s}
            if rt == "torch":
                ref = per_case
            return row

        def glue_row(rt: str) -> dict:
            t0 = time.perf_counter()
            pieces = glue_factory(rt, threads)[0]
            load_s = time.perf_counter() - t0
            return {**_summary(rt, localize_all(glue=pieces), ref), "load_s": load_s}

        for rt in order:
            rows.append(row_of(rt, "aliked+lightglue" if rt == "torch" else "aliked", aliked_row))
        for rt in glue_order if ref is not None else ():
            rows.append(row_of(rt, "lightglue", glue_row))
        bitflip = None
        if bitflip_trials and ref is not None:
            rng = np.random.default_rng(seed + 2)
            trials: list[dict] = []
            n_broken = 0
            backbone = BackboneRuntime("torch", module, Path(tmp), threads, seed)
            for _ in range(bitflip_trials):
                with flipped_weights(aliked, bitflip_bits, rng) as flipped:
                    per_case = []
                    for folder in cases:
                        try:
                            per_case.append(localize_case(folder, backbone, threads))
                        except Exception as exc:  # a flipped network may raise (NaN keypoints ...)
                            per_case.append(
                                {
                                    "case": Path(folder).name,
                                    "correct": False,
                                    "centre_error_km": None,
                                    "error": f"{type(exc).__name__}: {str(exc)[:120]}",
                                }
                            )
                        done += 1
                        if progress:
                            progress("task", done, steps)
                broken = [c["correct"] for c in per_case] != [c["correct"] for c in ref]
                n_broken += broken
                trials.append({"flipped": flipped, "broken": broken, "per_case": per_case})
            bitflip = {
                "bits": bitflip_bits,
                "trials": bitflip_trials,
                "broken": n_broken,
                "tolerance": 1.0 - n_broken / bitflip_trials,
                "runs": trials,
            }
    return {"cases": [Path(c).name for c in cases], "rows": rows, "bitflip": bitflip}
