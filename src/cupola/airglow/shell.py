"""Geometry of a thin emission shell at the airglow height (pure computation, no I/O).

* :func:`rays_to_shell`: camera pixels -> points of the surface at geodetic height ``height_m``
  (the nearer intersection, so a limb ray that grazes the shell meets it where it enters; rays that
  miss are flagged).
* :func:`shell_to_pixels`: the inverse, shell points -> pixels, NaN where the point is on the far
  side of the shell or behind the camera.
* :func:`van_rhijn` and :func:`slant_factor`: how much longer the path through the layer is than
  the vertical one (van Rhijn 1921; for a space view the angle is taken at the layer point, and
  the exact chord through a layer of finite thickness keeps limb rays finite).
* :class:`TangentGrid`: an azimuthal-equidistant grid (km, x east, y north) on the shell about a
  centre point: frames of a sequence, each projected with its own station position and attitude,
  stack on it (the station's motion is compensated; what moves on it moves in the layer).

SI units inside; degrees only where a name says ``_deg``.

>>> import numpy as np
>>> round(float(van_rhijn(np.radians(90.0), 87e3)), 3)
6.113
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cupola.errors import InputError
from cupola.geometry import geodesy
from cupola.geometry.attitude import Pose
from cupola.geometry.camera import Camera

__all__ = [
    "rays_to_shell",
    "shell_to_pixels",
    "van_rhijn",
    "slant_factor",
    "TangentGrid",
    "MIN_LAYER_HEIGHT_M",
    "EMISSION_HEIGHTS_KM",
    "layer_height_m",
    "check_layer_height",
]

#: cloud tops reach ~20 km: a "layer" below that is no airglow layer
MIN_LAYER_HEIGHT_M = 20_000.0

#: typical peak heights of the night airglow emissions (km): OH Meinel bands, Na D 589 nm, O2
#: atmospheric band (864 nm), OI 557.7 nm green line, OI 630 nm red line (thermosphere)
EMISSION_HEIGHTS_KM = {"OH": 87.0, "NA": 90.0, "O2": 94.0, "OI557": 97.0, "OI630": 250.0}


def layer_height_m(layer_km: float | None = None, emission: str | None = None) -> float:
    """The layer height: ``layer_km`` when given, else that of ``emission`` (a key of
    :data:`EMISSION_HEIGHTS_KM`, any case), else OH's 87 km; checked by :func:`check_layer_height`."""
    if layer_km is not None and emission is not None:
        raise InputError("give either a layer height (`layer_km`) or an emission (`emission`), not both")
    if emission is not None:
        key = emission.strip().upper().replace(" ", "").replace(".", "").replace("-", "")
        if key not in EMISSION_HEIGHTS_KM:
            known = ", ".join(EMISSION_HEIGHTS_KM)
            raise InputError(f"`emission` {emission!r}: unknown emission; expected one of {known}")
        layer_km = EMISSION_HEIGHTS_KM[key]
    return check_layer_height((87.0 if layer_km is None else float(layer_km)) * 1e3)


def check_layer_height(height_m: float) -> float:
    """``height_m`` as a float; InputError when it is not above the cloud tops (20 km) or beyond 500 km."""
    h = float(height_m)
    if not (MIN_LAYER_HEIGHT_M <= h <= 500_000.0):
        raise InputError(
            f"layer height {h / 1e3:g} km is not an airglow height: expected 20-500 km "
            "(above the cloud tops; OH ~87 km, O2 ~94 km, OI 557.7 nm ~97 km)"
        )
    return h


