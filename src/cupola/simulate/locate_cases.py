"""Robustness suite for photo localization, built from real labelled cases.

Each real case (an astronaut photo, a north-up reference mosaic with linear lat/lon bounds and the
hand-labelled footprint) is varied along the factors that change in real use:

- framing: the reference re-cut so that the photo's footprint fills 1/2 to 1/8 of its width and
  sits off-centre (the missing surroundings are filled with imagery of an unrelated place);
- photo scale: the photo resampled by 0.25x to 2x (fewer or more pixels over the same ground);
- rotation: the photo turned by a right angle, or by +-20 degrees (cropped to the inscribed
  square, so no black corners);
- haze (a veil towards a bluish grey) and JPEG loss (quality 12);
- view tilt: an oblique view of the same ground (30 and 50 degrees off nadir, like the held-out
  photos' 0-50): the ground foreshortened by cos(tilt) along the look direction and a keystone
  (the far side smaller by the ratio of slant ranges across the frame);
- clouds: soft bright cloud fields over 20 % and 45 % of the photo (the held-out photos: 10-50 %);
- edge: the footprint cut by the reference's edge, a quarter or half of it beyond the east or the
  north edge (a reference that holds only part of the photo's ground);
- obstruction: part of the frame hidden by the station itself, as in photos taken with short
  lenses: the dark edge of a round window, or a solar-array wing (a grid of dark cells and bright
  bus bars, the strongest texture in the frame) over 20 % and 40 % of the photo;
- the camera: optical blur (defocus, a soft window, smear: Gaussian, 2 and 4 px), vignetting (the
  corners 1 and 2 stops darker), exposure (two stops under, one over with the highlights clipped),
  sensor noise (photon and read noise of a dim exposure: 1000 and 150 electrons for white) and white
  balance (a cool and a warm cast), each applied in linear light to the sRGB photo;
- with and without the lens focal length (the held-out photos come without one).

Independent of the localizer on purpose: the transforms use plain OpenCV resampling and the labels
(``truth_center_lonlat``) come from the hand-drawn footprint, never from cupola's own output.
The references keep a linear lon/lat mapping, like the source mosaics.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cupola.locate.reference import Reference, read_rgb8

REFERENCE_PX = 1024  # the mosaics of the held-out cases are 1024 px, like the bundled ones


@dataclass(frozen=True)
class Variant:
    """One point of the suite: which factor is varied and how."""

    factor: str
    label: str
    fill: float = 1 / 3  # footprint width / reference width
    offset: tuple[float, float] = (0.4, 0.6)  # footprint centre as a fraction of the reference (x, y)
    photo_scale: float = 1.0
    rotation_deg: float = 0.0
    haze: float = 0.0
    jpeg_quality: int | None = None
    tilt_deg: float = 0.0  # off-nadir view angle simulated on the photo
    tilt_azimuth_deg: float = 0.0  # direction of the look in the photo's frame (0 = towards its top)
    cloud_fraction: float = 0.0  # share of the photo covered by synthetic clouds
    cloud_seed: int = 0  # which random cloud field
    beyond_edge: str | None = None  # "east" | "north": the footprint cut by that edge of the reference
    beyond_share: float = 0.0  # the share of the footprint's extent across that edge lying beyond it
    obstruction: str | None = None  # "window" (the dark edge of a round window) | "array" (a solar array)
    obstruction_fraction: float = 0.0  # share of the photo it hides
    obstruction_seed: int = 0  # where it enters the frame
    blur_sigma_px: float = 0.0  # Gaussian blur of the photo (its pixels after resampling)
    vignetting_stops: float = 0.0  # light lost at the frame's corners (falling off as radius squared)
    exposure_stops: float = 0.0  # exposure change in stops (linear light; clipped at white)
    electrons_white: float | None = None  # sensor noise: photons collected by a white pixel
    white_balance: tuple[float, float, float] | None = None  # linear-light gains of R, G, B
    camera_seed: int = 0  # the noise draw
    with_focal: bool = False


@dataclass
class BaseCase:
    """A real labelled case: the photo, its reference and the labelled footprint."""

    name: str
    photo: np.ndarray
    reference: np.ndarray
    bounds: tuple[float, float, float, float]
    focal_mm: float | None
    nadir_lonlat: tuple[float, float] | None
    footprint_lonlat: np.ndarray | None  # (4, 2) or None for a wrong candidate
    inside: bool

    @property
    def center_lonlat(self) -> tuple[float, float]:
        lon, lat = self.footprint_lonlat.mean(axis=0)
        return float(lon), float(lat)


@dataclass
class SuiteCase:
    name: str
    variant: Variant
    photo: np.ndarray
    reference: Reference
    focal_mm: float | None
    truth_center_lonlat: tuple[float, float] | None
    truth_width_m: float | None
    place: str = ""  # the real case the photo comes from


def read_base_case(folder: Path) -> BaseCase:
    folder = Path(folder)
    case = json.loads((folder / "case.json").read_text())
    b = case["reference_bounds"]
    meta = case.get("metadata", {})
    truth = case.get("truth") or {}
    fp = truth.get("footprint_lat_lon")
    nadir = meta.get("nadir_point_lat_lon")
    return BaseCase(
        name=folder.name,
        photo=read_rgb8(folder / case.get("photo", "photo.jpg")),
        reference=read_rgb8(folder / case.get("reference", "reference.jpg")),
        bounds=(b["west"], b["south"], b["east"], b["north"]),
        focal_mm=meta.get("lens_focal_length_mm"),
        nadir_lonlat=None if not nadir else (nadir[1], nadir[0]),
        footprint_lonlat=None if not fp else np.array([(lon, lat) for lat, lon in fp], float),
        inside=bool(case.get("expected", {}).get("photo_inside_reference", bool(fp))),
    )


def suite_variants() -> list[Variant]:
    """The factors and their levels (every level on every real case)."""
    v = [Variant("base", "fill 1/3, off-centre")]
    for fill, off in ((1 / 2, (0.35, 0.6)), (1 / 4, (0.65, 0.35)), (1 / 6, (0.3, 0.7)), (1 / 8, (0.6, 0.4))):
        v.append(Variant("framing", f"fill 1/{round(1 / fill)}", fill=fill, offset=off))
    for s in (0.25, 0.5, 2.0):
        v.append(Variant("scale", f"photo x{s:g}", photo_scale=s))
    for r in (90.0, 180.0, 270.0, 20.0, -20.0):
        v.append(Variant("rotation", f"rotated {r:+g} deg", rotation_deg=r))
    v.append(Variant("haze", "haze 0.45", haze=0.45))
    v.append(Variant("jpeg", "JPEG q12", jpeg_quality=12))
    for tilt, az in ((30.0, 0.0), (50.0, 120.0)):
        v.append(Variant("tilt", f"viewed {tilt:g} deg off nadir", tilt_deg=tilt, tilt_azimuth_deg=az))
    # four fields (seeds) over the held-out photos' 10-50 %, so no setting is chosen on one pattern
    for frac, seed in ((0.1, 2), (0.2, 0), (0.3, 1), (0.45, 0)):
        v.append(Variant("clouds", f"clouds over {frac:.0%}", cloud_fraction=frac, cloud_seed=seed))
    for fill in (1 / 3, 1 / 8):
        v.append(Variant("focal", f"focal length given, fill 1/{round(1 / fill)}", fill=fill, with_focal=True))
    for share in (0.25, 0.5):  # at the base fill of 1/3
        for side in ("east", "north"):
            label = f"{share:.0%} of the footprint beyond the {side} edge"
            v.append(Variant("edge", label, beyond_edge=side, beyond_share=share))
    for kind, what in (("window", "window edge"), ("array", "solar array")):
        for frac, seed in ((0.2, 0), (0.4, 1)):
            label = f"{what} over {frac:.0%}"
            v.append(Variant("obstruction", label, obstruction=kind, obstruction_fraction=frac, obstruction_seed=seed))
    for sigma in (2.0, 4.0):
        v.append(Variant("blur", f"blurred, sigma {sigma:g} px", blur_sigma_px=sigma))
    for stops in (-2.0, 1.0):
        v.append(Variant("exposure", f"exposed {stops:+g} stops", exposure_stops=stops))
    for stops in (1.0, 2.0):  # a wide lens wide open: natural (cos^4) and optical vignetting
        v.append(Variant("vignetting", f"corners {stops:g} stops darker", vignetting_stops=stops))
    for electrons in (1000.0, 150.0):
        v.append(Variant("noise", f"sensor noise, {electrons:g} e- for white", electrons_white=electrons))
    for gains, what in (((0.8, 1.0, 1.35), "cool"), ((1.3, 1.0, 0.7), "warm")):
        v.append(Variant("colour", f"{what} white balance", white_balance=gains))
    return v


def camera_effects(img: np.ndarray, v: Variant) -> np.ndarray:
    """The variant's blur, vignetting, exposure, sensor noise and white balance on an 8-bit sRGB
    photo, in linear light, in the order a camera applies them (optics, exposure, sensor,
    processing); the result clipped and quantised to 8 bits like the camera's JPEG."""
    import cv2

    from cupola.io.srgb import linear_to_srgb, srgb_to_linear

    if not (v.blur_sigma_px or v.vignetting_stops or v.exposure_stops or v.electrons_white or v.white_balance):
        return img
    lin = srgb_to_linear(img.astype(np.float64) / 255.0)
    if v.blur_sigma_px:
        lin = cv2.GaussianBlur(lin, (0, 0), v.blur_sigma_px)
    if v.vignetting_stops:
        h, w = lin.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w]
        r2 = ((xx - (w - 1) / 2) ** 2 + (yy - (h - 1) / 2) ** 2) / (((w - 1) / 2) ** 2 + ((h - 1) / 2) ** 2)
        lin = lin * (2.0 ** (-v.vignetting_stops * r2))[..., None]
    lin = lin * 2.0**v.exposure_stops
    if v.electrons_white:
        rng = np.random.default_rng(v.camera_seed)
        e = rng.poisson(np.clip(lin, 0, 1) * v.electrons_white) + rng.normal(0.0, 3.0, lin.shape)  # 3 e- read noise
        lin = e / v.electrons_white
    if v.white_balance is not None:
        lin = lin * np.asarray(v.white_balance, np.float64)
    return np.round(linear_to_srgb(lin) * 255.0).astype(np.uint8)


