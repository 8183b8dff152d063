"""cupola: analysis of imagery from the ISS and other low orbits.

The front door: the few functions and types a notebook user needs, imported on first use (so
``import cupola`` stays fast). Each capability's package holds the rest.

* georeference a photo from its time, orbit and camera: :func:`geolocate` with a
  :class:`GeolocateRequest`; the result's :class:`Georeference` maps any pixel to the ground and
  back;
* find where a photo was taken by matching it against reference imagery: :func:`locate`;
* calibrate DSLR night frames into radiance and lamp colours: :func:`calibrate`;
* orient and locate photos or video from lightning detections: :func:`solve_lightning` with a
  :class:`LightningRequest`;
* heights from shadows and satellite side-sway angles: :func:`solve_shadows`;
* the building blocks: :func:`parse_time` (ISO 8601, zone required), :func:`element_set_at`
  (TLE file -> element set at a time), :func:`state_at` (ITRS state), :class:`Camera`,
  :class:`Pose`.

>>> import cupola
>>> t = cupola.parse_time("2013-08-05T02:56:39Z")
>>> r = cupola.solve_shadows(t, lat=31.23, lon=121.5, method="simple",
...                          measurement=cupola.Measurement(shadow_m=168, displacement_m=125.5))
>>> round(r.height_m, 1)
476.2
"""

from cupola._lazy import lazy_names

__version__ = "0.1.0"

_NAMES = {
    # georeference one photo
    "geolocate": "cupola.georef.job",
    "GeolocateRequest": "cupola.georef.job",
    "GeolocateResult": "cupola.georef.job",
    "Georeference": "cupola.geometry.projection",
    # localize a photo against reference imagery
    "locate": "cupola.locate.job:run_locate",
    "LocateOptions": "cupola.locate.localize",
    # night lights
    "calibrate": "cupola.nightlights.pipeline",
    "CalibrateOptions": "cupola.nightlights.pipeline",
    # lightning
    "solve_lightning": "cupola.lightning.job:run",
    "LightningRequest": "cupola.lightning.job",
    # shadows
    "solve_shadows": "cupola.shadows.method:solve",
    "Measurement": "cupola.shadows.method",
    # building blocks
    "parse_time": "cupola.geometry.times",
    "element_set_at": "cupola.io.tle",
    "state_at": "cupola.geometry.orbit",
    "Camera": "cupola.geometry.camera",
    "Pose": "cupola.geometry.attitude",
    "InputError": "cupola.errors",
    "NoSolutionError": "cupola.errors",
}

__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_names(__name__, _NAMES)
