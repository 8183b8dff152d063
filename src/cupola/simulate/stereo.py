"""Stereo pairs rendered from a real elevation model, with known poses along a real ISS orbit arc.

Reuses cupola's forward camera model on purpose: every pixel's line of sight is the one
:class:`cupola.geometry.projection.Georeference` gives (the :class:`~cupola.geometry.camera.Camera`
and :class:`~cupola.geometry.attitude.Pose` of cupola's geometry, exact WGS84 ellipsoid), and the
poses come from cupola's orbit (SGP4 through skyfield, real ISS element sets) and look-at attitude.
So a stereo result measured on these pairs tests the matching, the triangulation and the error
model, not the camera model itself (that one has its own independent tests).

Rendering. Each line of sight is cast against the terrain: the heights are bilinear between the
elevation model's cells (mirrored beyond its edges), the ray's ground position at the highest and
lowest terrain heights is exact (ray against the surface of constant ellipsoidal height, computed on
a grid of every 16th pixel and interpolated by bicubic splines: < 1 mm), and between these two
heights the position is linear in height (a ray is straight: the error over 1 km of height is
~ 1 km^2 / 2R ~ 0.1 m). The first crossing from above is bracketed by steps of at most half a cell
and refined by seven bisections and a secant step, so hidden ground is never seen. The radiance is a
ground texture (fixed on the ground, the same in both views) times Lambertian shading under the
real sun of the chosen time, blurred by a Gaussian point-spread function, with Gaussian noise, and
quantized to 8 bits like a photo.

Terrains:

* :func:`jacksboro_terrain`: **a real elevation model** that matplotlib ships as sample data
  (``jacksboro_fault_dem.npz``: 344 x 403 cells of 3 arc-seconds, about 75 m east-west by 93 m
  north-south, 36.45-36.73 N, 84.41-84.08 W, the Jacksboro fault and Cumberland Mountains,
  Tennessee, 236-1076 m; a USGS elevation model as distributed with matplotlib). Its heights are
  taken as heights above the WGS84 ellipsoid (the rendered world has no geoid). Draped with a real
  ground texture: the Sentinel-2 mosaic bundled with the localization samples
  (``apl/ISS064-E-46242/reference.jpg``, New Mexico, "Contains modified Copernicus Sentinel data"),
  stretched over the model's extent: **a real image of another place**, plus procedural
  ground-fixed detail at the scale of the pixels (stated as such).
* :func:`flat_terrain`, :func:`step_terrain`: synthetic height fields (a plane, a plateau with a
  cliff) with a procedural texture, for tests.

>>> t = flat_terrain(height_m=120.0, size_km=10.0)
>>> float(t.heights_at(np.array([t.centre_lonlat[0]]), np.array([t.centre_lonlat[1]]))[0])
120.0
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from cupola.errors import InputError
from cupola.geometry import attitude, geodesy, orbit
from cupola.geometry.camera import Camera
from cupola.geometry.projection import Georeference

__all__ = [
    "Terrain",
    "RenderedPair",
    "jacksboro_terrain",
    "flat_terrain",
    "step_terrain",
    "render_view",
    "render_pair",
    "JACKSBORO_PASS",
    "TLE_SAMPLE",
    "sample_elements",
    "write_pair_files",
]

#: a real daytime ISS pass over the Jacksboro elevation model: closest approach ~11 km from its
#: centre at about this time (2017-04-18, sun ~60 deg up), from the bundled 2017 element sets
JACKSBORO_PASS = dt.datetime(2017, 4, 18, 16, 31, 50, tzinfo=dt.timezone.utc)
#: the bundled real ISS element sets (January-June 2017), inside the package
TLE_SAMPLE = ("iss-meteor-2017", "iss_tle_25544_20170101-20170630.txt")

_GRID_STEP_PX = 16  # exact ray-surface positions on every 16th pixel, splines in between


@dataclass(frozen=True, eq=False)
class Terrain:
    """A height field and a ground texture over one lon/lat box.

    ``height_m`` (rows, cols): heights above the WGS84 ellipsoid at cell centres, row 0 north;
    the cells are ``dlon_deg`` x ``dlat_deg`` from the north-west corner (``west_deg``,
    ``north_deg``). ``albedo`` (any size) and each grid of ``detail`` (zero-mean noise) cover the
    same box edge to edge; the texture is ``albedo * (1 + detail_amplitude * sum(detail))``.
    Everything is mirrored beyond the box's edges.
    """

    height_m: np.ndarray
    west_deg: float
    north_deg: float
    dlon_deg: float
    dlat_deg: float
    albedo: np.ndarray
    detail: tuple[np.ndarray, ...] = ()
    detail_amplitude: float = 0.0
    name: str = ""
    source: str = ""
    _slopes: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) edges, degrees."""
        rows, cols = self.height_m.shape
        return (
            self.west_deg,
            self.north_deg - rows * self.dlat_deg,
            self.west_deg + cols * self.dlon_deg,
            self.north_deg,
        )

    @property
    def centre_lonlat(self) -> tuple[float, float]:
        w, s, e, n = self.bounds
        return 0.5 * (w + e), 0.5 * (s + n)

    @property
    def height_range_m(self) -> tuple[float, float]:
        return float(np.min(self.height_m)), float(np.max(self.height_m))

    def _index(self, lon_deg, lat_deg, shape) -> tuple[np.ndarray, np.ndarray]:
        w, s, e, n = self.bounds
        u = (np.asarray(lon_deg, dtype=float) - w) / (e - w) * shape[1] - 0.5
        v = (n - np.asarray(lat_deg, dtype=float)) / (n - s) * shape[0] - 0.5
        return u, v

    def heights_at(self, lon_deg, lat_deg) -> np.ndarray:
        """Bilinear heights (m) at points (degrees), mirrored beyond the edges."""
        u, v = self._index(lon_deg, lat_deg, self.height_m.shape)
        return _bilinear_mirrored(self.height_m, u, v)

    def inside(self, lon_deg, lat_deg, margin_cells: float = 1.0) -> np.ndarray:
        """True for points inside the box by at least ``margin_cells`` cells."""
        u, v = self._index(lon_deg, lat_deg, self.height_m.shape)
        rows, cols = self.height_m.shape
        return (
            (u >= margin_cells) & (u <= cols - 1 - margin_cells) & (v >= margin_cells) & (v <= rows - 1 - margin_cells)
        )

    def texture_at(self, lon_deg, lat_deg) -> np.ndarray:
        """Ground reflectance (about 0..1) at points, float32."""
        u, v = self._index(lon_deg, lat_deg, self.albedo.shape)
        out = _bilinear_mirrored(self.albedo, u, v)
        if self.detail and self.detail_amplitude:
            extra = np.zeros_like(out)
            for grid in self.detail:
                ud, vd = self._index(lon_deg, lat_deg, grid.shape)
                extra += _bilinear_mirrored(grid, ud, vd)
            out = out * np.clip(1.0 + self.detail_amplitude * extra, 0.05, None)
        return out.astype(np.float32)

    def texel_m(self, grid: np.ndarray) -> float:
        """Ground size (m) of one cell of a texture grid (the mean of its two sides)."""
        w, s, e, n = self.bounds
        lat0 = np.radians(0.5 * (s + n))
        width = np.radians(e - w) * geodesy.A_M * np.cos(lat0) / grid.shape[1]
        height = np.radians(n - s) * geodesy.A_M / grid.shape[0]
        return float(0.5 * (width + height))

    def blurred(self, sigma_m: float) -> Terrain:
        """The same terrain with its texture low-pass filtered by a Gaussian of ``sigma_m`` metres on
        the ground: what one pixel of that size integrates (no aliasing of finer texture)."""
        import cv2

        def blur(g: np.ndarray) -> np.ndarray:
            s = sigma_m / self.texel_m(g)
            return cv2.GaussianBlur(g, (0, 0), s, borderType=cv2.BORDER_REFLECT_101) if s > 0.3 else g

        return Terrain(
            self.height_m,
            self.west_deg,
            self.north_deg,
            self.dlon_deg,
            self.dlat_deg,
            blur(self.albedo),
            tuple(blur(g) for g in self.detail),
            self.detail_amplitude,
            self.name,
            self.source,
        )

    def slopes_at(self, lon_deg, lat_deg) -> tuple[np.ndarray, np.ndarray]:
        """(dz/d_east, dz/d_north), metres per metre, bilinear between cells."""
        if "grid" not in self._slopes:
            lat0 = np.radians(self.centre_lonlat[1])
            sl = np.sin(lat0)
            n_rad = geodesy.A_M / np.sqrt(1.0 - geodesy.E2 * sl * sl)
            m_rad = n_rad * (1.0 - geodesy.E2) / (1.0 - geodesy.E2 * sl * sl)
            dx = np.radians(self.dlon_deg) * n_rad * np.cos(lat0)
            dy = np.radians(self.dlat_deg) * m_rad
            gy, gx = np.gradient(self.height_m.astype(float), dy, dx)
            self._slopes["grid"] = (gx, -gy)  # rows run south
        gx, gn = self._slopes["grid"]
        u, v = self._index(lon_deg, lat_deg, self.height_m.shape)
        return _bilinear_mirrored(gx, u, v), _bilinear_mirrored(gn, u, v)


