"""The view geometry of a frame with a pose: where each superpixel's line of sight goes.

One grid of lines of sight, every ``step`` superpixels, is traced once per camera and pose
(:class:`ViewGeometry`) and gives the three things the calibration needs from it: the Earth mask
(superpixels that see the Earth, no stars there), the airmass of each superpixel (for the
atmospheric correction) and the ground grid of the GeoTIFFs (bounds and resolution). The mapping
ground -> superpixel plane of the products is :func:`lonlat_to_plane`, and :class:`GridProjection`
evaluates it once for the row blocks of a regular lon/lat grid that several products share.

Superpixel ``(j, i)`` (column, row of the Bayer superpixel grid) is sensor pixel
``(2 j + 0.5, 2 i + 0.5)``.
"""

from __future__ import annotations

import numpy as np

from cupola.geometry import geodesy
from cupola.geometry.projection import Georeference
from cupola.nightlights.radiance import airmass as _airmass
from cupola.nightlights.stars import bilinear_upsample

__all__ = ["GridProjection", "ViewGeometry", "lonlat_to_plane", "plane_rays_itrs"]

#: the Earth mask treats the atmosphere up to this height (m) as opaque
EARTH_MASK_HEIGHT_M = 50_000.0


def plane_rays_itrs(camera, lens, pose, j, i) -> np.ndarray:
    """Lines of sight (ITRS, unit vectors, shape ``j.shape + (3,)``) of superpixels ``(j, i)``."""
    cu, ru = lens.undistort(2.0 * np.asarray(j, float) + 0.5, 2.0 * np.asarray(i, float) + 0.5)
    return camera.pixel_to_ray(cu, ru) @ pose.matrix.T


def lonlat_to_plane(camera, lens, pose, time, lon, lat, height_m: float = 0.0):
    """Ground (deg) -> superpixel plane (j, i) through the pose, camera and lens distortion."""
    c, r = Georeference(camera, pose, time).ground_to_pixels(lon, lat, height_m)
    cd, rd = lens.distort(c, r)
    return (cd - 0.5) / 2.0, (rd - 0.5) / 2.0


