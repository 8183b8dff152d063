"""Grading of a hazard layer, after the Copernicus EMS rapid-mapping *grading* products (classes of
severity rather than one delineated class): each mapped pixel gets a grade, each polygon one grade.

- *burn*: the USGS FIREMON burn-severity classes of dNBR (Key & Benson 2006, "Landscape
  Assessment", USDA Forest Service RMRS-GTR-164-CD, table of dNBR ranges, unscaled): low severity
  0.10-0.27, moderate-low 0.27-0.44, moderate-high 0.44-0.66, high >= 0.66. Burnt pixels below
  0.10 (none, since the burn threshold is never under it) would be graded low.
- *change*: the change-vector magnitude of the changed pixels in up to three grades, split by
  automatic thresholds: the multi-class Otsu criterion (Liao, Chen & Chung 2001, "A fast algorithm
  for multilevel thresholding", J. Inf. Sci. Eng. 17, 713-727) on the magnitudes above the
  detection threshold; three classes when a clear valley of the histogram separates each adjacent
  pair (density at the threshold under half the lower peak), else two when it does, else one
  grade (a single population of change is not cut); each grade holds at least 10 % of the changed
  pixels. A proxy for the EMS damage grades (possibly damaged / damaged / destroyed): spectral
  change, not damage confirmed by photo-interpretation.

- *flood* with a DEM: the FwDET water depth (:mod:`cupola.hazards.depth`) in the classes
  :data:`~cupola.hazards.depth.DEPTH_CLASSES_M` (< 0.5, 0.5-1, 1-2, >= 2 m: legend bins, not a
  standard); without a DEM one grade.

- *fire*: each fire (a hotspot: 8-connected fire pixels, as in :mod:`cupola.hazards.frp`) by its
  fire radiative power, the sum of the FRP of its pixels, in the five FRP categories that Ichoku,
  Giglio, Wooster & Remer (2008, "Global characterization of biomass-burning patterns using
  satellite measurements of fire radiative energy", Remote Sens. Environ. 112, 2950-2962) set on
  the MODIS active-fire pixels to rank fires by strength (as earthquakes and hurricanes are):
  < 100, 100-500, 500-1000, 1000-1500, >= 1500 MW (:data:`FRP_CATEGORIES_MW`). Every pixel of a
  fire has the fire's grade, so the 3 x 3 majority leaves it alone.

Floods without a DEM carry a single grade (the class itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Grading",
    "DNBR_SEVERITY",
    "CHANGE_GRADES",
    "FRP_CATEGORIES_MW",
    "grade_fire",
    "grade_burn",
    "grade_change",
    "grade_flood_depth",
    "grade_layer",
    "majority_3x3",
]

#: (lower dNBR bound, grade name) after Key & Benson (2006), ascending
DNBR_SEVERITY = (
    (0.10, "low severity"),
    (0.27, "moderate-low severity"),
    (0.44, "moderate-high severity"),
    (0.66, "high severity"),
)
CHANGE_GRADES = ("low change", "moderate change", "high change")
#: (lower bound in MW, grade name) of a fire's radiative power: the fire-strength categories 1-5 of
#: Ichoku et al. (2008) for MODIS fire pixels, ascending
FRP_CATEGORIES_MW = (
    (0.0, "FRP category 1 (< 100 MW)"),
    (100.0, "FRP category 2 (100-500 MW)"),
    (500.0, "FRP category 3 (500-1000 MW)"),
    (1000.0, "FRP category 4 (1000-1500 MW)"),
    (1500.0, "FRP category 5 (>= 1500 MW)"),
)
#: fewest changed pixels for which more automatic thresholds are sought
MIN_PIXELS_FOR_GRADES = 50
#: two adjacent grades need a valley between them: the histogram at the threshold under this
#: share of the lower of the two peaks, or they are one grade
VALLEY_RATIO = 0.5
#: each grade must hold this share of the changed pixels (the 3 x 3 averaged magnitude puts a thin
#: rim of intermediate values around every strong change: a rim is not a grade)
MIN_GRADE_SHARE = 0.1


@dataclass(frozen=True)
class Grading:
    """``grade`` (rows, cols) uint8: 0 not mapped, k the grade ``names[k - 1]`` (ascending
    severity); ``bounds`` the lower score bound of each grade; ``method`` how they were chosen."""

    grade: np.ndarray
    names: tuple[str, ...]
    bounds: tuple[float, ...]
    method: str


def _digitize(score: np.ndarray, mask: np.ndarray, bounds: tuple[float, ...]) -> np.ndarray:
    s = np.nan_to_num(np.asarray(score, dtype=np.float64), nan=-np.inf)
    g = np.clip(np.digitize(s, np.asarray(bounds[1:])) + 1, 1, len(bounds))
    return np.where(np.asarray(mask, bool), g, 0).astype(np.uint8)


def grade_burn(dnbr_values: np.ndarray, mask: np.ndarray) -> Grading:
    """USGS burn-severity grades (:data:`DNBR_SEVERITY`) of the burnt pixels ``mask``."""
    bounds = tuple(b for b, _ in DNBR_SEVERITY)
    names = tuple(n for _, n in DNBR_SEVERITY)
    return Grading(_digitize(dnbr_values, mask, bounds), names, bounds, "dNBR severity classes (Key & Benson 2006)")


def grade_change(magnitude: np.ndarray, mask: np.ndarray, threshold: float) -> Grading:
    """Three grades of the change magnitude of the changed pixels ``mask``: the detection
    ``threshold`` and two three-class Otsu thresholds on the changed pixels' magnitudes (one grade
    when there are too few pixels or they do not split)."""
    from skimage.filters import threshold_multiotsu

    m = np.asarray(mask, bool)
    v = np.asarray(magnitude, dtype=np.float64)[m]
    v = v[np.isfinite(v)]
    if v.size >= MIN_PIXELS_FOR_GRADES and float(v.min()) < float(v.max()):
        for classes in (3, 2):
            try:
                ts = [float(x) for x in threshold_multiotsu(v, classes=classes, nbins=256)]
            except ValueError:  # fewer distinct values than classes
                continue
            edges = [-np.inf, *ts, np.inf]
            shares = [float(np.mean((v > a) & (v <= b))) for a, b in zip(edges[:-1], edges[1:])]
            if min(shares) < MIN_GRADE_SHARE:
                continue
            if not all(_separated(v, lo, t, hi) for lo, t, hi in zip(edges[:-2], ts, edges[2:])):
                continue
            bounds = (float(threshold), *ts)
            names = CHANGE_GRADES if classes == 3 else (CHANGE_GRADES[0], CHANGE_GRADES[2])
            how = f"change magnitude: detection threshold {threshold:.3g}, {classes}-class Otsu " + ", ".join(
                f"{t:.3g}" for t in ts
            )
            return Grading(_digitize(magnitude, m, bounds), names, bounds, how)
    why = "too few changed pixels" if v.size < MIN_PIXELS_FOR_GRADES else "no separate levels of change"
    return Grading(m.astype(np.uint8), CHANGE_GRADES[:1], (float(threshold),), f"one grade ({why})")


def _separated(v: np.ndarray, lo: float, t: float, hi: float) -> bool:
    """Whether the values of ``v`` in (lo, hi] have a histogram valley at ``t``."""
    from cupola.hazards.threshold import has_valley

    return has_valley(v[(v > lo) & (v <= hi)], t, VALLEY_RATIO)


def grade_fire(frp_w: np.ndarray, mask: np.ndarray) -> Grading:
    """The FRP categories (:data:`FRP_CATEGORIES_MW`) of the fires of ``mask``: each 8-connected
    group of fire pixels takes the category of the sum of ``frp_w`` (W per pixel) over it.

    >>> m = np.zeros((3, 5), bool); m[1, 0] = m[1, 3] = m[2, 4] = True
    >>> w = np.where(m, 4e8, 0.0)        # 400 MW a pixel: one single pixel, one pair on a diagonal
    >>> grade_fire(w, m).grade.tolist()
    [[0, 0, 0, 0, 0], [2, 0, 0, 3, 0], [0, 0, 0, 0, 3]]
    """
    from scipy import ndimage

    m = np.asarray(mask, bool)
    labels, n = ndimage.label(m, structure=np.ones((3, 3), bool))
    power = np.nan_to_num(np.asarray(frp_w, dtype=np.float64), nan=0.0)
    per_fire = np.bincount(labels.ravel(), weights=np.where(m, power, 0.0).ravel(), minlength=n + 1) / 1e6
    bounds = tuple(b for b, _ in FRP_CATEGORIES_MW)
    names = tuple(name for _, name in FRP_CATEGORIES_MW)
    how = "fire radiative power of each fire (8-connected pixels) in the categories of Ichoku et al. 2008 (MW)"
    return Grading(_digitize(per_fire[labels], m, bounds), names, bounds, how)


def grade_flood_depth(depth_m: np.ndarray, mask: np.ndarray) -> Grading:
    """Depth classes (:data:`~cupola.hazards.depth.DEPTH_CLASSES_M`) of the flooded pixels ``mask``;
    a flooded pixel without a depth (no DEM there) is graded in the shallowest class."""
    from cupola.hazards.depth import DEPTH_CLASSES_M

    bounds = tuple(b for b, _ in DEPTH_CLASSES_M)
    names = tuple(n for _, n in DEPTH_CLASSES_M)
    d = np.nan_to_num(np.asarray(depth_m, dtype=np.float64), nan=0.0)
    return Grading(_digitize(d, mask, bounds), names, bounds, "FwDET water depth classes (m)")


def grade_layer(
    kind: str,
    score: np.ndarray,
    mask: np.ndarray,
    threshold: float,
    class_name: str,
    depth_m: np.ndarray | None = None,
    frp_w: np.ndarray | None = None,
) -> Grading:
    """The grading of a hazard layer of ``kind`` (see the module); ``depth_m`` grades a flood,
    ``frp_w`` (W per fire pixel) an active-fire map."""
    if kind == "fire" and frp_w is not None:
        return grade_fire(frp_w, mask)
    if kind == "flood" and depth_m is not None:
        return grade_flood_depth(depth_m, mask)
    if kind == "burn":
        return grade_burn(score, mask)
    if kind == "change":
        return grade_change(score, mask, threshold)
    return Grading(np.asarray(mask, bool).astype(np.uint8), (class_name,), (float(threshold),), "one class")


def majority_3x3(grade: np.ndarray) -> np.ndarray:
    """Each mapped pixel's grade replaced by the most common grade among the mapped pixels of its
    3 x 3 neighbourhood (ties to the higher grade); unmapped pixels stay 0. Removes the speckle
    of single pixels between grades so that grade polygons follow regions, not pixels.

    >>> g = np.array([[1, 1, 1], [1, 3, 1], [1, 1, 0]], np.uint8)
    >>> majority_3x3(g).tolist()
    [[1, 1, 1], [1, 1, 1], [1, 1, 0]]
    """
    from scipy import ndimage

    g = np.asarray(grade, dtype=np.uint8)
    n = int(g.max())
    if n <= 1:
        return g.copy()
    counts = np.stack(
        [ndimage.uniform_filter((g == k).astype(np.float32), 3, mode="constant") for k in range(1, n + 1)]
    )
    best = (n - np.argmax(counts[::-1], axis=0)).astype(np.uint8)  # ties: the higher grade
    return np.where(g > 0, best, 0).astype(np.uint8)