def _mirror(u: np.ndarray, n: int) -> np.ndarray:
    """Index coordinates reflected into [0, n - 1] (mirror about the edge cells' centres)."""
    if n <= 1:
        return np.zeros_like(u)
    period = 2.0 * (n - 1)
    w = np.mod(u, period)
    return (n - 1) - np.abs(w - (n - 1))


def _bilinear_mirrored(grid: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    rows, cols = grid.shape
    u = np.asarray(u, dtype=float)
    v = np.asarray(v, dtype=float)
    if u.size and not (u.min() >= 0.0 and u.max() <= cols - 1):
        u = _mirror(u, cols)
    if v.size and not (v.min() >= 0.0 and v.max() <= rows - 1):
        v = _mirror(v, rows)
    i0 = np.minimum(u.astype(np.intp), max(cols - 2, 0))
    j0 = np.minimum(v.astype(np.intp), max(rows - 2, 0))
    fu = u - i0
    fv = v - j0
    flat = grid.ravel()
    k = j0 * cols + i0
    a = flat[k]
    b = flat[k + 1] if cols > 1 else a
    c = flat[k + cols] if rows > 1 else a
    d = flat[k + cols + 1] if rows > 1 and cols > 1 else c
    top = a + (b - a) * fu
    return top + ((c + (d - c) * fu) - top) * fv


# -- terrains ------------------------------------------------------------------------------------


def _detail_grids(bounds, cell_m: float, seed: int) -> tuple[np.ndarray, ...]:
    """Zero-mean, unit-ish noise grids at ``cell_m`` and 3 x ``cell_m`` over ``bounds``: texture at
    the scale of the pixels where the albedo image is coarser (procedural, fixed on the ground)."""
    import cv2

    w, s, e, n = bounds
    lat0 = np.radians(0.5 * (s + n))
    width_m = np.radians(e - w) * geodesy.A_M * np.cos(lat0)
    height_m = np.radians(n - s) * geodesy.A_M
    rng = np.random.default_rng(seed)
    grids = []
    for scale, weight in ((1.0, 0.6), (3.0, 0.4)):
        nx = int(np.clip(round(width_m / (cell_m * scale)), 8, 6000))
        ny = int(np.clip(round(height_m / (cell_m * scale)), 8, 6000))
        g = cv2.GaussianBlur(rng.standard_normal((ny, nx)).astype(np.float32), (0, 0), 0.7)
        grids.append((g * np.float32(weight / max(float(g.std()), 1e-6))).astype(np.float32))
    return tuple(grids)


def _albedo_from_sample(case: str = "ISS064-E-46242") -> np.ndarray:
    """Grey reflectance (0..1) of a bundled Sentinel-2 reference mosaic (a real ground image)."""
    from importlib import resources

    from cupola.io.images import read_photo

    ref = resources.files("cupola") / "data" / "samples" / "apl" / case / "reference.jpg"
    with resources.as_file(ref) as path:
        rgb, _ = read_photo(path)
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    grey = (rgb.astype(np.float32) @ weights if rgb.ndim == 3 else rgb.astype(np.float32)) / np.float32(255.0)
    # stretch to a typical land reflectance spread (the mosaic is a contrast-limited quicklook)
    lo, hi = np.percentile(grey, [1.0, 99.0])
    return np.clip(0.08 + 0.32 * (grey - lo) / max(hi - lo, 1e-3), 0.02, 0.6).astype(np.float32)


def jacksboro_terrain(detail_cell_m: float | None = 8.0, seed: int = 7) -> Terrain:
    """The real Jacksboro fault elevation model shipped with matplotlib, draped with a real
    Sentinel-2 image of another place and (with ``detail_cell_m``) ground-fixed procedural detail.

    >>> t = jacksboro_terrain(detail_cell_m=None)
    >>> t.height_m.shape, [round(x) for x in t.height_range_m]
    ((344, 403), [236, 1076])
    """
    from matplotlib import cbook

    with np.load(cbook.get_sample_data("jacksboro_fault_dem.npz", asfileobj=False)) as dem:
        z = np.asarray(dem["elevation"], dtype=float)
        dx = float(dem["dx"])
        dy = float(dem["dy"])
        west = float(dem["xmin"])
        # the file's "ymin" is the northern edge row (row 0 is north, as in matplotlib's examples)
        north = float(max(dem["ymin"], dem["ymax"]))
    # the stored extents are cell-centre to cell-centre: the box edges lie half a cell outside
    west -= 0.5 * dx
    north += 0.5 * dy
    albedo = _albedo_from_sample()
    rows, cols = z.shape
    bounds = (west, north - rows * dy, west + cols * dx, north)
    detail = _detail_grids(bounds, detail_cell_m, seed) if detail_cell_m else ()
    return Terrain(
        z,
        west,
        north,
        dx,
        dy,
        albedo,
        detail,
        0.35 if detail else 0.0,
        name="Jacksboro fault, Tennessee (real elevation model)",
        source="matplotlib sample data jacksboro_fault_dem.npz (3 arc-second USGS elevation model); texture: "
        "Sentinel-2 mosaic apl/ISS064-E-46242/reference.jpg (another place) + procedural detail",
    )


def _synthetic_box(size_km: float, cell_m: float, centre_lonlat) -> tuple[float, float, float, float, int]:
    lon0, lat0 = centre_lonlat
    dlat = cell_m / (np.radians(1.0) * geodesy.A_M)
    dlon = dlat / np.cos(np.radians(lat0))
    n = max(int(round(size_km * 1000.0 / cell_m)), 4)
    return lon0 - 0.5 * n * dlon, lat0 + 0.5 * n * dlat, dlon, dlat, n


def _procedural_albedo(n: int, seed: int) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    a = np.zeros((n, n), np.float32)
    for sigma, weight in ((1.0, 0.5), (4.0, 0.3), (16.0, 0.2)):
        g = cv2.GaussianBlur(rng.standard_normal((n, n)).astype(np.float32), (0, 0), sigma)
        a += weight * g / max(float(g.std()), 1e-6)
    return np.clip(0.25 + 0.07 * a, 0.02, 0.6).astype(np.float32)


def flat_terrain(
    height_m: float = 0.0,
    *,
    size_km: float = 60.0,
    cell_m: float = 100.0,
    centre_lonlat: tuple[float, float] = (-84.25, 36.59),
    texture_px: int = 2048,
    seed: int = 3,
) -> Terrain:
    """A plane at ``height_m`` above the ellipsoid with a procedural texture (synthetic)."""
    west, north, dlon, dlat, n = _synthetic_box(size_km, cell_m, centre_lonlat)
    z = np.full((n, n), float(height_m))
    return Terrain(
        z, west, north, dlon, dlat, _procedural_albedo(texture_px, seed), name="flat (synthetic)", source="synthetic"
    )


def step_terrain(
    step_m: float = 500.0,
    *,
    size_km: float = 60.0,
    cell_m: float = 100.0,
    centre_lonlat: tuple[float, float] = (-84.25, 36.59),
    texture_px: int = 2048,
    seed: int = 3,
) -> Terrain:
    """A plane at 0 m whose eastern half is a plateau ``step_m`` higher, a cliff between (synthetic)."""
    west, north, dlon, dlat, n = _synthetic_box(size_km, cell_m, centre_lonlat)
    z = np.zeros((n, n))
    z[:, n // 2 :] = float(step_m)
    return Terrain(
        z, west, north, dlon, dlat, _procedural_albedo(texture_px, seed), name="step (synthetic)", source="synthetic"
    )


# -- rendering -----------------------------------------------------------------------------------


def _surface_lonlat(georef: Georeference, height_m: float, step: int = _GRID_STEP_PX):
    """Spline interpolators of the exact (lon, lat) in radians where each pixel's ray meets the
    surface of ellipsoidal height ``height_m`` (longitudes unwrapped about the frame's centre)."""
    from scipy.interpolate import RectBivariateSpline

    cam = georef.camera
    cols = np.unique(np.r_[np.arange(0, cam.width_px, step), cam.width_px - 1]).astype(float)
    rows = np.unique(np.r_[np.arange(0, cam.height_px, step), cam.height_px - 1]).astype(float)
    cc, rr = np.meshgrid(cols, rows)
    pts = georef.pixels_to_ecef(cc, rr, height_m)
    if not np.isfinite(pts).all():
        raise InputError("the rendered view must see the ground in every pixel (a ray misses the Earth)")
    lon, lat, _ = geodesy.ecef_to_geodetic(pts)
    lon0 = lon[lon.shape[0] // 2, lon.shape[1] // 2]
    lon = lon0 + np.angle(np.exp(1j * (lon - lon0)))
    kx = min(3, len(rows) - 1)
    ky = min(3, len(cols) - 1)
    return RectBivariateSpline(rows, cols, lon, kx=kx, ky=ky), RectBivariateSpline(rows, cols, lat, kx=kx, ky=ky)


def _sun_enu(sun_elevation_deg: float, sun_azimuth_deg: float) -> np.ndarray:
    el, az = np.radians(sun_elevation_deg), np.radians(sun_azimuth_deg)
    return np.array([np.sin(az) * np.cos(el), np.cos(az) * np.cos(el), np.sin(el)])


def render_view(
    terrain: Terrain,
    georef: Georeference,
    *,
    sun_elevation_deg: float = 60.0,
    sun_azimuth_deg: float = 150.0,
    block_rows: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Radiance (float32, about 0..1) and the true ellipsoidal height (m, float32) of the ground
    seen in every pixel of ``georef``'s frame (no blur, no noise: see :func:`render_pair`)."""
    cam = georef.camera
    w, h = cam.width_px, cam.height_px
    z_lo, z_hi = terrain.height_range_m
    top, bottom = z_hi + 1.0, z_lo - 1.0
    lon_top, lat_top = _surface_lonlat(georef, top)
    lon_bot, lat_bot = _surface_lonlat(georef, bottom)
    sun = _sun_enu(sun_elevation_deg, sun_azimuth_deg)
    ambient = 0.3
    radiance = np.empty((h, w), np.float32)
    height = np.empty((h, w), np.float32)
    rows_per_block = block_rows or max(1, 400_000 // w)
    cols = np.arange(w, dtype=float)
    for r0 in range(0, h, rows_per_block):
        rows = np.arange(r0, min(h, r0 + rows_per_block), dtype=float)
        lt = np.degrees(lon_top(rows, cols))
        at = np.degrees(lat_top(rows, cols))
        lb = np.degrees(lon_bot(rows, cols))
        ab = np.degrees(lat_bot(rows, cols))
        dlon, dlat = lb - lt, ab - at

        def ground(z, lt=lt, at=at, dlon=dlon, dlat=dlat):
            s = (top - z) / (top - bottom)
            return lt + s * dlon, at + s * dlat

        ut, vt = terrain._index(lt, at, terrain.height_m.shape)
        ub, vb = terrain._index(lb, ab, terrain.height_m.shape)
        du, dv = ub - ut, vb - vt

        def above(z, ut=ut, vt=vt, du=du, dv=dv):
            s = (top - z) / (top - bottom)
            return z - _bilinear_mirrored(terrain.height_m, ut + s * du, vt + s * dv)

        travel_cells = float(np.max(np.hypot(du, dv)))
        steps = int(np.clip(np.ceil(2.0 * travel_cells) + 1, 2, 2000))
        # bracket the first crossing from above: hi is above the ground, lo below
        hi = np.full(lt.shape, top)
        lo = np.full(lt.shape, bottom)
        found = np.zeros(lt.shape, bool)
        prev = hi.copy()
        for k in range(1, steps + 1):
            z = np.full(lt.shape, top - (top - bottom) * k / steps)
            below = (above(z) <= 0.0) & ~found
            hi = np.where(below, prev, hi)
            lo = np.where(below, z, lo)
            found |= below
            prev = z
            if found.all():
                break
        for _ in range(7):
            mid = 0.5 * (hi + lo)
            is_above = above(mid) > 0.0
            hi = np.where(is_above, mid, hi)
            lo = np.where(is_above, lo, mid)
        f_hi, f_lo = above(hi), above(lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(f_hi - f_lo > 0, hi - f_hi * (hi - lo) / (f_hi - f_lo), 0.5 * (hi + lo))
        lon, lat = ground(z)
        gx, gn = terrain.slopes_at(lon, lat)
        norm = np.sqrt(gx * gx + gn * gn + 1.0)
        cos_i = (-gx * sun[0] - gn * sun[1] + sun[2]) / norm
        shade = ambient + (1.0 - ambient) * np.clip(cos_i, 0.0, None) / max(sun[2], 0.2)
        sl = slice(int(rows[0]), int(rows[-1]) + 1)
        radiance[sl] = terrain.texture_at(lon, lat) * shade
        height[sl] = terrain.heights_at(lon, lat)
    return radiance, height


@dataclass(frozen=True, eq=False)
class RenderedPair:
    """Two rendered 8-bit frames, their known georeferences and the truth of the first.

    ``truth_height1_m`` is the ellipsoidal height of the ground seen in every pixel of
    ``image1``; ``info`` says how the pair was made (times, separation, sun, noise, terrain)."""

    image1: np.ndarray
    image2: np.ndarray
    georef1: Georeference
    georef2: Georeference
    truth_height1_m: np.ndarray
    terrain: Terrain
    info: dict


def sample_elements(time: dt.datetime) -> orbit.ElementSet:
    """The bundled real ISS element set nearest ``time``."""
    from importlib import resources

    tle = resources.files("cupola") / "data" / "samples" / TLE_SAMPLE[0] / TLE_SAMPLE[1]
    sets = orbit.parse_tle(tle.read_text(), source=TLE_SAMPLE[1])
    return orbit.select_element_set(sets, time)


def render_pair(
    terrain: Terrain,
    camera: Camera,
    *,
    time_mid: dt.datetime = JACKSBORO_PASS,
    separation_s: float = 5.0,
    target_lonlat: tuple[float, float] | None = None,
    elements: orbit.ElementSet | None = None,
    rotation_deg: float = 0.0,
    noise_dn: float = 1.5,
    pixel_sigma_px: float = 0.5,
    psf_sigma_px: float = 0.3,
    seed: int = 0,
) -> RenderedPair:
    """Two frames taken ``separation_s`` apart, centred on ``time_mid``, by ``camera`` pointed at
    ``target_lonlat`` (default: the terrain's centre) from the ISS on its real orbit
    (``elements``; default: the bundled 2017 element set nearest ``time_mid``).

    The obliquity follows from the geometry: the farther ``time_mid`` is from the closest
    approach, the more the views look forward or back. The sun is the real sun at the target at
    ``time_mid``. Both frames share one exposure; each gets its own noise.

    Sampling: a pixel integrates the ground it covers: the texture is low-pass filtered on the
    ground by a Gaussian of ``pixel_sigma_px`` pixels of view 1 (the pixel's box and the lens
    together; without it, texture finer than a pixel would alias differently in the two views),
    then each frame is blurred by ``psf_sigma_px`` (optics) and gets Gaussian noise of ``noise_dn``
    (8-bit numbers) before quantization.
    """
    import cv2

    from cupola.geometry.sun import sun_position

    if not separation_s > 0:
        raise InputError(f"`separation_s` must be positive, got {separation_s}")
    el = elements or sample_elements(time_mid)
    lon_t, lat_t = target_lonlat or terrain.centre_lonlat
    h_t = float(terrain.heights_at(np.array([lon_t]), np.array([lat_t]))[0])
    half = dt.timedelta(seconds=separation_s / 2.0)
    georefs = []
    for t in (time_mid - half, time_mid + half):
        state = orbit.state_at(el, t)
        pose = attitude.pose_look_at(state, lon=lon_t, lat=lat_t, height_m=h_t, rotation_deg=rotation_deg)
        georefs.append(Georeference(camera, pose, t))
    sun = sun_position(time_mid, lon=lon_t, lat=lat_t)
    seen = terrain.blurred(pixel_sigma_px * min(georefs[0].gsd_m())) if pixel_sigma_px > 0 else terrain
    rad1, truth1 = render_view(seen, georefs[0], sun_elevation_deg=sun.elevation_deg, sun_azimuth_deg=sun.azimuth_deg)
    rad2, _ = render_view(seen, georefs[1], sun_elevation_deg=sun.elevation_deg, sun_azimuth_deg=sun.azimuth_deg)
    gain = 225.0 / max(float(np.percentile(rad1[:: max(1, rad1.shape[0] // 256)], 99.5)), 1e-6)
    rng = np.random.default_rng(seed)
    images = []
    for rad in (rad1, rad2):
        img = rad * np.float32(gain)
        if psf_sigma_px > 0:
            img = cv2.GaussianBlur(img, (0, 0), psf_sigma_px)
        if noise_dn > 0:
            img = img + rng.normal(0.0, noise_dn, img.shape).astype(np.float32)
        images.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
    s1 = orbit.state_at(el, georefs[0].time)
    s2 = orbit.state_at(el, georefs[1].time)
    info = {
        "terrain": terrain.name,
        "terrain_source": terrain.source,
        "time1_utc": orbit.iso_z(georefs[0].time),
        "time2_utc": orbit.iso_z(georefs[1].time),
        "separation_s": float(separation_s),
        "base_m": float(np.linalg.norm(s2.position_m - s1.position_m)),
        "target_lon_deg": float(lon_t),
        "target_lat_deg": float(lat_t),
        "off_nadir_deg": [attitude.off_nadir_deg(s1, georefs[0].pose), attitude.off_nadir_deg(s2, georefs[1].pose)],
        "sun_elevation_deg": sun.elevation_deg,
        "sun_azimuth_deg": sun.azimuth_deg,
        "noise_dn": noise_dn,
        "pixel_sigma_px": pixel_sigma_px,
        "psf_sigma_px": psf_sigma_px,
        "tle_epoch": orbit.iso_z(el.epoch),
        "rendered": True,
    }
    return RenderedPair(images[0], images[1], georefs[0], georefs[1], truth1, terrain, info)


def write_pair_files(pair: RenderedPair, folder) -> dict:
    """Write a rendered pair as a user would have it: ``photo1.png``, ``photo2.png`` (8-bit grey),
    ``pose1.json``, ``pose2.json`` (``cupola geolocate`` result.json summaries of the known poses),
    ``truth_dem.tif`` (the terrain's heights, EPSG:4326) and ``pair.json`` (how it was made).
    Returns the paths by name."""
    import json
    from pathlib import Path

    from PIL import Image

    from cupola.io.geotiff import write_lonlat_geotiff
    from cupola.io.staging import json_safe
    from cupola.products.georef import GeorefFrame, georef_summary

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    el = sample_elements(pair.georef1.time)
    paths = {}
    for k, (img, geo) in enumerate(((pair.image1, pair.georef1), (pair.image2, pair.georef2)), start=1):
        photo = out / f"photo{k}.png"
        Image.fromarray(img).save(photo)
        state = orbit.state_at(el, geo.time)
        frame = GeorefFrame(
            photo=photo,
            image=img,
            georef=geo,
            state=state,
            elements=el,
            tle_source="bundled ISS element sets (2017)",
            camera_source="rendered (known)",
            pose_source="rendered (known look-at pose)",
            footprint=geo.footprint(),
            footprint_ring=geo.footprint_lonlat(),
            warnings=[],
        )
        pose = out / f"pose{k}.json"
        pose.write_text(json.dumps(json_safe(georef_summary(frame)), indent=2) + "\n")
        paths[f"photo{k}"], paths[f"pose{k}"] = photo, pose
    truth = write_lonlat_geotiff(out / "truth_dem.tif", pair.terrain.height_m.astype(np.float32), pair.terrain.bounds)
    (out / "pair.json").write_text(json.dumps(json_safe(pair.info), indent=2) + "\n")
    paths["truth_dem"], paths["info"] = truth, out / "pair.json"
    return paths
