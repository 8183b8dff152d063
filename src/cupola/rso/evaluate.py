"""Evaluation on a labelled set: recovery (degraded, Wiener, Richardson-Lucy, U-Net: MSE, PSNR,
SSIM against the clean image) and pose (the ResNet-50 on raw, Wiener-, Richardson-Lucy- and
U-Net-restored inputs, and the nearest-template baseline: mean and median angular error, the
SPEED score), angular errors the smallest over the model's symmetries (the error without them too).

Each pose estimate is reported on its own so that each figure means something: ``pose`` (the
network's estimate as ``cupola rso pose`` gives it: the medoid of the network on the image and its
three quarter turns, :func:`cupola.rso.pose.predict_pose_turns`), ``pose_one_pass`` (the network on
the image alone), ``template_baseline`` (the nearest template) and, for the inputs named in
``refine``, ``pose_refined`` and ``template_refined``: the network's four quarter-turn estimates
(all of them as starts, the medoid as the guard's anchor) and the nearest template's estimate
refined by render-and-compare (:func:`cupola.rso.refine.refine_pose`; no guard: a template is
often far from the truth, and large moves are what its refinement gains by).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from scipy.spatial.transform import Rotation

from cupola.errors import InputError
from cupola.rso.dataset import RsoSet
from cupola.rso.pose import (
    image_estimates,
    nearest_templates,
    pose_turn_estimates,
    predict_pose,
    predict_pose_turns,
    turns_medoid,
)
from cupola.rso.recover import mse, psnr_db, recover_images, richardson_lucy, ssim, tune_baselines, wiener
from cupola.rso.refine import refine_pose
from cupola.rso.rotations import angle_deg, speed_score
from cupola.rso.spacecraft import SpacecraftModel
from cupola.rso.train import build

__all__ = ["evaluate"]


def _scores(images: np.ndarray, target: np.ndarray) -> dict:
    return {
        "mse": float(np.mean([mse(a, b) for a, b in zip(images, target)])),
        "psnr_db": float(np.mean([psnr_db(a, b) for a, b in zip(images, target)])),
        "ssim": float(np.mean([ssim(a, b) for a, b in zip(images, target)])),
    }


def _pose_scores(pred: Rotation, range_m: np.ndarray, data: RsoSet, sym: tuple[Rotation, ...]) -> dict:
    err = angle_deg(pred, data.rotations, sym)
    strict = angle_deg(pred, data.rotations)
    t_true = np.column_stack([np.zeros(len(data)), np.zeros(len(data)), data.range_m])
    t_pred = np.column_stack([np.zeros(len(data)), np.zeros(len(data)), range_m])
    return {
        "mean_error_deg": float(err.mean()),
        "median_error_deg": float(np.median(err)),
        "median_error_no_symmetry_deg": float(np.median(strict)),
        "share_within_10deg": float(np.mean(err < 10.0)),
        "speed_score": speed_score(np.radians(err), t_pred, t_true),
    }


def evaluate(
    data: RsoSet,
    recover_model: dict | None,
    pose_model: dict | None,
    *,
    templates: RsoSet | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    model: SpacecraftModel | None = None,
    refine: tuple[str, ...] = (),
) -> dict:
    """Scores of the models on ``data`` (see the module docstring). ``templates``: the set whose
    clean images are the nearest-neighbour templates and on whose first 40 images the Wiener and
    Richardson-Lucy settings are tuned (None: no template baseline, default settings).
    ``refine``: the inputs ("raw", "wiener", "richardson_lucy", "unet") whose pose estimates are
    refined by render-and-compare with ``model`` (the spacecraft of the set; on one core ~0.7 s an
    image for the network's 12 starts, ~0.25 s for a template's 3)."""
    h, w = data.degraded.shape[-2:]
    if templates is not None and templates.degraded.shape[-2:] != (h, w):
        th, tw = templates.degraded.shape[-2:]
        raise InputError(
            f"{templates.folder}: the `templates` images are {tw}x{th} px, those of `data` ({data.folder}) {w}x{h} px"
        )
    n = int(pose_model.get("size_px") or w) if pose_model is not None else w
    if n != w:
        raise InputError(f"the pose model expects {n}x{n} px images; `data` ({data.folder}) holds {w}x{h} px")
    say = progress or (lambda label, done, total: None)
    target = np.clip(data.clean, 0.0, 1.0)
    out: dict = {"n": len(data)}
    if templates is not None:
        k = min(40, len(templates))
        balance, iters = tune_baselines(templates.degraded[:k], templates.clean[:k], templates.psf[:k])
    else:
        balance, iters = 0.1, 10
    out["baselines"] = {"wiener_balance": balance, "richardson_lucy_iterations": iters}
    say("deconvolution", 0, 2)
    restored = {
        "raw": data.degraded,
        "wiener": np.stack([wiener(d, k, balance) for d, k in zip(data.degraded, data.psf)]),
        "richardson_lucy": np.stack([richardson_lucy(d, k, iters) for d, k in zip(data.degraded, data.psf)]),
    }
    say("deconvolution", 2, 2)
    unet = pose_net = None
    if recover_model is not None:
        unet = build(recover_model)
        restored["unet"] = recover_images(unet, data.degraded)
    out["recovery"] = {name: _scores(img, target) for name, img in restored.items()}
    rec = out["recovery"]
    if "unet" in rec:
        best = max(rec["wiener"]["psnr_db"], rec["richardson_lucy"]["psnr_db"])
        out["recovery_mse_reduction_pct"] = 100.0 * (1.0 - rec["unet"]["mse"] / rec["raw"]["mse"])
        out["recovery_psnr_gain_db"] = rec["unet"]["psnr_db"] - best
    say("recovery", 1, 1)
    sym: tuple[Rotation, ...] = (Rotation.identity(),)
    estimates: dict[str, list[tuple[Rotation, np.ndarray, tuple | None]]] = {}  # per image: the estimates to refine
    refine = tuple(name for name in refine if name in restored)
    if refine and model is None:
        raise InputError("`refine` needs the spacecraft `model` to render")
    if pose_model is not None:
        pose_net = build(pose_model)
        sym = tuple(Rotation.from_matrix(m.double().numpy()) for m in pose_model["symmetries"])
        out["pose"] = {}
        out["pose_one_pass"] = {}
        for name, img in restored.items():
            pred, rng_m = predict_pose(pose_net, pose_model, img)
            out["pose_one_pass"][name] = _pose_scores(pred, rng_m, data, sym)
            est = pose_turn_estimates(pose_net, pose_model, img)
            pred, rng_m = turns_medoid(est, pose_model)
            out["pose"][name] = _pose_scores(pred, rng_m, data, sym)
            if name in refine:
                estimates[name] = [(*image_estimates(est, i), (pred[i], float(rng_m[i]))) for i in range(len(img))]
        raw, best_in = out["pose"]["raw"], out["pose"].get("unet")
        if best_in is not None:
            out["pose_error_reduction_pct"] = 100.0 * (1.0 - best_in["mean_error_deg"] / raw["mean_error_deg"])
        out["pose_input"] = pose_model.get("input")
    say("pose", 1, 1)
    tmpl_est: dict[str, list[tuple[Rotation, np.ndarray, tuple | None]]] = {}  # per image: the nearest template
    if templates is not None:
        tmpl = np.clip(templates.clean, 0, 1)
        out["template_baseline"] = {}
        for name in restored:
            idx = nearest_templates(restored[name], tmpl)
            out["template_baseline"][name] = _pose_scores(templates.rotations[idx], templates.range_m[idx], data, sym)
            tmpl_est[name] = [(templates.rotations[j : j + 1], templates.range_m[j : j + 1], None) for j in idx]
        out["templates"] = len(templates)
    if refine and model is not None:
        fov = float(data.summary.get("fov_deg", 10.0))
        jobs = [("pose_refined", estimates), ("template_refined", tmpl_est)]
        total = sum(name in starts for _, starts in jobs for name in refine) * len(data)
        done = 0
        for key, starts in jobs:
            for name in refine:
                if name not in starts:
                    continue
                quats, ranges = [], []
                for img, (rots, rngs, anchor) in zip(restored[name], starts[name]):
                    fit = refine_pose(model, img, rots, rngs, fov, anchor=anchor)
                    quats.append(fit.rotation.as_quat())
                    ranges.append(fit.range_m)
                    done += 1
                    say("refinement", done, total)
                out.setdefault(key, {})[name] = _pose_scores(Rotation.from_quat(quats), np.array(ranges), data, sym)
    if unet is not None and pose_net is not None:
        one = data.degraded[:1]
        reps = min(20, len(data))
        t0 = time.perf_counter()
        for i in range(reps):
            r = recover_images(unet, data.degraded[i : i + 1])
            predict_pose_turns(pose_net, pose_model or {}, r)
        out["inference_ms"] = 1000.0 * (time.perf_counter() - t0) / reps
        del one
    return out
