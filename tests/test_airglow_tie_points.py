"""Tie points on several frames of a sequence (``--tie-points`` with a frame column): a pose per
frame from cupola's tie-point solver, the frames without points interpolated, against the
generator's true poses of a hand-held (drifting) sequence; bad tables refused through the real
entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from cupola.cli.main import main

TLE = (
    Path(__file__).resolve().parents[1] / "src/cupola/data/samples/iss-meteor-2017/iss_tle_25544_20170101-20170630.txt"
)


def _angle_deg(a, b) -> float:
    return float(np.degrees((a.rotation.inv() * b.rotation).magnitude()))


@pytest.fixture(scope="module")
def walked():
    from cupola.simulate.airglow import WavePacket, make_sequence

    return make_sequence(
        waves=[WavePacket(60.0, 40.0, 80.0, 0.05, 0.2)],
        n_frames=6,
        interval_s=2.0,
        binning=32,
        cities=4,
        stars=50,
        seed=5151,
        attitude_walk_deg=0.1,
    )


@pytest.fixture(scope="module")
def files(walked, tmp_path_factory):
    from cupola.simulate.airglow import write_sequence_files

    return write_sequence_files(walked, tmp_path_factory.mktemp("tie"))


def _ground_under(seq, i, cols, rows):
    """The ground point under each pixel of frame ``i`` from the generator's true pose (the ray
    meets the ellipsoid): an independent projection, not the solver's."""
    from cupola.geometry import geodesy

    pose = seq.poses[i]
    d = seq.camera.pixel_to_ray(np.asarray(cols, float), np.asarray(rows, float)) @ pose.matrix.T
    g = geodesy.ray_ellipsoid_intersection(pose.position_m, d, 0.0)
    lon, lat, _ = geodesy.ecef_to_geodetic(g)
    return np.degrees(lon), np.degrees(lat)


def _points(seq, frames):
    h, w = seq.frames[0].shape
    cols = np.array([3.0, w - 4.0, w / 2, 6.0, w - 9.0])
    rows = np.array([2.0, 5.0, h / 2, h - 3.0, h - 6.0])
    out = []
    for i in frames:
        lon, lat = _ground_under(seq, i, cols, rows)
        out.extend((i, c, r, la, lo) for c, r, lo, la in zip(cols, rows, lon, lat, strict=True))
    return out


def _table(seq, path, frames, key="frame"):
    lines = []
    for i, c, r, la, lo in _points(seq, frames):
        k = {"frame": str(i), "file": f"frame_{i:03d}.png", "time": seq.times[i].isoformat().replace("+00:00", "Z")}
        lines.append(f"{k[key]},{float(c)!r},{float(r)!r},{la:.10f},{lo:.10f}")
    path.write_text(f"{key},col,row,lat,lon\n" + "\n".join(lines[::-1]) + "\n")  # any order
    return path


def _true_lvlh(seq, i) -> Rotation:
    from cupola.geometry import attitude as att

    return att.rotation_from_rpy(*seq.rpy_per_frame_deg[i])


def test_solved_frames_are_the_true_poses_and_the_others_interpolated(walked):
    from cupola.airglow.tie_points import solve_frame_attitudes

    seq = walked
    pts = np.array(_points(seq, (0, 2, 3, 5)))
    sol = solve_frame_attitudes(
        seq.camera,
        seq.states,
        seq.t_s,
        pts[:, 0].astype(int),
        col_px=pts[:, 1],
        row_px=pts[:, 2],
        lat_deg=pts[:, 3],
        lon_deg=pts[:, 4],
        height_m=np.zeros(len(pts)),
    )
    assert [s["frame"] for s in sol.solved] == [0, 2, 3, 5] and sol.interpolated == 2
    for s in sol.solved:
        assert s["points"] == 5 and s["rms_px"] < 1e-3
        err = np.degrees((sol.rotations_lvlh[s["frame"]].inv() * _true_lvlh(seq, s["frame"])).magnitude())
        assert err < 1e-4, (s, err)
    # frames 1 and 4: halfway between their neighbours' true attitudes in LVLH
    for i, (a, b) in ((1, (0, 2)), (4, (3, 5))):
        expected = Slerp([0.0, 1.0], Rotation.concatenate([_true_lvlh(seq, a), _true_lvlh(seq, b)]))([0.5])[0]
        assert np.degrees((sol.rotations_lvlh[i].inv() * expected).magnitude()) < 1e-4


def _request(files, tie):
    from cupola.airglow.inputs import load_request

    args = files["args"]
    return load_request(
        photos=[],
        frames_dir=files["frames"],
        frame_times=files["frame_times"],
        tle=TLE,
        focal_mm=float(args[args.index("--focal-mm") + 1]),
        sensor_mm=(float(args[args.index("--sensor-mm") + 1]), float(args[args.index("--sensor-mm") + 2])),
        tie_points=tie,
    )