class ViewGeometry:
    """Lines of sight of a frame's superpixels on a grid of every ``step`` superpixels, traced
    once; the Earth mask, the airmass and the ground grid are computed from them on demand and
    kept.

    Parameters: the ``camera`` (undistorted pixels), the ``lens`` (distortion), the camera
    ``pose`` and the superpixel grid's ``shape`` (h, w). The grid nodes are ``0, step, 2 step, ...``
    up to the first at or past the last superpixel, in both directions.
    """

    def __init__(self, camera, lens, pose, shape: tuple[int, int], step: int = 8):
        self.camera, self.lens, self.pose = camera, lens, pose
        self.shape = (int(shape[0]), int(shape[1]))
        self.step = int(step)
        h, w = self.shape
        self.node_rows = np.arange(0, h + step, step, dtype=float)
        self.node_cols = np.arange(0, w + step, step, dtype=float)
        self._rays: np.ndarray | None = None
        self._ground: np.ndarray | None = None
        self._airmass: dict = {}
        self._earth_mask: np.ndarray | None = None

    @property
    def rays(self) -> np.ndarray:
        """(rows, cols, 3) lines of sight at the grid nodes, ITRS."""
        if self._rays is None:
            grid_cols, grid_rows = np.meshgrid(self.node_cols, self.node_rows)
            self._rays = plane_rays_itrs(self.camera, self.lens, self.pose, grid_cols, grid_rows)
        return self._rays

    @property
    def ground_ecef(self) -> np.ndarray:
        """(rows * cols, 3) where the node rays meet the ellipsoid (m, ECEF; NaN where they miss)."""
        if self._ground is None:
            self._ground = geodesy.ray_ellipsoid_intersection(self.pose.position_m, self.rays.reshape(-1, 3), 0.0)
        return self._ground

    def earth_mask(self) -> np.ndarray:
        """(h, w) True on superpixels whose line of sight meets the Earth, taken as opaque to
        ``EARTH_MASK_HEIGHT_M``, with a margin of one grid step along the limb (nearest node, the
        last row and column of nodes on the frame's edge)."""
        if self._earth_mask is None:
            from scipy.ndimage import binary_dilation

            h, w = self.shape
            step = self.step
            # the shared node rays, with the last row and column of nodes (past the frame's edge)
            # moved onto the edge superpixels
            d = self.rays.copy()
            rows_c, cols_c = np.minimum(self.node_rows, h - 1), np.minimum(self.node_cols, w - 1)
            d[-1, :] = plane_rays_itrs(self.camera, self.lens, self.pose, cols_c, np.full(cols_c.size, rows_c[-1]))
            d[:, -1] = plane_rays_itrs(self.camera, self.lens, self.pose, np.full(rows_c.size, cols_c[-1]), rows_c)
            hit = np.isfinite(
                geodesy.ray_ellipsoid_intersection(self.pose.position_m, d.reshape(-1, 3), EARTH_MASK_HEIGHT_M)[:, 0]
            )
            coarse = binary_dilation(hit.reshape(d.shape[:2]), iterations=1)
            ri = np.minimum((np.arange(h) + step // 2) // step, coarse.shape[0] - 1)
            ci = np.minimum((np.arange(w) + step // 2) // step, coarse.shape[1] - 1)
            self._earth_mask = coarse[ri][:, ci]
        return self._earth_mask

    def _node_airmass(self, max_view_zenith_deg: float) -> tuple[np.ndarray, np.ndarray]:
        """Airmass at the nodes (0 where bad) and the bad nodes (off the Earth or too oblique)."""
        key = float(max_view_zenith_deg)
        if key not in self._airmass:
            d = self.rays.reshape(-1, 3)
            g = self.ground_ecef
            up = geodesy.ellipsoid_normal(np.where(np.isfinite(g), g, 1.0))
            los = -d / np.linalg.norm(d, axis=1, keepdims=True)
            vza = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", los, up), -1.0, 1.0)))
            vza = np.where(np.isfinite(g[:, 0]), vza, np.nan).reshape(self.rays.shape[:2])
            bad = ~(vza <= max_view_zenith_deg)
            self._airmass[key] = (np.where(bad, 0.0, _airmass(np.where(bad, 0.0, vza))), bad)
        return self._airmass[key]

    def airmass(self, max_view_zenith_deg: float) -> np.ndarray:
        """(h, w) float32 airmass of each superpixel's line of sight at the ground, interpolated
        between the nodes; NaN where the nearest node is off the Earth or beyond
        ``max_view_zenith_deg``."""
        h, w = self.shape
        step = self.step
        am, bad = self._node_airmass(max_view_zenith_deg)
        out = bilinear_upsample(am, self.shape, np.arange(h) / step, np.arange(w) / step)
        near = bad[np.minimum(np.rint(np.arange(h) / step).astype(int), bad.shape[0] - 1)][
            :, np.minimum(np.rint(np.arange(w) / step).astype(int), bad.shape[1] - 1)
        ]
        out[near] = np.nan
        return out

    def ground_grid(self, max_view_zenith_deg: float, every: int = 2):
        """Bounds ``(west, south, east, north)`` and resolution (deg) of the ground seen by the
        superpixels with an airmass, from every ``every``-th node inside the frame; None when
        fewer than 4 nodes see the ground."""
        h, w = self.shape
        nr, nc = self.rays.shape[:2]
        rows = np.arange(0, nr, every)
        rows = rows[self.node_rows[rows] < h]
        cols = np.arange(0, nc, every)
        cols = cols[self.node_cols[cols] < w]
        g = self.ground_ecef.reshape(nr, nc, 3)[np.ix_(rows, cols)]
        _, bad = self._node_airmass(max_view_zenith_deg)
        lon, lat, _ = geodesy.ecef_to_geodetic(g)
        lon, lat = np.degrees(lon), np.degrees(lat)
        ok = np.isfinite(lon) & ~bad[np.ix_(rows, cols)]
        if ok.sum() < 4:
            return None
        spacing_nodes = self.step * every
        lon0 = float(np.nanmedian(lon[ok]))
        lon = lon0 + (lon - lon0 + 180.0) % 360.0 - 180.0
        coslat = np.cos(np.radians(lat))
        across = np.hypot(np.diff(lat, axis=1), np.diff(lon, axis=1) * coslat[:, 1:])[:-1]
        along = np.hypot(np.diff(lat, axis=0), np.diff(lon, axis=0) * coslat[1:])[:, :-1]
        spacing = np.sqrt(across * along)  # side of the square of equal area
        sp_ok = ok[1:, 1:] & ok[:-1, :-1] & ok[1:, :-1] & ok[:-1, 1:] & np.isfinite(spacing)
        # the median ground spacing of superpixels: near-field pixels keep their detail to within a
        # factor of ~2, oblique far-field pixels are not oversampled
        res = float(np.median(spacing[sp_ok])) / spacing_nodes if sp_ok.any() else 0.001
        pad = 2 * spacing_nodes * res
        bounds = (
            float(lon[ok].min()) - pad,
            max(-90.0, float(lat[ok].min()) - pad),
            float(lon[ok].max()) + pad,
            min(90.0, float(lat[ok].max()) + pad),
        )
        return bounds, res


class GridProjection:
    """Ground -> plane mapping for the row blocks of a regular lon/lat grid (as
    :func:`cupola.io.geotiff.write_georeferenced_cog` asks for them), remembered so that several
    products on one grid project it once.

    The mapping is smooth, so it is computed exactly on every ``step``-th grid node and
    interpolated bilinearly between them; cells next to a node that misses the image (the limb,
    the horizon) are computed exactly.
    """

    def __init__(self, func, step: int = 4):
        self.func = func
        self.step = step
        self.cache: dict = {}

    def __call__(self, lon, lat):
        key = (lon.size, float(lon[0]), float(lat[0]), float(lon[-1]), float(lat[-1]))
        hit = self.cache.get(key)
        if hit is None:
            hit = self._project(np.asarray(lon, float), np.asarray(lat, float))
            self.cache[key] = hit
        return hit

    def _project(self, lon, lat):
        change = np.flatnonzero(lat != lat[0])
        width = int(change[0]) if change.size else lon.size
        nr = lon.size // width
        if nr * width != lon.size or nr < 2 * self.step or width < 2 * self.step:
            j, i = self.func(lon, lat)
            return np.asarray(j, np.float32), np.asarray(i, np.float32)
        lon_c, lat_c = lon[:width], lat[::width]
        rn = np.unique(np.r_[np.arange(0, nr, self.step), nr - 1])
        cn = np.unique(np.r_[np.arange(0, width, self.step), width - 1])
        LO, LA = np.meshgrid(lon_c[cn], lat_c[rn])
        jn, in_ = (np.asarray(v, float).reshape(LO.shape) for v in self.func(LO.ravel(), LA.ravel()))
        rpos = np.interp(np.arange(nr), rn, np.arange(rn.size))
        cpos = np.interp(np.arange(width), cn, np.arange(cn.size))
        bad = ~(np.isfinite(jn) & np.isfinite(in_))
        j = bilinear_upsample(np.where(bad, 0.0, jn), (nr, width), rpos, cpos)
        i = bilinear_upsample(np.where(bad, 0.0, in_), (nr, width), rpos, cpos)
        near_bad = bilinear_upsample(bad.astype(np.float32), (nr, width), rpos, cpos) > 0
        if near_bad.any():
            rr, cc = np.nonzero(near_bad)
            je, ie = self.func(lon_c[cc], lat_c[rr])
            j[rr, cc] = je
            i[rr, cc] = ie
        return j.ravel(), i.ravel()
