"""Thermal bands of the station's instruments, as :class:`~cupola.thermal.planck.SpectralResponse`.

No measured response file of these instruments is bundled (none could be obtained offline), so
each band is *modelled* from published numbers, and says so in its ``source``:

* **ECOSTRESS** (PHyTIR, five bands, ~70 m): Gaussian responses. Centres 8.285, 8.785, 9.060,
  10.522 and 12.001 µm as LP DAAC gives them for the ECO1BRAD radiances; full widths at half
  maximum 0.354, 0.310, 0.396, 0.410 and 0.611 µm, the nominal band widths quoted for the
  instrument (Hulley & Hook, ECOSTRESS L2 ATBD, band table; nominal values, not the measured
  responses). Since 15 May 2019 only bands 2, 4 and 5 are downlinked.
* **CTI** (Compact Thermal Imager, 82 m pixels): top-hat responses over its two ranges,
  3.3-5.4 µm (mid-wave, ``cti-mwir``) and 7.8-10.7 µm (long-wave, ``cti-lwir``), as the project's
  issue 16 quotes them (not checked against an instrument paper here: none was reachable offline,
  and we found no published response curve of its filters or detector), so the top-hat is the
  simplest model that keeps the band edges; its central-wavelength error is large (see ``bt``).
* **Landsat 8 TIRS** (for the split window's published coefficients): Gaussian responses, band 10
  centred at 10.9 µm (FWHM 0.59 µm, the 10.60-11.19 µm band) and band 11 at 12.0 µm (FWHM
  1.01 µm, 11.50-12.51 µm), from the USGS band table (nominal edges, not the measured responses).

A measured response (a CSV ``wavelength_um,response``) replaces any model:
:func:`read_spectral_response`.

>>> from cupola.thermal.sensors import band_response
>>> b = band_response("ecostress-4")
>>> round(b.centre_um, 3), b.source.split(":")[0]
(10.522, 'Gaussian model from published centre and nominal FWHM')
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.io.limits import regular_file
from cupola.io.tables import read_table
from cupola.thermal.planck import SpectralResponse

__all__ = [
    "ECOSTRESS_BANDS_UM",
    "CTI_BANDS_UM",
    "CTI_PIXEL_M",
    "LANDSAT8_TIRS_BANDS_UM",
    "band_response",
    "BAND_NAMES",
    "read_spectral_response",
]

#: ECOSTRESS band -> (centre µm, nominal FWHM µm); see the module for the sources
ECOSTRESS_BANDS_UM: dict[int, tuple[float, float]] = {
    1: (8.285, 0.354),
    2: (8.785, 0.310),
    3: (9.060, 0.396),
    4: (10.522, 0.410),
    5: (12.001, 0.611),
}
#: CTI band -> (low µm, high µm)
CTI_BANDS_UM: dict[str, tuple[float, float]] = {"mwir": (3.3, 5.4), "lwir": (7.8, 10.7)}
#: CTI pixel size at nadir (m)
CTI_PIXEL_M = 82.0
#: Landsat 8 TIRS band -> (centre µm, FWHM µm), from the USGS band edges (nominal)
LANDSAT8_TIRS_BANDS_UM: dict[int, tuple[float, float]] = {10: (10.9, 0.59), 11: (12.0, 1.01)}

BAND_NAMES = (
    tuple(f"ecostress-{k}" for k in ECOSTRESS_BANDS_UM)
    + tuple(f"cti-{k}" for k in CTI_BANDS_UM)
    + tuple(f"landsat8-{k}" for k in LANDSAT8_TIRS_BANDS_UM)
)


def band_response(name: str) -> SpectralResponse:
    """The modelled response of a named band (:data:`BAND_NAMES`), or one given as
    ``gaussian:CENTRE_UM:FWHM_UM`` or ``tophat:LOW_UM:HIGH_UM``."""
    key = name.strip().lower()
    if key.startswith("ecostress-") and key[10:].isdigit() and int(key[10:]) in ECOSTRESS_BANDS_UM:
        k = int(key[10:])
        c, w = ECOSTRESS_BANDS_UM[k]
        return SpectralResponse.gaussian(
            key,
            c,
            w,
            source=f"Gaussian model from published centre and nominal FWHM: ECOSTRESS band {k}, {c} µm, FWHM {w} µm",
        )
    if key.startswith("cti-") and key[4:] in CTI_BANDS_UM:
        lo, hi = CTI_BANDS_UM[key[4:]]
        return SpectralResponse.top_hat(key, lo, hi, source=f"top-hat model of the published CTI range {lo}-{hi} µm")
    if key.startswith("landsat8-") and key[9:].isdigit() and int(key[9:]) in LANDSAT8_TIRS_BANDS_UM:
        k = int(key[9:])
        c, w = LANDSAT8_TIRS_BANDS_UM[k]
        return SpectralResponse.gaussian(
            key, c, w, source=f"Gaussian model of the USGS band edges: Landsat 8 TIRS band {k}, {c} µm, FWHM {w} µm"
        )
    parts = key.split(":")
    if len(parts) == 3 and parts[0] in ("gaussian", "tophat"):
        try:
            a, b = float(parts[1]), float(parts[2])
        except ValueError:
            a = b = float("nan")
        if a == a and b == b:
            if parts[0] == "gaussian":
                return SpectralResponse.gaussian(key, a, b)
            return SpectralResponse.top_hat(key, a, b)
    raise InputError(
        f"`band` {name!r}: unknown band; use one of {', '.join(BAND_NAMES)}, gaussian:CENTRE_UM:FWHM_UM, "
        "tophat:LOW_UM:HIGH_UM or a response file (CSV wavelength_um,response)"
    )


def read_spectral_response(path: str | os.PathLike, name: str | None = None):
    """The :class:`~cupola.thermal.planck.SpectralResponse` in ``path``, a CSV with columns
    ``wavelength_um`` (or ``wavelength_nm``, converted) and ``response`` (relative, any scale), read
    through :func:`cupola.io.tables.read_table`; sorted by wavelength.

    >>> from pathlib import Path
    >>> _ = Path("b.csv").write_text("wavelength_um,response\\n10.0,0\\n10.5,1\\n11.0,0\\n")
    >>> r = read_spectral_response("b.csv")
    >>> r.name, round(r.centre_um, 3)
    ('b', 10.5)
    """
    p = regular_file(path, "a spectral response (CSV wavelength_um,response)")
    table = read_table(p, "spectral response", required=("response",), optional=("wavelength_um", "wavelength_nm"))
    if not (table.has("wavelength_um") or table.has("wavelength_nm")):
        raise InputError(f"{p}: needs a column wavelength_um (or wavelength_nm) beside response")
    unit = "wavelength_um" if table.has("wavelength_um") else "wavelength_nm"
    w = np.array([row.number(unit) for row in table], dtype=np.float64)
    r = np.array([row.number("response") for row in table], dtype=np.float64)
    if unit == "wavelength_nm":
        w = w / 1000.0
    order = np.argsort(w, kind="stable")
    try:
        return SpectralResponse(name or Path(p).stem, w[order], r[order], source=f"measured response file {p}")
    except InputError as exc:
        raise InputError(f"{p}: {exc}") from None
