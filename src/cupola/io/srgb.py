"""The sRGB transfer function (IEC 61966-2-1): how 8-bit photos, JPEGs and screens store light.

>>> round(float(srgb_to_linear(0.5)), 4), round(float(linear_to_srgb(srgb_to_linear(0.5))), 6)
(0.214, 0.5)
"""

from __future__ import annotations

import numpy as np

__all__ = ["linear_to_srgb", "srgb_to_linear"]


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decoding of values in [0, 1] to linear light in [0, 1]."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """The inverse of :func:`srgb_to_linear` (IEC 61966-2-1 encoding), [0, 1] -> [0, 1]."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1.0 / 2.4) - 0.055)
