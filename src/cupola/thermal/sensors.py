"""Thermal bands of the station's instruments, as :class:`~cupola.thermal.planck.SpectralResponse`.

No measured response file of these instruments is bundled (none could be obtained offline), so
each band is *modelled* from published numbers, and says so in its ``source``:

* **ECOSTRESS** (PHyTIR, five bands, ~70 m): Gaussian responses. Centres 8.285, 8.785, 9.060,
  10.522 and 12.001 µm as LP DAAC gives them for the ECO1BRAD radiances; full widths at half
  maximum 0.354, 0.310, 0.396, 0.410 and 0.611 µm, the nominal band widths quoted for the
  instrument (Hulley & Hook, ECOSTRESS L2 ATBD, band table; nominal values, not the measured
  responses). Since 15 May 2019 only bands 2, 4 and 5 are downlinked.
* **CTI** (Compact Thermal Imager, 82 m pixels): top-hat responses over the two ranges published
  for it, 3.3-5.4 µm (mid-wave) and 7.8-10.7 µm (long-wave).

A measured response (a CSV ``wavelength_um,response``) replaces any model:
:func:`cupola.io.spectral.read_spectral_response`.

>>> from cupola.thermal.sensors import band_response
>>> b = band_response("ecostress-4")
>>> round(b.centre_um, 3), b.source.split(":")[0]
(10.522, 'Gaussian model from published centre and nominal FWHM')
"""

from __future__ import annotations

from cupola.errors import InputError
from cupola.thermal.planck import SpectralResponse

__all__ = ["ECOSTRESS_BANDS_UM", "CTI_BANDS_UM", "band_response", "BAND_NAMES"]

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

BAND_NAMES = tuple(f"ecostress-{k}" for k in ECOSTRESS_BANDS_UM) + tuple(f"cti-{k}" for k in CTI_BANDS_UM)


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
