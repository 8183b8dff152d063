"""Hazard mapping from before/after pairs: floods, burn scars, active fires and generic change, in the
style of Copernicus EMS rapid mapping and UN-SPIDER's recommended practices.

Pure computation lives in :mod:`~cupola.hazards.threshold` (Otsu), :mod:`~cupola.hazards.indices`
(water and burn indices), :mod:`~cupola.hazards.normalise` (radiometric normalisation),
:mod:`~cupola.hazards.change` (change-vector analysis, flood and burn layers with a per-pixel
confidence), :mod:`~cupola.hazards.fire` (contextual thermal anomaly test),
:mod:`~cupola.hazards.frp` (fire radiative power), :mod:`~cupola.hazards.depth` (flood depth from
a DEM, FwDET), :mod:`~cupola.hazards.grading` (grades) and :mod:`~cupola.hazards.polygons`
(hazard polygons with equal-area areas); file access in
:mod:`~cupola.hazards.pair` (reading and co-registering the pair) and
:mod:`~cupola.hazards.products` (writers).
"""
