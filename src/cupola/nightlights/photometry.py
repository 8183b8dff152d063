"""Photometric calibration against catalog stars: per-channel zero points with colour terms.

Aperture photometry (photutils) of each matched, unsaturated, isolated star in the R, G (mean of
the two greens) and B planes, after the flat-field gain and the exposure normalisation, so fluxes
are counts per second per Bayer plane at ISO 100 and f/1. Trails are enclosed by an elliptical
aperture stretched along the trail (semi-axes L/2 + r and r, with r = 4 PSF sigmas) and a local
background from an elliptical annulus (sigma-clipped median).

A flat-fielded image measures radiance uniformly, but a star's flux is spread over pixels whose
solid angle shrinks off axis (cos^3 of the field angle for a pinhole, times the lens' distortion
of pixel area); the measured star flux is multiplied by that solid-angle factor to refer it to
the optical axis.

Model per channel c (Sánchez de Miguel et al. 2021, Remote Sens. Environ. 264, 112611; the usual
transformation of standard magnitudes to an instrumental system):

    m_inst,c = -2.5 log10(F_c) = Hp + a_c (B - V) - ZP_c

fitted by weighted least squares with 3-sigma clipping. ``10^(0.4 ZP_c)`` is the count rate of a
Hp = 0, B - V = 0 star (Vega-like, A0 V). With the band irradiance ``E0_c`` of such a star in the
camera band, one count per second per plane pixel corresponds to the band radiance

    L_c = E0_c 10^(-0.4 ZP_c) / Omega_sp      [W m^-2 sr^-1]

with Omega_sp the solid angle of one superpixel on axis (see :mod:`cupola.nightlights.radiance`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.io.limits import read_json_bounded

__all__ = [
    "CHANNELS",
    "VEGA_BAND_IRRADIANCE_W_M2",
    "Calibration",
    "StarPhotometry",
    "measure_stars",
    "fit_zero_points",
    "combine_calibrations",
    "read_calibration",
]

CHANNELS = ("R", "G", "B")

#: Band irradiance (W m^-2) of a 0-magnitude A0 V star (Vega) in DSLR colour channels: the
#: zero-magnitude flux densities of Bessell, Castelli & Plez (1998, A&A 333, 231, Table A2) for
#: R_C (2.177e-11), V (3.631e-11) and B (6.32e-11 W m^-2 nm^-1) times nominal equivalent widths
#: of the camera's R, G and B channels (70, 90, 90 nm). Approximate: replace them with the
#: integral of Vega's spectrum over your camera's measured spectral response for absolute work.
VEGA_BAND_IRRADIANCE_W_M2 = {"R": 2.177e-11 * 70.0, "G": 3.631e-11 * 90.0, "B": 6.32e-11 * 90.0}

SCHEMA = "cupola.nightlights.calibration/1"


@dataclass(frozen=True)
class Calibration:
    """Calibration constants of one camera setting (the same lens, window and sensor).

    ``zero_points`` and ``colour_terms`` (mag) with 1-sigma uncertainties, per channel;
    ``band_irradiance_w_m2`` of a 0-mag A0 V star; ``through_window``: the stars were observed
    through the same window as the ground (so the window's transmission is inside the constants).
    """

    zero_points: dict
    zero_point_err: dict
    colour_terms: dict
    colour_term_err: dict
    n_stars: dict
    rms_mag: dict
    band_irradiance_w_m2: dict = field(default_factory=lambda: dict(VEGA_BAND_IRRADIANCE_W_M2))
    through_window: bool = True
    source: str = ""

    def counts_to_irradiance(self, channel: str) -> float:
        """W m^-2 per (count/s per plane at ISO 100, f/1)."""
        return self.band_irradiance_w_m2[channel] * 10 ** (-0.4 * self.zero_points[channel])

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "zero_points_mag": self.zero_points,
            "zero_point_err_mag": self.zero_point_err,
            "colour_terms_mag_per_b_v": self.colour_terms,
            "colour_term_err": self.colour_term_err,
            "n_stars": self.n_stars,
            "rms_mag": self.rms_mag,
            "band_irradiance_w_m2": self.band_irradiance_w_m2,
            "through_window": self.through_window,
            "source": self.source,
            "units": "counts/s per Bayer plane at ISO 100, f/1 of a Hp=0, B-V=0 star = 10^(0.4 ZP)",
        }

    @classmethod
    def from_dict(cls, d: dict, source: str = "") -> Calibration:
        try:
            zp = {c: float(d["zero_points_mag"][c]) for c in CHANNELS}
            err = {c: float(d.get("zero_point_err_mag", {}).get(c, float("nan"))) for c in CHANNELS}
            ct = {c: float(d.get("colour_terms_mag_per_b_v", {}).get(c, 0.0)) for c in CHANNELS}
            cte = {c: float(d.get("colour_term_err", {}).get(c, float("nan"))) for c in CHANNELS}
            e0 = {c: float(d.get("band_irradiance_w_m2", VEGA_BAND_IRRADIANCE_W_M2)[c]) for c in CHANNELS}
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{source or 'calibration'}: needs zero_points_mag with R, G and B numbers "
                f"({type(exc).__name__}: {exc})"
            ) from None
        if not all(math.isfinite(v) for v in zp.values()):
            raise InputError(f"{source or 'calibration'}: zero points must be finite numbers, got {zp}")
        return cls(
            zp,
            err,
            ct,
            cte,
            {c: int(d.get("n_stars", {}).get(c, 0)) for c in CHANNELS},
            {c: float(d.get("rms_mag", {}).get(c, float("nan"))) for c in CHANNELS},
            e0,
            bool(d.get("through_window", True)),
            source or str(d.get("source", "")),
        )


def read_calibration(path: str | os.PathLike) -> Calibration:
    """Calibration constants from a ``calibration.json`` written by an earlier run."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such calibration file (give `stars` auto or a calibration.json)")
    d = read_json_bounded(p, "a JSON calibration file (calibration.json)")
    if not isinstance(d, dict):
        raise InputError(f"{p}: not a calibration file (expected a JSON object)")
    return Calibration.from_dict(d, source=str(p))


