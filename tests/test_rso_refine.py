"""cupola.rso.refine and the quarter-turn estimates: the silhouette against the shaded renderer, the
render-and-compare refinement on a rendered image, the medoid of rotations, and the --refine
options of ``rso pose`` and ``rso evaluate``."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.spatial.transform import Rotation

import cupola
from cupola.cli.main import main
from cupola.rso.pose import medoid_index
from cupola.rso.refine import match_score, refine_pose, shape_map, silhouette
from cupola.rso.render import View, render
from cupola.rso.rotations import angle_deg
from cupola.rso.spacecraft import iss_like_model

torch.set_num_threads(1)
MODEL = iss_like_model()
SYM = np.stack([r.as_matrix() for r in MODEL.symmetries])
TRUE = Rotation.from_euler("xyz", [35.0, -55.0, 20.0], degrees=True)


def test_the_silhouette_covers_what_the_renderer_draws():
    # the shaded renderer (3 x 3 rays, lit from the camera) is the independent reference
    img = render(MODEL, View(TRUE, 1000.0, (0.0, 0.0, -1.0)), 48)
    sil = silhouette(MODEL, TRUE, 1000.0, 48, 10.0, supersample=3)
    assert np.array_equal(img > 0, sil > 0) or np.mean((img > 0) != (sil > 0)) < 0.01
    assert 0.05 < sil.mean() < 0.6 and sil.max() == 1.0


def test_the_true_pose_scores_best_and_a_nearby_start_is_refined_to_it():
    # a shaded, Sun-lit image (not a silhouette): the comparison must not need the Sun
    image = render(MODEL, View(TRUE, 1100.0, (0.5, -0.3, -0.8)), 64)
    shape = shape_map(image)
    best = match_score(shape, silhouette(MODEL, TRUE, 1100.0, 64, 10.0), 1.0)
    for axis in np.eye(3):
        off = Rotation.from_rotvec(np.radians(12.0) * axis) * TRUE
        assert match_score(shape, silhouette(MODEL, off, 1100.0, 64, 10.0), 1.0) < best
    start = Rotation.from_rotvec(np.radians(14.0) * np.array([0.6, 0.0, 0.8])) * TRUE
    fit = refine_pose(MODEL, image, start, 1200.0, 10.0)
    assert angle_deg(fit.rotation, TRUE, MODEL.symmetries) < 4.0
    assert abs(fit.range_m / 1100.0 - 1.0) < 0.04 and fit.score > 0.8


def test_a_radiator_flip_start_is_undone_by_the_near_symmetric_starts():
    # the half turn about body x maps the truss and wings onto themselves, the radiators to the other side
    image = render(MODEL, View(TRUE, 1000.0, (0.0, 0.0, -1.0)), 64)
    flipped = TRUE * Rotation.from_euler("x", 180.0, degrees=True)
    assert angle_deg(flipped, TRUE, MODEL.symmetries) > 170.0
    fit = refine_pose(MODEL, image, flipped, 1000.0, 10.0, steps_deg=(8.0, 4.0, 2.0))
    assert angle_deg(fit.rotation, TRUE, MODEL.symmetries) < 4.0
    alone = refine_pose(MODEL, image, flipped, 1000.0, 10.0, steps_deg=(8.0, 4.0, 2.0), starts=[Rotation.identity()])
    assert angle_deg(alone.rotation, TRUE, MODEL.symmetries) > 30.0


def test_the_guard_keeps_the_refinement_near_its_anchor():
    image = render(MODEL, View(TRUE, 1000.0, (0.0, 0.0, -1.0)), 64)
    flipped = TRUE * Rotation.from_euler("x", 180.0, degrees=True)
    steps = (8.0, 4.0, 2.0)
    # anchored at the truth, the flipped start's (correct) return is within the guard: kept as it is
    fit = refine_pose(MODEL, image, flipped, 1000.0, 10.0, steps_deg=steps, anchor=(TRUE, 1000.0))
    assert not fit.local and angle_deg(fit.rotation, TRUE, MODEL.symmetries) < 4.0
    # anchored at the flip, the best match (the truth, ~180 deg away) is set aside: the anchor alone is refined
    fit = refine_pose(MODEL, image, flipped, 1000.0, 10.0, steps_deg=steps, anchor=(flipped, 1000.0))
    alone = refine_pose(MODEL, image, flipped, 1000.0, 10.0, steps_deg=steps, starts=[Rotation.identity()])
    assert fit.local and angle_deg(fit.rotation, TRUE, MODEL.symmetries) > 30.0
    assert angle_deg(fit.rotation, alone.rotation) < 1e-6 and fit.score == pytest.approx(alone.score)
    assert fit.renders > alone.renders  # both searches counted
    # a wide limit lets the best match through
    wide = refine_pose(
        MODEL, image, flipped, 1000.0, 10.0, steps_deg=steps, anchor=(flipped, 1000.0), max_move_deg=180.0
    )
    assert not wide.local and angle_deg(wide.rotation, TRUE, MODEL.symmetries) < 4.0


def test_the_medoid_takes_the_symmetries_into_account():
    z = [Rotation.from_euler("z", a, degrees=True) for a in (0.0, 5.0, 12.0)]
    r = Rotation.concatenate([*z, Rotation.from_euler("x", 150.0, degrees=True)])
    mats = r.as_matrix()[None]
    assert medoid_index(mats, SYM)[0] == 1
    # the estimate at 12 deg given as its symmetric twin is still near the others
    twin = mats.copy()
    twin[0, 2] = (r[2] * MODEL.symmetries[1]).as_matrix()
    assert medoid_index(twin, SYM)[0] == 1
    assert medoid_index(twin, SYM[:1])[0] in (0, 1)  # without the symmetry the twin is far: 0 or 1


def _bundled(kind: str) -> Path:
    return Path(cupola.__file__).parent / "data" / "rso" / f"{kind}.pt"


def test_pose_refine_and_evaluate_refine_commands(tmp_path, capsys):
    from cupola.rso.dataset import synthesize

    synthesize(MODEL, 2, tmp_path / "set", seed=78, size_px=64)
    img = tmp_path / "set" / "degraded" / "000001.png"
    out = tmp_path / "p"
    assert main(["rso", "pose", str(img), "--refine", "--out", str(out), "--quiet"]) == 0, capsys.readouterr().err
    res = json.loads((out / "result.json").read_text())
    assert res["estimate"].startswith("network refined") and 0 < res["refinement"]["silhouette_ncc"] <= 1
    assert np.linalg.norm(res["quaternion_xyzw"]) == pytest.approx(1.0) and res["range_m"] > 0
    assert res["network"]["quaternion_xyzw"] != res["quaternion_xyzw"]
    assert isinstance(res["refinement"]["local"], bool)
    assert np.asarray(Image.open(out / "overlay.png")).ndim == 3
    # the network's estimate is the medoid of its four quarter-turn passes, as predict_pose_turns gives it
    from cupola.rso.pose import predict_pose_turns
    from cupola.rso.recover import recover_images
    from cupola.rso.train import build, load_model_file

    pobj, robj = load_model_file(_bundled("pose"), "pose"), load_model_file(_bundled("recover"), "recover")
    x = recover_images(build(robj), np.asarray(Image.open(img), np.float32)[None] / 255.0)
    rot, rng = predict_pose_turns(build(pobj), pobj, x)
    assert angle_deg(Rotation.from_quat(res["network"]["quaternion_xyzw"]), rot[0]) < 1e-3
    assert res["network"]["range_m"] == pytest.approx(float(rng[0]), rel=1e-5)
    ev = tmp_path / "ev"
    argv = ["rso", "evaluate", "--data", str(tmp_path / "set"), "--templates", str(tmp_path / "set"),
            "--refine", "raw", "--out", str(ev), "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    res = json.loads((ev / "result.json").read_text())
    assert set(res["pose_refined"]) == {"raw"} and set(res["template_refined"]) == {"raw"}
    assert set(res["pose_one_pass"]) == {"raw", "wiener", "richardson_lucy", "unet"}
    # the templates are the images themselves: refining their exact attitudes on the blurred, noisy
    # images keeps them near (the silhouette's best match is a few degrees off there, not 0)
    assert res["template_refined"]["raw"]["median_error_deg"] < 20.0


def test_evaluate_refuses_an_unknown_refine_input(tmp_path, capsys):
    argv = ["rso", "evaluate", "--data", str(tmp_path), "--refine", "unet,sharpened", "--out", str(tmp_path / "o")]
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "sharpened" in err, err
    assert not (tmp_path / "o").exists()
