"""The ``cupola`` command through its real entry points, as a user runs it.

Every run is a subprocess: ``python -m cupola ...`` (src/cupola/__main__.py) and, once per
command, the installed ``cupola`` console script next to ``sys.executable``. The successful runs
use the bundled real ISS frame (Meteor camera, 2017-05-17, Del Rio, Texas); the failing runs
check the contract of DESIGN.md "Errors": exit code 2, exactly one line on stderr naming the file
or field, and no output left behind.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from conftest import PHOTO, TIE_POINTS, TLE_FILE, haversine_m

TIME = "2017-05-17T05:44:09.526Z"
CAMERA = ["--focal-mm", "10.5", "--sensor-mm", "8.7", "4.89375"]
ATTITUDE = ["--attitude", "-5.66", "0.71", "84.5"]  # LVLH roll, pitch, yaw the tie points give
DEL_RIO = (29.36, -100.9)  # lat, lon
PRODUCTS = {"result.json", "footprint.geojson", "footprint.kml", "georef.tif", "quicklook.png"}
CONSOLE_SCRIPT = Path(sys.executable).with_name("cupola" + (".exe" if os.name == "nt" else ""))


def cupola(*args, script: bool = False, cwd: Path | None = None, timeout: float = 120):
    """Run the cupola command; returns the CompletedProcess (text mode)."""
    if script:
        assert CONSOLE_SCRIPT.exists(), f"console script {CONSOLE_SCRIPT} missing; run pip install -e ."
        cmd = [str(CONSOLE_SCRIPT)]
    else:
        cmd = [sys.executable, "-m", "cupola"]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run(
        cmd + [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout
    )


def _strict_json(text: str):
    """json.loads that refuses the NaN / Infinity tokens JSON does not have."""

    def no_constants(name):
        raise AssertionError(f"non-JSON token {name} in output")

    return json.loads(text, parse_constant=no_constants)


def _geolocate(*options, photo=PHOTO, time=TIME, tle=TLE_FILE, camera=CAMERA) -> list:
    """The arguments of ``cupola geolocate`` for the sample frame (photo, time, TLE, camera), then
    ``options``; each of the four can be replaced."""
    return ["geolocate", photo, "--time", time, "--tle", tle, *camera, *options]


def _ok(proc) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


def _one_error_line(proc) -> str:
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{proc.stderr}"
    assert lines[0].strip(), "empty error line"
    assert "Traceback" not in proc.stderr
    return lines[0]


# --- a successful run on the real sample, shared by the product checks ------------------------


@pytest.fixture(scope="module")
def tie_run(tmp_path_factory):
    """geolocate with the sample's tie points, focal length solved, a pixel list and a landmark."""
    work = tmp_path_factory.mktemp("tie_run")
    tie = np.loadtxt(TIE_POINTS, delimiter=",", skiprows=1)
    pixels = work / "pixels_in.csv"
    rows = [(c, r) for c, r in tie[:, :2]] + [(639.5, 368.5), (0, 0)]
    pixels.write_text("col,row\n" + "".join(f"{c:g},{r:g}\n" for c, r in rows))
    out = work / "out"
    proc = cupola(
        *_geolocate(
            "--tie-points",
            TIE_POINTS,
            "--solve-focal",
            "--pixels",
            pixels,
            "--landmark",
            f"Del Rio:{DEL_RIO[0]}:{DEL_RIO[1]}",
            "--quiet",
            "--out",
            out,
        )
    )
    _ok(proc)
    return out, tie, rows, proc


def test_tie_points_run_writes_all_products(tie_run):
    out, _, _, proc = tie_run
    assert {p.name for p in out.iterdir()} == PRODUCTS | {"pixels.csv", ".cupola-products.json"}  # no staging left over
    assert proc.stderr == ""


