"""Pixel <-> ground projection, footprints and ground sample distance.

Everything is vectorized and works in WGS84 ECEF; full frames are processed in row blocks so that
memory stays bounded (a 45-megapixel frame fits). Rays that miss the Earth (e.g. above the limb)
give NaN.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from cupola.errors import NoSolutionError
from cupola.geometry import geodesy
from cupola.geometry.attitude import Pose, visible_from
from cupola.geometry.camera import Camera


@dataclass(frozen=True)
class Georeference:
    """A camera at a pose at a time: maps any pixel to the ground and back.

    ``height_m`` is the default surface height above the WGS84 ellipsoid (0 for the ground, ~10 km
    for cloud tops, ~90 km for the airglow layer).
    """

    camera: Camera
    pose: Pose
    time: dt.datetime
    height_m: float = 0.0

    # -- pixel -> ground -----------------------------------------------------------------------
    def pixels_to_ecef(self, col, row, height_m: float | None = None) -> np.ndarray:
        """ECEF ground points (..., 3) seen at pixels; NaN where the ray misses the surface."""
        h = self.height_m if height_m is None else float(height_m)
        rays = self.camera.pixel_to_ray(col, row)
        d = rays @ self.pose.matrix.T
        return geodesy.ray_ellipsoid_intersection(self.pose.position_m, d, h)

    def pixels_to_ground(self, col, row, height_m: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(lon_deg, lat_deg) of pixels; NaN where the ray misses the Earth."""
        lon, lat, _ = geodesy.ecef_to_geodetic(self.pixels_to_ecef(col, row, height_m))
        return np.degrees(lon), np.degrees(lat)

    def iter_ground_blocks(
        self, *, block_rows: int = 256, step: int = 1, dtype=np.float64
    ) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
        """Yield (row slice, lon_deg, lat_deg) for consecutive row blocks of the (optionally
        subsampled by ``step``) pixel grid: the fast path for whole frames."""
        cam = self.camera
        cols = np.arange(0, cam.width_px, step, dtype=float)
        rows = np.arange(0, cam.height_px, step, dtype=float)
        m = self.pose.matrix
        o = np.asarray(self.pose.position_m, dtype=float)
        h = float(self.height_m)
        inv = np.array([1.0 / (geodesy.A_M + h), 1.0 / (geodesy.A_M + h), 1.0 / (geodesy.B_M + h)])
        os_ = o * inv
        qc = float(os_ @ os_) - 1.0
        # scaled-space ray rows: ds = diag(inv) . M . (x, y, 1)
        ms = m * inv[:, None]
        no_dist = cam.distortion.is_zero
        if no_dist:
            xn = (cols - cam.cx_px) / cam.focal_x_px
        for start in range(0, rows.size, block_rows):
            r = rows[start : start + block_rows]
            if no_dist:
                yn = ((r - cam.cy_px) / cam.focal_y_px)[:, None]
                x = xn[None, :]
                d = [ms[i, 0] * x + (ms[i, 1] * yn + ms[i, 2]) for i in range(3)]
            else:
                x, y = cam.normalized(cols[None, :], r[:, None])
                d = [ms[i, 0] * x + ms[i, 1] * y + ms[i, 2] for i in range(3)]
            qa = d[0] * d[0]
            qa += d[1] * d[1]
            qa += d[2] * d[2]
            qb = d[0] * os_[0]
            qb += d[1] * os_[1]
            qb += d[2] * os_[2]  # qb is half the linear coefficient
            disc = qb * qb
            disc -= qa * qc
            with np.errstate(invalid="ignore"):
                np.sqrt(disc, out=disc)  # NaN where the ray misses
                t = -qb
                t -= disc
                t /= qa
                t[t <= 0] = np.nan  # intersection behind the camera
            if h == 0.0:
                # back to metres: point = o + t * M(x, y, 1); in scaled space p_s = os + t * ds
                px = (os_[0] + t * d[0]) * geodesy.A_M
                py = (os_[1] + t * d[1]) * geodesy.A_M
                pz = (os_[2] + t * d[2]) * geodesy.B_M
                lon = np.arctan2(py, px)
                lat = np.arctan2(pz, (1.0 - geodesy.E2) * np.hypot(px, py))
            else:
                # the same t on the metre-space rays, then onto the constant-height surface
                dirs = np.stack([d[0] * (geodesy.A_M + h), d[1] * (geodesy.A_M + h), d[2] * (geodesy.B_M + h)], axis=-1)
                lon, lat, _ = geodesy.ecef_to_geodetic(geodesy.refine_to_height(o, dirs, t, h))
            yield (
                slice(start, start + r.size),
                np.degrees(lon).astype(dtype, copy=False),
                np.degrees(lat).astype(dtype, copy=False),
            )

    def ground_grid(
        self,
        *,
        block_rows: int = 256,
        step: int = 1,
        dtype=np.float64,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(lon_deg, lat_deg) arrays for every pixel (every ``step``-th), shape (rows, cols)."""
        nr = len(range(0, self.camera.height_px, step))
        nc = len(range(0, self.camera.width_px, step))
        lon = np.empty((nr, nc), dtype=dtype)
        lat = np.empty((nr, nc), dtype=dtype)
        for sl, lo, la in self.iter_ground_blocks(block_rows=block_rows, step=step, dtype=dtype):
            lon[sl] = lo
            lat[sl] = la
            if progress is not None:
                progress(sl.stop if sl.stop < nr else nr, nr)
        return lon, lat

    # -- ground -> pixel -----------------------------------------------------------------------
    def ground_to_pixels(self, lon_deg, lat_deg, height_m=None) -> tuple[np.ndarray, np.ndarray]:
        """(col, row) where ground points appear; NaN where they are behind the camera or beyond
        the horizon. Pixels outside the frame are returned as they are (check the bounds)."""
        h = self.height_m if height_m is None else height_m
        g = geodesy.geodetic_to_ecef(np.radians(lon_deg), np.radians(lat_deg), h)
        v = g - self.pose.position_m
        cam_vec = v @ self.pose.matrix  # R^T v for each row vector
        col, row = self.camera.ray_to_pixel(cam_vec)
        hidden = ~visible_from(self.pose.position_m, g)
        return np.where(hidden, np.nan, col), np.where(hidden, np.nan, row)

    # -- summaries -----------------------------------------------------------------------------
    @property
    def center_px(self) -> tuple[float, float]:
        return (self.camera.width_px - 1) / 2.0, (self.camera.height_px - 1) / 2.0

    def center(self) -> tuple[float, float]:
        """(lon_deg, lat_deg) of the image centre; NaN if it misses the Earth."""
        lon, lat = self.pixels_to_ground(*self.center_px)
        return float(lon), float(lat)

    def gsd_m(self, col: float | None = None, row: float | None = None) -> tuple[float, float]:
        """Ground sample distance (m per pixel) along columns and along rows at a pixel."""
        if col is None:
            c0, r0 = self.center_px
        elif row is None:
            raise TypeError("gsd_m: give both col and row, or neither")
        else:
            c0, r0 = col, row
        pts = self.pixels_to_ecef(np.array([c0 - 0.5, c0 + 0.5, c0, c0]), np.array([r0, r0, r0 - 0.5, r0 + 0.5]))
        return float(np.linalg.norm(pts[1] - pts[0])), float(np.linalg.norm(pts[3] - pts[2]))

    def border_pixels(self, samples_per_edge: int = 64) -> np.ndarray:
        """Clockwise ring of (col, row) along the outer edge of the frame (pixel centres)."""
        w, h = self.camera.width_px - 1, self.camera.height_px - 1
        s = np.linspace(0.0, 1.0, samples_per_edge, endpoint=False)
        top = np.column_stack([s * w, np.zeros_like(s)])
        right = np.column_stack([np.full_like(s, w), s * h])
        bottom = np.column_stack([(1 - s) * w, np.full_like(s, h)])
        left = np.column_stack([np.zeros_like(s), (1 - s) * h])
        return np.vstack([top, right, bottom, left])

    def footprint_lonlat(self, samples_per_edge: int = 64) -> np.ndarray:
        """Ring (N, 2) of (lon_deg, lat_deg) bounding what the frame sees, longitudes unwrapped
        (continuous, may pass +-180). Edge rays that miss the Earth are replaced by the horizon
        (limb) point in the same vertical plane, so a view that includes the horizon still gets a
        closed footprint. Raises :class:`NoSolutionError` if the whole frame misses the Earth."""
        border = self.border_pixels(samples_per_edge)
        o = np.asarray(self.pose.position_m, dtype=float)
        d = self.camera.pixel_to_ray(border[:, 0], border[:, 1]) @ self.pose.matrix.T
        pts = geodesy.ray_ellipsoid_intersection(o, d, self.height_m)
        miss = np.isnan(pts[:, 0])
        if miss.all():
            # does any part of the frame see the Earth? check a coarse interior grid
            cols = np.linspace(0, self.camera.width_px - 1, 33)
            rows = np.linspace(0, self.camera.height_px - 1, 33)
            cc, rr = np.meshgrid(cols, rows)
            if np.isnan(self.pixels_to_ecef(cc, rr)[..., 0]).all():
                raise NoSolutionError("the camera view misses the Earth entirely")
        if miss.any():
            pts[miss] = limb_points(o, d[miss], self.height_m)
        lon, lat, _ = geodesy.ecef_to_geodetic(pts)
        lon_deg = np.degrees(np.unwrap(lon))
        return np.column_stack([lon_deg, np.degrees(lat)])

    def footprint(self, samples_per_edge: int = 64) -> Polygon | MultiPolygon:
        """Footprint polygon in lon/lat degrees, split into a MultiPolygon at the antimeridian."""
        return split_antimeridian(self.footprint_lonlat(samples_per_edge))


def limb_points(origin_m, directions, height_m: float = 0.0) -> np.ndarray:
    """Tangent (horizon) points of the ellipsoid raised by ``height_m`` seen from ``origin_m``, in
    the plane through the origin, the Earth's centre and each direction. Exact for the scaled
    ellipsoid (planes and tangency are preserved by the axis scaling)."""
    a = geodesy.A_M + height_m
    b = geodesy.B_M + height_m
    s = np.array([a, a, b])
    o = np.asarray(origin_m, dtype=float) / s
    d = np.asarray(directions, dtype=float) / s
    r2 = o @ o
    u = d - np.outer(d @ o / r2, o)
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    t = o / r2 + np.sqrt(1.0 - 1.0 / r2) * u
    return t * s


def split_antimeridian(ring_lonlat: np.ndarray) -> Polygon | MultiPolygon:
    """Polygon from a ring with continuous (unwrapped) longitudes, cut at +-180 and wrapped back
    into -180..180 (RFC 7946 section 3.1.9)."""
    ring = np.asarray(ring_lonlat, dtype=float)
    poly = shapely.make_valid(Polygon(ring))
    if poly.is_empty:
        raise NoSolutionError("footprint is degenerate")
    minx, _, maxx, _ = poly.bounds
    shift = -360.0 * np.floor((minx + 180.0) / 360.0)
    poly = shapely.affinity.translate(poly, xoff=shift) if shift else poly
    minx, _, maxx, _ = poly.bounds
    if maxx <= 180.0:
        return poly
    west = poly.intersection(box(-180.0, -90.0, 180.0, 90.0))
    east = shapely.affinity.translate(poly.intersection(box(180.0, -90.0, 540.0, 90.0)), xoff=-360.0)
    parts: list = []
    for g in (west, east):
        parts.extend(getattr(g, "geoms", [g]))
    return MultiPolygon([p for p in parts if isinstance(p, Polygon) and not p.is_empty])
