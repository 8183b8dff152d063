"""ISS LIS: science and background files (real data of orbit 20683), TAI93 times, background
georeferencing with cupola's geometry, the ``lightning lis`` product and LIS as an event source."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

LIS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "iss-lis-2020"
SC = LIS_DIR / "ISS_LIS_SC_V1.0_20200823_FIN_20683.nc"
BG = LIS_DIR / "ISS_LIS_BG_V1.0_20200823_NQC_20683.nc"

needs_data = pytest.mark.skipif(
    not (SC.is_file() and BG.is_file()), reason="ISS LIS sample not beside the clone (../shared/data/iss-lis-2020)"
)


def test_tai93_counts_leap_seconds():
    from cupola.lightning.lis import tai93_to_datetime64

    # the science file's own pair: UTC_start 2020-08-23T19:04:52.100Z <-> TAI93 872363102.1 (10 leap
    # seconds between 1993-01-01 and 2020)
    t = tai93_to_datetime64([872363102.1, 0.0, 181 * 86400 + 1.0])
    assert abs(int((t[0] - np.datetime64("2020-08-23T19:04:52.100", "ns")).astype(np.int64))) < 1000
    assert t[1] == np.datetime64("1993-01-01T00:00:00", "ns")
    # a leap second ended 1993-06-30: 181 days and 1 s of TAI93 is 1993-07-01 00:00:00 UTC
    assert t[2] == np.datetime64("1993-07-01T00:00:00", "ns")


@needs_data
def test_read_science_file_matches_its_own_summary():
    import h5py

    from cupola.lightning.lis import read_lis_science

    sc = read_lis_science(SC)
    assert (len(sc.flashes), len(sc.groups), len(sc.events)) == (203, 1896, 7602)
    assert sc.orbit == 20683
    with h5py.File(SC) as h:
        utc0 = h["orbit_summary_UTC_start"][()].decode()
    t0 = np.datetime64(utc0.rstrip("Z"), "ns")
    # every flash lies within the orbit's 93 minutes, after its start
    assert (sc.flashes.time >= t0).all() and (sc.flashes.time <= t0 + np.timedelta64(95 * 60, "s")).all()
    # a flash's groups sum to its child count and lie within ~a pixel or two of it
    assert sc.flashes.child_count.sum() == len(sc.groups)
    k = 0
    kids = sc.groups.parent_address == sc.flashes.address[k]
    assert kids.sum() == sc.flashes.child_count[k]
    d = np.hypot(sc.groups.lat_deg[kids] - sc.flashes.lat_deg[k], sc.groups.lon_deg[kids] - sc.flashes.lon_deg[k])
    assert d.max() < 0.3


@needs_data
def test_background_corners_by_cupola_geometry():
    from cupola.lightning.lis import georeference_backgrounds, read_lis_background

    bg = read_lis_background(BG)
    assert bg.images.shape == (104, 128, 128)
    # the transform is a rotation
    assert np.allclose(np.einsum("nij,nkj->nik", bg.transform, bg.transform), np.eye(3), atol=1e-6)
    new = georeference_backgrounds(bg)
    err = new["corner_error_km"]
    # NASA's lens and mounting, cupola's inertial LVLH, the file's 13.5 km surface: within one LIS
    # pixel (~4 km) at every corner of every image, ~1.7 km median
    assert float(np.median(err)) < 2.5 and float(err.max()) < 5.5
    assert float(np.median(new["boresight_error_km"])) < 1.5
    # the files' own convention (LVLH of the Earth-fixed velocity, v_z terms) reproduces them to ~0.4 km
    nasa = georeference_backgrounds(bg, frame="nasa")
    assert float(np.median(nasa["corner_error_km"])) < 0.7 and float(nasa["corner_error_km"].max()) < 1.5
    # what is left in cupola's frame grows with |v_z|: NASA's linear yaw for the Earth-fixed LVLH
    assert np.corrcoef(err.mean(axis=1), np.abs(bg.velocity_m_s[:, 2]))[0, 1] > 0.8
    # each part matters: the first model (80 deg pinhole, no mounting, height 0) is ~13 km off; at
    # height 0 the corners move ~19 km; without the mounting the boresight is ~6 km off
    first = georeference_backgrounds(bg, lens="pinhole", mount=False, height_m=0.0)
    assert 10.0 < float(np.median(first["corner_error_km"])) < 16.0
    assert float(np.median(georeference_backgrounds(bg, height_m=0.0)["corner_error_km"])) > 10.0
    assert float(np.median(georeference_backgrounds(bg, mount=False)["boresight_error_km"])) > 4.0


@needs_data
def test_events_by_cupola_geometry():
    """Thousands of points, not four corners: every event's pixel, located from the science file's own
    one-second records, lands within a fraction of a pixel of the file's event location."""
    from cupola.lightning.lis import georeference_events, read_lis_science

    sc = read_lis_science(SC)
    assert sc.events.col is not None and sc.events.col.max() == 127
    e = georeference_events(sc)["error_km"]
    assert e.shape == (7602,) and np.isfinite(e).all()
    assert float(np.median(e)) < 1.5 and float(np.percentile(e, 90)) < 3.0
    nasa = georeference_events(sc, frame="nasa")["error_km"]
    assert float(np.median(nasa)) < 0.5 and float(nasa.max()) < 1.5
    # the pinhole without mounting at height 0 is off by several pixels
    assert float(np.median(georeference_events(sc, lens="pinhole", mount=False, height_m=0.0)["error_km"])) > 10


