"""File formats only: photos, their EXIF and their sRGB encoding, RAW and DNG, TLE files, tables
(tie points, pixels), GeoTIFF, GeoJSON and KML, coastlines; bounded reading of inputs and
all-or-nothing output folders. Every reader raises :class:`~cupola.errors.InputError` naming the
file. Names are imported on first use.

>>> from cupola.io import regular_file
>>> regular_file("no/such/file.csv", "a table")
Traceback (most recent call last):
...
cupola.errors.InputError: no/such/file.csv: file not found; expected a table
"""

from cupola._lazy import lazy_names

_NAMES = {
    "regular_file": "cupola.io.limits",
    "read_bytes_bounded": "cupola.io.limits",
    "check_pixel_budget": "cupola.io.limits",
    "read_tle_file": "cupola.io.tle",
    "TleFile": "cupola.io.tle",
    "element_set_at": "cupola.io.tle",
    "PhotoInfo": "cupola.io.images",
    "read_photo_info": "cupola.io.images",
    "read_photo": "cupola.io.images",
    "srgb_to_linear": "cupola.io.srgb",
    "linear_to_srgb": "cupola.io.srgb",
    "TiePoints": "cupola.io.tables",
    "read_tie_points": "cupola.io.tables",
    "read_pixels": "cupola.io.tables",
    "write_pixels_csv": "cupola.io.tables",
    "write_georeferenced_cog": "cupola.io.geotiff",
    "write_image_tiff": "cupola.io.geotiff",
    "write_footprint_geojson": "cupola.io.vector",
    "write_footprint_kml": "cupola.io.vector",
    "atomic_write": "cupola.io.atomic",
    "staged_output": "cupola.io.staging",
}

__all__ = sorted(_NAMES)
__getattr__, __dir__ = lazy_names(__name__, _NAMES)
