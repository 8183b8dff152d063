"""``cupola nightlights stars``: plate solve one night photo's star field and write its products.

:func:`run_stars` reads the photo (RAW through LibRaw, or JPEG/TIFF/PNG decoded to linear light by
:mod:`cupola.nightlights.photo`), finds and solves its stars (:mod:`cupola.nightlights.plate`),
and, with a time and a TLE, gives the camera's pose. :func:`write_stars_products` writes, all or
nothing (:func:`cupola.io.staging.staged_output`):

* ``wcs.fits``: the WCS as a FITS header (no data), TAN or TAN-SIP, ``astropy.wcs.WCS`` reads it;
* ``stars.csv``: the identified stars: Hipparcos number, RA/Dec (ICRS at the photo's epoch), Hp,
  B-V, measured and predicted photo pixel, residual;
* ``result.json``: what was read, how it was solved, the solution, the pose, notes;
* ``stars.png``: the photo with its sources and the identified stars.

A photo without a star field (fewer than six star-like sources) is bad input (exit code 2); a star
field that matches no catalog pattern is "no solution" (exit code 3).
"""

from __future__ import annotations

import csv
import datetime as dt
import time as _time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from cupola import __version__
from cupola.errors import InputError, NoSolutionError
from cupola.geometry import orbit
from cupola.geometry.camera import Camera, camera_from_photo
from cupola.geometry.times import iso_z
from cupola.io.staging import json_safe, staged_output, write_json
from cupola.nightlights import plate as pl
from cupola.nightlights.lens import LensModel, lens_from_lensfun
from cupola.nightlights.raw import RawFrame

__all__ = ["StarsOptions", "StarsResult", "run_stars", "stars_summary", "write_stars_products", "RESULT_SCHEMA"]

RESULT_SCHEMA = "cupola.nightlights.stars/1"


@dataclass
class StarsOptions:
    """Inputs besides the photo (all optional)."""

    time: dt.datetime | None = None  # mid-exposure, UTC; default: EXIF DateTimeOriginal as UTC
    tle: Path | None = None
    force_tle: bool = False
    focal_mm: float | None = None  # default: EXIF
    sensor_mm: tuple[float, float] | None = None  # default: the EXIF camera body
    transfer: str = "srgb"  # JPEG/TIFF/PNG values: "srgb" or "linear"
    mag_limit: float = 7.0
    min_tangent_height_m: float = pl.MIN_TANGENT_HEIGHT_M
    sip_degree: int = 9
    #: the station's GCRS position (m) when known without a TLE (e.g. from another solution's
    #: header): drops sources below the limb; a TLE's state takes precedence
    station_position_gcrs_m: np.ndarray | None = None
    #: another solution of the same photo to compare with (a FITS WCS header file, e.g.
    #: astrometry.net's ``.wcs``): the angle between the two over the sky part of the frame
    reference_wcs: Path | None = None


@dataclass(eq=False)
class StarsResult:
    path: Path
    frame: RawFrame
    camera: Camera
    camera_source: str
    lens: LensModel
    sources: pl.Sources
    plate: pl.PlateSolution
    wcs: Any  # astropy.io.fits.Header
    wcs_fit_px: float
    time: dt.datetime | None = None
    time_source: str = ""
    elements: orbit.ElementSet | None = None
    state: orbit.StateVector | None = None
    pose: dict | None = None
    reference: dict | None = None
    notes: list = field(default_factory=list)
    timings_s: dict = field(default_factory=dict)


