"""Telling cloud from surface in a thermal image.

Two tools, for two situations:

* :func:`cloud_test` — for a sensor without a cloud mask (CTI, a camera, any single thermal band):
  clouds are colder than the surface around them and their broken edges are rough. Two tests in
  the manner of Saunders & Kriebel (1988, Int. J. Remote Sens. 9(1) 123-150: a gross temperature
  test and a spatial-coherence test), on the surface temperature:

  1. *cold*: ``T < T_ref − cold_k``, where ``T_ref`` is the local clear-surface reference, the
     ``reference_percentile`` of the valid (land) temperatures in blocks of ``block_px``
     (interpolated between block centres): clouds lie above the surface and are colder by the
     lapse rate (~6.5 K km⁻¹), so a cloud 1.2 km up is ~8 K colder;
  2. *cold and rough*: ``T < T_ref − cold_k / 2`` and the 3 x 3 standard deviation above
     ``texture_k``: the fringes of broken cloud, part cloud and part surface, are neither as cold
     as the cloud nor as uniform as the ground.

  It cannot see a cloud as warm as the ground (thin fog, a deck sitting on the surface) and it
  flags very cold ground (irrigated fields at noon, snow) beside hot ground; ``docs/thermal.md``
  shows how it compares with the ECOSTRESS mask on the four bundled scenes.

* :func:`grow_clouds` — for a product mask that is there but misses part of a cloud deck (the
  ECOSTRESS mask catches a marine stratus over the sea and loses it over land, where the land
  under it is as cool as the deck): each cloud region's temperature is its median; pixels that
  touch the region (through other such pixels) and are no warmer than that median plus
  ``tolerance_k`` are the same deck. A cloud top is nearly isothermal; 2 K is twice the ~1 K
  ECOSTRESS LST uncertainty. Then the mask is dilated by ``buffer_px`` (edges; Fmask dilates its
  cloud mask in the same way, Zhu & Woodcock 2012, Remote Sens. Environ. 118, 83-94).

>>> import numpy as np
>>> t = np.full((40, 40), 300.0); t[10:20, 10:20] = 285.0          # a cloud 15 K colder
>>> int(cloud_test(t, block_px=40).sum())
100
>>> mask = np.zeros((40, 40), bool); mask[10:20, 10:14] = True      # the mask caught 40 of 100
>>> int(grow_clouds(mask, t, buffer_px=0).sum())
100
"""

from __future__ import annotations

import numpy as np

from cupola.errors import InputError

__all__ = ["cloud_test", "grow_clouds", "local_reference", "COLD_K", "TEXTURE_K", "GROW_TOLERANCE_K", "BUFFER_PX"]

#: a cloud is at least this much colder than the clear surface around it (K): ~1.2 km of lapse rate
COLD_K = 8.0
#: 3 x 3 standard deviation (K) above which a cool pixel is a broken-cloud edge
TEXTURE_K = 1.5
#: a pixel joins a cloud deck when no warmer than the deck's median plus this (K)
GROW_TOLERANCE_K = 2.0
#: cloud edges: pixels within this many pixels of a cloud are dropped from the analysis
BUFFER_PX = 2
#: blocks for the local clear-surface reference (pixels; ~9 km at 70 m)
BLOCK_PX = 128


