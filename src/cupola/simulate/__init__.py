"""Scene and case generators for tests and benchmarks.

Each generator says in its docstring whether it reuses cupola's forward model or is an independent
one kept on purpose as a check.

* :mod:`cupola.simulate.lightning`: lightning scenes seen from the ISS (flashes, network and mapper
  events, detections, rendered frames or video);
* :mod:`cupola.simulate.nightlights`: DSLR night frames as DNG (stars, city lights, sensor effects);
* :mod:`cupola.simulate.locate_cases`: photo-localization cases cut from reference imagery;
* :mod:`cupola.simulate.urban_nightlights`: zones, population and a night-light raster of stated
  make-up for the zone analysis (uses cupola's own zonal geometry to build them).

The generators live in these modules (each with its own ``__all__``); importing the package
imports none of them.

>>> from cupola.simulate.lightning import SceneSpec
>>> SceneSpec().n_frames >= 1
True
"""

__all__ = ["lightning", "nightlights", "locate_cases"]
