"""Land-surface emissivity of a thermal band from NDVI: the NDVI thresholds method (Sobrino,
Jiménez-Muñoz, Sòria, Romaguera, Guanter, Moreno, Plaza & Martínez 2008, IEEE Trans. Geosci.
Remote Sens. 46(2) 316-327):

* NDVI < 0.2 (bare soil): ε = ε_soil;
* NDVI > 0.5 (full vegetation): ε = ε_veg;
* in between: ε = ε_veg P_v + ε_soil (1 − P_v), with the vegetation cover
  P_v = ((NDVI − 0.2) / (0.5 − 0.2))² (Carlson & Ripley 1997).

The cavity term of the full method (a few thousandths, for rough mixed surfaces) is left out, and
water (NDVI < 0) is treated as soil: mask water before trusting its LST.

>>> import numpy as np
>>> ndvi_emissivity(np.array([0.1, 0.35, 0.8]), 0.97, 0.99).round(4).tolist()
[0.97, 0.975, 0.99]
"""

from __future__ import annotations

import numpy as np

from cupola.errors import InputError

__all__ = ["NDVI_SOIL", "NDVI_VEGETATION", "vegetation_cover", "ndvi_emissivity"]

#: NDVI below which a pixel is bare soil, above which it is full vegetation (Sobrino et al. 2008)
NDVI_SOIL = 0.2
NDVI_VEGETATION = 0.5


def vegetation_cover(ndvi) -> np.ndarray:
    """P_v in [0, 1] from NDVI (NaN stays NaN)."""
    n = np.asarray(ndvi, dtype=np.float64)
    pv = ((n - NDVI_SOIL) / (NDVI_VEGETATION - NDVI_SOIL)) ** 2
    return np.where(n <= NDVI_SOIL, 0.0, np.where(n >= NDVI_VEGETATION, 1.0, pv)) + 0.0 * n


def ndvi_emissivity(ndvi, soil_emissivity: float, vegetation_emissivity: float) -> np.ndarray:
    """Emissivity of one band by the NDVI thresholds method (see the module). Raises InputError
    for NDVI outside [-1, 1] or emissivities outside (0, 1]."""
    n = np.asarray(ndvi, dtype=np.float64)
    finite = n[np.isfinite(n)]
    if finite.size and (finite.min() < -1.0 - 1e-6 or finite.max() > 1.0 + 1e-6):
        raise InputError(f"`ndvi` values run from {finite.min():g} to {finite.max():g}; NDVI lies in [-1, 1]")
    if not (0 < soil_emissivity <= 1 and 0 < vegetation_emissivity <= 1):
        raise InputError("emissivities must lie in (0, 1]")
    pv = vegetation_cover(n)
    return vegetation_emissivity * pv + soil_emissivity * (1.0 - pv)
