"""DESIGN.md "Errors", checked on every command at once: a missing, empty or corrupt input file (or
folder) gives exit code 2, exactly one line on stderr, no traceback, and nothing written: neither a
new --out folder nor anything inside an --out folder that already exists.

The commands run in-process through ``cupola.cli.main.main`` (what the console script calls), so
the ~40 commands x 4 kinds of bad input cost seconds; test_cli.py runs the real subprocesses.
The valid companion inputs are the bundled Meteor frame and its element sets, and a small GeoTIFF
written here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from conftest import PHOTO, TLE_FILE

TIME = "2017-05-17T05:44:09.526Z"
CAMERA = ["--focal-mm", "10.5", "--sensor-mm", "8.7", "4.89375"]
ATTITUDE = ["--attitude", "-5.66", "0.71", "84.5"]


@pytest.fixture(scope="module")
def raster(tmp_path_factory) -> Path:
    """A readable one-band GeoTIFF (EPSG:4326), the valid partner of a bad one, and beside it a
    two-band one (``two.tif``: green and NIR reflectances)."""
    import rasterio
    from rasterio.transform import from_origin

    folder = tmp_path_factory.mktemp("ok")
    rng = np.random.default_rng(0)
    for name, values in (
        ("lst.tif", 300 + rng.normal(0, 2, (1, 64, 64))),
        ("two.tif", rng.uniform(0.02, 0.4, (2, 64, 64))),
    ):
        with rasterio.open(
            folder / name,
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
    return folder / "lst.tif"


# command templates: "X<ext>" is the bad input's slot ("Xdir": a folder), "OUT" the output folder
R = "RASTER"
COMMANDS: dict[str, list] = {
    "geolocate-photo": [
        "geolocate",
        "X.jpg",
        "--time",
        TIME,
        "--tle",
        TLE_FILE,
        "--attitude",
        "0",
        "0",
        "0",
        "--out",
        "OUT",
    ],
    "geolocate-tle": ["geolocate", PHOTO, "--time", TIME, "--tle", "X.txt", *CAMERA, *ATTITUDE, "--out", "OUT"],
    "orbit-tle": ["orbit", "--tle", "X.txt", "--time", TIME],
    "stereo": ["stereo", "X.jpg", PHOTO, "--out", "OUT"],
    "describe": ["describe", "X.json", "--out", "OUT"],
    "shadows-batch": ["shadows", "batch", "X.csv", "--out", "OUT/r.csv"],
    "locate-photo": ["locate", "X.jpg", "--reference", PHOTO, "--bounds", "-101", "29", "-100", "30", "--out", "OUT"],
    "locate-reference": [
        "locate",
        PHOTO,
        "--reference",
        "X.jpg",
        "--bounds",
        "-101",
        "29",
        "-100",
        "30",
        "--out",
        "OUT",
    ],
    "locate-evaluate": ["locate", "evaluate", "Xdir"],
    "locate-batch": ["locate", "batch", "X.csv", "--out", "OUT"],
    "nightlights-calibrate": ["nightlights", "calibrate", "X.jpg", "--out", "OUT"],
    "nightlights-stars": ["nightlights", "stars", "X.jpg", "--out", "OUT"],
    "nightlights-zones-raster": ["nightlights", "zones", "X.tif", "--zones", "ZONES", "--out", "OUT"],
    "nightlights-zones-zones": ["nightlights", "zones", R, "--zones", "X.geojson", "--out", "OUT"],
    "lightning-solve": [
        "lightning",
        "solve",
        "X.jpg",
        "--time",
        TIME,
        "--exposure-s",
        "0.1",
        "--tle",
        TLE_FILE,
        *CAMERA,
        "--events",
        "EVENTS",
        "--out",
        "OUT",
    ],
    "lightning-lis": ["lightning", "lis", "X.nc", "--out", "OUT"],
    "thermal-stack": ["thermal", "stack", "Xdir", "--out", "OUT"],
    "thermal-scene": ["thermal", "scene", "X.tif", "--out", "OUT"],
    "thermal-bt": ["thermal", "bt", "X.tif", "--band", "ecostress-4", "--out", "OUT"],
    "thermal-indices": ["thermal", "indices", "X.tif", "--out", "OUT"],
    "thermal-splitwindow": [
        "thermal",
        "splitwindow",
        "X.tif",
        R,
        "--sensor",
        "ecostress",
        "--emissivity",
        "0.97",
        "--out",
        "OUT",
    ],
    "thermal-fire": ["thermal", "fire", "X.tif", R, "--out", "OUT"],
    "hazards-flood": ["hazards", "flood", "X.tif", R, "--out", "OUT"],
    "hazards-burn": ["hazards", "burn", R, "X.tif", "--out", "OUT"],
    "hazards-fire": ["hazards", "fire", "X.tif", R, "--out", "OUT"],
    "hazards-change": ["hazards", "change", "X.tif", R, "--out", "OUT"],
    "rso-recover": ["rso", "recover", "X.png", "--out", "OUT"],
    "rso-pose": ["rso", "pose", "X.png", "--out", "OUT"],
    "rso-evaluate": ["rso", "evaluate", "--data", "Xdir", "--out", "OUT"],
    "rso-train-pose": ["rso", "train", "pose", "--data", "Xdir", "--out", "OUT/m.pt", "--epochs", "1"],
    "catalog-build": ["catalog", "build", "Xdir", "--out", "OUT"],
    "catalog-validate": ["catalog", "validate", "X.json"],
    "catalog-export": ["catalog", "export", "Xdir", "--out", "OUT"],
    "airglow-waves": [
        "airglow",
        "waves",
        "X.jpg",
        "X.jpg",
        "X.jpg",
        "--tle",
        TLE_FILE,
        "--attitude",
        "0",
        "0",
        "0",
        "--out",
        "OUT",
    ],
    "onboard-merge": ["onboard", "merge", "X.json", "--out", "OUT"],
    "hazards-plume": ["hazards", "plume", "X.tif", R, "--out", "OUT"],
    "lightning-simulate-tle": ["lightning", "simulate", "--tle", "X.txt", "--time", TIME, "--out", "OUT"],
    "rso-train-recover": ["rso", "train", "recover", "--data", "Xdir", "--out", "OUT/m.pt", "--epochs", "1"],
    "onboard-bench-task-cases": [
        "onboard",
        "bench",
        "--models",
        "scene",
        "--runtimes",
        "torch",
        "--task-cases",
        "Xdir",
        "--out",
        "OUT",
    ],
    "shadows-sideway-geotiff": [
        "shadows",
        "sideway",
        "--time",
        TIME,
        "--lat",
        "34.1",
        "--lon",
        "-118.4",
        "--geotiff",
        "X.tif",
        "--base-px",
        "10",
        "10",
        "--top-px",
        "12",
        "12",
        "--shadow-tip-px",
        "20",
        "20",
    ],
    # secondary inputs, the primary ones valid
    "geolocate-tie-points": [
        "geolocate",
        PHOTO,
        "--time",
        TIME,
        "--tle",
        TLE_FILE,
        *CAMERA,
        "--tie-points",
        "X.csv",
        "--out",
        "OUT",
    ],
    "geolocate-pixels": [
        "geolocate",
        PHOTO,
        "--time",
        TIME,
        "--tle",
        TLE_FILE,
        *CAMERA,
        *ATTITUDE,
        "--pixels",
        "X.csv",
        "--out",
        "OUT",
    ],
    "shadows-height-geotiff": [
        "shadows",
        "height",
        "--time",
        TIME,
        "--lat",
        "34.1",
        "--lon",
        "-118.4",
        "--geotiff",
        "X.tif",
        "--base-px",
        "10",
        "10",
        "--shadow-tip-px",
        "20",
        "20",
    ],
    "locate-reference-dir": ["locate", PHOTO, "--reference-dir", "Xdir", "--out", "OUT"],
    "nightlights-calibrate-dark": ["nightlights", "calibrate", PHOTO, "--dark", "X.jpg", "--out", "OUT"],
    "nightlights-calibrate-flat": ["nightlights", "calibrate", PHOTO, "--flat", "X.tif", "--out", "OUT"],
    "nightlights-calibrate-tie-points": [
        "nightlights",
        "calibrate",
        PHOTO,
        "--tle",
        TLE_FILE,
        "--time",
        TIME,
        "--exposure-s",
        "1",
        "--iso",
        "1600",
        "--f-number",
        "2.8",
        *CAMERA,
        "--tie-points",
        "X.csv",
        "--out",
        "OUT",
    ],
    "nightlights-zones-population": [
        "nightlights",
        "zones",
        R,
        "--zones",
        "ZONES",
        "--population",
        "X.tif",
        "--out",
        "OUT",
    ],
    "lightning-solve-events": [
        "lightning",
        "solve",
        PHOTO,
        "--time",
        TIME,
        "--exposure-s",
        "0.1",
        "--tle",
        TLE_FILE,
        *CAMERA,
        "--events",
        "X.csv",
        "--out",
        "OUT",
    ],
    "thermal-scene-qc": ["thermal", "scene", R, "--qc", "X.tif", "--out", "OUT"],
    "thermal-scene-cloud": ["thermal", "scene", R, "--cloud", "X.tif", "--out", "OUT"],
    "thermal-scene-water": ["thermal", "scene", R, "--water", "X.tif", "--out", "OUT"],
    "thermal-scene-cities": ["thermal", "scene", R, "--cities", "X.geojson", "--out", "OUT"],
    "thermal-bt-band": ["thermal", "bt", R, "--band", "X.csv", "--out", "OUT"],
    "thermal-splitwindow-ndvi": [
        "thermal",
        "splitwindow",
        R,
        R,
        "--sensor",
        "ecostress",
        "--ndvi",
        "X.tif",
        "--out",
        "OUT",
    ],
    "thermal-fire-water": ["thermal", "fire", R, R, "--water", "X.tif", "--out", "OUT"],
    "hazards-flood-aoi": ["hazards", "flood", R, R, "--aoi", "X.geojson", "--out", "OUT"],
    "hazards-flood-features": [
        "hazards",
        "flood",
        "RASTER2",
        "RASTER2",
        "--bands",
        "green,nir",
        "--features",
        "X.geojson",
        "--out",
        "OUT",
    ],
    "hazards-flood-population": [
        "hazards",
        "flood",
        "RASTER2",
        "RASTER2",
        "--bands",
        "green,nir",
        "--population",
        "X.tif",
        "--out",
        "OUT",
    ],
    "hazards-flood-dem": ["hazards", "flood", R, R, "--dem", "X.tif", "--out", "OUT"],
    "hazards-flood-reference": ["hazards", "flood", R, R, "--reference", "X.tif", "--out", "OUT"],
    "hazards-flood-cloud-mask": ["hazards", "flood", R, R, "--cloud-mask-before", "X.tif", "--out", "OUT"],
    "hazards-fire-night-photo": ["hazards", "fire", R, R, "--night-photo", "X.jpg", "--out", "OUT"],
    "rso-recover-model": ["rso", "recover", "IMAGE", "--model", "X.pt", "--out", "OUT"],
    "rso-pose-model": ["rso", "pose", "IMAGE", "--model", "X.pt", "--out", "OUT"],
    "rso-pose-mesh": ["rso", "pose", "IMAGE", "--refine", "--mesh", "X.obj", "--out", "OUT"],
    "rso-synth-mesh": ["rso", "synth", "--n", "2", "--mesh", "X.obj", "--out", "OUT"],
    "rso-synth-psf-stars": ["rso", "synth", "--n", "2", "--psf-stars", "X.png", "--out", "OUT"],
    "airglow-frame-times": [
        "airglow",
        "waves",
        "--frames",
        "FRAMES",
        "--frame-times",
        "X.csv",
        "--tle",
        TLE_FILE,
        *CAMERA,
        *ATTITUDE,
        "--out",
        "OUT",
    ],
    "airglow-pose-from": [
        "airglow",
        "waves",
        "--frames",
        "FRAMES",
        "--frame-times",
        "TIMES",
        "--tle",
        TLE_FILE,
        *CAMERA,
        "--pose-from",
        "X.json",
        "--out",
        "OUT",
    ],
    "airglow-attitudes": [
        "airglow",
        "waves",
        "--frames",
        "FRAMES",
        "--frame-times",
        "TIMES",
        "--tle",
        TLE_FILE,
        *CAMERA,
        "--attitudes",
        "X.csv",
        "--out",
        "OUT",
    ],
    "airglow-flat": [
        "airglow",
        "waves",
        "--frames",
        "FRAMES",
        "--frame-times",
        "TIMES",
        "--tle",
        TLE_FILE,
        *CAMERA,
        *ATTITUDE,
        "--flat",
        "X.tif",
        "--out",
        "OUT",
    ],
    "airglow-dark": [
        "airglow",
        "waves",
        "--frames",
        "FRAMES",
        "--frame-times",
        "TIMES",
        "--tle",
        TLE_FILE,
        *CAMERA,
        *ATTITUDE,
        "--dark",
        "X.tif",
        "--out",
        "OUT",
    ],
}
KINDS = ("missing", "empty", "garbage", "wrong-type")


def _bad(kind: str, folder: Path, slot: str) -> Path:
    """The bad input standing in ``slot``: missing, empty, random bytes (a folder of such files), or
    a folder where a file is expected (a file where a folder is)."""
    if slot == "Xdir":
        p = folder / "bad"
        if kind == "empty":
            p.mkdir()
        elif kind == "garbage":
            p.mkdir()
            rng = np.random.default_rng(1)
            junk = ("a.tif", "b.png", "c.json", "d.csv", "collection.json", "result.json", "labels.csv")
            for name in junk:
                (p / name).write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
            (p / "case1").mkdir()  # a case / product folder whose files are all broken
            for name in ("case.json", "photo.jpg", "reference.jpg", "result.json", "georef.tif"):
                (p / "case1" / name).write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
        elif kind == "wrong-type":
            p.write_text("not a folder\n")
        return p
    p = folder / ("bad" + slot[1:])
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "garbage":
        p.write_bytes(np.random.default_rng(2).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    elif kind == "wrong-type":
        p.mkdir()
    return p


def _argv(template: list, kind: str, folder: Path, out: Path, raster: Path) -> list[str]:
    made: dict[str, Path] = {}
    argv = []
    for a in template:
        if a == R:
            argv.append(str(raster))
        elif a == "RASTER2":
            argv.append(str(raster.with_name("two.tif")))
        elif a == "ZONES":
            zones = folder / "zones.geojson"
            zones.write_text(
                '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"a"},'
                '"geometry":{"type":"Polygon","coordinates":[[[-118.49,34.19],[-118.45,34.19],'
                "[-118.45,34.15],[-118.49,34.15],[-118.49,34.19]]]}}]}"
            )
            argv.append(str(zones))
        elif a in ("FRAMES", "TIMES"):
            frames = folder / "frames"
            if not frames.is_dir():
                frames.mkdir()
                lines = ["file,time"]
                for i in range(3):
                    (frames / f"f{i}.jpg").write_bytes(PHOTO.read_bytes())
                    lines.append(f"f{i}.jpg,2017-05-17T05:44:{9 + i:02d}.526Z")
                (folder / "times.csv").write_text("\n".join(lines) + "\n")
            argv.append(str(frames if a == "FRAMES" else folder / "times.csv"))
        elif a == "EVENTS":
            events = folder / "events.csv"
            events.write_text("time,lat,lon\n2017-05-17T05:44:09.600Z,29.5,-100.5\n")
            argv.append(str(events))
        elif a == "IMAGE":
            from PIL import Image

            image = folder / "rso.png"
            Image.fromarray(np.zeros((64, 64), np.uint8)).save(image)
            argv.append(str(image))
        elif isinstance(a, str) and a.startswith("X"):
            if a not in made:
                made[a] = _bad(kind, folder, a)
            argv.append(str(made[a]))
        elif isinstance(a, str) and a.startswith("OUT"):
            argv.append(str(out) + a[3:])
        else:
            argv.append(str(a))
    return argv


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _run(capsys, argv: list[str]) -> tuple[int, str]:
    from cupola.cli.main import main

    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr().err


def _check(code: int, err: str, argv: list[str]) -> None:
    lines = err.splitlines()
    assert code == 2, f"exit {code} for {argv}\n{err}"
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{err}"
    assert lines[0].startswith("cupola: error: ") and "Traceback" not in err
    assert "internal error" not in lines[0], lines[0]
    assert "bad" in lines[0], f"the error does not name the bad input: {lines[0]}"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_bad_input_is_one_line_exit_2_and_nothing_written(name, kind, tmp_path, raster, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "in"
    folder.mkdir()
    argv = _argv(COMMANDS[name], kind, folder, tmp_path / "new" / "out", raster)
    before = _listing(tmp_path)
    code, err = _run(capsys, argv)
    _check(code, err, argv)
    assert _listing(tmp_path) == before, f"{argv} wrote {sorted(set(_listing(tmp_path)) - set(before))}"


@pytest.mark.parametrize("name", sorted(n for n in COMMANDS if "OUT" in " ".join(map(str, COMMANDS[n]))))
def test_a_bad_input_leaves_an_existing_out_folder_alone(name, tmp_path, raster, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "in"
    folder.mkdir()
    out = tmp_path / "existing"
    out.mkdir()
    (out / "keep.txt").write_text("keep me\n")
    os.utime(out / "keep.txt", (1_000_000_000, 1_000_000_000))
    argv = _argv(COMMANDS[name], "garbage", folder, out, raster)
    code, err = _run(capsys, argv)
    _check(code, err, argv)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "keep me\n"
    assert (out / "keep.txt").stat().st_mtime == 1_000_000_000


# photos without EXIF (the Meteor frame has none): every command that needs the camera asks for it by
# a flag that it has (nightlights calibrate once asked for a focal length it had no option for)
EXIF_LESS = {
    "geolocate": ["geolocate", PHOTO, "--time", TIME, "--tle", TLE_FILE, *ATTITUDE, "--out", "OUT"],
    "nightlights-calibrate": [
        "nightlights",
        "calibrate",
        PHOTO,
        "--tle",
        TLE_FILE,
        "--time",
        TIME,
        "--exposure-s",
        "1",
        "--iso",
        "1600",
        "--f-number",
        "2.8",
        "--out",
        "OUT",
    ],
    "nightlights-calibrate-exposure": ["nightlights", "calibrate", PHOTO, "--out", "OUT"],
    "nightlights-calibrate-sensor": [
        "nightlights",
        "calibrate",
        PHOTO,
        "--tle",
        TLE_FILE,
        "--time",
        TIME,
        "--exposure-s",
        "1",
        "--iso",
        "1600",
        "--f-number",
        "2.8",
        "--focal-mm",
        "10.5",
        "--out",
        "OUT",
    ],
    "geolocate-sensor": [
        "geolocate",
        PHOTO,
        "--time",
        TIME,
        "--tle",
        TLE_FILE,
        *ATTITUDE,
        "--focal-mm",
        "10.5",
        "--out",
        "OUT",
    ],
    "nightlights-stars-sensor": [
        "nightlights",
        "stars",
        PHOTO,
        "--time",
        TIME,
        "--tle",
        TLE_FILE,
        "--focal-mm",
        "10.5",
        "--out",
        "OUT",
    ],
    "lightning-solve-sensor": [
        "lightning",
        "solve",
        PHOTO,
        "--time",
        TIME,
        "--exposure-s",
        "0.1",
        "--tle",
        TLE_FILE,
        "--events",
        "EVENTS",
        "--focal-mm",
        "10.5",
        "--out",
        "OUT",
    ],
    "airglow-waves-sensor": [
        "airglow",
        "waves",
        "--frames",
        "FRAMES",
        "--frame-times",
        "TIMES",
        "--tle",
        TLE_FILE,
        *ATTITUDE,
        "--focal-mm",
        "10.5",
        "--out",
        "OUT",
    ],
    "nightlights-stars": ["nightlights", "stars", PHOTO, "--time", TIME, "--tle", TLE_FILE, "--out", "OUT"],
    "lightning-solve": [
        "lightning",
        "solve",
        PHOTO,
        "--time",
        TIME,
        "--exposure-s",
        "0.1",
        "--tle",
        TLE_FILE,
        "--events",
        "EVENTS",
        "--out",
        "OUT",
    ],
    "airglow-waves": [
        "airglow",
        "waves",
        "--frames",
        "FRAMES",
        "--frame-times",
        "TIMES",
        "--tle",
        TLE_FILE,
        *ATTITUDE,
        "--out",
        "OUT",
    ],
    "stereo": [
        "stereo",
        PHOTO,
        PHOTO,
        "--tle",
        TLE_FILE,
        "--time1",
        TIME,
        "--time2",
        "2017-05-17T05:44:19.526Z",
        "--attitude1",
        "0",
        "0",
        "0",
        "--attitude2",
        "0",
        "0",
        "0",
        "--out",
        "OUT",
    ],
}


def _flags_of(argv: list[str]) -> set[str]:
    from cupola.cli.main import command

    c = command()
    for word in argv:
        sub = getattr(c, "commands", None)
        if not sub or word not in sub:
            break
        c = sub[word]
    return {o for p in c.params for o in getattr(p, "opts", []) if o.startswith("--")}


@pytest.mark.parametrize("name", sorted(EXIF_LESS))
def test_missing_camera_metadata_names_a_flag_the_command_has(name, tmp_path, raster, capsys, monkeypatch):
    import re

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "in"
    folder.mkdir()
    argv = _argv(EXIF_LESS[name], "missing", folder, tmp_path / "new" / "out", raster)
    code, err = _run(capsys, argv)
    assert code == 2, err
    line = err.strip()
    named = set(re.findall(r"--[a-z][a-z0-9-]*", line))
    assert named, f"the error names no flag to supply the missing value: {line}"
    assert named <= _flags_of(argv), f"{line} names {named - _flags_of(argv)}, which {argv[:2]} does not have"
    assert not (tmp_path / "new").exists()
    print(line)


# commands whose inputs are not files (or that serve until stopped), left out of the table above
NO_FILE_SLOT = {"catalog serve": "starts a server: its bad catalogs are refused in a subprocess test below"}


def _command_path(template: list) -> str:
    """The command a template runs ("locate" and "locate photo" are the same leaf)."""
    from cupola.cli.main import command

    c, path = command(), []
    for word in template:
        sub = getattr(c, "commands", None)
        if not sub:
            break
        if isinstance(word, str) and word in sub:
            c = sub[word]
            path.append(word)
        elif getattr(c, "default_command", None) or "photo" in sub:  # `cupola locate PHOTO` is `locate photo`
            path.append("photo")
            break
        else:
            break
    return " ".join(path)


def test_every_command_is_in_the_table():
    from cupola.cli.main import command

    leaves = []

    def walk(c, path):
        sub = getattr(c, "commands", None)
        if sub:
            for n, s in sub.items():
                walk(s, [*path, n])
        else:
            leaves.append(" ".join(path))

    walk(command(), [])
    covered = {_command_path(t) for t in COMMANDS.values()}
    missing = [c for c in leaves if c not in covered and c not in NO_FILE_SLOT]
    assert not missing, f"commands without a bad-input case: {missing}"
    assert covered <= set(leaves), covered - set(leaves)


@pytest.mark.parametrize("kind", KINDS)
def test_serve_refuses_a_bad_catalog(kind, tmp_path):
    """In a subprocess with a time limit: a bad catalog that were accepted would serve forever."""
    import subprocess
    import sys

    folder = tmp_path / "in"
    folder.mkdir()
    bad = _bad(kind, folder, "Xdir")
    proc = subprocess.run(
        [sys.executable, "-m", "cupola", "catalog", "serve", str(bad), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    _check(proc.returncode, proc.stderr, ["catalog", "serve", str(bad)])
