"""Lamp spectra as a DSLR on the ISS sees them: synthetic colour ratios and light-quality indices.

Pure computation on arrays (no file I/O): a lamp's spectral power distribution (SPD) is put on a
common wavelength grid, multiplied by the transmission of a typical atmosphere (one vertical
path) and of the station's window, and integrated against each camera channel's spectral
sensitivity. The ratios of the channel signals, G/R and B/G, are what
:mod:`cupola.analysis.lamp_colour` classifies; ``tools/lamp_ratios.py`` computes them for the lamp
library of Sánchez de Miguel et al. into ``cupola/data/lamps/``.

Grid
    :data:`WAVELENGTH_NM`, 360-830 nm, 1 nm bins (centres). Spectra are rebinned by integrating
    them on their own sampling (:func:`rebin_spd`), so that a line narrower than a bin keeps its
    power; the smooth response curves are interpolated at the bin centres.

Atmosphere (:func:`atmosphere_transmission`)
    Rayleigh optical depth of Bodhaine et al. (1999, J. Atmos. Ocean. Technol. 16, 1854-1861,
    eq. 30: sea level, 1013.25 hPa, 45 deg latitude, 360 ppm CO2) scaled by the surface pressure,
    plus aerosol with an Ångström law ``tau_550 (lambda / 550 nm)^-alpha``; defaults
    ``tau_550 = 0.1``, ``alpha = 1.3``, a clear continental night (Ångström 1929). Ozone's
    Chappuis band (~0.03 at 600 nm for 300 DU), water vapour and O2 bands are left out. The path
    is vertical (airmass 1); pass ``airmass`` for slant views.

Window (:func:`window_transmission`)
    An approximation, not a measurement: the Destiny (WORF) science window of three fused-silica
    panes is specified at more than 90 % transmission between about 400 and 750 nm and more than
    50 % from 310 to 1375 nm (Scott et al. 1999, AIP Conf. Proc. 458, doi:10.1063/1.57552). No
    spectral curve of the Cupola's coated fused-silica and borosilicate panes is published; both
    are modelled by the same smooth curve: 0.50 at 310 nm, 0.90 at 400 nm, 0.92 from 420 to
    750 nm, 0.90 at 830 nm (0.92 is the grey value of :mod:`cupola.nightlights.radiance`). Being
    nearly grey in the camera's range, it changes G/R and B/G by less than 1 %.

Indices (:func:`light_indices`), per SPD (radiometric, W per nm in relative units)
    * ``sp_ratio``: scotopic/photopic ratio ``1699 int(S V') / (683 int(S V))`` (CIE 1951
      scotopic and CIE 1924 photopic luminous efficiency functions, from ``colour-science``);
    * ``sli``: star light index of Aubé et al. (2013): ``int(S V')`` of the lamp over that of
      CIE D65 at equal photopic flux, i.e. S/P relative to D65;
    * ``mel_der``: melanopic daylight efficacy ratio of CIE S 026/E:2018: the melanopic
      irradiance per lux over that of D65. It is the melatonin suppression index (MSI) of
      Aubé et al. (2013), ``int(S M) / int(D65 M)`` at equal photopic flux, with the CIE S 026
      melanopic action spectrum for M (Aubé et al. used a fit to the melatonin suppression data
      of Brainard et al. 2001 and Thapan et al. 2001, so their MSI values differ by a few per cent);
    * ``cct_k``: correlated colour temperature from the CIE 1960 (u, v) of the SPD with the CIE
      1931 2-degree observer, Ohno (2013) method; ``duv`` the distance from the Planckian locus.
      CCT is defined for near-white light only: where ``|duv| > 0.05`` (sodium, monochromatic LEDs)
      it is still given but means little.

Example
-------
>>> import numpy as np
>>> wl = np.arange(380.0, 781.0, 5.0)
>>> spd = planck_spd(wl, 2700.0)
>>> r = np.interp(wl, [380, 560, 600, 680, 780], [0, 0, 1, 0.2, 0])  # toy camera
>>> g = np.interp(wl, [380, 480, 530, 600, 780], [0, 0, 1, 0, 0])
>>> b = np.interp(wl, [380, 420, 460, 520, 780], [0, 0, 1, 0, 0])
>>> cam = CameraResponse("toy", wl, r, g, b)
>>> gr, bg = camera_ratios(wl, spd, cam)
>>> bool(0 < bg < gr < 1)
True
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

__all__ = [
    "WAVELENGTH_NM",
    "CameraResponse",
    "rebin_spd",
    "rayleigh_optical_depth",
    "aerosol_optical_depth",
    "atmosphere_transmission",
    "window_transmission",
    "planck_spd",
    "channel_signals",
    "camera_ratios",
    "A0V_TEMPERATURE_K",
    "a0v_ratios",
    "LightIndices",
    "light_indices",
    "melanopic_action_spectrum",
    "photopic_integral",
]

#: Bin centres of the common wavelength grid, nm (1 nm bins, 360-830 nm: the CIE functions' range)
WAVELENGTH_NM = np.arange(360.0, 831.0, 1.0)
_EDGES_NM = np.append(WAVELENGTH_NM - 0.5, WAVELENGTH_NM[-1] + 0.5)

#: Second radiation constant c2 = h c / k, m K (CODATA 2018)
_C2_M_K = 1.438776877e-2
#: Maximum luminous efficacy of photopic and scotopic vision, lm/W (CIE)
_KM_LM_W = 683.0
_KM_SCOTOPIC_LM_W = 1699.0

# Window transmission nodes (wavelength nm, transmission): see the module docstring
_WINDOW_NODES = ((300.0, 0.45), (310.0, 0.50), (400.0, 0.90), (420.0, 0.92), (750.0, 0.92), (830.0, 0.90))


@dataclass(frozen=True)
class CameraResponse:
    """Relative spectral sensitivity of the R, G and B channels of a camera at ``wavelength_nm``.

    The curves keep the scale they were published with (here each channel's peak is 1), so
    synthetic ratios are in that camera's own system: compare them with ratios computed the
    same way, not with raw counts of another camera.
    """

    name: str
    wavelength_nm: np.ndarray
    r: np.ndarray
    g: np.ndarray
    b: np.ndarray

    def on_grid(self, grid_nm: np.ndarray = WAVELENGTH_NM) -> np.ndarray:
        """(3, n) R, G, B sensitivity at ``grid_nm`` (zero outside the measured range; negative
        values of a noisy measurement clipped to zero)."""
        wl = np.asarray(self.wavelength_nm, float)
        order = np.argsort(wl)
        out = [
            np.interp(grid_nm, wl[order], np.asarray(c, float)[order], left=0.0, right=0.0)
            for c in (self.r, self.g, self.b)
        ]
        return np.clip(np.stack(out), 0.0, None)


def rebin_spd(wavelength_nm, power, grid_nm: np.ndarray = WAVELENGTH_NM) -> np.ndarray:
    """Mean spectral power of an SPD in 1 nm bins centred on ``grid_nm``, flux-conserving.

    The SPD (``power`` per nm at ``wavelength_nm``, any sampling, sorted or not) is integrated on
    its own sampling with the trapezoid rule and the cumulative integral is read at the bin
    edges, so narrow emission lines keep their power whatever the sampling. Zero outside the
    measured range; NaN samples count as zero; negative samples (noise of a dark-subtracted
    measurement) are kept so that the noise averages out.
    """
    wl = np.asarray(wavelength_nm, float)
    p = np.nan_to_num(np.asarray(power, float), nan=0.0)
    if wl.shape != p.shape or wl.ndim != 1 or wl.size < 2:
        raise ValueError(f"wavelength_nm and power must be 1-D of the same length >= 2, got {wl.shape} and {p.shape}")
    order = np.argsort(wl, kind="stable")
    wl, p = wl[order], p[order]
    keep = np.append(True, np.diff(wl) > 0)  # a repeated wavelength: keep the first sample
    wl, p = wl[keep], p[keep]
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] + p[:-1]) * np.diff(wl))])
    grid = np.asarray(grid_nm, float)
    edges = np.append(grid - 0.5, grid[-1] + 0.5)
    at_edges = np.interp(edges, wl, cum)  # constant outside: no power beyond the measured range
    return np.diff(at_edges) / np.diff(edges)


def rayleigh_optical_depth(wavelength_nm, pressure_hpa: float = 1013.25):
    """Rayleigh optical depth of the whole atmosphere at ``wavelength_nm``.

    Bodhaine et al. (1999), eq. 30 (sea level at 1013.25 hPa, 45 deg latitude, 360 ppm CO2),
    scaled linearly with the surface pressure ``pressure_hpa``.

    >>> round(float(rayleigh_optical_depth(500.0)), 4)
    0.1434
    """
    lam_um = np.asarray(wavelength_nm, float) / 1000.0
    l2 = lam_um**2
    tau = 0.0021520 * (1.0455996 - 341.29061 / l2 - 0.90230850 * l2) / (1.0 + 0.0027059889 / l2 - 85.968563 * l2)
    return tau * (pressure_hpa / 1013.25)


def aerosol_optical_depth(wavelength_nm, tau_550: float = 0.1, angstrom_alpha: float = 1.3):
    """Aerosol optical depth ``tau_550 (lambda / 550 nm)^-angstrom_alpha`` (Ångström 1929)."""
    return tau_550 * (np.asarray(wavelength_nm, float) / 550.0) ** (-angstrom_alpha)


def atmosphere_transmission(
    wavelength_nm,
    *,
    tau_550: float = 0.1,
    angstrom_alpha: float = 1.3,
    pressure_hpa: float = 1013.25,
    airmass: float = 1.0,
):
    """Direct transmission ``exp(-airmass (tau_Rayleigh + tau_aerosol))`` of a path through the
    atmosphere from the ground to space (defaults: vertical, clear night; see the module
    docstring)."""
    tau = rayleigh_optical_depth(wavelength_nm, pressure_hpa) + aerosol_optical_depth(
        wavelength_nm, tau_550, angstrom_alpha
    )
    return np.exp(-airmass * tau)


def window_transmission(wavelength_nm):
    """Assumed transmission of the station's window (Destiny/WORF or Cupola) at ``wavelength_nm``:
    a smooth approximation of the WORF window's specification (module docstring), not a
    measured curve."""
    nodes = np.array(_WINDOW_NODES)
    return np.interp(np.asarray(wavelength_nm, float), nodes[:, 0], nodes[:, 1])


def planck_spd(wavelength_nm, temperature_k: float):
    """Spectral radiance of a blackbody at ``temperature_k``, relative (peak-free scale: divided by
    its value at 560 nm), per unit wavelength."""
    lam_m = np.asarray(wavelength_nm, float) * 1e-9
    ref_m = 560e-9
    shape = lam_m**-5 / np.expm1(_C2_M_K / (lam_m * temperature_k))
    return shape / (ref_m**-5 / np.expm1(_C2_M_K / (ref_m * temperature_k)))


def _path_transmission(grid_nm, window: bool, atmosphere: bool, atmosphere_kw: dict | None) -> np.ndarray:
    t = np.ones_like(grid_nm)
    if window:
        t = t * window_transmission(grid_nm)
    if atmosphere:
        t = t * atmosphere_transmission(grid_nm, **(atmosphere_kw or {}))
    return t


def channel_signals(
    wavelength_nm,
    power,
    camera: CameraResponse,
    *,
    window: bool = True,
    atmosphere: bool = True,
    atmosphere_kw: dict | None = None,
) -> np.ndarray:
    """(3,) R, G, B signals (relative units) of an SPD seen from the ISS: SPD x atmosphere x
    window x channel sensitivity, integrated over :data:`WAVELENGTH_NM` (1 nm bins).

    ``window`` / ``atmosphere`` False leave that transmission out; ``atmosphere_kw`` goes to
    :func:`atmosphere_transmission` (``tau_550``, ``angstrom_alpha``, ``pressure_hpa``,
    ``airmass``).
    """
    spd = rebin_spd(wavelength_nm, power)
    t = _path_transmission(WAVELENGTH_NM, window, atmosphere, atmosphere_kw)
    # bins of 1 nm: the sum is the integral; a channel with no real light can integrate the noise of
    # a dark-subtracted spectrum to a negative value: it saw nothing (as colour_ratios' negative B)
    return np.maximum(camera.on_grid(WAVELENGTH_NM) @ (spd * t), 0.0)


def camera_ratios(wavelength_nm, power, camera: CameraResponse, **kwargs) -> tuple[float, float]:
    """(G/R, B/G) of an SPD through ``camera`` as seen from the ISS (:func:`channel_signals`).

    NaN where the denominator's signal is not positive; B/G is 0 where B integrates to nothing.
    """
    r, g, b = channel_signals(wavelength_nm, power, camera, **kwargs)
    gr = g / r if r > 0 else np.nan
    bg = b / g if g > 0 else np.nan
    return float(gr), float(bg)


#: Colour temperature, K, of the blackbody standing in for an A0 V star (Vega: T_eff ~ 9600 K)
A0V_TEMPERATURE_K = 9600.0


def a0v_ratios(camera: CameraResponse) -> tuple[float, float]:
    """(G/R, B/G) of an A0 V star (B-V = 0, the zero of the star calibration) through ``camera``
    and the window, above the atmosphere: a blackbody at :data:`A0V_TEMPERATURE_K`.

    The blackbody leaves out the star's Balmer lines and jump; 9000-10500 K move the ratios by
    -2 to +3 %, less than the spread of real A0 V stars' colours.
    """
    return camera_ratios(WAVELENGTH_NM, planck_spd(WAVELENGTH_NM, A0V_TEMPERATURE_K), camera, atmosphere=False)


@dataclass(frozen=True)
class LightIndices:
    """Light-quality indices of one SPD (see the module docstring for the definitions)."""

    sp_ratio: float
    sli: float
    mel_der: float
    cct_k: float
    duv: float


@lru_cache(maxsize=1)
def melanopic_action_spectrum() -> tuple[np.ndarray, np.ndarray]:
    """(wavelength nm, s_mel) the CIE S 026/E:2018 melanopic action spectrum (peak 1 at 490 nm),
    380-780 nm in 5 nm steps, from the copy in ``cupola/data/lamps/cie_s026_melanopic.csv``."""
    text = (resources.files("cupola") / "data" / "lamps" / "cie_s026_melanopic.csv").read_text(encoding="utf-8")
    rows = [ln.split(",") for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    data = np.array([[float(a), float(b)] for a, b in rows[1:]])
    return data[:, 0], data[:, 1]


@lru_cache(maxsize=1)
def _cie_functions() -> dict[str, np.ndarray]:
    """The CIE functions on :data:`WAVELENGTH_NM` (zero outside their tabulated range)."""
    import colour  # colour-science: imported on first use (about 1 s)

    def on_grid(sd) -> np.ndarray:
        return np.interp(WAVELENGTH_NM, sd.wavelengths, sd.values, left=0.0, right=0.0)

    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]
    xyz = np.stack(
        [np.interp(WAVELENGTH_NM, cmfs.wavelengths, cmfs.values[:, k], left=0.0, right=0.0) for k in range(3)]
    )
    wl_mel, s_mel = melanopic_action_spectrum()
    d65 = colour.SDS_ILLUMINANTS["D65"]
    return {
        "V": on_grid(colour.colorimetry.SDS_LEFS_PHOTOPIC["CIE 1924 Photopic Standard Observer"]),
        "V'": on_grid(colour.colorimetry.SDS_LEFS_SCOTOPIC["CIE 1951 Scotopic Standard Observer"]),
        "mel": np.interp(WAVELENGTH_NM, wl_mel, s_mel, left=0.0, right=0.0),
        "xyz": xyz,
        "D65": np.interp(WAVELENGTH_NM, d65.wavelengths, d65.values, left=0.0, right=0.0),
    }


def photopic_integral(wavelength_nm, power) -> float:
    """``int(S V) d lambda`` of an SPD (``power`` per nm), CIE 1924 photopic V(lambda); times
    683 lm/W it is the luminous flux of an SPD in W/nm."""
    return float(_cie_functions()["V"] @ rebin_spd(wavelength_nm, power))


def light_indices(wavelength_nm, power) -> LightIndices:
    """S/P ratio, star light index, melanopic DER and CCT of an SPD (module docstring)."""
    import colour

    f = _cie_functions()
    spd = rebin_spd(wavelength_nm, power)
    phot, scot, mel = (max(float(f[k] @ spd), 0.0) for k in ("V", "V'", "mel"))  # noise can integrate < 0
    d65 = f["D65"]
    d_phot, d_scot, d_mel = f["V"] @ d65, f["V'"] @ d65, f["mel"] @ d65
    if not phot > 0:
        nan = float("nan")
        return LightIndices(nan, nan, nan, nan, nan)
    xyz = f["xyz"] @ spd
    uv = colour.xy_to_UCS_uv(colour.XYZ_to_xy(xyz))
    with warnings.catch_warnings():  # far from the Planckian locus (red LED): CCT means little anyway
        warnings.simplefilter("ignore")
        cct, duv = colour.uv_to_CCT(uv, method="Ohno 2013")
    return LightIndices(
        sp_ratio=float(_KM_SCOTOPIC_LM_W * scot / (_KM_LM_W * phot)),
        sli=float((scot / phot) / (d_scot / d_phot)),
        mel_der=float((mel / phot) / (d_mel / d_phot)),
        cct_k=float(cct),
        duv=float(duv),
    )
