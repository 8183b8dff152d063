"""Colour indices of night lights and a lamp-type class map fitted on real lamp spectra.

Ratios of band signals, G/R and B/G, tell sodium light from white light because the spectra put
their light in different places: high- and low-pressure sodium (HPS, LPS) and amber LEDs almost
all in the yellow-red, so G/R and above all B/G are low; white light (phosphor LEDs, metal halide,
fluorescent, mercury, incandescent and halogen) spreads over the whole visible range, and its
G/R and B/G grow together with the colour temperature.

The classes are fitted on the synthetic colours of 220 measured lamp spectra
(:mod:`cupola.analysis.lamps`, table ``cupola/data/lamps/lamp_colours_<camera>.csv`` written
by ``tools/lamp_ratios.py``) in the camera's own system: the ratios of channel signals a Nikon
D3S (default) or D3 records through the station's window and a clear atmosphere, with the
published channel curves each scaled to a peak of 1.

Model
    For each class a Gaussian kernel density in (ln G/R, ln B/G) over its lamps: an isotropic
    kernel of 0.15 (:data:`KERNEL_LOG`, 15 % in each ratio) widened by the measurement noise of a
    good pixel (5 %, :data:`NOISE_LOG`), and equal class priors (the library's mix of lamps is not
    a city's). The posterior of each class (:func:`lamp_probabilities`) follows from Bayes' rule.
    A kernel density rather than one Gaussian a class (quadratic discriminant), because white
    light lies along a curved band from 2200 K to 9000 K that a single Gaussian smears into the
    sodium region; rather than logistic regression, because a density also says when a pixel is
    far from every lamp measured (more than :data:`MAX_DISTANCE` = 4 kernel widths, a factor 1.9
    in a ratio, from every lamp), which is then "unclassified". One kernel width for every class,
    not Scott's rule per class: the sodium/amber lamps are few and spread unevenly, and a kernel
    from their covariance let that class claim every colour away from the white band. The width
    is the one where leave-one-out accuracy stops rising (0.05-0.15 tried, both cameras).

Classes (:data:`LAMP_CLASSES`)
    Decided from the data (:func:`merge_inseparable`): starting from the lamp families of the
    library, the pair of classes that leave-one-lamp-out classification confuses most is merged
    until no class has more than 15 % of its lamps taken for another. What remains: high-pressure
    sodium; white (LED, fluorescent, metal halide, mercury, incandescent, halogen); amber (LPS and
    amber, filtered or single-colour LEDs, which a lamp with LPS alone cannot stand for). The
    camera's two colours do not separate the white technologies: at equal colour temperature an
    LED, a fluorescent, a metal halide and a halogen lamp have the same G/R and B/G within the
    spread of each type; their colour says their CCT, not their technology.

Inputs in another system: :func:`camera_ratios_from_radiance` turns the star-calibrated radiance
ratios of :mod:`cupola.nightlights.radiance` (Vega-equivalent, corrected for window and
atmosphere) into this camera system before classification.

References:

* Sánchez de Miguel, A., Kyba, C. C. M., Aubé, M., Zamorano, J., Cardiel, N., Tapia, C., Bennie, J.,
  Gaston, K. J. (2019). Colour remote sensing of the impact of artificial light at night (I): The
  potential of the International Space Station and other DSLR-based platforms. Remote Sensing of
  Environment 224, 92-103.
* Aubé, M., Roby, J., Kocifaj, M. (2013). Evaluating potential spectral impacts of various
  artificial lights on melatonin suppression, photosynthesis, and star visibility. PLOS ONE 8,
  e67798 (the LSPDD lamp spectra).
* Elvidge, C. D., Keith, D. M., Tuttle, B. T., Baugh, K. E. (2010). Spectral identification of
  lighting type and character. Sensors 10, 3961-3988.

Example
-------
>>> import numpy as np
>>> ratios = np.array([[0.6, 1.1, 0.4, 0.3], [0.18, 0.5, 0.03, 3.0]])  # HPS, 4000 K, LPS, nothing
>>> classify_lamps(ratios).tolist()
[1, 2, 3, 0]
>>> p = lamp_probabilities(ratios)  # one row a class, summing to 1
>>> [round(float(v), 2) for v in p[:, 1]]
[0.0, 1.0, 0.0]
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = [
    "LampClass",
    "LAMP_CLASSES",
    "CLASS_NODATA",
    "CLASS_UNCLASSIFIED",
    "colour_ratios",
    "classify_lamps",
    "lamp_probabilities",
    "camera_ratios_from_radiance",
    "LampTable",
    "read_lamp_table",
    "lamp_family",
    "LampModel",
    "LampGrid",
    "fit_lamp_model",
    "lamp_model",
    "lamp_groups",
    "leave_one_out",
    "merge_inseparable",
]

CLASS_UNCLASSIFIED = 0
CLASS_NODATA = 255

#: Kernel noise floor: the standard deviation of ln(ratio) of a good pixel (5 %)
NOISE_LOG = 0.05
#: Kernel width in ln(ratio) of the class densities, before the noise is added
KERNEL_LOG = 0.15
#: A pixel farther than this many kernel standard deviations from every lamp of every class is
#: unclassified
MAX_DISTANCE = 4.0
#: Ratios below this are not measured (noise of B for sodium light): they count as this value
MIN_RATIO = 0.02
#: An "LED" whose melanopic DER is below this is an amber, filtered or single-colour LED, not a
#: phosphor-converted white one (white LEDs of the library: >= 0.24; amber: <= 0.13)
AMBER_LED_MEL_DER = 0.15
#: Cameras with a table in cupola/data/lamps
CAMERAS = ("d3s", "d3")


@dataclass(frozen=True)
class LampClass:
    """One class of the lamp map: ``code`` in the class raster, a short ``name`` for legends,
    the lamp ``families`` of the table it is fitted on (:func:`lamp_family`) and a plot ``colour``."""

    code: int
    name: str
    families: tuple[str, ...]
    colour: str

    @property
    def description(self) -> str:
        return f"{self.name} ({', '.join(self.families)})"


#: The classes the camera tells apart (module docstring; ``merge_inseparable`` reproduces them).
LAMP_CLASSES = (
    LampClass(1, "high-pressure sodium", ("HPS",), "#f39c12"),
    LampClass(2, "white", ("LED", "CFL", "FL", "MH", "CMH", "MV", "INC", "Halo"), "#3498db"),
    LampClass(3, "amber", ("LPS", "LED-amber"), "#c0392b"),
)


def colour_ratios(radiance: np.ndarray, *, min_r: float = 0.0, min_g: float = 0.0) -> np.ndarray:
    """(2, h, w) float32: G/R and B/G of a (3, h, w) R, G, B radiance.

    NaN where a band is NaN, or R is below ``min_r`` or G below ``min_g`` (give a few times the
    noise: ratios of noise are meaningless). B is not thresholded, so that sodium light, which has
    almost none, keeps its colour; a negative B (noise) gives B/G = 0.
    """
    r, g, b = radiance[0], radiance[1], radiance[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (r > max(min_r, 0.0)) & (g > max(min_g, 0.0)) & np.isfinite(b)
        gr = np.where(ok, g / r, np.nan).astype(np.float32)
        bg = np.where(ok, np.maximum(b, 0.0) / g, np.nan).astype(np.float32)
    return np.stack([gr, bg])


# -- the lamp table ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LampTable:
    """The synthetic colours of the lamp library through one camera (one row a lamp spectrum)."""

    camera: str
    file: tuple[str, ...]
    type: tuple[str, ...]
    g_r: np.ndarray
    b_g: np.ndarray
    sp_ratio: np.ndarray
    sli: np.ndarray
    mel_der: np.ndarray
    cct_k: np.ndarray
    duv: np.ndarray
    a0v_g_r: float
    a0v_b_g: float

    def __len__(self) -> int:
        return len(self.file)

    @property
    def family(self) -> tuple[str, ...]:
        return tuple(lamp_family(t, m) for t, m in zip(self.type, self.mel_der))

    @property
    def log_ratios(self) -> np.ndarray:
        """(n, 2) ln G/R, ln B/G (ratios floored at :data:`MIN_RATIO`)."""
        return _log_features(self.g_r, self.b_g)


def lamp_family(lamp_type: str, mel_der: float) -> str:
    """The family of a lamp in the table: its type, except ``LED4000k`` -> ``LED`` and an LED with
    little blue (melanopic DER < :data:`AMBER_LED_MEL_DER`) -> ``LED-amber``."""
    if lamp_type.startswith("LED"):
        return "LED-amber" if mel_der < AMBER_LED_MEL_DER else "LED"
    return lamp_type


def _data_dir():
    return resources.files("cupola") / "data" / "lamps"


@lru_cache(maxsize=4)
def read_lamp_table(camera: str = "d3s", path: str | Path | None = None) -> LampTable:
    """The lamp table of ``camera`` (``d3s`` or ``d3``), bundled with cupola, or the one at ``path``."""
    from cupola.errors import InputError
    from cupola.io.tables import read_table

    cam = camera.lower()
    if path is None and cam not in CAMERAS:
        raise InputError(f"camera: no lamp table for {camera!r}; expected one of {', '.join(CAMERAS)}")
    p = Path(str(_data_dir() / f"lamp_colours_{cam}.csv")) if path is None else Path(path)
    num = ("g_r", "b_g", "sp_ratio", "sli", "mel_der", "cct_k", "duv")
    table = read_table(p, "lamps", required=("file", "type", *num))
    rows = list(table)
    cols = {c: np.array([r.number(c) for r in rows]) for c in num}
    cams = read_table(Path(str(_data_dir() / "cameras.csv")), "cameras", required=("camera", "a0v_g_r", "a0v_b_g"))
    a0v = {r.text("camera").lower(): (r.number("a0v_g_r"), r.number("a0v_b_g")) for r in cams}
    if cam not in a0v:
        raise InputError(f"camera: no A0 V star colours for {camera!r} in cameras.csv")
    return LampTable(
        cam,
        tuple(r.text("file") for r in rows),
        tuple(r.text("type") for r in rows),
        a0v_g_r=a0v[cam][0],
        a0v_b_g=a0v[cam][1],
        **cols,
    )


def _log_features(g_r, b_g) -> np.ndarray:
    """(..., 2) ln of the ratios floored at MIN_RATIO; NaN where a ratio is NaN or G/R <= 0."""
    gr = np.asarray(g_r, np.float64)
    bg = np.asarray(b_g, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(gr) & np.isfinite(bg) & (gr > 0) & (bg >= 0)
        x = np.stack([np.log(np.maximum(gr, MIN_RATIO)), np.log(np.maximum(bg, MIN_RATIO))], axis=-1)
    x[~ok] = np.nan
    return x


# -- the model --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _ClassKernels:
    centres: np.ndarray  # (n, 2) ln ratios of the class's lamps
    precision: np.ndarray  # (2, 2) inverse kernel covariance
    log_norm: float  # log of the kernel's normalisation and 1/n


def _kernels(x: np.ndarray, noise_log: float, kernel_log: float | None) -> _ClassKernels:
    n = len(x)
    if kernel_log is not None:
        cov = kernel_log**2 * np.eye(2)
    else:
        cov = np.cov(x.T) * n ** (-1.0 / 3.0) if n >= 3 else np.zeros((2, 2))
    h = cov + noise_log**2 * np.eye(2)
    log_norm = -np.log(n) - np.log(2 * np.pi) - 0.5 * np.log(np.linalg.det(h))
    return _ClassKernels(x, np.linalg.inv(h), float(log_norm))


def _class_terms(k: _ClassKernels, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log density of the class and the smallest kernel distance (sigmas) at points ``x`` (m, 2)."""
    xp = x @ k.precision
    cp = k.centres @ k.precision
    # squared Mahalanobis distances by the expanded quadratic form (matrix products, no (m, n, 2))
    m2 = np.einsum("mi,mi->m", xp, x)[:, None] - 2.0 * (xp @ k.centres.T) + np.einsum("ni,ni->n", cp, k.centres)
    np.maximum(m2, 0.0, out=m2)
    lo = m2.min(axis=1)
    # log-sum-exp around the nearest kernel
    logp = np.log(np.exp(-0.5 * (m2 - lo[:, None])).sum(axis=1)) - 0.5 * lo + k.log_norm
    return logp, np.sqrt(lo)


