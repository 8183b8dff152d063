"""STAC for cupola products: every product folder (a result.json with a footprint, and where they
exist georef.tif, quicklook.png, footprint.geojson) as a STAC Item, and a static STAC Collection of
many folders with thumbnails, validated offline against the core STAC schemas."""

from cupola.catalog.build import BuildReport, build_catalog
from cupola.catalog.items import product_item
from cupola.catalog.validate import validate_stac

__all__ = ["BuildReport", "build_catalog", "product_item", "validate_stac"]