def test_lens_model_facts():
    from cupola.lightning.lis import lis_look_vectors, mount_matrix

    v = lis_look_vectors([63.5, 64.5, 0, 127, 63.5], [63.5, 63.5, 0, 127, 127])
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0)
    assert np.allclose(v[0], [0, 0, 1])
    # ~0.67 deg per pixel at the centre; the corners ~50 deg off the boresight; +x with col, +y against row
    assert 0.6 < np.degrees(np.arccos(v[1, 2])) < 0.75
    assert 49.0 < np.degrees(np.arccos(v[2, 2])) < 51.0 and v[2, 0] < 0 < v[2, 1]
    assert v[4, 1] < 0
    m = mount_matrix()
    assert np.allclose(m @ m.T, np.eye(3)) and 0.6 < np.degrees(np.arccos(m[2, 2])) < 0.9


@needs_data
def test_lis_product_cli(tmp_path):
    out = tmp_path / "lis"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cupola",
            "lightning",
            "lis",
            str(SC),
            "--background",
            str(BG),
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "result.json").read_text())
    assert res["flashes"] == 203
    lines = (out / "flashes.csv").read_text().splitlines()
    assert len(lines) == 204 and lines[0].startswith("flash_id,time_utc,lat,lon")
    gj = json.loads((out / "flashes.geojson").read_text())
    assert len(gj["features"]) == 203
    assert (out / "lis_map.png").stat().st_size > 10_000
    assert len((out / "backgrounds.csv").read_text().splitlines()) == 1 + 104 * 4
    assert res["background"]["median_corner_error_km"] < 2.5
    assert res["events_check"]["median_error_km"] < 1.5
    bad = subprocess.run(
        [sys.executable, "-m", "cupola", "lightning", "lis", str(tmp_path / "none.nc"), "--out", str(tmp_path / "o2")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


@needs_data
def test_lis_groups_as_events():
    from cupola.lightning.events import read_events

    ev = read_events(SC)
    assert len(ev) == 1896 and bool(np.all(ev.kind == "mapper"))
    assert np.all(np.diff(ev.time.astype(np.int64)) >= 0)
    assert np.all(ev.sigma_m == 4000.0)


def test_not_a_lis_file(tmp_path):
    from cupola.errors import InputError
    from cupola.lightning.lis import read_lis_science

    p = tmp_path / "x.nc"
    p.write_text("time_utc,lat,lon\n")
    with pytest.raises(InputError, match="not a netCDF-4/HDF5"):
        read_lis_science(p)
