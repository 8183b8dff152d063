"""Heights from two overlapping photos taken seconds apart (stereo from the station's motion).

Two photos with their poses (from ``cupola geolocate`` or ``cupola locate`` results, or attitudes
and the orbit) are rectified from the poses, their relative orientation refined, matched densely
(semi-global matching, then least-squares sub-pixel refinement with a precision for every pixel)
and triangulated on the WGS84 ellipsoid into a DEM with the predicted height precision of every
cell (see docs/stereo.md). Names are imported on first use.

>>> from cupola.stereo import StereoOptions
>>> StereoOptions().height_range_m
(-500.0, 9000.0)
"""

from cupola._lazy import lazy_names

_NAMES = {
    "StereoOptions": "cupola.stereo.job",
    "StereoRequest": "cupola.stereo.job",
    "StereoResult": "cupola.stereo.job",
    "compute_stereo": "cupola.stereo.job",
    "run_stereo": "cupola.stereo.job",
    "write_products": "cupola.stereo.job",
    "MatchSettings": "cupola.stereo.matching",
}

__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_names(__name__, _NAMES)
