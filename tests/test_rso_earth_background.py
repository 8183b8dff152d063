"""The Earth behind the spacecraft (cupola.rso.earth_background) and ``rso synth --earth-background``."""

import numpy as np
import pytest

from cupola.cli.main import main
from cupola.geometry.geodesy import R_MEAN_M
from cupola.rso.dataset import draw_sample, read_set
from cupola.rso.earth_background import earth_background, earth_in_view, ground_width_m
from cupola.rso.spacecraft import iss_like_model

MODEL = iss_like_model()


def test_the_earth_fills_the_field_within_its_disc():
    disc = np.degrees(np.arcsin(R_MEAN_M / (R_MEAN_M + 420e3)))  # ~69.9 deg from 420 km
    margin = 10.0 / np.sqrt(2.0)
    for off, inside in ((0.0, True), (disc - margin - 0.5, True), (disc - margin + 0.5, False), (120.0, False)):
        e = (np.sin(np.radians(off)), 0.0, np.cos(np.radians(off)))
        assert earth_in_view(e, 10.0) is inside, off
    assert earth_in_view(None, 10.0) is False


def test_ground_width_at_nadir_and_off_nadir():
    assert ground_width_m(0.0, 10.0) == pytest.approx(2 * 420e3 * np.tan(np.radians(5.0)))
    # off nadir: the slant distance from the triangle camera - Earth centre - ground point
    off = 40.0
    r, s = R_MEAN_M, R_MEAN_M + 420e3
    inc = np.arcsin(s * np.sin(np.radians(off)) / r)  # law of sines
    d = r * np.sin(inc - np.radians(off)) / np.sin(np.radians(off))
    assert ground_width_m(off, 10.0) == pytest.approx(2 * d * np.tan(np.radians(5.0)) / np.cos(inc), rel=1e-9)


def test_the_ground_is_lit_by_the_sun_and_dark_at_night():
    rng = np.random.default_rng(0)
    day = earth_background(rng, 64, 10.0, (0, 0, 1), (0, 0, -1))  # Sun behind the camera: overhead
    night = earth_background(np.random.default_rng(0), 64, 10.0, (0, 0, 1), (0, 0, 1))
    assert day.shape == (64, 64) and 0.01 < day.mean() < 0.35 and day.std() > 0.002
    assert float(night.max()) == 0.0


def test_draw_sample_puts_ground_behind_only_where_the_earth_is_in_view():
    seen = 0
    for i in range(40):
        plain = draw_sample(MODEL, 11, i, 32)
        earth = draw_sample(MODEL, 11, i, 32, earth_background=True)
        assert np.allclose(earth.view.rotation.as_quat(), plain.view.rotation.as_quat())
        assert earth.view.earth_cam == plain.view.earth_cam and earth.degradation.psf_kind == plain.degradation.psf_kind
        if not earth.earth_background:
            assert np.array_equal(earth.clean, plain.clean) and np.array_equal(earth.degraded, plain.degraded)
            continue
        seen += 1
        empty = plain.clean == 0  # space around the model: now ground (unless at night)
        assert earth.clean[empty].mean() > 0 or np.dot(earth.view.sun_cam, earth.view.earth_cam) >= 0
        assert np.all(earth.clean >= plain.clean - 1e-6)
    assert seen >= 2


def test_synth_command_with_earth_background(tmp_path):
    out = tmp_path / "s"
    assert (
        main(
            [
                "rso",
                "synth",
                "--n",
                "24",
                "--size",
                "32",
                "--seed",
                "11",
                "--earth-background",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    s = read_set(out)
    assert s.summary["earth_background"] is True and s.summary["images_with_earth_background"] >= 1
