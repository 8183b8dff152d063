"""Spacecraft models for rendering: a procedural ISS-like assembly built from the station's real
dimensions, or a user's mesh file (OBJ, GLB, STL, PLY: anything trimesh reads).

Body frame of the ISS-like model (metres, origin at the centre of the truss): +x along the
integrated truss (starboard), +y along the pressurised modules (the Russian segment towards +y),
+z from the modules up through the truss to the radiators. Dimensions (NASA ISS fact sheets):
integrated truss 109 m long (~4.6 m square section), eight solar-array wings 35 m x 12 m in four
pairs at the truss ends, two heat-rejection radiators (~23 m x 11 m), and pressurised module
cylinders of 4.2 m diameter (a ~70 m stack across the truss, longer on the Russian side).

The model is nearly unchanged by a 180-degree turn about +z (x -> -x, y -> -y): only the module
stack breaks it (it runs 25 m to -y and 45 m to +y). :attr:`SpacecraftModel.symmetries` lists that
turn, so pose errors and losses take the smaller error of the two equivalent attitudes.

Example
-------
>>> model = iss_like_model()
>>> round(model.extent_m), len(model.symmetries)
(140, 2)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from cupola.errors import InputError

__all__ = ["SpacecraftModel", "iss_like_model", "load_model", "BODY", "ARRAY", "RADIATOR"]

#: material codes of the faces: painted/blanketed body, solar array, radiator
BODY, ARRAY, RADIATOR = 0, 1, 2

TRUSS_LENGTH_M = 109.0
TRUSS_SECTION_M = 4.6
WING_LENGTH_M = 35.0
WING_WIDTH_M = 12.0
MODULE_DIAMETER_M = 4.2
RADIATOR_SIZE_M = (11.0, 23.0)


@dataclass(frozen=True)
class SpacecraftModel:
    """A triangle mesh in the body frame (metres) with a material code per face.

    ``vertices_m`` (V, 3), ``faces`` (F, 3) indices, ``material`` (F,) codes
    (:data:`BODY`, :data:`ARRAY`, :data:`RADIATOR`), ``symmetries``: the body rotations that leave
    the model (nearly) unchanged, the identity first; ``extent_m``: diameter of the bounding sphere
    about the origin; ``edges``: vertex index pairs of the feature edges drawn in wireframe overlays.
    """

    name: str
    vertices_m: np.ndarray
    faces: np.ndarray
    material: np.ndarray
    symmetries: tuple[Rotation, ...]
    edges: np.ndarray

    @property
    def extent_m(self) -> float:
        return float(2.0 * np.max(np.linalg.norm(self.vertices_m, axis=1)))

    def trimesh(self):
        import trimesh

        return trimesh.Trimesh(self.vertices_m, self.faces, process=False)


def _feature_edges(vertices: np.ndarray, faces: np.ndarray, angle_deg: float = 30.0) -> np.ndarray:
    """Edges on the outline of the mesh: boundary edges and edges between faces that bend by more
    than ``angle_deg`` (the box and cylinder outlines, not the triangulation inside a flat face)."""
    import trimesh

    mesh = trimesh.Trimesh(vertices, faces, process=False)
    adj = mesh.face_adjacency_edges[mesh.face_adjacency_angles > np.radians(angle_deg)]
    edges = mesh.edges_sorted
    counts: dict[tuple[int, int], int] = {}
    for a, b in map(tuple, edges):
        counts[(a, b)] = counts.get((a, b), 0) + 1
    boundary = np.array([k for k, c in counts.items() if c == 1], dtype=np.int64).reshape(-1, 2)
    return np.unique(np.vstack([np.sort(adj, axis=1), boundary]), axis=0)


def iss_like_model() -> SpacecraftModel:
    """The procedural ISS-like assembly (see the module docstring for the frame and dimensions)."""
    import trimesh
    from trimesh.creation import box, cylinder

    parts: list = []
    mats: list[int] = []

    def add(mesh, material: int) -> None:
        parts.append(mesh)
        mats.append(material)

    def at(mesh, xyz):
        mesh.apply_translation(xyz)
        return mesh

    s = TRUSS_SECTION_M
    add(box(extents=(TRUSS_LENGTH_M, s, s)), BODY)
    # solar-array wings: two masts at each truss end, one wing towards +y and one towards -y on each
    for x in (-52.5, -39.5, 39.5, 52.5):
        for side in (-1, 1):
            y = side * (s / 2 + 1.0 + WING_LENGTH_M / 2)
            add(at(box(extents=(WING_WIDTH_M, WING_LENGTH_M, 0.25)), (x, y, 0.0)), ARRAY)
        add(at(box(extents=(1.0, 2 * (s / 2 + 1.0), 1.0)), (x, 0.0, 0.0)), BODY)  # the mast
    # radiators above the truss, inboard of the arrays
    rw, rh = RADIATOR_SIZE_M
    for x in (-22.0, 22.0):
        add(at(box(extents=(rw, 0.3, rh)), (x, 0.0, s / 2 + rh / 2)), RADIATOR)
    # pressurised modules below the truss: a stack along y, longer towards +y (Russian segment)
    z = -(s / 2 + MODULE_DIAMETER_M / 2 + 0.5)
    rot_y = trimesh.transformations.rotation_matrix(np.pi / 2, (1, 0, 0))
    for y0, y1, d in ((-25.0, -2.0, MODULE_DIAMETER_M), (-2.0, 20.0, MODULE_DIAMETER_M), (20.0, 45.0, 4.1)):
        cyl = cylinder(radius=d / 2, height=y1 - y0, sections=16, transform=rot_y)
        add(at(cyl, (0.0, (y0 + y1) / 2, z)), BODY)
    # a node with two short modules across the stack (x), as Harmony/Columbus/Kibo
    rot_x = trimesh.transformations.rotation_matrix(np.pi / 2, (0, 1, 0))
    add(at(cylinder(radius=MODULE_DIAMETER_M / 2, height=16.0, sections=16, transform=rot_x), (-6.0, -20.0, z)), BODY)
    add(at(box(extents=(4.0, 4.0, 2.0)), (0.0, 0.0, -(s / 2 + 0.25))), BODY)  # the truss-to-lab strut

    vertices: list[np.ndarray] = []
    faces: list[np.ndarray] = []
    material: list[np.ndarray] = []
    offset = 0
    for mesh, m in zip(parts, mats):
        vertices.append(np.asarray(mesh.vertices, float))
        faces.append(np.asarray(mesh.faces, np.int64) + offset)
        material.append(np.full(len(mesh.faces), m, np.int8))
        offset += len(mesh.vertices)
    v = np.vstack(vertices)
    f = np.vstack(faces)
    sym = (Rotation.identity(), Rotation.from_euler("z", 180.0, degrees=True))
    return SpacecraftModel("iss-like", v, f, np.concatenate(material), sym, _feature_edges(v, f))


#: a mesh file larger than this is refused before it is read (trimesh holds it all in memory)
MAX_MESH_BYTES = 512 * 1024 * 1024


def load_model(path: str | os.PathLike, *, scale: float = 1.0) -> SpacecraftModel:
    """A user's mesh (OBJ, GLB/GLTF, STL, PLY, OFF: what trimesh reads) as a :class:`SpacecraftModel`,
    centred on its bounding-box centre, multiplied by ``scale`` to metres, every face :data:`BODY`,
    no symmetry assumed.

    Raises:
        InputError: the file is missing or unreadable, or holds no triangles.
    """
    import trimesh

    from cupola.io.limits import regular_file

    p = regular_file(path, "a mesh file (OBJ, GLB, STL or PLY)")
    if p.stat().st_size > MAX_MESH_BYTES:
        raise InputError(f"{p}: the mesh file is {p.stat().st_size} bytes; at most {MAX_MESH_BYTES} are read")
    if not (scale > 0 and np.isfinite(scale)):
        raise InputError(f"`scale` must be a positive number, got {scale}")
    try:
        loaded = trimesh.load(p, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for a bad file
        raise InputError(f"{p}: cannot read the mesh ({' '.join(str(exc).split()) or type(exc).__name__}); "
                         "expected an OBJ, GLB, STL or PLY file") from None  # fmt: skip
    faces = np.asarray(getattr(loaded, "faces", np.empty((0, 3))), np.int64)
    if faces.ndim != 2 or len(faces) == 0:
        raise InputError(f"{p}: the mesh has no triangles; expected an OBJ, GLB, STL or PLY file with faces")
    v = np.asarray(getattr(loaded, "vertices"), dtype=np.float64)  # noqa: B009
    if not np.isfinite(v).all():
        raise InputError(f"{p}: the mesh has vertices that are not finite numbers (NaN or infinity)")
    if not np.ptp(v, axis=0).max() > 0:
        raise InputError(f"{p}: the mesh has no extent (every vertex at one point)")
    v = (v - (v.min(axis=0) + v.max(axis=0)) / 2) * scale
    return SpacecraftModel(
        p.stem, v, faces, np.zeros(len(faces), np.int8), (Rotation.identity(),), _feature_edges(v, faces)
    )
