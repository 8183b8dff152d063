"""Cloud masks for both images of a pair, so that clouds are "no data" in a change map, not change.

Uncalibrated true-colour photos (no thermal or cirrus band, no reflectance scale) cannot use the
per-pixel tests of Fmask (Zhu & Woodcock 2012) as published, so the tests are taken relative to the
pair's own statistics:

- **temporal** (after the multi-temporal tests of MACCS, Hagolle et al. 2010, and Tmask, Zhu &
  Woodcock 2014): a pixel is much brighter than the clear-sky line between the two dates predicts.
  The line is a robust linear fit of the image's brightness (mean of R, G, B) on the other image's
  (:func:`clear_sky_fit`: Theil-Sen through the modes of quantile bins, so that clouds covering
  much of the frame do not bend it), so exposure and gain drop out; the residual is in robust
  sigmas of the clear side of the line. A bright surface that is bright in both images
  (desert, salt flat, snow field) is on the line: not cloud.
- **bright, and a cloud here rather than a darkening there**: the temporal test is symmetric (a
  flood or burn scar in the other image makes this one brighter than the line), so the pixel's
  rank in its own image's brightness must be above ``min_rank`` and further up its distribution
  than the other image's pixel is down its own (rank here + rank there > 1): a cloud is among the
  brightest pixels of its image, flood water and burn scars are among the darkest of theirs.
- **white**: Gomez-Chova et al. (2007) whiteness, sum |band - mean| / mean < ``max_whiteness``
  (0.4; Fmask uses 0.7 on calibrated reflectance): coloured surfaces (pink or turquoise lakes,
  vegetation, turbid water, tan desert) are out.

The defaults (8 sigmas, rank 0.75, whiteness 0.4) were chosen by a rule fixed beforehand on two
of four real backgrounds with real cloud pasted in (``benchmarks/bench_hazards.py cloud_tuning``).

A pixel passing all three is a cloud seed; the mask grows from the seeds (hysteresis, as in
Canny's edge detector) into connected pixels that pass the tests at ``grow_fraction`` of the
seed thresholds (the thin edges of a cloud), then is dilated by ``buffer_px`` pixels (Fmask
dilates its cloud mask by 3 pixels). An 'after' mask grows with a looser rank-sum test
(``grow_rank_sum`` 0.8): the grey core of a deck over the sea is no brighter than the brightest
land, and the sea under it is among the darkest pixels of the other image, so it fails the seeds'
rank-sum test; it is reached from the deck's bright rim (a 'before' mask does not grow that way:
there it would take in a flood of 'after').

For a thermal band (brightness temperature or LST, K) the temporal test is turned round: a cloud
top is *colder* than the clear-sky line predicts, by ``sigmas`` robust sigmas and at least
``min_cold_k`` kelvin (15 K: between the dates the sea and the land cool and warm differently by up
to ~10 K, which a single line does not follow; a low cloud top is 10-40 K colder than the ground),
and colder than the image's own median, and colder than the other date's pixel itself by
``min_cold_k`` (a pair across the daily cycle puts the sea, which hardly warms by day, far below
the land's line). A cloud mask that a product
ships (ECOSTRESS ``cloud_mask``) is better and can be given per image
(:func:`cupola.hazards.pair.read_mask_on_grid`).

Cloud shadows: :mod:`cupola.hazards.cloud_shadows` (when the acquisition time gives the sun).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "CLOUD_METHOD",
    "CloudMasks",
    "CloudTests",
    "clear_sky_fit",
    "clear_sky_residual",
    "whiteness",
    "rank",
    "rgb_cloud_mask",
    "thermal_cloud_mask",
    "auto_cloud_masks",
]


CLOUD_METHOD = (
    "cloud mask per image: a given mask raster, else RGB: brighter than the clear-sky line between the dates, "
    "among the image's brightest, white (Gomez-Chova 2007 whiteness) and brighter in NIR when there is one, grown "
    "and buffered; "
    "thermal: colder than the clear-sky line; masked pixels are no data"
)


@dataclass(frozen=True)
class CloudTests:
    """The thresholds of the RGB cloud tests (defaults chosen in ``bench_hazards.py cloud_tuning``)."""

    sigmas: float = 8.0  # temporal: brighter than the clear-sky line by this many robust sigmas
    min_rank: float = 0.75  # own image: brighter than this share of its pixels
    max_whiteness: float = 0.4  # Gomez-Chova et al. 2007 (Fmask uses 0.7 on calibrated reflectance)
    grow_fraction: float = 0.5  # the grown edge passes the tests at this fraction of the seed thresholds
    buffer_px: int = 2
    #: the grown part's rank-sum test in an 'after' image (a seed's is 1): a cloud's grey core over
    #: dark ground (sea) is less far up its image than the sea under it is down its own (rank here
    #: + rank there < 1), and is reached only by growing from the cloud's bright part; 0.8 chosen
    #: on two backgrounds from 1, 0.9, 0.8, 0.7, 0.5, 0 (``bench_hazards.py cloud_grow_tuning``)
    grow_rank_sum: float = 0.8


@dataclass(frozen=True)
class CloudMasks:
    """``before`` and ``after`` (rows, cols) bool cloud masks on the pair's grid; ``sources`` says
    where each came from (the model or a file)."""

    before: np.ndarray
    after: np.ndarray
    sources: dict[str, str]


def _sample(values: np.ndarray, n: int = 400_000) -> np.ndarray:
    v = np.asarray(values).ravel()
    return v if v.size <= n else v[:: int(np.ceil(v.size / n))]


def _mode(v: np.ndarray, bins: int = 64) -> float:
    """The mode of ``v`` from a histogram over its 1-99 % range, smoothed over 5 bins."""
    lo, hi = np.percentile(v, [1, 99])
    if hi <= lo:
        return float(np.median(v))
    h, edges = np.histogram(v, bins=bins, range=(lo, hi))
    h = np.convolve(h, np.ones(5), mode="same")
    k = int(np.argmax(h))
    return float(0.5 * (edges[k] + edges[k + 1]))


def _clear_side_sigma(res: np.ndarray) -> float:
    """1.4826 x the median magnitude of the negative residuals (the side clouds do not reach)."""
    neg = -res[res < 0]
    return max(1.4826 * float(np.median(neg)) if neg.size else 1.0, 1e-9)


def clear_sky_fit(x: np.ndarray, y: np.ndarray, bins: int = 32) -> tuple[np.ndarray, float]:
    """The residual of ``x`` from the clear-sky line ``x = a + b y`` between two dates, in the
    units of ``x`` (NaN where either is NaN), and its robust sigma.

    Clouds only brighten (or, for a thermal band with the signs turned, only cool) and may cover
    much of an image, so the line is not a least-squares fit: the pixels are cut into ``bins``
    quantile bins of ``y``, the clear value of each bin is the mode of its ``x`` (the clear ground
    is a tight population, the clouds are spread out), and the line is the Theil-Sen fit (median
    of the pairwise slopes) through the bins' (median y, mode x): bins where clouds are the mode
    are outliers to it; the line is then moved to the mode of the residuals near it. Sigma is
    1.4826 x the median of the negative residuals' magnitude: the clear side of the line, which
    clouds do not reach."""
    xs, ys = np.asarray(x, np.float32), np.asarray(y, np.float32)
    ok = np.isfinite(xs) & np.isfinite(ys)
    sx, sy = _sample(xs[ok]).astype(np.float64), _sample(ys[ok]).astype(np.float64)
    if sx.size < 10 * bins:
        return np.full(np.shape(x), np.nan, np.float32), 1.0
    order = np.argsort(sy)
    px, py = [], []
    for chunk in np.array_split(order, bins):
        px.append(_mode(sx[chunk]))
        py.append(float(np.median(sy[chunk])))
    bx, by = np.asarray(px), np.asarray(py)
    i, j = np.triu_indices(bins, 1)
    dy = by[j] - by[i]
    use = dy > 0
    b = float(np.median((bx[j] - bx[i])[use] / dy[use])) if use.any() else 1.0
    a = float(np.median(bx - b * by))
    res = sx - (a + b * sy)
    sig = _clear_side_sigma(res)
    # the bins' modes are coarse: centre the line on the mode of the residuals near it
    h, edges = np.histogram(res, bins=80, range=(-5 * sig, 5 * sig))
    h = np.convolve(h, np.ones(5), mode="same")
    k = int(np.argmax(h))
    a += 0.5 * float(edges[k] + edges[k + 1])
    sig = _clear_side_sigma(sx - (a + b * sy))
    return (xs - np.float32(a) - np.float32(b) * ys).astype(np.float32), sig


def clear_sky_residual(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`clear_sky_fit`'s residual in robust sigmas.

    >>> rng = np.random.default_rng(0)
    >>> y = rng.uniform(0, 1, 20000)
    >>> x = 2 * y + 1 + rng.normal(0, 0.01, y.size)
    >>> x[:6000] += rng.uniform(0.5, 2, 6000)  # 30 % clouds
    >>> r = clear_sky_residual(x, y)
    >>> bool((r[:6000] > 40).all()), round(float(np.mean(np.abs(r[6000:]) > 5)), 4)
    (True, 0.0)
    """
    res, sig = clear_sky_fit(x, y)
    return (res / np.float32(sig)).astype(np.float32)


