"""The calibration pipeline: RAW frames -> radiance, colour ratios, lamp classes, GeoTIFFs.

Steps per frame (Sánchez de Miguel et al. 2021, "Colour remote sensing of the impact of artificial
light at night (II)", Remote Sens. Environ. 264, 112611, automated):

1. decode the RAW into linear Bayer planes (:mod:`.raw`), subtract the black level or a dark frame,
   flag saturation;
2. flat field: vignetting from lensfun or a user flat (:mod:`.lens`);
3. exposure normalisation to counts/s at ISO 100, f/1 (:mod:`.exposure`);
4. stars: detection and trails (:mod:`.stars`), astrometric solution against Hipparcos
   (:mod:`.astrometry`), aperture photometry and zero points with colour terms (:mod:`.photometry`);
   frames of a sequence without enough stars use the constants of those with stars, or supplied ones;
   a frame whose stars the blind search could not identify gets the attitude carried from the
   sequence's solved frames and a seeded identification (:mod:`.sequence_attitude`, :mod:`.seeded`);
5. geometry: orbit (TLE) at the frame time and attitude from tie points, or from the stars
   (camera -> ICRS rotation turned into ITRS at that time);
6. radiance with window and atmospheric corrections (:mod:`.radiance`), G/R and B/G, lamp classes
   (:mod:`.colour`);
7. products: georeferenced GeoTIFFs in EPSG:4326 (or image-space TIFFs without geometry),
   ``result.json``, ``calibration.json``, ``stars.csv`` and ``report.png``.

Everything stays at the Bayer superpixel grid (half the sensor resolution in each direction);
the GeoTIFFs resample it bilinearly (classes: nearest).

Where the parts live: the frame model and steps 1-3 and 5 in :mod:`.frame` (load, place), step 4
in :mod:`.starfield`, the lines of sight (Earth mask, airmass, ground grid) in :mod:`.view`,
step 7 in :mod:`.products`; this module holds the options, step 6 and :func:`calibrate`, which
reads as the list of steps.
"""

from __future__ import annotations

import datetime as dt
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cupola.analysis import lamp_colour as colour_mod
from cupola.errors import InputError, NoSolutionError
from cupola.geometry import attitude as att
from cupola.nightlights.frame import FrameResult, Light, load_frame, place_frame
from cupola.nightlights.lens import flat_field_gain, lens_from_lensfun
from cupola.nightlights.photometry import CHANNELS, Calibration, combine_calibrations, read_calibration
from cupola.nightlights.products import RESULT_SCHEMA, frame_summary, write_products
from cupola.nightlights.radiance import RadianceSettings, radiance_planes
from cupola.nightlights.raw import RawFrame, read_raw, subtract_dark
from cupola.nightlights.starfield import carry_sequence_attitudes, measure_star_field

__all__ = [
    "CalibrateOptions",
    "FrameResult",
    "SequenceResult",
    "calibrate",
    "frame_summary",
    "write_products",
    "RESULT_SCHEMA",
]


@dataclass
class CalibrateOptions:
    """Inputs besides the RAW files (all optional)."""

    dark: Path | None = None
    flat: Path | None = None
    stars: str | Path = "auto"  # "auto" or a calibration.json
    tie_points: Path | None = None
    tle: Path | None = None
    time: dt.datetime | None = None  # mid-exposure of the first frame, UTC
    exposure_s: float | None = None
    iso: float | None = None
    f_number: float | None = None
    focal_mm: float | None = None  # the lens's focal length when EXIF lacks it (or to override it)
    lens_transmission: float = 1.0
    sensor_mm: tuple[float, float] | None = None
    radiance: RadianceSettings = field(default_factory=RadianceSettings)
    height_m: float = 0.0
    saturation_fraction: float = 0.98
    transfer: str = "srgb"  # how JPEG/TIFF/PNG values encode light: "srgb" or "linear" (RAW: unused)
    star_mag_limit: float | None = None  # None: from the field of view (~400 catalog stars a frame)
    star_search: str = "index"  # the blind search: "index" (pattern index) or "legacy" (25 brightest)
    star_focal_tolerance: float = 0.15  # the blind search tries focal lengths within this of EXIF's
    star_max_sources: int = 80  # sources whose triangles the blind search tries
    sequence_seed: bool = True  # frames left unsolved get the attitude carried from the sequence's solved ones
    ratio_min_snr: float = 5.0
    force_tle: bool = False
    geotiff_max_pixels: int = 8_000_000
    write_geotiffs: bool = True


