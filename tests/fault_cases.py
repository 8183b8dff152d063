"""The fault suite's cases: every command x bad inputs and options, each expected to end with
exit code 2 (or the given one), exactly one line on stderr that names the file or option, no
Python traceback, the inputs untouched and ``--out`` untouched (a folder that held a user's file
keeps exactly that; one that did not exist is not created).

Shared by ``tests/test_faults.py`` and ``benchmarks/bench_reliability.py``. Commands run
in-process through :func:`cupola.cli.main.main` (the real entry point's code path), which keeps
the ~100 cases to seconds.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "samples" / "iss-meteor-2017"
TIME = "2017-05-17T05:44:09.526Z"
#: the sample frame's camera as options: focal length and effective sensor size of its frame.json
CAMERA = ("--focal-mm", "10.5", "--sensor-mm", "8.7", "4.89375")


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]  # "{name}" items are replaced by the fixture paths (see make_inputs)
    token: str  # must appear in the error line (the option or file named), case-insensitive
    code: int = 2


def _png(path: Path, width: int, height: int, rows: int) -> None:
    """An 8-bit grey PNG whose header says width x height but holds only ``rows`` rows."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(width) for _ in range(rows))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def make_inputs(root: Path) -> dict[str, str]:
    """Create the bad (and good) input files under ``root``; returns the placeholder map."""
    root.mkdir(parents=True, exist_ok=True)
    d = root / "in"
    d.mkdir(exist_ok=True)
    (d / "empty.txt").write_bytes(b"")
    (d / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (d / "a_folder").mkdir(exist_ok=True)
    (d / "text.txt").write_text("this is not a video\n")
    (d / "events.csv").write_text(f"time_utc,lat,lon\n{TIME},29.3,-100.9\n")
    (d / "frames").mkdir(exist_ok=True)
    (d / "user_file").write_text("mine\n")
    (d / "latin1.csv").write_bytes("col,row\n1,2 \xe9\n".encode("latin-1"))
    (d / "semicolon.csv").write_text("col;row\n1;2\n")
    (d / "nan_tie.csv").write_text("col,row,lat,lon\n1,2,nan,3\n")
    big = d / "huge.csv"  # sparse: 300 MB said, no disk used
    with open(big, "wb") as f:
        f.truncate(300 * 1024 * 1024)
    _png(d / "bomb.png", 60000, 60000, 1)
    _png(d / "truncated.png", 6000, 6000, 2)
    _png(d / "thumb16.png", 16, 16, 16)  # a whole, valid image, too small to match
    if not (d / "huge_ref.tif").exists():  # a georeferenced 60000x60000 header, sparse: ~0.5 MB
        import rasterio
        from rasterio.transform import from_bounds

        with rasterio.open(
            d / "huge_ref.tif",
            "w",
            driver="GTiff",
            width=60000,
            height=60000,
            count=1,
            dtype="uint8",
            crs="EPSG:4326",
            transform=from_bounds(-101, 29, -100, 30, 60000, 60000),
            tiled=True,
            sparse_ok=True,
        ):
            pass
    fifo = d / "fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    out = root / "out"
    out.mkdir(exist_ok=True)
    more = {**_newer_command_inputs(d), **_sweep_inputs(d)}
    return {
        **more,
        "photo": str(SAMPLE / "meteor_20170517T054409.526Z.jpg"),
        "tle": str(SAMPLE / "iss_tle_25544_20170101-20170630.txt"),
        "tie": str(SAMPLE / "tie_points.csv"),
        "zero": "/dev/zero",
        "fifo": str(fifo),
        "empty": str(d / "empty.txt"),
        "binary": str(d / "binary.bin"),
        "folder": str(d / "a_folder"),
        "missing": str(d / "no_such_file.csv"),
        "text": str(d / "text.txt"),
        "events": str(d / "events.csv"),
        "frames": str(d / "frames"),
        "huge": str(big),
        "bomb": str(d / "bomb.png"),
        "truncated": str(d / "truncated.png"),
        "thumb": str(d / "thumb16.png"),
        "latin1": str(d / "latin1.csv"),
        "semicolon": str(d / "semicolon.csv"),
        "nan_tie": str(d / "nan_tie.csv"),
        "huge_ref": str(d / "huge_ref.tif"),
        "userfile": str(d / "user_file"),
        "under_file": str(d / "user_file" / "sub"),
    }


def _newer_command_inputs(d: Path) -> dict[str, str]:
    """The inputs of the airglow, rso and onboard cases: tiny valid ones next to the bad."""
    import numpy as np
    from PIL import Image

    photo = SAMPLE / "meteor_20170517T054409.526Z.jpg"
    (d / "ag_frames").mkdir(exist_ok=True)
    if not (d / "ag_frames" / "f0.jpg").exists():
        (d / "ag_frames" / "f0.jpg").symlink_to(photo)
    (d / "ag_times.csv").write_text(f"file,time\nf0.jpg,{TIME}\n")
    (d / "ag_times_other.csv").write_text(f"file,time\nother.jpg,{TIME}\n")
    (d / "ag_times_bad.csv").write_text("file,time\nf0.jpg,yesterday\n")
    (d / "pose_nan.json").write_text('{"pose": {"lvlh_roll_deg": NaN, "lvlh_pitch_deg": 0, "lvlh_yaw_deg": 0}}\n')
    (d / "pose_none.json").write_text('{"version": 1}\n')
    spot = np.zeros((64, 64), np.uint8)
    spot[24:40, 20:44] = 180
    Image.fromarray(spot).save(d / "rso_img.png")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(d / "rso_dark.png")
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(d / "rso_white.png")
    for name, product in (("recover_user", "restored.png"), ("pose_user", "overlay.png"), ("synth_user", "labels.csv")):
        (d / name).mkdir(exist_ok=True)
        (d / name / product).write_text("the user's file\n")
    (d / "nan.obj").write_text("v 0 0 0\nv 1 0 0\nv nan 1 0\nf 1 2 3\n")
    (d / "point.obj").write_text("v 1 1 1\nv 1 1 1\nv 1 1 1\nf 1 2 3\n")
    (d / "no_faces.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\n")
    bad = d / "bad_set"  # the files of a set, arrays.npz not an archive
    bad.mkdir(exist_ok=True)
    (bad / "labels.csv").write_text("q_x,q_y,q_z,q_w,range_m\n0,0,0,1,1000\n")
    (bad / "arrays.npz").write_bytes(bytes(range(256)))
    (bad / "result.json").write_text("{}\n")
    (d / "ckpt").mkdir(exist_ok=True)  # a checkpoint of cupola's form whose network is not the U-Net's
    if not (d / "ckpt" / "m.pt.ckpt").exists():
        import torch

        torch.save({"net": {}, "opt": {}, "sched": {}, "epoch": 1, "history": [1.0]}, d / "ckpt" / "m.pt.ckpt")
    rso_set = d / "rso_set"
    if not rso_set.exists():
        from cupola.rso.dataset import synthesize
        from cupola.rso.spacecraft import iss_like_model

        synthesize(iss_like_model(), 2, rso_set, seed=5, size_px=64)
    if not (d / "rso_set16").exists():  # a set of another image size than the bundled models
        from cupola.rso.dataset import synthesize
        from cupola.rso.spacecraft import iss_like_model

        synthesize(iss_like_model(), 2, d / "rso_set16", seed=6, size_px=16)
    bundled = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "rso"
    return {
        "ag_frames": str(d / "ag_frames"),
        "ag_times": str(d / "ag_times.csv"),
        "ag_times_other": str(d / "ag_times_other.csv"),
        "ag_times_bad": str(d / "ag_times_bad.csv"),
        "pose_nan": str(d / "pose_nan.json"),
        "pose_none": str(d / "pose_none.json"),
        "rso_img": str(d / "rso_img.png"),
        "rso_dark": str(d / "rso_dark.png"),
        "rso_white": str(d / "rso_white.png"),
        "recover_user": str(d / "recover_user"),
        "pose_user": str(d / "pose_user"),
        "synth_user": str(d / "synth_user"),
        "bad_set": str(bad),
        "rso_set": str(rso_set),
        "pose_model": str(bundled / "pose.pt"),
        "ckpt": str(d / "ckpt"),
        "rso_set16": str(d / "rso_set16"),
        "nan_obj": str(d / "nan.obj"),
        "point_obj": str(d / "point.obj"),
        "no_faces_obj": str(d / "no_faces.obj"),
    }


def _geo(*extra: str, attitude=("--attitude", "0", "0", "0"), photo="{photo}", tle="{tle}") -> tuple[str, ...]:
    return (
        "geolocate",
        photo,
        "--time",
        TIME,
        "--tle",
        tle,
        *CAMERA,
        *attitude,
        "--quiet",
        "--out",
        "{out}",
        *extra,
    )


def _sideway(*extra: str, lat="31.23", lon="121.5", shadow="168") -> tuple[str, ...]:
    return (
        "shadows",
        "sideway",
        "--time",
        "2013-08-05T02:56:39Z",
        f"--lat={lat}",
        f"--lon={lon}",
        f"--shadow-m={shadow}",
        "--displacement-m",
        "125.5",
        *extra,
    )


def _locate(*extra: str, ref="{photo}", photo="{photo}") -> tuple[str, ...]:
    return (
        "locate",
        photo,
        "--reference",
        ref,
        "--bounds",
        "-101",
        "29",
        "-100",
        "30",
        "--quiet",
        "--out",
        "{out}",
        *extra,
    )


def _sim(*extra: str, tle="{tle}") -> tuple[str, ...]:
    return ("lightning", "simulate", "--tle", tle, "--time", TIME, "--out", "{out}", *extra)


def _solve(*extra: str, video="{text}", events="{events}") -> tuple[str, ...]:
    return (
        "lightning",
        "solve",
        "--video",
        video,
        "--time",
        TIME,
        "--events",
        events,
        "--tle",
        "{tle}",
        *CAMERA,
        "--quiet",
        "--out",
        "{out}",
        *extra,
    )


def _night(*extra: str, raw="{photo}") -> tuple[str, ...]:
    return ("nightlights", "calibrate", raw, "--out", "{out}", *extra)


def _airglow(*extra: str, photo=None, tle="{tle}", pose=("--attitude", "-5.66", "0.71", "84.52")) -> tuple:
    """``airglow waves`` on a photo, or by default on a one-frame folder with its times table."""
    frames = (photo,) if photo else ("--frames", "{ag_frames}", "--frame-times", "{ag_times}")
    return ("airglow", "waves", *frames, "--tle", tle, *CAMERA, *pose, "--quiet", "--out", "{out}", *extra)


def _frames(times: str | None, *extra: str, frames="{ag_frames}") -> tuple[str, ...]:
    """``airglow waves`` on a frames folder with a times table (``times`` None: without)."""
    return (
        "airglow",
        "waves",
        "--frames",
        frames,
        *(("--frame-times", times) if times else ()),
        "--tle",
        "{tle}",
        *CAMERA,
        "--attitude",
        "0",
        "0",
        "0",
        "--quiet",
        "--out",
        "{out}",
        *extra,
    )


def _bench(*extra: str) -> tuple[str, ...]:
    return ("onboard", "bench", "--models", "aliked", "--runtimes", "torch", "--quiet", "--out", "{out}", *extra)


def _synth(*extra: str) -> tuple[str, ...]:
    return ("rso", "synth", "--n", "1", "--size", "16", "--quiet", "--out", "{out}", *extra)


def _train(kind: str, *extra: str, data="{rso_set}", out="{out}/m.pt") -> tuple[str, ...]:
    return ("rso", "train", kind, "--data", data, "--epochs", "1", "--quiet", "--out", out, *extra)


def _recover(*extra: str, image="{rso_img}", model: str | None = None) -> tuple[str, ...]:
    """``rso recover`` with the bundled model unless ``model``."""
    models = ("--model", model) if model else ()
    return ("rso", "recover", image, *models, "--quiet", "--out", "{out}", *extra)


def _pose(*extra: str, image="{rso_img}") -> tuple[str, ...]:
    return ("rso", "pose", image, "--quiet", "--out", "{out}", *extra)


def _evaluate(*extra: str, data="{rso_set}") -> tuple[str, ...]:
    return ("rso", "evaluate", "--data", data, "--quiet", "--out", "{out}", *extra)


#: the bad files a file option is tried with: case-id suffix -> (placeholder, what the error line names)
BAD_FILES = {
    "dev-zero": ("{zero}", "/dev/zero"),
    "fifo": ("{fifo}", "fifo"),
    "folder": ("{folder}", "a_folder"),
    "missing": ("{missing}", "no_such_file"),
    "empty": ("{empty}", "empty.txt"),
    "binary": ("{binary}", "binary.bin"),
    "jpeg": ("{photo}", "meteor_"),
    "huge": ("{huge}", "huge.csv"),
    "latin1": ("{latin1}", "latin1.csv"),
    "semicolon": ("{semicolon}", "semicolon.csv"),
    "nan": ("{nan_tie}", "nan_tie.csv"),
    "csv": ("{tie}", "tie_points.csv"),
    "bomb": ("{bomb}", "bomb.png"),
    "truncated": ("{truncated}", "truncated.png"),
    "thumbnail": ("{thumb}", "thumb16.png"),
}


BAD_FILES.update(
    {
        "a-folder": ("{folder}", "a_folder"),
        "bad-set": ("{bad_set}", "bad_set"),
        "image": ("{rso_img}", "rso_img.png"),
        "dark": ("{rso_dark}", "rso_dark.png"),
        "white": ("{rso_white}", "rso_white.png"),
        "pose-nan": ("{pose_nan}", "pose_nan.json"),
        "pose-none": ("{pose_none}", "pose_none.json"),
        "nan-mesh": ("{nan_obj}", "nan.obj"),
        "point-mesh": ("{point_obj}", "point.obj"),
        "no-faces-mesh": ("{no_faces_obj}", "no_faces.obj"),
    }
)


def _bad_files(prefix: str, argv: Callable[[str], tuple[str, ...]], kinds: str) -> list[Case]:
    """A case ``PREFIX-KIND`` for each bad file of ``kinds`` (keys of :data:`BAD_FILES`, space
    separated), put by ``argv`` where the command takes the file; the error line must name it."""
    return [Case(f"{prefix}-{kind}", argv(BAD_FILES[kind][0]), BAD_FILES[kind][1]) for kind in kinds.split()]


CASES: list[Case] = [
    # geolocate: options
    Case("geolocate-height-1e9", _geo("--height-m", "1e9"), "--height-m"),
    Case("geolocate-height-nan", _geo("--height-m", "nan"), "--height-m"),
    Case("geolocate-height-inf", _geo("--height-m", "inf"), "--height-m"),
    Case("geolocate-attitude-nan", _geo(attitude=("--attitude", "nan", "0", "0")), "--attitude"),
    Case("geolocate-attitude-inf", _geo(attitude=("--attitude", "0", "inf", "0")), "--attitude"),
    Case("geolocate-attitude-big", _geo(attitude=("--attitude", "0", "0", "1e6")), "--attitude"),
    Case("geolocate-focal-inf", _geo("--focal-mm", "inf"), "--focal-mm"),
    Case("geolocate-focal-zero", _geo("--focal-mm", "0"), "--focal-mm"),
    Case("geolocate-sensor-zero", _geo("--sensor-mm", "0", "4.9"), "--sensor-mm"),
    Case("geolocate-look-at-lat", _geo(attitude=("--look-at", "95", "0")), "--look-at"),
    Case("geolocate-look-at-nan", _geo(attitude=("--look-at", "29", "nan")), "--look-at"),
    Case("geolocate-rotation-nan", _geo("--rotation", "nan"), "--rotation"),
    Case("geolocate-distortion-inf", _geo("--distortion", "inf", "0", "0", "0", "0"), "--distortion"),
    Case("geolocate-time-bad", _geo("--time", "yesterday"), "--time"),
    # geolocate: files
    *_bad_files("geolocate-tle", lambda f: _geo(tle=f), "dev-zero fifo folder missing empty binary jpeg huge"),
    *_bad_files(
        "geolocate-tie", lambda f: _geo(attitude=("--tie-points", f)), "dev-zero fifo jpeg huge latin1 semicolon nan"
    ),
    *_bad_files("geolocate-pixels", lambda f: _geo("--pixels", f), "dev-zero fifo jpeg"),
    *_bad_files("geolocate-photo", lambda f: _geo(photo=f), "csv dev-zero fifo empty bomb truncated"),
    Case("geolocate-out-is-file", _geo("--out", "{userfile}"), "--out"),
    Case("geolocate-out-under-file", _geo("--out", "{under_file}"), "--out"),
    # orbit
    *_bad_files("orbit-tle", lambda f: ("orbit", "--tle", f, "--time", TIME), "dev-zero fifo"),
    Case("orbit-time-bad", ("orbit", "--tle", "{tle}", "--time", "2017-13-40"), "--time"),
    # shadows
    Case("sideway-lon-400", _sideway(lon="400"), "--lon"),
    Case("sideway-lon-nan", _sideway(lon="nan"), "--lon"),
    Case("sideway-lat-91", _sideway(lat="91"), "--lat"),
    Case("sideway-shadow-zero", _sideway(shadow="0"), "--shadow-m"),
    Case("sideway-shadow-negative", _sideway(shadow="-5"), "--shadow-m"),
    Case("sideway-shadow-inf", _sideway(shadow="inf"), "--shadow-m"),
    Case("sideway-displacement-nan", _sideway("--displacement-m", "nan"), "--displacement-m"),
    Case("sideway-method-bogus", _sideway("--method", "bogus"), "--method"),
    Case("sideway-sat-altitude-zero", _sideway("--sat-altitude-km", "0"), "--sat-altitude-km"),
    Case("sideway-out-is-folder", _sideway("--out", "{folder}"), "--out"),
    Case("sideway-out-missing-folder", _sideway("--out", "{missing}/x.json"), "--out"),
    Case("sideway-out-under-file", _sideway("--out", "{under_file}"), "--out"),
    Case("sideway-plot-is-folder", _sideway("--plot", "{folder}"), "--plot"),
    Case("sideway-tle-dev-zero", _sideway("--tle", "{zero}"), "/dev/zero"),
    Case(
        "height-shadow-zero",
        ("shadows", "height", "--time", "2013-08-05T02:56:39Z", "--lat", "31.2", "--lon", "121.5", "--shadow-m", "0"),
        "--shadow-m",
    ),
    Case(
        "height-lat-nan",
        ("shadows", "height", "--time", "2013-08-05T02:56:39Z", "--lat", "nan", "--lon", "121.5", "--shadow-m", "10"),
        "--lat",
    ),
    *_bad_files("shadows-batch", lambda f: ("shadows", "batch", f, "--out", "{out}/r.csv"), "dev-zero fifo jpeg huge"),
    Case("shadows-batch-out-folder", ("shadows", "batch", "{tie}", "--out", "{folder}"), "--out"),
    Case("shadows-batch-out-missing", ("shadows", "batch", "{tie}", "--out", "{missing}/r.csv"), "--out"),
    Case(
        "shadows-batch-method-bogus", ("shadows", "batch", "{tie}", "--out", "{out}/r.csv", "--method", "x"), "--method"
    ),
    # locate
    Case("locate-focal-inf", _locate("--focal-mm", "inf"), "--focal-mm"),
    Case("locate-matcher-bogus", _locate("--matcher", "bogus"), "--matcher"),
    Case("locate-nadir-lat", _locate("--nadir", "100", "0"), "--nadir"),
    Case("locate-top-k-zero", _locate("--top-k", "0"), "--top-k"),
    Case(
        "locate-bounds-nan",
        ("locate", "{photo}", "--reference", "{photo}", "--bounds", "nan", "29", "-100", "30", "--out", "{out}"),
        "--bounds",
    ),
    Case("locate-out-is-file", _locate("--out", "{userfile}"), "--out"),
    *_bad_files("locate-reference", lambda f: _locate(ref=f), "dev-zero fifo thumbnail"),
    *_bad_files("locate-photo", lambda f: _locate(photo=f), "thumbnail"),
    Case(
        "locate-reference-huge",
        ("locate", "{photo}", "--reference", "{huge_ref}", "--quiet", "--out", "{out}"),
        "huge_ref.tif",
    ),
    Case(
        "locate-photo-bomb",
        ("locate", "{bomb}", "--reference", "{photo}", "--bounds", "-101", "29", "-100", "30", "--out", "{out}"),
        "bomb.png",
    ),
    Case("locate-batch-workers-zero", ("locate", "batch", "{tie}", "--out", "{out}", "--workers", "0"), "--workers"),
    Case("locate-batch-workers-negative", ("locate", "batch", "{tie}", "--out", "{out}", "--workers=-3"), "--workers"),
    Case(
        "locate-batch-matcher-bogus", ("locate", "batch", "{tie}", "--out", "{out}", "--matcher", "bogus"), "--matcher"
    ),
    *_bad_files(
        "locate-batch-catalog", lambda f: ("locate", "batch", f, "--out", "{out}"), "dev-zero fifo jpeg missing"
    ),
    Case("locate-batch-catalog-columns", ("locate", "batch", "{tie}", "--out", "{out}"), "tie_points.csv"),
    Case("locate-batch-out-is-file", ("locate", "batch", "{tie}", "--out", "{userfile}"), "--out"),
    Case("locate-evaluate-matcher-bogus", ("locate", "evaluate", "{folder}", "--matcher", "bogus"), "--matcher"),
    # nightlights
    Case("nightlights-extinction-nan", _night("--extinction", "nan,0.1,0.2"), "--extinction"),
    Case("nightlights-extinction-negative", _night("--extinction=-1,0.1,0.2"), "--extinction"),
    Case("nightlights-window-negative", _night("--window=-1,1,1"), "--window"),
    Case("nightlights-window-zero", _night("--window", "0,1,1"), "--window"),
    Case("nightlights-exposure-zero", _night("--exposure-s", "0"), "--exposure-s"),
    Case("nightlights-iso-nan", _night("--iso", "nan"), "--iso"),
    *_bad_files("nightlights-raw", lambda f: _night(raw=f), "dev-zero fifo"),
    Case("nightlights-out-is-file", _night("--out", "{userfile}"), "--out"),
    # lightning
    Case("lightning-solve-focal-inf", _solve("--focal-mm", "inf"), "--focal-mm"),
    Case("lightning-solve-fps-zero", _solve("--fps", "0"), "--fps"),
    Case("lightning-solve-height-nan", _solve("--emission-height-m", "nan"), "--emission-height-m"),
    Case("lightning-solve-video-text", _solve(), "text.txt"),
    Case("lightning-solve-video-dev-zero", _solve(video="{zero}"), "/dev/zero"),
    *_bad_files("lightning-solve-events", lambda f: _solve(events=f), "dev-zero fifo"),
    Case(
        "lightning-solve-frame-times-dev-zero",
        (
            "lightning",
            "solve",
            "--frames",
            "{frames}",
            "--frame-times",
            "{zero}",
            "--events",
            "{events}",
            "--tle",
            "{tle}",
            "--out",
            "{out}",
        ),
        "/dev/zero",
    ),
    Case("lightning-solve-out-is-file", _solve("--out", "{userfile}"), "--out"),
    Case("lightning-simulate-size-huge", _sim("--size", "100000", "100000"), "--size"),
    Case("lightning-simulate-size-zero", _sim("--size", "0", "10"), "--size"),
    Case("lightning-simulate-size-budget", _sim("--size", "20000", "20000"), "--size"),
    Case("lightning-simulate-frames-zero", _sim("--frames", "0"), "--frames"),
    Case("lightning-simulate-miss-rate", _sim("--miss-rate", "2"), "--miss-rate"),
    Case("lightning-simulate-attitude-nan", _sim("--attitude", "nan", "0", "0"), "--attitude"),
    Case("lightning-simulate-interval-zero", _sim("--interval-s", "0"), "--interval-s"),
    Case("lightning-solve-detect-threshold-zero", _solve("--detect-threshold", "0"), "--detect-threshold"),
    Case("lightning-solve-detect-threshold-nan", _solve("--detect-threshold", "nan"), "--detect-threshold"),
    Case("lightning-simulate-cities-negative", _sim("--cities", "-5"), "--cities"),
    Case(
        "lightning-lis-height-nan",
        ("lightning", "lis", "{binary}", "--out", "{out}", "--height-m", "nan"),
        "--height-m",
    ),
    Case("lightning-lis-not-netcdf", ("lightning", "lis", "{binary}", "--out", "{out}"), "binary.bin"),
    Case("lightning-simulate-tle-dev-zero", _sim(tle="{zero}"), "/dev/zero"),
    Case("lightning-simulate-out-is-file", _sim("--out", "{userfile}"), "--out"),
    # siblings
    Case("geolocate-landmark-lat", _geo("--landmark", "X:95:0"), "95"),
    Case("orbit-tle-empty", ("orbit", "--tle", "{empty}", "--time", TIME), "empty.txt"),
    Case(
        "sideway-time-bad",
        (
            "shadows",
            "sideway",
            "--time",
            "noon",
            "--lat",
            "31",
            "--lon",
            "121",
            "--shadow-m",
            "168",
            "--displacement-m",
            "125",
        ),
        "--time",
    ),
    Case(
        "sideway-gsd-zero",
        (
            "shadows",
            "sideway",
            "--time",
            "2013-08-05T02:56:39Z",
            "--lat",
            "31",
            "--lon",
            "121",
            "--base-px",
            "10",
            "10",
            "--shadow-tip-px",
            "20",
            "20",
            "--top-px",
            "5",
            "5",
            "--gsd-m",
            "0",
        ),
        "--gsd-m",
    ),
    Case("locate-sensor-zero", _locate("--sensor-width-mm", "0"), "--sensor-width-mm"),
    Case("lightning-solve-guess-radius-zero", _solve("--guess-radius-deg", "0"), "--guess-radius-deg"),
    Case("lightning-solve-centroid-sigma-zero", _solve("--centroid-sigma-px", "0"), "--centroid-sigma-px"),
    Case("lightning-solve-clock-offset-huge", _solve("--clock-offset-s", "1e9"), "--clock-offset-s"),
    Case("lightning-simulate-storms-negative", _sim("--storms=-1"), "--storms"),
    Case("lightning-simulate-flashes-negative", _sim("--flashes=-1"), "--flashes"),
    Case("lightning-simulate-false-rate-nan", _sim("--false-rate", "nan"), "--false-rate"),
    Case("nightlights-f-number-zero", _night("--f-number", "0"), "--f-number"),
    Case("nightlights-sensor-zero", _night("--sensor-mm", "0", "0"), "--sensor-mm"),
]


# airglow, rso and onboard: the newer commands
CASES += [
    # airglow waves: options
    Case("airglow-layer-low", _airglow("--layer-km", "5"), "--layer-km"),
    Case("airglow-layer-nan", _airglow("--layer-km", "nan"), "--layer-km"),
    Case("airglow-layer-metres", _airglow("--layer-km", "87000"), "--layer-km"),
    Case("airglow-emission-bogus", _airglow("--emission", "H-alpha"), "--emission"),
    Case("airglow-layer-and-emission", _airglow("--layer-km", "90", "--emission", "OH"), "--layer-km"),
    Case("airglow-grid-zero", _airglow("--grid-km", "0"), "--grid-km"),
    Case("airglow-grid-inf", _airglow("--grid-km", "inf"), "--grid-km"),
    Case("airglow-wind-nan", _airglow("--wind", "nan", "0"), "--wind"),
    Case("airglow-wind-km-s", _airglow("--wind", "0", "7000"), "--wind"),
    Case("airglow-focal-zero", _airglow("--focal-mm", "0"), "--focal-mm"),
    Case("airglow-attitude-nan", _airglow(pose=("--attitude", "nan", "0", "0")), "--attitude"),
    Case("airglow-no-pose", _airglow(pose=()), "--attitude"),
    Case("airglow-two-poses", _airglow("--pose-from", "{pose_none}"), "--pose-from"),
    Case("airglow-photos-and-frames", _airglow("--frames", "{ag_frames}", photo="{photo}"), "--frames"),
    Case("airglow-photo-no-exif-time", _airglow(photo="{photo}"), "meteor_"),
    Case("airglow-frames-without-times", _frames(None), "--frame-times"),
    Case(
        "airglow-no-frames",
        ("airglow", "waves", "--tle", "{tle}", "--attitude", "0", "0", "0", "--out", "{out}"),
        "frames",
    ),
    Case("airglow-frames-empty-folder", _frames("{ag_times_other}", frames="{folder}"), "a_folder"),
    Case("airglow-frames-is-file", _frames("{ag_times_other}", frames="{userfile}"), "user_file"),
    Case("airglow-frame-times-no-row", _frames("{ag_times_other}"), "ag_times_other.csv"),
    Case("airglow-frame-times-bad-time", _frames("{ag_times_bad}"), "ag_times_bad.csv"),
    # airglow waves: files
    *_bad_files(
        "airglow-frame-times",
        lambda f: _frames(f, frames="{folder}"),
        "dev-zero missing empty binary huge latin1 a-folder",
    ),
    *_bad_files("airglow-photo", lambda f: _airglow(photo=f), "csv dev-zero empty binary missing a-folder"),
    *_bad_files("airglow-tle", lambda f: _airglow(tle=f), "dev-zero folder empty binary"),
    *_bad_files(
        "airglow-pose-from",
        lambda f: _airglow(pose=("--pose-from", f)),
        "dev-zero missing empty binary huge a-folder pose-nan pose-none",
    ),
    *_bad_files("airglow-flat", lambda f: _airglow("--flat", f), "dev-zero missing binary bomb image"),
    Case("airglow-out-is-file", _airglow("--out", "{userfile}"), "--out"),
    Case("airglow-out-is-input", _airglow("--out", "{photo}"), "--out"),
    Case("airglow-out-under-file", _airglow("--out", "{under_file}"), "--out"),
    # onboard bench
    Case("onboard-models-bogus", _bench("--models", "resnet"), "--models"),
    Case("onboard-models-empty", _bench("--models", ","), "--models"),
    Case("onboard-runtimes-bogus", _bench("--runtimes", "tensorrt"), "--runtimes"),
    Case("onboard-threads-zero", _bench("--threads", "0"), "--threads"),
    Case("onboard-repeats-one", _bench("--repeats", "1"), "--repeats"),
    Case("onboard-size-not-32", _bench("--size-px", "33"), "--size-px"),
    Case("onboard-size-zero", _bench("--size-px", "0"), "--size-px"),
    Case("onboard-size-huge", _bench("--size-px", "100000"), "--size-px"),
    Case("onboard-bitflip-trials-negative", _bench("--bitflip-trials=-1"), "--bitflip-trials"),
    Case("onboard-bitflip-bits-zero", _bench("--bitflip-bits", "0"), "--bitflip-bits"),
    Case("onboard-bitflip-threshold-nan", _bench("--bitflip-threshold", "nan"), "--bitflip-threshold"),
    Case("onboard-bitflip-threshold-zero", _bench("--bitflip-threshold", "0"), "--bitflip-threshold"),
    Case("onboard-input-bogus", _bench("--input", "camera"), "--input"),
    Case("onboard-seed-negative", _bench("--seed=-1"), "--seed"),
    Case("onboard-rso-images-zero", _bench("--rso-images", "0"), "--rso-images"),
    Case("onboard-rso-images-huge", _bench("--rso-images", "100000"), "--rso-images"),
    Case("onboard-out-is-file", _bench("--out", "{userfile}"), "--out"),
    Case("onboard-out-under-file", _bench("--out", "{under_file}"), "--out"),
    # rso synth
    Case("rso-synth-n-zero", _synth("--n", "0"), "--n"),
    Case("rso-synth-size-small", _synth("--size", "8"), "--size"),
    Case("rso-synth-size-huge", _synth("--size", "100000"), "--size"),
    Case("rso-synth-budget", _synth("--n", "1000000", "--size", "512"), "--n"),
    Case("rso-synth-renderer-bogus", _synth("--renderer", "blender"), "--renderer"),
    Case("rso-synth-scale-zero", _synth("--scale", "0"), "--scale"),
    Case("rso-synth-scale-nan", _synth("--scale", "nan"), "--scale"),
    Case("rso-synth-seed-negative", _synth("--seed=-1"), "--seed"),
    *_bad_files(
        "rso-synth-mesh",
        lambda f: _synth("--mesh", f),
        "dev-zero fifo folder missing empty binary huge nan-mesh point-mesh no-faces-mesh",
    ),
    Case("rso-synth-out-is-file", _synth("--out", "{userfile}"), "--out"),
    Case("rso-synth-out-under-file", _synth("--out", "{under_file}"), "--out"),
    Case("rso-synth-out-holds-user-labels", _synth("--out", "{synth_user}"), "labels.csv"),
    # rso train
    *_bad_files("rso-train-data", lambda f: _train("recover", data=f), "dev-zero fifo missing binary a-folder"),
    Case("rso-train-data-garbage", _train("recover", data="{bad_set}"), "bad_set"),
    Case("rso-train-epochs-zero", _train("recover", "--epochs", "0"), "--epochs"),
    Case("rso-train-batch-zero", _train("recover", "--batch", "0"), "--batch"),
    Case("rso-train-pose-batch-one", _train("pose", "--batch", "1"), "--batch"),
    Case("rso-train-lr-zero", _train("recover", "--lr", "0"), "--lr"),
    Case("rso-train-lr-nan", _train("recover", "--lr", "nan"), "--lr"),
    Case("rso-train-threads-zero", _train("recover", "--threads", "0"), "--threads"),
    Case("rso-train-limit-one", _train("recover", "--limit", "1"), "--limit"),
    Case("rso-train-crop-odd", _train("recover", "--crop", "30"), "--crop"),
    Case("rso-train-crop-too-big", _train("recover", "--crop", "128"), "--crop"),
    Case("rso-train-base-zero", _train("recover", "--base", "0"), "--base"),
    Case("rso-train-out-is-folder", _train("recover", out="{folder}"), "--out"),
    Case("rso-train-out-user-file", _train("recover", out="{userfile}"), "--out"),
    Case("rso-train-out-is-input", _train("recover", out="{rso_set}/arrays.npz"), "--out"),
    Case("rso-train-out-is-image", _train("pose", out="{rso_img}"), "--out"),
    Case("rso-train-out-under-file", _train("recover", out="{under_file}"), "--out"),
    Case("rso-train-out-no-folder", _train("recover", out="{missing}/m.pt"), "--out"),
    Case("rso-train-resume-other-network", _train("recover", "--resume", out="{ckpt}/m.pt"), "--resume"),
    Case("rso-train-pose-width-zero", _train("pose", "--width", "0"), "--width"),
    Case("rso-train-pose-width-nan", _train("pose", "--width", "nan"), "--width"),
    Case("rso-train-pose-input-bogus", _train("pose", "--input", "noisy"), "--input"),
    Case("rso-train-pose-scale-zero", _train("pose", "--scale", "0"), "--scale"),
    Case("rso-train-pose-mesh-binary", _train("pose", "--mesh", "{binary}"), "binary.bin"),
    # rso recover
    *_bad_files(
        "rso-recover-image",
        lambda f: _recover(image=f),
        "dev-zero fifo empty binary bomb truncated jpeg dark",
    ),
    *_bad_files("rso-recover-model", lambda f: _recover(model=f), "dev-zero folder missing empty binary"),
    Case("rso-recover-model-of-pose", _recover(model="{pose_model}"), "pose model"),
    Case("rso-recover-out-is-file", _recover("--out", "{userfile}"), "--out"),
    Case("rso-recover-out-is-input", _recover("--out", "{rso_img}"), "--out"),
    Case("rso-recover-out-under-file", _recover("--out", "{under_file}"), "--out"),
    Case("rso-recover-out-holds-user-png", _recover("--out", "{recover_user}"), "restored.png"),
    # rso pose
    *_bad_files("rso-pose-image", lambda f: _pose(image=f), "binary jpeg dark white"),
    *_bad_files("rso-pose-model", lambda f: _pose("--model", f), "dev-zero missing binary"),
    *_bad_files("rso-pose-recover-model", lambda f: _pose("--recover-model", f), "dev-zero missing binary"),
    *_bad_files("rso-pose-mesh", lambda f: _pose("--mesh", f), "missing binary"),
    Case("rso-pose-scale-zero", _pose("--scale", "0"), "--scale"),
    Case("rso-pose-scale-inf", _pose("--scale", "inf"), "--scale"),
    Case("rso-pose-out-is-file", _pose("--out", "{userfile}"), "--out"),
    Case("rso-pose-out-is-input", _pose("--out", "{rso_img}"), "--out"),
    Case("rso-pose-out-holds-user-overlay", _pose("--out", "{pose_user}"), "overlay.png"),
    # rso evaluate
    *_bad_files("rso-evaluate-data", lambda f: _evaluate(data=f), "binary bad-set"),
    *_bad_files("rso-evaluate-templates", lambda f: _evaluate("--templates", f), "dev-zero missing a-folder"),
    *_bad_files("rso-evaluate-recover-model", lambda f: _evaluate("--recover-model", f), "missing binary"),
    *_bad_files("rso-evaluate-pose-model", lambda f: _evaluate("--pose-model", f), "missing binary"),
    Case("rso-evaluate-data-other-size", _evaluate(data="{rso_set16}"), "--data"),
    Case("rso-evaluate-templates-other-size", _evaluate("--templates", "{rso_set16}"), "rso_set16"),
    Case("rso-evaluate-out-is-file", _evaluate("--out", "{userfile}"), "--out"),
    Case("rso-evaluate-out-under-file", _evaluate("--out", "{under_file}"), "--out"),
]


# --- the sweep: every command x every file it reads, each broken four ways -----------------------
#
# Templates: "X<ext>" is the broken input ("Xdir" a folder), "OUT" the output folder; the other
# inputs are valid ({photo}, {tle}, {raster}: a one-band GeoTIFF, {raster2}: green and NIR, ...).
# Each broken input is missing, empty, random bytes (a folder of broken files), or of the wrong
# type (a folder for a file, a file for a folder); the error must name it (its name is "bad").
# A missing, empty or wrong-type input runs with an --out that does not exist (it must not be
# made); random bytes with an --out that holds the user's notes (they must stay alone).

_CAM = ("--attitude", "-5.66", "0.71", "84.52")
#: the sweep's shorthands, expanded in this order: $AG a folder of 3 frames with their times, $SH a
#: landmark on a broken GeoTIFF, $CAM the sample's camera, $ATT an attitude, $T the sample's time
_MACROS = {
    "$AG": "--frames {ag_frames3} --frame-times {ag_times3} --tle {tle} $CAM",
    "$SH": "--time $T --lat 34.1 --lon -118.4 --geotiff X.tif --base-px 10 10",
    "$CAM": " ".join(CAMERA),
    "$ATT": " ".join(_CAM),
    "$T": TIME,
}


def _words(text: str) -> tuple[str, ...]:
    for macro, value in _MACROS.items():
        text = text.replace(macro, value)
    return tuple(text.split())


_SWEEP_TEXT = {
    "geolocate-photo": "geolocate X.jpg --time $T --tle {tle} $ATT --out OUT",
    "geolocate-tle": "geolocate {photo} --time $T --tle X.txt $CAM $ATT --out OUT",
    "geolocate-tie-points": "geolocate {photo} --time $T --tle {tle} $CAM --tie-points X.csv --out OUT",
    "geolocate-pixels": "geolocate {photo} --time $T --tle {tle} $CAM $ATT --pixels X.csv --out OUT",
    "orbit-tle": "orbit --tle X.txt --time $T",
    "stereo": "stereo X.jpg {photo} --out OUT",
    "describe": "describe X.json --out OUT",
    "shadows-batch": "shadows batch X.csv --out OUT/r.csv",
    "shadows-height-geotiff": "shadows height $SH --shadow-tip-px 20 20",
    "shadows-sideway-geotiff": "shadows sideway $SH --top-px 12 12 --shadow-tip-px 20 20",
    "locate-photo": "locate X.jpg --reference {photo} --bounds -101 29 -100 30 --out OUT",
    "locate-reference": "locate {photo} --reference X.jpg --bounds -101 29 -100 30 --out OUT",
    "locate-reference-dir": "locate {photo} --reference-dir Xdir --out OUT",
    "locate-evaluate": "locate evaluate Xdir",
    "locate-batch": "locate batch X.csv --out OUT",
    "nightlights-calibrate": "nightlights calibrate X.jpg --out OUT",
    "nightlights-calibrate-dark": "nightlights calibrate {photo} --dark X.jpg --out OUT",
    "nightlights-calibrate-flat": "nightlights calibrate {photo} --flat X.tif --out OUT",
    "nightlights-calibrate-tie-points": "nightlights calibrate {photo} --tle {tle} --time $T --exposure-s 1 --iso 1600 "
    "--f-number 2.8 $CAM --tie-points X.csv --out OUT",
    "nightlights-stars": "nightlights stars X.jpg --out OUT",
    "nightlights-zones-raster": "nightlights zones X.tif --zones {zones} --out OUT",
    "nightlights-zones-zones": "nightlights zones {raster} --zones X.geojson --out OUT",
    "nightlights-zones-population": "nightlights zones {raster} --zones {zones} --population X.tif --out OUT",
    "lightning-solve": "lightning solve X.jpg --time $T --exposure-s 0.1 --tle {tle} $CAM --events {events} --out OUT",
    "lightning-solve-events": "lightning solve {photo} --time $T --exposure-s 0.1 --tle {tle} $CAM --events X.csv "
    "--out OUT",
    "lightning-lis": "lightning lis X.nc --out OUT",
    "lightning-simulate-tle": "lightning simulate --tle X.txt --time $T --out OUT",
    "thermal-stack": "thermal stack Xdir --out OUT",
    "thermal-scene": "thermal scene X.tif --out OUT",
    "thermal-scene-qc": "thermal scene {raster} --qc X.tif --out OUT",
    "thermal-scene-cloud": "thermal scene {raster} --cloud X.tif --out OUT",
    "thermal-scene-water": "thermal scene {raster} --water X.tif --out OUT",
    "thermal-scene-cities": "thermal scene {raster} --cities X.geojson --out OUT",
    "thermal-bt": "thermal bt X.tif --band ecostress-4 --out OUT",
    "thermal-bt-band": "thermal bt {raster} --band X.csv --out OUT",
    "thermal-indices": "thermal indices X.tif --out OUT",
    "thermal-splitwindow": "thermal splitwindow X.tif {raster} --sensor ecostress --emissivity 0.97 --out OUT",
    "thermal-splitwindow-ndvi": "thermal splitwindow {raster} {raster} --sensor ecostress --ndvi X.tif --out OUT",
    "thermal-fire": "thermal fire X.tif {raster} --out OUT",
    "thermal-fire-water": "thermal fire {raster} {raster} --water X.tif --out OUT",
    "hazards-flood": "hazards flood X.tif {raster} --out OUT",
    "hazards-flood-aoi": "hazards flood {raster} {raster} --aoi X.geojson --out OUT",
    "hazards-flood-features": "hazards flood {raster2} {raster2} --bands green,nir --features X.geojson --out OUT",
    "hazards-flood-population": "hazards flood {raster2} {raster2} --bands green,nir --population X.tif --out OUT",
    "hazards-flood-dem": "hazards flood {raster} {raster} --dem X.tif --out OUT",
    "hazards-flood-reference": "hazards flood {raster} {raster} --reference X.tif --out OUT",
    "hazards-flood-cloud-mask": "hazards flood {raster} {raster} --cloud-mask-before X.tif --out OUT",
    "hazards-burn": "hazards burn {raster} X.tif --out OUT",
    "hazards-fire": "hazards fire X.tif {raster} --out OUT",
    "hazards-fire-night-photo": "hazards fire {raster} X.tif --night-photo --out OUT",
    "hazards-change": "hazards change X.tif {raster} --out OUT",
    "hazards-plume": "hazards plume X.tif {raster} --out OUT",
    "rso-recover": "rso recover X.png --out OUT",
    "rso-recover-model": "rso recover {rso_img} --model X.pt --out OUT",
    "rso-pose": "rso pose X.png --out OUT",
    "rso-pose-model": "rso pose {rso_img} --model X.pt --out OUT",
    "rso-pose-mesh": "rso pose {rso_img} --refine --mesh X.obj --out OUT",
    "rso-synth-mesh": "rso synth --n 2 --mesh X.obj --out OUT",
    "rso-synth-psf-stars": "rso synth --n 2 --psf-stars X.png --out OUT",
    "rso-evaluate": "rso evaluate --data Xdir --out OUT",
    "rso-train-pose": "rso train pose --data Xdir --out OUT/m.pt --epochs 1",
    "rso-train-recover": "rso train recover --data Xdir --out OUT/m.pt --epochs 1",
    "catalog-build": "catalog build Xdir --out OUT",
    "catalog-validate": "catalog validate X.json",
    "catalog-export": "catalog export Xdir --out OUT",
    "airglow-waves": "airglow waves X.jpg X.jpg X.jpg --tle {tle} $ATT --out OUT",
    "airglow-frame-times": "airglow waves --frames {ag_frames3} --frame-times X.csv --tle {tle} $CAM $ATT --out OUT",
    "airglow-pose-from": "airglow waves $AG --pose-from X.json --out OUT",
    "airglow-attitudes": "airglow waves $AG --attitudes X.csv --out OUT",
    "airglow-flat": "airglow waves $AG $ATT --flat X.tif --out OUT",
    "airglow-dark": "airglow waves $AG $ATT --dark X.tif --out OUT",
    "onboard-merge": "onboard merge X.json --out OUT",
    "onboard-bench-task-cases": "onboard bench --models scene --runtimes torch --task-cases Xdir --out OUT",
}
SWEEP: dict[str, tuple[str, ...]] = {name: _words(text) for name, text in _SWEEP_TEXT.items()}
SWEEP_KINDS = ("missing", "empty", "garbage", "wrong-type")
#: the text inputs also given as a 300 MB file: each must be refused by its size, not read whole
HUGE_SLOTS = (".csv", ".json", ".txt")  # vector layers are opened by GDAL, not read here
#: commands the sweep leaves out, and why
SWEEP_LEFT_OUT = {"catalog serve": "serves until stopped: its bad catalogs are refused in a subprocess test"}


def _sweep_key(kind: str, slot: str) -> str:
    return f"sweep_{kind.replace('-', '_')}_{slot[1:].lstrip('.') or 'dir'}"


def _sweep_inputs(d: Path) -> dict[str, str]:
    """The sweep's broken inputs (one of each kind per extension) and its valid companions."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(1)
    slots = sorted({a for t in SWEEP.values() for a in t if a.startswith("X")})
    fill: dict[str, str] = {}
    for kind in SWEEP_KINDS:
        folder = d / "sweep" / kind
        folder.mkdir(parents=True, exist_ok=True)
        for slot in slots:
            p = folder / ("bad" if slot == "Xdir" else "bad" + slot[1:])
            fill[_sweep_key(kind, slot)] = str(p)
            if p.exists() or kind == "missing":
                continue
            if slot == "Xdir":
                if kind == "wrong-type":
                    p.write_text("not a folder\n")
                    continue
                p.mkdir()
                if kind == "garbage":  # a folder of broken files, and a case / product folder of them
                    names = ("a.tif", "b.png", "c.json", "d.csv", "collection.json", "result.json", "labels.csv")
                    (p / "case1").mkdir()
                    for name in names:
                        (p / name).write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
                    for name in ("case.json", "photo.jpg", "reference.jpg", "result.json", "georef.tif"):
                        (p / "case1" / name).write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
            elif kind == "empty":
                p.write_bytes(b"")
            elif kind == "garbage":
                p.write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
            else:
                p.mkdir()
    pool = d / "list_case_pool" / "case1"  # a tile folder whose case.json is JSON but not an object
    pool.mkdir(parents=True, exist_ok=True)
    (pool / "case.json").write_text("[1]\n")
    if not (pool / "reference.jpg").exists():
        (pool / "reference.jpg").symlink_to(SAMPLE / "meteor_20170517T054409.526Z.jpg")
    fill["list_case_pool"] = str(pool.parent)
    (d / "merge_wrong.json").write_text('{"version": 1, "rows": [1, 2], "processor": "x"}\n')
    fill["merge_wrong"] = str(d / "merge_wrong.json")
    (d / "coll_list.json").write_text("[1, 2]\n")  # JSON, but no collection
    fill["coll_list"] = str(d / "coll_list.json")
    huge = d / "sweep" / "huge"  # text inputs of 300 MB (sparse: no disk used), beyond every cap
    huge.mkdir(parents=True, exist_ok=True)
    for slot in (s for s in slots if s[1:] in HUGE_SLOTS):
        p = huge / ("bad" + slot[1:])
        fill[_sweep_key("huge", slot)] = str(p)
        with open(p, "wb") as f:
            f.truncate(300 * 1024 * 1024)
    for name, values in (
        ("raster.tif", 300 + rng.normal(0, 2, (1, 64, 64))),
        ("raster2.tif", rng.uniform(0.02, 0.4, (2, 64, 64))),
        ("negative.tif", -5 + rng.normal(0, 0.2, (1, 64, 64))),
        ("nodata.tif", np.full((1, 64, 64), np.nan)),
    ):
        with rasterio.open(
            d / name,
            "w",
            driver="GTiff",
            width=64,
            height=64,
            count=len(values),
            dtype="float32",
            crs="EPSG:4326",
            transform=from_origin(-118.5, 34.2, 0.001, 0.001),
        ) as ds:
            ds.write(values.astype(np.float32))
    (d / "zones.geojson").write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"a"},"geometry":'
        '{"type":"Polygon","coordinates":[[[-118.49,34.19],[-118.45,34.19],[-118.45,34.15],[-118.49,34.15],'
        "[-118.49,34.19]]]}}]}"
    )
    frames = d / "ag_frames3"
    frames.mkdir(exist_ok=True)
    rows = ["file,time"]
    for i in range(3):
        if not (frames / f"f{i}.jpg").exists():
            (frames / f"f{i}.jpg").symlink_to(SAMPLE / "meteor_20170517T054409.526Z.jpg")
        rows.append(f"f{i}.jpg,2017-05-17T05:44:{9 + i:02d}.526Z")
    (d / "ag_times3.csv").write_text("\n".join(rows) + "\n")
    photo = SAMPLE / "meteor_20170517T054409.526Z.jpg"  # a valid locate batch catalog of one row
    (d / "batch_catalog.csv").write_text(f"photo,reference,west,south,east,north\n{photo},{photo},-101,29,-100,30\n")
    return {
        "batch_catalog": str(d / "batch_catalog.csv"),
        **fill,
        "raster": str(d / "raster.tif"),
        "raster2": str(d / "raster2.tif"),
        "negative": str(d / "negative.tif"),
        "nodata": str(d / "nodata.tif"),
        "zones": str(d / "zones.geojson"),
        "ag_frames3": str(frames),
        "ag_times3": str(d / "ag_times3.csv"),
    }


def _sweep_case(name: str, kind: str) -> Case:
    writes_file = any(a.startswith("OUT/") for a in SWEEP[name])  # an output file: its folder must exist
    out = "{out}" if kind == "garbage" or writes_file else "{new_out}"
    argv = tuple(
        "{" + _sweep_key(kind, a) + "}" if a.startswith("X") else out + a[3:] if a.startswith("OUT") else a
        for a in SWEEP[name]
    )
    # a huge file must be refused for its size (naming the cap), not read whole and found wanting
    return Case(f"sweep-{name}-{kind}", argv, "larger than" if kind == "huge" else "bad")


CASES += [_sweep_case(name, kind) for name in SWEEP for kind in SWEEP_KINDS]
CASES += [
    _sweep_case(name, "huge")
    for name, argv in SWEEP.items()
    if any(a.startswith("X") and a[1:] in HUGE_SLOTS for a in argv)
]
CASES += [  # readable, but not what the command needs
    Case("catalog-export-collection-a-list", ("catalog", "export", "{coll_list}", "--out", "{out}"), "coll_list.json"),
    Case("onboard-merge-wrong-schema", ("onboard", "merge", "{merge_wrong}", "--out", "{out}"), "merge_wrong.json"),
    Case(
        "locate-pool-case-not-an-object",
        ("locate", "{photo}", "--reference-dir", "{list_case_pool}", "--out", "{out}"),
        "list_case_pool",
    ),
    Case("thermal-bt-negative", ("thermal", "bt", "{negative}", "--band", "ecostress-4", "--out", "{out}"), "negative"),
    Case("thermal-bt-nodata", ("thermal", "bt", "{nodata}", "--band", "ecostress-4", "--out", "{out}"), "nodata"),
    Case("rso-recover-white", ("rso", "recover", "{rso_white}", "--out", "{out}"), "uniform"),
    # options out of range, or naming the wrong option
    Case(
        "thermal-bt-raster-band-0",
        ("thermal", "bt", "{raster}", "--band", "ecostress-4", "--raster-band", "0", "--out", "{out}"),
        "--raster-band",
    ),
    Case(
        "thermal-bt-raster-band-3",
        ("thermal", "bt", "{raster}", "--band", "ecostress-4", "--raster-band", "3", "--out", "{out}"),
        "band 3 does not exist",
    ),
    Case("describe-near-km", ("describe", "{folder}", "--near-km", "-5", "--out", "{out}"), "--near-km"),
    Case(
        "catalog-build-thumbnail",
        ("catalog", "build", "{folder}", "--thumbnail-px", "0", "--out", "{out}"),
        "--thumbnail-px",
    ),
    Case(
        "hazards-min-area",
        (
            "hazards",
            "flood",
            "{raster2}",
            "{raster2}",
            "--bands",
            "green,nir",
            "--min-area-km2",
            "-1",
            "--out",
            "{out}",
        ),
        "--min-area-km2",
    ),
    Case(
        "thermal-splitwindow-tcw",
        (
            "thermal",
            "splitwindow",
            "{raster}",
            "{raster}",
            "--sensor",
            "ecostress",
            "--emissivity",
            "0.97",
            "--tcw",
            "-3",
            "--out",
            "{out}",
        ),
        "--tcw",
    ),
    Case(
        "thermal-scene-lst-scale", ("thermal", "scene", "{raster}", "--lst-scale", "0", "--out", "{out}"), "--lst-scale"
    ),
    Case(
        "onboard-glue-keypoints",
        ("onboard", "bench", "--models", "lightglue", "--glue-keypoints", "1", "--out", "{out}"),
        "--glue-keypoints",
    ),
    Case(
        "onboard-task-bitflip-trials",
        ("onboard", "bench", "--models", "scene", "--task-bitflip-trials", "-1", "--out", "{out}"),
        "--task-bitflip-trials",
    ),
    Case(
        "thermal-bt-emissivity",
        ("thermal", "bt", "{raster}", "--band", "ecostress-4", "--emissivity", "2", "--out", "{out}"),
        "--emissivity",
    ),
    Case("catalog-serve-port", ("catalog", "serve", "{folder}", "--port", "70000"), "--port"),
    Case(
        "lightning-simulate-seed",
        ("lightning", "simulate", "--tle", "{tle}", "--time", TIME, "--seed", "-1", "--out", "{out}"),
        "--seed",
    ),
    Case("geolocate-distortion-no-lens", _geo("--distortion", "1e9", "0", "0", "0", "0"), "--distortion"),
    Case(
        "calibrate-focal-negative",
        ("nightlights", "calibrate", "{photo}", "--focal-mm", "-3", "--out", "{out}"),
        "--focal-mm",
    ),
]

# a photo without EXIF (the Meteor frame has none): each command that needs the camera or the
# exposure asks for it by the flag that supplies it (nightlights calibrate once asked for a focal
# length it had no option for)
_NL = ("nightlights", "calibrate", "{photo}", "--tle", "{tle}", "--time", TIME, "--exposure-s", "1", "--iso", "1600")
_LS = ("lightning", "solve", "{photo}", "--time", TIME, "--exposure-s", "0.1", "--tle", "{tle}", "--events", "{events}")
_AG0 = ("airglow", "waves", "--frames", "{ag_frames3}", "--frame-times", "{ag_times3}", "--tle", "{tle}", *_CAM)
_GEO0 = ("geolocate", "{photo}", "--time", TIME, "--tle", "{tle}", *_CAM)
_ST0 = ("nightlights", "stars", "{photo}", "--time", TIME, "--tle", "{tle}")
_F = ("--focal-mm", "10.5")
CASES += [
    Case(f"exif-less-{name}", (*argv, "--out", "{new_out}"), token)
    for name, argv, token in (
        ("geolocate-focal", _GEO0, "--focal-mm"),
        ("geolocate-sensor", (*_GEO0, *_F), "--sensor-mm"),
        ("calibrate-exposure", ("nightlights", "calibrate", "{photo}"), "--exposure-s"),
        ("calibrate-f-number", _NL, "--f-number"),
        ("calibrate-focal", (*_NL, "--f-number", "2.8"), "--focal-mm"),
        ("calibrate-sensor", (*_NL, "--f-number", "2.8", *_F), "--sensor-mm"),
        ("stars-focal", _ST0, "--focal-mm"),
        ("stars-sensor", (*_ST0, *_F), "--sensor-mm"),
        ("lightning-focal", _LS, "--focal-mm"),
        ("lightning-sensor", (*_LS, *_F), "--sensor-mm"),
        ("airglow-focal", _AG0, "--focal-mm"),
        ("airglow-sensor", (*_AG0, *_F), "--sensor-mm"),
    )
]


# every text option given a value it cannot take: a time that is no time, a field the layer lacks,
# a name that is not one of the choices, an option that needs another (the hazards commands once
# wrote products with --before-time bogus and crashed on --after-time bogus; thermal scene ignored
# --area-field nope, thermal indices --reference without --coregister)
_HZ_BANDS = {"flood": "green,nir", "burn": "nir,swir2", "fire": "thermal", "change": "green,nir"}
_HZ_BANDS["plume"] = "tir11,tir12"


def _hz(kind: str, *extra: str) -> tuple[str, ...]:
    r = "{raster}" if kind == "fire" else "{raster2}"
    return ("hazards", kind, r, r, "--bands", _HZ_BANDS[kind], "--quiet", "--out", "{new_out}", *extra)


_TEXT_TEXT = {
    "nightlights-calibrate-stars": "nightlights calibrate {photo} --tle {tle} --time $T --exposure-s 1 --iso 1600 "
    "--f-number 2.8 $CAM --stars bogus --out NEW --stars",
    "nightlights-calibrate-time": "nightlights calibrate {photo} --time 2017-05-17 --out NEW --time",
    "nightlights-stars-time": "nightlights stars {photo} --tle {tle} --time 05:44 --out NEW --time",
    "zones-zone-field": "nightlights zones {raster} --zones {zones} --zone-field nope --out NEW --zone-field",
    "zones-class-field": "nightlights zones {raster} --zones {zones} --class-field nope --out NEW --class-field",
    "zones-city-field": "nightlights zones {raster} --zones {zones} --city-field nope --out NEW --city-field",
    "lightning-solve-height": "lightning solve {photo} --time $T --exposure-s 0.1 --tle {tle} $CAM --events {events} "
    "--solve-height maybe --out NEW --solve-height",
    "lightning-solve-time": "lightning solve {photo} --time bogus --exposure-s 0.1 --tle {tle} $CAM "
    "--events {events} --out NEW --time",
    "lightning-simulate-camera": "lightning simulate --tle {tle} --time $T --camera bogus --out NEW --camera",
    "lightning-simulate-time": "lightning simulate --tle {tle} --time 2017-05-17T25:00Z --out NEW --time",
    "locate-time": "locate {photo} --reference {photo} --bounds -101 29 -100 30 --tle {tle} --time bogus --out NEW "
    "--time",
    "shadows-height-time": "shadows height --time bogus --lat 31 --lon 121 --shadow-m 10 --time",
    "shadows-sideway-time": "shadows sideway --time 2013-08-05 --lat 31 --lon 121 --shadow-m 10 "
    "--displacement-m 5 --time",
    "stereo-time1": "stereo {photo} {photo} --time1 bogus --out NEW --time1",
    "stereo-time2": "stereo {photo} {photo} --time1 $T --time2 never --out NEW --time2",
    "thermal-stack-name-field": "thermal stack {folder} --name-field name --out NEW --name-field",
    "thermal-stack-area-field": "thermal stack {folder} --area-field AREA --out NEW --area-field",
    "thermal-scene-name-field": "thermal scene {raster} --cities {zones} --name-field nope --out NEW --name-field",
    "thermal-scene-area-field": "thermal scene {raster} --cities {zones} --area-field nope --out NEW --area-field",
    "thermal-indices-bands": "thermal indices {raster2} --bands bogus --out NEW --bands",
    "thermal-indices-band-file": "thermal indices {raster2} --band-file bogus --out NEW --band-file",
    "thermal-indices-reference": "thermal indices {raster2} --bands green=1,nir=2 --reference nir --out NEW "
    "--reference",
    "thermal-indices-reference-role": "thermal indices {raster2} --bands green=1,nir=2 --coregister --reference red "
    "--out NEW --reference",
    "thermal-splitwindow-units": "thermal splitwindow {raster} {raster} --sensor ecostress --emissivity 0.97 "
    "--units F --out NEW --units",
    "thermal-fire-sensor": "thermal fire {raster} {raster} --sensor modis --out NEW --sensor",
    "thermal-fire-units": "thermal fire {raster} {raster} --units F --out NEW --units",
    "rso-synth-degradation": "rso synth --n 1 --size 16 --degradation heavy --out NEW --degradation",
    "rso-evaluate-refine": "rso evaluate --data {rso_set} --refine bogus --out NEW --refine",
    "onboard-bench-batches": "onboard bench --models scene --runtimes torch --batches 0 --out NEW --batches",
    "onboard-bench-models": "onboard bench --models , --runtimes torch --out NEW --models",
    "onboard-bench-task-cases": "onboard bench --models aliked --runtimes torch --task-cases nowhere --out NEW "
    "--task-cases",
    "locate-batch-scheduler": "locate batch {batch_catalog} --scheduler no-port --out NEW --scheduler",
    "geolocate-landmark": "geolocate {photo} --time $T --tle {tle} $CAM $ATT --landmark Del-Rio --out NEW --landmark",
    "thermal-bt-band": "thermal bt {raster} --band ecostress-9 --out NEW --band",
    "thermal-splitwindow-sensor": "thermal splitwindow {raster} {raster} --sensor goes --out NEW --sensor",
    "thermal-splitwindow-emissivity": "thermal splitwindow {raster} {raster} --sensor ecostress --emissivity 0.97,x "
    "--out NEW --emissivity",
}
CASES += [
    Case(f"text-{name}", _words(text.rsplit(" ", 1)[0].replace("NEW", "{new_out}")), text.rsplit(" ", 1)[1])
    for name, text in _TEXT_TEXT.items()
]
CASES += [
    Case(f"text-hazards-{kind}-{opt[2:]}", _hz(kind, opt, value), opt)
    for kind in _HZ_BANDS
    for opt, value in (
        ("--bands", "nir,swir9"),
        ("--before-bands", "bogus"),
        ("--before-time", "bogus"),
        ("--after-time", "2024-02-30T00:00Z"),
    )
]
_CLOUDED = ("flood", "burn", "change")  # fire and plume have no --clouds
CASES += [Case(f"text-hazards-{k}-clouds", _hz(k, "--clouds", "maybe"), "--clouds") for k in _CLOUDED]


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root``: kind, size and a hash of regular files (special files are not
    opened)."""
    state: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if p.is_dir() and not p.is_symlink():
                state[rel] = ("dir",)
            elif p.is_file() and not p.is_symlink():
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    h.update(f.read(1 << 20))  # the sparse 300 MB file: its first MiB
                state[rel] = ("file", st.st_size, h.hexdigest())
            else:
                state[rel] = ("other", st.st_mode)
    return state


def run_case(case: Case, root: Path, inputs: dict[str, str]) -> tuple[bool, str]:
    """Run one case in-process; (passed, what went wrong)."""
    from cupola.cli.main import main

    out = root / "out" / case.id
    out.mkdir(parents=True, exist_ok=True)
    (out / "notes.txt").write_text("the user's notes\n")
    fill = {**inputs, "out": str(out), "new_out": str(root / "new" / case.id)}  # new_out: must not be made
    argv = [a.format(**fill) if "{" in a else a for a in case.argv]
    before = snapshot(root)
    err, std = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
        try:
            code = main(argv)
        except SystemExit as exc:  # main never exits; count it as a failure
            code = f"SystemExit({exc.code})"
    after = snapshot(root)
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    problems = []
    if code != case.code:
        problems.append(f"exit {code}, expected {case.code}")
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr")
    if "Traceback" in err.getvalue():
        problems.append("a traceback")
    if lines and case.token.lower() not in lines[0].lower():
        problems.append(f"{case.token!r} not named")
    if lines and any(u in lines[0] for u in ("Got unexpected extra argument", "No such option")):
        problems.append("a usage error: the case's argv is malformed, so it tests nothing")  # it cannot fail otherwise
    if lines and ".cupola-" in lines[0]:
        problems.append("names an internal .cupola- path")
    if before != after:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        problems.append(f"files changed: {changed[:5]}")
    return (not problems), f"{case.id}: {'; '.join(problems)} | {lines[:2]}"


# --- scenarios: the output rules end to end (in-process, no dask), each returns a problem or None ---


def _geo_run(root: Path, out: Path, *extra: str) -> tuple[int, str]:
    from cupola.cli.main import main

    argv = [
        a.format(
            photo=str(SAMPLE / "meteor_20170517T054409.526Z.jpg"),
            tle=str(SAMPLE / "iss_tle_25544_20170101-20170630.txt"),
            out=str(out),
        )
        for a in _geo(*extra, attitude=("--attitude", "-5.66", "0.71", "84.52"))
    ]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def scenario_input_inside_out_is_kept(root: Path) -> str | None:
    """`cd d && cupola ... d/PHOTO_DIR/photo --out .`: a product folder named like the input's
    folder must not delete it."""
    from cupola.io.staging import staged_output

    out = root / "d"
    (out / "ISS_nadir").mkdir(parents=True)
    raw = out / "ISS_nadir" / "ISS_nadir.dng"
    raw.write_bytes(b"raw bytes")
    try:
        with staged_output(out, inputs=[raw]) as stage:
            (stage / "ISS_nadir").mkdir()
            (stage / "ISS_nadir" / "result.json").write_text("{}")
            (stage / "calibration.json").write_text("{}")
    except Exception as exc:  # noqa: BLE001 - an InputError is the right answer
        if type(exc).__name__ != "InputError":
            return f"{type(exc).__name__}: {exc}"
    if not raw.is_file() or raw.read_bytes() != b"raw bytes":
        return "the input RAW was deleted"
    return None


def scenario_stale_pixels_removed(root: Path) -> str | None:
    """A geolocate run without --pixels into a folder that held pixels.csv of an earlier run."""
    out = root / "geo"
    pixels = root / "pixels_in.csv"
    pixels.write_text("col,row\n639.5,368.5\n")
    code, err = _geo_run(root, out, "--pixels", str(pixels))
    if code != 0 or not (out / "pixels.csv").is_file():
        return f"first run: exit {code} {err.strip()}"
    (out / "notes.txt").write_text("user")
    code, err = _geo_run(root, out)
    if code != 0:
        return f"second run: exit {code} {err.strip()}"
    if (out / "pixels.csv").exists():
        return "a stale pixels.csv of the earlier run is still there"
    if not (out / "notes.txt").is_file():
        return "the user's notes.txt was removed"
    return None


def scenario_ids_inside_out(root: Path) -> str | None:
    from cupola.io.names import safe_names

    names, _ = safe_names(["..", ".", "", "a b", "a_b", "../../etc", "/abs"])
    out = (root / "o").resolve()
    for n in names:
        target = (out / n).resolve()
        if target.parent != out or n.startswith("."):
            return f"{n!r} is not a folder of its own inside --out"
    if len(set(names)) != len(names):
        return f"names collide: {names}"
    return None


SCENARIOS = {
    "input-inside-out-kept": scenario_input_inside_out_is_kept,
    "stale-pixels-removed": scenario_stale_pixels_removed,
    "ids-inside-out": scenario_ids_inside_out,
}
