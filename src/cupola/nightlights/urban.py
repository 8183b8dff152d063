"""What people compare with calibrated night lights across urban zones: inequality (Gini, Theil,
Lorenz curve), centre-periphery profiles in distance rings, deprived versus other areas, and
night light versus population. Pure computation on per-zone numbers (NumPy, SciPy).

Inequality. For zone values ``x`` (e.g. mean radiance) with weights ``w`` (area or population),
the Lorenz curve sorts zones by ``x`` and plots the cumulative share of ``w`` against the
cumulative share of ``w * x``; the Gini coefficient is one minus twice the area under it
(trapezoids, exact for grouped data), the Theil T index is ``sum s_i ln(x_i / mu)`` with
``s_i = w_i x_i / sum(w x)`` and ``mu`` the weighted mean (Theil 1967; Cowell 2011, *Measuring
Inequality*). Equal values give 0 for both.

Deprived versus other. Within each city, the difference of the median zone values (deprived minus
other) with a percentile bootstrap interval (zones resampled with replacement within each group;
Efron & Tibshirani 1993), the Mann-Whitney U test (two-sided) and its effect size, the
rank-biserial correlation ``r = 2 U_deprived / (n_d n_o) - 1`` (= Cliff's delta; negative when the
deprived zones are darker; Kerby 2014). ``ratio`` is the ratio of the medians, or for a measure in
dex (log10 residuals) ``10**difference``.

Light versus population. Pearson's r on log10 values with a Fisher-z interval, Spearman's rho with a
Fisher-z interval using the Bonett & Wright (2000) variance ``(1 + rho²/2) / (n - 3)``, per city and
pooled; an ordinary least-squares line of log10 light on log10 population density, whose residuals
(dex: log10 observed / expected) map where light departs from population.

>>> import numpy as np
>>> from cupola.nightlights.urban import gini, theil
>>> gini(np.array([5.0, 5.0, 5.0])), theil(np.array([5.0, 5.0, 5.0]))
(0.0, 0.0)
>>> round(gini(np.array([0.0, 0.0, 0.0, 1.0])), 3)   # one zone holds all the light
0.75
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from cupola.analysis.zonal import W_SR_PER_KM2_NW
from cupola.errors import InputError

__all__ = [
    "lorenz_curve",
    "gini",
    "theil",
    "Inequality",
    "inequality",
    "GroupComparison",
    "compare_groups",
    "Correlation",
    "correlate_log",
    "LogFit",
    "fit_log_line",
    "ring_profile",
    "DEFAULT_BOOTSTRAP",
]

#: bootstrap resamples of the deprived-versus-other difference
DEFAULT_BOOTSTRAP = 2000
#: confidence level of every interval
CONFIDENCE = 0.95
#: log10 values that spread less than this (dex) are taken as constant: no correlation, no line
MIN_SPREAD_DEX = 1e-6


def _clean(x: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    w = np.ones_like(x) if w is None else np.asarray(w, dtype=np.float64)
    if x.shape != w.shape:
        raise InputError(f"values ({x.shape}) and weights ({w.shape}) differ in shape")
    keep = np.isfinite(x) & np.isfinite(w) & (w > 0)
    x, w = x[keep], w[keep]
    if np.any(x < 0):
        raise InputError("inequality needs values of zero or more (radiance, light per person)")
    return x, w


def lorenz_curve(x: np.ndarray, w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative share of weight (population, area) and of ``w * x`` (light), zones sorted by
    ``x`` from darkest to brightest; both start at 0 and end at 1. Non-finite values and zones
    without weight are left out.

    >>> p, l = lorenz_curve(np.array([1.0, 3.0]))
    >>> p.tolist(), l.tolist()
    ([0.0, 0.5, 1.0], [0.0, 0.25, 1.0])
    """
    x, w = _clean(x, w)
    if x.size == 0 or np.sum(w * x) <= 0:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    order = np.argsort(x, kind="stable")
    cw = np.concatenate([[0.0], np.cumsum(w[order])])
    cl = np.concatenate([[0.0], np.cumsum((w * x)[order])])
    return cw / cw[-1], cl / cl[-1]


