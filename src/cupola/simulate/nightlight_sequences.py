"""Synthetic night *sequences* from the ISS: several frames of one pass, the camera's LVLH attitude
changing slowly between them, so that frames with a good piece of sky surround frames the Earth
nearly fills (issue 14: the attitude carried from a sequence).

Each frame is rendered by :func:`cupola.simulate.nightlights.make_frame` (the same independent
forward model as the robustness suite: real 2017 orbit from the bundled TLEs, Hipparcos stars
trailed by the station's rotation, lensfun vignetting, towns, airglow, hot pixels, 14-bit DNG). The
attitude in LVLH follows a smooth path: the pitch dips and comes back (``pitch_dip_deg`` at the
middle frame, a half sine over the sequence, as an astronaut tilting a camera on a mount toward
the Earth and back) from the pitch at which the first frame sees ``sky`` of its frame above the
limb, a slow drift (``drift_deg_s`` in roll, pitch and yaw: the mount creeping) is added, and every
frame gets a small independent jitter (``jitter_deg`` rms per axis, the mount's play) that no
interpolation can predict. With no dip and no drift the camera is fixed to the station: its sky
fraction stays, and the stars in that piece of sky change as the sky turns past (0.065 deg/s).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SequenceCase", "NIGHTLIGHT_SEQUENCES", "make_sequence"]


@dataclass(frozen=True)
class SequenceCase:
    """One sequence: body, lens and exposure as in :class:`cupola.simulate.nightlights.SuiteCase`,
    ``n_frames`` frames ``spacing_s`` apart from ``NIGHT_TIME + time_offset_s``; ``sky`` is the
    first frame's sky fraction, ``pitch_dip_deg`` how far the pitch goes down toward the Earth at
    the middle of the sequence, ``drift_deg_s`` a steady drift, ``jitter_deg`` the rms of each
    frame's independent attitude noise per axis."""

    name: str
    model: str
    lens: str
    focal_mm: float
    f_number: float
    exposure_s: float
    iso: float
    sky: float
    pitch_dip_deg: float
    n_frames: int = 9
    spacing_s: int = 20
    drift_deg_s: tuple = (0.0, 0.0, 0.0)
    roll_deg: float = 0.0
    yaw_deg: float = 0.0
    jitter_deg: float = 0.02
    cfa: str = "RGGB"
    towns: int = 40
    time_offset_s: float = 0.0
    downsample: int = 4
    seed: int = 0


#: Sequences of one pass (issue 14, part 1): five bodies and lenses 24-135 mm, exposures 1/10-1 s, 9
#: frames 15-40 s apart. Two dip toward the Earth (a camera tilted down and back up: the middle
#: frames see 2-10 % sky, between frames with 30-40 %); three are fixed to the station with a
#: slow drift, 8-25 % sky, the stars in it changing as the sky turns past. Their attitude paths
#: were fixed before the seeded identification was first run on them (the first's dip was made
#: deeper after its blind run showed its middle frames at 16 % sky, not Earth-filled).
# fmt: off
NIGHTLIGHT_SEQUENCES: tuple[SequenceCase, ...] = (
    SequenceCase("seq_d5_50mm_0.5s_dip", "NIKON D5", "AF-S Nikkor 50mm f/1.4G",
                 50, 1.4, 0.5, 6400, 0.30, 7.0, drift_deg_s=(0.0, 0.0, 0.005), yaw_deg=10,
                 time_offset_s=-200, seed=31),
    SequenceCase("seq_d4_24mm_1s_fixed", "NIKON D4", "AF-S Nikkor 24mm f/1.8G ED",
                 24, 1.8, 1.0, 3200, 0.08, 0.0, spacing_s=30, drift_deg_s=(0.0, 0.005, 0.0), roll_deg=-6,
                 cfa="GBRG", time_offset_s=350, seed=32),
    SequenceCase("seq_d850_85mm_0.1s_drift", "NIKON D850", "AF-S Nikkor 85mm f/1.8G",
                 85, 1.8, 0.1, 12800, 0.25, 0.0, spacing_s=40, drift_deg_s=(0.0, -0.01, 0.0), yaw_deg=-25,
                 downsample=6, cfa="BGGR", time_offset_s=-500, seed=33),
    SequenceCase("seq_d5_135mm_0.25s_dip", "NIKON D5", "AF-S Nikkor 70-200mm f/2.8G ED VR II",
                 135, 2.8, 0.25, 12800, 0.40, 3.2, spacing_s=15, roll_deg=5, cfa="GRBG", time_offset_s=600,
                 seed=34, jitter_deg=0.01),
    SequenceCase("seq_z9_35mm_0.5s_fixed", "NIKON Z 9", "NIKKOR Z 24-70mm f/2.8 S",
                 35, 2.8, 0.5, 6400, 0.12, 0.0, spacing_s=30, yaw_deg=40, downsample=6, time_offset_s=-50,
                 seed=35),
)
# fmt: on


