"""Cloud shadows: the cloud mask projected on the ground away from the sun, at the cloud height
that best matches the darkened pixels (after Fmask's shadow match, Zhu & Woodcock 2012, which
searches the cloud-base height for the projection that best overlaps dark pixels).

A cloud at height ``h`` casts its shadow ``h / tan(sun elevation)`` metres from the point under it,
in the direction opposite the sun's azimuth. The height of a cloud in an uncalibrated photo is not
known, so the projection is tried at each of ``heights_m`` and the height whose projected pixels
(outside the cloud itself) are most often *darker than the clear-sky line* between the dates
(:func:`cupola.hazards.clouds.clear_sky_fit`, in its robust sigmas) is kept; the shadow is the
projected mask there, restricted to the pixels darker than the line by ``grow_sigmas``, then
dilated by ``buffer_px``. When no height makes the projection markedly darker than the rest of
the image (``min_dark_share`` and ``min_gain`` x the share of dark pixels elsewhere), no shadow is
returned: no shadow found is better than a guess.

One height for the whole mask (Fmask matches each cloud object on its own); the view geometry
(parallax of an oblique photo) is not modelled: the search over heights absorbs a uniform part of
it. The geometry (:func:`shadow_offset_px`) is pure; the sun's position comes from
:func:`cupola.geometry.sun.sun_position` (time and place of the acquisition).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SHADOW_HEIGHTS_M", "CloudShadow", "shadow_offset_px", "cloud_shadow_mask"]

#: cloud heights tried (m): low stratus and cumulus bases to mid-level cloud
SHADOW_HEIGHTS_M = tuple(float(h) for h in np.arange(250.0, 8001.0, 250.0))


@dataclass(frozen=True)
class CloudShadow:
    """``mask`` (rows, cols) bool: the shadow (not the cloud); ``height_m`` the cloud height whose
    projection matched best (NaN when no shadow was found); ``dark_share`` the share of the
    projected pixels darker than the line at that height; ``background_share`` the same share
    over the rest of the image."""

    mask: np.ndarray
    height_m: float
    dark_share: float
    background_share: float


def shadow_offset_px(
    height_m: float, sun_elevation_deg: float, sun_azimuth_deg: float, pixel_m: tuple[float, float]
) -> tuple[float, float]:
    """(rows, cols) offset of a cloud's shadow from the cloud, for a cloud ``height_m`` above the
    ground, on a north-up grid of ``pixel_m`` (row height, column width in metres): the shadow lies
    ``height / tan(elevation)`` away from the sun (azimuth clockwise from north; rows grow south).

    >>> [round(v, 3) for v in shadow_offset_px(1000.0, 45.0, 90.0, (10.0, 10.0))]  # sun in the east
    [0.0, -100.0]
    >>> [round(v, 3) + 0.0 for v in shadow_offset_px(500.0, 45.0, 180.0, (10.0, 20.0))]  # sun in the south
    [-50.0, 0.0]
    """
    if not 0.0 < sun_elevation_deg <= 90.0:
        raise ValueError(f"shadow_offset_px: the sun must be above the horizon (elevation {sun_elevation_deg})")
    d = height_m / np.tan(np.radians(sun_elevation_deg))
    az = np.radians(sun_azimuth_deg)
    east, north = -d * np.sin(az), -d * np.cos(az)
    return float(-north / pixel_m[0]), float(east / pixel_m[1])


def _shift_mask(mask: np.ndarray, drow: float, dcol: float) -> np.ndarray:
    """``mask`` moved by whole pixels (rounded), nothing wrapped round."""
    r, c = int(round(drow)), int(round(dcol))
    out = np.zeros_like(mask)
    rows, cols = mask.shape
    if abs(r) >= rows or abs(c) >= cols:
        return out
    out[max(r, 0) : rows + min(r, 0), max(c, 0) : cols + min(c, 0)] = mask[
        max(-r, 0) : rows - max(r, 0), max(-c, 0) : cols - max(c, 0)
    ]
    return out


def cloud_shadow_mask(
    darkness_sigmas: np.ndarray,
    cloud: np.ndarray,
    sun_elevation_deg: float,
    sun_azimuth_deg: float,
    pixel_m: tuple[float, float],
    *,
    heights_m: tuple[float, ...] = SHADOW_HEIGHTS_M,
    dark_sigmas: float = 3.0,
    grow_sigmas: float = 1.5,
    min_dark_share: float = 0.3,
    min_gain: float = 3.0,
    buffer_px: int = 1,
) -> CloudShadow:
    """The shadow of ``cloud`` (rows, cols bool) given ``darkness_sigmas``: each pixel's residual
    from the clear-sky line in robust sigmas, negative where darker (NaN: no data), see the module
    docstring. ``dark_sigmas``: a pixel darker than the line by this much counts as dark in the
    height search; ``grow_sigmas``: the shadow keeps the projected pixels at least this dark."""
    from scipy import ndimage

    cloud = np.asarray(cloud, bool)
    res = np.asarray(darkness_sigmas, np.float32)
    none = CloudShadow(np.zeros(cloud.shape, bool), float("nan"), 0.0, 0.0)
    if not cloud.any() or sun_elevation_deg <= 0.0:
        return none
    with np.errstate(invalid="ignore"):
        dark = res < -dark_sigmas
        loose = res < -grow_sigmas
    free = ~cloud & np.isfinite(res)
    best: tuple[float, float, np.ndarray | None, float] = (-1.0, float("nan"), None, 0.0)
    for h in heights_m:
        proj = _shift_mask(cloud, *shadow_offset_px(h, sun_elevation_deg, sun_azimuth_deg, pixel_m)) & free
        n = int(proj.sum())
        if n < 9:
            continue
        share = float((dark & proj).sum() / n)
        rest = free & ~proj
        background = float((dark & rest).sum() / max(int(rest.sum()), 1))
        if share > best[0]:
            best = (share, h, proj, background)
    share, h, best_proj, background = best
    if best_proj is None or share < min_dark_share or share < min_gain * background:
        return CloudShadow(none.mask, float("nan"), max(share, 0.0), background)
    mask = best_proj & loose
    if buffer_px > 0 and mask.any():
        mask = ndimage.binary_dilation(mask, np.ones((3, 3), bool), iterations=buffer_px) & ~cloud
    return CloudShadow(mask, float(h), share, background)