def gini(x: np.ndarray, w: np.ndarray | None = None) -> float:
    """Gini coefficient of ``x`` weighted by ``w``: 1 - 2 x the area under the Lorenz curve
    (0: every zone alike; towards 1: one zone has it all). NaN with fewer than two zones."""
    xc, wc = _clean(x, w)
    if xc.size < 2 or np.sum(wc * xc) <= 0:
        return math.nan
    p, lc = lorenz_curve(xc, wc)
    area = np.sum(np.diff(p) * (lc[1:] + lc[:-1]) / 2.0)
    return float(max(0.0, 1.0 - 2.0 * area))


def theil(x: np.ndarray, w: np.ndarray | None = None) -> float:
    """Theil T index of ``x`` weighted by ``w`` (0 when equal, ln(n) when one of n equal-weight zones
    has it all). NaN with fewer than two zones."""
    xc, wc = _clean(x, w)
    if xc.size < 2:
        return math.nan
    total = np.sum(wc * xc)
    if total <= 0:
        return math.nan
    mu = total / np.sum(wc)
    s = wc * xc / total
    pos = xc > 0
    return float(max(0.0, np.sum(s[pos] * np.log(xc[pos] / mu))))


@dataclass(frozen=True)
class Inequality:
    """Gini and Theil of one distribution across zones, and how many zones it covers."""

    values: str
    weights: str
    zones: int
    gini: float
    theil: float

    def to_dict(self) -> dict:
        return asdict(self)


def inequality(x: np.ndarray, w: np.ndarray | None, values: str, weights: str) -> Inequality:
    """Gini and Theil of ``x`` over zones weighted by ``w``, labelled for the report."""
    xc, _ = _clean(x, w)
    return Inequality(values, weights, int(xc.size), gini(x, w), theil(x, w))


# --- deprived versus other -----------------------------------------------------------------------


@dataclass(frozen=True)
class GroupComparison:
    """Deprived versus other zones of one city (NaN where a group has too few zones)."""

    city: str
    n_deprived: int
    n_other: int
    median_deprived: float
    median_other: float
    difference: float
    difference_low: float
    difference_high: float
    ratio: float
    mann_whitney_u: float
    p_value: float
    rank_biserial: float
    note: str = ""
    measure: str = "radiance_mean"

    def to_dict(self) -> dict:
        return asdict(self)


def compare_groups(
    deprived: np.ndarray,
    other: np.ndarray,
    city: str = "all",
    *,
    n_boot: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    measure: str = "radiance_mean",
) -> GroupComparison:
    """Median of ``deprived`` minus median of ``other`` with a 95 % percentile bootstrap interval,
    the two-sided Mann-Whitney U test and the rank-biserial effect size (see the module).

    >>> c = compare_groups(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0, 7.0]), "x")
    >>> c.difference, c.rank_biserial, round(c.p_value, 3)
    (-3.5, -1.0, 0.057)
    """
    from scipy import stats

    if n_boot < 1:
        raise InputError(f"`n_boot` must be at least 1, got {n_boot}")
    d = np.asarray(deprived, dtype=np.float64)
    o = np.asarray(other, dtype=np.float64)
    d, o = d[np.isfinite(d)], o[np.isfinite(o)]
    nd, no = int(d.size), int(o.size)
    nan = math.nan
    if nd < 2 or no < 2:
        note = f"too few zones to compare ({nd} deprived, {no} other; at least 2 each)"
        md = float(np.median(d)) if nd else nan
        mo = float(np.median(o)) if no else nan
        return GroupComparison(city, nd, no, md, mo, md - mo, nan, nan, nan, nan, nan, nan, note, measure)
    md, mo = float(np.median(d)), float(np.median(o))
    rng = np.random.default_rng(seed)
    boot = np.median(d[rng.integers(0, nd, (n_boot, nd))], axis=1) - np.median(
        o[rng.integers(0, no, (n_boot, no))], axis=1
    )
    alpha = (1.0 - CONFIDENCE) / 2.0
    lo, hi = np.quantile(boot, [alpha, 1.0 - alpha])
    test = stats.mannwhitneyu(d, o, alternative="two-sided")
    u = float(test.statistic)
    return GroupComparison(
        city=city,
        n_deprived=nd,
        n_other=no,
        median_deprived=md,
        median_other=mo,
        difference=md - mo,
        difference_low=float(lo),
        difference_high=float(hi),
        ratio=10.0 ** (md - mo) if measure.endswith("_dex") else md / mo if mo > 0 else nan,
        mann_whitney_u=u,
        p_value=float(test.pvalue),
        rank_biserial=2.0 * u / (nd * no) - 1.0,
        measure=measure,
    )


