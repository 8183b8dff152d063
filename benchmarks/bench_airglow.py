"""Airglow gravity waves on rendered ISS sequences (cupola.simulate.airglow), seeds 9000+ (the
tests use others). Every figure comes with a baseline measured in the same run.

Scenes: 60 frames 1 s apart (1-s exposures) of a Nikon D5 with a 14 mm lens fixed in LVLH (yaw
90: the long side along the track), looking down over Texas on the real orbit; the sensor binned
8 x 8 (696 x 464 px, the D5's field of view and the electrons of the full sensor: 4 e/px/s of
airglow at nadir); three random waves per scene (10-200 km, 10-150 m/s, all azimuths), stars,
towns and cloud decks on the ground, vignetting (the flat is given), photon and read noise.

* ``airglow_wavelength_error`` (median %), ``airglow_azimuth_error`` (median deg),
  ``airglow_phase_speed_error`` (median %): waves of 1-10 % amplitude, matched to the truth by
  wavevector (within 15 %). Baseline for wavelength and azimuth: a single-frame FFT without
  motion compensation (the middle frame's periodogram in pixels, scaled by the pixel size on the
  layer at the frame centre and turned by the image axes there; azimuth compared modulo 180 deg,
  which it cannot resolve). Baseline for the phase speed: the 3-D FFT's frequency bin of the
  wave's wavevector (speed = f / |k|), as a plain 3-D spectrum gives it.
* ``airglow_detection_rate`` (%): waves of 2 % amplitude found (three per scene), with the false
  waves per sequence printed alongside; baseline: the significant peaks of the middle projected
  frame's periodogram alone (one frame, no stacking).
* ``airglow_detection_rate_faint``: the same with a sixteenth of the airglow (0.25 e/px/s).
* ``airglow_smear_*``: the accuracy scenes (first three seeds) rendered twice, each 1-s exposure
  at one instant and as the mean of ``SMEAR_STEPS`` instants over the exposure (the station moves
  ~7 km across the layer), analysed three ways in one run: instant frames; smeared frames with
  the poses at the time stamps (the shutter opening) and no correction; smeared frames with
  ``exposure_s`` (poses at mid-exposure, amplitudes divided by the smear's response). The value
  is the corrected run's, the baseline the uncorrected one's; the instant run's are printed
  (``airglow_smear_off_*``). Wavelength, azimuth, speed and amplitude errors (median), and the
  false waves per sequence.
* ``airglow_seconds``: one 60-frame sequence end to end (projection, cleaning, waves, every
  product written); baseline: the single-frame FFT baseline's time.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
from common import bench_line

SEEDS_ACCURACY = (9001, 9002, 9003, 9004)
SEEDS_DETECTION = (9101, 9102, 9103)
SEEDS_SMEAR = SEEDS_ACCURACY[:3]
SMEAR_STEPS = 5  # 1.5 km apart on the layer: about a pixel of the binned D5 at nadir
BINNING = 8


def _scene(seed: int, amplitude=(0.01, 0.10), airglow_e_per_px_s: float = 4.0, smear_steps: int = 1):
    from cupola.simulate.airglow import make_sequence, random_waves

    rng = np.random.default_rng(seed)
    waves = random_waves(rng, 3, amplitude=amplitude, min_separation=0.3)
    return make_sequence(
        waves=waves,
        n_frames=60,
        interval_s=1.0,
        binning=BINNING,
        clouds=0.5,
        airglow_e_per_px_s=airglow_e_per_px_s,
        seed=seed,
        smear_steps=smear_steps,
    )


def _kvec(lam_km, az_deg):
    a = np.radians(az_deg)
    return np.array([np.sin(a), np.cos(a)]) / lam_km


def _match(truth, found_k, tol=0.15):
    """Index of the found wavevector (either sign) nearest the truth's, or None beyond ``tol``."""
    kt = _kvec(truth.wavelength_km, truth.azimuth_deg)
    best, best_d = None, tol
    for i, k in enumerate(found_k):
        d = min(np.linalg.norm(k - kt), np.linalg.norm(k + kt)) / np.linalg.norm(kt)
        if d < best_d:
            best, best_d = i, d
    return best