def test_result_json(tie_run):
    out = tie_run[0]
    r = _strict_json((out / "result.json").read_text())
    assert r["schema"].startswith("cupola.geolocate/")
    assert r["time_utc"] == TIME
    assert r["tle"]["epoch"].startswith("2017-05-16T21:50")
    iss = r["iss"]
    assert iss["subpoint_lat_deg"] == pytest.approx(30.174, abs=0.01)
    assert iss["subpoint_lon_deg"] == pytest.approx(-101.365, abs=0.01)
    assert iss["altitude_m"] == pytest.approx(408.7e3, abs=1e3)
    sun = r["sun"]["at_center"]
    assert sun["illumination"] == "night" and -45 < sun["elevation_deg"] < -30
    pose = r["pose"]
    assert pose["lvlh_roll_deg"] == pytest.approx(-5.66, abs=0.1)
    assert pose["lvlh_pitch_deg"] == pytest.approx(0.71, abs=0.1)
    assert pose["lvlh_yaw_deg"] == pytest.approx(84.5, abs=0.2)
    tp = r["tie_points"]
    assert tp["count"] == 4 and tp["focal_solved"] is True
    assert tp["rms_px"] < 1.0
    assert r["footprint"]["type"] in ("Polygon", "MultiPolygon")
    assert r["center"]["lat_deg"] == pytest.approx(29.876, abs=0.02)
    assert r["center"]["lon_deg"] == pytest.approx(-101.597, abs=0.02)
    for key in ("along_columns", "along_rows"):
        assert 150 < r["gsd_at_center_m"][key] < 400  # ~260 m from 409 km at 10.5 mm
    (mark,) = r["landmarks"]
    assert mark["in_frame"] and mark["row_px"] < 0.1 * 738


def test_footprint_geojson_contains_del_rio(tie_run):
    import shapely.geometry

    fc = _strict_json((tie_run[0] / "footprint.geojson").read_text())
    assert fc["type"] == "FeatureCollection" and fc["features"]
    geom = shapely.geometry.shape(fc["features"][0]["geometry"])
    assert geom.is_valid
    assert geom.contains(shapely.geometry.Point(DEL_RIO[1], DEL_RIO[0]))  # (lon, lat)
    assert not geom.contains(shapely.geometry.Point(-95.37, 29.76))  # Houston is far outside


def test_footprint_kml_is_xml(tie_run):
    root = ET.parse(tie_run[0] / "footprint.kml").getroot()
    assert root.tag.endswith("kml")
    coords = [e.text for e in root.iter() if e.tag.endswith("coordinates")]
    assert coords and all(c and c.strip() for c in coords)


def test_georef_tif_is_cog_in_epsg4326(tie_run):
    rasterio = pytest.importorskip("rasterio")

    with rasterio.open(tie_run[0] / "georef.tif") as src:
        assert src.crs.to_epsg() == 4326
        assert src.overviews(1), "no overviews: not a cloud-optimized GeoTIFF"
        assert src.count >= 1 and src.width > 100 and src.height > 100
        b = src.bounds
        assert b.left < DEL_RIO[1] < b.right and b.bottom < DEL_RIO[0] < b.top


def test_quicklook_png(tie_run):
    from PIL import Image

    with Image.open(tie_run[0] / "quicklook.png") as im:
        assert im.format == "PNG"
        assert im.width > 200 and im.height > 200
        im.load()


