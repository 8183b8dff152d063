"""Exposure normalisation: DN per exposure -> signal per second at a reference ISO and f-number.

    rate = DN / t * (ISO_ref / ISO) * (N / N_ref)^2 / T_lens

with exposure time t (s), ISO speed, f-number N and lens transmission T_lens (1 unless given:
the star calibration of a frame absorbs the lens' transmission, so T_lens only matters when
constants are carried over to another lens). Sensor signal is proportional to ISO gain, to the
exposure time and to the aperture area, i.e. to 1/N^2 (Sánchez de Miguel et al. 2021, "Colour
remote sensing of the impact of artificial light at night (II)", Remote Sens. Environ. 264,
112611, the radiometric-correction step).
"""

from __future__ import annotations

from dataclasses import dataclass

from cupola.errors import InputError

__all__ = ["Exposure", "REFERENCE_ISO", "REFERENCE_F_NUMBER", "exposure_from_metadata"]

#: reference ISO speed of normalised signals
REFERENCE_ISO = 100.0
#: reference f-number of normalised signals
REFERENCE_F_NUMBER = 1.0


@dataclass(frozen=True)
class Exposure:
    exposure_s: float
    iso: float
    f_number: float
    lens_transmission: float = 1.0

    @property
    def rate_factor(self) -> float:
        """Multiply DN by this to get DN/s at ISO 100, f/1."""
        return (
            (REFERENCE_ISO / self.iso)
            * (self.f_number / REFERENCE_F_NUMBER) ** 2
            / (self.exposure_s * self.lens_transmission)
        )

    def to_dict(self) -> dict:
        return {
            "exposure_s": self.exposure_s,
            "iso": self.iso,
            "f_number": self.f_number,
            "lens_transmission": self.lens_transmission,
            "reference_iso": REFERENCE_ISO,
            "reference_f_number": REFERENCE_F_NUMBER,
            "rate_factor": self.rate_factor,
        }


def exposure_from_metadata(
    meta,
    *,
    exposure_s: float | None = None,
    iso: float | None = None,
    f_number: float | None = None,
    lens_transmission: float = 1.0,
) -> Exposure:
    """Exposure from EXIF, each value overridable; a missing one raises :class:`InputError`."""
    values = {}
    for name, given in (("exposure_s", exposure_s), ("iso", iso), ("f_number", f_number)):
        v = given if given is not None else getattr(meta, name)
        exif = {"exposure_s": "ExposureTime", "iso": "ISOSpeedRatings", "f_number": "FNumber"}[name]
        if v is None:
            raise InputError(f"{meta.path}: EXIF {exif} missing, needed to normalise the exposure; give `{name}`")
        if not v > 0:
            raise InputError(f"{meta.path}: {exif} must be positive, got {v!r}")
        values[name] = float(v)
    if not 0 < lens_transmission <= 1.0:
        raise InputError(f"lens transmission must be in (0, 1], got {lens_transmission:g}")
    return Exposure(lens_transmission=lens_transmission, **values)
