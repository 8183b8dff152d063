import datetime as dt
from pathlib import Path

import numpy as np
import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "samples" / "iss-meteor-2017"
TLE_FILE = SAMPLE / "iss_tle_25544_20170101-20170630.txt"
PHOTO = SAMPLE / "meteor_20170517T054409.526Z.jpg"
TIE_POINTS = SAMPLE / "tie_points.csv"
FRAME_TIME = dt.datetime(2017, 5, 17, 5, 44, 9, 526000, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="session")
def meteor_state():
    from cupola.geometry import orbit

    sets = orbit.parse_tle(TLE_FILE.read_text())
    el = orbit.select_element_set(sets, FRAME_TIME)
    return el, orbit.state_at(el, FRAME_TIME)


@pytest.fixture(scope="session")
def meteor_camera():
    from cupola.geometry.camera import Camera

    return Camera.from_focal_sensor(
        focal_mm=10.5, sensor_width_mm=8.7, sensor_height_mm=4.89375, width_px=1280, height_px=738
    )


@pytest.fixture(scope="session")
def astropy_offline():
    """astropy with IERS tables from the installed astropy-iers-data only (no download)."""
    from astropy.utils import iers

    iers.conf.auto_download = False
    iers.conf.iers_degraded_accuracy = "warn"
    return True


def haversine_m(lon1, lat1, lon2, lat2):
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371008.8 * np.arcsin(np.sqrt(a))
