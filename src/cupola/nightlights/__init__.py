"""DSLR night images from the ISS: RAW decoding, lens and flat-field correction, calibration on
the stars in the frame (plate solving, photometry), radiance, colour ratios and lamp classes,
georeferenced products. Names are imported on first use.

>>> from cupola.nightlights import CalibrateOptions, RadianceSettings
>>> CalibrateOptions().stars, RadianceSettings().atmosphere
('auto', True)
"""

from cupola._lazy import lazy_names

_NAMES = {
    "calibrate": "cupola.nightlights.pipeline",
    "CalibrateOptions": "cupola.nightlights.pipeline",
    "SequenceResult": "cupola.nightlights.pipeline",
    "write_products": "cupola.nightlights.products",
    "RadianceSettings": "cupola.nightlights.radiance",
    "Calibration": "cupola.nightlights.photometry",
    "read_calibration": "cupola.nightlights.photometry",
    "read_raw": "cupola.nightlights.raw",
    "classify_lamps": "cupola.analysis.lamp_colour",
    "lamp_probabilities": "cupola.analysis.lamp_colour",
    "colour_ratios": "cupola.analysis.lamp_colour",
}

__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_names(__name__, _NAMES)
