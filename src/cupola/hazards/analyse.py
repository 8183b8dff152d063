"""One hazard map from a co-registered pair: choose the model the bands allow, run it, polygonize.

``kind`` is one of ``flood`` (MNDWI when green and SWIR exist, else NDWI with NIR, else the RGB
water model at lower confidence), ``burn`` (dNBR, needs NIR and SWIR2), ``fire`` (contextual
thermal anomaly of the 'after' thermal band, see :mod:`cupola.hazards.fire`), ``change``
(change-vector analysis of all shared bands after histogram matching) and ``plume`` (volcanic
ash: split-window BTD with tir11 and tir12, else an RGB colour model, :mod:`cupola.hazards.plume`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cupola.errors import InputError
from cupola.hazards.change import HazardLayer, burn_layer, detect_change, flood_layer, mixture_threshold
from cupola.hazards.depth import FloodDepth, flood_depth_m
from cupola.hazards.frp import FireRadiativePower, fire_radiative_power
from cupola.hazards.grading import Grading, grade_layer
from cupola.hazards.indices import dnbr, mndwi, ndwi, rgb_water_index
from cupola.hazards.pair import ImagePair
from cupola.hazards.polygons import HazardPolygons, polygonize_graded

__all__ = [
    "KINDS",
    "CLOUD_MODES",
    "CloudReport",
    "HazardMap",
    "check_options",
    "check_times",
    "mask_clouds",
    "map_hazard",
    "RGB_CONFIDENCE",
]

CLOUD_MODES = ("auto", "off")

KINDS = ("flood", "burn", "fire", "change", "plume")
RGB_CONFIDENCE = 0.6  # the RGB water model's confidence ceiling (no NIR: turbid water, shadows)
CLASS_NAMES = {
    "flood": "flooded area",
    "burn": "burnt area",
    "fire": "active fire",
    "change": "changed area",
    "plume": "volcanic ash plume",
}


@dataclass(frozen=True)
class CloudReport:
    """The cloud masks of a pair (:mod:`cupola.hazards.clouds` or files) and what was done with
    them: ``no_data`` (rows, cols) the pixels made "no data" (the masks ``applied``: both for the
    two-image products, 'after' only for an active-fire map); per image its ``sources`` entry,
    cloud ``km2`` and ``share`` of the pair's valid pixels."""

    before: np.ndarray
    after: np.ndarray
    no_data: np.ndarray
    sources: dict[str, str]
    applied: tuple[str, ...]
    km2: dict[str, float]
    share: dict[str, float]

    def summary(self) -> dict:
        from cupola.hazards.clouds import CLOUD_METHOD

        return {
            "method": CLOUD_METHOD,
            "applied_to": list(self.applied),
            "no_data_km2": self.km2["no_data"],
            **{
                w: {"source": self.sources[w], "cloud_km2": self.km2[w], "cloud_share": self.share[w]}
                for w in ("before", "after")
            },
        }


@dataclass(frozen=True)
class HazardMap:
    """The layer, its polygons, what produced it (``model``) and its confidence ceiling."""

    kind: str
    layer: HazardLayer
    polygons: HazardPolygons
    model: str
    confidence_ceiling: float
    grading: Grading | None = None
    depth: FloodDepth | None = None
    frp: FireRadiativePower | None = None
    clouds: CloudReport | None = None
    class_label: str | None = None  # instead of the kind's class name (active fire from night light)

    @property
    def class_name(self) -> str:
        return self.class_label or CLASS_NAMES[self.kind]


def _flood(pair: ImagePair, match_colours: bool = False) -> tuple[HazardLayer, str, float]:
    if pair.has("green", "swir1"):
        g, sw = pair.band("after", "green"), pair.band("after", "swir1")
        ib = mndwi(pair.band("before", "green"), pair.band("before", "swir1"))
        ia = mndwi(g, sw)
        layer = flood_layer(ib, ia, name="MNDWI", refine=lambda t: mixture_threshold(g, sw, ia, t, mndwi))
        return layer, "MNDWI (Xu 2006) + Otsu", 1.0
    if pair.has("green", "nir"):
        g, n = pair.band("after", "green"), pair.band("after", "nir")
        ib = ndwi(pair.band("before", "green"), pair.band("before", "nir"))
        ia = ndwi(g, n)
        layer = flood_layer(ib, ia, name="NDWI", refine=lambda t: mixture_threshold(g, n, ia, t, ndwi))
        return layer, "NDWI (McFeeters 1996) + Otsu", 1.0
    if pair.has("red", "green", "blue"):
        return _rgb_flood(pair, match_colours)
    raise InputError("`bands`: a flood map needs green and NIR or SWIR bands, or red, green and blue")


