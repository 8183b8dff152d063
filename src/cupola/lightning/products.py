"""Products of ``cupola lightning solve``, written all-or-nothing into ``out_dir``.

* ``result.json``: pose (LVLH roll/pitch/yaw with 1-sigma), clock offset (network - camera) with
  the window the data allow, emission height, matched pairs with residuals in pixels and metres,
  the geolocation uncertainty from the pose covariance, and (under ``georeference``) the summary of
  ``cupola geolocate`` for the solved pose;
* ``flashes.csv`` and ``flashes.geojson``: every optical flash with its time, pixel, position,
  uncertainty and matched event (or none);
* ``footprint.geojson``, ``footprint.kml``, ``georef.tif``, ``quicklook.png``: the georeferenced
  bundle of the first frame at the solved pose (the shared writer
  :func:`cupola.products.write_georef_bundle`, as ``cupola geolocate`` writes it), at the reference
  time: the start of the first frame in the camera's clock plus the solved clock offset;
* ``lightning.png``: flashes and events over the footprint with residual vectors;
* ``pixels.csv`` with ``--pixels``: ``col,row,lat,lon,height_m`` at the reference time, on the
  ground (height 0) unless the pixel file has a ``height_m`` column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from cupola import __version__
from cupola.errors import InputError
from cupola.geometry import attitude as att
from cupola.geometry import orbit
from cupola.geometry.projection import Georeference
from cupola.geometry.trajectory import trajectory
from cupola.io.staging import json_safe, staged_output, write_json
from cupola.lightning.crb import checkpoint_grid
from cupola.lightning.job import LightningResult
from cupola.lightning.positions import FlashLocations, ground_uncertainty, locate_flashes
from cupola.products import GeorefFrame, georef_summary, write_georef_bundle, write_located_pixels

__all__ = ["write_products", "summary", "RESULT_SCHEMA"]

RESULT_SCHEMA = "cupola.lightning/1"


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def reference_offset_s(result: LightningResult) -> float:
    """Network time of the reference instant (start of the first frame), seconds after the epoch."""
    return float(result.frames.start_s[0]) + result.solution.clock_offset_s


def geolocation_uncertainty(result: LightningResult) -> dict:
    sol = result.solution
    t = reference_offset_s(result)
    tr = trajectory(sol.elements, sol.epoch, np.array([t]))
    cols, rows = checkpoint_grid(sol.camera)
    cols = np.r_[(sol.camera.width_px - 1) / 2.0, cols]
    rows = np.r_[(sol.camera.height_px - 1) / 2.0, rows]
    n = cols.size
    cov = ground_uncertainty(
        sol, np.repeat(tr.position_m, n, 0), np.repeat(tr.lvlh_to_itrs, n, 0), cols, rows, np.zeros(n)
    )
    rms = np.sqrt(np.trace(cov, axis1=1, axis2=2))
    factor = max(1.0, np.sqrt(sol.chi2 / max(sol.dof, 1)))
    return {
        "center_rms_m": float(rms[0]),
        "grid_median_rms_m": float(np.nanmedian(rms[1:])),
        "grid_max_rms_m": float(np.nanmax(rms[1:])),
        "grid": "9 x 7 check points from 5 % to 95 % of the frame, ground height 0, at the reference time",
        "fit_scale_factor": float(factor),
        "note": "horizontal RMS error (sqrt of the trace of the east/north covariance) of ground points from the "
        "pose covariance alone; multiply by fit_scale_factor (sqrt(chi2/dof) when above 1) if the fit "
        "suggests the error model is optimistic. The clock-offset window adds an along-track "
        "uncertainty to the reference instant for city lights: ground speed x window width.",
    }


def summary(result: LightningResult, loc: FlashLocations) -> dict:
    sol, fl, ev = result.solution, result.flashes, result.events
    t_ref = reference_offset_s(result)
    ref_time = sol.epoch + dt.timedelta(seconds=t_ref)
    state = orbit.state_at(sol.elements, ref_time)
    pose = att.Pose(state.position_m, Rotation.from_matrix(att.lvlh_to_itrs(state)) * sol.mount)
    roll, pitch, yaw = sol.rpy_deg
    sr, sp, sy = sol.rpy_sigma_deg
    lo, hi = sol.clock_window_s
    width = hi - lo
    speed = state.ground_speed_m_s
    pairs = []
    t_ev = ev.offsets_s(sol.epoch)
    for i, (k, m) in enumerate(zip(sol.flash_index, sol.event_index)):
        pairs.append(
            {
                "flash_id": int(k) + 1,
                "event": ev.where(m),
                "event_time_utc": ev.time_utc(m),
                "event_lat_deg": float(ev.lat_deg[m]),
                "event_lon_deg": float(ev.lon_deg[m]),
                "event_kind": str(ev.kind[m]),
                "flash_pixel": [float(fl.col_px[k]), float(fl.row_px[k])],
                "predicted_pixel": [
                    float(fl.col_px[k] + sol.residual_px[i, 0]),
                    float(fl.row_px[k] + sol.residual_px[i, 1]),
                ],
                "residual_px": [float(sol.residual_px[i, 0]), float(sol.residual_px[i, 1])],
                "residual_m_east_north": [float(sol.residual_en_m[i, 0]), float(sol.residual_en_m[i, 1])],
                "mahalanobis2": float(sol.mahalanobis2[i]),
                "camera_time_window_utc": [
                    _iso(sol.epoch + dt.timedelta(seconds=float(fl.t_start_s[k]))),
                    _iso(sol.epoch + dt.timedelta(seconds=float(fl.t_end_s[k]))),
                ],
                "event_in_window_s": float(t_ev[m] - sol.clock_offset_s - fl.t_start_s[k]),
            }
        )
    res_px = np.hypot(sol.residual_px[:, 0], sol.residual_px[:, 1])
    res_m = np.hypot(sol.residual_en_m[:, 0], sol.residual_en_m[:, 1])
    req = result.request
    return {
        "schema": RESULT_SCHEMA,
        "cupola_version": __version__,
        "input": {
            "mode": result.mode,
            "photo": str(req.photo) if req.photo else None,
            "frames_dir": str(req.frames_dir) if req.frames_dir else None,
            "frame_times": str(req.frame_times) if req.frame_times else None,
            "video": str(req.video) if req.video else None,
            "frames": len(result.frames),
            "first_frame_camera_time_utc": _iso(
                result.frames.epoch + dt.timedelta(seconds=float(result.frames.start_s[0]))
            ),
            "exposure_s": [float(np.min(result.frames.exposure_s)), float(np.max(result.frames.exposure_s))],
            "events": [str(p) for p in req.events],
            "flashes_file": str(req.flashes) if req.flashes else None,
        },
        "tle": {
            **sol.elements.to_dict(),
            "source": str(req.tle_path),
            "age_days": (ref_time - sol.elements.epoch).total_seconds() / 86400.0,
        },
        "camera": {
            **sol.camera.to_dict(),
            "source": result.camera_source,
            "focal_solved": "log_focal_scale" in sol.param_names,
            "focal_sigma_px": sol.focal_sigma_px,
        },
        "reference_time_utc": _iso(ref_time),
        "reference_time_note": "start of the first frame in the camera's clock plus the solved clock offset: "
        "the instant of the georeferenced products and pixels.csv",
        "pose": {
            "source": f"solved from {sol.flash_index.size} flash-event pairs",
            "lvlh_roll_deg": roll,
            "lvlh_pitch_deg": pitch,
            "lvlh_yaw_deg": yaw,
            "sigma_deg": {"roll": sr, "pitch": sp, "yaw": sy},
            "off_nadir_deg": att.off_nadir_deg(state, pose),
            "rotation_camera_to_lvlh": sol.mount.as_matrix().tolist(),
            "rotation_camera_to_itrs_at_reference": pose.matrix.tolist(),
            "convention": "fixed in the LVLH frame through the sequence; see cupola.geometry.attitude: "
            "R(cam->LVLH) = Rz(yaw) Ry(pitch) Rx(roll) C0",
        },
        "clock_offset_s": sol.clock_offset_s,
        "clock_offset": {
            "value_s": sol.clock_offset_s,
            "window_s": [lo, hi],
            "window_width_s": width,
            "sigma_s": width / np.sqrt(12.0),
            "definition": "network time minus camera time for the same instant",
            "note": f"every matched event must fall inside its flash's exposure window, which pins the offset only "
            f"to a window {width:.4g} s wide (centre reported; sigma for a uniform distribution). At "
            f"{speed / 1000:.2f} km/s ground speed that is {speed * width:.0f} m along track for the "
            "reference instant; the flashes themselves are placed at their events' own times.",
        },
        "emission_height": {
            "value_m": sol.emission_height_m,
            "sigma_m": sol.emission_height_sigma_m,
            "source": sol.emission_height_source,
            "scatter_per_flash_m": req.options.emission_height_sigma_m,
        },
        "fit": {
            "pairs": int(sol.flash_index.size),
            "flashes": int(len(fl)),
            "unmatched_flashes": int(len(fl) - sol.flash_index.size),
            "events_in_time_and_view": sol.n_events_in_window,
            "events_total": len(ev),
            "chi2": sol.chi2,
            "dof": sol.dof,
            "chi2_per_dof": sol.chi2 / max(sol.dof, 1),
            "rms_px": float(np.sqrt(np.mean(res_px**2))),
            "rms_m": float(np.sqrt(np.mean(res_m**2))),
            "median_residual_m": float(np.median(res_m)),
            "gate_chi2": req.options.gate_chi2,
            "hypotheses_scored": sol.hypotheses_tried,
            "iterations": sol.iterations,
            "solve_seconds": sol.seconds,
            "parameters": sol.param_names,
        },
        "geolocation_uncertainty": geolocation_uncertainty(result),
        "matched_pairs": pairs,
        "warnings": result.warnings,
    }


FLASH_COLUMNS = [
    "flash_id",
    "frame_start",
    "frame_end",
    "time_utc",
    "window_start_utc",
    "window_end_utc",
    "col",
    "row",
    "lat",
    "lon",
    "height_m",
    "sigma_m",
    "brightness",
    "score",
    "event",
    "event_time_utc",
    "event_lat",
    "event_lon",
    "residual_px",
    "residual_m",
]


def _flash_rows(result: LightningResult, loc: FlashLocations):
    sol, fl, ev = result.solution, result.flashes, result.events
    for k in range(len(fl)):
        m, p = int(loc.event[k]), int(loc.pair[k])
        row = {
            "flash_id": k + 1,
            "frame_start": int(fl.frame_start[k]),
            "frame_end": int(fl.frame_end[k]),
            "time_utc": _iso(sol.epoch + dt.timedelta(seconds=float(loc.t_s[k]))),
            "window_start_utc": _iso(sol.epoch + dt.timedelta(seconds=float(fl.t_start_s[k] + sol.clock_offset_s))),
            "window_end_utc": _iso(sol.epoch + dt.timedelta(seconds=float(fl.t_end_s[k] + sol.clock_offset_s))),
            "col": round(float(fl.col_px[k]), 4),
            "row": round(float(fl.row_px[k]), 4),
            "lat": round(float(loc.lat_deg[k]), 7),
            "lon": round(float(loc.lon_deg[k]), 7),
            "height_m": round(float(loc.height_m[k]), 1),
            "sigma_m": round(float(loc.sigma_m[k]), 1),
            "brightness": float(fl.brightness[k]),
            "score": round(float(fl.score[k]), 2) if np.isfinite(fl.score[k]) else "",
            "event": ev.where(m) if m >= 0 else "",
            "event_time_utc": ev.time_utc(m) if m >= 0 else "",
            "event_lat": round(float(ev.lat_deg[m]), 7) if m >= 0 else "",
            "event_lon": round(float(ev.lon_deg[m]), 7) if m >= 0 else "",
            "residual_px": round(float(np.hypot(*sol.residual_px[p])), 3) if p >= 0 else "",
            "residual_m": round(float(np.hypot(*sol.residual_en_m[p])), 1) if p >= 0 else "",
        }
        yield row


def _write_flashes_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FLASH_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()})
    path.write_text(buf.getvalue(), encoding="utf-8")


def _write_flashes_geojson(path: Path, rows: list[dict]) -> None:
    feats = []
    for r in rows:
        if not (np.isfinite(r["lon"]) and np.isfinite(r["lat"])):
            continue
        props = {k: v for k, v in r.items() if k not in ("lat", "lon")}
        props["matched"] = bool(r["event"])
        feats.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                "properties": json_safe(props),
            }
        )
    doc = {"type": "FeatureCollection", "features": feats}
    path.write_text(json.dumps(doc, allow_nan=False, separators=(",", ":")) + "\n", encoding="utf-8")


def _read_pixels_with_heights(path: Path, width: int, height: int):
    from cupola.io.tables import HEIGHT, check_on_image, check_range, read_columns

    cols = read_columns(Path(path), ("col", "row"), ("height_m",), what="pixels")
    check_on_image(Path(path), cols["_line"], cols["col"], cols["row"], (width, height))
    h = cols.get("height_m")
    if h is None:
        h = np.zeros_like(cols["col"])
    else:
        check_range(Path(path), cols["_line"], h, "height_m", HEIGHT)
    return cols["col"], cols["row"], h


def georef_frame(result: LightningResult) -> GeorefFrame:
    """The first frame georeferenced for the solved pose at the reference time (the start of the
    first frame in the camera's clock plus the solved clock offset), on the ground (height 0)."""
    sol, req = result.solution, result.request
    t_ref = sol.epoch + dt.timedelta(seconds=reference_offset_s(result))
    state = orbit.state_at(sol.elements, t_ref)
    pose = att.Pose(state.position_m, Rotation.from_matrix(att.lvlh_to_itrs(state)) * sol.mount)
    geo = Georeference(sol.camera, pose, t_ref, 0.0)
    image_source = req.photo or req.video
    if image_source is None:
        assert req.frames_dir is not None  # the frames mode
        image_source = Path(req.frames_dir) / result.frames.names[0]
    image_path = Path(image_source)
    return GeorefFrame(
        photo=image_path,
        image=result.image,
        georef=geo,
        state=state,
        elements=sol.elements,
        tle_source=str(req.tle_path),
        camera_source=result.camera_source,
        pose_source=f"lightning: solved from {sol.flash_index.size} flash-event pairs",
        footprint=geo.footprint(),
        footprint_ring=geo.footprint_lonlat(),
        warnings=list(result.warnings),
    )


def write_products(result: LightningResult, out_dir: Path) -> list[Path]:
    """Write every product into ``out_dir`` (all or nothing); returns the written paths."""
    from cupola.plot.lightning import write_lightning_plot

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"`out_dir` {out_dir}: exists and is not a folder")
    pixels = None
    if result.request.pixels is not None:
        pixels = _read_pixels_with_heights(
            result.request.pixels, result.solution.camera.width_px, result.solution.camera.height_px
        )
    written: list[Path] = []
    with staged_output(out_dir, written=written) as stage:
        sol = result.solution
        opts = result.request.options
        loc = locate_flashes(sol, result.flashes, result.events, opts.centroid_sigma_px, opts.emission_height_sigma_m)
        doc = summary(result, loc)
        # the georeferenced products of the first frame for the solved pose at the reference time
        frame = georef_frame(result)
        t_ref, geo, ring = frame.georef.time, frame.georef, frame.footprint_ring
        georeference = georef_summary(frame)
        # a large frame's georef.tif at the detection scale (a D5: a quarter); --full-georef for all of it
        georeference["georef_tif"] = write_georef_bundle(
            stage, frame, georeference, georef_scale=1 if result.request.full_georef else result.georef_scale
        )
        doc["georeference"] = json_safe(georeference)
        rows = list(_flash_rows(result, loc))
        _write_flashes_csv(stage / "flashes.csv", rows)
        _write_flashes_geojson(stage / "flashes.geojson", rows)
        if pixels is not None:
            write_located_pixels(stage / "pixels.csv", geo, *pixels)
        # the plot
        t_ev = result.events.offsets_s(sol.epoch)
        span = (
            float(result.flashes.t_start_s.min()) + sol.clock_window_s[0] - 1.0,
            float(result.flashes.t_end_s.max()) + sol.clock_window_s[1] + 1.0,
        )
        near = (t_ev >= span[0]) & (t_ev <= span[1])
        track_times = [t_ref + dt.timedelta(seconds=s) for s in range(-120, 121, 10)]
        track = orbit.ground_track(sol.elements, track_times)
        m = sol.event_index
        flk = sol.flash_index
        pairs_px = sol.residual_px
        write_lightning_plot(
            stage / "lightning.png",
            footprint_ring=ring,
            flash_lonlat=np.column_stack([loc.lon_deg, loc.lat_deg]),
            event_lonlat=np.column_stack([result.events.lon_deg[near], result.events.lat_deg[near]]),
            matched_event_lonlat=np.column_stack([result.events.lon_deg[m], result.events.lat_deg[m]]),
            matched_flash_lonlat=np.column_stack([loc.lon_deg[flk], loc.lat_deg[flk]]),
            image_size=(sol.camera.width_px, sol.camera.height_px),
            flash_px=np.column_stack([result.flashes.col_px, result.flashes.row_px]),
            matched_obs_px=np.column_stack([result.flashes.col_px[flk], result.flashes.row_px[flk]]),
            matched_pred_px=np.column_stack([result.flashes.col_px[flk], result.flashes.row_px[flk]]) + pairs_px,
            title=f"{result.image_name}: {sol.flash_index.size} of {len(result.flashes)} flashes "
            "matched to network events",
            subtitle=(
                f"roll {doc['pose']['lvlh_roll_deg']:.3f}  pitch {doc['pose']['lvlh_pitch_deg']:.3f}  "
                f"yaw {doc['pose']['lvlh_yaw_deg']:.3f} deg;  clock offset {sol.clock_offset_s:+.4f} s "
                f"(window {sol.clock_window_s[1] - sol.clock_window_s[0]:.3g} s);  emission height "
                f"{sol.emission_height_m / 1000:.1f} km;  median residual {doc['fit']['median_residual_m']:.0f} m;  "
                f"geolocation 1-sigma ~{doc['geolocation_uncertainty']['grid_median_rms_m']:.0f} m"
            ),
            track_lonlat=track,
        )
        doc["products"] = sorted(p.name for p in stage.iterdir() if not p.name.startswith(".")) + ["result.json"]
        write_json(stage / "result.json", doc)
    return written
