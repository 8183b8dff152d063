"""Render-and-compare refinement of a pose estimate: the coarse attitude and range (from the
ResNet-50, or any other estimate) moved in small steps while the model's silhouette, ray cast at
the candidate pose, matches the image better.

The Sun direction of an image is not known at inference time, so the comparison uses the shape,
not the shading: the image normalised by its 99.5th percentile, clipped to 1 and taken to the
power 1/2 (dim, shadowed or grazing-lit parts still count) against the model's silhouette (the
share of each pixel the model covers, each material weighted by the square root of its albedo as
the image is, :data:`MATERIAL_WEIGHTS`; 2 x 2 rays a pixel, ~3 ms for 64 px on one core, one ray
a pixel for the coarse steps) blurred by a Gaussian of ``blur_px``; the score is their normalised
cross-correlation (NCC, 1 for images equal up to gain and offset).

Search (:func:`refine_pose`): a pattern search over the attitude and the range. From a start it
tries turns of +-step about the three camera axes and a range step of +-step/2 % (step in deg),
moves to the best candidate while the score grows (:data:`MAX_MOVES` at most), then halves the
step (``steps_deg``, coarse to fine). The starts are each estimate given (the network on the
image and its quarter turns, say) composed with each of the model's :func:`near_symmetries` (body
turns that change the silhouette little, such as the ISS-like model's half turns about x and y
that put the radiators on the other side); every start gets the first (coarsest) step, the best
of them the finer steps.

Guard (``anchor``): with a good network the near-symmetry starts do more harm than good: on
validation (seed 2, 400 U-Net-restored images, session 38's network) 34 refined attitudes ended
more than 90 deg from the network's estimate and 27 of them were wrong turns the silhouette could
not tell (errors of 100-180 deg where the network had been 5-60 deg off). So when the best match
lies more than :data:`MAX_MOVE_DEG` from the anchor (the network's estimate; the model's exact
symmetries count as no move), the anchor alone is refined (no other start) and that result is
returned (``Refined.local``).

Example
-------
>>> from scipy.spatial.transform import Rotation
>>> from cupola.rso.spacecraft import iss_like_model
>>> model = iss_like_model()
>>> true = Rotation.from_euler("xyz", [30, -50, 20], degrees=True)
>>> image = silhouette(model, true, 1100.0, 64, 10.0)
>>> start = Rotation.from_euler("y", 12, degrees=True) * true
>>> fit = refine_pose(model, image, start, 1150.0, 10.0, steps_deg=(8.0, 4.0, 2.0, 1.0))
>>> bool((fit.rotation * true.inv()).magnitude() < (start * true.inv()).magnitude() / 3)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.spatial.transform import Rotation

from cupola.rso.render import ALBEDO, focal_px
from cupola.rso.rotations import angle_deg
from cupola.rso.spacecraft import SpacecraftModel

__all__ = [
    "silhouette",
    "shape_map",
    "match_score",
    "refine_pose",
    "Refined",
    "STEPS_DEG",
    "MAX_MOVE_DEG",
    "near_symmetries",
]

#: the pattern search's steps (deg), coarse to fine
STEPS_DEG = (16.0, 8.0, 4.0, 2.0)
#: moves at most per step before it is halved
MAX_MOVES = 6
#: range step (fraction of the range) per degree of attitude step
RANGE_STEP_PER_DEG = 0.005
#: weight of each material code in the rendered silhouette: the square root of its albedo, as the
#: shape map takes the square root of the image
MATERIAL_WEIGHTS = np.sqrt(np.array([ALBEDO[k] for k in sorted(ALBEDO)]))
#: steps at least this coarse (deg) render one ray a pixel, finer ones 2 x 2
FINE_DEG = 8.0
#: a refined attitude farther than this (deg) from the anchor estimate is not trusted (see Guard)
MAX_MOVE_DEG = 90.0


def silhouette(
    model: SpacecraftModel,
    rotation: Rotation,
    range_m: float,
    size_px: int,
    fov_deg: float,
    supersample: int = 2,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """The share (0..1) of each pixel the model covers at the attitude (body -> camera) and range."""
    from cupola.rso.render import _intersector

    ray, _ = _intersector(model)
    n = size_px * supersample
    f = focal_px(size_px, fov_deg) * supersample
    c = (n - 1) / 2.0
    v, u = np.mgrid[0:n, 0:n].astype(float)
    d_cam = np.stack([(u - c) / f, (v - c) / f, np.ones_like(u)], axis=-1).reshape(-1, 3)
    r_inv = rotation.inv()
    d_body = r_inv.apply(d_cam)
    origin = r_inv.apply(np.array([0.0, 0.0, -float(range_m)]))
    tri = ray.intersects_first(np.broadcast_to(origin, d_body.shape), d_body)
    if weights is None:
        cover = (tri >= 0).astype(np.float64)
    else:
        cover = np.where(tri >= 0, np.asarray(weights, float)[model.material[np.maximum(tri, 0)]], 0.0)
    return cover.reshape(size_px, supersample, size_px, supersample).mean(axis=(1, 3)).astype(np.float32)


def shape_map(image: np.ndarray) -> np.ndarray:
    """The image as a shape: divided by its 99.5th percentile (at least 0.02), clipped to [0, 1],
    square root (shadowed and grazing-lit parts count nearly as much as the lit ones)."""
    a = np.asarray(image, np.float32)
    scale = max(float(np.percentile(a, 99.5)), 0.02)
    return np.sqrt(np.clip(a / scale, 0.0, 1.0))


def _unit(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float64).ravel()
    a = a - a.mean()
    return a / max(float(np.linalg.norm(a)), 1e-12)


def match_score(shape: np.ndarray, sil: np.ndarray, blur_px: float) -> float:
    """NCC of a :func:`shape_map` and a silhouette blurred by a Gaussian of ``blur_px`` (pixels)."""
    s = gaussian_filter(sil.astype(np.float64), blur_px) if blur_px > 0 else sil
    return float(_unit(shape) @ _unit(s))


@dataclass(frozen=True)
class Refined:
    """A refined pose: attitude (body -> camera), range (m), its NCC score and the renders it took;
    ``local``: the guard set the best match aside and refined the anchor alone."""

    rotation: Rotation
    range_m: float
    score: float
    renders: int
    local: bool = False


def near_symmetries(model: SpacecraftModel) -> tuple[Rotation, ...]:
    """Body turns worth trying as extra starts: for the ISS-like model the half turns about body x
    and y (the truss, wings and module stack map onto themselves, the radiators flip to the other
    side of the truss), for other models none (the identity only)."""
    if model.name != "iss-like":
        return (Rotation.identity(),)
    return (
        Rotation.identity(),
        Rotation.from_euler("x", 180.0, degrees=True),
        Rotation.from_euler("y", 180.0, degrees=True),
    )


_AXES = np.eye(3)


def _search(
    model: SpacecraftModel,
    shape: np.ndarray,
    rot: Rotation,
    range_m: float,
    score: float,
    steps: Sequence[float],
    size_px: int,
    fov_deg: float,
    blur_px: float,
) -> tuple[Rotation, float, float, int]:
    renders = 0
    for step in steps:
        ss = 1 if step >= FINE_DEG else 2
        if ss == 2:  # the score of the pose found so far, with the finer rendering
            score = match_score(shape, silhouette(model, rot, range_m, size_px, fov_deg, ss, MATERIAL_WEIGHTS), blur_px)
            renders += 1
        for _ in range(MAX_MOVES):
            best = (score, rot, range_m)
            turns = [Rotation.from_rotvec(sign * np.radians(step) * ax) for ax in _AXES for sign in (1.0, -1.0)]
            cands = [(t * rot, range_m) for t in turns]
            dr = RANGE_STEP_PER_DEG * step
            cands += [(rot, range_m * (1.0 + dr)), (rot, range_m / (1.0 + dr))]
            for r, rng_m in cands:
                s = match_score(shape, silhouette(model, r, rng_m, size_px, fov_deg, ss, MATERIAL_WEIGHTS), blur_px)
                renders += 1
                if s > best[0]:
                    best = (s, r, rng_m)
            if best[0] <= score:
                break
            score, rot, range_m = best
    return rot, range_m, score, renders


def refine_pose(
    model: SpacecraftModel,
    image: np.ndarray,
    rotation: Rotation,
    range_m: float | np.ndarray,
    fov_deg: float,
    *,
    steps_deg: Sequence[float] = STEPS_DEG,
    blur_px: float = 1.0,
    starts: Sequence[Rotation] | None = None,
    keep: int | None = None,
    anchor: tuple[Rotation, float] | None = None,
    max_move_deg: float = MAX_MOVE_DEG,
) -> Refined:
    """Refine an estimate (attitude body -> camera, range in m) of ``image`` (H, W) by the pattern
    search of the module docstring. ``rotation`` may hold several estimates (with as many ranges),
    each composed with every body turn of ``starts`` (default :func:`near_symmetries` of the
    model): every start (or the ``keep`` best-scoring ones) gets the coarsest step, the best of them the rest.
    ``anchor`` (one attitude, range m): the estimate the result may not move farther than
    ``max_move_deg`` from; beyond, the anchor alone is refined (the module's Guard)."""
    fit = _refine(model, image, rotation, range_m, fov_deg, steps_deg, blur_px, starts, keep)
    if anchor is None:
        return fit
    moved = angle_deg(Rotation.concatenate([fit.rotation]), Rotation.concatenate([anchor[0]]), model.symmetries)
    if float(moved[0]) <= max_move_deg:
        return fit
    local = _refine(
        model, image, anchor[0], float(anchor[1]), fov_deg, steps_deg, blur_px, (Rotation.identity(),), None
    )
    return Refined(local.rotation, local.range_m, local.score, fit.renders + local.renders, local=True)


def _refine(
    model: SpacecraftModel,
    image: np.ndarray,
    rotation: Rotation,
    range_m: float | np.ndarray,
    fov_deg: float,
    steps_deg: Sequence[float],
    blur_px: float,
    starts: Sequence[Rotation] | None,
    keep: int | None,
) -> Refined:
    img = np.asarray(image, np.float32)
    size_px = img.shape[-1]
    shape = shape_map(img)
    starts = near_symmetries(model) if starts is None else tuple(starts)
    steps = tuple(float(s) for s in steps_deg)
    rots = rotation if not rotation.single else Rotation.concatenate([rotation])
    ranges = np.broadcast_to(np.asarray(range_m, float), (len(rots),))
    ss = 1 if steps[0] >= FINE_DEG else 2

    def score(r: Rotation, rng_m: float) -> float:
        return match_score(shape, silhouette(model, r, rng_m, size_px, fov_deg, ss, MATERIAL_WEIGHTS), blur_px)

    scored = [(score(r * g, float(d)), r * g, float(d)) for r, d in zip(rots, ranges) for g in starts]
    renders = len(scored)
    scored.sort(key=lambda t: -t[0])
    found = []
    for s0, r0, rng0 in scored[: len(scored) if keep is None else max(1, keep)]:
        r, rng_m, s, k = _search(model, shape, r0, float(rng0), s0, steps[:1], size_px, fov_deg, blur_px)
        renders += k
        found.append((s, r, rng_m))
    s, r, rng_m = max(found, key=lambda t: t[0])
    r, rng_m, s, k = _search(model, shape, r, rng_m, s, steps[1:], size_px, fov_deg, blur_px)
    return Refined(r, float(rng_m), float(s), renders + k)
