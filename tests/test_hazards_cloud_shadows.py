"""Cloud shadows (``cupola.hazards.cloud_shadows``): the geometry against a hand computation, the
height search against a painted shadow of known height, and no shadow where none is dark."""

import numpy as np
import pytest

from cupola.hazards.cloud_shadows import cloud_shadow_mask, shadow_offset_px


def test_shadow_offset_against_a_hand_computation():
    # sun 30 deg up in the south-west (azimuth 225): the shadow falls to the north-east,
    # h / tan(30) = 1732 m for h = 1000 m, i.e. 1225 m north and 1225 m east
    dr, dc = shadow_offset_px(1000.0, 30.0, 225.0, (20.0, 10.0))
    d = 1000.0 / np.tan(np.radians(30.0)) / np.sqrt(2.0)
    assert dr == pytest.approx(-d / 20.0, rel=1e-9) and dc == pytest.approx(d / 10.0, rel=1e-9)
    with pytest.raises(ValueError):
        shadow_offset_px(1000.0, -5.0, 225.0, (20.0, 10.0))


def _scene(height_m, dark=True):
    rng = np.random.default_rng(5)
    res = rng.normal(0, 1, (300, 300)).astype(np.float32)  # residuals in sigmas: clear ground
    cloud = np.zeros((300, 300), bool)
    yy, xx = np.mgrid[:300, :300]
    cloud[np.hypot(yy - 120, xx - 120) < 30] = True
    dr, dc = shadow_offset_px(height_m, 40.0, 135.0, (30.0, 30.0))
    shade = np.hypot(yy - 120 - dr, xx - 120 - dc) < 30
    if dark:
        res[shade & ~cloud] -= 8.0
    res[cloud] = 20.0
    return res, cloud, shade & ~cloud


def test_the_height_search_finds_a_painted_shadow():
    res, cloud, truth = _scene(2000.0)
    found = cloud_shadow_mask(res, cloud, 40.0, 135.0, (30.0, 30.0))
    assert abs(found.height_m - 2000.0) <= 250.0
    assert (found.mask & truth).sum() >= 0.95 * truth.sum()
    assert (found.mask & ~truth).sum() <= 0.1 * truth.sum()  # the 1-pixel buffer only
    assert not (found.mask & cloud).any()


def test_no_dark_projection_no_shadow():
    res, cloud, _truth = _scene(2000.0, dark=False)
    found = cloud_shadow_mask(res, cloud, 40.0, 135.0, (30.0, 30.0))
    assert not found.mask.any() and np.isnan(found.height_m)


def test_with_the_acquisition_time_a_cloud_shadow_is_no_data_through_the_cli(tmp_path):
    """A real deck pasted into 'after' with its shadow painted where the sun of the given time puts
    it (cloud 2500 m up): with ``--after-time`` the shadow is no data, without it it is change."""
    import datetime as dt
    import json

    import rasterio
    from test_hazards_clouds import RES, _acquire, _real_cloud, _reference, _write

    from cupola.cli.main import main
    from cupola.geometry.sun import sun_position

    rng = np.random.default_rng(8)
    ground = _reference("ISS062-E-150758", slice(600, 800), slice(100, 300))
    yy, xx = np.mgrid[:200, :200]
    alpha = np.clip((30 - np.hypot(yy - 100, xx - 100)) / 4, 0, 1).astype(np.float32)
    when = "2024-06-21T07:00:00Z"
    lon, lat = 30.0 + 100 * RES, 45.0 - 100 * RES
    sun = sun_position(dt.datetime(2024, 6, 21, 7, tzinfo=dt.timezone.utc), lon=lon, lat=lat)
    pixel_m = (RES * 110_574.0, RES * 111_320.0 * np.cos(np.radians(lat)))
    dr, dc = shadow_offset_px(2500.0, sun.elevation_deg, sun.azimuth_deg, pixel_m)
    shade = np.clip((30 - np.hypot(yy - 100 - dr, xx - 100 - dc)) / 4, 0, 1).astype(np.float32)
    after = ground * (1 - 0.55 * shade)
    after = after * (1 - alpha) + _real_cloud(ground.shape[1:]) * alpha
    _write(tmp_path / "before.tif", _acquire(ground, rng, 1.05, 0.95))
    _write(tmp_path / "after.tif", _acquire(after, rng, 0.95, 1.05))
    truth = (shade >= 0.9) & (alpha == 0)
    assert truth.sum() > 500  # the shadow lies mostly off the cloud

    def no_data(extra, name):
        out = tmp_path / name
        args = ["hazards", "change", str(tmp_path / "before.tif"), str(tmp_path / "after.tif")]
        assert main([*args, "--bands", "red,green,blue", "--out", str(out), "--quiet", *extra]) == 0
        with rasterio.open(out / "change.tif") as ds:
            band = ds.read(1, masked=True)
        return np.ma.getmaskarray(band), json.loads((out / "result.json").read_text())

    with_time, result = no_data(["--after-time", when], "timed")
    without, _ = no_data([], "untimed")
    assert with_time[truth].mean() > 0.9 and without[truth].mean() < 0.1
    assert "cloud shadows" in result["clouds"]["after"]["source"]
