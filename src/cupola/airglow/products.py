"""The products of ``cupola airglow waves``, written all-or-nothing into ``out_dir``:

- ``frames.tif``: the projected frames (vertical-equivalent brightness on the layer grid, one
  band per frame, named by its time), COG;
- ``mosaic.tif``: their mean with stars, lights and clouds left out, COG;
- ``modulation.tif``: the cleaned relative modulation averaged over the sequence, COG;
- ``waves.csv``: the wave table;
- ``spectrum.png``: the periodogram over its red-noise background with the waves;
- ``phase_velocity.png``: the phase-velocity polar plot;
- ``sequence.mp4`` (imageio-ffmpeg, where installed) or else ``sequence.gif`` (Pillow): the
  projected, cleaned sequence, each frame with its time and a scale bar;
- ``result.json``: the summary.

The GeoTIFFs are on the grid's azimuthal-equidistant projection of the ground below the layer
(see :class:`~cupola.airglow.shell.TangentGrid`).
"""

from __future__ import annotations

import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from cupola.airglow.sequence import AirglowResult
from cupola.io.cog import write_cog
from cupola.io.staging import staged_output, write_json
from cupola.io.tables import write_records_csv

__all__ = ["write_airglow_products", "RESULT_VERSION", "WAVE_COLUMNS"]

RESULT_VERSION = 1
WAVE_COLUMNS = (
    "wavelength_km",
    "wavelength_sigma_km",
    "azimuth_deg",
    "azimuth_sigma_deg",
    "phase_speed_m_s",
    "phase_speed_sigma_m_s",
    "period_s",
    "period_sigma_s",
    "amplitude_pct",
    "amplitude_sigma_pct",
    "significance",
    "ambiguous",
    "track_parallel",
    "intrinsic_phase_speed_m_s",
    "intrinsic_period_s",
)


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def write_airglow_products(result: AirglowResult, out_dir: str | Path, *, inputs=(), extra: dict | None = None) -> dict:
    """Write every product of ``result`` into ``out_dir`` (all or nothing); return the summary."""
    from cupola.plot.airglow import write_spectrum_png, write_velocity_png
    from cupola.plot.airglow_movie import mp4_encoder_available, write_sequence_animation

    grid = result.grid
    crs = grid.crs_wkt()
    transform = grid.transform()
    files = {
        "frames_cog": "frames.tif",
        "mosaic_cog": "mosaic.tif",
        "modulation_cog": "modulation.tif",
        "waves_csv": "waves.csv",
        "spectrum_png": "spectrum.png",
        "phase_velocity_png": "phase_velocity.png",
    }
    mp4 = mp4_encoder_available()
    if mp4:
        files["sequence_mp4"] = "sequence.mp4"
    else:
        files["sequence_gif"] = "sequence.gif"
    t_s = [(t - result.times[0]).total_seconds() for t in result.times]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_mod = np.nanmean(result.modulation, axis=0).astype(np.float32)
    records = [{c: w.to_dict()[c] for c in WAVE_COLUMNS} for w in result.waves]
    lon, lat = grid.lonlat_deg()
    summary = {
        "version": RESULT_VERSION,
        "kind": "airglow-waves",
        "produced": _iso(datetime.now(timezone.utc)),
        "frames": len(result.times),
        "times_utc": [_iso(t) for t in result.times],
        "layer_height_m": grid.height_m,
        "grid": grid.to_dict(),
        "bounds_lonlat": [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())],
        "cells_analysed": int(result.valid.sum()),
        "flagged": {"stars_and_point_lights": result.star_flags, "ground_lights_and_clouds": result.ground_flags},
        "significance_threshold": result.search.threshold,
        "smear_km": list(result.smear_km),
        "waves": [w.to_dict() for w in result.waves],
        "animation": {
            "format": "MP4" if mp4 else "GIF",
            "library": "imageio-ffmpeg (libx264)"
            if mp4
            else "Pillow (no MP4 encoder: imageio-ffmpeg is not installed)",
        },
        "notes": result.notes,
        "files": {**files, "result": "result.json"},
        **(extra or {}),
    }
    with staged_output(out_dir, "`out_dir`", kind="airglow", inputs=inputs) as stage:
        write_cog(
            stage / files["frames_cog"],
            result.projected.astype(np.float32),
            transform,
            crs,
            band_names=[_iso(t) for t in result.times],
            tags={"layer_height_m": grid.height_m, "layer_scale": grid.scale},
        )
        write_cog(stage / files["mosaic_cog"], result.mosaic, transform, crs, description="mean vertical brightness")
        write_cog(stage / files["modulation_cog"], mean_mod, transform, crs, description="relative modulation")
        write_records_csv(stage / files["waves_csv"], records)
        if not records:  # a header all the same
            (stage / files["waves_csv"]).write_text(",".join(WAVE_COLUMNS) + "\n", encoding="utf-8")
        s = result.search
        write_spectrum_png(stage / files["spectrum_png"], s.ratio, s.kx, s.ky, s.threshold, result.waves)
        write_velocity_png(stage / files["phase_velocity_png"], *result.velocity_spectrum, result.waves)
        write_sequence_animation(stage / "sequence", result.modulation, t_s, grid.spacing_km, prefer_mp4=mp4)
        write_json(stage / "result.json", summary)
    return summary
