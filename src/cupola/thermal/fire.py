"""Active fires and clouds from a mid-wave and a long-wave thermal band (CTI's 3.3-5.4 and
7.8-10.7 µm, or any such pair), after the MODIS contextual fire algorithm (Giglio, Descloitres,
Justice & Kaufman 2003, Remote Sens. Environ. 87, 273-282).

A fire a thousandth of a pixel in size raises the mid-wave brightness temperature ``T4`` far more
than the long-wave ``T11`` (the Planck function of a ~800 K fire peaks near 3.6 µm), so a fire is a
pixel whose ``T4`` and ``ΔT = T4 − T11`` stand out from the pixels around it:

1. **clouds** first (Giglio's cloud mask, rebuilt for a sensor without visible bands): the
   cold-and-rough test of :func:`cupola.thermal.clouds.cloud_test` on ``T11`` (a cloud is colder
   than the surface, and its broken edges are rough), and by day also cold pixels (``T11`` 4 K
   under the local reference) that are *bright* in the mid-wave (``ΔT`` above the local clear
   median + 8 K: sunlight reflected by water droplets at 3-5 µm, the classic false fire at cloud
   edges); water is never cloud. The flags are buffered by 2 px, not grown over the deck as the
   ECOSTRESS screening does: by day growing followed cool land far from any cloud (16 % of a
   clear afternoon scene flagged, against 3 % buffered). No fire is sought under cloud, and
   clouds stay out of every background.
2. **absolute**: ``T4 ≥ 360 K`` by day, ``320 K`` by night (Giglio et al. 2003, test 1).
3. **candidate**: ``T4 > 310 K`` by day (``305 K`` by night) and ``ΔT > 10 K`` (Giglio's
   potential-fire thresholds; below them nothing is a fire).
4. **contextual** (tests 2-4), with the background statistics of
   :func:`cupola.analysis.contextual.contextual_anomaly` (the test the hazards fire layer uses,
   over a ``window_px`` window, clouds and water excluded): ``ΔT > mean + max(3.5 MAD, 6 K)`` and
   ``T4 > mean_T4 + 3 MAD_T4``.

A fire is (2) or (3 and 4), outside clouds. Its confidence: 1 for the absolute test, otherwise the
smaller of the two contextual ramps (0.3 at the threshold, 1 at twice the excess).

The thresholds are MODIS's (1 km pixels): at CTI's 82 m a fire of a given size fills ~150 times
more of its pixel, so they are conservative; the wide 3.3-5.4 µm band, which reaches where a fire
is no brighter than the ground, weakens the contrast. ``docs/thermal.md`` gives the detection rate
against fire fraction on real scenes converted to CTI bands.

>>> import numpy as np
>>> t11 = np.full((60, 60), 300.0); t4 = t11 - 2.0
>>> t4[30, 30] = 330.0                                   # ΔT 30 K: a sub-pixel fire
>>> r = detect_fires(t4, t11, night=False)
>>> int(r.fire.sum()), bool(r.fire[30, 30]), int(r.cloud.sum())
(1, True, 0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cupola.errors import InputError

__all__ = ["FireResult", "detect_fires", "THRESHOLDS_K"]

#: Giglio et al. (2003) thresholds (K) by period: absolute T4, candidate T4, candidate ΔT
THRESHOLDS_K = {
    "day": {"absolute_t4": 360.0, "candidate_t4": 310.0, "candidate_dt": 10.0},
    "night": {"absolute_t4": 320.0, "candidate_t4": 305.0, "candidate_dt": 10.0},
}
#: contextual tests: ΔT > mean + max(DT_SIGMAS MAD, DT_MIN_K); T4 > mean + T4_SIGMAS MAD
DT_SIGMAS = 3.5
DT_MIN_K = 6.0
T4_SIGMAS = 3.0
#: a cold pixel (LWIR this much under the local reference) that is this much brighter in the
#: mid-wave than the clear median is sunlit cloud (K)
CLOUD_BRIGHT_COLD_K = 4.0
CLOUD_BRIGHT_K = 8.0


@dataclass(frozen=True)
class FireResult:
    """``fire`` (bool) and ``confidence`` (float32, 0 outside fires); ``cloud`` (bool) the cloud mask
    used; ``dt_k`` = T4 − T11; ``reason`` per fire pixel: 1 absolute, 2 contextual (0 elsewhere);
    ``period`` 'day' or 'night'; ``thresholds`` those used."""

    fire: np.ndarray
    confidence: np.ndarray
    cloud: np.ndarray
    dt_k: np.ndarray
    reason: np.ndarray
    period: str
    thresholds: dict

    def to_dict(self) -> dict:
        return {
            "fire_pixels": int(self.fire.sum()),
            "absolute": int((self.reason == 1).sum()),
            "contextual": int((self.reason == 2).sum()),
            "cloud_fraction": float(self.cloud.mean()) if self.cloud.size else 0.0,
            "period": self.period,
            "thresholds_k": self.thresholds,
        }


def _bright_cloud(t4, t11, use, clear_ref, dt):
    """Day: cold in the long wave and bright (reflected sunlight) in the mid wave, over ``use``."""
    med_dt = float(np.median(dt[use]))
    with np.errstate(invalid="ignore"):
        return use & (clear_ref - t11 > CLOUD_BRIGHT_COLD_K) & (dt > med_dt + CLOUD_BRIGHT_K)


def detect_fires(
    t4_k: np.ndarray,
    t11_k: np.ndarray,
    *,
    night: bool = False,
    water: np.ndarray | None = None,
    window_px: int = 21,
) -> FireResult:
    """Fires and clouds from the mid-wave ``t4_k`` and long-wave ``t11_k`` brightness temperatures
    (rows, cols, K, NaN = no data); ``water`` (bool) is left out of the backgrounds and of the cloud
    reference. See the module."""
    from scipy import ndimage

    from cupola.analysis.contextual import contextual_anomaly
    from cupola.thermal.clouds import BUFFER_PX, cloud_test, local_reference

    t4 = np.asarray(t4_k, dtype=np.float64)
    t11 = np.asarray(t11_k, dtype=np.float64)
    if t4.ndim != 2 or t4.shape != t11.shape:
        raise InputError(f"`t4_k` {t4.shape} and `t11_k` {t11.shape} must be two images of one shape")
    if window_px < 3 or window_px % 2 == 0:
        raise InputError(f"`window_px` must be odd and at least 3, got {window_px}")
    period = "night" if night else "day"
    th = THRESHOLDS_K[period]
    valid = np.isfinite(t4) & np.isfinite(t11)
    land = None if water is None else ~np.asarray(water, bool)
    dt = np.where(valid, t4 - t11, np.nan)
    water_m = np.zeros_like(valid) if water is None else np.asarray(water, bool)
    with np.errstate(invalid="ignore"):
        absolute = valid & (t4 >= th["absolute_t4"])
        candidate = valid & (t4 > th["candidate_t4"]) & (dt > th["candidate_dt"])
    hot = absolute | candidate
    # clouds from the land only (water is colder than land by day, warmer by night) and without the
    # warm hot pixels (fires), whose own contrast would make their neighbours "rough" and hide them
    # under a cloud buffer; a hot pixel that is cold in the long wave (a sunlit cloud) stays in
    land_ok = valid & ~water_m
    use_ref = land_ok & ~hot
    ref = local_reference(np.where(use_ref, t11, np.nan), use_ref) if use_ref.any() else np.full(t11.shape, np.nan)
    with np.errstate(invalid="ignore"):
        cold = ref - t11 > CLOUD_BRIGHT_COLD_K
    warm_hot = hot & ~cold
    use = land_ok & ~warm_hot
    cloud = cloud_test(np.where(use, t11, np.nan), land=land)
    if not night and use.any():
        cloud |= _bright_cloud(t4, t11, use, ref, dt)
    if cloud.any():  # buffered, not grown: by day growing follows cool land far from any cloud
        ring = ndimage.binary_dilation(cloud, np.ones((3, 3), bool), iterations=BUFFER_PX) & ~cloud
        cloud |= ring & ~warm_hot  # a hot pixel that is not cold is no cloud edge
    cloud &= valid & ~water_m
    exclude = cloud | water_m
    t4v = np.where(valid, t4, np.nan)
    a_dt = contextual_anomaly(dt, window_px=window_px, sigmas=DT_SIGMAS, min_excess=DT_MIN_K, exclude=exclude)
    a_t4 = contextual_anomaly(t4v, window_px=window_px, sigmas=T4_SIGMAS, min_excess=0.0, exclude=exclude)
    contextual = candidate & a_dt.mask & a_t4.mask & ~absolute
    fire = (absolute | contextual) & ~cloud
    conf = np.where(absolute, 1.0, np.minimum(a_dt.confidence, a_t4.confidence))
    conf = np.where(fire, conf, 0.0).astype(np.float32)
    reason = np.where(fire & absolute, 1, np.where(fire & contextual, 2, 0)).astype(np.uint8)
    return FireResult(fire, conf, cloud, dt, reason, period, dict(th))