@dataclass(frozen=True)
class StarPhotometry:
    """Aperture photometry of matched stars (arrays of length N, channel dicts)."""

    cat_index: np.ndarray
    col: np.ndarray
    row: np.ndarray
    flux: dict  # channel -> counts/s per plane at ISO 100 f/1, referred to the optical axis
    flux_err: dict
    usable: np.ndarray  # not saturated, not crowded, positive in all channels
    reason: list


def measure_stars(
    planes: np.ndarray,
    offsets,
    saturated: np.ndarray,
    col,
    row,
    *,
    trail_col,
    trail_row,
    psf_sigma_plane_px: float,
    solid_angle_factor,
    cat_index,
    others_col=None,
    others_row=None,
    noise_planes=None,
) -> StarPhotometry:
    """Elliptical-aperture photometry of stars at sensor pixels (col, row) in the 4 Bayer planes.

    ``trail_col``/``trail_row``: each star's trail over the exposure (sensor px, photo pixels);
    ``solid_angle_factor``: the pixel solid angle at each star relative to the axis (multiplies the
    flux); ``others_*``: all other sources (a star with another source in its aperture is flagged).
    """
    from photutils.aperture import ApertureStats, EllipticalAnnulus, EllipticalAperture, aperture_photometry

    col, row = np.asarray(col, float), np.asarray(row, float)
    n = col.size
    tl = np.hypot(trail_col, trail_row) / 2.0  # plane px
    theta = np.arctan2(trail_row, trail_col)
    r_ap = max(2.5, 4.0 * psf_sigma_plane_px)
    a = tl / 2.0 + r_ap
    # one aperture shape per group of similar trails: photutils then measures a group at once
    a_q = np.ceil(a / 0.5) * 0.5  # never smaller than the trail needs
    th_q = np.round(np.degrees(theta) % 180.0 / 5.0) * 5.0
    groups: dict = {}
    for m in range(n):
        groups.setdefault((a_q[m], th_q[m]), []).append(m)
    per_plane = [np.full(n, np.nan) for _ in range(4)]
    per_err = [np.full(n, np.nan) for _ in range(4)]
    sat_any = np.zeros(n, bool)
    for (ag, tg), members in groups.items():
        idx = np.array(members)
        aa = float(max(ag, r_ap))
        th = np.radians(tg)
        for k in range(4):
            dx, dy = offsets[k]
            pos = np.column_stack([(col[idx] - dx) / 2.0, (row[idx] - dy) / 2.0])
            ap = EllipticalAperture(pos, a=aa, b=r_ap, theta=th)
            an = EllipticalAnnulus(pos, a_in=aa + 2.0, a_out=aa + 6.0, b_in=r_ap + 2.0, b_out=r_ap + 6.0, theta=th)
            bs = ApertureStats(planes[k], an)
            bkg = np.asarray(bs.median, float)
            bstd = np.asarray(bs.std, float)
            t = aperture_photometry(planes[k], ap)
            area = np.asarray(ap.area_overlap(planes[k]), float)
            per_plane[k][idx] = np.asarray(t["aperture_sum"], float) - bkg * area
            per_err[k][idx] = np.sqrt(np.maximum(bstd, 0.0) ** 2 * area * (1.0 + area / float(an.area)))
    # saturated pixels within each aperture's bounding box (summed-area tables: O(1) per star)
    h, w = planes.shape[1:]
    half = np.ceil(a + 1.0).astype(int)
    for k in range(4):
        dx, dy = offsets[k]
        sat_table = np.zeros((h + 1, w + 1), np.int32)
        np.cumsum(np.cumsum(saturated[k], axis=0, dtype=np.int32), axis=1, out=sat_table[1:, 1:])
        xi = np.rint((col - dx) / 2.0).astype(int)
        yi = np.rint((row - dy) / 2.0).astype(int)
        x0, x1 = np.clip(xi - half, 0, w), np.clip(xi + half + 1, 0, w)
        y0, y1 = np.clip(yi - half, 0, h), np.clip(yi + half + 1, 0, h)
        count = sat_table[y1, x1] - sat_table[y0, x1] - sat_table[y1, x0] + sat_table[y0, x0]
        sat_any |= count > 0
    saf = np.asarray(solid_angle_factor, float)
    flux = {"R": per_plane[0] * saf, "G": 0.5 * (per_plane[1] + per_plane[2]) * saf, "B": per_plane[3] * saf}
    err = {"R": per_err[0] * saf, "G": 0.5 * np.hypot(per_err[1], per_err[2]) * saf, "B": per_err[3] * saf}
    reason = [""] * n
    crowded = np.zeros(n, bool)
    if others_col is not None and len(others_col):
        from scipy.spatial import cKDTree

        tree = cKDTree(np.column_stack([others_col, others_row]))
        for m in range(n):
            near = tree.query_ball_point([col[m], row[m]], 2.0 * (a[m] + 6.0))
            crowded[m] = len(near) > 1
    usable = ~sat_any & ~crowded
    for m in range(n):
        if sat_any[m]:
            reason[m] = "saturated"
        elif crowded[m]:
            reason[m] = "crowded"
    for c in CHANNELS:
        bad = ~(np.isfinite(flux[c]) & (flux[c] > 0))
        for m in np.flatnonzero(bad & usable):
            reason[m] = f"no positive flux in {c}"
        usable &= ~bad
    return StarPhotometry(np.asarray(cat_index), col, row, flux, err, usable, reason)


