"""Active fire from a thermal brightness-temperature band: a contextual anomaly test.

After the MODIS contextual algorithm (Giglio, Descloitres, Justice & Kaufman 2003, Remote Sens.
Environ. 87, 273-282; Giglio, Schroeder & Justice 2016, RSE 178, 31-41), reduced to one thermal
band: a pixel is a candidate when it is warmer than ``absolute_k`` or warmer than its background
by ``min_excess_k``; it is a fire when, against the mean and mean absolute deviation of the
valid background in a window around it (fires and their neighbours excluded),
T > mean + max(``sigmas`` * MAD, ``min_excess_k``). The confidence rises with the excess in MAD
units (Giglio et al. 2003 eq. for confidence, a ramp from 0 at the threshold to 1 at twice it).
"""

from __future__ import annotations

import numpy as np

from cupola.hazards.change import HazardLayer

__all__ = ["fire_layer"]


def fire_layer(
    brightness_k: np.ndarray,
    *,
    window_px: int = 21,
    sigmas: float = 3.5,
    min_excess_k: float = 6.0,
    absolute_k: float = 360.0,
) -> HazardLayer:
    """Fire pixels of ``brightness_k`` (rows, cols, kelvin, NaN = no data); the test itself is
    :func:`cupola.analysis.contextual.contextual_anomaly` (shared with the thermal fire test)."""
    from cupola.analysis.contextual import contextual_anomaly

    a = contextual_anomaly(
        brightness_k, window_px=window_px, sigmas=sigmas, min_excess=min_excess_k, absolute=absolute_k
    )
    return HazardLayer(
        a.mask, a.confidence, a.score, float(sigmas), f"T > background mean + max({sigmas} MAD, {min_excess_k} K)"
    )
