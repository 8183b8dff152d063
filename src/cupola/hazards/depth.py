"""Flood depth from a flood extent and a terrain model (DEM), after FwDET, the Floodwater Depth
Estimation Tool (Cohen et al. 2018, "Estimating floodwater depths from flood inundation maps and
topography", J. Am. Water Resour. Assoc. 54(4), 847-858; version 2.0: Cohen et al. 2019, Nat.
Hazards Earth Syst. Sci. 19, 2053-2065).

The water surface meets the ground at the edge of the flood, so the ground elevation of each edge
pixel is the water-surface elevation there (FwDET; ``edge="wet"``). Every flooded pixel takes the
water-surface elevation of its nearest edge pixel (Euclidean allocation), and its depth is that
minus its ground elevation (negative depths, ground above the estimated water surface, become 0).
As in FwDET 2.0, edge pixels that touch no dry land (the image's edge, no-data, permanent water
given as ``exclude``) are not edges of the flood and are not used.

The water line lies between the last wet pixel and the first dry one, so the edge pixel's own
elevation is biased low by up to a pixel's rise of the bank (about half of it on average): the
default ``edge="midpoint"`` takes the mean of the edge pixel's elevation and that of its lowest
dry neighbour (never below the edge pixel's own), which removes most of that bias on a sloping
bank. Two more changes reduce it: edge pixels are those with a dry 4-neighbour (with 8, pixels
that touch dry land only at a corner, deeper in, are edges too), and each edge pixel's surface is
the mean over the edge pixels of a 5 x 5 window (the nearest edge pixel of an inner pixel is
preferentially a deeper one; FwDET 2.0 likewise smooths with focal statistics). Chosen on a real
DEM in docs/hazards.md; ``edge="wet", connectivity=8, smooth_px=1`` is plain FwDET 1.0.

Limits: the depth is only as good as the extent at the edges (an edge pixel one pixel too far out
sits on the dry slope and raises the surface by the slope times the pixel size) and as the DEM (its
vertical error enters the depth directly; a DEM with the water surface in it, e.g. an SRTM of a
river, gives depths above that surface); a water surface that is not flat between edges (a river
profile) is followed only as far as the nearest edge represents it.

>>> dem = np.tile(np.abs(np.arange(9.0) - 4), (5, 1))   # a V-shaped valley, 0 m at its axis
>>> flood = dem < 2.5
>>> flood_depth_m(flood, dem, edge="wet", smooth_px=1).depth_m[2].tolist()
[nan, nan, 0.0, 1.0, 2.0, 1.0, 0.0, nan, nan]
>>> flood_depth_m(flood, dem, smooth_px=1).depth_m[2].tolist()   # the water line half-way up
[nan, nan, 0.5, 1.5, 2.5, 1.5, 0.5, nan, nan]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FloodDepth", "flood_depth_m", "DEPTH_CLASSES_M"]

#: depth classes of the graded flood map (lower bound m, name); legend bins, not a standard
DEPTH_CLASSES_M = ((0.0, "depth < 0.5 m"), (0.5, "depth 0.5-1 m"), (1.0, "depth 1-2 m"), (2.0, "depth >= 2 m"))


@dataclass(frozen=True)
class FloodDepth:
    """``depth_m`` (rows, cols) float32, NaN outside the flood or where the DEM has no data;
    ``surface_m`` the estimated water-surface elevation (NaN outside the flood); ``edge`` the
    flood-edge pixels used; ``method`` a short description."""

    depth_m: np.ndarray
    surface_m: np.ndarray
    edge: np.ndarray
    method: str


def flood_depth_m(
    flooded: np.ndarray,
    dem_m: np.ndarray,
    *,
    exclude: np.ndarray | None = None,
    edge: str = "midpoint",
    connectivity: int = 4,
    smooth_px: int = 5,
) -> FloodDepth:
    """Depth (m) of the ``flooded`` pixels over the ground ``dem_m`` (same grid, NaN = no data);
    ``exclude`` marks pixels that are neither flood nor dry land (permanent water). ``edge``: the
    water surface at an edge pixel, ``"midpoint"`` or ``"wet"`` (FwDET); ``connectivity`` 4 or 8:
    which neighbours make a flooded pixel an edge pixel; ``smooth_px`` (odd, 1 = none): the edge
    surfaces are averaged over the edge pixels of this window. See the module.

    Raises:
        ValueError: ``flooded`` and ``dem_m`` differ in shape, or an option is unknown.
    """
    from scipy import ndimage

    if edge not in ("midpoint", "wet") or connectivity not in (4, 8) or smooth_px < 1 or smooth_px % 2 == 0:
        raise ValueError(
            f"flood_depth_m: edge={edge!r} (midpoint, wet), connectivity={connectivity} (4, 8), "
            f"smooth_px={smooth_px} (odd, >= 1)"
        )
    f = np.asarray(flooded, bool)
    z = np.asarray(dem_m, dtype=np.float32)
    if f.shape != z.shape:
        raise ValueError(f"flood_depth_m: flooded {f.shape} and dem_m {z.shape} differ in shape")
    valid = np.isfinite(z)
    dry = valid & ~f
    if exclude is not None:
        dry &= ~np.asarray(exclude, bool)
    # an edge pixel: flooded, with a valid DEM, and a dry-land pixel among its neighbours
    # (outside the image counts as not dry: the image's border is not the flood's edge)
    st = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    edge_px = f & valid & ndimage.binary_dilation(dry, structure=st, border_value=0)
    surface = np.full(f.shape, np.nan, np.float32)
    depth = np.full(f.shape, np.nan, np.float32)
    if edge_px.any():
        at_edge = np.where(edge_px, z, 0.0).astype(np.float32)
        if edge == "midpoint":
            lowest_dry = ndimage.grey_erosion(np.where(dry, z, np.inf), footprint=st, mode="constant", cval=np.inf)
            with np.errstate(invalid="ignore"):
                at_edge = np.where(edge_px, z + 0.5 * np.maximum(lowest_dry - z, 0.0), 0.0).astype(np.float32)
        if smooth_px > 1:
            w = edge_px.astype(np.float32)
            num = ndimage.uniform_filter(at_edge, smooth_px, mode="constant")
            den = ndimage.uniform_filter(w, smooth_px, mode="constant")
            at_edge = np.where(edge_px, num / np.maximum(den, 1e-12), 0.0).astype(np.float32)
        _dist, (ri, ci) = ndimage.distance_transform_edt(~edge_px, return_indices=True)
        surface = np.where(f, at_edge[ri, ci], np.nan).astype(np.float32)
        with np.errstate(invalid="ignore"):
            depth = np.where(f & valid, np.maximum(surface - z, 0.0), np.nan).astype(np.float32)
    at = "DEM elevation" if edge == "wet" else "mean DEM elevation of it and its lowest dry neighbour"
    method = (
        f"FwDET (Cohen et al. 2018, 2019): water surface = {at} of the nearest flood-edge pixel "
        f"({connectivity}-connected, {int(edge_px.sum())} edge pixels"
        + (f", averaged over the edge pixels of {smooth_px} x {smooth_px}" if smooth_px > 1 else "")
        + "), depth = surface - DEM, negative depths set to 0"
    )
    return FloodDepth(depth, surface, edge_px, method)