def fit_zero_points(
    phot: StarPhotometry,
    hp_mag,
    b_v,
    *,
    min_stars: int = 5,
    clip_sigma: float = 3.0,
    min_snr: float = 10.0,
    floor_mag: float = 0.01,
    band_irradiance_w_m2: dict | None = None,
    source: str = "",
) -> Calibration | None:
    """Weighted least squares of ``m_inst - Hp = -ZP + a (B-V)`` per channel with sigma clipping;
    uncertainties from the covariance, scaled by the reduced chi-square when it exceeds one.
    None when fewer than ``min_stars`` usable stars remain in any channel."""
    hp = np.asarray(hp_mag, float)
    bv = np.asarray(b_v, float)
    zps, zpe, cts, cte, ns, rms = {}, {}, {}, {}, {}, {}
    for c in CHANNELS:
        f, e = phot.flux[c], phot.flux_err[c]
        ok = phot.usable & np.isfinite(bv) & np.isfinite(hp) & (f > 0) & (f > min_snr * e)
        if ok.sum() < min_stars:
            return None
        m_inst = -2.5 * np.log10(np.where(ok, f, 1.0))
        sig = np.hypot(1.0857 * e / np.where(ok, f, 1.0), floor_mag)
        y = m_inst - hp
        keep = ok.copy()
        for _ in range(10):
            A = np.column_stack([-np.ones(keep.sum()), bv[keep]])
            wt = 1.0 / sig[keep]
            sol, *_ = np.linalg.lstsq(A * wt[:, None], y[keep] * wt, rcond=None)
            resid = y - (-sol[0] + sol[1] * bv)
            scale = 1.4826 * np.median(np.abs(resid[keep] / sig[keep]))
            new = ok & (np.abs(resid / sig) <= clip_sigma * max(scale, 1.0))
            if new.sum() < min_stars or np.array_equal(new, keep):
                break
            keep = new
        A = np.column_stack([-np.ones(keep.sum()), bv[keep]])
        wt = 1.0 / sig[keep]
        sol, *_ = np.linalg.lstsq(A * wt[:, None], y[keep] * wt, rcond=None)
        resid = y[keep] - (-sol[0] + sol[1] * bv[keep])
        dof = max(keep.sum() - 2, 1)
        chi2 = float(np.sum((resid * wt) ** 2) / dof)
        cov = np.linalg.inv((A * wt[:, None]).T @ (A * wt[:, None])) * max(chi2, 1.0)
        zps[c], cts[c] = float(sol[0]), float(sol[1])
        zpe[c], cte[c] = float(np.sqrt(cov[0, 0])), float(np.sqrt(cov[1, 1]))
        ns[c] = int(keep.sum())
        rms[c] = float(np.sqrt(np.mean(resid**2)))
    return Calibration(
        zps, zpe, cts, cte, ns, rms, dict(band_irradiance_w_m2 or VEGA_BAND_IRRADIANCE_W_M2), True, source
    )


