"""The Earth behind a spacecraft: real ground imagery (the bundled Sentinel-2 mosaics of the
localization samples) at the scale a low-orbit camera looking down would see it, lit by the Sun.

An inspector or the ISS looking at a spacecraft below it sees the ground behind it. From an
altitude ``h`` the Earth's disc reaches ``asin(R / (R + h))`` from the nadir (about 70 deg at
420 km): when the camera's boresight is that close to the Earth's direction, the whole (narrow)
field holds ground. The ground's width in the field is about ``2 d tan(fov / 2)`` at the slant
distance ``d`` to the ground along the boresight, ~73 km for a 10-deg field from 420 km at nadir;
the ground is lit by the Sun at the angle between the Sun and the local vertical (taken as the
direction towards the camera: the ground faces it), times its reflectance.

The mosaics' 8-bit values are taken as reflectance ``value / 255 * REFLECTANCE_AT_WHITE`` (a
true-colour Sentinel-2 product maps reflectance ~0.3-0.4 to white); the radiance unit is that of
:func:`cupola.rso.render.render` (a white Lambert surface facing the Sun = 1).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from cupola.geometry.geodesy import R_MEAN_M

__all__ = ["earth_in_view", "ground_width_m", "earth_background", "ground_images"]

ALTITUDE_M = 420e3
REFLECTANCE_AT_WHITE = 0.35
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples" / "apl"


def earth_in_view(earth_cam: tuple[float, float, float] | None, fov_deg: float, altitude_m: float = ALTITUDE_M) -> bool:
    """True when the whole field (a cone of ``fov_deg`` across the diagonal, about the +z
    boresight) lies inside the Earth's disc seen from ``altitude_m``, ``earth_cam`` being the
    direction towards the Earth's centre in the camera frame.

    >>> earth_in_view((0.0, 0.0, 1.0), 10.0), earth_in_view((0.0, 0.0, -1.0), 10.0)
    (True, False)
    """
    if earth_cam is None:
        return False
    e = np.asarray(earth_cam, float)
    e = e / np.linalg.norm(e)
    off_nadir = np.degrees(np.arccos(np.clip(e[2], -1.0, 1.0)))
    disc = np.degrees(np.arcsin(R_MEAN_M / (R_MEAN_M + altitude_m)))
    return bool(off_nadir + fov_deg / np.sqrt(2.0) < disc)


def ground_width_m(off_nadir_deg: float, fov_deg: float, altitude_m: float = ALTITUDE_M) -> float:
    """Width of ground across the field at the boresight's ground point: the slant distance to
    the spherical Earth along the boresight times ``2 tan(fov / 2)``, widened by the obliquity
    ``1 / cos(incidence)`` (incidence: the boresight's angle to the local vertical there).

    >>> round(ground_width_m(0.0, 10.0) / 1000, 1)
    73.5
    """
    a = np.radians(off_nadir_deg)
    r, s = R_MEAN_M, R_MEAN_M + altitude_m
    # distance along the ray from the camera to the sphere: |s u - t d| = r, nearest root
    d = s * np.cos(a) - np.sqrt(max(r**2 - (s * np.sin(a)) ** 2, 0.0))
    incidence = np.arcsin(min(s * np.sin(a) / r, 1.0))
    return float(2.0 * d * np.tan(np.radians(fov_deg) / 2.0) / max(np.cos(incidence), 0.05))


@lru_cache(maxsize=1)
def ground_images() -> tuple[tuple[np.ndarray, float], ...]:
    """(grey reflectance image, ground metres per pixel) of each bundled reference mosaic."""
    from PIL import Image

    out = []
    for case in sorted(SAMPLES.glob("*/case.json")):
        meta = json.loads(case.read_text())
        bounds = meta.get("reference_bounds") or meta.get("bounds")
        img = Image.open(case.parent / "reference.jpg").convert("L")
        grey = np.asarray(img, np.float32) / 255.0 * REFLECTANCE_AT_WHITE
        if isinstance(bounds, dict):
            west, south, east, north = (bounds[k] for k in ("west", "south", "east", "north"))
        else:
            west, south, east, north = bounds
        lat = np.radians((south + north) / 2.0)
        width_m = np.radians(east - west) * R_MEAN_M * np.cos(lat)
        out.append((grey, float(width_m / grey.shape[1])))
    return tuple(out)


def earth_background(
    rng: np.random.Generator, size_px: int, fov_deg: float, earth_cam, sun_cam, altitude_m: float = ALTITUDE_M
) -> np.ndarray:
    """The ground behind the spacecraft (``size_px`` square, radiance): a randomly placed and
    turned window of one of the bundled mosaics, as wide as the field sees, resampled (area
    averaging) to the image, times the Sun's cosine on the ground (0 on the night side)."""
    import cv2

    e = np.asarray(earth_cam, float)
    e = e / np.linalg.norm(e)
    off_nadir = float(np.degrees(np.arccos(np.clip(e[2], -1.0, 1.0))))
    images = ground_images()
    grey, m_per_px = images[int(rng.integers(len(images)))]
    want_px = ground_width_m(off_nadir, fov_deg, altitude_m) / m_per_px
    h, w = grey.shape
    side = int(min(want_px, 0.7 * min(h, w)))  # a wider field than the mosaic: its widest window
    angle = float(rng.uniform(0.0, 360.0))
    edge = min(0.71 * side, 0.5 * min(h, w))  # a turned window stays inside the mosaic
    cr, cc = rng.uniform(edge, h - edge), rng.uniform(edge, w - edge)
    # the window's centre -> the output's centre, turned, scaled to size_px
    m = cv2.getRotationMatrix2D((float(cc), float(cr)), angle, size_px / side)
    m[:, 2] += (size_px / 2.0 - cc, size_px / 2.0 - cr)
    small = cv2.GaussianBlur(grey, (0, 0), max(0.5 * side / size_px, 0.1)) if side > size_px else grey
    window = cv2.warpAffine(small, m, (size_px, size_px), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    sun = np.asarray(sun_cam, float)
    sun = sun / np.linalg.norm(sun)
    cos_sun = max(float(sun @ -e), 0.0)  # the ground faces the camera, away from the Earth's centre
    return (window * cos_sun).astype(np.float32)
