"""The calibration's products: per frame ``result.json``, ``stars.csv``, ``report.png`` and the
radiance, colour-ratio and lamp-class GeoTIFFs (EPSG:4326; image-space TIFFs without geometry),
and ``calibration.json`` for the sequence, all staged through :func:`cupola.io.staging.staged_output`
(all or nothing).

The GeoTIFFs resample the Bayer superpixel grid bilinearly (classes: nearest) onto the ground grid
of the frame's view geometry; the three share the grid and its projection.
"""

from __future__ import annotations

import csv
import json
import time as _time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from cupola import __version__
from cupola.analysis import lamp_colour as colour_mod
from cupola.errors import InputError
from cupola.geometry import attitude as att
from cupola.geometry import orbit
from cupola.io.geotiff import write_georeferenced_cog, write_image_tiff
from cupola.io.names import safe_name
from cupola.io.staging import json_safe, staged_output
from cupola.nightlights.frame import FrameResult
from cupola.nightlights.photometry import CHANNELS
from cupola.nightlights.view import GridProjection
from cupola.plot.nightlights import write_report

__all__ = ["RESULT_SCHEMA", "frame_summary", "ground_grid", "write_products"]

RESULT_SCHEMA = "cupola.nightlights/1"


def _settings_dict(fr: FrameResult) -> dict:
    return {
        "atmosphere_corrected": fr.airmass is not None,
        "window_applied": bool(fr.calibration_used and not fr.calibration_used.through_window),
    }


def frame_summary(fr: FrameResult) -> dict:
    """The ``result.json`` of one calibrated frame (without its ``products`` and ``geotiff``)."""
    rad = fr.radiance
    classes = fr.classes
    counts = {cl.name: int(np.count_nonzero(classes == cl.code)) for cl in colour_mod.LAMP_CLASSES}
    counts["unclassified"] = int(np.count_nonzero(classes == colour_mod.CLASS_UNCLASSIFIED))
    settings = dict(fr.radiance_settings.to_dict()) if fr.radiance_settings else {}
    d = {
        "schema": RESULT_SCHEMA,
        "cupola_version": __version__,
        "raw": str(fr.path),
        "metadata": fr.frame.meta.to_dict(),
        "dark": fr.frame.dark,
        "linearity": fr.frame.linearity,
        "exposure": fr.exposure.to_dict(),
        "lens": fr.lens.to_dict(),
        "camera": fr.camera.to_dict(),
        "stars": {"note": fr.star_note, "detected": 0 if fr.detections is None else len(fr.detections)},
        "calibration": fr.calibration_used.to_dict() if fr.calibration_used else None,
        "calibration_from": fr.calibration_from,
        "own_calibration": fr.calibration.to_dict() if fr.calibration else None,
        "radiance": {
            "units": "nW cm-2 sr-1",
            "bands": ["R", "G", "B"],
            "grid": "Bayer superpixels (2x2 sensor px)",
            "settings": {**_settings_dict(fr), **settings},
            "median": [float(np.nanmedian(rad[k])) if np.isfinite(rad[k]).any() else None for k in range(3)],
            "max": [float(np.nanmax(rad[k])) if np.isfinite(rad[k]).any() else None for k in range(3)],
            "saturated_superpixels": int(np.count_nonzero(fr.saturated)),
        },
        "colour": {
            "ratios": ["G/R", "B/G"],
            "pixels_with_colour": int(np.count_nonzero(np.isfinite(fr.ratios[0]))),
            "lamp_class_pixels": counts,
            "classes": [
                {"code": c.code, "name": c.name, "lamp_families": list(c.families)} for c in colour_mod.LAMP_CLASSES
            ],
        },
        "notes": fr.notes,
        "timings_s": fr.timings_s,
    }
    src = fr.stars.sources
    if src is not None:
        d["stars"]["star_like"] = int(src.star_like.sum())
        d["stars"]["not_star_like"] = src.rejected()
        d["stars"]["noise_floor"] = (
            f"one code value of each channel ({fr.quantisation.full_scale:g} full scale, "
            f"{fr.quantisation.transfer} transfer)"
            if fr.quantisation is not None
            else "measured"
        )
    if fr.astrometry is not None:
        d["stars"]["astrometry"] = fr.astrometry.to_dict()
    if fr.trails is not None:
        d["stars"]["trail"] = {
            "rotation_deg_per_exposure": fr.trails.angle_per_exposure_deg,
            "rotation_deg_s": fr.trails.angle_per_exposure_deg / fr.exposure.exposure_s,
            "stars_used": fr.trails.n_used,
            "rms_px": fr.trails.rms_px,
        }
    if fr.state is not None:
        d["time_utc"] = orbit.iso_z(fr.time)
        d["tle"] = fr.elements.to_dict()
        lon, lat = fr.state.subpoint
        d["iss"] = {"subpoint_lon_deg": lon, "subpoint_lat_deg": lat, "altitude_m": fr.state.altitude_m}
    if fr.pose is not None:
        roll, pitch, yaw = att.rpy_from_pose(fr.state, fr.pose)
        d["pose"] = {
            "source": fr.pose_source,
            "lvlh_roll_deg": roll,
            "lvlh_pitch_deg": pitch,
            "lvlh_yaw_deg": yaw,
            "off_nadir_deg": att.off_nadir_deg(fr.state, fr.pose),
            "quaternion_camera_to_itrs_xyzw": fr.pose.rotation.as_quat().tolist(),
        }
        if fr.placement.pose_choice is not None:
            d["pose"]["choice"] = fr.placement.pose_choice
    if fr.tie_solution is not None:
        d["tie_points"] = {"rms_px": fr.tie_solution.rms_px, "rms_m": fr.tie_solution.rms_m}
    return json_safe(d)


