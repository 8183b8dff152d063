"""Plain-language descriptions of a georeferencing or localization result: countries and regions
in view with their shares of the footprint, cities, water and coasts, sun, season, viewing geometry
and scale, from offline sources only (see :mod:`cupola.describe.places`)."""

from cupola.describe.facts import describe_result, load_result
from cupola.describe.text import paragraph

__all__ = ["describe_result", "load_result", "paragraph"]
