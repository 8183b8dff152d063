"""Frames onto the layer: each frame, with its own station position and attitude, sampled on one
:class:`~cupola.airglow.shell.TangentGrid`, its brightness divided by the slant factor (the van
Rhijn correction) so that a sequence stacks cell by cell.

The frame is first binned to about the grid spacing (block means, so no sample aliases), then
each grid cell is mapped to a pixel of the binned frame (:func:`~cupola.airglow.shell.shell_to_pixels`)
and read by bilinear interpolation.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from cupola.airglow.shell import TangentGrid, rays_to_shell, shell_to_pixels, slant_factor
from cupola.errors import InputError
from cupola.geometry import geodesy
from cupola.geometry.attitude import Pose
from cupola.geometry.camera import Camera

__all__ = ["bin_image", "binned_camera", "bin_factor_for", "choose_grid", "project_frame", "GridGeometry"]


def bin_image(image: np.ndarray, factor: int) -> np.ndarray:
    """Block means of ``factor`` x ``factor`` pixels (the ragged edge is dropped)."""
    a = np.asarray(image, dtype=np.float32)
    if factor <= 1:
        return a
    h, w = (a.shape[0] // factor) * factor, (a.shape[1] // factor) * factor
    return a[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def binned_camera(camera: Camera, factor: int) -> Camera:
    """The camera of :func:`bin_image` (pixel centres of the blocks; the distortion acts on
    normalised coordinates and stays)."""
    if factor <= 1:
        return camera
    return replace(
        camera,
        width_px=camera.width_px // factor,
        height_px=camera.height_px // factor,
        focal_x_px=camera.focal_x_px / factor,
        focal_y_px=camera.focal_y_px / factor,
        cx_px=(camera.cx_px - (factor - 1) / 2.0) / factor,
        cy_px=(camera.cy_px - (factor - 1) / 2.0) / factor,
    )


def bin_factor_for(camera: Camera, pose: Pose, height_m: float, spacing_km: float) -> int:
    """Largest binning whose binned pixel near the frame centre is at most half a grid cell on the layer."""
    c, r = camera.cx_px, camera.cy_px
    pts, hit = rays_to_shell(camera, pose, np.array([c, c + 1.0]), np.array([r, r]), height_m)
    if not hit.all():
        return 1
    px_km = float(np.linalg.norm(pts[1] - pts[0])) / 1e3
    return max(1, int(0.5 * spacing_km / px_km))


#: the most grid cells along a side (a grid spacing given by the user can ask for more)
MAX_GRID_CELLS = 1024
#: the fewest (a wave needs several cells a wavelength, the spectrum a window of cells)
MIN_GRID_CELLS = 8


def choose_grid(
    camera: Camera,
    poses: list[Pose],
    height_m: float,
    *,
    spacing_km: float | None = None,
    max_slant: float = 4.0,
    max_half_km: float = 600.0,
    max_cells: int = 256,
    min_spacing_km: float = 2.0,
) -> TangentGrid:
    """A grid about the layer point seen at the middle of the middle frame that holds what the
    sequence sees with a slant factor below ``max_slant`` (no grazing limb) in its first, middle and
    last frames, at most ``max_half_km`` from the centre; ``spacing_km`` None: the span over
    ``max_cells``, at least ``min_spacing_km``."""
    mid = poses[len(poses) // 2]
    cols = np.linspace(0, camera.width_px - 1, 25)
    rows = np.linspace(0, camera.height_px - 1, 17)
    cc, rr = np.meshgrid(cols, rows)
    pts, hit = rays_to_shell(camera, mid, cc, rr, height_m)
    if not hit.any():
        raise InputError("the frames do not see the airglow layer (every line of sight misses it)")
    centre = pts[len(rows) // 2, len(cols) // 2]
    if not hit[len(rows) // 2, len(cols) // 2]:
        centre = np.nanmean(pts[hit], axis=0)
    lon, lat, _ = geodesy.ecef_to_geodetic(centre)
    probe = TangentGrid(float(np.degrees(lon)), float(np.degrees(lat)), height_m, 1.0, 1, 1)
    # the layer the middle frame sees (slant below max_slant) that the first and last frames see too
    fine_c, fine_r = np.meshgrid(np.linspace(0, camera.width_px - 1, 61), np.linspace(0, camera.height_px - 1, 41))
    p, h = rays_to_shell(camera, mid, fine_c, fine_r, height_m)
    keep = h & (slant_factor(mid.position_m, np.where(h[..., None], p, 0.0), height_m) < max_slant)
    if not keep.any():
        raise InputError(
            f"the frames see the layer only at grazing angles (slant factor {max_slant:g} or more along every line of "
            "sight: a limb view); waves are measured where the camera looks down on the layer: frames that "
            "include a view further below the limb are needed"
        )
    p = p[keep]
    for pose in (poses[0], poses[-1]):
        c, r = shell_to_pixels(camera, pose, p)
        inside = (c >= 0) & (c <= camera.width_px - 1) & (r >= 0) & (r <= camera.height_px - 1)
        p = p[inside]
    if len(p) < 4:
        raise InputError(
            "the first and last frames see no common part of the layer: the sequence is too long "
            "for the field of view (a shorter sequence or a wider lens)"
        )
    x, y = probe.from_ecef(p)
    x = np.clip(x, -max_half_km, max_half_km)
    y = np.clip(y, -max_half_km, max_half_km)
    half = float(max(np.abs(x).max(), np.abs(y).max(), 10.0))
    if spacing_km is None:
        spacing_km = max(min_spacing_km, float(np.ceil(2.0 * half / max_cells * 10.0) / 10.0))
    n = int(np.ceil(2.0 * half / spacing_km))
    n += n % 2
    if n < MIN_GRID_CELLS:
        raise InputError(
            f"`spacing_km` {spacing_km:g} km gives a grid of only {n}x{n} cells over the {2 * half:.0f} km the "
            f"frames see; at least {MIN_GRID_CELLS}x{MIN_GRID_CELLS}: choose a finer grid"
        )
    if n > MAX_GRID_CELLS:  # a cube of frames x n x n floats: bounded before it is allocated
        raise InputError(
            f"`spacing_km` {spacing_km:g} km gives a grid of {n}x{n} cells over the {2 * half:.0f} km the "
            f"frames see; at most {MAX_GRID_CELLS}x{MAX_GRID_CELLS}: choose a coarser grid"
        )
    return TangentGrid(probe.lon0_deg, probe.lat0_deg, height_m, float(spacing_km), n, n)


class GridGeometry:
    """The grid's cell centres on the layer (ECEF), computed once for a sequence."""

    def __init__(self, grid: TangentGrid, thickness_m: float = 8e3):
        self.grid = grid
        self.thickness_m = thickness_m
        self.points_m = grid.to_ecef(*grid.mesh_km())
        lon0, lat0 = np.radians(grid.lon0_deg), np.radians(grid.lat0_deg)
        self._centre = geodesy.geodetic_to_ecef(lon0, lat0, 0.0)
        self._ground_radius_m = float(np.linalg.norm(self._centre))
        u = self._centre / self._ground_radius_m
        east = np.cross([0.0, 0.0, 1.0], u)
        east /= np.linalg.norm(east)
        self._basis = (east, np.cross(u, east), u)

    def ground_cells(self, pose: Pose) -> tuple[np.ndarray, np.ndarray]:
        """Ground-grid coordinates (km, x east, y north) of the ground point behind each layer cell
        on the line of sight from ``pose`` (where a city light or a cloud seen through that cell
        lies); NaN off the Earth. The ground grid is internal (the cleaning's): a spherical
        azimuthal-equidistant map of geocentric directions about the grid centre, on the Earth's
        radius there, fast and the same for every frame."""
        o = np.asarray(pose.position_m, dtype=float)
        g = geodesy.ray_ellipsoid_intersection(o, self.points_m - o, 0.0)
        ok = np.isfinite(g[..., 0])
        d = np.where(ok[..., None], g, self._centre) / np.linalg.norm(
            np.where(ok[..., None], g, self._centre), axis=-1, keepdims=True
        )
        e, n, u = self._basis
        de, dn, du = d @ e, d @ n, d @ u
        psi = np.arctan2(np.hypot(de, dn), du)
        az = np.arctan2(de, dn)
        r_km = psi * self._ground_radius_m / 1e3
        return np.where(ok, r_km * np.sin(az), np.nan), np.where(ok, r_km * np.cos(az), np.nan)


