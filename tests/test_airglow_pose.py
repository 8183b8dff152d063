"""A pose per frame for ``cupola airglow``: the generator's attitude walk, tracking ground lights
(:mod:`cupola.airglow.register`) against the generator's true poses, and per-frame attitude tables
(``--attitudes``) and ``--register-ground`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from cupola.cli.main import main

TLE = (
    Path(__file__).resolve().parents[1] / "src/cupola/data/samples/iss-meteor-2017/iss_tle_25544_20170101-20170630.txt"
)
WALK_DEG = 0.05


def _angle_deg(a, b) -> float:
    return float(np.degrees((a.rotation.inv() * b.rotation).magnitude()))


@pytest.fixture(scope="module")
def walked():
    from cupola.simulate.airglow import WavePacket, make_sequence

    return make_sequence(
        waves=[WavePacket(60.0, 40.0, 80.0, 0.05, 0.2)],
        n_frames=10,
        interval_s=2.0,
        binning=16,
        cities=14,
        seed=4242,
        attitude_walk_deg=WALK_DEG,
    )


def test_the_walk_moves_the_poses_and_leaves_the_rest_of_the_scene():
    from cupola.simulate.airglow import make_sequence

    kw = dict(n_frames=4, interval_s=1.0, binning=32, cities=3, stars=50, seed=5)
    still = make_sequence(**kw)
    moved = make_sequence(**kw, attitude_walk_deg=0.1)
    assert np.allclose(still.rpy_per_frame_deg, still.rpy_per_frame_deg[0])
    assert np.allclose(moved.rpy_per_frame_deg[0], moved.rpy_deg)
    steps = np.diff(moved.rpy_per_frame_deg, axis=0)
    assert 0.01 < np.abs(steps).max() < 0.5
    assert _angle_deg(still.poses[0], moved.poses[0]) < 1e-9 and _angle_deg(still.poses[-1], moved.poses[-1]) > 0.01
    np.testing.assert_array_equal(still.frames[0], moved.frames[0])  # the same draws: only the pointing differs


def test_centroid_of_a_gaussian_light_to_a_hundredth_of_a_pixel():
    from cupola.airglow.register import centroid, detect_lights

    yy, xx = np.mgrid[0:80, 0:90].astype(float)
    truth = [(30.37, 40.81), (61.6, 20.25)]
    img = np.full(xx.shape, 5.0)
    for c, r in truth:
        img += 200.0 * np.exp(-0.5 * ((xx - c) ** 2 + (yy - r) ** 2) / 1.7**2)
    c, r = detect_lights(img)
    assert len(c) == 2
    order = np.argsort(c)
    np.testing.assert_allclose(np.column_stack([c[order], r[order]]), truth, atol=0.01)
    c2, r2 = centroid(img - 5.0, np.array([31.0]), np.array([40.0]), 6)  # started a pixel off
    assert abs(c2[0] - 30.37) < 0.01 and abs(r2[0] - 40.81) < 0.01


def test_rays_through_a_point_triangulate_it():
    from cupola.airglow.register import _triangulate

    p = np.array([1.0e6, -2.0e6, 6.0e6])
    origins = np.array([[7e6, 0.0, 0.0], [0.0, 7e6, 0.0], [4e6, 4e6, 3e6]])
    d = p - origins
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    np.testing.assert_allclose(_triangulate(origins, d), p, atol=1e-3)


def test_ground_lights_give_every_frames_attitude(walked):
    from cupola.airglow.register import register_to_ground
    from cupola.geometry import attitude as att

    seq = walked
    reg = register_to_ground(list(seq.frames), seq.camera, seq.states, seq.poses[0], flat=seq.flat)
    err = [_angle_deg(p, q) for p, q in zip(reg.poses, seq.poses, strict=True)]
    one = [att.pose_from_rpy(s, *seq.rpy_deg) for s in seq.states]
    err_one = [_angle_deg(p, q) for p, q in zip(one, seq.poses, strict=True)]
    assert max(err_one) > 0.1  # the walk is there: one pose for the sequence is off by this much
    assert max(err) < 0.03, err
    assert reg.lights[1:].min() >= 3 and not reg.notes
    true_drift = seq.rpy_per_frame_deg - seq.rpy_per_frame_deg[0]
    np.testing.assert_allclose(reg.drift_deg, true_drift, atol=0.03)


def test_frames_without_lights_keep_the_previous_attitude():
    from cupola.airglow.register import register_to_ground
    from cupola.simulate.airglow import make_sequence

    seq = make_sequence(n_frames=4, interval_s=1.0, binning=32, cities=0, stars=0, seed=6)
    reg = register_to_ground(list(seq.frames), seq.camera, seq.states, seq.poses[0], flat=seq.flat)
    assert any("could not be tracked" in n for n in reg.notes) or any("kept the previous" in n for n in reg.notes)
    assert max(_angle_deg(p, q) for p, q in zip(reg.poses, seq.poses, strict=True)) < 1e-6  # fixed in LVLH


# --- through the command line -------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(walked, tmp_path_factory):
    from cupola.simulate.airglow import write_sequence_files

    folder = tmp_path_factory.mktemp("walked")
    return write_sequence_files(walked, folder)


def _argv(files, out, *pose):
    args = files["args"]
    i = args.index("--attitude")
    return [
        "airglow", "waves", "--frames", str(files["frames"]), "--frame-times", str(files["frame_times"]),
        "--tle", str(TLE), *args[:i], *pose, "--flat", str(files["flat"]), "--out", str(out), "--quiet",
    ]  # fmt: skip


def _attitude_table(seq, path, quaternion=False, by_time=False):
    from cupola.geometry import attitude as att

    lines = []
    for i, (t, rpy) in enumerate(zip(seq.times, seq.rpy_per_frame_deg, strict=True)):
        key = t.isoformat().replace("+00:00", "Z") if by_time else f"frame_{i:03d}.png"
        if quaternion:
            x, y, z, w = att.rotation_from_rpy(*rpy).as_quat()
            lines.append(f"{key},{float(w)!r},{float(x)!r},{float(y)!r},{float(z)!r}")
        else:
            lines.append(f"{key},{float(rpy[0])!r},{float(rpy[1])!r},{float(rpy[2])!r}")
    head = ("time" if by_time else "file") + (",qw,qx,qy,qz" if quaternion else ",roll_deg,pitch_deg,yaw_deg")
    path.write_text(head + "\n" + "\n".join(lines[::-1] if not by_time else lines) + "\n")
    return path


def _request(files, **pose):
    from cupola.airglow.inputs import load_request

    args = files["args"]
    return load_request(
        photos=[],
        frames_dir=files["frames"],
        frame_times=files["frame_times"],
        tle=TLE,
        focal_mm=float(args[args.index("--focal-mm") + 1]),
        sensor_mm=(float(args[args.index("--sensor-mm") + 1]), float(args[args.index("--sensor-mm") + 2])),
        **pose,
    )


@pytest.mark.parametrize("kw", [{}, {"quaternion": True}, {"by_time": True}], ids=["rpy", "quaternion", "log"])
def test_attitude_tables_give_the_true_poses(walked, files, tmp_path, kw):
    """Rows per file (in any order), quaternions, and a log by time all give the generator's poses."""
    table = _attitude_table(walked, tmp_path / "att.csv", **kw)
    req = _request(files, attitudes=table)
    err = max(_angle_deg(p, q) for p, q in zip(req.poses, walked.poses, strict=True))
    assert err < 1e-6, err
    assert req.summary["pose"]["per_frame"] is True
    true_drift = np.abs(walked.rpy_per_frame_deg - walked.rpy_per_frame_deg[0]).max()
    assert req.summary["pose"]["drift_deg_max"] == pytest.approx(true_drift, abs=1e-6)


