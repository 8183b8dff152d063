"""Rendering a spacecraft model on the CPU by ray casting (Embree through trimesh/embreex).

Camera: a pinhole of ``size_px`` x ``size_px`` square pixels and field of view ``fov_deg``, the
OpenCV frame of DESIGN.md (+z along the boresight, +x towards increasing col, +y towards
increasing row). The spacecraft sits on the boresight at ``range_m`` with attitude ``rotation``
(body -> camera). Light: the Sun, a unit vector ``sun_cam`` from the spacecraft towards the Sun in
the camera frame, with cast shadows; Lambert reflection with per-material albedo plus a
Blinn-Phong specular lobe on the solar arrays; an optional Earth-albedo fill from ``earth_cam``
(the direction towards the Earth, no shadows); black space behind. Each pixel averages
``supersample``² rays (anti-aliasing). The image is radiance relative to a white Lambert surface
facing the Sun (1.0), not clipped.

Example
-------
>>> from scipy.spatial.transform import Rotation
>>> from cupola.rso.spacecraft import iss_like_model
>>> view = View(Rotation.identity(), range_m=900.0, sun_cam=(0.0, 0.0, -1.0))
>>> img = render(iss_like_model(), view, size_px=32)
>>> img.shape, bool(img.max() > 0.5), float(img[0, 0])
((32, 32), True, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from cupola.rso.spacecraft import ARRAY, BODY, RADIATOR, SpacecraftModel

__all__ = ["View", "render", "render_with_coverage", "focal_px", "project", "range_for_fill"]

#: diffuse albedo and specular weight per material
ALBEDO = {BODY: 0.75, ARRAY: 0.22, RADIATOR: 0.85}
SPECULAR = {BODY: 0.05, ARRAY: 0.9, RADIATOR: 0.1}
SHININESS = 40.0
EARTH_FILL = 0.3  # Earth's mean Bond albedo: the fill is that share of the Sun's irradiance at most


@dataclass(frozen=True)
class View:
    """One rendering: attitude (body -> camera), range, Sun and Earth directions (camera frame)."""

    rotation: Rotation
    range_m: float
    sun_cam: tuple[float, float, float]
    earth_cam: tuple[float, float, float] | None = None
    fov_deg: float = 10.0


def focal_px(size_px: int, fov_deg: float) -> float:
    """Focal length in pixels of a square image of ``size_px`` with full field of view ``fov_deg``."""
    return size_px / (2.0 * np.tan(np.radians(fov_deg) / 2.0))


def range_for_fill(extent_m: float, fill: float, fov_deg: float) -> float:
    """The range (m) at which an object of ``extent_m`` spans ``fill`` of the image width."""
    return extent_m / (fill * 2.0 * np.tan(np.radians(fov_deg) / 2.0))


def project(points_body_m: np.ndarray, view: View, size_px: int) -> np.ndarray:
    """Pixel (col, row) of body-frame points (N, 3) in the image of ``view``."""
    cam = view.rotation.apply(np.asarray(points_body_m, float)) + np.array([0.0, 0.0, view.range_m])
    f = focal_px(size_px, view.fov_deg)
    c = (size_px - 1) / 2.0
    return np.column_stack([c + f * cam[:, 0] / cam[:, 2], c + f * cam[:, 1] / cam[:, 2]])


_INTERSECTORS: dict[int, tuple] = {}


def _intersector(model: SpacecraftModel):
    key = id(model)
    hit = _INTERSECTORS.get(key)
    if hit is None or hit[0] is not model:
        from trimesh.ray.ray_pyembree import RayMeshIntersector

        mesh = model.trimesh()
        if len(_INTERSECTORS) > 8:
            _INTERSECTORS.clear()
        hit = (model, RayMeshIntersector(mesh), np.asarray(mesh.face_normals))
        _INTERSECTORS[key] = hit
    return hit[1], hit[2]


def _unit(v) -> np.ndarray:
    a = np.asarray(v, float)
    return a / np.linalg.norm(a)


def render(model: SpacecraftModel, view: View, size_px: int = 64, supersample: int = 3) -> np.ndarray:
    """Radiance image (``size_px`` x ``size_px`` float32) of ``model`` seen as ``view`` says."""
    return render_with_coverage(model, view, size_px, supersample)[0]


def render_with_coverage(
    model: SpacecraftModel, view: View, size_px: int = 64, supersample: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """(radiance, coverage): :func:`render` and, per pixel, the share of its rays that hit the
    model (what a background behind it shows through: ``1 - coverage``)."""
    ray, normals = _intersector(model)
    n = size_px * supersample
    f = focal_px(size_px, view.fov_deg) * supersample
    c = (n - 1) / 2.0
    v, u = np.mgrid[0:n, 0:n].astype(float)
    d_cam = np.stack([(u - c) / f, (v - c) / f, np.ones_like(u)], axis=-1).reshape(-1, 3)
    d_cam /= np.linalg.norm(d_cam, axis=1, keepdims=True)
    r_inv = view.rotation.inv()
    d_body = r_inv.apply(d_cam)
    origin = r_inv.apply(np.array([0.0, 0.0, -view.range_m]))
    origins = np.broadcast_to(origin, d_body.shape)
    tri, idx, loc = ray.intersects_id(origins, d_body, multiple_hits=False, return_locations=True)
    out = np.zeros(n * n)
    if len(tri):
        d = d_body[idx]
        nrm = normals[tri].copy()
        back = np.einsum("ij,ij->i", nrm, d) > 0
        nrm[back] *= -1.0  # thin panels are lit and seen from either side
        mat = model.material[tri]
        albedo = np.vectorize(ALBEDO.get)(mat) if len(mat) else np.zeros(0)
        spec_w = np.vectorize(SPECULAR.get)(mat) if len(mat) else np.zeros(0)
        sun = r_inv.apply(_unit(view.sun_cam))
        cos_i = nrm @ sun
        lit = cos_i > 0
        if lit.any():
            start = loc[lit] + nrm[lit] * 1e-3 * max(model.extent_m, 1.0)
            shadowed = ray.intersects_any(start, np.broadcast_to(sun, start.shape))
            lit_idx = np.flatnonzero(lit)
            lit[lit_idx[shadowed]] = False
        half = sun[None, :] - d
        half /= np.linalg.norm(half, axis=1, keepdims=True)
        spec = spec_w * np.clip(np.einsum("ij,ij->i", nrm, half), 0, None) ** SHININESS
        radiance = np.where(lit, albedo * np.clip(cos_i, 0, None) + spec, 0.0)
        if view.earth_cam is not None:
            earth = r_inv.apply(_unit(view.earth_cam))
            radiance += EARTH_FILL * albedo * np.clip(nrm @ earth, 0, None)
        out[idx] = radiance
    img = out.reshape(size_px, supersample, size_px, supersample).mean(axis=(1, 3))
    hits = np.zeros(n * n)
    hits[idx] = 1.0
    cover = hits.reshape(size_px, supersample, size_px, supersample).mean(axis=(1, 3))
    return img.astype(np.float32), cover.astype(np.float32)
