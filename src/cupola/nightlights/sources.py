"""The point sources of a night frame and whether they look like stars: one route for the
calibration's star step (:mod:`cupola.nightlights.starfield`) and the plate solve of a photo
(:mod:`cupola.nightlights.plate`).

1. **luminance** (:func:`luminance`): the sum of the four Bayer planes (R + G1 + G2 + B), with
   hot pixels and cosmic-ray hits replaced: they light one plane of a superpixel, a star (seen
   through all four filters) lights them all, so such superpixels take the other three planes'
   signal.
2. **noise** (:func:`noise_background`): the background level and noise of the luminance in boxes
   (:func:`cupola.nightlights.stars.estimate_background`), with a *floor for quantised photos*: an
   8-bit JPEG's black sky is a flat 0, where the measured noise is 0 and every code value above
   it would be a "5-sigma" source, so the noise is never taken below one code value of each
   channel at its local background level, decoded through the photo's transfer curve
   (:class:`Quantisation`, :func:`quantisation_floor`). The floor follows the frame's own units
   when the photo was flat-fielded and normalised after decoding (``Quantisation.gain``).
3. **sources** (:func:`point_sources`): segmentation of the luminance
   (:func:`cupola.nightlights.stars.detect_sources`), optionally smoothed along the stars' trails;
   optionally the extended segments (a bright star merged with the Milky Way's faint stars, the
   airglow band or a city) segmented again at a higher threshold, the point sources found in them
   added.
4. **star-like or not** (:func:`classify_sources`, :class:`SourceFilter`): not extended, not a
   hot pixel (one Bayer plane lit), the shape of a star (compact and round; where the trails are
   known and 2 superpixels or longer: the trail's length and direction), lit in every channel with
   no channel above 80 % of the light, and, in white-balanced photo RGB only, not sodium-red.

:func:`find_sources` runs the four steps. The plate solve gives only the star-like sources to
the solver; the calibration keeps every point source (the faint ones matter for crowding) and
puts the star-like ones first, which is the order the blind search takes them in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cupola.nightlights.stars import Background, Detections, detect_sources, estimate_background

__all__ = [
    "Quantisation",
    "SourceFilter",
    "Sources",
    "colour_planes",
    "luminance",
    "hot_pixel_sources",
    "quantisation_floor",
    "noise_background",
    "point_sources",
    "shape_agrees",
    "classify_sources",
    "find_sources",
]

#: trails (dj, di) in superpixels at superpixels (j, i): a function of two arrays
TrailField = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True, eq=False)
class Quantisation:
    """How a photo's values were quantised: ``full_scale`` (255 for 8 bits), the ``transfer``
    curve they were decoded through ("srgb" or "linear") and the ``gain`` applied to the decoded
    values since (flat field, exposure normalisation): a number or (3, h, w) for R, G, B."""

    full_scale: float
    transfer: str
    gain: np.ndarray | float = 1.0


@dataclass(frozen=True)
class SourceFilter:
    """What a star looks like on the superpixel plane (one value per 2x2 sensor pixels).

    ``max_sigma_plane_px``: largest RMS size along the major axis (a 1 s trail at 50 mm, ~4.5
    plane px long, has 1.6); ``max_elongation``: major over minor RMS size; ``min_peak_fraction``:
    the brightest superpixel's share of the source's flux (a point source's is >= 0.04 up to a
    2-superpixel blur); these three hold where no trails are known or they are shorter than 2
    superpixels, elsewhere the trail's length and direction (:func:`shape_agrees`).
    ``max_red_blue``: R/B flux above which a source of a white-balanced photo is taken for a
    sodium lamp (stars of B-V up to ~1.5 stay below it in camera RGB; a RAW's sensor channels are
    not balanced, so it does not apply there); ``max_channel_fraction``: a source with more of its
    light in one channel is a hot pixel or a coloured artefact.
    """

    max_sigma_plane_px: float = 3.5
    max_elongation: float = 3.0
    min_peak_fraction: float = 0.03
    max_red_blue: float = 2.5
    max_channel_fraction: float = 0.8


@dataclass(frozen=True, eq=False)
class Sources:
    """Detected sources, brightest first (photo pixels), their background-subtracted R, G, B
    flux near the centroid, and why each is not star-like (``""`` for the star-like)."""

    detections: Detections
    colour: np.ndarray  # (3, N)
    reason: list[str]

    def __len__(self) -> int:
        return len(self.detections)

    @property
    def star_like(self) -> np.ndarray:
        return np.array([r == "" for r in self.reason], bool)

    def rejected(self) -> dict[str, int]:
        """How many sources each reason removed."""
        out: dict[str, int] = {}
        for r in self.reason:
            if r:
                out[r] = out.get(r, 0) + 1
        return out

    def star_like_first(self) -> np.ndarray:
        """Indices: the star-like sources first, then the others, each group brightest first."""
        like = self.star_like
        return np.r_[np.flatnonzero(like), np.flatnonzero(~like)]


def colour_planes(planes: np.ndarray) -> np.ndarray:
    """R, G (mean of the two greens), B planes (3, h, w) from the four planes of a frame."""
    p = np.asarray(planes, np.float32)
    return np.stack([p[0], 0.5 * (p[1] + p[2]), p[3]])


def luminance(planes: np.ndarray) -> np.ndarray:
    """R + G1 + G2 + B, hot pixels and cosmic-ray hits replaced (see the module)."""
    lum = planes[0] + planes[1]
    lum += planes[2]
    lum += planes[3]
    top = np.maximum(np.maximum(planes[0], planes[1]), np.maximum(planes[2], planes[3]))
    rest = lum - top
    hot = (top > 0.8 * lum) & (
        top > 4.0 * np.abs(rest) / 3.0 + 10.0 * float(np.median(np.abs(lum[::16, ::16]))) + 1e-30
    )
    return np.where(hot, rest * np.float32(4.0 / 3.0), lum)


def hot_pixel_sources(planes: np.ndarray, lum_background: np.ndarray, det: Detections) -> np.ndarray:
    """Hot pixels and cosmic-ray hits among ``det``: the light of the brightest superpixel near
    the centroid is in one Bayer plane only, where a star (seen through all four filters) lights
    them all."""
    if len(det) == 0:
        return np.zeros(0, bool)
    h, w = planes.shape[1:]
    i = np.clip(np.rint((det.row - 0.5) / 2.0).astype(int), 0, h - 1)
    j = np.clip(np.rint((det.col - 0.5) / 2.0).astype(int), 0, w - 1)
    hot = np.zeros(len(det), bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            ii, jj = np.clip(i + di, 0, h - 1), np.clip(j + dj, 0, w - 1)
            p = planes[:, ii, jj] - lum_background[ii, jj] / 4.0
            tot = p.sum(axis=0)
            frac = p.max(axis=0) / np.where(tot > 0, tot, np.inf)
            bright = tot >= 0.5 * det.peak
            hot |= bright & (frac > 0.8)
    return hot


def _code_step(channel_levels: np.ndarray, full_scale: float, transfer: str) -> np.ndarray:
    """One code value of each channel at ``channel_levels`` (frame units: linear fractions of full
    scale times ``full_scale``), in the same units: the slope of the transfer curve there."""
    lev = np.clip(np.asarray(channel_levels, np.float64) / full_scale, 0.0, 1.0)
    if transfer == "srgb":
        v = np.where(lev <= 0.0031308, 12.92 * lev, 1.055 * lev ** (1.0 / 2.4) - 0.055)
        return np.where(v <= 0.04045, 1.0 / 12.92, 2.4 / 1.055 * ((v + 0.055) / 1.055) ** 1.4)
    return np.ones_like(lev)


def quantisation_floor(channel_levels: np.ndarray, full_scale: float, transfer: str) -> np.ndarray:
    """The noise floor of the luminance R + G1 + G2 + B of a quantised photo: one code value of
    each channel at its background level (``channel_levels``: (3, h, w) R, G, B in the frame's
    units, linear fractions of full scale times ``full_scale``), decoded through ``transfer``
    ("srgb": the slope of the IEC 61966-2-1 curve there; "linear": one code value)."""
    step = _code_step(channel_levels, full_scale, transfer)
    return (step[0] + 2.0 * step[1] + step[2]).astype(np.float32)


def noise_background(
    lum: np.ndarray,
    planes: np.ndarray,
    *,
    box_px: int = 32,
    mask: np.ndarray | None = None,
    quantisation: Quantisation | None = None,
) -> Background:
    """Background level and noise of the luminance ``lum``; for a quantised photo the noise is
    never below one code value of each channel at its background (see the module)."""
    bg = estimate_background(lum, box_px=box_px, mask=mask)
    if quantisation is None:
        return bg
    rgb = colour_planes(planes)
    h, w = lum.shape
    # the levels are smooth (boxes of box_px): the floor is evaluated on every 4th superpixel
    k = 4
    gain = np.broadcast_to(np.asarray(quantisation.gain, np.float32), rgb.shape)[:, ::k, ::k]
    levels = np.stack([estimate_background(rgb[c], box_px=box_px, mask=mask).level[::k, ::k] for c in range(3)])
    with np.errstate(divide="ignore", invalid="ignore"):
        decoded = np.where(gain > 0, levels / gain, 0.0)
    step = _code_step(decoded, quantisation.full_scale, quantisation.transfer) * gain
    coarse = (step[0] + 2.0 * step[1] + step[2]).astype(np.float32)
    floor = np.repeat(np.repeat(coarse, k, axis=0), k, axis=1)[:h, :w]
    return Background(bg.level, np.maximum(bg.rms, floor), bg.box_px)


def point_sources(
    lum: np.ndarray,
    background: Background,
    planes: np.ndarray,
    *,
    saturated: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    trail_field: TrailField | None = None,
    nsigma: float = 5.0,
    split_sigma: float | None = None,
) -> Detections:
    """Every source of ``lum`` above ``nsigma``, brightest first (extended segments and hot pixels
    included: :func:`classify_sources` says which). With ``split_sigma``, the extended segments
    are segmented again above ``split_sigma`` times the noise and the point sources found in them
    (neither extended nor hot, more than 4 px from any other point source) join the list."""
    det = detect_sources(lum, background, saturated=saturated, mask=mask, trail_plane_px=trail_field, nsigma=nsigma)
    if split_sigma is None or not det.extended.any():
        return det
    hi = detect_sources(lum, background, saturated=saturated, mask=mask, trail_plane_px=trail_field, nsigma=split_sigma)
    hi = hi.take(np.flatnonzero(~hi.extended & ~hot_pixel_sources(planes, background.level, hi)))
    if len(hi) == 0:
        return det
    from scipy.spatial import cKDTree

    point = np.flatnonzero(~det.extended & ~hot_pixel_sources(planes, background.level, det))
    if point.size:
        d, _ = cKDTree(np.column_stack([det.col[point], det.row[point]])).query(np.column_stack([hi.col, hi.row]))
        hi = hi.take(np.flatnonzero(d > 4.0))
    if len(hi) == 0:
        return det
    both = Detections(*(np.concatenate([getattr(det, f), getattr(hi, f)]) for f in Detections.__dataclass_fields__))
    return both.take(np.argsort(-both.flux, kind="stable"))


def shape_agrees(det: Detections, dj, di) -> np.ndarray:
    """Sources whose moments agree with trails (dj, di) (plane px, arrays or scalars): length within
    1.5 px or half of it, direction within 25 deg (when the trail is 2 px or longer)."""
    expect = np.hypot(dj, di)
    meas = det.trail_length_plane_px
    d_ang = np.abs((det.orientation_rad - np.arctan2(di, dj) + np.pi / 2) % np.pi - np.pi / 2)
    return (np.abs(meas - expect) <= np.maximum(1.5, 0.5 * expect)) & ((expect < 2.0) | (d_ang <= np.radians(25.0)))


def _local_colour(rgb: np.ndarray, i: np.ndarray, j: np.ndarray, r: int = 2, ring: tuple[int, int] = (4, 6)):
    """R, G, B flux (3, N) in the (2r+1)^2 box around each superpixel (i, j), less the box's
    area times the median of the square ring from ``ring[0]`` to ``ring[1]`` superpixels out
    (the local background, clipped at the frame's edges)."""
    h, w = rgb.shape[1:]
    off = np.arange(-r, r + 1)
    ii = np.clip(i[:, None, None] + off[None, :, None], 0, h - 1)
    jj = np.clip(j[:, None, None] + off[None, None, :], 0, w - 1)
    o = np.arange(-ring[1], ring[1] + 1)
    oi, oj = np.meshgrid(o, o, indexing="ij")
    in_ring = np.maximum(np.abs(oi), np.abs(oj)) >= ring[0]
    oi, oj = oi[in_ring], oj[in_ring]
    ri = np.clip(i[:, None] + oi[None, :], 0, h - 1)
    rj = np.clip(j[:, None] + oj[None, :], 0, w - 1)
    out = np.empty((3, i.size))
    for c in range(3):
        level = np.median(rgb[c][ri, rj], axis=1)
        out[c] = np.sum(rgb[c][ii, jj], axis=(1, 2)) - level * (2 * r + 1) ** 2
    return out


def classify_sources(
    planes: np.ndarray,
    det: Detections,
    lum_background: np.ndarray,
    *,
    trail_field: TrailField | None = None,
    white_balanced: bool = True,
    source_filter: SourceFilter = SourceFilter(),
) -> Sources:
    """Why each source of ``det`` is not star-like, ``""`` for those that are (see the module).

    ``trail_field``: the stars' trails, when known; where they are 2 superpixels or longer a
    source is star-shaped when its moments agree with the trail there (or it is too faint to
    tell, SNR < 8), else when it is compact and round. ``white_balanced``: the planes are a
    photo's white-balanced RGB (the sodium-red test applies), not a RAW's sensor channels."""
    n = len(det)
    h, w = planes.shape[1:]
    i = np.clip(np.rint((det.row - 0.5) / 2.0).astype(int), 0, h - 1)
    j = np.clip(np.rint((det.col - 0.5) / 2.0).astype(int), 0, w - 1)
    colour = _local_colour(colour_planes(planes), i, j) if n else np.zeros((3, 0))
    f = source_filter
    with np.errstate(divide="ignore", invalid="ignore"):
        peak_fraction = det.peak / det.flux
        elongation = det.sigma_major / det.sigma_minor
        total = colour.sum(axis=0)
        top = colour.max(axis=0) / total
        red_blue = colour[0] / colour[2]
    round_star = (
        (det.sigma_major <= f.max_sigma_plane_px)
        & (elongation <= f.max_elongation)
        & (peak_fraction >= f.min_peak_fraction)
    )
    trailed = np.zeros(n, bool)
    trail_ok = np.zeros(n, bool)
    if trail_field is not None and n:
        dj, di = trail_field((det.col - 0.5) / 2.0, (det.row - 0.5) / 2.0)
        trailed = np.hypot(dj, di) >= 2.0
        trail_ok = shape_agrees(det, dj, di) | (det.snr < 8)
    shape_bad = np.where(trailed, ~trail_ok, ~round_star)
    size_bad = ~trailed & ~(det.sigma_major <= f.max_sigma_plane_px)
    elong_bad = ~trailed & ~(elongation <= f.max_elongation)
    tests = [
        (det.extended, "extended (city lights, aurora, cloud)"),
        (hot_pixel_sources(planes, lum_background, det), "hot pixel (one Bayer plane)"),
        (trailed & shape_bad, "not shaped like the stars' trails"),
        (size_bad, "too large for a star"),
        (elong_bad, "elongated (a streak, a lit road, an edge)"),
        (~trailed & shape_bad, "diffuse (no peak)"),
        (~((colour > 0).all(axis=0)), "not lit in every channel"),
        (~(top <= f.max_channel_fraction), "one colour (hot pixel or artefact)"),
    ]
    if white_balanced:
        tests.append((~(red_blue <= f.max_red_blue), "red like a sodium lamp"))
    reason = [""] * n
    for bad, why in tests:
        for k in np.flatnonzero(bad):
            if not reason[k]:
                reason[k] = why
    return Sources(det, colour, reason)


def find_sources(
    planes: np.ndarray,
    *,
    saturated: np.ndarray | None = None,
    quantisation: Quantisation | tuple[float, str] | None = None,
    mask: np.ndarray | None = None,
    trail_field: TrailField | None = None,
    white_balanced: bool | None = None,
    nsigma: float = 5.0,
    box_px: int = 32,
    source_filter: SourceFilter = SourceFilter(),
) -> Sources:
    """Detect the point sources of a frame's four planes (4, h, w) and class them star-like or not
    (the steps of the module).

    ``quantisation``: how a photo's values were quantised (:class:`Quantisation`, or (full scale,
    transfer)) for the noise floor; None for a RAW, whose noise is measured. ``saturated``:
    (4, h, w) or (h, w) flags (a source touching one is flagged in the detections).
    ``white_balanced``: photo RGB (default: when ``quantisation`` is given) or a RAW's sensor
    channels (see :func:`classify_sources`).
    """
    if quantisation is not None and not isinstance(quantisation, Quantisation):
        quantisation = Quantisation(float(quantisation[0]), str(quantisation[1]))
    lum = luminance(np.asarray(planes, np.float32))
    bg = noise_background(lum, planes, box_px=box_px, mask=mask, quantisation=quantisation)
    sat = None
    if saturated is not None:
        flags = np.asarray(saturated, bool)
        sat = np.asarray(flags.any(axis=0) if flags.ndim == 3 else flags, bool)
    det = point_sources(lum, bg, planes, saturated=sat, mask=mask, trail_field=trail_field, nsigma=nsigma)
    wb = quantisation is not None if white_balanced is None else white_balanced
    return classify_sources(
        planes, det, bg.level, trail_field=trail_field, white_balanced=wb, source_filter=source_filter
    )