def test_the_attitude_log_is_interpolated_between_its_rows(walked, files, tmp_path):
    from scipy.spatial.transform import Slerp

    from cupola.geometry import attitude as att

    table = _attitude_table(walked, tmp_path / "log.csv", by_time=True)
    lines = table.read_text().splitlines()
    table.write_text("\n".join([lines[0], *lines[1::2], lines[-1]]) + "\n")  # every other frame, and the last
    req = _request(files, attitudes=table)
    # frame 1 lies halfway between the rows of frames 0 and 2: the slerp of their attitudes in LVLH
    rots = Rotation.concatenate([att.rotation_from_rpy(*walked.rpy_per_frame_deg[i]) for i in (0, 2)])
    expected = Slerp([0.0, 1.0], rots)([0.5])[0]
    lvlh = Rotation.from_matrix(att.lvlh_to_itrs(walked.states[1]))
    assert float(np.degrees((req.poses[1].rotation.inv() * lvlh * expected).magnitude())) < 1e-6
    assert _angle_deg(req.poses[2], walked.poses[2]) < 1e-6


def test_register_ground_through_the_command_line(walked, files, tmp_path):
    out = tmp_path / "out"
    pose = ["--attitude", *(f"{v:g}" for v in walked.rpy_deg), "--register-ground"]
    code = main(_argv(files, out, *pose, "--grid-km", "8"))  # a coarse grid: the poses are the point here
    assert code == 0
    doc = json.loads((out / "result.json").read_text())
    pose = doc["pose"]
    assert pose["per_frame"] is True and "ground registration" in pose["source"]
    reg = pose["ground_registration"]
    true_drift = walked.rpy_per_frame_deg - walked.rpy_per_frame_deg[0]
    np.testing.assert_allclose(np.array(reg["drift_deg"]), true_drift, atol=0.03)
    assert reg["frames_fitted"] == len(walked.times) - 1


@pytest.mark.parametrize(
    "content, match",
    [
        ("file,roll_deg,pitch_deg\nframe_000.png,0,0\n", "roll_deg,pitch_deg,yaw_deg or qw,qx,qy,qz"),
        ("frame,roll_deg,pitch_deg,yaw_deg\nframe_000.png,0,0,90\n", "no column file or time"),
        ("file,roll_deg,pitch_deg,yaw_deg\nframe_000.png,0,0,90\n", "no attitude for frame frame_001.png"),
        ("file,qw,qx,qy,qz\nframe_000.png,0.5,0.5,0.5,0.4\n", "norm"),
        ("file,roll_deg,pitch_deg,yaw_deg\nframe_000.png,0,abc,90\n", "pitch_deg"),
        ("time,roll_deg,pitch_deg,yaw_deg\n2017-05-17T05:43:00Z,0,0,90\n2017-05-17T05:43:10Z,0,0,90\n", "cover"),
    ],
    ids=["no-yaw", "no-key", "missing-frame", "quaternion-norm", "not-a-number", "log-too-short"],
)
def test_bad_attitude_tables_are_refused(files, tmp_path, capsys, content, match):
    table = tmp_path / "att.csv"
    table.write_text(content)
    out = tmp_path / "out"
    code = main(_argv(files, out, "--attitudes", str(table)))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert match in err and "att.csv" in err, err
    assert not out.exists()


def test_attitudes_and_attitude_together_are_refused(walked, files, tmp_path, capsys):
    table = _attitude_table(walked, tmp_path / "att.csv")
    out = tmp_path / "out"
    code = main(_argv(files, out, "--attitudes", str(table), "--attitude", "0", "0", "90"))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "exactly one" in err and "--attitudes" in err, err
    assert not out.exists()
