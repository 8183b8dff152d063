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

import os
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
    #: stills: compare each frame with its neighbours warped onto it (towns move with the ground)
    motion_compensation: bool = True
    #: stills: neighbours on each side a frame is compared with
    neighbours: int = 2
    #: stills: how far (full-resolution px) a town's warp may be off, and how much its light may vary
    #: between frames (a fraction), both counted in the noise of the motion-compensated difference
    registration_px: float = 2.0
    town_variation: float = 0.1
    #: stills: flashes lit close together are parted at the maxima of the difference's curvature
    #: (-LoG) at this fraction of their patch sigma; 0: at the maxima of its brightness
    curvature_scale: float = 0.57
    #: threads for the per-frame work (default: the CPUs, at most 8)
    workers: int | None = None
    #: the images are given binned by this factor (e.g. JPEGs decoded at reduced scale): positions
    #: and sizes are still in full-resolution pixels
    input_scale: int = 1


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
    sample = diff[::3, ::3].ravel() if diff.ndim == 2 else diff[::9]
    med = float(np.median(sample))
    mad = 1.4826 * float(np.median(np.abs(sample - med)))
    lo, hi = np.percentile(sample, [1.0, 99.0])
    core = sample[(sample >= lo) & (sample <= hi)]
    trimmed = float(np.std(core)) / 0.9 if core.size > 1 else 0.0
    return max(mad, trimmed, floor)


def blobs(
    diff: np.ndarray,
    threshold: float,
    min_area: float,
    bin_factor: int,
    core: float = 0.5,
    significance: np.ndarray | None = None,
):
    """Connected regions of ``diff`` above ``threshold``: (col, row, sum, peak, area) in full-res px.

    The centroid is taken over each region's core, the pixels above ``core`` times its peak (a lit
    cloud often has a faint halo that reaches far, e.g. to the frame's edge); a region whose core
    touches the frame's edge is left out. With ``significance`` (an image in noise units), the regions
    are where it exceeds ``threshold`` and a sixth column gives each region's largest significance.
    """
    mask = diff > threshold if significance is None else significance > threshold
    if not mask.any():
        return np.zeros((0, 5 if significance is None else 6))
    lab, n = ndimage.label(mask)
    flat = np.flatnonzero(mask)
    ids = lab.ravel()[flat]
    v = diff.ravel()[flat].astype(np.float64)
    rows, cols = np.divmod(flat, diff.shape[1])
    area = np.bincount(ids, minlength=n + 1)[1:].astype(float)
    total = np.bincount(ids, weights=v, minlength=n + 1)[1:]
    peak = np.full(n + 1, -np.inf)
    np.maximum.at(peak, ids, v)
    inner = v >= (np.maximum(core * peak[ids], threshold) if significance is None else core * peak[ids])
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
    columns = [full_c, full_r, total, peak[1:], area * b * b]
    if significance is not None:
        smax = np.full(n + 1, -np.inf)
        np.maximum.at(smax, ids, significance.ravel()[flat].astype(np.float64))
        columns.append(smax[1:])
    return np.column_stack(columns)[keep]