@dataclass(frozen=True, eq=False)
class LampModel:
    """Kernel-density classes of lamp colours (module docstring); build with :func:`fit_lamp_model`."""

    classes: tuple[LampClass, ...]
    kernels: tuple[_ClassKernels, ...]
    camera: str
    max_distance: float = MAX_DISTANCE

    def evaluate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(posteriors (k, m), typical (m,) bool) at ``x`` (m, 2) ln ratios (finite)."""
        logp = np.empty((len(self.kernels), len(x)))
        dist = np.empty_like(logp)
        for i, k in enumerate(self.kernels):
            logp[i], dist[i] = _class_terms(k, x)
        logp -= logp.max(axis=0, keepdims=True)
        post = np.exp(logp)
        post /= post.sum(axis=0, keepdims=True)
        return post, dist.min(axis=0) <= self.max_distance

    @cached_property
    def grid(self) -> LampGrid:
        """The classes and posteriors on a grid of (ln G/R, ln B/G), computed on first use."""
        return _grid(self)


def fit_lamp_model(
    table: LampTable,
    classes: Sequence[LampClass] = LAMP_CLASSES,
    *,
    keep: np.ndarray | None = None,
    noise_log: float = NOISE_LOG,
    kernel_log: float | None = KERNEL_LOG,
    max_distance: float = MAX_DISTANCE,
) -> LampModel:
    """Fit the class kernels on the lamps of ``table`` (those where ``keep`` is True); a lamp whose
    family is in no class is left out. Classes without a lamp are dropped. ``kernel_log`` None
    takes Scott's rule per class (``n^(-1/3)`` times the class's covariance) instead."""
    x = table.log_ratios
    fam = np.array(table.family)
    use = np.ones(len(table), bool) if keep is None else np.asarray(keep, bool)
    kept, kernels = [], []
    for cl in classes:
        m = use & np.isin(fam, cl.families) & np.isfinite(x).all(axis=1)
        if m.any():
            kept.append(cl)
            kernels.append(_kernels(x[m], noise_log, kernel_log))
    return LampModel(tuple(kept), tuple(kernels), table.camera, max_distance)


# Pixels are classified by looking up a grid in (ln G/R, ln B/G): exact to half the grid step (1 %),
# far below the noise of a pixel's ratio, and independent of the number of lamps.
_GRID_LO = np.log(MIN_RATIO)
_GRID_HI = np.log(8.0)
_GRID_STEP = 0.02


@dataclass(frozen=True, eq=False)
class LampGrid:
    """A model evaluated on a grid: ``axis`` (n,) the ln G/R and ln B/G of the grid lines (the same
    for both), ``posteriors`` (k, n, n) and class ``codes`` (n, n), indexed [ln G/R, ln B/G]."""

    axis: np.ndarray
    posteriors: np.ndarray
    codes: np.ndarray


def _grid(model: LampModel) -> LampGrid:
    axis = np.arange(_GRID_LO, _GRID_HI + _GRID_STEP / 2, _GRID_STEP)
    n = len(axis)
    xx = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    post = np.empty((len(model.classes), len(xx)), np.float32)
    codes = np.empty(len(xx), np.uint8)
    codes_of = np.array([c.code for c in model.classes], np.uint8)
    for s in range(0, len(xx), 8192):  # bounded memory: 8192 points x lamps at a time
        p, typical = model.evaluate(xx[s : s + 8192])
        post[:, s : s + 8192] = p
        codes[s : s + 8192] = np.where(typical, codes_of[np.argmax(p, axis=0)], CLASS_UNCLASSIFIED)
    return LampGrid(axis, post.reshape(-1, n, n), codes.reshape(n, n))


@lru_cache(maxsize=4)
def lamp_model(camera: str = "d3s") -> LampModel:
    """The model of :data:`LAMP_CLASSES` fitted on the bundled table of ``camera`` (cached)."""
    return fit_lamp_model(read_lamp_table(camera))


def _lookup(ratios: np.ndarray, model: LampModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid indices (i, j) of each pixel and whether it has a colour and lies on the grid."""
    r = np.asarray(ratios)
    if r.ndim < 1 or r.shape[0] != 2:
        raise ValueError(f"ratios: expected shape (2, ...) with G/R and B/G, got {r.shape}")
    x = _log_features(r[0], r[1])
    valid = np.isfinite(x).all(axis=-1)
    f = (np.nan_to_num(x, nan=_GRID_LO) - _GRID_LO) / _GRID_STEP
    n = model.grid.codes.shape[0]
    idx = np.rint(f).astype(np.int64)
    on = valid & (idx >= 0).all(axis=-1) & (idx < n).all(axis=-1)
    idx = np.clip(idx, 0, n - 1)
    return idx[..., 0], idx[..., 1], np.stack([valid, on])


