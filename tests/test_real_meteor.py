"""Real data: the bundled Meteor frame over Texas must put Del Rio on its city lights.

The photo shows the lights of Del Rio, Texas (29.36 N, 100.9 W) near the top edge of the frame.
The attitude is solved from the sample's tie points with the real ISS orbit at the frame time;
projecting Del Rio with that pose must land on a bright spot in the top rows of a dark night
frame. A wrong time, orbit, LVLH frame, camera model or pixel convention moves it off the lights.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FRAME_TIME, PHOTO, TIE_POINTS, TLE_FILE

DEL_RIO_LAT, DEL_RIO_LON = 29.36, -100.9


@pytest.fixture(scope="module", params=[True, False], ids=["focal-solved", "focal-fixed"])
def solved(request):
    from cupola.georef import GeolocateRequest, geolocate

    req = GeolocateRequest(
        photo=PHOTO,
        time=FRAME_TIME,
        tle_path=TLE_FILE,
        focal_mm=10.5,
        sensor_mm=(8.7, 4.89375),
        tie_points=TIE_POINTS,
        solve_focal=request.param,
    )
    return geolocate(req)


def test_tie_points_fit(solved):
    assert solved.solution is not None
    assert solved.solution.rms_px < (1.0 if solved.solution.focal_solved else 3.0)


def test_del_rio_falls_on_its_city_lights(solved):
    image = solved.image
    height, width = image.shape[:2]
    assert (width, height) == (1280, 738)
    col, row = solved.georef.ground_to_pixels(DEL_RIO_LON, DEL_RIO_LAT, 0.0)
    col, row = float(col), float(row)
    assert 0 <= col <= width - 1 and 0 <= row <= height - 1, (col, row)
    assert row < 0.1 * height, f"Del Rio at row {row:.1f}, expected in the top 10% of the frame"
    green = image[..., 1]
    assert np.median(green) < 40  # a night frame
    c, r = int(round(col)), int(round(row))
    window = green[max(r - 12, 0) : r + 13, max(c - 12, 0) : c + 13]
    assert window.max() > 150, f"no city lights within 12 px of Del Rio at ({col:.1f}, {row:.1f})"


def test_del_rio_round_trip(solved):
    """Pixel -> ground for the projected Del Rio pixel gives Del Rio back."""
    col, row = solved.georef.ground_to_pixels(DEL_RIO_LON, DEL_RIO_LAT, 0.0)
    lon, lat = solved.georef.pixels_to_ground(col, row, 0.0)
    assert float(lon) == pytest.approx(DEL_RIO_LON, abs=1e-6)
    assert float(lat) == pytest.approx(DEL_RIO_LAT, abs=1e-6)
