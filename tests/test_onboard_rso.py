"""cupola onboard with the RSO networks: the U-Net's PSNR and the pose network's median angular
error per runtime, against rso's own evaluation path, and through the command line."""

import csv
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from cupola.cli.main import main  # noqa: E402
from cupola.cli.onboard_rso import HELDOUT_SEED, _model_file, held_out, rso_builders, rso_tasks  # noqa: E402
from cupola.onboard.bench import BenchConfig, run_bench  # noqa: E402

N = 8


def _rso_reference() -> tuple[float, float]:
    """PSNR and median angle on the same held-out images by rso's own path (recover_images,
    predict_pose, batched, as ``rso evaluate`` scores them): an independent reference for the rows."""
    from scipy.spatial.transform import Rotation

    from cupola.rso.pose import predict_pose
    from cupola.rso.recover import psnr_db, recover_images
    from cupola.rso.rotations import angle_deg
    from cupola.rso.train import build

    images = held_out(N)
    unet_obj, pose_obj = _model_file("unet"), _model_file("pose")
    restored = recover_images(build(unet_obj), images.degraded)
    psnr = float(np.mean([psnr_db(a, np.clip(b, 0, 1)) for a, b in zip(restored, images.clean)]))
    src = {"clean": images.clean, "degraded": images.degraded, "restored": restored}[pose_obj["input"]]
    pred, _ = predict_pose(build(pose_obj), pose_obj, src)
    sym = tuple(Rotation.from_matrix(m.double().numpy()) for m in pose_obj["symmetries"])
    return psnr, float(np.median(angle_deg(pred, images.rotations, sym)))


def test_task_metrics_per_runtime_match_rso_and_survive_int8():
    res = run_bench(
        BenchConfig(
            models=("unet", "pose"), runtimes=("torch", "ort", "ort-int8s"), repeats=2, warmup=1, bitflip_trials=0
        ),
        builders=rso_builders(N),
        tasks=rso_tasks(N),
    )
    rows = {(r["model"], r["runtime"]): r for r in res.rows}
    assert all(r["status"] == "ok" for r in res.rows), [r["status"] for r in res.rows]
    psnr, angle = _rso_reference()
    unet, pose = rows[("unet", "torch")], rows[("pose", "torch")]
    assert unet["task_metric"] == "psnr_db" and unet["task_value"] == pytest.approx(psnr, abs=1e-4)
    assert pose["task_metric"] == "median_angle_deg" and pose["task_value"] == pytest.approx(angle, abs=1e-3)
    # the restoration must help: the U-Net beats the degraded input on these images
    images = held_out(N)
    raw = np.mean(
        [10 * np.log10(1 / np.mean((d - np.clip(c, 0, 1)) ** 2)) for d, c in zip(images.degraded, images.clean)]
    )
    assert unet["task_value"] > raw + 0.5
    for model in ("unet", "pose"):
        ort, int8 = rows[(model, "ort")], rows[(model, "ort-int8s")]
        assert ort["task_change"] == pytest.approx(ort["task_value"] - rows[(model, "torch")]["task_value"])
        assert abs(ort["task_change"]) < 1e-3 and ort["drift_rel"] < 1e-4
        assert int8["drift_rel"] > 1e-3  # quantization did change the outputs ...
    # ... yet keeps the task metric on this small case: PSNR within 1 dB, median angle within 5 deg
    assert abs(rows[("unet", "ort-int8s")]["task_change"]) < 1.0
    assert abs(rows[("pose", "ort-int8s")]["task_change"]) < 5.0


def test_held_out_seed_is_not_a_training_seed_and_is_deterministic():
    assert HELDOUT_SEED not in (1, 2, 1000, 1001)
    a, b = held_out(2), held_out(2, 64, HELDOUT_SEED)
    assert np.array_equal(a.clean, b.clean) and not np.array_equal(held_out(2, 64, 1).clean, a.clean)


def test_cli_rso_rows_carry_their_task_metric(tmp_path, capsys):
    out = tmp_path / "bench"
    args = ["onboard", "bench", "--models", "unet,pose", "--runtimes", "torch,ort", "--repeats", "2"]
    args += ["--batches", "1", "--bitflip-trials", "1", "--task-cases", "none", "--rso-images", "3", "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "psnr_db" in printed and "median_angle_deg" in printed
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [(r["model"], r["runtime"], r["task_metric"]) for r in rows] == [
        ("unet", "torch", "psnr_db"),
        ("unet", "ort", "psnr_db"),
        ("pose", "torch", "median_angle_deg"),
        ("pose", "ort", "median_angle_deg"),
    ]
    assert 10 < float(rows[0]["task_value"]) < 60 and 0 <= float(rows[2]["task_value"]) <= 180
    summary = json.loads((out / "result.json").read_text())
    assert "--rso-images=3" in summary["command"] and "psnr_db" in (out / "results.md").read_text()


def test_cli_rso_images_out_of_range_is_exit_2(tmp_path, capsys):
    out = tmp_path / "o"
    code = main(["onboard", "bench", "--models", "unet", "--rso-images", "0", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--rso-images" in err and len(err.splitlines()) == 1 and not out.exists()