def seeded_blobs(
    diff: np.ndarray,
    significance: np.ndarray,
    threshold: float,
    min_area: float,
    bin_factor: int,
    core: float = 0.5,
    seed_px: int = 7,
    prominence: float = 0.15,
    curvature_scale: float = 0.57,
) -> np.ndarray:
    """Like :func:`blobs` with ``significance``, but a region holds as many flashes as it has separate
    peaks (two flashes lit close together in one exposure join above the threshold).

    The peaks are the local maxima (within ``seed_px`` binned pixels, at least ``prominence`` times
    the region's highest) of the region's curvature, the negative Laplacian of Gaussian of the
    difference at a scale of ``curvature_scale`` times the region's own patch size (its half-peak
    core taken as a Gaussian's, along its narrower axis). Curvature parts two patches closer
    than two sigmas, which the brightness alone shows as one hump, and a faint flash on a bright
    one's flank (a shoulder, no maximum of its own); its scale follows the flashes' size (floored at
    the frame's typical one), so large and small lit clouds are split alike. With ``curvature_scale``
    0 the peaks are the maxima of the lightly smoothed difference itself. The peaks share the region
    (each pixel to its nearest peak), and each flash's centroid is taken over its own core (above
    ``core`` times its own peak). Rows (col, row, sum, peak, area, score).
    """
    mask = significance > threshold
    if not mask.any():
        return np.zeros((0, 6))
    sm = ndimage.gaussian_filter(diff.astype(np.float32), 1.5)
    lab, n = ndimage.label(mask)
    rmax = np.asarray(ndimage.maximum(sm, lab, np.arange(1, n + 1)), dtype=np.float64).reshape(-1)
    rmax = np.r_[0.0, rmax]
    if curvature_scale > 0:
        seeds = _curvature_peaks(diff, sm, lab, rmax, curvature_scale, seed_px, prominence)
    else:
        seeds = (sm == ndimage.maximum_filter(sm, size=seed_px)) & mask & (sm >= prominence * rmax[lab])
    markers, m = ndimage.label(seeds, structure=np.ones((3, 3)))
    if m == 0:
        return np.zeros((0, 6))
    # each pixel of a region goes to the nearest peak of the same region (the cell of a faint flash
    # beside a bright one then holds little of the bright one's light above half the faint one's peak)
    _, (iy, ix) = ndimage.distance_transform_edt(markers == 0, return_indices=True)
    ws = markers[iy, ix]
    ws[~mask | (lab != lab[iy, ix])] = 0
    flat = np.flatnonzero(ws > 0)
    ids = ws.ravel()[flat]
    v = diff.ravel()[flat].astype(np.float64)
    zi_all = significance.ravel()[flat].astype(np.float64)
    area = np.bincount(ids, minlength=m + 1).astype(float)
    peak = np.full(m + 1, -np.inf)
    np.maximum.at(peak, ids, v)
    score = np.full(m + 1, -np.inf)
    np.maximum.at(score, ids, zi_all)
    inner = v >= core * peak[ids]
    ci, vi = ids[inner], v[inner]
    ri, ki = np.divmod(flat[inner], diff.shape[1])
    wsum = np.bincount(ci, weights=vi, minlength=m + 1)[1:]
    cr = np.bincount(ci, weights=vi * ri, minlength=m + 1)[1:] / np.maximum(wsum, 1e-12)
    cc = np.bincount(ci, weights=vi * ki, minlength=m + 1)[1:] / np.maximum(wsum, 1e-12)
    h, w = diff.shape
    edge = np.zeros(m + 1, dtype=bool)
    edge[np.unique(ci[(ri == 0) | (ri == h - 1) | (ki == 0) | (ki == w - 1)])] = True
    b = bin_factor
    keep = (area[1:] * b * b >= min_area) & ~edge[1:] & (wsum > 0)
    return np.column_stack(
        [cc * b + (b - 1) / 2.0, cr * b + (b - 1) / 2.0, wsum, peak[1:], area[1:] * b * b, score[1:]]
    )[keep]


