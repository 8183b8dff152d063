"""The writers every capability shares: the georeferenced bundle of a frame (summary, footprint
GeoJSON and KML, ``georef.tif``, ``quicklook.png``) and ``pixels.csv``.

A capability computes its frame's :class:`~cupola.geometry.projection.Georeference` and hands it
here, so ``cupola geolocate``, ``cupola lightning solve`` and the ones to come write the same
files the same way. Writers write into a staging folder (:func:`cupola.io.staging.staged_output`);
the caller owns the folder and ``result.json``.
"""

from cupola.products.georef import GEOREF_SCHEMA, GeorefFrame, georef_summary, write_georef_bundle
from cupola.products.pixels import write_located_pixels

__all__ = ["GEOREF_SCHEMA", "GeorefFrame", "georef_summary", "write_georef_bundle", "write_located_pixels"]