def _rgb_flood(pair: ImagePair, match_colours: bool = False) -> tuple[HazardLayer, str, float]:
    """The RGB water model on true colour. With ``match_colours`` (two cameras: an astronaut
    photo's blue haze against a Sentinel-2 mosaic differ in colour balance far more than a flood's
    water differs from land, and the index reads a blue cast as water), 'before' is
    histogram-matched to 'after' band by band (:func:`match_histograms`), learned again from the
    pixels the first pass found dry in both (pseudo-invariant features, the flood and its edge left
    out) before the final map. Off for a pair from one sensor: there it cost 0.016 of IoU on the
    painted benchmark (docs/hazards.md, "A photo located first")."""
    from scipy import ndimage

    from cupola.hazards.normalise import match_histograms

    rgb = ("red", "green", "blue")
    before = np.stack([pair.band("before", r) for r in rgb])
    after = np.stack([pair.band("after", r) for r in rgb])
    ia = rgb_water_index(*after)

    def layer_from(b: np.ndarray) -> HazardLayer:
        return flood_layer(
            rgb_water_index(*b), ia, name="RGB water model", model_confidence=RGB_CONFIDENCE, default_threshold=-0.3
        )

    if not match_colours:
        return layer_from(before), "RGB water model + Otsu (no NIR: lower confidence)", RGB_CONFIDENCE
    first = layer_from(match_histograms(before, after))
    invariant = ~ndimage.binary_dilation(first.mask, iterations=2)
    layer = layer_from(match_histograms(before, after, invariant=invariant))
    model = "RGB water model + Otsu, 'before' histogram-matched to 'after' (no NIR: lower confidence)"
    return layer, model, RGB_CONFIDENCE


def _burn(pair: ImagePair) -> tuple[HazardLayer, str, float]:
    if not pair.has("nir", "swir2"):
        raise InputError("`bands`: a burn map (dNBR) needs NIR and SWIR2 bands in both images")
    d = dnbr(
        pair.band("before", "nir"), pair.band("before", "swir2"), pair.band("after", "nir"), pair.band("after", "swir2")
    )
    return burn_layer(d), "dNBR (Key & Benson 2006) + Otsu", 1.0


def _fire(pair: ImagePair) -> tuple[HazardLayer, str, float]:
    from cupola.hazards.fire import fire_layer

    if not pair.has("thermal"):
        raise InputError("`bands`: an active-fire map needs a thermal band (brightness temperature, K)")
    return (
        fire_layer(pair.band("after", "thermal"), pixel_m=pixel_size_m(pair)),
        "contextual thermal anomaly (after Giglio et al. 2003)",
        1.0,
    )


def _plume(pair: ImagePair) -> tuple[HazardLayer, str, float]:
    from cupola.hazards import plume

    if pair.has("tir11", "tir12"):
        bands = [pair.band(w, r) for w in ("after", "before") for r in ("tir11", "tir12")]
        return plume.thermal_plume_layer(*bands), "split-window BTD (Prata 1989), new in 'after'", 1.0
    if pair.has("red", "green", "blue"):
        rgb = [pair.roles[r] for r in ("red", "green", "blue")]
        layer = plume.rgb_plume_layer(pair.before[rgb], pair.after[rgb])
        return layer, "RGB: new grey-to-brown region, not cloud (no thermal: lower confidence)", plume.RGB_CONFIDENCE
    raise InputError("`bands`: a plume map needs tir11 and tir12 bands (split window, K) or red, green and blue")


NIGHT_FIRE_CLASS = "active fire (night light)"


def _night_fire(pair: ImagePair) -> tuple[HazardLayer, str, float]:
    from cupola.hazards.night_fire import P_MIN, night_fire

    if not pair.has("red", "green", "blue"):
        raise InputError("`bands`: an active-fire map from night photos needs red, green and blue bands")
    rgb = [pair.roles[r] for r in ("red", "green", "blue")]
    found = night_fire(pair.before[rgb], pair.after[rgb])
    conf = np.where(found.mask, found.p_fire, 0.0).astype(np.float32)
    method = "new night light with a flame's colour (lamp-colour model + synthesised flames)"
    return HazardLayer(found.mask, conf, found.p_fire, P_MIN, method), method, 1.0