def _curvature_peaks(diff, smooth, lab, region_max, scale, seed_px, prominence) -> np.ndarray:
    """Maxima of -LoG(diff) in each region (see :func:`seeded_blobs`).

    A region's patch size is the sigma of a Gaussian whose half-peak core (a disc of radius 1.177
    sigma, variance R^2 / 4 along any axis) has the spread of the region's core along its narrower
    axis (two flashes merged in one region widen it only along the other), but never below the
    median over the frame's regions that do not touch its edge: a region cut by the edge or lit
    faintly looks smaller than its flash, and too fine a scale splits one flash in two.
    """
    seeds = np.zeros(lab.shape, dtype=bool)
    h, w = lab.shape
    objects = ndimage.find_objects(lab)
    own = np.zeros(len(objects) + 1)
    whole = []
    for idx, sl in enumerate(objects, start=1):
        if sl is None:
            continue
        core = (lab[sl] == idx) & (smooth[sl] >= 0.5 * region_max[idx])
        ys, xs = np.nonzero(core)
        # the core's narrower axis: two flashes merged into one region widen it along the other
        own[idx] = (
            2.0 * np.sqrt(max(float(np.linalg.eigvalsh(np.cov(np.vstack([xs, ys])))[0]), 0.0)) / 1.1774
            if ys.size >= 3
            else 1.0
        )
        if sl[0].start > 0 and sl[1].start > 0 and sl[0].stop < h and sl[1].stop < w and own[idx] >= 1.5:
            whole.append(own[idx])
    typical = float(np.median(whole)) if whole else 0.0
    for idx, sl in enumerate(objects, start=1):
        if sl is None:
            continue
        sigma = max(scale * max(own[idx], typical), 1.0)
        pad = int(np.ceil(3.0 * sigma))
        r0, r1 = max(sl[0].start - pad, 0), min(sl[0].stop + pad, h)
        c0, c1 = max(sl[1].start - pad, 0), min(sl[1].stop + pad, w)
        inside = lab[r0:r1, c0:c1] == idx
        curv = -ndimage.gaussian_laplace(diff[r0:r1, c0:c1].astype(np.float32), sigma)
        top = float(curv[inside].max())
        if top <= 0:  # no convex part (a flat plateau): its brightest pixel
            curv = smooth[r0:r1, c0:c1]
            top = float(curv[inside].max())
        seeds[r0:r1, c0:c1] |= (
            (curv == ndimage.maximum_filter(curv, size=seed_px)) & inside & (curv >= prominence * top)
        )
    return seeds