def project_frame(
    image: np.ndarray,
    camera: Camera,
    pose: Pose,
    geometry: GridGeometry,
    *,
    flat: np.ndarray | None = None,
    bin_factor: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """One frame on the grid: ``(values, slant)``, each (ny, nx). ``values`` is the brightness
    divided by the slant factor (vertical-equivalent, van Rhijn corrected) after the flat field
    (``flat``, the frame's relative response, same size as the frame); NaN where the cell is not
    seen."""
    img: np.ndarray = np.asarray(image, dtype=np.float32)
    if flat is not None:
        img = img / np.asarray(flat, dtype=np.float32)
    small = bin_image(img, bin_factor)
    cam = binned_camera(camera, bin_factor)
    col, row = shell_to_pixels(cam, pose, geometry.points_m)
    inside = (col >= -0.5) & (col <= cam.width_px - 0.5) & (row >= -0.5) & (row <= cam.height_px - 0.5)
    coords = np.stack([np.where(inside, row, 0.0), np.where(inside, col, 0.0)])
    vals = ndimage.map_coordinates(small, coords, order=1, mode="nearest")
    slant = slant_factor(pose.position_m, geometry.points_m, geometry.grid.height_m, geometry.thickness_m)
    vals = np.where(inside, vals / slant, np.nan).astype(np.float32)
    return vals, np.where(inside, slant, np.nan)
