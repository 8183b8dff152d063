"""Georeferencing of one photo: time + orbit + camera + attitude -> every pixel on the ground."""

from cupola.georef.job import GeolocateRequest, GeolocateResult, geolocate, write_products

__all__ = ["GeolocateRequest", "GeolocateResult", "geolocate", "write_products"]