def whiteness(red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> np.ndarray:
    """Gomez-Chova et al. (2007) whiteness: sum |band - mean| / mean (0 for grey; NaN for black).

    >>> float(whiteness(np.float32(0.5), np.float32(0.5), np.float32(0.5)))
    0.0
    >>> round(float(whiteness(np.float32(0.6), np.float32(0.3), np.float32(0.3))), 3)  # (0.2 + 0.1 + 0.1) / 0.4
    1.0
    """
    mean = (red + green + blue) / np.float32(3.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((np.abs(red - mean) + np.abs(green - mean) + np.abs(blue - mean)) / mean).astype(np.float32)


def rank(v: np.ndarray, bins: int = 4096) -> np.ndarray:
    """Each value's rank in the distribution of ``v``'s finite values: the share of them at or
    below it, at the resolution of ``bins`` equal steps of its range (a lookup: fast on 20 MP);
    NaN stays NaN.

    >>> [round(float(x), 2) for x in rank(np.array([4.0, 1.0, np.nan, 2.0, 3.0, 5.0]))]
    [0.8, 0.2, nan, 0.4, 0.6, 1.0]
    """
    s = _sample(v[np.isfinite(v)])
    if s.size == 0:
        return np.full(v.shape, np.nan, np.float32)
    lo, hi = float(s.min()), float(s.max())
    if hi <= lo:
        return np.where(np.isfinite(v), np.float32(1.0), np.float32(np.nan)).astype(np.float32)
    step = (hi - lo) / bins
    counts = np.bincount(np.clip(((s - lo) / step).astype(np.int64), 0, bins - 1), minlength=bins)
    cdf = (np.cumsum(counts) / s.size).astype(np.float32)
    with np.errstate(invalid="ignore"):
        idx = np.clip((np.nan_to_num(v, nan=lo) - np.float32(lo)) / np.float32(step), 0, bins - 1).astype(np.int32)
    return np.where(np.isfinite(v), cdf[idx], np.float32(np.nan)).astype(np.float32)


def _hysteresis(seed: np.ndarray, grow: np.ndarray, buffer_px: int) -> np.ndarray:
    """The connected regions (8-neighbours) of ``grow | seed`` that hold a seed, after an opening
    by 3 x 3 (a cloud is a patch: single pixels and threads that pass the tests are noise, which
    the buffer would otherwise spread over a whole area), dilated by ``buffer_px``."""
    from scipy import ndimage

    square = np.ones((3, 3), bool)
    region = ndimage.binary_opening(grow | seed, square)
    seed = seed & region
    labels, n = ndimage.label(region, structure=np.ones((3, 3), bool))
    if n == 0:
        return np.zeros(seed.shape, bool)
    hit = np.zeros(n + 1, bool)
    hit[np.unique(labels[seed])] = True
    hit[0] = False
    mask = hit[labels]
    if buffer_px > 0 and mask.any():
        mask = ndimage.binary_dilation(mask, np.ones((3, 3), bool), iterations=buffer_px)
    return mask


def rgb_cloud_mask(
    image: np.ndarray,
    other: np.ndarray,
    tests: CloudTests | None = None,
    nir: np.ndarray | None = None,
    nir_other: np.ndarray | None = None,
    which: str | None = None,
) -> np.ndarray:
    """The cloud mask of ``image`` (3, rows, cols: red, green, blue; any scale) given ``other``,
    the pair's other image on the same grid (the clear-sky line); NaN pixels are never cloud.
    With the NIR bands of both (``nir``, ``nir_other``) a cloud must also be brighter in NIR than
    its clear-sky line predicts, by half the temporal threshold (a cloud is bright across the
    visible and near infrared, as in Fmask's tests; a change that brightens the visible bands and
    darkens NIR, such as vegetation cleared to bright soil, is not a cloud).

    ``which`` ('before' or 'after'): the role of ``image`` in the pair. Only an 'after' mask grows
    with the looser rank-sum test ``tests.grow_rank_sum`` (into a deck's grey core over dark
    ground): to the rank-sum test a darkening in the other image (a flood, a burn scar: the
    event, which is in 'after') looks like a cloud over dark ground in this one, so a 'before'
    mask grown that way takes the flood in (measured: ``bench_hazards.py cloud_grow_tuning``);
    a 'before' mask, or ``which`` None, grows with the seeds' own rank-sum test."""
    t = tests or CloudTests()
    if which not in (None, "before", "after"):
        raise ValueError(f"rgb_cloud_mask: which={which!r} is not 'before' or 'after'")
    grow_sum = t.grow_rank_sum if which == "after" else 1.0
    r, g, b = (np.asarray(image[k], np.float32) for k in range(3))
    bright = (r + g + b) / np.float32(3.0)
    bright_other = np.asarray(other[:3], np.float32).mean(axis=0)
    resid = clear_sky_residual(bright, bright_other)
    own, theirs = rank(bright), rank(bright_other)
    white = whiteness(r, g, b)
    f = t.grow_fraction
    with np.errstate(invalid="ignore"):
        # a cloud here, not a darkening there: this pixel is further up its image's brightness
        # distribution than the other image's pixel is down its own (a flood or a burn scar in the
        # other image is darker than most of it; the ground here is ordinary)
        here = white < t.max_whiteness
        if nir is not None and nir_other is not None:
            here &= clear_sky_residual(np.asarray(nir, np.float32), np.asarray(nir_other, np.float32)) > f * t.sigmas
        seed = here & (own + theirs > 1.0) & (resid > t.sigmas) & (own > t.min_rank)
        grow = here & (own + theirs > grow_sum) & (resid > f * t.sigmas) & (own > f * t.min_rank)
    mask = _hysteresis(seed, grow, t.buffer_px)
    return mask & np.isfinite(bright)


def thermal_cloud_mask(
    image_k: np.ndarray,
    other_k: np.ndarray,
    sigmas: float = 4.0,
    min_cold_k: float = 15.0,
    buffer_px: int = 2,
    colder_than_other: bool = True,
) -> np.ndarray:
    """The cloud mask of a thermal band ``image_k`` (K) given the pair's other date ``other_k``:
    colder than the clear-sky line by ``sigmas`` robust sigmas and ``min_cold_k`` K, and below its
    own image's median; grown at half the thresholds, dilated by ``buffer_px``.

    ``colder_than_other``: also colder than the other date's pixel itself by ``min_cold_k`` (half
    that to grow). A pair across the daily cycle (night and afternoon) puts the sea far below the
    line, which the land sets (the land warms ~25 K by day, the sea ~1 K): without this test 18 %
    of a clear afternoon scene, its sea, was taken for cloud (``bench_hazards.py
    cloud_thermal_check``); a cloud top is colder than the ground under it in either image."""
    x = np.asarray(image_k, np.float32)
    y = np.asarray(other_k, np.float32)
    neg_k, sig_k = clear_sky_fit(-x, -y)  # clouds cool: the fit's "bright" side turned round
    resid_k = -neg_k
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return np.zeros(x.shape, bool)
    below = x < np.float32(np.median(x[ok]))
    cold = np.maximum(np.float32(sigmas * sig_k), np.float32(min_cold_k))
    with np.errstate(invalid="ignore"):
        seed = (resid_k < -cold) & below
        grow = (resid_k < -0.5 * cold) & below
        if colder_than_other:
            seed &= x < y - np.float32(min_cold_k)
            grow &= x < y - np.float32(0.5 * min_cold_k)
    return _hysteresis(seed, grow, buffer_px) & ok


def auto_cloud_masks(
    before: np.ndarray,
    after: np.ndarray,
    roles: dict[str, int],
    which: tuple[str, ...] = ("before", "after"),
    tests: CloudTests | None = None,
) -> tuple[dict[str, np.ndarray], str] | None:
    """The automatic cloud masks of the images ``which`` of a pair (bands, rows, cols) from the
    bands they have: red, green and blue (:func:`rgb_cloud_mask`, with NIR when there is one),
    else a thermal band (:func:`thermal_cloud_mask`); and the model's name. None when neither is
    there (no model applies)."""
    stacks = {"before": (before, after), "after": (after, before)}
    if all(k in roles for k in ("red", "green", "blue")):
        idx = [roles["red"], roles["green"], roles["blue"]]
        k = roles.get("nir")
        masks = {
            w: rgb_cloud_mask(x[idx], y[idx], tests, None if k is None else x[k], None if k is None else y[k], w)
            for w, (x, y) in stacks.items()
            if w in which
        }
        how = "RGB: brighter than the clear-sky line, bright, white" + ("; NIR brighter too" if k is not None else "")
        return masks, how
    if "thermal" in roles:
        k = roles["thermal"]
        return {w: thermal_cloud_mask(x[k], y[k]) for w, (x, y) in stacks.items() if w in which}, (
            "thermal: colder than the clear-sky line and the other date"
        )
    return None