def _single_frame_fft(seq, n_peaks):
    """Baseline: the middle raw frame's periodogram in pixels (flat divided, trend removed, Hann),
    its strongest peaks scaled to km by the pixel size on the layer at the centre and turned by
    the image axes there. Returns wavevectors (cycles/km, east/north)."""
    from scipy import ndimage

    from cupola.airglow.shell import rays_to_shell
    from cupola.geometry import geodesy

    i = len(seq.frames) // 2
    img = seq.frames[i] / seq.flat
    img = img / ndimage.gaussian_filter(img, 20) - 1.0
    img = np.clip(img, -0.5, 0.5)
    h, w = img.shape
    win = np.outer(np.hanning(h), np.hanning(w))
    p = np.abs(np.fft.fft2(img * win, s=(2 * h, 2 * w))) ** 2
    fy = np.fft.fftfreq(2 * h)
    fx = np.fft.fftfreq(2 * w)
    cam, pose = seq.camera, seq.poses[i]
    c0, r0 = cam.cx_px, cam.cy_px
    pts, _ = rays_to_shell(cam, pose, np.array([c0, c0 + 1, c0]), np.array([r0, r0, r0 + 1]), seq.height_m)
    lon, lat, _ = geodesy.ecef_to_geodetic(pts[0])
    enu = geodesy.enu_basis(lon, lat)
    dc = (pts[1] - pts[0]) / 1e3  # km per pixel along +col
    dr = (pts[2] - pts[0]) / 1e3  # along +row
    # pixel-space wavevector (cycles/px) -> ground: solve k_px = J^T k_km with J = [dc dr] in (e, n)
    jac = np.array([[dc @ enu[0], dr @ enu[0]], [dc @ enu[1], dr @ enu[1]]])
    ffx, ffy = np.meshgrid(fx, fy)
    kk = np.hypot(ffx, ffy)
    p[kk < 1.0 / 150.0] = 0.0  # below ~150 px: the trend
    p[(ffy < 0) | ((ffy == 0) & (ffx < 0))] = 0.0
    out = []
    peaks = (p == ndimage.maximum_filter(p, size=5)) & (p > 0)
    order = np.argsort(p[peaks])[::-1][:n_peaks]
    for kx_px, ky_px in zip(ffx[peaks][order], ffy[peaks][order], strict=True):
        out.append(np.linalg.solve(jac.T, np.array([kx_px, ky_px])))
    return out


def accuracy() -> None:
    from cupola.airglow.sequence import analyse_sequence
    from cupola.airglow.waves import _freqs

    lam_err, az_err, c_err = [], [], []
    reversed_, flagged = 0, 0
    b_lam, b_az, b_c = [], [], []
    missed = 0
    for seed in SEEDS_ACCURACY:
        seq = _scene(seed)
        res = analyse_sequence(list(seq.frames), seq.times, seq.camera, seq.poses, flat=seq.flat)
        found_k = [np.array([w.kx_cyc_km, w.ky_cyc_km]) for w in res.waves]
        base_k = _single_frame_fft(seq, len(seq.waves))
        # the 3-D FFT's frequency bin at each wave's wavevector
        n = len(seq.frames)
        kx, ky = _freqs(res.modulation.shape[1:], res.grid.spacing_km)
        filled = np.nan_to_num(res.modulation) * res.search.window[None] * np.hanning(n)[:, None, None]
        spec3 = np.abs(np.fft.fftn(filled)) ** 2
        f = np.fft.fftfreq(n, d=1.0)
        for truth in seq.waves:
            j = _match(truth, found_k)
            if j is None:
                missed += 1
                print(f"  seed {seed}: missed {truth}")
            else:
                w = res.waves[j]
                lam_err.append(100 * abs(w.wavelength_km / truth.wavelength_km - 1))
                az_err.append(abs((w.azimuth_deg - truth.azimuth_deg + 180) % 360 - 180))
                c_err.append(100 * abs(w.phase_speed_m_s / truth.phase_speed_m_s - 1))
                reversed_ += az_err[-1] > 90.0
                flagged += az_err[-1] > 90.0 and w.ambiguous
                print(
                    f"  seed {seed}: true {truth.wavelength_km:.1f} km {truth.azimuth_deg:.1f} deg "
                    f"{truth.phase_speed_m_s:.1f} m/s {100 * truth.amplitude:.1f} %; found {w.wavelength_km:.1f} "
                    f"{w.azimuth_deg:.1f} {w.phase_speed_m_s:.1f}+-{w.phase_speed_sigma_m_s:.1f} "
                    f"{w.amplitude_pct:.1f} %"
                )
            kt = _kvec(truth.wavelength_km, truth.azimuth_deg)
            jb = _match(truth, base_k, tol=0.5)
            if jb is not None:
                kb = base_k[jb]
                b_lam.append(100 * abs(np.linalg.norm(kt) / np.linalg.norm(kb) - 1))
                azb = np.degrees(np.arctan2(kb[0], kb[1]))
                b_az.append(abs((azb - truth.azimuth_deg + 90) % 180 - 90))
            else:
                b_lam.append(100.0)
                b_az.append(90.0)
            # 3-D FFT: the bin nearest the true wavevector, the strongest frequency there
            d = np.hypot(kx - kt[0], ky - kt[1])
            iy, ix = np.unravel_index(int(np.argmin(d)), d.shape)
            col = spec3[:, iy, ix]
            col[0] = 0.0
            fi = abs(f[int(np.argmax(col))])
            b_c.append(100 * abs(fi / np.linalg.norm(kt) * 1e3 / truth.phase_speed_m_s - 1))
    print(f"  {missed} of {3 * len(SEEDS_ACCURACY)} waves of 1-10 % amplitude missed")
    print(f"  {reversed_} found propagating the wrong way ({flagged} of them flagged ambiguous)")
    bench_line("airglow_wavelength_error", float(np.median(lam_err)), "%", float(np.median(b_lam)))
    bench_line("airglow_azimuth_error", float(np.median(az_err)), "deg", float(np.median(b_az)))
    bench_line("airglow_phase_speed_error", float(np.median(c_err)), "%", float(np.median(b_c)))