def combine_calibrations(cals: list[Calibration], source: str) -> Calibration:
    """Inverse-variance mean of the constants of several frames of one sequence."""
    if len(cals) == 1:
        c = cals[0]
        return Calibration(
            c.zero_points,
            c.zero_point_err,
            c.colour_terms,
            c.colour_term_err,
            c.n_stars,
            c.rms_mag,
            c.band_irradiance_w_m2,
            c.through_window,
            source,
        )
    out = {}
    for key, ekey in (("zero_points", "zero_point_err"), ("colour_terms", "colour_term_err")):
        v, e = {}, {}
        for ch in CHANNELS:
            vals = np.array([getattr(c, key)[ch] for c in cals])
            errs = np.array([getattr(c, ekey)[ch] for c in cals])
            wgt = 1.0 / np.maximum(errs, 1e-4) ** 2
            v[ch] = float(np.sum(wgt * vals) / np.sum(wgt))
            e[ch] = float(1.0 / np.sqrt(np.sum(wgt)))
        out[key], out[ekey] = v, e
    ns = {ch: int(sum(c.n_stars[ch] for c in cals)) for ch in CHANNELS}
    rms = {ch: float(np.sqrt(np.mean([c.rms_mag[ch] ** 2 for c in cals]))) for ch in CHANNELS}
    return Calibration(
        out["zero_points"],
        out["zero_point_err"],
        out["colour_terms"],
        out["colour_term_err"],
        ns,
        rms,
        cals[0].band_irradiance_w_m2,
        all(c.through_window for c in cals),
        source,
    )