def classify_lamps(ratios: np.ndarray, model: LampModel | None = None) -> np.ndarray:
    """uint8 class codes of (2, ...) G/R, B/G ratios in the camera system: :data:`LAMP_CLASSES`
    codes, :data:`CLASS_UNCLASSIFIED` (0) far from every lamp measured, :data:`CLASS_NODATA` (255)
    where a ratio is NaN or G/R is not positive. B/G of 0 (no blue measured) is valid."""
    m = model or lamp_model()
    i, j, (valid, on) = _lookup(ratios, m)
    out = np.full(i.shape, CLASS_NODATA, np.uint8)
    out[valid] = CLASS_UNCLASSIFIED
    out[on] = m.grid.codes[i[on], j[on]]
    return out


def lamp_probabilities(ratios: np.ndarray, model: LampModel | None = None) -> np.ndarray:
    """(k, ...) float32 posterior probability of each class of ``model.classes`` (default
    :data:`LAMP_CLASSES`) at (2, ...) G/R, B/G ratios; they sum to 1 wherever the ratios are valid
    (also where :func:`classify_lamps` says unclassified: compare them there with care) and are
    NaN where not."""
    m = model or lamp_model()
    i, j, (valid, on) = _lookup(ratios, m)
    k = len(m.classes)
    out = np.full((k, *i.shape), np.nan, np.float32)
    out[:, on] = m.grid.posteriors[:, i[on], j[on]]
    off = valid & ~on  # beyond the grid: the exact posteriors
    if off.any():
        x = _log_features(np.asarray(ratios)[0][off], np.asarray(ratios)[1][off])
        out[:, off] = m.evaluate(x)[0]
    return out