@pytest.mark.parametrize("key", ["frame", "file", "time"])
def test_tie_points_on_every_frame_give_every_pose(walked, files, tmp_path, key):
    tie = _table(walked, tmp_path / "tie.csv", range(len(walked.times)), key)
    req = _request(files, tie)
    errors = [_angle_deg(p, q) for p, q in zip(req.poses, walked.poses, strict=True)]
    assert max(errors) < 1e-4, errors
    pose = req.summary["pose"]
    assert pose["per_frame"] is True and "a pose per frame" in pose["source"]
    info = pose["tie_points"]
    assert info["frames"] == 6 and info["points"] == 30 and info["interpolated_frames"] == 0
    assert info["rms_px"] < 1e-3 and info["per_frame"][2]["frame"] == "frame_002.png"
    true_drift = np.abs(walked.rpy_per_frame_deg - walked.rpy_per_frame_deg[0]).max()
    assert true_drift > 0.1 and pose["drift_deg_max"] == pytest.approx(true_drift, abs=1e-3)


def test_tie_points_on_one_frame_with_a_frame_column_hold_its_attitude(walked, files, tmp_path):
    """Points on frame 3 only: its attitude held in LVLH for the whole sequence."""
    from cupola.geometry import attitude as att

    req = _request(files, _table(walked, tmp_path / "tie.csv", (3,)))
    held = [att.Pose(s.position_m, Rotation.from_matrix(att.lvlh_to_itrs(s)) * _true_lvlh(walked, 3))
            for s in walked.states]  # fmt: skip
    assert max(_angle_deg(p, q) for p, q in zip(req.poses, held, strict=True)) < 1e-4
    assert req.summary["pose"]["tie_points"]["interpolated_frames"] == 5
    assert any("5 of 6 frames without tie points" in n for n in req.notes)


def _argv(files, out, tie):
    args = files["args"]
    i = args.index("--attitude")
    return [
        "airglow", "waves", "--frames", str(files["frames"]), "--frame-times", str(files["frame_times"]),
        "--tle", str(TLE), *args[:i], "--tie-points", str(tie), "--flat", str(files["flat"]), "--grid-km", "8",
        "--out", str(out), "--quiet",
    ]  # fmt: skip


def test_per_frame_tie_points_through_the_command_line(walked, files, tmp_path):
    tie = _table(walked, tmp_path / "tie.csv", (0, 1, 3, 5), "file")
    out = tmp_path / "out"
    assert main(_argv(files, out, tie)) == 0
    pose = json.loads((out / "result.json").read_text())["pose"]
    assert pose["per_frame"] is True and pose["source"].startswith("tie_points: tie.csv (20 points on 4 frames")
    assert [f["frame"] for f in pose["tie_points"]["per_frame"]] == [f"frame_{i:03d}.png" for i in (0, 1, 3, 5)]
    assert pose["tie_points"]["interpolated_frames"] == 2


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("frame,col,row,lat,lon\n0,10,10,30.0,-97.0\n0,40,30,30.5,-97.0\n1,10,10,30.0,-97.0\n", "frame_001.png: 1 tie"),
        ("frame,col,row,lat,lon\n7,10,10,30.0,-97.0\n7,40,30,30.5,-97.0\n", "frame index from 0 to 5"),
        ("frame,col,row,lat,lon\n1.5,10,10,30.0,-97.0\n1.5,40,30,30.5,-97.0\n", "whole frame index"),
        ("file,col,row,lat,lon\nother.png,10,10,30.0,-97.0\nother.png,40,30,30.5,-97.0\n", "not one of the frames"),
        ("time,col,row,lat,lon\n2017-05-17T05:43:00.5Z,10,10,30.0,-97.0\n2017-05-17T05:43:00.5Z,40,30,30.5,-97.0\n",
         "no frame at"),
        ("frame,col,row,lat,lon\n0,10,10,30.0,-97.0\n0,40,30,-30.0,80.0\n", "horizon"),
    ],
    ids=["one-point-on-a-frame", "index-out-of-range", "index-not-whole", "unknown-file", "time-of-no-frame",
         "below-horizon"],
)  # fmt: skip
def test_bad_per_frame_tie_point_tables_are_refused(files, tmp_path, capsys, content, match):
    tie = tmp_path / "tie.csv"
    tie.write_text(content)
    out = tmp_path / "out"
    code = main(_argv(files, out, tie))
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert match in err and "tie.csv" in err, err
    assert not out.exists()