# --- light versus population ----------------------------------------------------------------------


@dataclass(frozen=True)
class Correlation:
    """Pearson (on log10 values) and Spearman correlation with 95 % intervals, for one city or
    pooled (``city`` 'all')."""

    city: str
    n: int
    pearson_r: float
    pearson_low: float
    pearson_high: float
    pearson_p: float
    spearman_rho: float
    spearman_low: float
    spearman_high: float
    spearman_p: float
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _fisher_interval(r: float, n: int, var_factor: float = 1.0) -> tuple[float, float]:
    from scipy import stats

    if n <= 3 or not math.isfinite(r):
        return math.nan, math.nan
    z = math.atanh(max(-0.999999999, min(0.999999999, r)))
    half = stats.norm.ppf(0.5 + CONFIDENCE / 2.0) * math.sqrt(var_factor / (n - 3))
    return math.tanh(z - half), math.tanh(z + half)


def _positive_logs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(np.where(keep, x, 1.0)), np.log10(np.where(keep, y, 1.0)), keep


def correlate_log(x: np.ndarray, y: np.ndarray, city: str = "all") -> Correlation:
    """Correlation of log10 ``x`` (population density) and log10 ``y`` (light); zones where either
    is zero, negative or missing are left out (the count is in ``n``). Spearman's rho is the same
    on the values and on their logs.

    >>> x = np.array([1.0, 10.0, 100.0, 1000.0, 10000.0])
    >>> c = correlate_log(x, 3.0 * x**0.5)
    >>> round(c.pearson_r, 6), round(c.spearman_rho, 6), c.n
    (1.0, 1.0, 5)
    """
    from scipy import stats

    lx, ly, keep = _positive_logs(x, y)
    lx, ly = lx[keep], ly[keep]
    n = int(lx.size)
    nan = math.nan
    if n < 3 or np.ptp(lx) < MIN_SPREAD_DEX or np.ptp(ly) < MIN_SPREAD_DEX:
        note = f"too few zones with light and population ({n}; at least 3 that vary)"
        return Correlation(city, n, nan, nan, nan, nan, nan, nan, nan, nan, note)
    pr = stats.pearsonr(lx, ly)
    sr = stats.spearmanr(lx, ly)
    r, rho = float(pr.statistic), float(sr.statistic)
    p_lo, p_hi = _fisher_interval(r, n)
    s_lo, s_hi = _fisher_interval(rho, n, 1.0 + rho * rho / 2.0)
    note = "" if n > 3 else "interval needs at least 4 zones"
    return Correlation(city, n, r, p_lo, p_hi, float(pr.pvalue), rho, s_lo, s_hi, float(sr.pvalue), note)


@dataclass(frozen=True)
class LogFit:
    """log10 y = intercept + slope * log10 x, fitted by least squares over ``n`` zones; ``slope`` is
    the elasticity of light with population density."""

    slope: float
    intercept: float
    n: int
    residual_sd_dex: float

    def to_dict(self) -> dict:
        return asdict(self)