@dataclass(eq=False)
class SequenceResult:
    frames: list
    calibration: Calibration | None
    options: CalibrateOptions


# -- inputs shared by the frames ------------------------------------------------------------------


def _dark_and_flat(opts: CalibrateOptions) -> tuple[RawFrame | None, tuple | None]:
    """The dark frame, and the flat field's per-plane gain with its file name."""
    dark = read_raw(opts.dark, saturation_fraction=opts.saturation_fraction) if opts.dark else None
    flat = None
    if opts.flat:
        ff = read_raw(opts.flat, saturation_fraction=opts.saturation_fraction)
        if dark is not None and dark.planes.shape == ff.planes.shape:
            ff = subtract_dark(ff, dark)
        if ff.saturated.mean() > 0.01:
            raise InputError(f"{opts.flat}: {100 * ff.saturated.mean():.1f}% of the flat field is saturated")
        m = ff.meta
        centre = lens_from_lensfun(  # the optical centre, where the gain is normalised to 1
            m.make,
            m.model,
            m.lens_make,
            m.lens_model,
            focal_mm=m.focal_mm or 0.0,
            f_number=m.f_number or 0.0,
            width_px=ff.shape[1] * 2,
            height_px=ff.shape[0] * 2,
            warn=False,
        ).center_px
        flat = (flat_field_gain(ff.planes, center_px=centre), Path(opts.flat).name)
    return dark, flat


def _element_sets(opts: CalibrateOptions):
    if opts.tie_points is not None and opts.tle is None:
        raise InputError("`tie_points` needs `tle` (and `time`) to solve the attitude")
    if opts.tle is None:
        return None
    from cupola.io.tle import TleFile

    return TleFile.read(opts.tle)


# -- step 6: constants, radiance and colour ---------------------------------------------------------


def _choose_constants(frames: list[FrameResult], supplied: Calibration | None, opts: CalibrateOptions):
    """Each frame's constants: the supplied file, else its own stars, else the sequence's."""
    own = [f.calibration for f in frames if f.calibration is not None]
    seq_cal = (
        combine_calibrations(own, "stars in " + ", ".join(f.path.name for f in frames if f.calibration))
        if own
        else None
    )
    for fr in frames:
        if supplied is not None:
            fr.calibration_used, fr.calibration_from = supplied, f"supplied constants {opts.stars}"
        elif fr.calibration is not None:
            fr.calibration_used, fr.calibration_from = fr.calibration, "stars in this frame"
        elif seq_cal is not None:
            fr.calibration_used, fr.calibration_from = seq_cal, f"sequence constants ({seq_cal.source})"
        else:
            reasons = "; ".join(f"{f.path.name}: {f.star_note or 'no stars'}" for f in frames)
            raise NoSolutionError(
                f"{reasons}. Without stars there are no calibration constants: give `stars` "
                "calibration.json from a frame of the same sequence with stars"
            )
    return seq_cal


