"""The colours cupola's figures share, so a footprint or a ground track looks the same everywhere."""

from __future__ import annotations

#: sea and lakes on a base map with land polygons
OCEAN = "#d6e6f2"
#: land on a base map
LAND = "#f3f0e8"
#: background of a map drawn with coastlines only (no land polygons)
MAP_BACKGROUND = "#e8eef3"
#: shorelines (coasts and lakes)
COAST = "#5a6670"
#: country borders
BORDER = "#6b4f7a"
#: photo footprint fill and outline
FOOTPRINT = "#f05a28"
FOOTPRINT_EDGE = "#c0390b"
#: the ISS ground track and sub-point
TRACK = "#1f4e9c"
#: footprint centre marker
CENTRE = "#7a1010"
#: landmarks
POINT = "#1a1a1a"
#: frames of close-up panels and their locator rectangles
FRAME = "#222222"
#: map grid lines
GRID = "#8a9aa8"
#: R, G, B channels
CHANNEL = {"R": "#d62728", "G": "#2ca02c", "B": "#1f77b4"}