def _linear_pixels(lonlat: np.ndarray, bounds, shape) -> np.ndarray:
    west, south, east, north = bounds
    h, w = shape[:2]
    col = (lonlat[:, 0] - west) / (east - west) * w - 0.5
    row = (north - lonlat[:, 1]) / (north - south) * h - 0.5
    return np.column_stack([col, row])


def edge_offset(
    base: BaseCase, fill: float, edge: str, share: float, offset: tuple[float, float]
) -> tuple[float, float]:
    """``offset`` with its coordinate across ``edge`` ("east" or "north") moved so that ``share`` of
    the footprint's extent across that edge lies beyond the reference re-cut at ``fill``
    (:func:`reframe_reference`: the offset places the mean of the footprint's corners)."""
    px = _linear_pixels(base.footprint_lonlat, base.bounds, base.reference.shape)
    side = float(max(np.ptp(px[:, 0]), np.ptp(px[:, 1]))) / fill  # the new reference's side, pixels
    centre = px.mean(axis=0)
    if edge == "east":
        lo, hi = px[:, 0].min(), px[:, 0].max()
        return 1.0 - (hi - centre[0]) / side + share * (hi - lo) / side, offset[1]
    if edge == "north":  # rows grow southwards: the north edge is row 0
        lo, hi = px[:, 1].min(), px[:, 1].max()
        return offset[0], (centre[1] - lo) / side - share * (hi - lo) / side
    raise ValueError(f"edge must be east or north, got {edge!r}")