def camera_ratios_from_radiance(
    ratios: np.ndarray,
    band_irradiance_w_m2: dict,
    *,
    window_transmission: dict | None = None,
    extinction_mag: dict | None = None,
    camera: str = "d3s",
) -> np.ndarray:
    """(2, ...) camera-system G/R, B/G from ratios of star-calibrated band radiance.

    Band radiance of :mod:`cupola.nightlights.radiance` is Vega-equivalent: an A0 V star's ratios
    are ``E0_G / E0_R`` and ``E0_B / E0_G`` (``band_irradiance_w_m2``), where the camera records
    the A0 V star's synthetic ratios of the lamp table (``cameras.csv``). Give
    ``window_transmission`` when the radiance was divided by it and ``extinction_mag`` (mag per
    airmass, R, G, B) when it was corrected for the atmosphere: one vertical airmass is put back,
    as in the lamp table. NaN stays NaN.
    """
    t = read_lamp_table(camera)
    e0 = band_irradiance_w_m2
    f_gr = e0["R"] / e0["G"] * t.a0v_g_r
    f_bg = e0["G"] / e0["B"] * t.a0v_b_g
    if window_transmission is not None:
        w = window_transmission
        f_gr *= w["G"] / w["R"]
        f_bg *= w["B"] / w["G"]
    if extinction_mag is not None:
        k = extinction_mag
        f_gr *= 10 ** (-0.4 * (k["G"] - k["R"]))
        f_bg *= 10 ** (-0.4 * (k["B"] - k["G"]))
    r = np.asarray(ratios)
    return np.stack([r[0] * np.float32(f_gr), r[1] * np.float32(f_bg)])