def _local_std(t: np.ndarray, valid: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    x = np.where(valid, t, 0.0)
    w = valid.astype(np.float64)
    n = ndimage.uniform_filter(w, 3, mode="nearest")
    m = ndimage.uniform_filter(x, 3, mode="nearest")
    m2 = ndimage.uniform_filter(x * x, 3, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = m / n
        var = m2 / n - mean * mean
    return np.sqrt(np.clip(np.nan_to_num(var, nan=0.0), 0.0, None))


def _reference(t: np.ndarray, use: np.ndarray, block_px: int, percentile: float) -> np.ndarray:
    """The ``percentile`` of ``t`` over ``use`` in blocks, interpolated bilinearly between centres."""
    from scipy.interpolate import RegularGridInterpolator

    rows, cols = t.shape
    nb_r, nb_c = max(1, round(rows / block_px)), max(1, round(cols / block_px))
    r_edges = np.linspace(0, rows, nb_r + 1).astype(int)
    c_edges = np.linspace(0, cols, nb_c + 1).astype(int)
    ref = np.full((nb_r, nb_c), np.nan)
    scene = float(np.percentile(t[use], percentile))
    for i in range(nb_r):
        for j in range(nb_c):
            sl = (slice(r_edges[i], r_edges[i + 1]), slice(c_edges[j], c_edges[j + 1]))
            u = use[sl]
            if u.sum() >= max(16, 0.1 * u.size):
                ref[i, j] = np.percentile(t[sl][u], percentile)
    ref = np.where(np.isfinite(ref), ref, scene)
    if nb_r == 1 and nb_c == 1:
        return np.full(t.shape, ref[0, 0])
    rc = 0.5 * (r_edges[:-1] + r_edges[1:]) - 0.5
    cc = 0.5 * (c_edges[:-1] + c_edges[1:]) - 0.5
    if nb_r == 1:
        return np.broadcast_to(np.interp(np.arange(cols), cc, ref[0]), t.shape).copy()
    if nb_c == 1:
        return np.broadcast_to(np.interp(np.arange(rows), rc, ref[:, 0])[:, None], t.shape).copy()
    f = RegularGridInterpolator((rc, cc), ref, bounds_error=False, fill_value=None)
    rr, cc2 = np.meshgrid(
        np.clip(np.arange(rows), rc[0], rc[-1]), np.clip(np.arange(cols), cc[0], cc[-1]), indexing="ij"
    )
    return f(np.stack([rr.ravel(), cc2.ravel()], axis=1)).reshape(rows, cols)


def local_reference(
    temperature_k: np.ndarray, use: np.ndarray, *, block_px: int = BLOCK_PX, percentile: float = 75.0
) -> np.ndarray:
    """The local clear-surface reference of :func:`cloud_test`: the ``percentile`` of the
    temperatures over ``use`` in blocks of ``block_px``, interpolated between block centres."""
    return _reference(np.asarray(temperature_k, dtype=np.float64), np.asarray(use, bool), block_px, percentile)


def cloud_test(
    temperature_k: np.ndarray,
    *,
    land: np.ndarray | None = None,
    cold_k: float = COLD_K,
    texture_k: float = TEXTURE_K,
    block_px: int = BLOCK_PX,
    reference_percentile: float = 75.0,
) -> np.ndarray:
    """Cloud flags (bool) from a surface or brightness temperature image (K, NaN = no data); the
    reference uses ``land`` pixels only when given (water is colder by day and warmer by night
    than land, not cloud). See the module."""
    t = np.asarray(temperature_k, dtype=np.float64)
    if t.ndim != 2:
        raise InputError("`temperature_k` must be a 2-D image")
    if not (cold_k > 0 and texture_k > 0 and block_px >= 8 and 0 < reference_percentile < 100):
        raise InputError("`cold_k` and `texture_k` must be positive, `block_px` at least 8, the percentile in (0, 100)")
    valid = np.isfinite(t)
    use = valid if land is None else valid & np.asarray(land, bool)
    if not use.any():
        return np.zeros(t.shape, bool)
    ref = _reference(t, use, block_px, reference_percentile)
    cold = ref - np.where(valid, t, np.inf)
    rough = _local_std(t, valid) > texture_k
    return valid & ((cold > cold_k) | ((cold > 0.5 * cold_k) & rough))


def grow_clouds(
    cloud: np.ndarray,
    temperature_k: np.ndarray,
    *,
    tolerance_k: float = GROW_TOLERANCE_K,
    buffer_px: int = BUFFER_PX,
) -> np.ndarray:
    """``cloud`` (bool) extended to the connected pixels of the same deck and dilated by
    ``buffer_px`` (see the module)."""
    from scipy import ndimage

    c = np.asarray(cloud, bool)
    t = np.asarray(temperature_k, dtype=np.float64)
    if c.shape != t.shape:
        raise InputError(f"`cloud` {c.shape} and `temperature_k` {t.shape} must have the same shape")
    if not (tolerance_k >= 0 and buffer_px >= 0):
        raise InputError("`tolerance_k` and `buffer_px` must be zero or more")
    seeds = c & np.isfinite(t)
    if not seeds.any():
        return c.copy()
    labels, n = ndimage.label(seeds)
    med = np.asarray(ndimage.median(t, labels, index=np.arange(1, n + 1)), dtype=np.float64)
    ceiling_of_label = np.concatenate([[np.nan], med + tolerance_k])
    _, (ri, ci) = ndimage.distance_transform_edt(~seeds, return_indices=True)
    ceiling = ceiling_of_label[labels[ri, ci]]
    candidates = np.isfinite(t) & (t <= ceiling)
    grown = ndimage.binary_propagation(seeds, structure=np.ones((3, 3), bool), mask=seeds | candidates) | c
    if buffer_px > 0:
        grown = ndimage.binary_dilation(grown, structure=np.ones((3, 3), bool), iterations=int(buffer_px))
    return grown
