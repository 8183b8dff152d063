"""cupola.rso: rotations and losses, tiny training runs (loss goes down, resume), the recover /
pose / evaluate commands and their bad inputs."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.spatial.transform import Rotation

from cupola.cli.main import main
from cupola.errors import InputError
from cupola.rso.dataset import read_set, synthesize
from cupola.rso.rotations import (
    angle_deg,
    geodesic_rad,
    matrix_from_6d,
    sixd_from_matrix,
    speed_score,
    symmetric_geodesic_rad,
)
from cupola.rso.spacecraft import iss_like_model
from cupola.rso.train import TrainConfig, train_pose, train_recover

torch.set_num_threads(1)
MODEL = iss_like_model()
SYM = np.stack([r.as_matrix() for r in MODEL.symmetries])


def _t(m):
    return torch.as_tensor(np.asarray(m), dtype=torch.float64)


def test_geodesic_loss_is_zero_at_identity_and_pi_at_half_turn():
    eye = _t(np.eye(3))[None]
    assert float(geodesic_rad(eye, eye)[0]) == 0.0
    for axis in ([1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 2, 3]):
        half = Rotation.from_rotvec(np.pi * np.array(axis, float) / np.linalg.norm(axis))
        assert float(geodesic_rad(eye, _t(half.as_matrix())[None])[0]) == pytest.approx(np.pi, abs=1e-7)


def test_geodesic_matches_scipy_on_random_pairs():
    a, b = Rotation.random(200, random_state=3), Rotation.random(200, random_state=4)
    ours = geodesic_rad(_t(a.as_matrix()), _t(b.as_matrix())).numpy()
    assert np.allclose(ours, (a.inv() * b).magnitude(), atol=1e-7)


def test_the_symmetric_loss_forgives_the_half_turn_only():
    r = Rotation.random(50, random_state=5)
    flipped = r * MODEL.symmetries[1]
    sym = symmetric_geodesic_rad(_t(flipped.as_matrix()), _t(r.as_matrix()), _t(SYM)).numpy()
    assert np.allclose(sym, 0.0, atol=1e-6)
    plain = geodesic_rad(_t(flipped.as_matrix()), _t(r.as_matrix())).numpy()
    assert np.allclose(plain, np.pi, atol=1e-6)
    other = r * Rotation.from_euler("x", 180, degrees=True)  # not a symmetry of the model
    assert np.allclose(angle_deg(other, r, MODEL.symmetries), 180.0, atol=1e-6)


def test_six_d_round_trip_and_orthonormal_output():
    r = Rotation.random(20, random_state=6).as_matrix()
    assert np.allclose(matrix_from_6d(sixd_from_matrix(_t(r))).numpy(), r, atol=1e-12)
    m = matrix_from_6d(torch.randn(20, 6, dtype=torch.float64)).numpy()
    assert np.allclose(m @ m.transpose(0, 2, 1), np.eye(3), atol=1e-12) and np.allclose(np.linalg.det(m), 1.0)


def test_speed_score_on_known_errors():
    t = np.array([[0, 0, 1000.0], [0, 0, 500.0]])
    assert speed_score(np.array([0.1, 0.3]), t + [[0, 0, 100.0], [0, 0, 0]], t) == pytest.approx(
        (0.1 + 100 / 1000 + 0.3 + 0) / 2
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("rso")
    synthesize(MODEL, 16, root / "set", seed=21, size_px=32)
    data = read_set(root / "set")
    rec = train_recover(data, root / "recover.pt", TrainConfig(epochs=12, batch=8, lr=3e-3, base=4, crop_px=16))
    pose = train_pose(data, root / "pose.pt", TrainConfig(epochs=12, batch=8, lr=3e-3, width=1 / 16), SYM)
    return root, data, rec, pose


def test_a_tiny_training_run_lowers_the_loss(tiny):
    _, _, rec, pose = tiny
    assert rec["history"][-1] < 0.7 * rec["history"][0]
    assert pose["history"][-1] < pose["history"][0]
    assert pose["symmetries"].shape == (2, 3, 3) and pose["size_px"] == 32


def test_training_resumes_from_the_checkpoint(tiny, tmp_path):
    _, data, _, _ = tiny
    cfg = TrainConfig(epochs=3, batch=8, base=4, crop_px=16)
    out = tmp_path / "r.pt"

    def stop_in_second_epoch(label, done, total):
        if done > total // 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_recover(data, out, cfg, progress=stop_in_second_epoch)
    ckpt = torch.load(out.with_name("r.pt.ckpt"), weights_only=True)
    assert ckpt["epoch"] == 1 and not out.exists()
    obj = train_recover(data, out, cfg, resume=True)
    assert len(obj["history"]) == 3 and obj["history"][0] == ckpt["history"][0]
    assert not out.with_name("r.pt.ckpt").exists()


def test_recover_pose_and_evaluate_commands(tiny, tmp_path, capsys):
    root, data, _, _ = tiny
    img = root / "set" / "degraded" / "000003.png"
    out = tmp_path / "rec"
    assert main(["rso", "recover", str(img), "--model", str(root / "recover.pt"), "--out", str(out), "--quiet"]) == 0
    assert np.asarray(Image.open(out / "restored.png")).shape == (32, 32)
    assert json.loads((out / "result.json").read_text())["image"] == str(img)
    pose_out = tmp_path / "pose"
    argv = ["rso", "pose", str(img), "--model", str(root / "pose.pt"), "--recover-model", str(root / "recover.pt"),
            "--out", str(pose_out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "q(x,y,z,w)" in printed and (pose_out / "overlay.png").is_file()
    res = json.loads((pose_out / "result.json").read_text())
    assert np.linalg.norm(res["quaternion_xyzw"]) == pytest.approx(1.0) and res["range_m"] > 0
    ev = tmp_path / "ev"
    argv = ["rso", "evaluate", "--data", str(root / "set"), "--recover-model", str(root / "recover.pt"),
            "--pose-model", str(root / "pose.pt"), "--templates", str(root / "set"),
            "--out", str(ev), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    res = json.loads((ev / "result.json").read_text())
    assert set(res["recovery"]) == {"raw", "wiener", "richardson_lucy", "unet"}
    # the templates are the test images themselves: the nearest template is the image's own attitude
    assert (
        res["template_baseline"]["raw"]["median_error_deg"] < 1e-6
        or res["template_baseline"]["raw"]["share_within_10deg"] > 0.8
    )


def _one_line_exit_2(capsys, argv, *words):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and all(w in err for w in words), err


def test_bad_inputs_are_one_line_errors(tiny, tmp_path, capsys):
    root, _, _, _ = tiny
    model = ["--model", str(root / "pose.pt"), "--recover-model", str(root / "recover.pt")]
    big = tmp_path / "big.png"
    Image.fromarray(np.full((48, 40), 30, np.uint8)).save(big)
    _one_line_exit_2(capsys, ["rso", "pose", str(big), *model, "--out", str(tmp_path / "o")], "40x48", "32x32")
    empty = tmp_path / "empty.png"
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(empty)
    _one_line_exit_2(capsys, ["rso", "pose", str(empty), *model, "--out", str(tmp_path / "o")], "empty")
    zero = tmp_path / "zero.png"
    zero.write_bytes(b"")
    _one_line_exit_2(capsys, ["rso", "recover", str(zero), "--model", str(root / "recover.pt"), "--out",
                              str(tmp_path / "r")], "zero.png")  # fmt: skip
    notmodel = tmp_path / "m.pt"
    notmodel.write_text("hello")
    img = root / "set" / "degraded" / "000000.png"
    _one_line_exit_2(capsys, ["rso", "recover", str(img), "--model", str(notmodel), "--out", str(tmp_path / "r")],
                     "m.pt")  # fmt: skip
    _one_line_exit_2(capsys, ["rso", "recover", str(img), "--model", str(root / "pose.pt"), "--out",
                              str(tmp_path / "r")], "pose model")  # fmt: skip
    mesh = tmp_path / "broken.glb"
    mesh.write_bytes(b"glTF\x02\x00\x00\x00garbage")
    _one_line_exit_2(capsys, ["rso", "pose", str(img), *model, "--mesh", str(mesh), "--out", str(tmp_path / "o")],
                     "broken.glb")  # fmt: skip
    _one_line_exit_2(capsys, ["rso", "train", "pose", "--data", str(tmp_path), "--out", str(tmp_path / "p.pt")],
                     "labels.csv")  # fmt: skip
    assert not (tmp_path / "o").exists() and not (tmp_path / "r").exists()


def test_the_bundled_weights_do_their_job_on_unseen_images(tmp_path, capsys):
    # seed 77: neither the training set (1), the benchmark (1000, 1001) nor the other tests
    from cupola.rso.dataset import draw_sample
    from cupola.rso.pose import predict_pose
    from cupola.rso.recover import mse, recover_images
    from cupola.rso.train import build, load_model_file

    samples = [draw_sample(MODEL, 77, i, 64) for i in range(24)]
    degraded = np.stack([s.degraded for s in samples])
    clean = np.clip(np.stack([s.clean for s in samples]), 0, 1)
    unet = build(load_model_file(_bundled("recover"), "recover"))
    restored = recover_images(unet, degraded)
    assert np.mean([mse(a, b) for a, b in zip(restored, clean)]) < 0.8 * np.mean(
        [mse(a, b) for a, b in zip(degraded, clean)]
    )
    obj = load_model_file(_bundled("pose"), "pose")
    rot, range_m = predict_pose(build(obj), obj, restored)
    err = angle_deg(rot, Rotation.from_quat([s.view.rotation.as_quat() for s in samples]), MODEL.symmetries)
    assert np.median(err) < 80.0  # random attitudes give ~ 100 deg with the half-turn forgiven
    assert np.median(np.abs(range_m / [s.view.range_m for s in samples] - 1)) < 0.25
    img = tmp_path / "one.png"
    Image.fromarray(np.round(degraded[0] * 255).astype(np.uint8)).save(img)
    assert main(["rso", "pose", str(img), "--out", str(tmp_path / "p"), "--quiet"]) == 0, capsys.readouterr().err


def _bundled(kind):
    from pathlib import Path

    import cupola

    return Path(cupola.__file__).parent / "data" / "rso" / f"{kind}.pt"


def test_a_quarter_turn_of_the_image_is_the_turned_label():
    # the augmentation's label: rendering at turn_labels(k) R is the image turned by torch.rot90(k)
    from cupola.rso.render import View, render
    from cupola.rso.train import turn_labels

    r = Rotation.from_euler("xyz", [40.0, -25.0, 70.0], degrees=True)
    base = render(MODEL, View(r, 1100.0, (0.3, -0.4, -1.0)), 32)
    for k in (1, 2, 3):
        turned = torch.rot90(torch.from_numpy(base), k, dims=(0, 1)).numpy()
        cam = Rotation.from_matrix(turn_labels(k).double().numpy())
        sun = cam.apply([0.3, -0.4, -1.0])
        expected = render(MODEL, View(cam * r, 1100.0, tuple(sun)), 32)
        assert np.allclose(turned, expected, atol=1e-5), k


def test_a_continuous_roll_of_the_image_is_the_rolled_label():
    # the online augmentation: the image resampled by roll_images(a) is what a camera rolled by
    # roll_labels(a) renders (up to the resampling blur), and -90 deg is exactly a quarter turn
    from cupola.rso.render import View, render
    from cupola.rso.train import roll_images, roll_labels, turn_labels

    assert torch.allclose(roll_labels(torch.tensor([-np.pi / 2]))[0], turn_labels(1), atol=1e-6)
    r = Rotation.from_euler("xyz", [40.0, -25.0, 70.0], degrees=True)
    sun = np.array([0.3, -0.4, -1.0])
    base = render(MODEL, View(r, 1100.0, tuple(sun)), 64)
    x = torch.from_numpy(base.astype(np.float32))[None, None]
    quarter = roll_images(x, torch.tensor([-np.pi / 2]))[0, 0].numpy()
    assert np.allclose(quarter, np.rot90(base, 1), atol=1e-5)
    for deg in (23.0, 137.0, -71.0):
        a = torch.tensor([np.radians(deg)], dtype=torch.float32)
        rolled = roll_images(x, a)[0, 0].numpy()
        cam = Rotation.from_matrix(roll_labels(a)[0].double().numpy())
        expected = render(MODEL, View(cam * r, 1100.0, tuple(cam.apply(sun))), 64)
        wrong = render(MODEL, View(cam.inv() * r, 1100.0, tuple(cam.inv().apply(sun))), 64)
        err, err_wrong = np.abs(rolled - expected).mean(), np.abs(rolled - wrong).mean()
        assert err < 0.25 * err_wrong and err < 0.3 * np.abs(expected).mean(), (deg, err, err_wrong)


def test_the_loss_symmetries_are_kept_apart_from_the_models(tiny, tmp_path):
    _, data, _, _ = tiny
    flips = np.stack([Rotation.from_euler(a, 180.0, degrees=True).as_matrix() for a in "xyz"] + [np.eye(3)])
    obj = train_pose(data, tmp_path / "p.pt", TrainConfig(epochs=1, batch=8, width=1 / 16, roll=True), SYM,
                     loss_symmetries=flips)  # fmt: skip
    assert obj["symmetries"].shape == (2, 3, 3) and obj["loss_symmetries"].shape == (4, 3, 3) and obj["roll"]


def test_fine_tuning_starts_from_the_given_weights(tiny, tmp_path):
    from cupola.errors import InputError

    _, data, _, pose = tiny
    cfg = TrainConfig(epochs=1, batch=8, lr=1e-9, width=1 / 16)
    tuned = train_pose(data, tmp_path / "t.pt", cfg, SYM, init=pose)
    fresh = train_pose(data, tmp_path / "f.pt", cfg, SYM)
    convs = [k for k, v in pose["state"].items() if v.ndim == 4]
    assert all(torch.allclose(tuned["state"][k].float(), pose["state"][k].float(), atol=1e-3) for k in convs)
    assert not all(torch.allclose(fresh["state"][k].float(), pose["state"][k].float(), atol=1e-3) for k in convs)
    with pytest.raises(InputError, match="init"):
        train_pose(data, tmp_path / "w.pt", TrainConfig(epochs=1, batch=8, width=1 / 8), SYM, init=pose)


def test_train_pose_command_fine_tunes_with_rolls_and_forgiven_flips(tiny, tmp_path, capsys):
    root, _, _, _ = tiny
    argv = ["rso", "train", "pose", "--data", str(root / "set"), "--epochs", "1", "--batch", "8", "--width", "0.0625",
            "--roll", "--forgive-near-symmetries", "--quiet"]  # fmt: skip
    _one_line_exit_2(capsys, [*argv, "--out", str(tmp_path / "a.pt"), "--init", str(root / "recover.pt")],
                     "recover model")  # fmt: skip
    assert not (tmp_path / "a.pt").exists()
    assert main([*argv, "--out", str(tmp_path / "b.pt"), "--init", str(root / "pose.pt")]) == 0
    obj = torch.load(tmp_path / "b.pt", weights_only=True)
    flips = Rotation.from_matrix(obj["loss_symmetries"].double().numpy())
    half_turns_about = {tuple(np.abs(np.round(r.as_rotvec() / np.pi)).astype(int)) for r in flips}
    assert half_turns_about == {(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)}  # the model's and the radiator flips
    assert obj["symmetries"].shape == (2, 3, 3) and obj["roll"] and obj["init_history"] == list(tiny[3]["history"])


def test_pose_trained_on_restored_images_sees_the_unets_output(tiny, tmp_path, capsys):
    """``--input restored``: the pose network is trained on the degraded images as the recovery
    U-Net gives them back (what `rso pose` feeds it), not on the degraded or clean ones."""
    from cupola.rso.recover import recover_images
    from cupola.rso.train import build, pose_inputs

    root, data, rec, _ = tiny
    seen = pose_inputs("restored", data.clean, data.degraded, rec)
    assert np.array_equal(seen, recover_images(build(rec), data.degraded))
    assert not np.allclose(seen, data.degraded, atol=0.02) and not np.allclose(seen, data.clean, atol=0.02)
    with pytest.raises(InputError, match="recovery model"):
        train_pose(data, tmp_path / "x.pt", TrainConfig(epochs=1, batch=8, width=1 / 16, input="restored"), SYM)
    argv = ["rso", "train", "pose", "--data", str(root / "set"), "--epochs", "1", "--batch", "8", "--width", "0.0625",
            "--input", "restored", "--recover-model", str(root / "recover.pt"), "--quiet"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "r.pt")]) == 0
    obj = torch.load(tmp_path / "r.pt", weights_only=True)
    assert obj["input"] == "restored" and obj["recover_history"] == list(rec["history"])
    _one_line_exit_2(capsys, [*argv[:-5], "--input", "sharpened", "--quiet", "--out", str(tmp_path / "s.pt")],
                     "--input", "restored")  # fmt: skip
    assert not (tmp_path / "s.pt").exists()


def test_recover_never_writes_over_its_input_image(tiny, capsys):
    root, _, _, _ = tiny
    img = root / "set" / "degraded" / "000004.png"
    before = img.read_bytes()
    code = main(["rso", "recover", str(img), "--model", str(root / "recover.pt"), "--out", str(img), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out" in err[0] and "not a folder" in err[0]
    assert img.read_bytes() == before


def test_recover_refuses_a_folder_holding_a_users_restored_png(tiny, tmp_path, capsys):
    root, _, _, _ = tiny
    img = root / "set" / "degraded" / "000004.png"
    out = tmp_path / "mine"
    out.mkdir()
    (out / "restored.png").write_bytes(b"the user's picture")
    code = main(["rso", "recover", str(img), "--model", str(root / "recover.pt"), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "restored.png" in err[0] and "not written by cupola" in err[0]
    assert (out / "restored.png").read_bytes() == b"the user's picture"
    assert sorted(p.name for p in out.iterdir()) == ["restored.png"]


def test_train_replaces_only_its_own_model_files(tiny, tmp_path, capsys):
    root, _, _, _ = tiny
    argv = ["rso", "train", "recover", "--data", str(root / "set"), "--epochs", "1", "--batch", "8", "--base", "4",
            "--crop", "16", "--quiet", "--out"]  # fmt: skip
    mine = tmp_path / "notes.pt"
    mine.write_text("the user's notes")
    for target in (mine, root / "set" / "arrays.npz"):  # a user's file, an input of the run
        before = target.read_bytes()
        assert main([*argv, str(target)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--out" in err[0] and "not a cupola rso model" in err[0], err
        assert target.read_bytes() == before
    ckpt_mine = tmp_path / "m.pt.ckpt"  # the checkpoint's name is a user's file
    ckpt_mine.write_text("mine too")
    assert main([*argv, str(tmp_path / "m.pt")]) == 2
    assert "checkpoint" in capsys.readouterr().err and ckpt_mine.read_text() == "mine too"
    assert not (tmp_path / "m.pt").exists()
    model = tmp_path / "r.pt"
    assert main([*argv, str(model)]) == 0  # a new file, then a cupola model: replaced
    first = model.read_bytes()
    assert main([*argv, str(model), "--epochs", "2"]) == 0
    assert model.read_bytes() != first and len(torch.load(model, weights_only=True)["history"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt.ckpt", "notes.pt", "r.pt"]


def test_training_sets_of_several_seeds_are_joined(tiny, tmp_path, capsys, monkeypatch):
    """`rso synth` caps a set's pixels, so a large training set comes as several seeds: `--data A
    --data B` trains on both, in order; sets of another image size are refused by name."""
    from cupola.rso.dataset import join_sets

    root, data, _, _ = tiny
    synthesize(MODEL, 4, tmp_path / "b", seed=22, size_px=32)
    b = read_set(tmp_path / "b")
    both = join_sets([data, b])
    assert len(both) == 20 and np.array_equal(both.degraded[16:], b.degraded)
    assert np.allclose(both.rotations[16:].as_quat(), b.rotations.as_quat())
    assert [p["seed"] for p in both.summary["parts"]] == [21, 22] and both.summary["n"] == 20
    synthesize(MODEL, 2, tmp_path / "small", seed=23, size_px=24)
    with pytest.raises(InputError, match="24 px"):
        join_sets([data, read_set(tmp_path / "small")])
    argv = ["rso", "train", "pose", "--data", str(root / "set"), "--data", str(tmp_path / "b"), "--epochs", "1",
            "--batch", "8", "--width", "0.0625", "--quiet"]  # fmt: skip
    seen: list[int] = []

    def counting(s, *args, **kwargs):
        seen.append(len(s))
        return train_pose(s, *args, **kwargs)

    monkeypatch.setattr("cupola.rso.train.train_pose", counting)
    assert main([*argv, "--out", str(tmp_path / "p.pt")]) == 0
    assert seen == [20] and (tmp_path / "p.pt").is_file()
    # no --input: the network learns what `rso pose` feeds it, the bundled U-Net's output
    assert torch.load(tmp_path / "p.pt", weights_only=True)["input"] == "restored"
    _one_line_exit_2(capsys, [*argv[:5], "--data", str(tmp_path / "small"), *argv[7:], "--out", str(tmp_path / "q.pt")],
                     "24 px", "small")  # fmt: skip
    assert not (tmp_path / "q.pt").exists()
    _one_line_exit_2(capsys, [*argv[:5], "--data", str(root / "set"), *argv[7:], "--out", str(tmp_path / "q.pt")],
                     "twice")  # fmt: skip
    assert not (tmp_path / "q.pt").exists()


def test_a_16_bit_image_reads_the_same_grey_or_rgb(tmp_path):
    """``rso recover`` / ``pose`` read a 16-bit RGB PNG as its 16-bit grey twin (Pillow kept only
    the high byte of the RGB one)."""
    import cv2

    from cupola.cli.rso import _read_image

    rng = np.random.default_rng(3)
    grey = rng.integers(0, 65536, (64, 64)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "g.png"), grey)
    cv2.imwrite(str(tmp_path / "c.png"), np.dstack([grey] * 3))
    a, b = _read_image(tmp_path / "g.png", 64), _read_image(tmp_path / "c.png", 64)
    np.testing.assert_array_equal(a, b)
    assert np.allclose(a, grey / 65535.0)
