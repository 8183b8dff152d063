"""``cupola airglow waves`` through the real entry point: products of a rendered sequence, and
one-line errors (exit 2, nothing written) for bad inputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cupola.cli.main import main

TLE = (
    Path(__file__).resolve().parents[1] / "src/cupola/data/samples/iss-meteor-2017/iss_tle_25544_20170101-20170630.txt"
)
SENSOR = ["--sensor-mm", "35.9136", "23.9424", "--focal-mm", "14"]


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    from cupola.simulate.airglow import WavePacket, make_sequence

    seq = make_sequence(
        waves=[WavePacket(55.0, 120.0, 90.0, 0.05, 0.3)], n_frames=12, interval_s=2.0, binning=16, cities=4, seed=33
    )
    folder = tmp_path_factory.mktemp("frames")
    rows = []
    for i, (f, t) in enumerate(zip(seq.frames, seq.times, strict=True)):
        name = f"f{i:03d}.png"
        Image.fromarray(np.clip(f, 0, 65535).astype(np.uint16)).save(folder / name)
        rows.append((name, t.isoformat().replace("+00:00", "Z")))
    times = folder.parent / f"{folder.name}_times.csv"
    times.write_text("file,time\n" + "".join(f"{n},{t}\n" for n, t in rows))
    flat = folder.parent / f"{folder.name}_flat.png"  # a flat frame: any scale, normalised on the axis
    Image.fromarray((40000 * seq.flat).astype(np.uint16)).save(flat)
    return seq, folder, times, flat


def _args(folder, times, out, *extra):
    return [
        "airglow", "waves", "--frames", str(folder), "--frame-times", str(times), "--tle", str(TLE), *SENSOR,
        "--attitude", "0", "0", "90", "--out", str(out), "--quiet", *extra,
    ]  # fmt: skip


def test_waves_writes_every_product(sequence, tmp_path):
    seq, folder, times, flat = sequence
    out = tmp_path / "out"
    code = main(_args(folder, times, out, "--flat", str(flat), "--wind", "10", "0", "--exposure-s", "1"))
    assert code == 0
    for name in ("frames.tif", "mosaic.tif", "modulation.tif", "waves.csv", "spectrum.png", "phase_velocity.png",
                 "result.json"):  # fmt: skip
        assert (out / name).is_file(), name
    doc = json.loads((out / "result.json").read_text())
    assert doc["frames"] == 12 and doc["layer_height_m"] == 87e3
    assert doc["exposure_s"] == 1.0 and 6.5 < np.hypot(*doc["smear_km"]) < 8.0  # ~7 km/s on the layer
    rows = list(csv.DictReader((out / "waves.csv").open()))
    assert len(rows) == 1
    w = rows[0]
    assert float(w["wavelength_km"]) == pytest.approx(55.0, rel=0.02)
    assert abs((float(w["azimuth_deg"]) - 120.0 + 180) % 360 - 180) < 2.0
    assert float(w["intrinsic_phase_speed_m_s"]) == pytest.approx(
        float(w["phase_speed_m_s"]) - 10.0 * np.sin(np.radians(float(w["azimuth_deg"]))), abs=0.01
    )
    import rasterio

    with rasterio.open(out / "frames.tif") as ds:
        assert ds.count == 12 and ds.crs is not None
        assert ds.descriptions[0] == doc["times_utc"][0]
    from cupola.plot.airglow_movie import mp4_encoder_available

    if mp4_encoder_available():
        assert doc["animation"]["format"] == "MP4" and (out / "sequence.mp4").is_file()
    else:  # this machine: imageio-ffmpeg is not installed
        assert doc["animation"]["format"] == "GIF" and doc["animation"]["library"].startswith("Pillow")
        with Image.open(out / "sequence.gif") as gif:
            assert gif.n_frames == 12


def _expect_exit_2(capsys, argv, out, match):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and match in err, err
    assert not out.exists()


def test_frames_of_different_sizes_are_refused(sequence, tmp_path, capsys):
    _, folder, times, _ = sequence
    bad = tmp_path / "frames"
    bad.mkdir()
    for p in sorted(folder.iterdir()):
        (bad / p.name).write_bytes(p.read_bytes())
    img = np.asarray(Image.open(bad / "f003.png"))
    Image.fromarray(img[:-2]).save(bad / "f003.png")
    out = tmp_path / "out"
    _expect_exit_2(capsys, _args(bad, times, out), out, "same size")


def test_times_out_of_order_are_refused(sequence, tmp_path, capsys):
    _, folder, times, _ = sequence
    lines = times.read_text().splitlines()
    lines[3], lines[4] = (
        lines[3].split(",")[0] + "," + lines[4].split(",")[1],
        lines[4].split(",")[0] + "," + lines[3].split(",")[1],
    )
    swapped = tmp_path / "times.csv"
    swapped.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    _expect_exit_2(capsys, _args(folder, swapped, out), out, "must increase")


def test_a_layer_below_the_cloud_tops_is_refused(sequence, tmp_path, capsys):
    _, folder, times, _ = sequence
    out = tmp_path / "out"
    _expect_exit_2(capsys, _args(folder, times, out, "--layer-km", "12"), out, "cloud tops")


def test_attitude_and_pose_from_together_are_refused(sequence, tmp_path, capsys):
    _, folder, times, _ = sequence
    pose = tmp_path / "result.json"
    pose.write_text(json.dumps({"pose": {"lvlh_roll_deg": 0, "lvlh_pitch_deg": 0, "lvlh_yaw_deg": 90}}))
    out = tmp_path / "out"
    _expect_exit_2(capsys, [*_args(folder, times, out), "--pose-from", str(pose)], out, "exactly one")


def test_pose_from_a_result_json_gives_the_same_poses_as_the_attitude(sequence, tmp_path):
    from cupola.airglow.inputs import load_request

    _, folder, times, _ = sequence
    pose = tmp_path / "result.json"
    pose.write_text(json.dumps({"pose": {"lvlh_roll_deg": 0.5, "lvlh_pitch_deg": -1.0, "lvlh_yaw_deg": 90.0}}))
    common = {"photos": [], "frames_dir": folder, "frame_times": times, "tle": TLE, "focal_mm": 14.0,
              "sensor_mm": (35.9136, 23.9424)}  # fmt: skip
    a = load_request(**common, attitude_rpy_deg=(0.5, -1.0, 90.0))
    b = load_request(**common, pose_from=pose)
    assert len(a.poses) == len(b.poses) == 12
    for pa, pb in zip(a.poses, b.poses, strict=True):
        assert np.allclose(pa.matrix, pb.matrix) and np.allclose(pa.position_m, pb.position_m)
    assert b.summary["pose"]["source"] == "pose_from: result.json"


def test_photos_without_exif_times_are_refused(sequence, tmp_path, capsys):
    _, folder, _, _ = sequence
    photos = [str(p) for p in sorted(folder.iterdir())[:3]]
    out = tmp_path / "out"
    argv = ["airglow", "waves", *photos, "--tle", str(TLE), *SENSOR, "--attitude", "0", "0", "90", "--out", str(out)]
    _expect_exit_2(capsys, argv, out, "no EXIF DateTimeOriginal")


def _true_tie_points(seq, path, cols, rows, height_m=0.0):
    """Tie points made from the generator's true pose of the first frame: the ground point under
    each pixel (an independent projection: the generator's pose, the ellipsoid intersection)."""
    from cupola.geometry import geodesy

    pose = seq.poses[0]
    d = seq.camera.pixel_to_ray(np.asarray(cols, float), np.asarray(rows, float)) @ pose.matrix.T
    g = geodesy.ray_ellipsoid_intersection(pose.position_m, d, height_m)
    lon, lat, _ = geodesy.ecef_to_geodetic(g)
    lines = [
        f"{c},{r},{np.degrees(la):.9f},{np.degrees(lo):.9f},{height_m}" for c, r, lo, la in zip(cols, rows, lon, lat)
    ]
    path.write_text("col,row,lat,lon,height_m\n" + "\n".join(lines) + "\n")
    return path


def test_tie_points_give_the_attitude_and_the_same_waves(sequence, tmp_path):
    from cupola.airglow.inputs import load_request

    seq, folder, times, flat = sequence
    h, w = seq.frames[0].shape
    tie = _true_tie_points(seq, tmp_path / "tie.csv", [5, w - 6, w // 2, 10, w - 20], [4, 8, h // 2, h - 5, h - 10])
    common = {"photos": [], "frames_dir": folder, "frame_times": times, "tle": TLE, "focal_mm": 14.0,
              "sensor_mm": (35.9136, 23.9424)}  # fmt: skip
    a = load_request(**common, attitude_rpy_deg=(0.0, 0.0, 90.0))
    b = load_request(**common, tie_points=tie)
    assert b.summary["pose"]["tie_points"]["points"] == 5 and b.summary["pose"]["tie_points"]["rms_px"] < 0.01
    for k, v in zip(("lvlh_roll_deg", "lvlh_pitch_deg", "lvlh_yaw_deg"), (0.0, 0.0, 90.0), strict=True):
        assert b.summary["pose"][k] == pytest.approx(v, abs=1e-4)
    for pa, pb in zip(a.poses, b.poses, strict=True):
        assert np.abs(pa.matrix - pb.matrix).max() < 2e-6
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    assert main(_args(folder, times, out_a, "--flat", str(flat))) == 0
    argv = _args(folder, times, out_b, "--flat", str(flat))
    i = argv.index("--attitude")
    assert main([*argv[:i], "--tie-points", str(tie), *argv[i + 4 :]]) == 0
    rows_a = list(csv.DictReader((out_a / "waves.csv").open()))
    rows_b = list(csv.DictReader((out_b / "waves.csv").open()))
    assert len(rows_a) == len(rows_b) == 1
    for col, tol in (("wavelength_km", 0.01), ("azimuth_deg", 0.01), ("phase_speed_m_s", 0.1)):
        assert float(rows_b[0][col]) == pytest.approx(float(rows_a[0][col]), abs=tol), col
    assert json.loads((out_b / "result.json").read_text())["pose"]["source"].startswith("tie_points: tie.csv")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("col,row,lat,lon\n10,10,30.0,-97.0\n", "at least 2"),
        ("col,row,lon\n10,10,-97.0\n20,30,-96.0\n", "lat"),
        ("col,row,lat,lon\n10,10,30.0,-97.0\n99999,10,30.5,-97.0\n", "tie.csv"),
        ("col,row,lat,lon\n10,10,30.0,-97.0\n40,50,-30.0,80.0\n", "horizon"),
        ("col,row,lat,lon\n10,10,abc,-97.0\n40,50,30.0,-97.0\n", "tie.csv"),
    ],
    ids=["one-point", "no-lat-column", "off-the-frame", "below-horizon", "not-a-number"],
)
def test_bad_tie_point_files_are_refused(sequence, tmp_path, capsys, content, match):
    _, folder, times, _ = sequence
    tie = tmp_path / "tie.csv"
    tie.write_text(content)
    out = tmp_path / "out"
    argv = _args(folder, times, out)
    i = argv.index("--attitude")
    code = main([*argv[:i], "--tie-points", str(tie), *argv[i + 4 :]])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert match in err and "tie.csv" in err, err  # the problem and the file named
    assert not out.exists()


def test_tie_points_and_attitude_together_are_refused(sequence, tmp_path, capsys):
    seq, folder, times, _ = sequence
    tie = _true_tie_points(seq, tmp_path / "tie.csv", [5, 100], [4, 60])
    out = tmp_path / "out"
    _expect_exit_2(capsys, [*_args(folder, times, out), "--tie-points", str(tie)], out, "exactly one")


@pytest.mark.parametrize("value", ["0", "-1", "nan", "120"])
def test_a_bad_exposure_time_is_refused(sequence, tmp_path, capsys, value):
    _, folder, times, _ = sequence
    out = tmp_path / "out"
    _expect_exit_2(capsys, _args(folder, times, out, "--exposure-s", value), out, "--exposure-s")


def _load(folder, times, **kw):
    from cupola.airglow.inputs import load_request

    return load_request(
        photos=[], frames_dir=folder, frame_times=times, tle=TLE, focal_mm=14.0, sensor_mm=(35.9136, 23.9424),
        attitude_rpy_deg=(0.0, 0.0, 90.0), **kw,
    )  # fmt: skip


def test_a_dark_frame_is_subtracted_from_every_frame(sequence, tmp_path):
    """Frames recorded with a black level, dark current and hot pixels read back, with ``--dark``,
    as the frames without them."""
    _, folder, times, _ = sequence
    rng = np.random.default_rng(8)
    h, w = np.asarray(Image.open(next(folder.iterdir()))).shape
    dark = 600.0 + rng.normal(0.0, 5.0, (h, w))
    dark[rng.integers(0, h, 20), rng.integers(0, w, 20)] += 20000.0  # hot pixels
    dark = np.rint(dark).astype(np.uint16)
    raw = tmp_path / "raw"
    raw.mkdir()
    for p in sorted(folder.glob("*.png")):
        a = np.asarray(Image.open(p)).astype(np.int64) + dark
        Image.fromarray(np.clip(a, 0, 65535).astype(np.uint16)).save(raw / p.name)
    Image.fromarray(dark).save(tmp_path / "dark.png")
    plain = _load(folder, times)
    darked = _load(raw, times, dark=tmp_path / "dark.png")
    assert darked.summary["dark"] == "dark.png" and (tmp_path / "dark.png") in darked.paths
    for a, b in zip(plain.frames, darked.frames, strict=True):
        assert np.abs(a - b).max() == 0.0  # 16-bit values: exact
    without = _load(raw, times)
    assert np.abs(without.frames[0] - plain.frames[0]).min() > 550.0  # 600 +- 5 e: the check can fail


def test_a_dark_frame_of_another_size_is_refused(sequence, tmp_path, capsys):
    _, folder, times, _ = sequence
    h, w = np.asarray(Image.open(next(folder.iterdir()))).shape
    Image.fromarray(np.zeros((h, w - 1), np.uint16)).save(tmp_path / "dark.png")
    out = tmp_path / "out"
    _expect_exit_2(capsys, _args(folder, times, out, "--dark", str(tmp_path / "dark.png")), out, "dark frame is")


def test_curved_waves_option_reaches_the_search(sequence, tmp_path, monkeypatch):
    """``--curved-waves`` turns on the circular-crest search (``find_waves(circular=True)``); without
    it the search is plane waves only."""
    import cupola.airglow.sequence as airglow_sequence

    seq, folder, times, flat = sequence
    real = airglow_sequence.find_waves
    seen: list[bool] = []

    def spy(*args, **kwargs):
        seen.append(kwargs.get("circular", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(airglow_sequence, "find_waves", spy)
    assert main(_args(folder, times, tmp_path / "plain", "--flat", str(flat))) == 0
    assert main(_args(folder, times, tmp_path / "curved", "--flat", str(flat), "--curved-waves")) == 0
    assert seen == [False, True]
    plain, curved = (list(csv.DictReader((tmp_path / d / "waves.csv").open())) for d in ("plain", "curved"))
    assert len(plain) == 1 and float(plain[0]["wavelength_km"]) == pytest.approx(55.0, rel=0.05)
    assert curved == plain  # a plane wave: the circular search adds no row


def test_16_bit_rgb_frames_keep_their_16_bits(sequence, tmp_path):
    """A linear frame developed from RAW is often a 16-bit RGB TIFF or PNG: read with the low byte
    lost (Pillow), a faint airglow frame kept a few levels; it is read at its full depth."""
    import cv2

    from cupola.airglow.inputs import load_request

    _, folder, times, _ = sequence
    rgb = tmp_path / "rgb"
    rgb.mkdir()
    stored = {}
    for i, p in enumerate(sorted(folder.glob("*.png"))):
        grey = np.asarray(Image.open(p), dtype=np.uint16)
        name = p.name if i % 2 else p.with_suffix(".tif").name  # PNG and TIFF alternately
        cv2.imwrite(str(rgb / name), np.dstack([grey] * 3))
        stored[name] = grey
    renamed = tmp_path / "times.csv"
    renamed.write_text(_times_for(times, stored))
    req = load_request(photos=[], frames_dir=rgb, frame_times=renamed, tle=TLE, focal_mm=14.0,
                       sensor_mm=(35.9136, 23.9424), attitude_rpy_deg=(0.0, 0.0, 90.0))  # fmt: skip
    assert len(req.frames) == 12
    for name, frame in zip(req.names, req.frames, strict=True):
        np.testing.assert_array_equal(frame, stored[name].astype(np.float32))


def _times_for(times: Path, names: dict) -> str:
    """The times table with each frame's name as it is in ``names`` (same stem, its own suffix)."""
    by_stem = {Path(n).stem: n for n in names}
    rows = list(csv.reader(times.open()))
    return "file,time\n" + "".join(f"{by_stem[Path(f).stem]},{t}\n" for f, t in rows[1:])