def _write_stars_csv(path: Path, fr: FrameResult) -> None:
    sol, ph = fr.astrometry, fr.photometry
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "hip",
                "hp_mag",
                "b_v",
                "col",
                "row",
                "residual_col_px",
                "residual_row_px",
                "flux_R",
                "flux_G",
                "flux_B",
                "usable",
                "reason",
            ]
        )
        if sol is None or ph is None:
            return
        for m in range(sol.n_matched):
            w.writerow(
                [
                    int(fr.star_catalog_rows["hip"][m]),
                    f"{fr.star_catalog_rows['hp'][m]:.4f}",
                    f"{fr.star_catalog_rows['b_v'][m]:.3f}",
                    f"{ph.col[m]:.3f}",
                    f"{ph.row[m]:.3f}",
                    f"{sol.residuals_px[m, 0]:.4f}",
                    f"{sol.residuals_px[m, 1]:.4f}",
                    *(f"{ph.flux[c][m]:.6g}" for c in CHANNELS),
                    int(ph.usable[m]),
                    ph.reason[m],
                ]
            )


def ground_grid(fr: FrameResult):
    """Bounds ``(west, south, east, north)`` and resolution (deg) of the ground seen by the frame's
    superpixels with an airmass (None without a pose or with too little ground in view)."""
    if fr.view is None or fr.radiance_settings is None:
        return None
    return fr.view.ground_grid(fr.radiance_settings.max_view_zenith_deg)


def _product_folders(frames: list) -> list[str]:
    # a RAW named '...dng' or '.x.nef' must not name the output folder itself or a hidden one
    stems = [s if s and not s.startswith(".") else (safe_name(s) or "frame") for s in (fr.path.stem for fr in frames)]
    if len(set(stems)) != len(stems):
        dup = next(s for s in stems if stems.count(s) > 1)
        same = [str(fr.path) for fr, s in zip(frames, stems) if s == dup]
        raise InputError(
            f"{same[0]} and {same[1]}: RAW files with the same name {dup!r}; their product folders would collide"
        )
    return stems