def detect_flashes(
    images: Iterable[np.ndarray],
    frames: Frames,
    *,
    background: np.ndarray | None = None,
    options: DetectOptions = DetectOptions(),
) -> Flashes:
    """Detect flashes in the frames (an iterable of arrays in frame order, as many as ``frames``)."""
    video = frames.is_video
    dets: list[tuple[int, np.ndarray]] = []
    bin_factor = None
    bg_run = None
    stack: list[np.ndarray] = []
    bg = None
    count = 0
    pending: list[np.ndarray] = []
    n_workers = options.workers if options.workers else min(os.cpu_count() or 1, 8)
    for i, img in enumerate(images):
        count += 1
        if bin_factor is None:
            s_in = max(int(options.input_scale), 1)
            bin_factor = binning_for(np.shape(img), max(options.max_pixels // (s_in * s_in), 1))
            full_factor = bin_factor * s_in  # binned pixel -> full-resolution pixels
            city_px = options.city_light_px / s_in
            # integer images are quantised to 1 DN: noise estimates below a third of that are artefacts
            floor = 1.0 / 3.0 if np.issubdtype(np.asarray(img).dtype, np.integer) else 1e-3
            if background is not None:
                bg = broad_light(background, bin_factor, city_px)
        if not video:  # stills: broad-light images made on the thread pool, a few frames at a time
            pending.append(img)
            if len(pending) >= 2 * n_workers:
                stack.extend(_pool_map(lambda im, b=bin_factor, c=city_px: broad_light(im, b, c), pending, n_workers))
                pending = []
            continue
        lit = broad_light(img, bin_factor, city_px)
        if video:
            if bg_run is None:
                bg_run = lit
                continue
            diff = lit - bg_run
            sig = _noise(diff, floor)
            thr = options.threshold_sigma * sig
            found = _scored(blobs(diff, thr, options.min_area_px, full_factor), sig)
            dets.append((i, found))
            # the background follows slow changes, but not where a flash is lit: a flash stays
            # detected for as long as it shines, not only while it brightens
            lit_now = ndimage.binary_dilation(diff > 0.5 * thr, iterations=2)
            bg_run = np.where(lit_now, bg_run, bg_run + options.background_rate * (lit - bg_run))
        else:
            stack.append(lit)
    if count != len(frames):
        raise InputError(f"got {count} images for {len(frames)} frame times")
    if pending:
        stack.extend(_pool_map(lambda im, b=bin_factor, c=city_px: broad_light(im, b, c), pending, n_workers))
    if not video:
        if bg is None and len(stack) >= 2 and options.motion_compensation:
            return _single_frame_flashes(_motion_compensated(stack, options, floor, full_factor), frames)
        if bg is None:
            if len(stack) >= 3:
                bg = np.median(np.stack(stack), axis=0)
            elif len(stack) == 2:
                bg = np.minimum(stack[0], stack[1])
            else:
                bg = np.full_like(stack[0], float(np.median(stack[0])))
        for i, lit in enumerate(stack):
            if bg.shape != lit.shape:
                raise InputError(
                    f"the background image ({bg.shape[1]}x{bg.shape[0]} binned px) does not match the "
                    f"frames ({lit.shape[1]}x{lit.shape[0]})"
                )
            diff = lit - bg
            sig = _noise(diff, floor)
            dets.append((i, _scored(blobs(diff, options.threshold_sigma * sig, options.min_area_px, full_factor), sig)))
        return _single_frame_flashes(dets, frames)
    return _link(dets, frames, options)


def _single_frame_flashes(dets, frames: Frames) -> Flashes:
    rows = [(i, d) for i, found in dets for d in found]
    if not rows:
        return Flashes.from_frames(frames, [], [], np.zeros(0, int))
    f = np.array([i for i, _ in rows])
    d = np.array([x for _, x in rows])
    return Flashes.from_frames(frames, d[:, 0], d[:, 1], f, f, d[:, 2], d[:, 4], score=d[:, 5])


def _scored(found: np.ndarray, sig: float) -> np.ndarray:
    """Blob rows with a sixth column: the score, peak / noise of the difference."""
    return np.column_stack([found, found[:, 3] / sig]) if len(found) else np.zeros((0, 6))


def _motion_compensated(stack: list[np.ndarray], options: DetectOptions, floor: float, bin_factor: int):
    """Per-frame blobs of a sequence of stills, each frame against its neighbours warped onto it.

    The background of frame i is the per-pixel median of frames i-k..i+k (k = ``neighbours``, the
    frame itself left out) warped onto frame i by the ground's apparent motion
    (:mod:`cupola.lightning.motion`), each first dilated by one pixel (a 3x3 maximum) so that a town
    whose warp is off by a fraction of a pixel does not leave a bright rim. A town is in its
    neighbours at the same place and cancels; a flash lights its cloud in one frame only and stands
    out. Pixels no neighbour saw (the first frame's trailing strip, the last frame's leading one)
    cannot tell a flash from a town and give no detection.
    """
    import cv2

    from cupola.lightning.motion import sequence_motion

    n = len(stack)
    shape = stack[0].shape
    step, _ = sequence_motion(stack, workers=options.workers)

    def onto(j: int, i: int) -> np.ndarray:
        m = np.eye(3)
        if j < i:
            for k in range(j, i):
                m = step[k] @ m
        else:
            for k in range(j - 1, i - 1, -1):
                m = np.linalg.inv(step[k]) @ m
        return m

    kernel = np.ones((3, 3), np.uint8)
    h, w = shape

    def one(i: int):
        layers = []
        for j in range(i - options.neighbours, i + options.neighbours + 1):
            if j == i or not 0 <= j < n:
                continue
            wj = cv2.warpPerspective(
                stack[j].astype(np.float32),
                onto(j, i),
                (w, h),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=-1e30,
            )
            wj = cv2.dilate(wj, kernel)
            wj[wj < -1e20] = np.nan  # outside, or blended with outside
            layers.append(wj)
        bg, count = _nan_median(layers)
        seen = count > 0
        diff = np.where(seen, stack[i] - bg, 0.0).astype(np.float32)
        sample = diff[seen][::7] if seen.any() else diff.ravel()[::7]
        med = float(np.median(sample))
        mad = 1.4826 * float(np.median(np.abs(sample - med)))
        # the MAD: towns and flashes fill too much of a frame for a trimmed standard deviation;
        # quantised dark frames (MAD of 0) fall back to it
        sig = max(mad, floor) if mad > 0.5 * floor else _noise(sample, floor)
        # what a town leaves when its warp is off by a fraction of a pixel (or its light changes a
        # little between frames) is counted as noise: slope x misregistration, and a share of its level
        bg0 = np.where(seen, bg, 0.0).astype(np.float32)
        gy, gx = np.gradient(bg0)
        level = np.maximum(bg0 - (float(np.median(bg0[seen][::7])) if seen.any() else 0.0), 0.0)
        noise = np.sqrt(
            sig**2
            + (options.registration_px / bin_factor * np.hypot(gx, gy)) ** 2
            + (options.town_variation * level) ** 2
        )
        z = diff / noise
        return i, seeded_blobs(
            diff, z, options.threshold_sigma, options.min_area_px, bin_factor, curvature_scale=options.curvature_scale
        )

    return list(_pool_map(one, range(n), options.workers))


def _pool_map(fn, items, workers: int | None):
    """``map`` on a thread pool (NumPy and OpenCV release the GIL), in order."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    k = workers if workers else min(os.cpu_count() or 1, 8)
    if k <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(k) as ex:
        return list(ex.map(fn, items))


def _nan_median(layers: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel median over the finite values of up to 4 layers (a sorting network), and their count."""
    if len(layers) > 4:
        cube = np.stack(layers)
        count = np.isfinite(cube).sum(axis=0)
        with np.errstate(all="ignore"):
            return np.nanmedian(cube, axis=0), count
    count = np.zeros(layers[0].shape, np.int8)
    v = []
    for a in layers:
        ok = np.isfinite(a)
        count += ok
        v.append(np.where(ok, a, np.inf).astype(np.float32))
    while len(v) < 4:
        v.append(np.full(layers[0].shape, np.inf, np.float32))
    a, b, c, d = v
    a, b = np.minimum(a, b), np.maximum(a, b)
    c, d = np.minimum(c, d), np.maximum(c, d)
    a, c = np.minimum(a, c), np.maximum(a, c)
    b, d = np.minimum(b, d), np.maximum(b, d)
    b, c = np.minimum(b, c), np.maximum(b, c)
    # sorted a <= b <= c <= d, invalid values (inf) last: the median of the first ``count``
    with np.errstate(invalid="ignore"):
        med = np.where(count >= 3, np.where(count == 4, 0.5 * (b + c), b), np.where(count == 2, 0.5 * (a + b), a))
    med[count == 0] = np.nan
    return med, count


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
                active.append(
                    {
                        "first": i,
                        "last": i,
                        "sw": d[2],
                        "c": d[0],
                        "r": d[1],
                        "cw": d[0] * d[2],
                        "rw": d[1] * d[2],
                        "area": d[4],
                        "peak": d[3],
                        "tw": mid[i] * d[2],
                        "score": d[5],
                    }
                )
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
                fl["score"] = max(fl["score"], d[5])
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
    return Flashes(
        np.array([f["c"] for f in done]),
        np.array([f["r"] for f in done]),
        t0,
        t1,
        first,
        last,
        np.array([f["sw"] for f in done]),
        frames.epoch,
        np.array([f["area"] for f in done]),
        np.array([f["tw"] / f["sw"] for f in done]),
        np.array([f["score"] for f in done]),
    )
