"""The whole analysis of one sequence: frames -> layer grid -> cleaned modulation -> waves.

>>> # see cupola.simulate.airglow for a sequence with known waves, and tests/test_airglow.py
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from cupola.airglow import clean
from cupola.airglow.project import GridGeometry, bin_factor_for, choose_grid, project_frame
from cupola.airglow.shell import TangentGrid, check_layer_height, rays_to_shell, shell_to_pixels
from cupola.airglow.waves import (
    AMBIGUOUS_NSIGMA,
    CIRCULAR_MIN_WAVELENGTH_KM,
    LEAKAGE_RADIUS,
    LEAKAGE_RATIO,
    MERGE_DAZ_DEG,
    MERGE_DC,
    MERGE_DK,
    MIN_AMPLITUDE_PCT,
    MIN_AMPLITUDE_SNR,
    MIN_AMPLITUDE_SNR_ANY,
    WaveSearch,
    find_waves,
    mark_aliased,
    peak_excess,
    phase_velocity_spectrum,
)
from cupola.errors import InputError
from cupola.geometry.attitude import Pose
from cupola.geometry.camera import Camera

__all__ = ["AirglowResult", "analyse_sequence", "check_sequence"]


@dataclass
class AirglowResult:
    """Everything :func:`analyse_sequence` made (the products are written from it)."""

    grid: TangentGrid
    times: list[dt.datetime]
    projected: np.ndarray  # (n, ny, nx) vertical-equivalent brightness on the grid (input units)
    modulation: np.ndarray  # (n, ny, nx) cleaned relative modulation (NaN where flagged or unseen)
    mosaic: np.ndarray  # (ny, nx) mean brightness over the sequence
    valid: np.ndarray  # (ny, nx) the cells the wave analysis used
    star_flags: int  # observations flagged as stars / point lights
    ground_flags: int  # observations flagged as lights or clouds fixed to the ground
    search: WaveSearch
    velocity_spectrum: tuple[np.ndarray, np.ndarray, np.ndarray]
    bin_factor: int
    notes: list[str] = field(default_factory=list)
    #: the layer's displacement across the grid during one exposure (km east, north; zeros
    #: without ``exposure_s``), whose box blur the amplitudes were corrected for
    smear_km: tuple[float, float] = (0.0, 0.0)

    @property
    def waves(self):
        return self.search.waves


#: the chance of a false peak over the searched wavevectors of one sequence (the red-noise test,
#: :func:`cupola.airglow.waves.red_noise_test`); chosen on a spread of generated short sequences
#: (docs/airglow.md, "Short sequences": the rule fixed beforehand, the most sensitive value with at
#: most 0.5 false waves per sequence, else the strictest tried, picked 1e-4 on the tuning half)
FALSE_ALARM = 1e-4
#: below this many frames the phase speeds of unflagged waves were mostly wrong (> 30 %) on the
#: generated short sequences: the result carries a note
FEW_FRAMES = 20


def _mark_track_parallel(waves: list, grid: TangentGrid, poses: Sequence[Pose]) -> list:
    """Waves whose crests run within 15 deg of the direction the ground drifts across the grid
    (the station's ground track) marked ``track_parallel``."""
    from cupola.geometry import geodesy

    below = []
    for pose in (poses[0], poses[-1]):
        lon, lat, _ = geodesy.ecef_to_geodetic(np.asarray(pose.position_m, dtype=float))
        below.append(geodesy.geodetic_to_ecef(lon, lat, 0.0))
    x, y = grid.from_ecef(np.array(below))
    d = np.array([x[1] - x[0], y[1] - y[0]])
    if not np.linalg.norm(d) > 0:
        return waves
    d = d / np.linalg.norm(d)
    out = []
    for w in waves:
        k = np.array([w.kx_cyc_km, w.ky_cyc_km])
        cos = abs(float(k @ d)) / float(np.linalg.norm(k))
        out.append(replace(w, track_parallel=bool(cos < np.sin(np.radians(15.0)))))
    return out


def layer_smear_km(
    camera: Camera, poses: Sequence[Pose], times: Sequence[dt.datetime], grid: TangentGrid, exposure_s: float
) -> np.ndarray:
    """How far (km east, north on the grid) the layer point a pixel sees moves during one exposure
    of ``exposure_s``: the pixel that sees the grid centre in the middle frame, its layer point in
    the first and the last frame, the mean velocity between them times the exposure (the camera's
    pointing is taken as steady, as it is in LVLH over a minute)."""
    mid = len(poses) // 2
    col, row = shell_to_pixels(camera, poses[mid], grid.to_ecef(0.0, 0.0))
    span_s = (times[-1] - times[0]).total_seconds()
    if not (np.isfinite(col) and np.isfinite(row)) or span_s <= 0:
        return np.zeros(2)
    ends = [rays_to_shell(camera, poses[i], col, row, grid.height_m)[0] for i in (0, -1)]
    x, y = grid.from_ecef(np.array(ends))
    v = np.array([x[1] - x[0], y[1] - y[0]]) / span_s
    return v * exposure_s if np.isfinite(v).all() else np.zeros(2)


def smear_mtf(kx_cyc_km, ky_cyc_km, smear_km) -> np.ndarray:
    """The response of a box blur of length |smear_km| along its direction to a wave of
    wavevector (kx, ky) in cycles/km: sinc(k . L) (numpy's normalised sinc, sin(pi u) / (pi u))."""
    return np.sinc(np.asarray(kx_cyc_km) * smear_km[0] + np.asarray(ky_cyc_km) * smear_km[1])


#: a wave whose amplitude the smear leaves below this fraction is not corrected (nor trusted)
MIN_SMEAR_MTF = 0.2


def _correct_smear(waves: list, smear_km: np.ndarray) -> tuple[list, list[str]]:
    out, low = [], 0
    for w in waves:
        g = float(smear_mtf(w.kx_cyc_km, w.ky_cyc_km, smear_km))
        if g < MIN_SMEAR_MTF:
            low += 1
            out.append(w)
            continue
        out.append(replace(w, amplitude_pct=w.amplitude_pct / g, amplitude_sigma_pct=w.amplitude_sigma_pct / g))
    notes = [
        f"exposure smear {np.hypot(*smear_km):.2f} km on the layer toward "
        f"{np.degrees(np.arctan2(smear_km[0], smear_km[1])) % 360:.0f} deg: amplitudes divided by its response "
        "sinc(k.L)"
    ]
    if low:
        notes.append(f"{low} wave(s) with a smear response below {MIN_SMEAR_MTF}: amplitudes left as measured")
    return out, notes


def _projected_stack(
    frames,
    camera,
    poses,
    height_m,
    *,
    spacing_km,
    flat,
    max_slant,
    max_cells,
    ground_nsigma,
    frame_trend_degree,
    report,
):
    """The frames projected onto the shell at ``height_m`` and cleaned (see
    :func:`analyse_sequence`): (grid, bin factor, projected cube, modulation, valid cells, star
    flags, ground flags)."""
    grid = choose_grid(camera, list(poses), height_m, spacing_km=spacing_km, max_slant=max_slant, max_cells=max_cells)
    geom = GridGeometry(grid)
    b = bin_factor_for(camera, poses[len(poses) // 2], height_m, grid.spacing_km)
    n = len(frames)
    cube = np.empty((n, grid.ny, grid.nx), np.float32)
    ground_ij = []
    gx0 = (grid.nx - 1) / 2.0
    gy0 = (grid.ny - 1) / 2.0
    for i, (frame, pose) in enumerate(zip(frames, poses, strict=True)):
        img = np.asarray(frame, dtype=np.float32)
        if img.ndim == 3:
            img = img.mean(axis=2)
        vals, slant = project_frame(img, camera, pose, geom, flat=flat, bin_factor=b)
        vals[~(slant < max_slant)] = np.nan
        cube[i] = vals
        gx, gy = geom.ground_cells(pose)
        gj = np.round(gx / grid.spacing_km + gx0)
        gi = np.round(gy0 - gy / grid.spacing_km)
        inside = np.isfinite(gi) & (gi >= 0) & (gi < grid.ny) & (gj >= 0) & (gj < grid.nx)
        ground_ij.append((np.where(inside, gi, -1).astype(int), np.where(inside, gj, -1).astype(int)))
        report("projecting", i + 1, n)
    xx, yy = grid.mesh_km()
    coverage = np.isfinite(cube).mean(axis=0)
    valid = coverage >= 0.9
    if valid.sum() < 64:
        raise InputError(
            "the frames share too little of the layer: fewer than 64 grid cells are seen by 90 % of them "
            "(a shorter sequence or a wider lens)"
        )
    # cleaning: trend, point-like transients (stars, towns), then what stands still on the ground
    with np.errstate(invalid="ignore", divide="ignore"):
        m = cube / clean.trends(cube, xx, yy) - 1.0  # per frame, for the flags only
    stars = clean.temporal_outliers(m)
    m[stars] = np.nan
    ground, _, _ = clean.ground_fixed(m, ground_ij, (grid.ny, grid.nx), nsigma=ground_nsigma, grow=2)
    ground &= np.isfinite(m)
    bad = stars | ground
    trend = clean.sequence_trend(cube, xx, yy, mask=bad | ~valid[None], frame_degree=frame_trend_degree)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = (cube / trend - 1.0).astype(np.float32)
    m[bad] = np.nan
    m[:, ~valid] = np.nan
    report("cleaning", 1, 1)
    return grid, b, cube, m, valid, stars, ground


def layer_height_scan(
    frames: Sequence[np.ndarray],
    camera: Camera,
    poses: Sequence[Pose],
    heights_m: Sequence[float],
    *,
    flat: np.ndarray | None = None,
    spacing_km: float | None = None,
    max_slant: float = 4.0,
    max_cells: int = 384,
) -> np.ndarray:
    """For each trial height, the sharpness of the sequence's strongest wave: the largest excess
    of the Welch periodogram over its red-noise threshold (:func:`peak_excess`) after projecting
    and cleaning the frames at that height. A wrong height makes the projected pattern drift and
    change scale between frames (the station moves; the error grows towards the edges of the
    field), which spreads a wave's power over neighbouring wavevectors. Experimental: measured on
    four generated scenes only (docs/airglow.md, "Layer height from the data")."""
    out = []
    for h in heights_m:
        check_layer_height(h)
        grid, _, _, m, valid, _, _ = _projected_stack(
            frames,
            camera,
            poses,
            h,
            spacing_km=spacing_km,
            flat=flat,
            max_slant=max_slant,
            max_cells=max_cells,
            ground_nsigma=3.0,
            frame_trend_degree=0,
            report=lambda *a: None,
        )
        out.append(peak_excess(m, valid, grid.spacing_km))
    return np.array(out)


def check_sequence(
    frames: Sequence[np.ndarray], times: Sequence[dt.datetime], names: Sequence[str] | None = None
) -> None:
    """One-line errors for sequences that cannot be analysed: fewer than 3 frames, frames of
    different sizes, times not strictly increasing."""
    names = list(names) if names is not None else [f"frame {i + 1}" for i in range(len(frames))]
    if len(frames) != len(times):
        raise InputError(f"{len(frames)} frame(s) but {len(times)} time(s): give one time per frame")
    if len(frames) < 3:
        raise InputError(f"a sequence needs at least 3 frames, got {len(frames)}")
    shape0 = np.shape(frames[0])[:2]
    for name, f in zip(names, frames, strict=True):
        if np.shape(f)[:2] != shape0:
            raise InputError(
                f"{name}: {np.shape(f)[1]}x{np.shape(f)[0]} px, but {names[0]} is {shape0[1]}x{shape0[0]} px: "
                "frames of a sequence must have the same size"
            )
    for i in range(1, len(times)):
        if not times[i] > times[i - 1]:
            raise InputError(
                f"{names[i]}: time {times[i].isoformat()} is not after {names[i - 1]}'s {times[i - 1].isoformat()}: "
                "frame times must increase"
            )


def analyse_sequence(
    frames: Sequence[np.ndarray],
    times: Sequence[dt.datetime],
    camera: Camera,
    poses: Sequence[Pose],
    *,
    height_m: float = 87e3,
    spacing_km: float | None = None,
    flat: np.ndarray | None = None,
    wind_m_s: tuple[float, float] | None = None,
    max_slant: float = 4.0,
    max_cells: int = 384,
    false_alarm: float = FALSE_ALARM,
    ambiguous_nsigma: float = AMBIGUOUS_NSIGMA,
    ground_nsigma: float = 3.0,
    frame_trend_degree: int = 0,
    exposure_s: float | None = None,
    names: Sequence[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    curved_waves: bool = False,
) -> AirglowResult:
    """Project, clean and analyse a sequence of grey frames (brightness, any linear unit) taken
    at ``times`` by ``camera`` at ``poses`` (one per frame). ``flat``: the relative response of
    the frame (vignetting), divided out first. ``wind_m_s``: (eastward, northward) wind at the
    layer for intrinsic phase speeds and periods. ``frame_trend_degree``: a polynomial per frame
    on top of the sequence's trend (1 or 2 without a good flat field; 0 keeps long waves' speeds
    unbiased, see :func:`cupola.airglow.clean.sequence_trend`). ``exposure_s``: the exposure time;
    the wave amplitudes are then corrected for the box blur of the layer's motion across the
    frame during the exposure (:func:`smear_mtf`); give the poses at mid-exposure (the blur is
    then centred on them, see :func:`cupola.airglow.inputs.load_request`). ``curved_waves``: after
    the plane-wave search, search its residual for waves of 50 km and longer with circular crests
    (:func:`find_waves` ``circular``; off by default: measured in docs/airglow.md, "A circular-crest
    search for the long waves", it finds long curved waves the plane search misses but their speeds
    are poor and one faint wave came out reversed)."""
    check_layer_height(height_m)
    check_sequence(frames, times, names)
    if exposure_s is not None and not (np.isfinite(exposure_s) and 0 < exposure_s <= 60):
        raise InputError(f"`exposure_s` must be in (0, 60] s, got {exposure_s}")
    if len(poses) != len(frames):
        raise InputError(f"{len(frames)} frame(s) but {len(poses)} pose(s)")
    h, w = np.shape(frames[0])[:2]
    if (w, h) != (camera.width_px, camera.height_px):
        raise InputError(f"frames are {w}x{h} px but the camera is {camera.width_px}x{camera.height_px} px")
    if flat is not None and np.shape(flat) != (h, w):
        raise InputError(f"flat field is {np.shape(flat)[1]}x{np.shape(flat)[0]} px, the frames {w}x{h} px")
    report = progress or (lambda label, done, total: None)
    grid, b, cube, m, valid, stars, ground = _projected_stack(
        frames,
        camera,
        poses,
        height_m,
        spacing_km=spacing_km,
        flat=flat,
        max_slant=max_slant,
        max_cells=max_cells,
        ground_nsigma=ground_nsigma,
        frame_trend_degree=frame_trend_degree,
        report=report,
    )
    n = len(frames)
    bad = stars | ground
    t_s = np.array([(t - times[0]).total_seconds() for t in times])
    search = find_waves(
        m,
        valid,
        grid.spacing_km,
        t_s,
        false_alarm=false_alarm,
        wind_m_s=wind_m_s,
        ambiguous_nsigma=ambiguous_nsigma,
        circular=curved_waves,
    )
    search.waves[:] = _mark_track_parallel(search.waves, grid, poses)
    search.waves[:], n_aliased = mark_aliased(search.waves, t_s)
    smear = np.zeros(2)
    smear_notes: list[str] = []
    if exposure_s is not None:
        smear = layer_smear_km(camera, poses, times, grid, exposure_s)
        search.waves[:], smear_notes = _correct_smear(search.waves, smear)
    filled = clean.fill_gaps(m)
    filled[:, ~valid] = 0.0
    interval = float(np.median(np.diff(t_s)))
    velocity = phase_velocity_spectrum(filled, search.window, grid.spacing_km, interval)
    report("waves", 1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # cells never seen
        mosaic = np.nanmean(np.where(bad, np.nan, cube), axis=0)
    notes = [
        f"{n} frames on a {grid.nx}x{grid.ny} grid of {grid.spacing_km:g} km at {height_m / 1e3:g} km "
        f"(frames binned {b}x{b} first)",
        f"{int(valid.sum())} cells seen by >= 90 % of the frames were analysed",
        *smear_notes,
    ]
    if search.leakage:
        notes.append(
            f"{search.leakage} significant peak(s) within {100 * LEAKAGE_RADIUS:g} % of a stronger wave's "
            f"wavevector with less than {100 * LEAKAGE_RATIO:g} % of its amplitude were taken as its leakage "
            "and not listed"
        )
    if search.weak:
        notes.append(
            f"{search.weak} significant peak(s) whose fitted amplitude is below {MIN_AMPLITUDE_SNR:g} standard errors "
            f"and below {MIN_AMPLITUDE_PCT:g} %, or below {MIN_AMPLITUDE_SNR_ANY:g} standard error(s) at any "
            "amplitude, were not listed (faint remnants or degenerate rows the fit cannot tell from zero)"
        )
    if n_aliased:
        notes.append(
            f"{n_aliased} wave(s) have an alias of their phase speed (wavelength / frame interval away) that is "
            "itself below 300 m/s: speed and direction may be that alias (marked ambiguous); a faster cadence tells"
        )
    if search.merged:
        notes.append(
            f"{search.merged} row(s) were components of a stronger wave (|k| within {100 * MERGE_DK:g} %, azimuth "
            f"within {MERGE_DAZ_DEG:g} deg, speed within {100 * MERGE_DC:g} %: curved crests or a packet) and were "
            "merged into it; the merged wave's values are those of a local fit about the middle of the area"
        )
    if search.circular:
        notes.append(
            f"{search.circular} wave(s) of {CIRCULAR_MIN_WAVELENGTH_KM:g} km or more were found with circular crests "
            "(a source a few hundred km away) in what the plane waves left: their values are those at the middle "
            "of the area"
        )
    if search.local:
        notes.append(
            f"{search.local} wave(s) differ significantly over the area (not plane waves): their values are those of "
            "a local fit about the middle of the area"
        )
    if n < FEW_FRAMES:
        notes.append(
            f"only {n} frames: on generated sequences of 10 frames the phase speeds of waves not marked "
            "ambiguous were wrong by more than 30 % in most cases; treat speeds and directions as indicative"
        )
    return AirglowResult(
        grid=grid,
        times=list(times),
        projected=cube,
        modulation=m,
        mosaic=mosaic.astype(np.float32),
        valid=valid,
        star_flags=int(stars.sum()),
        ground_flags=int(ground.sum()),
        search=search,
        velocity_spectrum=velocity,
        bin_factor=b,
        notes=notes,
        smear_km=(float(smear[0]), float(smear[1])),
    )