# -- validation: leave one lamp out, and which classes the camera separates -------------------------


def lamp_groups(table: LampTable, *, same_within_log: float = 0.005) -> np.ndarray:
    """(n,) int: lamps that are one lamp measured or processed twice share a group: the same file
    name up to a ``colorpy``/``jaz`` suffix, or the same type with both ratios within
    ``same_within_log`` (0.5 %). Leave-one-out leaves a whole group out."""
    stems = [f.removesuffix(".dat").removesuffix("colorpy").removesuffix("jaz") for f in table.file]
    x = table.log_ratios
    parent = list(range(len(table)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in itertools.combinations(range(len(table)), 2):
        close = table.type[i] == table.type[j] and bool(np.all(np.abs(x[i] - x[j]) < same_within_log))
        if stems[i] == stems[j] or close:
            parent[root(i)] = root(j)
    roots = [root(i) for i in range(len(table))]
    _, groups = np.unique(roots, return_inverse=True)
    return groups


def leave_one_out(
    table: LampTable,
    classes: Sequence[LampClass] = LAMP_CLASSES,
    *,
    subset: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    **fit_kw,
) -> np.ndarray:
    """(n,) uint8: the class code each lamp gets from a model fitted without its group
    (``groups``, default :func:`lamp_groups`); 255 for lamps outside ``subset`` (bool, default all)
    or in no class. ``fit_kw`` go to :func:`fit_lamp_model`."""
    groups = lamp_groups(table) if groups is None else groups
    fam = np.array(table.family)
    member = np.zeros(len(table), bool)
    for cl in classes:
        member |= np.isin(fam, cl.families)
    use = member if subset is None else member & np.asarray(subset, bool)
    x = table.log_ratios
    out = np.full(len(table), CLASS_NODATA, np.uint8)
    for g in np.unique(groups[use]):
        test = use & (groups == g)
        model = fit_lamp_model(table, classes, keep=use & (groups != g), **fit_kw)
        post, typical = model.evaluate(x[test])
        codes = np.array([c.code for c in model.classes], np.uint8)
        out[test] = np.where(typical, codes[np.argmax(post, axis=0)], CLASS_UNCLASSIFIED)
    return out


def merge_inseparable(table: LampTable, *, min_separation: float = 0.85, **fit_kw) -> list[tuple]:
    """Merge lamp families the camera cannot tell apart, from the data.

    Start with one class a family (:func:`lamp_family`). A family with one independent lamp
    (group) cannot be tested by leaving it out: it joins the class its lamp is classified as
    without it. Then, repeatedly, for every pair of classes a model of the pair alone classifies
    each of their lamps left out; the separation of the pair is 1 minus the larger of the
    fractions of either class's lamps taken for the other (unclassified lamps are no confusion).
    The pair with the lowest separation is merged while it is below ``min_separation``: 0.85, as
    with 7 lamps a class one lamp is 14 %, so it is the strictest the smallest classes can pass.

    Returns the steps: ``(kind, merged family tuple, separation)`` with kind ``"single"`` or
    ``"pair"``, and last ``("final", classes as tuples of families, lowest pair separation)``.
    """
    fam = np.array(table.family)
    groups = lamp_groups(table)
    current: list[tuple[str, ...]] = [(str(f),) for f in sorted(set(fam))]
    steps: list[tuple] = []

    def as_classes(sets):
        return [LampClass(i + 1, "+".join(s), s, "") for i, s in enumerate(sets)]

    for f in map(str, sorted(set(fam))):
        if len(set(groups[fam == f])) == 1 and len(current) > 1:
            pred = leave_one_out(table, as_classes(current), groups=groups, **fit_kw)[fam == f]
            code = int(np.bincount(pred[pred != CLASS_UNCLASSIFIED], minlength=1).argmax()) if pred.any() else 0
            if code:
                host = current[code - 1]
                current = [s for s in current if s not in (host, (f,))] + [tuple(sorted(host + (f,)))]
                current.sort()
                steps.append(("single", tuple(sorted(host + (f,))), 0.0))
    lowest = 1.0
    while len(current) > 1:
        lowest, pair = 2.0, (current[0], current[1])
        for a, b in itertools.combinations(current, 2):
            sub = np.isin(fam, a + b)
            pred = leave_one_out(table, as_classes([a, b]), subset=sub, groups=groups, **fit_kw)
            # how often each class's lamps are taken for the other one (unclassified is no confusion)
            mixed = [float(np.mean(pred[np.isin(fam, s)] == other)) for other, s in ((2, a), (1, b))]
            acc = 1.0 - max(mixed)
            if acc < lowest:
                lowest, pair = acc, (a, b)
        if lowest >= min_separation:
            break
        a, b = pair
        current = sorted([s for s in current if s not in (a, b)] + [tuple(sorted(a + b))])
        steps.append(("pair", tuple(sorted(a + b)), lowest))
    steps.append(("final", tuple(current), lowest))
    return steps