def _noise_floor(band: np.ndarray, nsigma: float) -> float:
    """Median plus ``nsigma`` robust standard deviations of a band's finite pixels (mostly dark
    ground), i.e. a detection threshold for light."""
    finite = np.isfinite(band)
    if not finite.any():
        return float("inf")
    sample = band[finite][:: max(1, int(finite.sum()) // 200_000)]
    med = float(np.median(sample))
    noise = 1.4826 * float(np.median(np.abs(sample - med)))
    return med + nsigma * max(noise, 1e-30)


def _measure_light(fr: FrameResult, opts: CalibrateOptions) -> None:
    """Radiance with the window and atmospheric corrections, G/R and B/G, lamp classes."""
    t0 = _time.perf_counter()
    planes = fr.frame.planes
    sig = {"R": planes[0], "G": 0.5 * (planes[1] + planes[2]), "B": planes[3]}
    sat = {c: fr.frame.channel_saturated(c) for c in CHANNELS}
    saturated = sat["R"] | sat["G"] | sat["B"]
    omega = 4.0 / (fr.camera.focal_x_px * fr.camera.focal_y_px)
    am = None
    if fr.view is not None:
        am = fr.view.airmass(opts.radiance.max_view_zenith_deg)
    else:
        fr.notes.append("no geometry (give `tle` and `time`): atmosphere not corrected, radiance at the camera")
    settings = opts.radiance if am is not None else replace(opts.radiance, atmosphere=False)
    rad = radiance_planes(sig, sat, fr.calibration_used, omega, airmass_map=am, settings=settings)
    if am is not None:
        rad[:, ~np.isfinite(am)] = np.nan
    # colour only where R and G stand well above the noise of the background
    ratios = colour_mod.colour_ratios(
        rad, min_r=_noise_floor(rad[0], 3.0), min_g=_noise_floor(rad[1], opts.ratio_min_snr)
    )
    ratios[:, saturated] = np.nan  # a colour needs all three channels unclipped
    # the lamp classes live in the camera's signal system (through window and one airmass)
    cal = fr.calibration_used
    assert cal is not None  # radiance_planes used it
    camera_ratios = colour_mod.camera_ratios_from_radiance(
        ratios,
        cal.band_irradiance_w_m2,
        window_transmission=None if cal.through_window else settings.window_transmission,
        extinction_mag=settings.extinction_mag if am is not None and settings.atmosphere else None,
    )
    fr.light = Light(
        radiance=rad,
        saturated=saturated,
        ratios=ratios,
        classes=colour_mod.classify_lamps(camera_ratios),
        airmass=am,
        settings=settings,
    )
    fr.timings_s["radiance_colour"] = _time.perf_counter() - t0


# -- the pipeline ---------------------------------------------------------------------------------


def calibrate(
    raw_paths, options: CalibrateOptions | None = None, progress: Callable[[str, int, int], None] | None = None
) -> SequenceResult:
    """Calibrate one or more RAW frames of a sequence (same camera, lens and settings); JPEG, TIFF
    and PNG photos are read too, decoded to approximately linear light (see ``linearity`` in
    ``result.json`` and :mod:`cupola.nightlights.photo`)."""
    opts = options or CalibrateOptions()
    paths = [Path(p) for p in raw_paths]
    if not paths:
        raise InputError("give at least one RAW file")
    say = progress or (lambda label, done, total: None)
    dark, flat = _dark_and_flat(opts)
    supplied = read_calibration(opts.stars) if str(opts.stars) != "auto" else None
    tles = _element_sets(opts)
    n = len(paths)
    frames: list[FrameResult] = []
    tie = None
    first_rpy = None
    for k, p in enumerate(paths):
        say("frames", k, n)
        fr = load_frame(p, opts, dark, flat)  # 1-3: decode, flat field, exposure
        if k == 0 and opts.tie_points is not None:
            from cupola.io.tables import read_tie_points

            tie = read_tie_points(opts.tie_points, image_size_px=(fr.frame.shape[1] * 2, fr.frame.shape[0] * 2))
        place_frame(fr, k, frames[0] if frames else None, opts, tles, tie, first_rpy)  # 5: orbit, pose
        if supplied is None or fr.state is not None:
            # 4: stars, zero points, and the stars' attitude: the pose when there is none, or in
            # place of tie points or a carried attitude that fit worse (with supplied constants too)
            measure_star_field(fr, opts)
        if k == 0 and fr.tie_solution is not None:  # the attitude chosen for the first frame
            first_rpy = att.rpy_from_pose(fr.state, fr.pose)
        frames.append(fr)
    if opts.sequence_seed and opts.star_search != "legacy" and n > 1:
        # 4b: frames the blind search left unsolved, from the attitude of the sequence's solved ones
        carry_sequence_attitudes(frames, opts)
    seq_cal = _choose_constants(frames, supplied, opts)
    for k, fr in enumerate(frames):
        say("frames", k, n)
        _measure_light(fr, opts)  # 6: radiance, colour, lamp classes
    say("frames", n, n)
    return SequenceResult(frames, supplied or seq_cal, opts)
