"""Long star trails over structured sky (issue 14): the matched filter along the trails sums the
structure the box background leaves (an airglow band, a limb's glow), which lifted whole areas
above the threshold and lost the stars in them; the local background of
:func:`cupola.nightlights.starfield._local_background` removes it."""

from __future__ import annotations

import numpy as np

from cupola.nightlights.starfield import _local_background
from cupola.nightlights.stars import detect_sources, estimate_background

TRAIL = (0.0, 5.0)  # plane px: vertical trails 5 superpixels long
FLUX_PER_PX = 120.0  # a star's light per superpixel of its trail: about 10 sigma through the trail filter


def _frame(seed: int = 0):
    """A 240 x 320 luminance: white noise (sigma 10), a band 15 px wide (sigma; 6 times the noise
    at its crest) across the frame with a gentle slope, and vertical trails (5 px, PSF sigma 1) of
    stars on it and off it (:data:`FLUX_PER_PX`)."""
    rng = np.random.default_rng(seed)
    h, w = 240, 320
    rows, cols = np.mgrid[0:h, 0:w].astype(float)
    band = 60.0 * np.exp(-0.5 * ((rows - 100.0 - 0.1 * cols) / 15.0) ** 2)
    img = 500.0 + band + rng.normal(0.0, 10.0, (h, w))
    stars = []
    for j in np.arange(30, w - 20, 40):  # on the band
        stars.append((float(j), 100.0 + 0.1 * j))
    for j in np.arange(50, w - 20, 60):  # in plain sky
        stars.append((float(j), 190.0))
    for j0, i0 in stars:
        for t in np.linspace(-0.5, 0.5, 21):
            i = i0 + t * TRAIL[1]
            img += (FLUX_PER_PX * TRAIL[1] / 21.0) * np.exp(-0.5 * ((rows - i) ** 2 + (cols - j0) ** 2)) / (2 * np.pi)
    return img.astype(np.float32), np.array(stars)


def _field(j, i):
    return np.full(np.shape(j), TRAIL[0]), np.full(np.shape(j), TRAIL[1])


def _found(det, stars) -> tuple[int, int]:
    """(stars with a point source within 1 superpixel, point sources near no star)."""
    point = ~det.extended
    j, i = (det.col[point] - 0.5) / 2.0, (det.row[point] - 0.5) / 2.0
    d = np.hypot(j[None, :] - stars[:, 0:1], i[None, :] - stars[:, 1:2])
    return int(np.sum(d.min(axis=1) <= 1.0)), int(np.sum(d.min(axis=0) > 3.0))


def test_stars_on_an_airglow_band_are_found_through_the_trail_filter_with_the_local_background():
    img, stars = _frame()
    bg = estimate_background(img, box_px=32)
    on_band = 7
    # the box background leaves the band: through the filter it is one extended segment (or
    # spurious sources along it) and the stars on it are lost
    found_box, spurious_box = _found(detect_sources(img, bg, trail_plane_px=_field), stars)
    assert found_box <= len(stars) - on_band // 2 or spurious_box >= 5
    local = _local_background(img, bg, TRAIL[1])
    found, spurious = _found(detect_sources(img, local, trail_plane_px=_field), stars)
    assert found == len(stars)
    assert spurious <= 1


def test_the_local_background_keeps_the_noise_estimate_and_a_trail_s_flux():
    img, stars = _frame(1)
    bg = estimate_background(img, box_px=32)
    local = _local_background(img, bg, TRAIL[1])
    np.testing.assert_array_equal(local.rms, bg.rms)
    # a trail's flux above the local level, not eaten by the median
    j, i = int(stars[-1, 0]), int(round(stars[-1, 1]))
    box = (img - local.level)[i - 6 : i + 7, j - 4 : j + 5]
    flux = FLUX_PER_PX * TRAIL[1]
    assert abs(box.sum() - flux) < 0.1 * flux + 3.0 * 10.0 * np.sqrt(box.size)
    # far from the band and the stars the local level is the box level within the noise
    far = (slice(200, 230), slice(5, 30))
    assert abs(float(np.mean(local.level[far] - bg.level[far]))) < 3.0
