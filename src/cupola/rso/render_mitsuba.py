"""A second renderer: Mitsuba 3 path tracing on the CPU (``pip install mitsuba``, the
``scalar_rgb`` variant), with the camera, light and material conventions of
:mod:`cupola.rso.render`. Used as an independent generator: the networks trained on the Embree
ray-cast images are checked on Mitsuba images (interreflections, a plastic BSDF for the arrays,
sampling noise). Optional: cupola does not depend on Mitsuba.

The camera is placed in the body frame (Mitsuba's ``look_at`` with up = -y of the camera, so image
rows grow along the camera's +y as in OpenCV), the Sun is a directional emitter of irradiance pi
(a white Lambert surface facing it has radiance 1, the scale of :func:`cupola.rso.render.render`),
the Earth fill a second one of irradiance 0.3 pi.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.rso.render import ALBEDO, View
from cupola.rso.spacecraft import ARRAY, SpacecraftModel

__all__ = ["available", "render_mitsuba"]

_PLY: dict[int, tuple[SpacecraftModel, dict[int, str]]] = {}


def available() -> bool:
    try:
        import mitsuba  # noqa: F401
    except ImportError:
        return False
    return True


def _mitsuba():
    try:
        import mitsuba as mi
    except ImportError:
        raise InputError("the Mitsuba renderer needs the mitsuba package (pip install mitsuba)") from None
    if mi.variant() is None:
        mi.set_variant("scalar_rgb")
    return mi


def _ply_files(model: SpacecraftModel) -> dict[int, str]:
    hit = _PLY.get(id(model))
    if hit is not None and hit[0] is model:
        return hit[1]
    import trimesh

    folder = Path(tempfile.mkdtemp(prefix="cupola-rso-mitsuba-"))
    atexit.register(shutil.rmtree, folder, True)  # the meshes Mitsuba reads; gone when the process ends
    files = {}
    for mat in np.unique(model.material):
        faces = model.faces[model.material == mat]
        path = folder / f"material{int(mat)}.ply"
        trimesh.Trimesh(model.vertices_m, faces, process=False).export(path)
        files[int(mat)] = os.fspath(path)
    _PLY[id(model)] = (model, files)
    return files


def render_mitsuba(model: SpacecraftModel, view: View, size_px: int = 64, spp: int = 16, seed: int = 0) -> np.ndarray:
    """Radiance image (float32) of ``model`` seen as ``view`` says, path traced by Mitsuba 3."""
    mi = _mitsuba()
    r_inv = view.rotation.inv()
    origin = r_inv.apply([0.0, 0.0, -view.range_m])
    ahead = r_inv.apply([0.0, 0.0, 1.0])
    up = -r_inv.apply([0.0, 1.0, 0.0])
    shapes = {}
    for mat, path in _ply_files(model).items():
        refl = ALBEDO.get(mat, 0.75)
        inner: dict = {"type": "diffuse", "reflectance": {"type": "rgb", "value": refl}}
        if mat == ARRAY:
            inner = {"type": "plastic", "diffuse_reflectance": {"type": "rgb", "value": refl}, "int_ior": 1.9}
        shapes[f"m{mat}"] = {"type": "ply", "filename": path, "face_normals": True,
                             "bsdf": {"type": "twosided", "b": inner}}  # fmt: skip
    camera = mi.ScalarTransform4f().look_at(origin=origin.tolist(), target=(origin + ahead).tolist(), up=up.tolist())
    sun = r_inv.apply(np.asarray(view.sun_cam, float) / np.linalg.norm(view.sun_cam))
    emitters = {
        "sun": {
            "type": "directional",
            "direction": (-sun).tolist(),
            "irradiance": {"type": "rgb", "value": float(np.pi)},
        }
    }
    if view.earth_cam is not None:
        e = r_inv.apply(np.asarray(view.earth_cam, float) / np.linalg.norm(view.earth_cam))
        emitters["earth"] = {"type": "directional", "direction": (-e).tolist(),
                             "irradiance": {"type": "rgb", "value": float(0.3 * np.pi)}}  # fmt: skip
    scene = mi.load_dict({
        "type": "scene",
        "integrator": {"type": "path", "max_depth": 3},
        "sensor": {
            "type": "perspective", "fov": float(view.fov_deg), "fov_axis": "x",
            "to_world": camera,
            "film": {"type": "hdrfilm", "width": size_px, "height": size_px, "pixel_format": "luminance",
                     "rfilter": {"type": "box"}},
            "sampler": {"type": "independent", "sample_count": int(spp), "seed": int(seed)},
        },
        **emitters,
        **shapes,
    })  # fmt: skip
    img = np.asarray(mi.render(scene), np.float32)
    return img[..., 0] if img.ndim == 3 else img