def fit_log_line(x: np.ndarray, y: np.ndarray) -> tuple[LogFit, np.ndarray]:
    """The log-log line of ``y`` on ``x`` and each zone's residual in dex (log10 observed/expected;
    NaN where a zone has no positive x and y).

    >>> fit, res = fit_log_line(np.array([1.0, 10.0, 100.0]), np.array([2.0, 20.0, 200.0]))
    >>> round(fit.slope, 6), round(fit.intercept, 6), bool(np.all(np.abs(res) < 1e-9))
    (1.0, 0.30103, True)
    """
    lx, ly, keep = _positive_logs(x, y)
    residual = np.full(lx.shape, np.nan)
    n = int(keep.sum())
    if n < 2 or np.ptp(lx[keep]) < MIN_SPREAD_DEX:
        return LogFit(math.nan, math.nan, n, math.nan), residual
    slope, intercept = np.polyfit(lx[keep], ly[keep], 1)
    residual[keep] = ly[keep] - (intercept + slope * lx[keep])
    sd = float(np.std(residual[keep], ddof=2)) if n > 2 else math.nan
    return LogFit(float(slope), float(intercept), n, sd), residual


# --- centre and periphery -------------------------------------------------------------------------


def ring_profile(
    distance_km: np.ndarray,
    area_km2: np.ndarray,
    light_w_sr: np.ndarray,
    ring_km: float,
    population: np.ndarray | None = None,
    lit_area_km2: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Zones grouped in rings of ``ring_km`` by the distance of their centroid from the centre:
    per ring the zones, covered area, light, mean radiance (light / area, nW cm-2 sr-1), and with
    ``population`` its density and the light per person; ``lit_area_km2`` gives the lit fraction.

    >>> p = ring_profile(np.array([0.5, 1.5, 1.7]), np.ones(3), np.array([30.0, 10.0, 10.0]), 1.0)
    >>> p["ring_inner_km"].tolist(), p["radiance_mean"].tolist()
    ([0.0, 1.0], [3.0, 1.0])
    """
    if not (ring_km > 0 and math.isfinite(ring_km)):
        raise InputError(f"`ring_km` must be a positive width in km, got {ring_km!r}")
    d = np.asarray(distance_km, dtype=np.float64)
    a = np.asarray(area_km2, dtype=np.float64)
    light = np.asarray(light_w_sr, dtype=np.float64)
    ok = np.isfinite(d) & np.isfinite(a) & (a > 0) & np.isfinite(light)
    if not ok.any():
        return {"ring_inner_km": np.zeros(0), "ring_outer_km": np.zeros(0)}
    ring = np.floor(d / ring_km).astype(np.int64)
    n_rings = int(ring[ok].max()) + 1
    idx = np.where(ok, ring, 0)

    def total(v: np.ndarray) -> np.ndarray:
        return np.bincount(idx[ok], weights=np.asarray(v, dtype=np.float64)[ok], minlength=n_rings)

    zones = np.bincount(idx[ok], minlength=n_rings)
    area = total(a)
    light_sum = total(light)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "ring_inner_km": np.arange(n_rings) * ring_km,
            "ring_outer_km": (np.arange(n_rings) + 1) * ring_km,
            "zones": zones,
            "area_km2": area,
            "light_w_sr": light_sum,
            "radiance_mean": np.where(area > 0, light_sum / area / W_SR_PER_KM2_NW, np.nan),
        }
        if lit_area_km2 is not None:
            out["lit_fraction"] = np.where(area > 0, total(np.nan_to_num(lit_area_km2)) / area, np.nan)
        if population is not None:
            pop = total(np.nan_to_num(np.asarray(population, dtype=np.float64)))
            out["population"] = pop
            out["population_per_km2"] = np.where(area > 0, pop / area, np.nan)
            out["light_w_sr_per_person"] = np.where(pop > 0, light_sum / pop, np.nan)
    return out
