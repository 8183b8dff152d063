"""Flash detection in video, frame sequences and single night photos.

Lightning seen from orbit lights a patch of cloud top kilometres across: a broad, diffuse
brightening, while city lights are small points that move with the ground. The detector works on
"broad light" images: each frame is binned to at most ~2.5 megapixels, city lights are removed by a
grey-scale opening (which erases bright features narrower than ``city_light_px``) and the result is
smoothed slightly. Then

* **video** (frames < 0.1 s apart): a flash is a frame-to-frame brightening, each frame against
  a running background (an exponential average of the frames before it that is not updated where
  a flash is lit, so a flash stays detected for as long as it shines); blobs above
  ``threshold_sigma`` times the robust noise of the difference that overlap in consecutive frames
  (one missing frame allowed) are linked into one flash with its first and last frame;
* **stills** (a sequence a second or more apart, or one photo): each frame against a background,
  the pre-flash frame or a night stack given by the caller, else the per-pixel median of the
  sequence (the night stack of the sequence itself), else (one photo alone) the frame's own median
  level.

Each blob's sub-pixel centroid is the brightness-weighted mean position of its core (the pixels
above half its peak; a lit cloud's faint halo can reach far) in full-resolution pixels, (0, 0) the
centre of the top-left pixel; blobs whose core touches the frame's edge are left out (their
centroids would be pulled inwards). Brightness is the summed difference (digital numbers, binned
pixels).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cupola.errors import InputError
from cupola.lightning.flashes import Flashes, Frames

__all__ = ["DetectOptions", "detect_flashes", "broad_light", "blobs"]

#: longest optical flash assumed (s): a flash lit in a video's first or last frame may have begun
#: before it or go on after it by this much (LIS flashes last up to ~1 s; Mach et al. 2005)
MAX_FLASH_S = 1.0


@dataclass(frozen=True)
class DetectOptions:
    threshold_sigma: float = 6.0
    city_light_px: float = 9.0  # features narrower than this (full-resolution pixels) are city lights
    min_area_px: float = 25.0  # smallest flash patch (full-resolution pixels)
    max_pixels: int = 2_500_000  # bin frames down to at most this many pixels
    background_rate: float = 0.3  # video: weight of each new frame in the running background
    link_px: float | None = None  # video: linking radius (default from the blob size)


def _gray(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim == 3:
        a = a[..., :3].mean(axis=2)
    if a.ndim != 2:
        raise InputError(f"flash detection needs a 2-D grey or colour image, got shape {np.shape(image)}")
    return a.astype(np.float32)


def binning_for(shape: tuple[int, int], max_pixels: int) -> int:
    h, w = shape[:2]
    return max(1, int(np.ceil(np.sqrt(h * w / max_pixels))))


def broad_light(image: np.ndarray, bin_factor: int, city_light_px: float) -> np.ndarray:
    """Binned image with point-like lights removed (grey opening) and lightly smoothed."""
    g = _gray(image)
    b = bin_factor
    if b > 1:
        h, w = (g.shape[0] // b) * b, (g.shape[1] // b) * b
        g = g[:h, :w].reshape(h // b, b, w // b, b).mean(axis=(1, 3))
    size = max(3, int(np.ceil(city_light_px / b)) | 1)
    g = ndimage.grey_opening(g, size=(size, size))
    return ndimage.uniform_filter(g, size=3)


def _noise(diff: np.ndarray, floor: float = 1e-3) -> float:
    """Robust noise of a difference image: the MAD, or where most values are equal (quantised dark
    frames after the opening) the trimmed standard deviation, never below ``floor``."""
    sample = diff[::3, ::3].ravel()
    med = float(np.median(sample))
    mad = 1.4826 * float(np.median(np.abs(sample - med)))
    lo, hi = np.percentile(sample, [1.0, 99.0])
    core = sample[(sample >= lo) & (sample <= hi)]
    trimmed = float(np.std(core)) / 0.9 if core.size > 1 else 0.0
    return max(mad, trimmed, floor)


def blobs(diff: np.ndarray, threshold: float, min_area: float, bin_factor: int, core: float = 0.5):
    """Connected regions of ``diff`` above ``threshold``: (col, row, sum, peak, area) in full-res px.

    The centroid is taken over each region's core, the pixels above ``core`` times its peak (a lit
    cloud often has a faint halo that reaches far, e.g. to the frame's edge); a region whose core
    touches the frame's edge is left out.
    """
    mask = diff > threshold
    if not mask.any():
        return np.zeros((0, 5))
    lab, n = ndimage.label(mask)
    flat = np.flatnonzero(mask)
    ids = lab.ravel()[flat]
    v = diff.ravel()[flat].astype(np.float64)
    rows, cols = np.divmod(flat, diff.shape[1])
    area = np.bincount(ids, minlength=n + 1)[1:].astype(float)
    total = np.bincount(ids, weights=v, minlength=n + 1)[1:]
    peak = np.full(n + 1, -np.inf)
    np.maximum.at(peak, ids, v)
    inner = v >= np.maximum(core * peak[ids], threshold)
    ci, vi, ri, ki = ids[inner], v[inner], rows[inner], cols[inner]
    wsum = np.bincount(ci, weights=vi, minlength=n + 1)[1:]
    cr = np.bincount(ci, weights=vi * ri, minlength=n + 1)[1:] / np.maximum(wsum, 1e-12)
    cc = np.bincount(ci, weights=vi * ki, minlength=n + 1)[1:] / np.maximum(wsum, 1e-12)
    h, w = diff.shape
    edge = np.zeros(n + 1, dtype=bool)
    on_edge = (ri == 0) | (ri == h - 1) | (ki == 0) | (ki == w - 1)
    edge[np.unique(ci[on_edge])] = True
    b = bin_factor
    keep = (area * b * b >= min_area) & ~edge[1:]
    full_c = cc * b + (b - 1) / 2.0
    full_r = cr * b + (b - 1) / 2.0
    return np.column_stack([full_c, full_r, total, peak[1:], area * b * b])[keep]


def detect_flashes(images: Iterable[np.ndarray], frames: Frames, *, background: np.ndarray | None = None,
                   options: DetectOptions = DetectOptions()) -> Flashes:
    """Detect flashes in the frames (an iterable of arrays in frame order, as many as ``frames``)."""
    video = frames.is_video
    dets: list[tuple[int, np.ndarray]] = []
    bin_factor = None
    bg_run = None
    stack: list[np.ndarray] = []
    bg = None
    count = 0
    for i, img in enumerate(images):
        count += 1
        if bin_factor is None:
            bin_factor = binning_for(np.shape(img), options.max_pixels)
            # integer images are quantised to 1 DN: noise estimates below a third of that are artefacts
            floor = 1.0 / 3.0 if np.issubdtype(np.asarray(img).dtype, np.integer) else 1e-3
            if background is not None:
                bg = broad_light(background, bin_factor, options.city_light_px)
        lit = broad_light(img, bin_factor, options.city_light_px)
        if video:
            if bg_run is None:
                bg_run = lit
                continue
            diff = lit - bg_run
            sig = _noise(diff, floor)
            thr = options.threshold_sigma * sig
            found = blobs(diff, thr, options.min_area_px, bin_factor)
            dets.append((i, found))
            # the background follows slow changes, but not where a flash is lit: a flash stays
            # detected for as long as it shines, not only while it brightens
            lit_now = ndimage.binary_dilation(diff > 0.5 * thr, iterations=2)
            bg_run = np.where(lit_now, bg_run, bg_run + options.background_rate * (lit - bg_run))
        else:
            stack.append(lit)
    if count != len(frames):
        raise InputError(f"got {count} images for {len(frames)} frame times")
    if not video:
        if bg is None:
            if len(stack) >= 3:
                bg = np.median(np.stack(stack), axis=0)
            elif len(stack) == 2:
                bg = np.minimum(stack[0], stack[1])
            else:
                bg = np.full_like(stack[0], float(np.median(stack[0])))
        for i, lit in enumerate(stack):
            if bg.shape != lit.shape:
                raise InputError(f"the background image ({bg.shape[1]}x{bg.shape[0]} binned px) does not match the "
                                 f"frames ({lit.shape[1]}x{lit.shape[0]})")
            diff = lit - bg
            sig = _noise(diff, floor)
            dets.append((i, blobs(diff, options.threshold_sigma * sig, options.min_area_px, bin_factor)))
        return _single_frame_flashes(dets, frames)
    return _link(dets, frames, options)


def _single_frame_flashes(dets, frames: Frames) -> Flashes:
    rows = [(i, d) for i, found in dets for d in found]
    if not rows:
        return Flashes.from_frames(frames, [], [], np.zeros(0, int))
    f = np.array([i for i, _ in rows])
    d = np.array([x for _, x in rows])
    return Flashes.from_frames(frames, d[:, 0], d[:, 1], f, f, d[:, 2], d[:, 4])


def _link(dets, frames: Frames, options: DetectOptions) -> Flashes:
    """Link per-frame blobs of a video into flashes (one missing frame allowed)."""
    active: list[dict] = []
    done: list[dict] = []
    mid = frames.start_s + 0.5 * frames.exposure_s
    for i, found in dets:
        still = []
        for fl in active:
            if i - fl["last"] > 2:
                done.append(fl)
            else:
                still.append(fl)
        active = still
        used = set()
        for d in found[np.argsort(-found[:, 2])] if len(found) else []:
            radius = options.link_px or max(3.0 * np.sqrt(d[4] / np.pi), 5.0)
            best, best_dist = None, np.inf
            for j, fl in enumerate(active):
                if j in used or fl["last"] == i:
                    continue
                dist = np.hypot(fl["c"] - d[0], fl["r"] - d[1])
                if dist < radius and dist < best_dist:
                    best, best_dist = j, dist
            if best is None:
                active.append({"first": i, "last": i, "sw": d[2], "c": d[0], "r": d[1], "cw": d[0] * d[2],
                               "rw": d[1] * d[2], "area": d[4], "peak": d[3], "tw": mid[i] * d[2]})
                used.add(len(active) - 1)
            else:
                fl = active[best]
                fl["last"] = i
                fl["sw"] += d[2]
                fl["cw"] += d[0] * d[2]
                fl["rw"] += d[1] * d[2]
                fl["tw"] += mid[i] * d[2]
                fl["c"], fl["r"] = fl["cw"] / fl["sw"], fl["rw"] / fl["sw"]
                fl["area"] = max(fl["area"], d[4])
                used.add(best)
    done.extend(active)
    if not done:
        return Flashes.from_frames(frames, [], [], np.zeros(0, int))
    done.sort(key=lambda f: (f["first"], f["c"]))
    # a flash whose light began late in an exposure may first show as a brightening one frame
    # later: its time window opens at the start of the frame before the first detection
    first = np.array([f["first"] for f in done])
    last = np.array([f["last"] for f in done])
    opens = np.maximum(first - 1, 0)
    t0 = frames.start_s[opens]
    t1 = frames.start_s[last] + frames.exposure_s[last]
    # a flash lit in the first (last) frame may have begun before (may go on after) the video
    n = len(frames)
    t0 = np.where(first <= 1, t0 - MAX_FLASH_S, t0)
    t1 = np.where(last >= n - 1, t1 + MAX_FLASH_S, t1)
    return Flashes(np.array([f["c"] for f in done]), np.array([f["r"] for f in done]), t0,
                   t1, first, last, np.array([f["sw"] for f in done]),
                   frames.epoch, np.array([f["area"] for f in done]), np.array([f["tw"] / f["sw"] for f in done]))