def detection(airglow_e_per_px_s: float = 4.0, suffix: str = "") -> None:
    from scipy import ndimage, stats

    from cupola.airglow.sequence import analyse_sequence
    from cupola.airglow.waves import _freqs, red_noise_ratio, welch_periodogram

    found, total, false, b_found, b_false = 0, 0, 0, 0, 0
    for seed in SEEDS_DETECTION:
        seq = _scene(seed, amplitude=(0.02, 0.02), airglow_e_per_px_s=airglow_e_per_px_s)
        res = analyse_sequence(list(seq.frames), seq.times, seq.camera, seq.poses, flat=seq.flat)
        found_k = [np.array([w.kx_cyc_km, w.ky_cyc_km]) for w in res.waves]
        matched = {_match(t, found_k) for t in seq.waves} - {None}
        found += len(matched)
        total += len(seq.waves)
        false += len(found_k) - len(matched)
        false_marked = sum(1 for i, w in enumerate(res.waves) if i not in matched and w.track_parallel)
        # baseline: one projected frame's periodogram, peaks over the same red-noise test
        mid = res.modulation[len(seq.frames) // 2 : len(seq.frames) // 2 + 1]
        p = welch_periodogram(np.where(res.valid[None], np.nan_to_num(mid), 0.0), res.search.window)
        kx, ky = _freqs(p.shape, res.grid.spacing_km)
        kmag = np.hypot(kx, ky)
        ratio = red_noise_ratio(p, kmag, 1)
        search = ((ky > 0) | ((ky == 0) & (kx > 0))) & (kmag >= 1 / 250.0) & (kmag <= 1 / (3 * res.grid.spacing_km))
        thr = float(stats.expon.isf(0.01 / max(1, int(search.sum() * res.valid.mean()))))
        peaks = search & (ratio > thr) & (ratio == ndimage.maximum_filter(ratio, size=5))
        bk = [np.array([a, b]) for a, b in zip(kx[peaks], ky[peaks], strict=True)]
        bm = {_match(t, bk) for t in seq.waves} - {None}
        b_found += len(bm)
        b_false += len(bk) - len(bm)
        print(
            f"  seed {seed}: {len(matched)} of 3 found, {len(found_k) - len(matched)} false "
            f"({false_marked} marked track_parallel); "
            f"single frame: {len(bm)} found, {len(bk) - len(bm)} false"
        )
    bench_line(f"airglow_detection_rate{suffix}", 100.0 * found / total, "%", 100.0 * b_found / total)
    n_seq = len(SEEDS_DETECTION)
    bench_line(f"airglow_false_waves_per_sequence{suffix}", false / n_seq, "count", b_false / n_seq)


def detection_faint() -> None:
    """The same at a sixteenth of the airglow (0.25 e/px/s at nadir: a faint night, a slower lens)."""
    detection(0.25, "_faint")


def _errors(seq, res) -> tuple[list, int]:
    """(wavelength %, azimuth deg, speed %, amplitude %) per matched true wave; false waves."""
    found_k = [np.array([w.kx_cyc_km, w.ky_cyc_km]) for w in res.waves]
    rows, matched = [], set()
    for truth in seq.waves:
        j = _match(truth, found_k)
        if j is None:
            rows.append(None)
            continue
        matched.add(j)
        w = res.waves[j]
        rows.append(
            (
                100 * abs(w.wavelength_km / truth.wavelength_km - 1),
                abs((w.azimuth_deg - truth.azimuth_deg + 180) % 360 - 180),
                100 * abs(w.phase_speed_m_s / truth.phase_speed_m_s - 1),
                100 * abs(w.amplitude_pct / (100 * truth.amplitude) - 1),
            )
        )
    return rows, len(found_k) - len(matched)


def smear() -> None:
    import datetime as dt

    from cupola.airglow.sequence import analyse_sequence, smear_mtf
    from cupola.geometry import attitude as att
    from cupola.geometry import orbit

    runs: dict[str, list] = {"off": [], "raw": [], "fixed": []}
    false = {k: 0 for k in runs}
    for seed in SEEDS_SMEAR:
        instant = _scene(seed)
        smeared = _scene(seed, smear_steps=SMEAR_STEPS)
        half = dt.timedelta(seconds=0.5)  # the scenes' 1-s exposures
        mid = [
            att.pose_from_rpy(orbit.state_at(smeared.element_set, t + half), *smeared.rpy_deg) for t in smeared.times
        ]

        def run(seq, poses, **kw):
            return seq, analyse_sequence(list(seq.frames), seq.times, seq.camera, poses, flat=seq.flat, **kw)

        results = {
            "off": run(instant, instant.poses),
            "raw": run(smeared, smeared.poses),
            "fixed": run(smeared, mid, exposure_s=1.0),
        }
        smear_km = np.array(results["fixed"][1].smear_km)
        for key, (seq, res) in results.items():
            rows, n_false = _errors(seq, res)
            runs[key].extend(rows)
            false[key] += n_false
        for i, truth in enumerate(instant.waves):
            k = _kvec(truth.wavelength_km, truth.azimuth_deg)
            g = float(smear_mtf(k[0], k[1], smear_km))
            cells = []
            for key in runs:
                r = runs[key][len(runs[key]) - 3 + i]
                cells.append(
                    f"{key} missed" if r is None else f"{key} {r[0]:.2f}% {r[1]:.2f}d {r[2]:.1f}% amp {r[3]:.1f}%"
                )
            print(
                f"  seed {seed}: {truth.wavelength_km:.1f} km {truth.azimuth_deg:.0f} deg "
                f"{truth.phase_speed_m_s:.0f} m/s "
                f"{100 * truth.amplitude:.1f} % (smear response {g:.2f}): " + "; ".join(cells)
            )
        print(
            f"  seed {seed}: smear {np.hypot(*smear_km):.2f} km; false waves "
            + ", ".join(f"{k} {v}" for k, v in false.items())
        )
    names = ("wavelength_error", "azimuth_error", "phase_speed_error", "amplitude_error")
    units = ("%", "deg", "%", "%")

    def med(key, c):
        vals = [r[c] for r in runs[key] if r is not None]
        return float(np.median(vals)) if vals else float("nan")

    n = len(SEEDS_SMEAR)
    for key in runs:
        missed = sum(r is None for r in runs[key])
        print(f"  {key}: {missed} of {len(runs[key])} waves missed, {false[key] / n:.2f} false waves per sequence")
    for c, (name, unit) in enumerate(zip(names, units, strict=True)):
        bench_line(f"airglow_smear_off_{name}", med("off", c), unit)
        bench_line(f"airglow_smear_{name}", med("fixed", c), unit, med("raw", c))
    bench_line("airglow_smear_false_waves_per_sequence", false["fixed"] / n, "count", false["raw"] / n)


#: hand-held sequences: (seed, random-walk step of roll, pitch and yaw per frame, deg)
POSE_WALKS = ((9401, 0.01), (9402, 0.03), (9403, 0.1), (9404, 0.05))


def pose_per_frame() -> None:
    """A hand-held camera: roll, pitch, yaw take a random walk (steps of 0.01-0.1 deg per frame),
    the scenes otherwise as the accuracy ones. Analysed three ways in one run: one pose for the
    sequence (the first frame's attitude held in LVLH, as ``--attitude`` or ``--tie-points``
    give it: the baseline); the true pose of every frame (as ``--attitudes`` gives it); the
    poses registered to the ground lights from the first frame's (``--register-ground``)."""
    from cupola.airglow.register import register_to_ground
    from cupola.airglow.sequence import analyse_sequence
    from cupola.geometry import attitude as att
    from cupola.simulate.airglow import make_sequence, random_waves

    runs: dict[str, list] = {"one": [], "true": [], "ground": []}
    false = {k: 0 for k in runs}
    pose_err = []
    for seed, walk in POSE_WALKS:
        rng = np.random.default_rng(seed)
        waves = random_waves(rng, 3, amplitude=(0.01, 0.10), min_separation=0.3)
        seq = make_sequence(
            waves=waves, n_frames=60, interval_s=1.0, binning=BINNING, clouds=0.5, seed=seed, attitude_walk_deg=walk
        )
        one = [att.pose_from_rpy(s, *seq.rpy_per_frame_deg[0]) for s in seq.states]
        reg = register_to_ground(list(seq.frames), seq.camera, seq.states, seq.poses[0], flat=seq.flat)
        e = [np.degrees((p.rotation.inv() * q.rotation).magnitude()) for p, q in zip(reg.poses, seq.poses, strict=True)]
        e1 = [np.degrees((p.rotation.inv() * q.rotation).magnitude()) for p, q in zip(one, seq.poses, strict=True)]
        pose_err.extend(e)
        print(
            f"  seed {seed}: walk {walk} deg/frame, true drift up to {max(e1):.3f} deg; registered poses off by "
            f"{np.median(e):.4f} deg (median), {max(e):.4f} (max); {int(np.median(reg.lights))} lights per frame, "
            f"RMS {np.nanmedian(reg.rms_px):.3f} px"
        )
        for key, poses in (("one", one), ("true", seq.poses), ("ground", reg.poses)):
            res = analyse_sequence(list(seq.frames), seq.times, seq.camera, poses, flat=seq.flat)
            rows, n_false = _errors(seq, res)
            runs[key].extend(rows)
            false[key] += n_false
            cells = ["missed" if r is None else f"{r[0]:.2f}% {r[1]:.2f}d {r[2]:.1f}%" for r in rows]
            print(f"    {key}: " + "; ".join(cells) + f"; {n_false} false")

    def med(key, c):
        vals = [r[c] for r in runs[key] if r is not None]
        return float(np.median(vals)) if vals else float("nan")

    n = len(POSE_WALKS)
    for key in runs:
        missed = sum(r is None for r in runs[key])
        print(f"  {key}: {missed} of {len(runs[key])} waves missed, {false[key] / n:.2f} false waves per sequence")
    bench_line("airglow_pose_registration_error", float(np.median(pose_err)), "deg")
    for c, (name, unit) in enumerate(
        zip(("wavelength_error", "azimuth_error", "phase_speed_error"), ("%", "deg", "%"), strict=True)
    ):
        bench_line(f"airglow_pose_true_{name}", med("true", c), unit, med("one", c))
        bench_line(f"airglow_pose_ground_{name}", med("ground", c), unit, med("one", c))
    bench_line("airglow_pose_ground_false_waves_per_sequence", false["ground"] / n, "count", false["one"] / n)


def seconds() -> None:
    from cupola.airglow.products import write_airglow_products
    from cupola.airglow.sequence import analyse_sequence

    seq = _scene(9201)
    t0 = time.perf_counter()
    _single_frame_fft(seq, 3)
    t_base = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = analyse_sequence(list(seq.frames), seq.times, seq.camera, seq.poses, flat=seq.flat)
        write_airglow_products(res, tmp)
        t_ours = time.perf_counter() - t0
    print(f"  {res.notes[0]}")
    bench_line("airglow_seconds", t_ours, "s", t_base)


BENCHMARKS = {
    "airglow_accuracy": accuracy,
    "airglow_detection": detection,
    "airglow_detection_faint": detection_faint,
    "airglow_smear": smear,
    "airglow_seconds": seconds,
    "airglow_pose": pose_per_frame,
}