def pixel_size_m(pair: ImagePair) -> float:
    """The side (m) of the pair's mean pixel, from the true pixel areas of its grid."""
    from cupola.analysis.zonal import pixel_area_km2

    rows, cols = pair.after.shape[1:]
    area = np.broadcast_to(pixel_area_km2(pair.transform, (rows, cols), pair.crs), (rows, cols))
    return float(np.sqrt(np.mean(area)) * 1000.0)


def check_options(kind: str, min_area_km2: float = 0.0, min_pixels: int = 1, clouds: str = "auto") -> None:
    """Refuse a bad ``kind``, ``min_area_km2``, ``min_pixels`` or ``clouds`` before any image is read."""
    if kind not in KINDS:
        raise InputError(f"`kind`: {kind!r} is not one of {', '.join(KINDS)}")
    if clouds not in CLOUD_MODES:
        raise InputError(f"`clouds`: {clouds!r} is not one of {', '.join(CLOUD_MODES)}")
    if not np.isfinite(min_area_km2) or min_area_km2 < 0:
        raise InputError(f"`min_area_km2`: {min_area_km2} must be a number >= 0")
    if min_pixels < 1:
        raise InputError(f"`min_pixels`: {min_pixels} must be at least 1")


def check_times(before_time: str | None, after_time: str | None) -> tuple[str | None, str | None]:
    """The acquisition times given for the pair, as ISO 8601 UTC (``...Z``), checked before any
    image is read (they set the sun for cloud shadows and the products' dates).

    Raises:
        InputError: a time that is not ISO 8601 with its zone, naming `before_time` or `after_time`.
    """
    from cupola.geometry.times import iso_z, parse_time

    return tuple(  # type: ignore[return-value]
        iso_z(parse_time(text, f"`{name}`")) if text else None
        for name, text in (("before_time", before_time), ("after_time", after_time))
    )


def mask_clouds(
    pair: ImagePair,
    kind: str,
    clouds: str = "auto",
    given: dict[str, tuple[np.ndarray, str]] | None = None,
) -> tuple[ImagePair, CloudReport | None]:
    """The pair with its cloudy pixels made NaN ("no data"), and the report. ``given``: per image
    ('before', 'after') a mask on the pair's grid and its source (a file name), used instead of the
    automatic mask (:func:`cupola.hazards.clouds.auto_cloud_masks`, when ``clouds`` is "auto":
    both images for a change map, 'after' only for a flood or burn map, none for an active-fire
    map). A two-image product masks the clouds of either image; an active-fire map (the 'after'
    image alone) only the 'after' clouds. None when no mask applies.

    Raises:
        InputError: a given mask not on the pair's grid, or clouds covering the whole pair.
    """
    import dataclasses

    from cupola.analysis.zonal import pixel_area_km2
    from cupola.hazards.clouds import auto_cloud_masks

    given = dict(given or {})
    shape = pair.after.shape[1:]
    for which, (m, source) in given.items():
        if which not in ("before", "after"):
            raise InputError(f"`cloud_masks`: {which!r} is not 'before' or 'after'")
        if np.shape(m) != shape:
            raise InputError(f"{source}: the cloud mask's shape {np.shape(m)} is not the pair's grid {shape}")
    masks: dict[str, np.ndarray] = {w: np.asarray(m, bool) for w, (m, _s) in given.items()}
    sources = {w: src for w, (_m, src) in given.items()}
    # automatic masks: both images for a change map; for a flood or burn map (a darkening) only
    # 'after': a darkening in 'after' is, to the temporal test, a brightening of 'before', which
    # on bright ground (pale desert) passes for a 'before' cloud (measured: bench_hazards.py
    # hazards_cloud_no_loss); an active-fire map has none (it reads 'after' alone)
    auto_for = {"change": ("before", "after"), "flood": ("after",), "burn": ("after",)}.get(kind, ())
    if clouds == "auto" and any(w not in masks for w in auto_for):
        needed = tuple(w for w in auto_for if w not in masks)
        auto = auto_cloud_masks(pair.before, pair.after, pair.roles, needed)
        if auto is not None:
            for which, m in auto[0].items():
                masks[which], sources[which] = m, f"automatic ({auto[1]})"
                shadow = _cloud_shadows(pair, which, m)
                if shadow is not None and shadow.mask.any():
                    masks[which] = m | shadow.mask
                    sources[which] += f"; cloud shadows (cloud height {shadow.height_m:g} m)"
    if not masks:
        return pair, None
    for which in ("before", "after"):
        if which not in masks:
            masks[which], sources[which] = np.zeros(shape, bool), "none"
    applied = ("after",) if kind == "fire" else ("before", "after")
    valid = np.isfinite(pair.after).all(axis=0) & np.isfinite(pair.before).all(axis=0)
    no_data = np.zeros(shape, bool)
    for which in applied:
        no_data |= masks[which]
    no_data &= valid
    if not (valid & ~no_data).any():
        raise InputError("clouds cover every valid pixel of the pair: nothing to map (see `--clouds`)")
    area = np.broadcast_to(pixel_area_km2(pair.transform, shape, pair.crs), shape)
    n_valid = max(int(valid.sum()), 1)
    km2 = {w: float(area[masks[w] & valid].sum()) for w in ("before", "after")}
    km2["no_data"] = float(area[no_data].sum())
    share = {w: float((masks[w] & valid).sum() / n_valid) for w in ("before", "after")}
    report = CloudReport(masks["before"], masks["after"], no_data, sources, applied, km2, share)
    if not no_data.any():
        return pair, report
    before, after = pair.before.copy(), pair.after.copy()
    before[:, no_data] = np.nan
    after[:, no_data] = np.nan
    return dataclasses.replace(pair, before=before, after=after), report