def reframe_reference(
    base: BaseCase, fill: float, offset: tuple[float, float], filler: np.ndarray, out_px: int = REFERENCE_PX
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The base reference re-cut (and padded with ``filler`` imagery) so that the labelled footprint
    spans ``fill`` of the new reference's width with its centre at ``offset``; resampled to
    ``out_px`` on the long side. Returns the image and its (linear) bounds."""
    import cv2

    ref = base.reference
    h, w = ref.shape[:2]
    px = _linear_pixels(base.footprint_lonlat, base.bounds, ref.shape)
    fp_px = float(max(np.ptp(px[:, 0]), np.ptp(px[:, 1])))
    side = int(round(fp_px / fill))
    cc, rc = px.mean(axis=0)
    c0 = int(round(cc - offset[0] * side))
    r0 = int(round(rc - offset[1] * side))
    # filler: the unrelated imagery tiled (mirrored tiles, so no hard seams) over the canvas
    fh, fw = filler.shape[:2]
    reps = (math.ceil(side / fh) + 1, math.ceil(side / fw) + 1)
    tile = np.concatenate([filler, filler[:, ::-1]], axis=1)
    tile = np.concatenate([tile, tile[::-1]], axis=0)
    canvas = np.tile(tile, (reps[0], reps[1], 1) if tile.ndim == 3 else reps)[:side, :side].copy()
    # paste the overlap of the real reference
    a0, b0 = max(0, c0), max(0, r0)
    a1, b1 = min(w, c0 + side), min(h, r0 + side)
    if a1 > a0 and b1 > b0:
        canvas[b0 - r0 : b1 - r0, a0 - c0 : a1 - c0] = ref[b0:b1, a0:a1]
    west, south, east, north = base.bounds
    dx, dy = (east - west) / w, (north - south) / h
    new_west, new_north = west + c0 * dx, north - r0 * dy
    bounds = (new_west, new_north - side * dy, new_west + side * dx, new_north)
    if side != out_px:
        interp = cv2.INTER_AREA if side > out_px else cv2.INTER_CUBIC
        canvas = cv2.resize(canvas, (out_px, out_px), interpolation=interp)
    return np.ascontiguousarray(canvas), bounds


def tilt_homography(shape: tuple[int, int], tilt_deg: float, azimuth_deg: float, fov_deg: float = 8.0) -> np.ndarray:
    """A 3 x 3 homography that turns a near-nadir view of flat ground into one seen ``tilt_deg``
    off nadir, looking towards ``azimuth_deg`` (clockwise from the image's top), for a lens whose
    field across the frame is ``fov_deg``: the ground is foreshortened by cos(tilt) along the look
    direction (here: stretched by 1/cos(tilt) across it, the same up to scale), and the far side
    shrinks against the near side by the ratio of the slant ranges (flat ground, small field).
    The output is zoomed about its centre just enough that every output pixel comes from inside the
    input frame (a real oblique photo is filled with ground; none is invented here)."""
    h, w = shape
    t = math.radians(tilt_deg)
    half = math.radians(fov_deg) / 2
    # slant range ratio of the far to the near edge of the frame
    ratio = math.cos(max(t - half, 0.0)) / math.cos(t + half)
    p = (ratio - 1) / (ratio + 1)  # homogeneous w = 1 + p*u with u in [-1, 1] from near to far
    a = math.radians(azimuth_deg)
    # image (x right, y down) -> (u towards the look direction, v across it)
    rot = np.eye(3)
    rot[:2, :2] = [[math.sin(a), -math.cos(a)], [math.cos(a), math.sin(a)]]
    half_len = max(h, w) / 2
    centre = np.array([[1, 0, -(w - 1) / 2], [0, 1, -(h - 1) / 2], [0, 0, 1]], float)
    stretch = np.diag([1.0, 1 / math.cos(t), 1.0])
    keystone = np.array([[1, 0, 0], [0, 1, 0], [p / half_len, 0, 1]], float)
    core = np.linalg.inv(rot) @ keystone @ stretch @ rot  # about the centre

    corners = np.array(
        [
            [-(w - 1) / 2, -(h - 1) / 2],
            [(w - 1) / 2, -(h - 1) / 2],
            [(w - 1) / 2, (h - 1) / 2],
            [-(w - 1) / 2, (h - 1) / 2],
        ]
    )

    def inside(z: float) -> bool:
        inv = np.linalg.inv(np.diag([z, z, 1.0]) @ core)
        q = np.column_stack([corners, np.ones(4)]) @ inv.T
        xy = q[:, :2] / q[:, 2:]
        return bool(np.all(np.abs(xy[:, 0]) <= (w - 1) / 2 + 1e-6) and np.all(np.abs(xy[:, 1]) <= (h - 1) / 2 + 1e-6))

    lo, hi = 0.25, 8.0
    for _ in range(50):  # the smallest zoom that keeps the output inside the input frame
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if inside(mid) else (mid, hi)
    m = np.linalg.inv(centre) @ np.diag([hi, hi, 1.0]) @ core @ centre
    return m / m[2, 2]


def paint_clouds(img: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Soft, bright cumulus-like fields over ``fraction`` of the image (at least half opaque there:
    smoothed noise thresholded at the matching quantile, feathered edges, a grey-white tone)."""
    import cv2

    h, w = img.shape[:2]
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((h, w)).astype(np.float32)
    field = cv2.GaussianBlur(noise, (0, 0), max(h, w) / 16)
    field = field / field.std() + 0.35 * (lambda f: f / f.std())(cv2.GaussianBlur(noise, (0, 0), max(h, w) / 60))
    thr = np.quantile(field, 1 - fraction)
    alpha = np.clip(0.5 + (field - thr) / (0.3 * field.std()), 0, 1)  # half-opaque at the quantile
    alpha = cv2.GaussianBlur(alpha, (0, 0), 2.0)[..., None]
    cloud = np.array([238, 240, 244], np.float32)
    out = img.astype(np.float32) * (1 - alpha) + cloud * alpha
    return np.clip(out, 0, 255).astype(np.uint8)


def paint_window_edge(img: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """The dark, out-of-focus edge of a round window over ``fraction`` of the image: outside a
    circle whose centre lies off the frame's centre (towards a random side), near-black with a
    little sensor noise, behind a soft edge with a faint lit rim."""
    h, w = img.shape[:2]
    rng = np.random.default_rng(seed)
    ang = rng.uniform(0.0, 2.0 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w / 2 + 0.35 * max(h, w) * math.cos(ang), h / 2 + 0.35 * max(h, w) * math.sin(ang)
    r = np.hypot(xx - cx, yy - cy)
    edge = float(np.quantile(r, 1.0 - fraction))  # the circle that leaves ``fraction`` outside
    soft = 0.004 * max(h, w)
    alpha = np.clip((r - edge) / soft + 0.5, 0.0, 1.0)[..., None]
    dark = np.array([18, 17, 20], np.float32) + 3.0 * rng.standard_normal((h, w, 1)).astype(np.float32)
    rim = 40.0 * np.exp(-(((r - edge) / (0.75 * soft)) ** 2))[..., None]
    out = img.astype(np.float32) * (1 - alpha) + dark * alpha + rim
    return np.clip(out, 0, 255).astype(np.uint8)


def paint_solar_array(img: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """A solar-array wing over ``fraction`` of the image: a band entering from one side at a random
    angle (within 35 deg of the frame's axes), dark blue cells (1/30 of the frame across, twice as
    long) between bright bus bars, shaded along its length: strong repetitive texture that matches
    no ground."""
    import cv2

    h, w = img.shape[:2]
    rng = np.random.default_rng(seed)
    t = math.radians(rng.uniform(-35.0, 35.0))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u = (xx - w / 2) * math.cos(t) + (yy - h / 2) * math.sin(t)
    v = -(xx - w / 2) * math.sin(t) + (yy - h / 2) * math.cos(t)
    s = v * rng.choice([-1.0, 1.0])
    inside = s >= np.quantile(s, 1.0 - fraction)
    cell = max(h, w) / 30.0
    bars = (np.mod(u, cell) < 0.08 * cell) | (np.mod(v, 2.2 * cell) < 0.11 * cell)
    shade = 0.8 + 0.4 * (u - u.min()) / max(float(np.ptp(u)), 1.0)
    colour = np.where(bars[..., None], np.array([190, 165, 105], np.float32), np.array([38, 42, 88], np.float32))
    colour = colour * shade[..., None]
    alpha = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), 1.0)[..., None]
    out = img.astype(np.float32) * (1 - alpha) + colour * alpha
    return np.clip(out, 0, 255).astype(np.uint8)


OBSTRUCTIONS = {"window": paint_window_edge, "array": paint_solar_array}


def transform_photo(photo: np.ndarray, v: Variant) -> np.ndarray:
    """The photo resampled, turned, tilted, clouded, partly hidden, hazed, blurred, exposed, given
    sensor noise and a colour cast, and JPEG-compressed as the variant says."""
    import cv2

    img = photo
    if v.tilt_deg:
        h, w = img.shape[:2]
        hm = tilt_homography((h, w), v.tilt_deg, v.tilt_azimuth_deg)
        img = cv2.warpPerspective(img, hm, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    if v.cloud_fraction:
        img = paint_clouds(img, v.cloud_fraction, seed=v.cloud_seed)
    if v.obstruction is not None:
        img = OBSTRUCTIONS[v.obstruction](img, v.obstruction_fraction, seed=v.obstruction_seed)
    if v.photo_scale != 1.0:
        h, w = img.shape[:2]
        interp = cv2.INTER_AREA if v.photo_scale < 1 else cv2.INTER_CUBIC
        img = cv2.resize(img, (round(w * v.photo_scale), round(h * v.photo_scale)), interpolation=interp)
    r = v.rotation_deg % 360.0
    if r in (90.0, 180.0, 270.0):
        img = np.rot90(img, int(r // 90))
    elif r:
        h, w = img.shape[:2]
        m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), v.rotation_deg, 1.0)
        img = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR)
        # crop to the largest axis-aligned square inside the turned frame
        t = math.radians(abs(v.rotation_deg))
        side = int(min(w, h) / (math.cos(t) + math.sin(t)))
        r0, c0 = (h - side) // 2, (w - side) // 2
        img = img[r0 : r0 + side, c0 : c0 + side]
    if v.haze:
        veil = np.array([200, 206, 218], np.float32)
        img = (img.astype(np.float32) * (1 - v.haze) + veil * v.haze).clip(0, 255).astype(np.uint8)
    img = camera_effects(img, v)
    if v.jpeg_quality is not None:
        ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, v.jpeg_quality])
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(img)


def make_case(base: BaseCase, v: Variant, filler: np.ndarray, reference_px: int = REFERENCE_PX) -> SuiteCase:
    """One suite case: the varied photo against the re-framed reference of its own place."""
    from pyproj import Geod

    offset = v.offset if v.beyond_edge is None else edge_offset(base, v.fill, v.beyond_edge, v.beyond_share, v.offset)
    image, bounds = reframe_reference(base, v.fill, offset, filler, out_px=reference_px)
    ref = Reference(image, f"{base.name}-{v.factor}", bounds=bounds)
    fp = base.footprint_lonlat
    g = Geod(ellps="WGS84")
    width = max(g.inv(*fp[i], *fp[(i + 1) % 4])[2] for i in range(4))
    return SuiteCase(
        f"{base.name} / {v.label}",
        v,
        transform_photo(base.photo, v),
        ref,
        base.focal_mm if v.with_focal else None,
        base.center_lonlat,
        float(width),
        base.name,
    )


def wrong_pairs(bases: list[BaseCase], *, with_focal: bool) -> list[SuiteCase]:
    """Every bundled reference against every other case's photo: all must be rejected."""
    out = []
    for b_ref in bases:
        for b_photo in bases:
            if b_ref is b_photo:
                continue
            ref = Reference(b_ref.reference, b_ref.name, bounds=b_ref.bounds)
            v = Variant("wrong", f"photo of {b_photo.name}" + (" + focal" if with_focal else ""), with_focal=with_focal)
            out.append(
                SuiteCase(
                    f"{b_photo.name} on {b_ref.name}'s reference",
                    v,
                    b_photo.photo,
                    ref,
                    b_photo.focal_mm if with_focal else None,
                    None,
                    None,
                    b_photo.name,
                )
            )
    return out


def wrong_variant_pairs(true_cases: list[SuiteCase], bases: list[BaseCase]) -> list[SuiteCase]:
    """Every varied photo of the suite (each factor and level) against the whole reference of every
    other place: a wider test of the rejection than :func:`wrong_pairs` (69 photos x 3 places here),
    all of which must be rejected."""
    refs = {b.name: Reference(b.reference, b.name, bounds=b.bounds) for b in bases}  # one per place
    out = []
    for c in true_cases:
        for name, ref in refs.items():
            if name == c.place:
                continue
            v = Variant("wrong", f"{c.variant.label} on {name}", with_focal=c.variant.with_focal)
            out.append(SuiteCase(f"{c.name} on {name}'s reference", v, c.photo, ref, c.focal_mm, None, None, c.place))
    return out


def perspective_view(
    image: np.ndarray,
    fov_deg: float,
    tilt_deg: float,
    azimuth_deg: float,
    fill: float,
    centre_colrow: tuple[float, float],
    out_px: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """A pinhole camera's view of a north-up ``image`` taken as flat ground (square pixels):
    ``fov_deg`` across the frame, its axis ``tilt_deg`` off nadir towards ``azimuth_deg`` (clockwise
    from north; the far side at the top of the view), its height chosen so that the footprint's
    longer extent is ``fill`` of the image's width, and the axis meeting the ground at
    ``centre_colrow``. For geometry only: the wide-angle oblique views of the held-out span (50-mm
    lenses, up to 50 degrees off nadir, the far edge of the footprint up to ~2.5 times as wide as the
    near edge) need more ground than a photo holds, so the ground here is the reference itself.
    Returns the view and its four corners' ground points (image columns, rows; top-left, top-right,
    bottom-right, bottom-left)."""
    import cv2

    w_img = image.shape[1]
    t, a, half = (math.radians(x) for x in (tilt_deg, azimuth_deg, fov_deg / 2))
    if not 0 <= tilt_deg + fov_deg / 2 < 85:
        raise ValueError("the view must not reach the horizon (tilt + half the field < 85 degrees)")
    along = math.tan(t + half) - math.tan(t - half)  # ground extent along the look, in heights
    far = 2 * math.tan(half) * math.hypot(1.0, math.tan(t + half))  # the far edge's width, in heights
    height = fill * w_img / max(along, far)
    look = np.array([math.sin(t) * math.sin(a), math.sin(t) * math.cos(a), -math.cos(t)])  # east, north, up
    ahead = np.array([math.sin(a), math.cos(a), 0.0])
    up = ahead - (ahead @ look) * look
    up /= np.linalg.norm(up)
    right = np.cross(look, up)
    focal = (out_px / 2) / math.tan(half)

    def ground(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ray = look * focal + right * u[..., None] - up * v[..., None]
        s = height / -ray[..., 2]
        east = ray[..., 0] * s - math.tan(t) * height * math.sin(a)
        north = ray[..., 1] * s - math.tan(t) * height * math.cos(a)
        return centre_colrow[0] + east, centre_colrow[1] - north

    half_px = (out_px - 1) / 2
    u, v = np.meshgrid(np.arange(out_px) - half_px, np.arange(out_px) - half_px)
    cols, rows = ground(u, v)
    view = cv2.remap(
        image, cols.astype(np.float32), rows.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    edge = out_px / 2  # the frame's outer corners, as locate's footprint takes them
    cu = np.array([-edge, edge, edge, -edge])
    cv_ = np.array([-edge, -edge, edge, edge])
    return view, np.column_stack(ground(cu, cv_))


def build_suite(cases_dir: Path, variants: list[Variant] | None = None, *, every_wrong: bool = False):
    """(true cases, wrong pairs) from a folder of apl-format cases. The filler imagery for
    re-framing is the reference of a wrong candidate (a place none of the photos shows).
    ``every_wrong``: the wrong pairs also hold every varied photo against every other place's
    reference (:func:`wrong_variant_pairs`)."""
    folders = sorted(p for p in Path(cases_dir).iterdir() if (p / "case.json").is_file())
    bases = [read_base_case(f) for f in folders]
    true_bases = [b for b in bases if b.inside and b.footprint_lonlat is not None]
    fillers = [b.reference for b in bases if not b.inside] or [np.full((256, 256, 3), 128, np.uint8)]
    variants = variants if variants is not None else suite_variants()
    true_cases = [make_case(b, v, fillers[0]) for b in true_bases for v in variants]
    wrong = wrong_pairs(bases, with_focal=False) + wrong_pairs(bases, with_focal=True)
    if every_wrong:
        wrong += wrong_variant_pairs(true_cases, bases)
    return true_cases, wrong


def utm_crs(lon: float, lat: float) -> str:
    """The WGS 84 UTM zone holding (lon, lat) degrees, as "EPSG:326zz" (north) or "EPSG:327zz".

    >>> utm_crs(38.2, 36.4), utm_crs(-70.6, -33.4)
    ('EPSG:32637', 'EPSG:32719')
    """
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def grid_tiles(
    image: np.ndarray,
    bounds_lonlat: tuple[float, float, float, float],
    n: int,
    zoom: float = 1.0,
    overlap: float = 0.0,
    crs: str | None = None,
) -> list[tuple[str, np.ndarray, tuple[float, float, float, float], str]]:
    """A north-up mosaic (linear lon/lat ``bounds_lonlat``) cut into an ``n x n`` grid of tiles, as
    a region is handed out in squares: ``[(name "rRcC", tile image, its box, its CRS)]``, rows from
    the north. Each tile is ``1 + overlap`` grid steps wide (Sentinel-2's MGRS tiles: 109.8 km at a
    100-km step, ``overlap`` 0.098), and resampled ``zoom`` times (finer tiles). ``crs`` (e.g.
    :func:`utm_crs`): the mosaic is first reprojected into that CRS (rasterio, bilinear; ground
    outside it is black, as at a scene's edge) and the grid cut there, boxes in its metres;
    None: the grid is cut in lon/lat."""
    import cv2

    if n < 1 or zoom <= 0 or not 0 <= overlap < 1:
        raise ValueError(f"a grid needs n >= 1, zoom > 0 and 0 <= overlap < 1, got {n}, {zoom}, {overlap}")
    img = image if image.ndim == 3 else image[:, :, None]
    west, south, east, north = bounds_lonlat
    if crs is None:
        box, out_crs = bounds_lonlat, "EPSG:4326"
    else:
        from rasterio.transform import from_bounds
        from rasterio.warp import Resampling, calculate_default_transform, reproject

        h, w = img.shape[:2]
        dst_t, dw, dh = calculate_default_transform("EPSG:4326", crs, w, h, west, south, east, north)
        src = np.ascontiguousarray(np.moveaxis(img, -1, 0))
        dst = np.zeros((src.shape[0], dh, dw), src.dtype)
        reproject(
            src,
            dst,
            src_transform=from_bounds(west, south, east, north, w, h),
            src_crs="EPSG:4326",
            dst_transform=dst_t,
            dst_crs=crs,
            resampling=Resampling.bilinear,
        )
        img = np.moveaxis(dst, 0, -1)
        box = (dst_t.c, dst_t.f + dst_t.e * dh, dst_t.c + dst_t.a * dw, dst_t.f)
        out_crs = crs
    h, w = img.shape[:2]
    x0, y0, x1, y1 = box
    step_c, step_r = w / (n + overlap), h / (n + overlap)  # n tiles of 1 + overlap steps fill the mosaic
    out = []
    for r in range(n):
        for c in range(n):
            c0, c1 = round(c * step_c), round((c + 1 + overlap) * step_c)
            r0, r1 = round(r * step_r), round((r + 1 + overlap) * step_r)
            tile = img[r0:r1, c0:c1]
            if zoom != 1.0:
                size = (round((c1 - c0) * zoom), round((r1 - r0) * zoom))
                tile = cv2.resize(tile, size, interpolation=cv2.INTER_CUBIC)
                tile = tile if tile.ndim == 3 else tile[:, :, None]
            tile_box = (
                x0 + c0 / w * (x1 - x0),
                y1 - r1 / h * (y1 - y0),
                x0 + c1 / w * (x1 - x0),
                y1 - r0 / h * (y1 - y0),
            )
            tile = tile if image.ndim == 3 else tile[:, :, 0]
            out.append((f"r{r}c{c}", np.ascontiguousarray(tile), tile_box, out_crs))
    return out


__all__ = [
    "Variant",
    "grid_tiles",
    "utm_crs",
    "BaseCase",
    "SuiteCase",
    "suite_variants",
    "build_suite",
    "make_case",
    "perspective_view",
    "reframe_reference",
    "transform_photo",
    "read_base_case",
    "wrong_pairs",
    "wrong_variant_pairs",
]