def sequence_attitudes(case: SequenceCase, pitch0_deg: float) -> list[tuple[float, float, float]]:
    """Each frame's LVLH (roll, pitch, yaw) in degrees: the smooth dip plus the frame's jitter."""
    rng = np.random.default_rng(case.seed + 1000)
    n = case.n_frames
    out = []
    for k in range(n):
        dip = case.pitch_dip_deg * np.sin(np.pi * k / max(n - 1, 1))
        d = np.asarray(case.drift_deg_s, float) * k * case.spacing_s
        j = rng.normal(0.0, case.jitter_deg, 3)
        out.append((case.roll_deg + d[0] + j[0], pitch0_deg - dip + d[1] + j[1], case.yaw_deg + d[2] + j[2]))
    return out


def make_sequence(case: SequenceCase, folder, frames=None) -> list:
    """Render the frames of ``case`` (all, or the indices ``frames``) as ``folder/<name>_<k>.dng``;
    their truths
    (:class:`cupola.simulate.nightlights.SyntheticTruth`), in time order. The frames are a whole
    number of seconds apart, so that their EXIF times (whole seconds) keep the spacing."""
    from cupola.nightlights.catalog import magnitude_limit_for_field
    from cupola.simulate.nightlights import NIGHT_TIME, default_state, make_frame, pitch_for_sky_fraction, suite_camera

    cam, lens = suite_camera(case)
    w, h = cam.width_px, cam.height_px
    t0 = NIGHT_TIME + dt.timedelta(seconds=case.time_offset_s)
    _, state0 = default_state(t0)
    pitch0 = pitch_for_sky_fraction(state0, cam, case.sky, roll_deg=case.roll_deg, yaw_deg=case.yaw_deg, lens=lens)
    r_g, v_g = state0.gcrs_position_m, state0.gcrs_velocity_m_s
    orbital_deg_s = float(np.degrees(np.linalg.norm(np.cross(r_g, v_g)) / np.dot(r_g, r_g)))
    field_sr = (w / cam.focal_x_px) * (h / cam.focal_y_px)
    truths = []
    for k, rpy in enumerate(sequence_attitudes(case, pitch0)):
        if frames is not None and k not in frames:
            continue
        truths.append(
            make_frame(
                Path(folder) / f"{case.name}_{k}.dng",
                model=case.model,
                width_px=w,
                height_px=h,
                focal_mm=case.focal_mm,
                f_number=case.f_number,
                exposure_s=case.exposure_s,
                iso=case.iso,
                lens_model=case.lens,
                time=t0 + dt.timedelta(seconds=k * case.spacing_s),
                rpy_deg=rpy,
                star_mag_limit=min(magnitude_limit_for_field(field_sr, 2000.0, floor=7.5), 12.0),
                cfa=case.cfa,
                towns=case.towns,
                airglow_e_per_px_s=0.4,
                rotation_rate_deg_s=orbital_deg_s,
                faint_stars=True,
                sky_e_per_px_s=3.0 * case.downsample**2,
                dark_e_per_s=2.0 * case.downsample**2,
                read_noise_e=2.0 * case.downsample,
                seed=case.seed * 100 + k,
            )
        )
    return truths