def read_reference_wcs(path: str | Path) -> tuple[Any, np.ndarray | None, str]:
    """An ``astropy.wcs.WCS`` from a FITS header file (a ``.wcs`` of astrometry.net, a FITS
    image's header), and the station's GCRS position (m) if the header carries one (AUROMAT's
    ``POSXSHIF``... at the clock-corrected time, else ``POSX``..., km), with where it came from."""
    import warnings

    from astropy.io import fits
    from astropy.wcs import WCS

    from cupola.io.limits import regular_file

    p = regular_file(path, "a FITS WCS header (.wcs, .fits)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hdr = fits.Header.fromfile(str(p))
            wcs = WCS(hdr)
    except Exception as exc:  # noqa: BLE001 - astropy raises many types on a bad header
        raise InputError(f"{p}: not a FITS WCS header ({type(exc).__name__}: {exc})") from None
    if wcs.naxis != 2 or not wcs.has_celestial:
        raise InputError(f"{p}: not a celestial WCS with two axes (CTYPE {list(wcs.wcs.ctype)})")
    pos, where = None, ""
    for suffix, what in (("SHIF", "clock-corrected"), ("", "")):
        keys = [f"POS{a}{suffix}" for a in "XYZ"]
        if all(k in hdr for k in keys):
            pos = np.array([float(hdr[k]) for k in keys]) * 1e3
            where = f"{p.name} {'/'.join(keys)}" + (f" ({what})" if what else "")
            break
    return wcs, pos, where


def compare_with_reference(
    res: StarsResult,
    path: str | Path,
    *,
    step_px: float = 32.0,
    min_tangent_height_m: float = pl.MIN_TANGENT_HEIGHT_M,
    reference: tuple | None = None,
) -> dict:
    """The angle between this run's WCS and the one in ``path`` over the photo, on a lattice of
    ``step_px``; statistics over the sky part (lines of sight >= ``min_tangent_height_m`` above
    the Earth, from the run's station position or the reference header's) and over all pixels.
    ``reference``: what :func:`read_reference_wcs` gave for ``path``, when it was read already."""
    from astropy.wcs import WCS

    ref, pos, where = reference if reference is not None else read_reference_wcs(path)
    if res.state is not None:
        pos, where = res.state.gcrs_position_m, "the TLE at the photo's time"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine = WCS(res.wcs)
        grid = pl.wcs_agreement(
            ref,
            mine,
            res.camera.width_px,
            res.camera.height_px,
            step_px=step_px,
            station_position_m=pos,
            min_tangent_height_m=min_tangent_height_m,
        )
    ang, sky = grid["angle_deg"], grid["sky"]

    def stats(a):
        return {
            "median_deg": float(np.median(a)),
            "p90_deg": float(np.percentile(a, 90)),
            "max_deg": float(np.max(a)),
            "pixels": int(a.size),
        }

    m = res.plate.matched(res.sources)
    ra, dec = np.radians(m["ra_deg"]), np.radians(m["dec_deg"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc, rr = ref.all_world2pix(np.degrees(ra), np.degrees(dec), 0)
    ref_res = np.column_stack([m["col"] - rc, m["row"] - rr])
    own_res = np.column_stack([m["col"] - m["pred_col"], m["row"] - m["pred_row"]])
    out = {
        "reference": str(path),
        "lattice_step_px": step_px,
        "sky": stats(ang[sky]) if sky.any() else None,
        "all": stats(ang.ravel()),
        "sky_from": where or "no station position: every pixel counted as sky",
        "min_tangent_height_m": min_tangent_height_m,
        "matched_stars_rms_px": {
            "cupola": float(np.sqrt(np.mean(np.sum(own_res**2, axis=1)))),
            "reference": float(np.sqrt(np.nanmean(np.sum(ref_res**2, axis=1)))),
        },
        "_grid": grid,
        "_residuals": (own_res, ref_res),
    }
    return out


def _read(path: Path, transfer: str) -> RawFrame:
    from cupola.nightlights.photo import is_photo, read_photo_frame

    if is_photo(path):
        return read_photo_frame(path, transfer=transfer)
    from cupola.nightlights.raw import read_raw

    return read_raw(path)


def _epoch_year(t: dt.datetime) -> float:
    t = t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
    return 2000.0 + (t - dt.datetime(2000, 1, 1, 12, tzinfo=dt.timezone.utc)).total_seconds() / 31_557_600.0


def _time_of(frame: RawFrame, opts: StarsOptions, notes: list) -> tuple[dt.datetime | None, str]:
    if opts.time is not None:
        return opts.time, "given"
    t = frame.meta.datetime_original
    if t is None:
        return None, ""
    half = (frame.meta.exposure_s or 0.0) / 2.0
    notes.append("time from EXIF DateTimeOriginal taken as UTC plus half the exposure (give `time` to be sure)")
    return t.replace(tzinfo=dt.timezone.utc) + dt.timedelta(seconds=half), "EXIF DateTimeOriginal as UTC + exposure/2"


def run_stars(path: str | Path, options: StarsOptions | None = None) -> StarsResult:
    """Read ``path``, solve its star field and, with ``tle`` and a time, the camera's pose.

    Raises:
        InputError: an unreadable or corrupt photo, missing camera metadata, ``tle`` without any
            time (none given, none in EXIF), a bad TLE file, a photo without a star field.
        NoSolutionError: star-like sources that match no catalog pattern.
    """
    opts = options or StarsOptions()
    p = Path(path)
    timings: dict[str, float] = {}
    notes: list[str] = []
    t0 = _time.perf_counter()
    frame = _read(p, opts.transfer)
    notes += list(frame.notes)
    m = frame.meta
    t, t_source = _time_of(frame, opts, notes)
    tles = None
    if opts.tle is not None:
        if t is None:
            raise InputError(
                f"{p}: no EXIF DateTimeOriginal, and the pose from `tle` needs the photo's time: give `time`"
            )
        from cupola.io.tle import TleFile

        tles = TleFile.read(opts.tle)
    reference = read_reference_wcs(opts.reference_wcs) if opts.reference_wcs is not None else None
    photo = m.cfa.startswith("RGB") or m.cfa == "grey"
    width = m.width_px if photo else m.width_px - m.width_px % 2
    height = m.height_px if photo else m.height_px - m.height_px % 2
    camera, camera_source = camera_from_photo(
        width,
        height,
        focal_mm=opts.focal_mm,
        sensor_mm=opts.sensor_mm,
        exif_focal_mm=m.focal_mm,
        exif_model=m.model,
        photo=str(p),
    )
    if opts.sensor_mm is None and camera.focal_x_px != camera.focal_y_px:
        # a known body has square pixels; rounded data-sheet sensor sizes would make them 0.1-0.3 %
        # taller than wide, a scale error of pixels across the frame that the fit (one focal length)
        # cannot take up: the width's focal length holds for both axes
        camera = replace(camera, focal_y_px=camera.focal_x_px)
    focal_for_lens = opts.focal_mm or m.focal_mm or 0.0
    with warnings.catch_warnings():  # an unknown lens is said in the lens' notes and result.json
        warnings.simplefilter("ignore")
        lens = lens_from_lensfun(
            m.make,
            m.model,
            m.lens_make,
            m.lens_model,
            focal_mm=focal_for_lens,
            f_number=m.f_number or 0.0,
            width_px=width,
            height_px=height,
        )
    if lens.distortion == "none":
        notes.append(f"no lens distortion model ({lens.source}): the photo is taken as a pinhole image")
    timings["read"] = _time.perf_counter() - t0
    elements = state = None
    if tles is not None and t is not None:
        elements = tles.at(t, force=opts.force_tle, notes=notes)
        state = orbit.state_at(elements, t)
    t1 = _time.perf_counter()
    quant = (m.white_level, opts.transfer) if photo else None
    sources = pl.find_sources(frame.planes, saturated=frame.saturated, quantisation=quant)
    timings["sources"] = _time.perf_counter() - t1
    if sources.star_like.sum() < 6:
        _, why = pl.solve_plate(sources, camera, epoch_year=2000.0)
        raise InputError(f"{p}: no star field: {why}")
    t2 = _time.perf_counter()
    if t is not None:
        epoch = _epoch_year(t)
    elif m.datetime_original is not None:
        epoch = _epoch_year(m.datetime_original)
    else:
        epoch = 2016.0
        notes.append('no time: catalog proper motions taken to 2016.0 (~0.1" per year for most stars)')
    plate, why = pl.solve_plate(
        sources,
        camera,
        epoch_year=epoch,
        lens=lens if lens.distortion != "none" else None,
        mag_limit=opts.mag_limit,
        station_position_m=state.gcrs_position_m if state is not None else opts.station_position_gcrs_m,
        min_tangent_height_m=opts.min_tangent_height_m,
    )
    timings["solve"] = _time.perf_counter() - t2
    if plate is None:
        raise NoSolutionError(f"{p}: star field not identified: {why}")
    extra = {"DATE-OBS": t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")} if t is not None else {}
    extra["COMMENT"] = f"cupola {__version__} nightlights stars: {plate.astrometry.n_matched} Hipparcos stars"
    wcs, fit_px = pl.wcs_header(plate, sip_degree=opts.sip_degree, extra=extra)
    pose = pl.camera_pose(plate.rotation, state) if state is not None else None
    if state is None:
        notes.append("no pose in ITRS/LVLH: give `tle` (and `time` if the photo has no EXIF time)")
    result = StarsResult(
        path=p,
        frame=frame,
        camera=camera,
        camera_source=camera_source,
        lens=lens,
        sources=sources,
        plate=plate,
        wcs=wcs,
        wcs_fit_px=fit_px,
        time=t,
        time_source=t_source,
        elements=elements,
        state=state,
        pose=pose,
        notes=notes,
        timings_s=timings,
    )
    if opts.reference_wcs is not None:
        result.reference = compare_with_reference(
            result, opts.reference_wcs, min_tangent_height_m=opts.min_tangent_height_m, reference=reference
        )
    return result


def stars_summary(res: StarsResult) -> dict:
    """The ``result.json`` of a run (without ``products``)."""
    src = res.sources
    sol = res.plate.astrometry
    d: dict[str, Any] = {
        "schema": RESULT_SCHEMA,
        "cupola_version": __version__,
        "photo": str(res.path),
        "metadata": res.frame.meta.to_dict(),
        "linearity": res.frame.linearity,
        "camera_prior": {**res.plate.camera_prior.to_dict(), "source": res.camera_source},
        "camera": sol.camera.to_dict(),
        "lens": res.lens.to_dict(),
        "sources": {
            "detected": len(src),
            "star_like": int(src.star_like.sum()),
            "not_star_like": src.rejected(),
        },
        "solution": res.plate.to_dict(),
        "wcs": {
            "file": "wcs.fits",
            "projection": "TAN-SIP" if "A_ORDER" in res.wcs else "TAN",
            "pixels": "the photo's own pixels (FITS: 1-based, pixel centres at integers)",
            "sip_fit_max_px": res.wcs_fit_px,
            "header": {k: res.wcs[k] for k in res.wcs if k not in ("COMMENT", "HISTORY", "")},
        },
        "notes": res.notes,
        "timings_s": res.timings_s,
    }
    if res.time is not None:
        d["time_utc"] = iso_z(res.time)
        d["time_source"] = res.time_source
    if res.elements is not None:
        d["tle"] = res.elements.to_dict()
    if res.pose is not None:
        d["pose"] = res.pose
    if res.reference is not None:
        d["reference_agreement"] = {k: v for k, v in res.reference.items() if not k.startswith("_")}
    return json_safe(d)


def _write_csv(path: Path, res: StarsResult) -> None:
    m = res.plate.matched(res.sources)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            ["catalog_id", "ra_deg", "dec_deg", "hp_mag", "b_v", "col", "row", "pred_col", "pred_row", "residual_px"]
        )
        for k in np.argsort(m["hp_mag"], kind="stable"):
            w.writerow(
                [
                    f"HIP {int(m['hip'][k])}",
                    f"{m['ra_deg'][k]:.6f}",
                    f"{m['dec_deg'][k]:.6f}",
                    f"{m['hp_mag'][k]:.3f}",
                    f"{m['b_v'][k]:.3f}" if np.isfinite(m["b_v"][k]) else "",
                    f"{m['col'][k]:.2f}",
                    f"{m['row'][k]:.2f}",
                    f"{m['pred_col'][k]:.2f}",
                    f"{m['pred_row'][k]:.2f}",
                    f"{m['residual_px'][k]:.3f}",
                ]
            )


def _write_picture(path: Path, res: StarsResult) -> None:
    from cupola.plot.plate import write_star_field

    det = res.sources.detections
    m = res.plate.matched(res.sources)
    order = np.argsort(m["hp_mag"])
    labels = [""] * order.size
    for k in order[:15]:
        labels[k] = f"HIP {int(m['hip'][k])}"
    sol = res.plate.astrometry
    title = (
        f"{res.path.name}: {sol.n_matched} Hipparcos stars identified ({res.plate.method}), rms {sol.rms_px:.2f} px\n"
        "yellow: star-like sources, grey: other sources; cyan: identified stars, red +: their catalog position"
    )
    write_star_field(
        path,
        pl.colour_planes(res.frame.planes),
        plane_to_photo=2.0,
        sources_col=det.col,
        sources_row=det.row,
        star_like=res.sources.star_like,
        matched_col=m["col"],
        matched_row=m["row"],
        predicted_col=m["pred_col"],
        predicted_row=m["pred_row"],
        labels=labels,
        title=title,
        photo_size_px=(res.camera.width_px, res.camera.height_px),
    )


def _write_agreement(path: Path, res: StarsResult) -> None:
    from cupola.plot.plate import write_agreement_map

    ref = res.reference
    assert ref is not None
    g = ref["_grid"]
    step = ref["lattice_step_px"]
    m = res.plate.matched(res.sources)
    own, other = ref["_residuals"]
    s = ref["sky"] or ref["all"]
    write_agreement_map(
        path,
        g["angle_deg"],
        g["sky"],
        (g["col"][0] - step / 2, g["col"][-1] + step / 2, g["row"][-1] + step / 2, g["row"][0] - step / 2),
        stars_col=m["col"],
        stars_row=m["row"],
        residual_a_px=own,
        residual_b_px=other,
        names=("cupola", Path(ref["reference"]).name),
        title=(
            f"{res.path.name}: cupola vs {Path(ref['reference']).name}\nsky part (grey: not sky): median "
            f"{s['median_deg']:.4f}, p90 {s['p90_deg']:.4f}, max {s['max_deg']:.4f} deg"
        ),
    )


def write_stars_products(res: StarsResult, out_dir: str | Path, inputs=()) -> list[Path]:
    """``wcs.fits``, ``stars.csv``, ``result.json`` and ``stars.png`` into ``out_dir``, all or nothing."""
    from astropy.io import fits

    written: list[Path] = []
    t0 = _time.perf_counter()
    with staged_output(Path(out_dir), written=written, kind="nightlights-stars", inputs=[res.path, *inputs]) as stage:
        fits.PrimaryHDU(header=res.wcs).writeto(stage / "wcs.fits")
        _write_csv(stage / "stars.csv", res)
        _write_picture(stage / "stars.png", res)
        summary = stars_summary(res)
        summary["timings_s"]["products"] = _time.perf_counter() - t0
        summary["products"] = {"wcs": "wcs.fits", "stars": "stars.csv", "picture": "stars.png"}
        if res.reference is not None:
            _write_agreement(stage / "agreement.png", res)
            summary["products"]["agreement"] = "agreement.png"
        write_json(stage / "result.json", summary)
    return written
