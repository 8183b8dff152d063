"""Reading a before/after pair and putting 'before' on the grid of 'after'.

The 'after' image must be georeferenced (a GeoTIFF with a CRS and a geotransform, e.g. the
``georef.tif`` that ``cupola georef`` or ``cupola locate`` writes for an ISS photo); 'before' is any
georeferenced raster. 'before' is resampled (bilinear) onto the part of the 'after' grid that both
cover; pixels outside either image are NaN; each band's scale and offset tags are applied (ECOSTRESS
LST integers become kelvin). Band roles come from ``bands`` (comma-separated names
among red, green, blue, nir, swir1, swir2, thermal), else from the band descriptions, else from
the band count: 3 = red,green,blue; 4 = red,green,blue,nir; 6 = red,green,blue,nir,swir1,swir2. An
alpha band (the footprint mask of a located photo's RGBA ``georef.tif``) is a mask, not a band.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.io.limits import check_pixel_budget, regular_file

__all__ = ["ImagePair", "band_roles", "clip_to_aoi", "overlap_bounds", "read_mask_on_grid", "read_on_grid", "read_pair"]

ROLES = ("red", "green", "blue", "nir", "swir1", "swir2", "thermal", "tir11", "tir12")
_DEFAULT_ROLES = {
    1: ("red",),
    3: ("red", "green", "blue"),
    4: ("red", "green", "blue", "nir"),
    6: ("red", "green", "blue", "nir", "swir1", "swir2"),
}


@dataclass(frozen=True)
class ImagePair:
    """``before`` and ``after`` (bands, rows, cols) float32 on one grid (``transform``, ``crs``),
    NaN where either has no data; ``roles`` band name -> index; ``times`` ISO strings or None."""

    before: np.ndarray
    after: np.ndarray
    transform: tuple[float, float, float, float, float, float]
    crs: str
    roles: dict[str, int]
    before_path: Path | None = None
    after_path: Path | None = None
    times: dict[str, str | None] = field(default_factory=dict)

    def band(self, which: str, role: str) -> np.ndarray:
        stack = self.before if which == "before" else self.after
        return stack[self.roles[role]]

    def has(self, *roles: str) -> bool:
        return all(r in self.roles for r in roles)


def band_roles(
    count: int, bands: str | None = None, descriptions: tuple = (), what: str = "`after`", param: str = "bands"
) -> dict[str, int]:
    """Band name -> 0-based index from ``bands``, the descriptions, or the count; ``param`` is the
    parameter that gave ``bands`` (named in errors)."""
    if bands:
        names = [b.strip().lower() for b in bands.split(",") if b.strip()]
        bad = [n for n in names if n not in ROLES]
        if bad:
            raise InputError(f"`{param}`: unknown band name(s) {', '.join(bad)}; use {', '.join(ROLES)}")
        if not names:
            raise InputError(f"`{param}`: no band names in {bands!r}; use {', '.join(ROLES)}")
        if len(names) > count:
            raise InputError(f"`{param}`: names {len(names)} bands but {what} has {count}")
        return {n: i for i, n in enumerate(names)}
    described = [str(d or "").strip().lower() for d in descriptions]
    if described and all(d in ROLES for d in described) and len(set(described)) == len(described):
        return {d: i for i, d in enumerate(described)}
    roles = _DEFAULT_ROLES.get(count) or (_DEFAULT_ROLES[6] if count > 6 else None)
    if roles is None:
        raise InputError(f"{what}: has {count} bands; name them with `bands` (e.g. red,green,blue,nir)")
    return {n: i for i, n in enumerate(roles)}


def overlap_bounds(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> tuple | None:
    """The intersection of two (left, bottom, right, top) boxes, None when they do not overlap.

    >>> overlap_bounds((0, 0, 2, 2), (1, 1, 3, 3)), overlap_bounds((0, 0, 1, 1), (2, 2, 3, 3))
    ((1, 1, 2, 2), None)
    """
    left, bottom = max(a[0], b[0]), max(a[1], b[1])
    right, top = min(a[2], b[2]), min(a[3], b[3])
    if right <= left or top <= bottom:
        return None
    return (left, bottom, right, top)


def _time_tag(ds) -> str | None:
    t = ds.tags().get("TIFFTAG_DATETIME")
    if not t:
        return None
    try:
        from datetime import datetime, timezone

        return datetime.strptime(t, "%Y:%m:%d %H:%M:%S").replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
    except ValueError:
        return None


def data_bands(ds) -> list[int]:
    """The 1-based indexes of the bands of ``ds`` that hold data: an alpha band (the footprint
    mask of a ``georef.tif`` that cupola locate or georef writes) is a mask, not a band to map."""
    from rasterio.enums import ColorInterp

    kept = [i + 1 for i, ci in enumerate(ds.colorinterp) if ci != ColorInterp.alpha]
    return kept or list(range(1, ds.count + 1))


def _read_bands(ds, indexes: list[int], **kwargs) -> np.ndarray:
    """The bands ``indexes`` (1-based) as float32, NaN where no data, with the bands' scale and
    offset applied (e.g. ECOSTRESS LST: integers x 0.02 K)."""
    a = ds.read(indexes, masked=True, **kwargs)
    out = np.asarray(a.astype(np.float32).filled(np.nan), dtype=np.float32)
    scales = [float(ds.scales[i - 1] or 1.0) if ds.scales else 1.0 for i in indexes]
    offsets = [float(ds.offsets[i - 1] or 0.0) if ds.offsets else 0.0 for i in indexes]
    if any(v != 1.0 for v in scales) or any(v != 0.0 for v in offsets):
        out = out * np.asarray(scales, np.float32)[:, None, None] + np.asarray(offsets, np.float32)[:, None, None]
    return out


def _aligned_window(ds, crs, transform, shape: tuple[int, int]):
    """The window of ``ds`` that is exactly the grid (``crs``, ``transform``, ``shape``), or None
    when the grids differ (another CRS, pixel size, rotation or a sub-pixel offset)."""
    from rasterio.windows import Window

    st = ds.transform
    if ds.crs != crs or st.b != 0 or st.d != 0 or transform.b != 0 or transform.d != 0:
        return None
    if not (np.isclose(st.a, transform.a, rtol=1e-9) and np.isclose(st.e, transform.e, rtol=1e-9)):
        return None
    col = (transform.c - st.c) / st.a
    row = (transform.f - st.f) / st.e
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    return Window(round(col), round(row), shape[1], shape[0])


def read_pair(
    before: str | os.PathLike,
    after: str | os.PathLike,
    *,
    bands: str | None = None,
    before_bands: str | None = None,
) -> ImagePair:
    """Read ``after`` and resample ``before`` onto its grid, cropped to their overlap.

    Raises:
        InputError: a file unreadable, 'after' not georeferenced (georeference it first), 'before'
            without a CRS, band counts that differ, or images that do not overlap.
    """
    import rasterio
    from rasterio.transform import Affine
    from rasterio.warp import Resampling, reproject, transform_bounds
    from rasterio.windows import Window, from_bounds

    pa = regular_file(after, "the 'after' image (GeoTIFF)")
    pb = regular_file(before, "the 'before' image (GeoTIFF)")
    try:
        da = rasterio.open(pa)
    except Exception as exc:
        raise InputError(f"{pa}: cannot be read as a raster ({' '.join(str(exc).split())})") from None
    try:
        db = rasterio.open(pb)
    except Exception as exc:
        da.close()
        raise InputError(f"{pb}: cannot be read as a raster ({' '.join(str(exc).split())})") from None
    with da, db:
        if da.crs is None or da.transform.is_identity:
            raise InputError(
                f"{pa}: the 'after' image is not georeferenced; georeference it first "
                "(cupola georef or cupola locate writes georef.tif)"
            )
        if db.crs is None or db.transform.is_identity:
            raise InputError(f"{pb}: the 'before' image has no georeferencing (CRS and geotransform)")
        ia, ib = data_bands(da), data_bands(db)  # 1-based, alpha bands left out
        roles = band_roles(len(ia), bands, tuple(da.descriptions[i - 1] for i in ia), "`after`")
        roles_b = band_roles(
            len(ib),
            before_bands or bands,
            tuple(db.descriptions[i - 1] for i in ib),
            "`before`",
            "before_bands" if before_bands else "bands",
        )
        common = {r: i for r, i in roles.items() if r in roles_b}
        if not common:
            raise InputError(
                f"{pa}, {pb}: the images share no band (after: {sorted(roles)}, before: {sorted(roles_b)})"
            )
        b_in_a = transform_bounds(db.crs, da.crs, *db.bounds, densify_pts=21)
        ov = overlap_bounds(tuple(da.bounds), tuple(b_in_a))
        if ov is None:
            raise InputError(f"{pb}, {pa}: the 'before' and 'after' images do not overlap")
        win = from_bounds(*ov, transform=da.transform).round_offsets().round_lengths()
        win = win.intersection(Window(0, 0, da.width, da.height))
        if win.width < 2 or win.height < 2:
            raise InputError(f"{pb}, {pa}: the 'before' and 'after' images overlap by less than 2 pixels")
        check_pixel_budget(int(win.width), int(win.height), str(pa), bands=len(common))
        a = _read_bands(da, ia, window=win)
        t = da.window_transform(win)
        order = sorted(common, key=lambda r: roles[r])
        a = a[[roles[r] for r in order]]
        indexes = [ib[roles_b[r]] for r in order]
        aligned = _aligned_window(db, da.crs, t, a.shape[1:])
        if aligned is not None:  # same grid: a window read, no resampling
            b = _read_bands(db, indexes, window=aligned, boundless=True)
        else:
            b = np.full_like(a, np.nan)
            reproject(
                _read_bands(db, indexes),
                b,
                src_transform=db.transform,
                src_crs=db.crs,
                src_nodata=np.nan,
                dst_transform=t,
                dst_crs=da.crs,
                dst_nodata=np.nan,
                resampling=Resampling.bilinear,
            )
        crs = da.crs.to_string()
        times = {"before": _time_tag(db), "after": _time_tag(da)}
    invalid = ~(np.isfinite(a).all(axis=0) & np.isfinite(b).all(axis=0))
    if invalid.all():
        raise InputError(f"{pb}, {pa}: the 'before' and 'after' images have no valid pixels in common")
    a[:, invalid] = np.nan
    b[:, invalid] = np.nan
    tt = Affine(*t[:6])
    return ImagePair(
        b,
        a,
        (tt.a, tt.b, tt.c, tt.d, tt.e, tt.f),
        crs,
        {r: i for i, r in enumerate(order)},
        Path(pb),
        Path(pa),
        times,
    )


def clip_to_aoi(pair: ImagePair, aoi: str | os.PathLike) -> ImagePair:
    """``pair`` with every pixel outside the polygons of the layer ``aoi`` set to NaN.

    Raises:
        InputError: the layer is unreadable, has no polygon, or misses the pair.
    """
    import dataclasses

    import rasterio.features
    import shapely
    from rasterio.transform import Affine

    from cupola.analysis.zonal import reproject_geometries
    from cupola.io.zone_layer import read_zone_layer

    layer = read_zone_layer(aoi)
    geoms = np.asarray(layer.geometries, dtype=object)
    geoms = geoms[~shapely.is_missing(geoms)]
    geoms = geoms[np.isin(shapely.get_type_id(geoms), (3, 6))]
    if geoms.size == 0:
        raise InputError(f"{aoi}: the area of interest (`aoi`) has no polygon")
    geoms = reproject_geometries(geoms, layer.crs or "EPSG:4326", pair.crs)
    rows, cols = pair.after.shape[1:]
    inside = rasterio.features.geometry_mask(
        [shapely.geometry.mapping(g) for g in geoms], (rows, cols), Affine(*pair.transform), invert=True
    )
    if not inside.any():
        raise InputError(f"{aoi}: the area of interest (`aoi`) does not overlap the image pair")
    before, after = pair.before.copy(), pair.after.copy()
    before[:, ~inside] = np.nan
    after[:, ~inside] = np.nan
    return dataclasses.replace(pair, before=before, after=after)


def _open_georeferenced(path: str | os.PathLike, what: str, kind: str):
    """An open rasterio dataset of the regular file ``path`` (``kind`` names it in the error), or
    a one-line InputError when it cannot be read as a raster or carries no georeferencing."""
    import rasterio

    p = regular_file(path, f"{what} ({kind})")
    try:
        ds = rasterio.open(p)
    except Exception as exc:
        raise InputError(f"{p}: {what} cannot be read as a raster ({' '.join(str(exc).split())})") from None
    if ds.crs is None or ds.transform.is_identity:
        ds.close()
        raise InputError(f"{p}: {what} has no georeferencing (CRS and geotransform)")
    return p, ds


def read_on_grid(path: str | os.PathLike, pair: ImagePair, what: str = "`dem`") -> np.ndarray:
    """Band 1 of the raster ``path`` (a DEM, ...) resampled (bilinear) onto the grid of ``pair``,
    float32 with NaN where it has no data; its scale and offset tags are applied.

    Raises:
        InputError: unreadable, not georeferenced, or not overlapping the pair.
    """
    from rasterio.transform import Affine
    from rasterio.warp import Resampling, reproject, transform_bounds

    p, ds = _open_georeferenced(path, what, "a georeferenced raster")
    with ds:
        rows, cols = pair.after.shape[1:]
        t = Affine(*pair.transform)
        xs, ys = (t.c, t.c + t.a * cols), (t.f, t.f + t.e * rows)
        grid = (min(xs), min(ys), max(xs), max(ys))
        if overlap_bounds(grid, tuple(transform_bounds(ds.crs, pair.crs, *ds.bounds, densify_pts=21))) is None:
            raise InputError(f"{p}: {what} does not overlap the image pair")
        src = _read_bands(ds, [1])[0]
        out = np.full((rows, cols), np.nan, np.float32)
        reproject(
            src, out, src_transform=ds.transform, src_crs=ds.crs, src_nodata=np.nan,
            dst_transform=t, dst_crs=pair.crs, dst_nodata=np.nan, resampling=Resampling.bilinear,
        )  # fmt: skip
    if not np.isfinite(out).any():
        raise InputError(f"{p}: {what} has no valid value over the image pair")
    return out


def read_mask_on_grid(path: str | os.PathLike, pair: ImagePair, what: str = "`cloud_mask`") -> np.ndarray:
    """A mask raster (band 1: 0 = clear, any other value = masked, e.g. the ECOSTRESS
    ``cloud_mask`` layer; its no-data pixels are "not known": not masked) resampled (nearest) onto the grid of
    ``pair``: True where masked. It must be georeferenced and cover every valid pixel of the pair.

    Raises:
        InputError: unreadable (corrupt), not georeferenced, values that are not a mask (a float
            band with values other than 0 and 1), or not covering the pair (another place or
            another CRS's grid that misses part of it).
    """
    from rasterio.transform import Affine
    from rasterio.warp import Resampling, reproject

    p, ds = _open_georeferenced(path, what, "a georeferenced mask raster")
    with ds:
        try:
            src = _read_bands(ds, [1])[0]
        except Exception as exc:
            raise InputError(f"{p}: {what} cannot be read ({' '.join(str(exc).split())})") from None
        values = src[np.isfinite(src)]
        if np.dtype(ds.dtypes[0]).kind == "f" and values.size and not np.isin(values, (0.0, 1.0)).all():
            raise InputError(f"{p}: {what} holds values other than 0 and 1; a mask is 0 (clear) or 1 (masked)")
        rows, cols = pair.after.shape[1:]
        # the mask's no-data pixels are "not known" (not masked); its footprint is its grid
        stack = np.stack([np.nan_to_num(src, nan=0.0), np.ones_like(src)])
        out = np.full((2, rows, cols), np.nan, np.float32)
        reproject(
            stack, out, src_transform=ds.transform, src_crs=ds.crs, src_nodata=np.nan,
            dst_transform=Affine(*pair.transform), dst_crs=pair.crs, dst_nodata=np.nan, resampling=Resampling.nearest,
        )  # fmt: skip
    valid = np.isfinite(pair.after).all(axis=0)
    covered = np.isfinite(out[1]) & valid
    share = covered.sum() / max(int(valid.sum()), 1)
    if share < 0.999:
        raise InputError(
            f"{p}: {what} covers {100 * share:.1f} % of the image pair; it must cover all of it "
            "(the mask of this image, on its grid or any georeferenced grid around it)"
        )
    return np.asarray(np.nan_to_num(out[0], nan=0.0) != 0, bool)
