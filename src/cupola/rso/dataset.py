"""Synthetic labelled image sets: render, degrade, write, and read back.

A set folder holds ``labels.csv`` (one row per image: the attitude body -> camera as a quaternion
``q_x,q_y,q_z,q_w`` (scalar last, scipy's order) and as intrinsic Z-Y-X Euler angles
``yaw_deg,pitch_deg,roll_deg``, ``range_m``, the Sun direction ``sun_x,sun_y,sun_z`` and the
Earth direction ``earth_x,earth_y,earth_z`` (camera frame, from the spacecraft; empty when there
is no Earth fill), the degradation), ``degraded/NNNNNN.png`` and ``clean/NNNNNN.png`` (8-bit grey),
``arrays.npz`` (``clean`` float16 radiance, ``degraded`` uint8 as in the PNGs, ``psf`` float32 kernels)
and ``result.json`` (seed, model, image size, field of view, render time per image).

Attitudes are uniform on SO(3) (scipy ``Rotation.random``); the range puts the model's bounding
sphere across 50-90 % of the image width; the Sun's phase angle (Sun - spacecraft - camera) is
uniform in 0-100 deg; half of the images have an Earth-albedo fill from a random direction. Image
``i`` of seed ``s`` draws from ``numpy.random.default_rng([s, i])``: the same seed gives the same set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from cupola.errors import InputError
from cupola.rso.degrade import DEGRADATIONS, Degradation, degrade, random_degradation
from cupola.rso.earth_background import earth_background as earth_behind
from cupola.rso.earth_background import earth_in_view
from cupola.rso.render import View, range_for_fill, render_with_coverage
from cupola.rso.spacecraft import SpacecraftModel

__all__ = [
    "RsoSample", "draw_sample", "synthesize", "RsoSet", "read_set", "join_sets", "FOV_DEG", "RESULT_VERSION",
]  # fmt: skip

FOV_DEG = 10.0
RESULT_VERSION = 1


@dataclass(frozen=True)
class RsoSample:
    """One labelled image: its view, the degradation, the clean and the degraded image."""

    view: View
    degradation: Degradation
    clean: np.ndarray
    degraded: np.ndarray
    earth_background: bool = False


def draw_view(rng: np.random.Generator, model: SpacecraftModel, fov_deg: float = FOV_DEG) -> View:
    """A random view: uniform attitude, range for 50-90 % fill, phase angle 0-100 deg, Earth fill for half."""
    rot = Rotation.random(random_state=rng)
    fill = rng.uniform(0.5, 0.9)
    phase = np.radians(rng.uniform(0.0, 100.0))
    az = rng.uniform(0.0, 2 * np.pi)
    sun = (float(np.sin(phase) * np.cos(az)), float(np.sin(phase) * np.sin(az)), float(-np.cos(phase)))
    earth: tuple[float, float, float] | None = None
    if rng.random() < 0.5:
        e = rng.normal(size=3)
        e /= np.linalg.norm(e)
        earth = (float(e[0]), float(e[1]), float(e[2]))
    return View(rot, float(range_for_fill(model.extent_m, fill, fov_deg)), sun, earth, fov_deg)


RENDERERS = ("embree", "mitsuba")
RENDERER_NAMES = {
    "embree": "trimesh + embreex ray casting (CPU), 3x3 rays per pixel, cast shadows",
    "mitsuba": "Mitsuba 3 path tracing (scalar_rgb), 16 samples per pixel, 3 bounces",
}


def draw_sample(
    model: SpacecraftModel,
    seed: int,
    index: int,
    size_px: int = 64,
    renderer: str = "embree",
    psf: tuple[np.ndarray, str] | None = None,
    earth_background: bool = False,
    degradation: str = "full",
) -> RsoSample:
    """Image ``index`` of the set of ``seed`` (deterministic; with ``renderer`` "mitsuba" the
    views and degradations are the same as with "embree", the images Mitsuba's path tracing).
    ``psf`` (kernel, description): every image blurred by it (e.g. measured from stars) instead
    of a drawn one; views and noise draws stay those of the seed. ``earth_background``: where the
    Earth fills the field behind the spacecraft (:func:`cupola.rso.earth_background.earth_in_view`)
    real ground imagery shows around it (drawn from a stream of its own: the rest is unchanged).
    ``degradation`` "blur": the same view and PSF, no noise and no JPEG (:data:`DEGRADATIONS`)."""
    rng = np.random.default_rng([seed, index])
    view = draw_view(rng, model)
    with_earth = earth_background and earth_in_view(view.earth_cam, view.fov_deg)
    cover = None
    if renderer == "mitsuba":
        from cupola.rso.render_mitsuba import render_mitsuba

        clean = render_mitsuba(model, view, size_px, seed=index)
        if with_earth:
            cover = render_with_coverage(model, view, size_px)[1]
    else:
        clean, cover = render_with_coverage(model, view, size_px)
    if with_earth and cover is not None:
        ground = earth_behind(
            np.random.default_rng([seed, index, 1]), size_px, view.fov_deg, view.earth_cam, view.sun_cam
        )
        clean = (clean + (1.0 - cover) * ground).astype(np.float32)
    d = random_degradation(rng, psf, degradation)
    return RsoSample(view, d, clean, degrade(clean, d, rng), with_earth)


def _label(i: int, s: RsoSample) -> dict:
    q = s.view.rotation.as_quat()
    yaw, pitch, roll = s.view.rotation.as_euler("ZYX", degrees=True)
    e = s.view.earth_cam
    return {
        "index": i,
        "image": f"degraded/{i:06d}.png",
        "clean": f"clean/{i:06d}.png",
        "q_x": q[0], "q_y": q[1], "q_z": q[2], "q_w": q[3],
        "yaw_deg": yaw, "pitch_deg": pitch, "roll_deg": roll,
        "range_m": s.view.range_m,
        "sun_x": s.view.sun_cam[0], "sun_y": s.view.sun_cam[1], "sun_z": s.view.sun_cam[2],
        "earth_x": None if e is None else e[0], "earth_y": None if e is None else e[1],
        "earth_z": None if e is None else e[2],
        "fov_deg": s.view.fov_deg,
        "psf": s.degradation.psf_kind,
        "photons_white": s.degradation.photons_white if s.degradation.noise else None,
        "read_noise_e": s.degradation.read_noise_e if s.degradation.noise else None,
        "jpeg_quality": s.degradation.jpeg_quality,
        "earth_background": int(s.earth_background),
    }  # fmt: skip


def synthesize(
    model: SpacecraftModel,
    n: int,
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    size_px: int = 64,
    renderer: str = "embree",
    progress: Callable[[str, int, int], None] | None = None,
    psf: tuple[np.ndarray, str] | None = None,
    earth_background: bool = False,
    degradation: str = "full",
) -> dict:
    """Render and degrade ``n`` images of ``model`` into the set folder ``out_dir`` (all or nothing).

    ``psf`` (kernel, description): one PSF for every image (e.g. measured from the user's star
    images, :func:`cupola.rso.psf_stars.estimate_psf`) instead of the drawn ones.
    ``earth_background``: real ground behind the spacecraft where the Earth fills the field.
    ``degradation``: "full" (blur, noise, low light, JPEG) or "blur" (the PSF only; the same views
    and PSFs as the full set of the seed), :data:`cupola.rso.degrade.DEGRADATIONS`.

    Returns the summary written to ``result.json``.

    Raises:
        InputError: ``n`` < 1, ``size_px`` outside 16-512, an unknown ``renderer`` ("embree" or
            "mitsuba"), an unknown ``degradation``, Mitsuba not installed, or ``out_dir`` cannot be
            written.
    """
    from PIL import Image

    from cupola.io.staging import staged_output, write_json
    from cupola.io.tables import write_records_csv

    if n < 1:
        raise InputError(f"`n` must be at least 1, got {n}")
    if not 16 <= size_px <= 512:
        raise InputError(f"`size_px` must be within 16-512, got {size_px}")
    if renderer not in RENDERERS:
        raise InputError(f"`renderer` must be embree or mitsuba, got {renderer!r}")
    if degradation not in DEGRADATIONS:
        raise InputError(f"`degradation` must be {' or '.join(DEGRADATIONS)}, got {degradation!r}")
    if renderer == "mitsuba":
        from cupola.rso.render_mitsuba import _mitsuba

        _mitsuba()
    labels, clean, degraded, kernels = [], [], [], []
    render_s = 0.0
    with staged_output(out_dir, "`out_dir`", kind="rso-set") as stage:
        (stage / "degraded").mkdir()
        (stage / "clean").mkdir()
        for i in range(n):
            t0 = time.perf_counter()
            s = draw_sample(model, seed, i, size_px, renderer, psf, earth_background, degradation)
            render_s += time.perf_counter() - t0
            labels.append(_label(i, s))
            clean.append(s.clean.astype(np.float16))
            d8 = np.round(s.degraded * 255).astype(np.uint8)
            degraded.append(d8)
            kernels.append(s.degradation.psf.astype(np.float32))
            Image.fromarray(d8).save(stage / "degraded" / f"{i:06d}.png")
            Image.fromarray(np.round(np.clip(s.clean, 0, 1) * 255).astype(np.uint8)).save(
                stage / "clean" / f"{i:06d}.png"
            )
            if progress is not None:
                progress("images", i + 1, n)
        write_records_csv(stage / "labels.csv", labels)
        np.savez_compressed(
            stage / "arrays.npz", clean=np.stack(clean), degraded=np.stack(degraded), psf=np.stack(kernels)
        )
        summary = {
            "version": RESULT_VERSION,
            "kind": "rso-set",
            "model": model.name,
            "n": n,
            "seed": seed,
            "size_px": size_px,
            "fov_deg": FOV_DEG,
            "extent_m": model.extent_m,
            "renderer": RENDERER_NAMES[renderer],
            "render_seconds_per_image": render_s / n,
            "psf": "drawn per image (labels.csv)" if psf is None else psf[1],
            "degradation": degradation,
            "degradation_detail": DEGRADATIONS[degradation],
            "earth_background": earth_background,
            "images_with_earth_background": int(sum(r["earth_background"] for r in labels)),
        }
        write_json(stage / "result.json", summary)
    return summary


@dataclass(frozen=True)
class RsoSet:
    """A set read back: images (N, H, W) float32 in [0, 1] (``clean`` radiance may exceed 1),
    PSF kernels (N, k, k), attitudes (body -> camera), ranges and the summary."""

    folder: Path
    clean: np.ndarray
    degraded: np.ndarray
    psf: np.ndarray
    rotations: Rotation
    range_m: np.ndarray
    summary: dict

    def __len__(self) -> int:
        return len(self.range_m)


def read_set(folder: str | os.PathLike) -> RsoSet:
    """Read a set written by :func:`synthesize`.

    Raises:
        InputError: the folder, ``labels.csv``, ``arrays.npz`` or ``result.json`` is missing or
            unreadable, or they disagree on the number of images.
    """
    import json

    from cupola.io.tables import read_columns

    p = Path(folder)
    if not p.is_dir():
        raise InputError(f"{p}: not a folder; expected an image set written by 'cupola rso synth'")
    for name in ("labels.csv", "arrays.npz", "result.json"):
        if not (p / name).is_file():
            raise InputError(f"{p}: no {name}; expected an image set written by 'cupola rso synth'")
    cols = read_columns(p / "labels.csv", ("q_x", "q_y", "q_z", "q_w", "range_m"), (), "image labels")
    with open(p / "arrays.npz", "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # np.load would take it for a pickle and say so
            raise InputError(
                f"{p}: arrays.npz is not a NumPy archive; expected an image set written by 'cupola rso synth'"
            )
    try:
        with np.load(p / "arrays.npz") as z:
            clean = z["clean"].astype(np.float32)
            degraded = z["degraded"].astype(np.float32) / 255.0
            psf = z["psf"].astype(np.float32)
        summary = json.loads((p / "result.json").read_text())
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{p}: cannot read the image set ({' '.join(str(exc).split())})") from None
    if not (len(clean) == len(degraded) == len(psf) == len(cols["range_m"])):
        raise InputError(f"{p}: labels.csv has {len(cols['range_m'])} rows but arrays.npz {len(clean)} images")
    q = np.column_stack([cols[k] for k in ("q_x", "q_y", "q_z", "q_w")])
    return RsoSet(p, clean, degraded, psf, Rotation.from_quat(q), cols["range_m"], summary)


def join_sets(sets: list[RsoSet]) -> RsoSet:
    """One training set from several (``rso synth`` caps a set's pixels, so a large training set is
    written as several seeds). They must share the image size, the field of view and the model;
    the joined summary is the first set's with ``parts`` listing each folder, seed, count and
    degradation (``degradation`` "mixed" when they differ).

    Raises:
        InputError: no set, or two sets that differ in image size, field of view or model.
    """
    if not sets:
        raise InputError("no image set given")
    if len(sets) == 1:
        return sets[0]
    first = sets[0]

    def key(s: RsoSet) -> tuple:
        return (s.degraded.shape[1:], s.summary.get("fov_deg"), s.summary.get("model"))

    for s in sets[1:]:
        if key(s) != key(first):
            (a_px, a_fov, a_model), (b_px, b_fov, b_model) = key(first), key(s)
            raise InputError(
                f"{s.folder}: {b_px[-1]} px images of {b_model!r} at {b_fov} deg cannot join {first.folder} "
                f"({a_px[-1]} px of {a_model!r} at {a_fov} deg)"
            )
    summary = dict(first.summary)
    summary["parts"] = [
        {
            "folder": str(s.folder),
            "seed": s.summary.get("seed"),
            "n": len(s),
            "degradation": s.summary.get("degradation", "full"),
        }
        for s in sets
    ]
    summary["n"] = sum(len(s) for s in sets)
    kinds = {part["degradation"] for part in summary["parts"]}
    summary["degradation"] = kinds.pop() if len(kinds) == 1 else "mixed"  # each part's is in parts
    return RsoSet(
        first.folder,
        np.concatenate([s.clean for s in sets]),
        np.concatenate([s.degraded for s in sets]),
        np.concatenate(_same_kernel_size([s.psf for s in sets])),
        Rotation.concatenate([s.rotations for s in sets]),
        np.concatenate([s.range_m for s in sets]),
        summary,
    )


def _same_kernel_size(kernels: list[np.ndarray]) -> list[np.ndarray]:
    """Stacks of PSF kernels (N, k, k) zero-padded about their centres to the largest k."""
    k = max(a.shape[-1] for a in kernels)
    out = []
    for a in kernels:
        lo = (k - a.shape[-1]) // 2
        hi = k - a.shape[-1] - lo
        out.append(np.pad(a, ((0, 0), (lo, hi), (lo, hi))) if lo or hi else a)
    return out
