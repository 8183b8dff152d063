"""The stereo job: two photos with their poses -> a DEM, its predicted error and a summary.

:func:`compute_stereo` works on arrays and georeferences (no files): the pair is checked
(:func:`cupola.stereo.views.check_pair`), rectified from the poses
(:mod:`cupola.stereo.rectify`), matched densely (:mod:`cupola.stereo.matching`), triangulated
with the exact ellipsoid geometry (:mod:`cupola.stereo.heights`) and gridded
(:mod:`cupola.stereo.dem`). :func:`run_stereo` reads the photos and poses of a
:class:`StereoRequest`; :func:`write_products` writes ``dem.tif``, ``dem_error.tif``,
``dem.png`` and ``result.json`` all or nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cupola import __version__
from cupola.errors import InputError, NoSolutionError
from cupola.geometry import geodesy, orbit
from cupola.geometry.projection import Georeference
from cupola.stereo.dem import DemGrid, grid_points
from cupola.stereo.heights import HeightPoints, triangulate_disparities
from cupola.stereo.matching import MatchResult, MatchSettings, match_rectified
from cupola.stereo.rectify import Rectification, rectify_pair
from cupola.stereo.views import ViewSource, check_pair, view_georeference

__all__ = [
    "RESULT_SCHEMA",
    "StereoOptions",
    "StereoRequest",
    "StereoResult",
    "compute_stereo",
    "run_stereo",
    "write_products",
    "REMAP_QUANTUM_SIGMA_PX",
]

RESULT_SCHEMA = "cupola.stereo/1"
#: OpenCV's remap places samples on a 1/32-pixel grid (INTER_BITS = 5): a uniform rounding of
#: +-1/64 px in each rectified image, sqrt(2 / 12) / 32 px in their difference, the disparity
REMAP_QUANTUM_SIGMA_PX = float(np.sqrt(2.0 / 12.0) / 32.0)
#: the whole range of heights on Earth, searched when none is given (m above the ellipsoid)
DEFAULT_HEIGHT_RANGE_M = (-500.0, 9000.0)


@dataclass(frozen=True)
class StereoOptions:
    """How heights are made. ``posting_m`` None: twice the ground sample distance of photo 1 at its
    centre. ``height_range_m``: the heights the scene may span (the disparity search). ``scale``:
    rectified pixels per pixel of photo 1. ``refine_orientation``: refine the second camera's
    rotation from sparse matches (:mod:`cupola.stereo.orientation`) before dense matching.
    ``align_to_reference``: with a reference DEM, remove the one disparity offset (a rotation of
    the second camera that the pair cannot see) that best fits the heights to it."""

    posting_m: float | None = None
    height_range_m: tuple[float, float] = DEFAULT_HEIGHT_RANGE_M
    scale: float = 1.0
    refine_orientation: bool = True  # the second camera's rotation from sparse matches
    align_to_reference: bool = False  # take the disparity offset to the reference DEM out
    matching: MatchSettings = field(default_factory=MatchSettings)


@dataclass(frozen=True, eq=False)
class StereoResult:
    """Everything :func:`compute_stereo` found (see :meth:`summary` for the result.json part)."""

    georef1: Georeference
    georef2: Georeference
    rectification: Rectification
    match: MatchResult
    points: HeightPoints
    dem: DemGrid
    pair: dict
    options: StereoOptions
    timings_s: dict
    warnings: list[str]
    reference: dict | None = None  # the comparison with a reference DEM, when given
    reference_difference: np.ndarray | None = None  # dem - reference on the DEM grid
    sources: dict = field(default_factory=dict)
    orientation: dict | None = None  # the relative-orientation refinement, when it ran

    def summary(self) -> dict:
        """The ``cupola.stereo/1`` summary (JSON-ready through :func:`cupola.io.staging.json_safe`)."""
        pts, dem = self.points, self.dem
        valid = np.isfinite(dem.height_m)
        lon_c, lat_c = dem.cell_centres()
        centre = {"lon_deg": float(np.mean(lon_c[valid])), "lat_deg": float(np.mean(lat_c[valid]))}
        gsd = self.georef1.gsd_m()
        angle = np.degrees(pts.angle_rad)
        d = {
            "schema": RESULT_SCHEMA,
            "cupola_version": __version__,
            "photos": [self.sources.get("photo1"), self.sources.get("photo2")],
            "pose_sources": [self.sources.get("pose1"), self.sources.get("pose2")],
            "times_utc": [orbit.iso_z(self.georef1.time), orbit.iso_z(self.georef2.time)],
            "separation_s": self.pair["separation_s"],
            "base_m": self.pair["base_m"],
            "overlap_fraction": self.pair["overlap_fraction"],
            "base_to_height": self.pair["base_to_height"],
            "intersection_angle_deg": {
                "median": float(np.median(angle)),
                "min": float(angle.min()),
                "max": float(angle.max()),
            },
            "gsd_photo1_m": {"along_columns": gsd[0], "along_rows": gsd[1]},
            "rectified": {
                "width_px": self.rectification.width_px,
                "height_px": self.rectification.height_px,
                "scale": self.rectification.scale,
                "disparity_search_px": list(self.match.search_px),
                "coarse_pass_factor": self.match.coarse_factor,
            },
            "matching": {
                "method": "OpenCV StereoSGBM with left-right check, then least-squares sub-pixel refinement",
                "block_px": self.options.matching.block_px,
                "window_px": self.options.matching.window_px,
                "sgm_valid_fraction": self.match.sgm_valid_fraction,
                "valid_fraction": self.match.valid_fraction,
                "disparity_sigma_px_median": float(np.nanmedian(self.match.sigma_px)),
                "remap_quantum_sigma_px": REMAP_QUANTUM_SIGMA_PX,
            },
            "relative_orientation": self.orientation,
            "points": len(pts),
            "height_m": _stats(pts.height_m),
            "predicted_sigma_m": {
                "median": float(np.median(pts.sigma_m)),
                "rms": float(np.sqrt(np.mean(pts.sigma_m**2))),
                "metres_per_px_disparity_median": float(np.median(pts.metres_per_px)),
            },
            "dem": {
                "file": "dem.tif",
                "error_file": "dem_error.tif",
                "crs": "EPSG:4326",
                "heights": "metres above the WGS84 ellipsoid (no geoid)",
                "posting_m": dem.posting_m,
                "width": dem.shape[1],
                "height": dem.shape[0],
                "transform": list(dem.transform),
                "bounds_lonlat": list(dem.bounds),
                "valid_cells": int(valid.sum()),
                "centre": centre,
                "predicted_sigma_m_rms": float(np.sqrt(np.nanmean(dem.sigma_m[valid] ** 2))),
            },
            "reference": self.reference,
            "timings_s": self.timings_s,
            "warnings": self.warnings,
        }
        return d


def _stats(a: np.ndarray) -> dict:
    p = np.percentile(a, [1, 50, 99])
    return {"p01": float(p[0]), "median": float(p[1]), "p99": float(p[2]), "min": float(a.min()), "max": float(a.max())}


def _grey(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 3:
        img = img[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return img.astype(np.float32)


def _rectified(image: np.ndarray, georef: Georeference, rect: Rectification, view: int):
    """The photo (grey, float32) resampled into the rectified frame (Lanczos-4) and where it holds
    image: a homography for a camera without distortion, per-pixel maps otherwise."""
    import cv2

    grey = _grey(image)
    h, w = grey.shape
    size = (rect.width_px, rect.height_px)
    if georef.camera.distortion.is_zero:
        hom = rect.homography(georef, view)
        flags = cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP
        out = cv2.warpPerspective(grey, hom, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        # inside the photo by the interpolation kernel's reach (Lanczos-4: 4 px)
        inner = np.zeros((h, w), np.uint8)
        inner[4 : h - 4, 4 : w - 4] = 1
        flags_n = cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
        valid = cv2.warpPerspective(inner, hom, size, flags=flags_n, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return out, valid.astype(bool)
    mx, my = rect.maps(georef, view)
    out = cv2.remap(grey, mx, my, cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    valid = (mx >= 4) & (mx <= w - 5) & (my >= 4) & (my <= h - 5)
    return out, valid


def _disparity_range(rect: Rectification, heights_m: tuple[float, float]) -> tuple[float, float]:
    gx, gy = np.meshgrid(np.linspace(0, rect.width_px - 1, 17), np.linspace(0, rect.height_px - 1, 17))
    ds = []
    for h in heights_m:
        g = geodesy.ray_ellipsoid_intersection(rect.centre1_m, rect.rays(gx, gy, 1), h)
        x2, _, depth = rect.project(g, 2)
        ok = np.isfinite(x2) & (depth > 0)
        ds.append((gx - x2)[ok])
    both = np.concatenate(ds)
    if both.size == 0:
        raise NoSolutionError("the rectified view does not see the ground")
    return float(both.min()), float(both.max())


def compute_stereo(
    image1: np.ndarray,
    image2: np.ndarray,
    georef1: Georeference,
    georef2: Georeference,
    options: StereoOptions | None = None,
    *,
    sources: dict | None = None,
    reference_dem: Path | None = None,
) -> StereoResult:
    """Heights from two photos (arrays, grey or RGB) and their georeferences.

    Raises:
        InputError: a pair that cannot give heights (same instant or place, no overlap), images
            that do not fit their cameras, a bad option.
        NoSolutionError: nothing could be matched.
    """
    opts = options or StereoOptions()
    warnings: list[str] = []
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    for k, (img, geo) in enumerate(((image1, georef1), (image2, georef2)), start=1):
        h, w = np.asarray(img).shape[:2]
        if (w, h) != (geo.camera.width_px, geo.camera.height_px):
            raise InputError(
                f"photo {k} is {w}x{h} px but its camera is {geo.camera.width_px}x{geo.camera.height_px} px"
            )
    lo_h, hi_h = (float(x) for x in opts.height_range_m)
    if not (np.isfinite(lo_h) and np.isfinite(hi_h) and lo_h < hi_h):
        raise InputError(f"`height_range_m` must be two finite heights, low < high; got {opts.height_range_m}")
    if opts.posting_m is not None and not (np.isfinite(opts.posting_m) and opts.posting_m > 0):
        raise InputError(f"`posting_m` must be a positive length, got {opts.posting_m}")
    if not 0.05 <= opts.scale <= 4.0:
        raise InputError(f"`scale` must be in [0.05, 4], got {opts.scale}")
    pair = check_pair(georef1, georef2)
    rect = rectify_pair(georef1, georef2, scale=opts.scale, reference_height_m=0.5 * (lo_h + hi_h))
    left, valid_l = _rectified(image1, georef1, rect, 1)
    right, valid_r = _rectified(image2, georef2, rect, 2)
    timings["rectify"] = time.perf_counter() - t0
    orientation = None
    if opts.refine_orientation:
        from cupola.stereo.orientation import refine_second_rotation, sparse_matches

        t_o = time.perf_counter()
        pts1, pts2 = sparse_matches(left, right, valid_l, valid_r)
        refined = refine_second_rotation(georef1, georef2, rect, pts1, pts2)
        if refined is None:
            warnings.append("too few sparse matches to refine the relative orientation; the poses are used as given")
        else:
            refined_georef2, info = refined
            orientation = info.to_dict()
            orientation["applied"] = info.max_shift_px(rect) > 0.05
            if orientation["applied"]:  # a correction of 0.05 px or less (below the matches' noise) is left out
                georef2 = refined_georef2
                right, valid_r = _rectified(image2, georef2, rect, 2)
            if info.rms_after_px > 1.0:
                warnings.append(
                    f"the rays still miss each other by {info.rms_after_px:.1f} px after refining the orientation: "
                    "check the poses and the camera (focal length, distortion)"
                )
        timings["orientation"] = time.perf_counter() - t_o
    t1 = time.perf_counter()
    d_range = _disparity_range(rect, (lo_h, hi_h))
    match = match_rectified(left, right, valid_l, valid_r, d_range, opts.matching)
    timings["match"] = time.perf_counter() - t1
    if not np.isfinite(match.disparity_px).any():
        raise NoSolutionError("no pixel of the pair could be matched (no texture in common, or wrong poses)")
    t2 = time.perf_counter()
    sigma_d = np.sqrt(match.sigma_px.astype(np.float64) ** 2 + REMAP_QUANTUM_SIGMA_PX**2).astype(np.float32)
    points = triangulate_disparities(rect, match.disparity_px, sigma_d)
    if len(points) == 0:
        raise NoSolutionError("no pixel of the pair could be matched")
    sample = reference_sampler(reference_dem) if reference_dem is not None else None
    if opts.align_to_reference:
        if sample is None:
            raise InputError("`align_to_reference` needs `reference_dem`")
        offset = disparity_offset_to_reference(points, sample)
        points = triangulate_disparities(rect, match.disparity_px - np.float32(offset), sigma_d)
        orientation = dict(orientation or {})
        orientation["aligned_to_reference_disparity_offset_px"] = offset
        orientation["aligned_to_reference_rotation_deg"] = float(np.degrees(offset / rect.focal_px))
    gsd = float(np.mean(georef1.gsd_m()))
    posting = opts.posting_m or 2.0 * gsd / opts.scale
    dem = grid_points(points.lon_deg, points.lat_deg, points.height_m, points.sigma_m, posting)
    timings["triangulate_and_grid"] = time.perf_counter() - t2
    slant = float(np.median(np.linalg.norm(points_ecef_sample(points) - rect.centre1_m, axis=-1)))
    pair["base_to_height"] = pair["base_m"] / slant if slant > 0 else float("nan")
    if pair["base_to_height"] < 0.005:
        warnings.append(
            f"base-to-height ratio {pair['base_to_height']:.4f} is small: heights are imprecise (photos "
            f"{pair['separation_s']:.2f} s apart)"
        )
    if match.valid_fraction < 0.3:
        warnings.append(f"only {100 * match.valid_fraction:.0f} % of the overlap was matched")
    reference = diff = None
    if reference_dem is not None:
        reference, diff = compare_with_reference(dem, reference_dem, sample)
    timings["total"] = time.perf_counter() - t0
    return StereoResult(
        georef1,
        georef2,
        rect,
        match,
        points,
        dem,
        pair,
        opts,
        timings,
        warnings,
        reference,
        diff,
        dict(sources or {}),
        orientation,
    )


def points_ecef_sample(points: HeightPoints, n: int = 2000) -> np.ndarray:
    """ECEF positions of up to ``n`` of the points (evenly spread)."""
    k = max(1, len(points) // n)
    return geodesy.geodetic_to_ecef(
        np.radians(points.lon_deg[::k]), np.radians(points.lat_deg[::k]), points.height_m[::k]
    )


def reference_sampler(path: Path):
    """A function (lon_deg, lat_deg) -> heights of a reference elevation raster (any CRS GDAL
    knows; bilinear, NaN outside)."""
    from cupola.io.raster_band import read_raster_band

    ref = read_raster_band(path, what="a reference elevation raster (GeoTIFF)")
    transformer = None
    if ref.crs is not None and ref.crs not in ("EPSG:4326", "OGC:CRS84"):
        from pyproj import Transformer

        transformer = Transformer.from_crs("EPSG:4326", ref.crs, always_xy=True)
    a, b, c, dd, e, f = ref.transform
    det = a * e - b * dd
    grid = ref.values.astype(np.float64)

    def sample(lon, lat):
        x, y = (lon, lat) if transformer is None else transformer.transform(lon, lat)
        col = (e * (x - c) - b * (y - f)) / det - 0.5
        row = (-dd * (x - c) + a * (y - f)) / det - 0.5
        return _bilinear_nan(grid, np.asarray(col, dtype=float), np.asarray(row, dtype=float))

    return sample


def compare_with_reference(dem: DemGrid, path: Path, sample=None) -> tuple[dict, np.ndarray]:
    """The DEM against a reference elevation raster, sampled bilinearly at the DEM's cell centres:
    bias, RMSE, RMSE over the predicted sigma, and the difference grid."""
    sample = sample or reference_sampler(path)
    lon, lat = dem.cell_centres()
    values = sample(lon, lat)
    diff = (dem.height_m - values).astype(np.float32)
    ok = np.isfinite(diff) & np.isfinite(dem.sigma_m)
    if ok.sum() == 0:
        raise InputError(f"{path}: the reference elevation raster does not cover the DEM")
    e_ = diff[ok].astype(np.float64)
    pred = float(np.sqrt(np.mean(dem.sigma_m[ok].astype(np.float64) ** 2)))
    rmse = float(np.sqrt(np.mean(e_**2)))
    summary = {
        "file": str(path),
        "cells_compared": int(ok.sum()),
        "mean_difference_m": float(e_.mean()),
        "std_difference_m": float(e_.std()),
        "rmse_m": rmse,
        "predicted_sigma_rms_m": pred,
        "rmse_over_predicted": rmse / pred if pred > 0 else float("nan"),
        "note": "heights compared as they are: a reference in orthometric heights differs by the geoid",
    }
    return summary, diff


def disparity_offset_to_reference(points: HeightPoints, sample, max_points: int = 200_000) -> float:
    """The disparity offset (px) that best brings the points onto a reference surface: the median
    of (h - h_ref) / (dh/dd) over the points it covers. A rotation of camera 2 about the rectified
    y axis shifts every disparity alike and is not observable from the pair; this fixes it."""
    k = max(1, len(points) // max_points)
    ref = sample(points.lon_deg[::k], points.lat_deg[::k])
    ok = np.isfinite(ref)
    if ok.sum() < 100:
        raise InputError("the reference elevation raster covers too little of the pair to align the DEM to it")
    dh = points.height_m[::k][ok] - ref[ok]
    return float(np.median(dh / points.metres_per_px[::k][ok]))


def _bilinear_nan(grid: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    rows, cols = grid.shape
    inside = (col >= 0) & (col <= cols - 1) & (row >= 0) & (row <= rows - 1)
    c = np.clip(np.nan_to_num(col), 0, cols - 1)
    r = np.clip(np.nan_to_num(row), 0, rows - 1)
    c0 = np.minimum(np.floor(c).astype(np.intp), max(cols - 2, 0))
    r0 = np.minimum(np.floor(r).astype(np.intp), max(rows - 2, 0))
    c1, r1 = np.minimum(c0 + 1, cols - 1), np.minimum(r0 + 1, rows - 1)
    fc, fr = c - c0, r - r0
    v = (grid[r0, c0] * (1 - fc) + grid[r0, c1] * fc) * (1 - fr) + (grid[r1, c0] * (1 - fc) + grid[r1, c1] * fc) * fr
    return np.where(inside, v, np.nan)


# -- files -----------------------------------------------------------------------------------------


@dataclass
class StereoRequest:
    """A stereo job from files: two photos and, for each, a ``result.json`` (``pose1``/``pose2``)
    or its time and LVLH attitude with the element sets (``tle_path``)."""

    photo1: Path
    photo2: Path
    pose1: Path | None = None
    pose2: Path | None = None
    time1: dt.datetime | None = None
    time2: dt.datetime | None = None
    attitude1: tuple[float, float, float] | None = None
    attitude2: tuple[float, float, float] | None = None
    tle_path: Path | None = None
    focal_mm: float | None = None
    sensor_mm: tuple[float, float] | None = None
    force_tle: bool = False
    options: StereoOptions = field(default_factory=StereoOptions)
    reference_dem: Path | None = None


def run_stereo(req: StereoRequest) -> tuple[StereoResult, list[np.ndarray]]:
    """Read the photos and their poses, then :func:`compute_stereo`. Writes nothing.
    Returns the result and the two photos (for the figure). A 16-bit colour PNG or TIFF keeps its
    16 bits; the two photos must have one bit depth (they are matched on one intensity scale)."""
    from cupola.io.images import check_same_depth, read_photo_full_depth

    notes: list[str] = []
    images: list[np.ndarray] = []
    georefs, pose_sources = [], []
    for k, (photo, pose, t, rpy) in enumerate(
        ((req.photo1, req.pose1, req.time1, req.attitude1), (req.photo2, req.pose2, req.time2, req.attitude2)),
        start=1,
    ):
        img, info = read_photo_full_depth(photo)
        check_same_depth(photo, img, images[0].dtype if images else None, str(req.photo1))
        h, w = img.shape[:2]
        geo, source = view_georeference(
            ViewSource(k, pose, t, rpy),
            width_px=w,
            height_px=h,
            photo=Path(photo),
            exif_focal_mm=info.focal_length_mm,
            exif_model=info.camera_model,
            tle_path=req.tle_path,
            focal_mm=req.focal_mm,
            sensor_mm=req.sensor_mm,
            force_tle=req.force_tle,
            notes=notes,
        )
        images.append(img)
        georefs.append(geo)
        pose_sources.append(source)
    sources = {"photo1": str(req.photo1), "photo2": str(req.photo2), "pose1": pose_sources[0], "pose2": pose_sources[1]}
    result = compute_stereo(
        images[0], images[1], georefs[0], georefs[1], req.options, sources=sources, reference_dem=req.reference_dem
    )
    result.warnings[:0] = notes
    return result, images


def write_products(result: StereoResult, out_dir: Path, *, inputs: list | None = None) -> list[Path]:
    """``dem.tif`` (heights, COG), ``dem_error.tif`` (predicted sigma; with a reference also the
    measured difference), ``dem.png`` (hillshade and error maps) and ``result.json``, all or
    nothing. Returns the written paths."""
    from cupola.io.cog import write_cog
    from cupola.io.staging import staged_output, write_json
    from cupola.plot.stereo import write_dem_figure

    written: list[Path] = []
    dem = result.dem
    with staged_output(out_dir, written=written, inputs=inputs or []) as stage:
        summary = result.summary()
        tags = {"HEIGHTS": "metres above the WGS84 ellipsoid", "SOURCE": "cupola stereo"}
        write_cog(
            stage / "dem.tif",
            np.asarray(dem.height_m, np.float32),
            dem.transform,
            "EPSG:4326",
            band_names=["height_m"],
            units="m",
            tags=tags,
        )
        bands, names = [dem.sigma_m], ["predicted_sigma_m"]
        if result.reference_difference is not None:
            bands.append(result.reference_difference)
            names.append("dem_minus_reference_m")
        write_cog(
            stage / "dem_error.tif",
            np.stack([np.asarray(b, np.float32) for b in bands]),
            dem.transform,
            "EPSG:4326",
            band_names=names,
            units="m",
            tags=tags,
        )
        write_dem_figure(
            stage / "dem.png",
            dem.height_m,
            dem.sigma_m,
            dem.bounds,
            difference_m=result.reference_difference,
            title=f"{summary['times_utc'][0]} + {summary['separation_s']:.2f} s, B/H {summary['base_to_height']:.3f}",
        )
        write_json(stage / "result.json", summary)
    return written