def _cloud_shadows(pair: ImagePair, which: str, cloud: np.ndarray):
    """The shadows of an automatic RGB cloud mask of image ``which``
    (:func:`cupola.hazards.cloud_shadows.cloud_shadow_mask`), the sun from the image's acquisition
    time (``pair.times``) at the pair's centre; None without a time, without red, green and blue,
    with the sun under 5 degrees, or on a grid not in degrees or metres.

    Raises:
        InputError: the acquisition time is not an ISO 8601 time.
    """
    import math

    from rasterio.crs import CRS
    from rasterio.warp import transform as warp_points

    from cupola.geometry.sun import sun_position
    from cupola.geometry.times import parse_time
    from cupola.hazards.cloud_shadows import cloud_shadow_mask
    from cupola.hazards.clouds import clear_sky_residual

    text = pair.times.get(which)
    if not text or not pair.has("red", "green", "blue") or not cloud.any():
        return None
    when = parse_time(text, f"`{which}` time")
    rows, cols = cloud.shape
    a, _b, c, _d, e, f = pair.transform
    x, y = c + a * cols / 2.0, f + e * rows / 2.0
    crs = CRS.from_user_input(pair.crs)
    if crs.is_geographic:
        lon, lat = x, y
        pixel_m = (abs(e) * 110_574.0, abs(a) * 111_320.0 * math.cos(math.radians(lat)))
    else:
        unit = crs.linear_units_factor[1] if crs.linear_units_factor else 0.0
        if not unit:
            return None
        lons, lats = warp_points(crs, "EPSG:4326", [x], [y])
        lon, lat = float(lons[0]), float(lats[0])
        pixel_m = (abs(e) * unit, abs(a) * unit)
    sun = sun_position(when, lon=lon, lat=lat)
    if sun.elevation_deg < 5.0:
        return None
    rgb = [pair.roles[r] for r in ("red", "green", "blue")]
    here, there = (pair.after, pair.before) if which == "after" else (pair.before, pair.after)
    dark = clear_sky_residual(here[rgb].mean(axis=0), there[rgb].mean(axis=0))
    return cloud_shadow_mask(dark, cloud, sun.elevation_deg, sun.azimuth_deg, pixel_m)


