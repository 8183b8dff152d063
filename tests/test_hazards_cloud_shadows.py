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
