"""The ``cupola locate`` job: read the photo and the references, localize, write the products."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cupola import __version__
from cupola.errors import InputError
from cupola.geometry.geodesy import M_PER_DEG
from cupola.locate import homography as hg
from cupola.locate.localize import Localizer, LocateOptions, LocateResult
from cupola.locate.reference import Reference, check_min_size, load_references, read_rgb8

RESULT_SCHEMA = "cupola.locate/1"


def read_photo_rgb(path) -> np.ndarray:
    """The photo as 8-bit grey or RGB (read like a plain reference image); :class:`InputError` when
    it is smaller than ``MIN_SIDE_PX`` on a side."""
    photo = read_rgb8(path)
    check_min_size(photo.shape[1], photo.shape[0], path, "photo")
    return photo


def run_locate(
    photo_path, reference_path, *, bounds=None, options: LocateOptions | None = None, localizer: Localizer | None = None
) -> tuple[LocateResult, np.ndarray, list[Reference]]:
    """Localize one photo; raises :class:`InputError` for unreadable inputs."""
    photo = read_photo_rgb(photo_path)
    refs = load_references(reference_path, bounds)
    loc = localizer or Localizer(options)
    return loc.locate(photo, refs), photo, refs


def run_locate_pool(
    photo_path,
    reference_dir,
    *,
    options: LocateOptions | None = None,
    cache_dir=None,
    top_k: int = 4,
    localizer: Localizer | None = None,
    progress=None,
):
    """Localize one photo against a folder of georeferenced tiles (:mod:`cupola.locate.pool`).

    Returns the :class:`~cupola.locate.pool.PoolResult`, the photo, and the references to draw
    (the accepted tile, or the best-ranked one for a "not here")."""
    from cupola.locate.cache import FeatureCache
    from cupola.locate.pool import PoolOptions, TilePool

    photo = read_photo_rgb(photo_path)
    cache = FeatureCache(cache_dir)
    pool = TilePool(reference_dir, PoolOptions(top_k=top_k), cache=cache)
    res = pool.locate(photo, options, localizer=localizer, progress=progress)
    if res.reference is not None:
        refs = [res.reference]
    elif res.ranking:
        refs = [next(t for t in pool.tiles if t.name == res.ranking[0]["tile"]).load()]
    else:
        refs = []
    return res, photo, refs


def summary(result: LocateResult, photo_path, reference_path, pool=None) -> dict:
    d = {
        "schema": RESULT_SCHEMA,
        "cupola_version": __version__,
        "photo": str(photo_path),
        "reference": str(reference_path),
        **result.to_dict(),
    }
    if pool is not None:
        d["pool"] = pool.to_dict()
    if result.center_lonlat is not None:
        d["center"] = {"lon_deg": result.center_lonlat[0], "lat_deg": result.center_lonlat[1]}
    return d


def write_locate_products(
    result: LocateResult,
    photo: np.ndarray,
    refs: list[Reference],
    out_dir,
    *,
    photo_path,
    reference_path,
    progress=None,
    pool=None,
) -> list[Path]:
    """result.json always; with a match also footprint.geojson, georef.tif; matches.png always.
    ``pool``: the :class:`~cupola.locate.pool.PoolResult` of a pool search, summarised in result.json."""
    from shapely.geometry import Polygon

    from cupola.io.geotiff import write_georeferenced_cog
    from cupola.io.staging import staged_output, write_json
    from cupola.io.vector import write_footprint_geojson
    from cupola.plot.match_plot import write_matches_png

    ref = next((r for r in refs if r.name == result.reference), refs[0] if refs else None)
    if ref is None:  # a pool search that ranked nothing (every tile beyond the horizon)
        ref = Reference(np.zeros((16, 16, 3), np.uint8), "no tile", bounds=(0.0, 0.0, 1.0, 1.0))
    ph, pw = photo.shape[:2]
    written: list[Path] = []
    with staged_output(out_dir, written=written) as stage:
        d = summary(result, photo_path, reference_path, pool=pool)
        k = int((result.rotation_deg or 0) // 90)
        shown = np.ascontiguousarray(np.rot90(photo, k))
        pts_p = pts_r = outline = None
        if result.match_points is not None:
            to_shown = np.linalg.inv(hg.rot90_h(k, pw, ph))
            pts_p = hg.apply_h(to_shown, result.match_points[0])
            pts_r = result.match_points[1]
        if result.h_photo_to_ref is not None:
            outline = hg.apply_h(result.h_photo_to_ref, hg.border_points(pw, ph, 8))
        verdict = f"MATCHED (confidence {result.confidence:.2f})" if result.matched else "REJECTED"
        write_matches_png(
            stage / "matches.png",
            shown,
            ref.image,
            photo_pts=pts_p,
            ref_pts=pts_r,
            footprint_ref_px=outline if result.matched else None,
            title=f"{Path(photo_path).name} vs {ref.name}: {verdict}",
            subtitle=f"{result.inliers} inliers after coregistration; {result.reason}",
        )
        if result.matched:
            ring = np.array(result.footprint_lonlat)
            props = {
                "photo": Path(photo_path).name,
                "reference": ref.name,
                "confidence": result.confidence,
                "inliers": result.inliers,
                "center_lon_deg": result.center_lonlat[0],
                "center_lat_deg": result.center_lonlat[1],
            }
            write_footprint_geojson(stage / "footprint.geojson", Polygon(ring), props)
            h_inv = np.linalg.inv(result.h_photo_to_ref)

            def to_photo(lon, lat):
                c, r = ref.lonlat_to_pixel(lon, lat)
                p = hg.apply_h(h_inv, np.column_stack([np.ravel(c), np.ravel(r)]))
                return p[:, 0].reshape(np.shape(lon)), p[:, 1].reshape(np.shape(lon))

            west, south = ring.min(axis=0)
            east, north = ring.max(axis=0)
            res_deg = (result.ground_width_m or 1e4) / max(pw, ph) / M_PER_DEG
            tif = write_georeferenced_cog(  # a homography after an affine map: smooth
                stage / "georef.tif",
                photo,
                to_photo,
                (west, south, east, north),
                res_deg,
                progress=progress,
                mapping_is_smooth=True,
            )
            d["georef_tif"] = {k2: (list(v) if isinstance(v, tuple) else v) for k2, v in tif.items()}
        write_json(stage / "result.json", d)
    return written


def nadir_from_tle(tle_path, time_text: str) -> tuple[float, float]:
    """(lat, lon) of the ISS sub-satellite point at a time, from a TLE file."""
    from cupola.geometry import orbit
    from cupola.io.tle import element_set_at

    t = orbit.parse_time(time_text, "`time`")
    state = orbit.state_at(element_set_at(tle_path, t), t)
    lon, lat = state.subpoint
    return lat, lon


def exif_time_utc(photo_path) -> str:
    """The photo's EXIF DateTimeOriginal (+ SubSecTimeOriginal) as ISO 8601 UTC: the ISS cameras'
    clocks are kept on GMT. Raises :class:`InputError` when the photo has none."""
    from cupola.io.images import read_photo_info

    info = read_photo_info(photo_path)
    raw = (info.datetime_original or "").strip()
    try:
        date, clock = raw.split(" ")
        text = (
            date.replace(":", "-")
            + "T"
            + clock
            + (f".{info.subsec.strip()}" if info.subsec and info.subsec.strip().isdigit() else "")
            + "Z"
        )
    except ValueError:
        raise InputError(
            f"{photo_path}: `tle` needs `time`: the photo has no usable EXIF DateTimeOriginal ({raw or 'absent'})"
        ) from None
    return text


def options_from(*, matcher: str = "aliked", focal_mm=None, nadir=None, sensor_width_mm=None) -> LocateOptions:
    """LocateOptions from CLI-style values (``nadir`` is (lat, lon))."""
    if focal_mm is not None and not focal_mm > 0:
        raise InputError(f"--focal-mm must be positive, got {focal_mm:g}")
    opts = LocateOptions(matcher=matcher, focal_mm=focal_mm)
    if sensor_width_mm is not None:
        if not sensor_width_mm > 0:
            raise InputError(f"--sensor-width-mm must be positive, got {sensor_width_mm:g}")
        opts.sensor_width_mm = sensor_width_mm
    if nadir is not None:
        lat, lon = nadir
        if not -90 <= lat <= 90:
            raise InputError(f"--nadir latitude {lat} outside -90..90")
        opts.nadir_lonlat = (float(lon), float(lat))
    return opts