def map_hazard(
    pair: ImagePair,
    kind: str,
    *,
    min_area_km2: float = 0.01,
    min_pixels: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    dem_m: np.ndarray | None = None,
    clouds: str = "auto",
    cloud_masks: dict[str, tuple[np.ndarray, str]] | None = None,
    night_photo: bool = False,
    match_colours: bool = False,
) -> HazardMap:
    """The hazard map of ``kind`` for ``pair``; polygons under ``min_area_km2`` or of fewer than
    ``min_pixels`` pixels (the minimum mapping unit: 3 x 3 by default, one pixel for active fires,
    which are mapped pixel by pixel as in the MODIS/VIIRS fire products) are dropped. ``dem_m``
    (ground elevation on the pair's grid) gives a flood its depth (FwDET) and depth grades; water
    in both images (permanent water) is not an edge of the flood. Clouds (``clouds`` "auto": the
    automatic masks; ``cloud_masks``: per image a mask and its source, see :func:`mask_clouds`) are
    made "no data" first: not mapped, not "no change". ``night_photo`` (fire only): the pair is two
    night photos (linear R, G, B) and a fire is new light of a flame's colour
    (:mod:`cupola.hazards.night_fire`), class "active fire (night light)", without FRP.
    ``match_colours`` (flood, RGB model only): 'before' and 'after' come from different cameras
    (a photo located against a reference), so 'before' is histogram-matched to 'after' first."""
    if night_photo and kind != "fire":
        raise InputError(f"`night_photo`: night photos map active fires; it does not apply to a {kind} map")
    if dem_m is not None and kind != "flood":
        raise InputError(f"`dem_m`: a DEM gives a flood its depth; it does not apply to a {kind} map")
    if min_pixels is None:
        min_pixels = 1 if kind == "fire" else 9
    check_options(kind, min_area_km2, min_pixels, clouds)
    step = progress or (lambda label, done, total: None)
    step("detecting", 0, 2)
    pair, cloud_report = mask_clouds(pair, kind, clouds, cloud_masks)
    if kind == "flood":
        layer, model, ceiling = _flood(pair, match_colours)
    elif kind == "burn":
        layer, model, ceiling = _burn(pair)
    elif kind == "fire" and night_photo:
        layer, model, ceiling = _night_fire(pair)
    elif kind == "fire":
        layer, model, ceiling = _fire(pair)
    elif kind == "plume":
        layer, model, ceiling = _plume(pair)
    else:
        layer = detect_change(pair.before, pair.after)
        model, ceiling = "change-vector analysis of histogram-matched bands", 1.0
    step("detecting", 1, 2)
    depth = None
    if dem_m is not None:
        dem = np.asarray(dem_m, dtype=np.float32)
        if dem.shape != layer.mask.shape:
            raise InputError(f"`dem_m`: shape {dem.shape} is not the pair's grid {layer.mask.shape}")
        depth = flood_depth_m(layer.mask, dem, exclude=_permanent_water(pair, layer))
        model += "; depth: FwDET from the DEM"
    frp = None
    if kind == "fire" and not night_photo:
        from cupola.analysis.zonal import pixel_area_km2
        from cupola.hazards.fire import WINDOW_M, window_pixels

        rows, cols = layer.mask.shape
        area_m2 = np.broadcast_to(pixel_area_km2(pair.transform, (rows, cols), pair.crs), (rows, cols)) * 1e6
        window = window_pixels(WINDOW_M, pixel_size_m(pair))
        frp = fire_radiative_power(pair.band("after", "thermal"), layer.mask, area_m2, window_px=window)
    grading = grade_layer(
        kind,
        layer.score,
        layer.mask,
        layer.threshold,
        NIGHT_FIRE_CLASS if night_photo else CLASS_NAMES[kind],
        None if depth is None else depth.depth_m,
        None if frp is None else frp.frp_w,
    )
    polys = polygonize_graded(
        layer.mask,
        grading.grade,
        grading.names,
        layer.confidence,
        pair.transform,
        pair.crs,
        min_area_km2=min_area_km2,
        min_pixels=min_pixels,
        connectivity=8 if kind == "fire" else 4,  # a fire is its 8-connected pixels (as its FRP)
        sum_of=None if frp is None else frp.frp_w,
    )
    step("detecting", 2, 2)
    if cloud_report is not None and cloud_report.no_data.any():
        model += "; clouds masked (no data)"
    label = NIGHT_FIRE_CLASS if night_photo else None
    return HazardMap(kind, layer, polys, model, ceiling, grading, depth, frp, cloud_report, label)


def _permanent_water(pair: ImagePair, layer: HazardLayer) -> np.ndarray:
    """Water before and after (not flood, not dry land): the flood layer's index above its
    threshold in both images. Only the 'after' index is recomputed (from the same model);
    ``layer.score`` is the after-minus-before change, so the 'before' index is the one the layer
    used, colour-matched or not."""
    roles = ("green", "swir1") if pair.has("green", "swir1") else ("green", "nir")
    if pair.has(*roles):
        from cupola.hazards.indices import mndwi

        index = mndwi if roles[1] == "swir1" else ndwi
        ia = index(pair.band("after", roles[0]), pair.band("after", roles[1]))
    else:
        ia = rgb_water_index(*(pair.band("after", r) for r in ("red", "green", "blue")))
    ib = ia - layer.score
    with np.errstate(invalid="ignore"):
        return np.asarray((ib > layer.threshold) & (ia > layer.threshold), bool)