def rays_to_shell(camera: Camera, pose: Pose, col, row, height_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (col, row) -> ECEF points (..., 3) on the surface of geodetic height ``height_m``.

    Returns ``(points_m, hit)``: the nearer intersection of each pixel's ray (a limb ray that
    grazes the shell meets it where it enters), NaN and ``hit`` False where the ray misses.
    """
    d = camera.pixel_to_ray(col, row) @ pose.matrix.T
    pts = geodesy.ray_ellipsoid_intersection(pose.position_m, d, height_m)
    return pts, np.isfinite(pts[..., 0])


def shell_to_pixels(camera: Camera, pose: Pose, points_m) -> tuple[np.ndarray, np.ndarray]:
    """ECEF points on a shell -> (col, row), NaN where the camera cannot see the point: behind the
    camera, or on the far side of the shell (the ray meets the shell before it, the surface normal
    faces away from the camera)."""
    p = np.asarray(points_m, dtype=float)
    o = np.asarray(pose.position_m, dtype=float)
    v = p - o
    rays = v @ pose.matrix  # ITRS -> camera: R^T v
    col, row = camera.ray_to_pixel(rays)
    facing = np.einsum("...i,...i->...", -v, geodesy.ellipsoid_normal(p)) > 0.0
    col = np.where(facing, col, np.nan)
    row = np.where(facing, row, np.nan)
    return col, row


def van_rhijn(zenith_rad, height_m: float, radius_m: float = geodesy.R_MEAN_M) -> np.ndarray:
    """Van Rhijn factor: slant over vertical path through a thin layer at ``height_m`` seen at
    zenith angle ``zenith_rad`` from the ground, 1 / sqrt(1 - (R / (R + h))^2 sin^2 z)."""
    s = radius_m / (radius_m + height_m) * np.sin(np.asarray(zenith_rad, dtype=float))
    return 1.0 / np.sqrt(1.0 - s * s)


def slant_factor(origin_m, points_m, height_m: float, thickness_m: float = 8e3) -> np.ndarray:
    """Length of the line of sight from ``origin_m`` to each shell point through a spherical layer
    of ``thickness_m`` centred on ``height_m``, over ``thickness_m`` (the brightness gain of an
    optically thin layer over its vertical view). For a thin layer and a downward view it is
    1 / cos(chi), chi the angle between the line of sight and the vertical at the point (the
    van Rhijn factor); at the limb it stays finite (the chord through the layer, ~sqrt(8 R dh)).
    The sphere is the local one (radius of the point's geocentric distance)."""
    p = np.asarray(points_m, dtype=float)
    o = np.asarray(origin_m, dtype=float)
    d = p - o
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    r_pt = np.linalg.norm(p, axis=-1)
    radius = r_pt - height_m  # local radius of the Earth below the point
    t_star = -np.einsum("...i,i->...", d, o)  # closest approach of the line to the centre
    rho2 = float(o @ o) - t_star**2
    r_top = radius + height_m + 0.5 * thickness_m
    r_bot = radius + height_m - 0.5 * thickness_m
    half_top = np.sqrt(np.clip(r_top**2 - rho2, 0.0, None))
    half_bot = np.sqrt(np.clip(r_bot**2 - rho2, 0.0, None))
    # entering the top at t* - half_top; leaving at the bottom (t* - half_bot) when the line goes
    # below the layer, else out of the top again at t* + half_top (a limb ray)
    below = rho2 < r_bot**2
    length = np.where(below, half_top - half_bot, 2.0 * half_top)
    return length / thickness_m


@dataclass(frozen=True)
class TangentGrid:
    """A square grid on the shell, x east and y north in km *at the layer height*, ``nx`` x ``ny``
    cells of ``spacing_km`` centred on (``lon0_deg``, ``lat0_deg``). Row 0 is the northernmost (as
    in an image and a GeoTIFF).

    The grid is the azimuthal-equidistant projection of the WGS84 ellipsoid about the centre
    (PROJ ``aeqd``), scaled by (R + h) / R, R the Gaussian radius of curvature at the centre, so
    that distances along the layer, not along the ground below, are what the grid measures (1.4 %
    more at 87 km). A GeoTIFF of the grid carries the unscaled ``aeqd`` (:meth:`crs_wkt`,
    :meth:`transform`), so that GIS tools place every cell over the ground point below it.
    """

    lon0_deg: float
    lat0_deg: float
    height_m: float
    spacing_km: float
    nx: int
    ny: int

    @property
    def scale(self) -> float:
        """Layer distance over ground distance (R + h) / R."""
        lat = np.radians(self.lat0_deg)
        e2 = geodesy.F * (2.0 - geodesy.F)
        w = np.sqrt(1.0 - e2 * np.sin(lat) ** 2)
        m = geodesy.A_M * (1.0 - e2) / w**3
        n = geodesy.A_M / w
        r = float(np.sqrt(m * n))
        return (r + self.height_m) / r

    def _proj(self) -> str:
        return f"+proj=aeqd +lat_0={self.lat0_deg:.10f} +lon_0={self.lon0_deg:.10f} +datum=WGS84 +units=m +no_defs"

    def _transformer(self, inverse: bool):
        from pyproj import Transformer

        if inverse:
            return Transformer.from_crs(self._proj(), "EPSG:4326", always_xy=True)
        return Transformer.from_crs("EPSG:4326", self._proj(), always_xy=True)

    def axes_km(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates: x (nx,) increasing east, y (ny,) decreasing (north first)."""
        x = (np.arange(self.nx) - (self.nx - 1) / 2.0) * self.spacing_km
        y = ((self.ny - 1) / 2.0 - np.arange(self.ny)) * self.spacing_km
        return x, y

    def mesh_km(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.axes_km()
        return np.meshgrid(x, y)

    def to_lonlat_deg(self, x_km, y_km) -> tuple[np.ndarray, np.ndarray]:
        k = 1e3 / self.scale
        lon, lat = self._transformer(True).transform(np.asarray(x_km, float) * k, np.asarray(y_km, float) * k)
        return np.asarray(lon), np.asarray(lat)

    def to_ecef(self, x_km, y_km) -> np.ndarray:
        """Grid coordinates (km) -> ECEF points at geodetic height ``height_m`` (..., 3)."""
        lon, lat = self.to_lonlat_deg(x_km, y_km)
        return geodesy.geodetic_to_ecef(np.radians(lon), np.radians(lat), self.height_m)

    def from_ecef(self, points_m) -> tuple[np.ndarray, np.ndarray]:
        """ECEF points -> grid coordinates (km) of the ground point below them (geodetic)."""
        lon, lat, _ = geodesy.ecef_to_geodetic(np.asarray(points_m, dtype=float))
        x, y = self._transformer(False).transform(np.degrees(lon), np.degrees(lat))
        k = self.scale / 1e3
        return np.asarray(x) * k, np.asarray(y) * k

    def lonlat_deg(self) -> tuple[np.ndarray, np.ndarray]:
        """(lon, lat) in degrees of every cell centre, (ny, nx) each."""
        return self.to_lonlat_deg(*self.mesh_km())

    def to_dict(self) -> dict:
        return {
            "projection": self._proj(),
            "layer_scale": self.scale,
            "lon0_deg": self.lon0_deg,
            "lat0_deg": self.lat0_deg,
            "height_m": self.height_m,
            "spacing_km": self.spacing_km,
            "nx": self.nx,
            "ny": self.ny,
        }

    def crs_wkt(self) -> str:
        """The GeoTIFF's CRS (the unscaled ``aeqd`` on WGS84, metres on the ground)."""
        from pyproj import CRS

        return CRS.from_proj4(self._proj()).to_wkt()

    def transform(self) -> tuple[float, float, float, float, float, float]:
        """Affine (a, b, c, d, e, f) of the grid in :meth:`crs_wkt` coordinates (ground metres)."""
        s = self.spacing_km * 1e3 / self.scale
        return (s, 0.0, -(self.nx / 2.0) * s, 0.0, -s, (self.ny / 2.0) * s)