def test_pixels_csv_matches_tie_points(tie_run):
    out, tie, rows, _ = tie_run
    with open(out / "pixels.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["col", "row", "lat", "lon"]
    assert len(table) == len(rows)
    for rec, (c, r) in zip(table, rows):
        assert float(rec["col"]) == pytest.approx(c) and float(rec["row"]) == pytest.approx(r)
    # the four tie-point pixels land on their ground points (fit RMS ~0.15 px ~ 40 m)
    for rec, (_, _, lat, lon, _) in zip(table, tie):
        assert float(rec["lat"]) == pytest.approx(lat, abs=0.01)
        assert float(rec["lon"]) == pytest.approx(lon, abs=0.01)
    # the centre pixel is result.json's centre
    r = _strict_json((out / "result.json").read_text())
    assert float(table[4]["lat"]) == pytest.approx(r["center"]["lat_deg"], abs=1e-6)
    assert float(table[4]["lon"]) == pytest.approx(r["center"]["lon_deg"], abs=1e-6)


# --- the other attitude modes ---------------------------------------------------------------


def test_attitude_mode(tmp_path):
    out = tmp_path / "att"
    proc = cupola(*_geolocate(*ATTITUDE, "--out", out), script=True)
    _ok(proc)
    assert PRODUCTS <= {p.name for p in out.iterdir()}
    r = _strict_json((out / "result.json").read_text())
    assert "tie_points" not in r
    p = r["pose"]
    assert (p["lvlh_roll_deg"], p["lvlh_pitch_deg"], p["lvlh_yaw_deg"]) == pytest.approx((-5.66, 0.71, 84.5), abs=1e-6)
    # the same attitude the tie points give: the same place, within a few km
    assert haversine_m(r["center"]["lon_deg"], r["center"]["lat_deg"], -101.597, 29.876) < 5000
    assert "geolocate" in proc.stdout  # the summary table


def test_a_16_bit_rgb_photo_keeps_its_16_bits_in_georef_tif(tmp_path):
    """A photo developed from RAW into a 16-bit RGB TIFF: georef.tif is uint16 and holds its
    levels (Pillow read such a TIFF as its high byte, and the product had 8 bits)."""
    import cv2
    import rasterio

    rgb = cv2.imread(str(PHOTO))
    deep = rgb.astype(np.uint16) * 257
    cv2.imwrite(str(tmp_path / "frame16.tif"), deep)
    out = tmp_path / "deep"
    _ok(cupola(*_geolocate(*ATTITUDE, "--quiet", "--out", out, photo=tmp_path / "frame16.tif")))
    with rasterio.open(out / "georef.tif") as src:
        data = src.read()
    assert src.dtypes[0] == "uint16" and data.shape[0] >= 3
    assert data[:3].max() > 255


def test_look_at_mode(tmp_path):
    out = tmp_path / "look"
    proc = cupola(*_geolocate("--look-at", DEL_RIO[0], DEL_RIO[1], "--rotation", "30", "--quiet", "--out", out))
    _ok(proc)
    r = _strict_json((out / "result.json").read_text())
    assert haversine_m(r["center"]["lon_deg"], r["center"]["lat_deg"], DEL_RIO[1], DEL_RIO[0]) < 50
    assert "look-at" in r["pose"]["source"]


# --- cupola orbit -----------------------------------------------------------------------------


def test_orbit_table():
    proc = cupola("orbit", "--tle", TLE_FILE, "--time", TIME, script=True)
    _ok(proc)
    assert "subpoint_lat_deg" in proc.stdout and "30.17" in proc.stdout
    assert "altitude_m" in proc.stdout and "408" in proc.stdout


def test_orbit_json():
    proc = cupola("orbit", "--tle", TLE_FILE, "--time", TIME, "--json")
    _ok(proc)
    d = _strict_json(proc.stdout)
    assert d["subpoint_lat_deg"] == pytest.approx(30.17, abs=0.01)
    assert d["subpoint_lon_deg"] == pytest.approx(-101.37, abs=0.01)
    assert d["altitude_m"] == pytest.approx(408.7e3, abs=300)
    assert d["time_utc"] == TIME and d["illumination"] == "night"


def test_orbit_force_accepts_a_stale_element_set():
    late = "2017-08-30T00:00:00Z"  # two months after the last element set
    refused = cupola("orbit", "--tle", TLE_FILE, "--time", late, "--json")
    assert refused.returncode == 2 and TLE_FILE.name in _one_error_line(refused)
    forced = cupola("orbit", "--tle", TLE_FILE, "--time", late, "--json", "--force")
    _ok(forced)
    assert _strict_json(forced.stdout)["warnings"] != "none"


# --- bad input: exit 2, one line, nothing written ---------------------------------------------


@pytest.fixture
def bad_files(tmp_path):
    """Broken inputs built from the real sample."""
    from PIL import Image

    d = tmp_path / "in"
    d.mkdir()
    # TLE with one digit changed: the checksum of that line fails
    lines = TLE_FILE.read_text().splitlines()
    first = lines[0]
    lines[0] = first[:20] + str((int(first[20]) + 1) % 10) + first[21:]
    (d / "bad.tle").write_text("\n".join(lines) + "\n")
    data = PHOTO.read_bytes()
    (d / "half.jpg").write_bytes(data[: len(data) // 2])
    (d / "notes.jpg").write_text("this is not a photo\n")
    img = Image.new("RGB", (64, 48), (10, 10, 10))
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS 5D"
    exif.get_ifd(0x8769)[0x920A] = 50.0  # FocalLength in the Exif IFD
    img.save(d / "canon.jpg", exif=exif)
    (d / "collinear.csv").write_text(
        "col,row,lat,lon\n100,100,30.0,-100.0\n300,200,30.1,-100.2\n500,300,30.2,-100.4\n700,400,30.3,-100.6\n"
    )
    (d / "one.csv").write_text("col,row,lat,lon\n160,92,30.320698,-100.203190\n")
    tie = TIE_POINTS.read_text().splitlines()
    tie[-1] = tie[-1].replace("1119,", "1400,", 1)  # col 1400 on a 1280 px wide image
    (d / "outside.csv").write_text("\n".join(tie) + "\n")
    (d / "a_file").write_text("not a folder\n")
    return d


def _tie(name=None):
    return ["--tie-points", TIE_POINTS if name is None else name]


# (id, argv builder given the folder of bad files, substrings the error line must contain)
BAD_CASES = [
    ("malformed-tle", lambda d: _geolocate(*_tie(), tle=d / "bad.tle"), ["bad.tle", "checksum"]),
    ("time-outside-tle", lambda d: _geolocate(*_tie(), time="2018-05-17T05:44:09Z"), [TLE_FILE.name, "--force"]),
    ("non-image", lambda d: _geolocate(*_tie(), photo=d / "notes.jpg"), ["notes.jpg", "not an image"]),
    ("truncated-jpeg", lambda d: _geolocate(*_tie(), photo=d / "half.jpg"), ["half.jpg", "truncated"]),
    (
        "collinear-tie-points",
        lambda d: _geolocate(*_tie(d / "collinear.csv"), "--solve-focal"),
        ["collinear.csv", "collinear"],
    ),
    ("too-few-tie-points", lambda d: _geolocate(*_tie(d / "one.csv")), ["one.csv", "at least"]),
    (
        "negative-focal",
        lambda d: _geolocate(*_tie(), camera=["--focal-mm", "-10.5", "--sensor-mm", "8.7", "4.89375"]),
        ["--focal-mm", "positive"],
    ),
    (
        "unknown-camera",
        lambda d: _geolocate("--attitude", "0", "0", "0", photo=d / "canon.jpg", camera=[]),
        ["canon.jpg", "Canon EOS 5D", "--sensor-mm"],
    ),
    ("missing-photo", lambda d: _geolocate(*_tie(), photo=d / "nothere.jpg"), ["nothere.jpg", "not found"]),
    ("missing-tle", lambda d: _geolocate(*_tie(), tle=d / "nothere.tle"), ["nothere.tle", "not found"]),
    ("missing-tie-points", lambda d: _geolocate(*_tie(d / "nothere.csv")), ["nothere.csv", "not found"]),
    ("naive-time", lambda d: _geolocate(*_tie(), time="2017-05-17T05:44:09.526"), ["--time", "zone"]),
    ("two-attitude-modes", lambda d: _geolocate(*_tie(), "--attitude", "0", "0", "0"), ["--attitude", "--tie-points"]),
    ("tie-point-outside-image", lambda d: _geolocate(*_tie(d / "outside.csv")), ["outside.csv", "outside"]),
    ("look-at-below-horizon", lambda d: _geolocate("--look-at", "-29.36", "79.1"), ["look-at", "horizon"]),
    ("usage-missing-option", lambda d: ["geolocate", PHOTO, "--tle", TLE_FILE, *CAMERA, *_tie()], ["--time"]),
    ("orbit-malformed-tle", lambda d: ["orbit", "--tle", d / "bad.tle", "--time", TIME], ["bad.tle", "checksum"]),
]

# the failures that come latest in the run, after the photo, orbit and camera were read
LATE = {"collinear-tie-points", "tie-point-outside-image", "look-at-below-horizon", "truncated-jpeg"}


def _with_out(argv, out):
    return argv + ["--out", out] if argv[0] == "geolocate" else argv


@pytest.mark.parametrize("argv, expected", [pytest.param(a, e, id=i) for i, a, e in BAD_CASES])
def test_bad_input_exit_2_one_line_no_output(bad_files, tmp_path, argv, expected):
    out = tmp_path / "new" / "out"  # neither it nor its parent exist
    proc = cupola(*_with_out(argv(bad_files), out), cwd=tmp_path)
    assert proc.returncode == 2, f"exit {proc.returncode}\nstderr:\n{proc.stderr}"
    line = _one_error_line(proc)
    for word in expected:
        assert word.lower() in line.lower(), f"{word!r} not in error line {line!r}"
    assert not (tmp_path / "new").exists()
    assert proc.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # nothing written beside it either


@pytest.mark.parametrize("argv", [pytest.param(a, id=i) for i, a, _ in BAD_CASES if i in LATE])
def test_bad_input_leaves_existing_out_folder_alone(bad_files, tmp_path, argv):
    out = tmp_path / "existing"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n")
    proc = cupola(*_with_out(argv(bad_files), out), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    _one_error_line(proc)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]  # hidden staging folders included
    assert (out / "notes.txt").read_text() == "keep me\n"


def test_out_that_is_a_file_or_below_a_file(bad_files, tmp_path):
    for out, word in ((bad_files / "a_file", "not a folder"), (bad_files / "a_file" / "sub", "a_file")):
        proc = cupola(*_geolocate(*ATTITUDE, "--quiet", "--out", out))
        assert proc.returncode == 2, proc.stderr
        line = _one_error_line(proc)
        assert "--out" in line and word in line
    assert (bad_files / "a_file").read_text() == "not a folder\n"


# --- help and internal errors ----------------------------------------------------------------


@pytest.mark.parametrize("argv", [[], ["geolocate"], ["orbit"]], ids=["app", "geolocate", "orbit"])
def test_help(argv):
    proc = cupola(*argv, "--help")
    _ok(proc)
    assert "Usage" in proc.stdout
    if argv == ["geolocate"]:
        for opt in ("--tle", "--time", "--attitude", "--look-at", "--tie-points", "--solve-focal", "--pixels"):
            assert opt in proc.stdout
    if argv == []:
        assert "geolocate" in proc.stdout and "orbit" in proc.stdout


_BOOM = """
import sys
import cupola.georef.orbit_report as report
def boom(*args, **kwargs):
    raise RuntimeError("boom")
report.orbit_report = boom
from cupola.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("debug", [False, True])
def test_internal_error_is_one_line_without_debug(debug):
    """A bug (simulated by replacing the library function the command calls) exits 1; the
    traceback only appears with --debug."""
    argv = (["--debug"] if debug else []) + ["orbit", "--tle", str(TLE_FILE), "--time", TIME]
    proc = subprocess.run([sys.executable, "-c", _BOOM, *argv], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "internal error" in proc.stderr and "boom" in proc.stderr
    if debug:
        assert "Traceback" in proc.stderr
    else:
        line = _one_error_line(proc)
        assert "RuntimeError" in line and "--debug" in line


def test_distortion_is_applied_and_recorded(tmp_path):
    """With barrel distortion (k1 < 0) a corner pixel sees further out than a pinhole would: the
    footprint grows."""
    areas = {}
    for k1 in ("0", "-0.08"):
        out = tmp_path / f"k1_{k1}"
        proc = cupola(*_geolocate(*ATTITUDE, "--distortion", k1, "0", "0", "0", "0", "--out", out, "--quiet"))
        _ok(proc)
        r = _strict_json((out / "result.json").read_text())
        assert r["camera"]["distortion"]["k1"] == pytest.approx(float(k1))
        from shapely.geometry import shape

        areas[k1] = shape(r["footprint"]).area
    assert areas["-0.08"] > areas["0"]