def _write_frame(fdir: Path, fr: FrameResult, *, write_geotiffs: bool, max_pixels: int, say) -> dict:
    """Every product of one frame into ``fdir``; returns its ``result.json`` content."""
    summary = frame_summary(fr)
    products = {}
    grid = ground_grid(fr) if write_geotiffs else None
    # GDAL, NumPy and Agg release the GIL: products are written two at a time
    pool = ThreadPoolExecutor(max_workers=2)
    futures = [
        pool.submit(write_report, fdir / "report.png", fr, colour_mod.LAMP_CLASSES),
        pool.submit(_write_stars_csv, fdir / "stars.csv", fr),
    ]
    jobs = []
    caught: list = []
    if grid is not None:
        bounds, res = grid
        f = GridProjection(fr.lonlat_to_plane)  # the three products share one grid: project it once

        def nearest(lon, lat):
            j, i = f(lon, lat)
            return np.rint(j), np.rint(i)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            tags = {"UNITS": "nW cm-2 sr-1", "BANDS": "R,G,B", "SOURCE": str(fr.path)}
            info = write_georeferenced_cog(
                fdir / "radiance.tif",
                fr.radiance.transpose(1, 2, 0),
                f,
                bounds,
                res,
                max_pixels=max_pixels,
                tags=tags,
                progress=lambda d, t: say("radiance.tif", d, t),
            )
        bounds, res = info["bounds_lonlat"], info["resolution_deg"]  # the same grid for all
        classes_tag = (
            "; ".join(f"{c.code}={c.name}" for c in colour_mod.LAMP_CLASSES) + "; 0=unclassified; 255=no colour"
        )
        jobs += [
            lambda: write_georeferenced_cog(
                fdir / "ratios.tif",
                fr.ratios.transpose(1, 2, 0),
                f,
                bounds,
                res,
                max_pixels=max_pixels,
                tags={"BANDS": "G/R,B/G"},
            ),
            lambda: write_georeferenced_cog(
                fdir / "lamp_class.tif",
                fr.classes,
                nearest,
                bounds,
                res,
                max_pixels=max_pixels,
                tags={"CLASSES": classes_tag},
            ),
        ]
        summary["geotiff"] = {
            k: info[k] for k in ("width", "height", "resolution_deg", "bounds_lonlat", "valid_fraction")
        }
        products.update(radiance="radiance.tif", ratios="ratios.tif", lamp_class="lamp_class.tif")
    else:
        jobs += [
            lambda: write_image_tiff(fdir / "radiance_image.tif", fr.radiance),
            lambda: write_image_tiff(fdir / "ratios_image.tif", fr.ratios),
            lambda: write_image_tiff(fdir / "lamp_class_image.tif", fr.classes[None]),
        ]
        products.update(radiance="radiance_image.tif", ratios="ratios_image.tif", lamp_class="lamp_class_image.tif")
    try:
        futures += [pool.submit(job) for job in jobs]
        for fut in futures:
            fut.result()
    finally:
        pool.shutdown(wait=True)
    summary["notes"] = summary["notes"] + [str(w.message) for w in caught]
    products.update(stars="stars.csv", report="report.png")
    summary["products"] = products
    return summary


def write_products(seq, out_dir: str | Path, progress: Callable[[str, int, int], None] | None = None) -> list[Path]:
    """Write every frame's products of a :class:`~cupola.nightlights.pipeline.SequenceResult` into
    ``out_dir/<raw stem>/`` and ``out_dir/calibration.json``; staged in a hidden folder and moved
    into place only when all succeeded."""
    say = progress or (lambda label, done, total: None)
    written: list[Path] = []
    stems = _product_folders(seq.frames)
    with staged_output(Path(out_dir), written=written, inputs=[fr.path for fr in seq.frames]) as stage:
        if seq.calibration is not None:
            (stage / "calibration.json").write_text(json.dumps(json_safe(seq.calibration.to_dict()), indent=2) + "\n")
        for k, fr in enumerate(seq.frames):
            t0 = _time.perf_counter()
            fdir = stage / stems[k]
            fdir.mkdir()
            summary = _write_frame(
                fdir, fr, write_geotiffs=seq.options.write_geotiffs, max_pixels=seq.options.geotiff_max_pixels, say=say
            )
            summary["timings_s"]["products"] = _time.perf_counter() - t0
            (fdir / "result.json").write_text(json.dumps(summary, indent=2) + "\n")
            say("products", k + 1, len(seq.frames))
    return written
