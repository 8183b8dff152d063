"""ECOSTRESS Level-2 land-surface-temperature scenes: the LST, QC, cloud and water layers as
GeoTIFFs (AppEEARS / LP DAAC exports, one file per layer), or the product's swath HDF5 with its
geolocation, as one :class:`EcostressScene` on one grid.

GeoTIFF layers. LST is stored as integers: the band's scale (GDAL scale or a ``scale_factor``
tag, 0.02 K for ECOSTRESS) must be there, or be given as ``lst_scale``; an integer LST without
one is refused (its values would read as 50 times the temperature). 0 is no data. QC is the
16-bit quality word (:mod:`cupola.thermal.qc`), negative values are fill. The cloud and water
masks are 0/1 with 255 as fill, read as the integers they are (AppEEARS copies a meaningless
``scale_factor`` onto them). Every layer must be on the LST's grid.

Swath HDF5 (ECO_L2_LSTE / ECO_L2G_LSTE, version 2): the datasets ``LST``, ``QC``,
``cloud_mask`` and ``water_mask`` are found by name anywhere in the file (``SDS/LST`` in the
swath product), scaled by their ``scale_factor``/``add_offset`` attributes, ``_FillValue`` masked;
``latitude``/``longitude`` come from the same file or from the ECO_L1B_GEO file (``geo_path``).
The swath is put on a regular lon/lat grid of ``grid_deg`` (0.0006°, the L2G grid) by nearest
neighbour within 1.5 cells.

Scene time: from the ``doyYYYYDDDHHMMSS`` part of AppEEARS names (UTC), or from the HDF5 name's
``YYYYMMDDTHHMMSS``; None when neither is there.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cupola.errors import InputError
from cupola.io.limits import check_pixel_budget, regular_file

__all__ = [
    "EcostressScene",
    "read_ecostress_geotiffs",
    "read_ecostress_h5",
    "find_ecostress_scenes",
    "scene_time",
    "LST_RANGE_K",
]

#: plausible land-surface temperatures (K): a scaled LST outside this is a scale error
LST_RANGE_K = (150.0, 400.0)
#: the ECOSTRESS L2G grid step (degrees)
L2G_GRID_DEG = 0.0006
_LAYERS = ("LST", "QC", "cloud_mask", "water_mask")


@dataclass
class EcostressScene:
    """One scene on one north-up grid: ``lst_k`` (float32, NaN = no data), ``qc`` (int32, -1 =
    fill; None if not given), ``cloud`` and ``water`` (uint8 0/1, 255 = fill; None if not given),
    ``transform`` (GDAL six coefficients), ``crs``, ``time`` (UTC or None), ``name`` and the files."""

    lst_k: np.ndarray
    transform: tuple[float, float, float, float, float, float]
    crs: str
    qc: np.ndarray | None = None
    cloud: np.ndarray | None = None
    water: np.ndarray | None = None
    time: dt.datetime | None = None
    name: str = ""
    paths: dict[str, str] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.lst_k.shape[0]), int(self.lst_k.shape[1]))


_DOY = re.compile(r"doy(\d{4})(\d{3})(\d{2})(\d{2})(\d{2})")
_ISO = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})")


def scene_time(name: str) -> dt.datetime | None:
    """UTC time from an AppEEARS ``doyYYYYDDDHHMMSS`` or an ECOSTRESS ``YYYYMMDDTHHMMSS`` name.

    >>> scene_time("ECO_L2_LSTE.002_LST_doy2023175112358_aid0001.tif").isoformat()
    '2023-06-24T11:23:58+00:00'
    """
    m = _DOY.search(name)
    if m:
        y, doy, hh, mm, ss = (int(g) for g in m.groups())
        try:
            return dt.datetime(y, 1, 1, hh, mm, ss, tzinfo=dt.timezone.utc) + dt.timedelta(days=doy - 1)
        except ValueError:
            return None
    m = _ISO.search(name)
    if m:
        try:
            y, mo, d, hh, mi, ss = (int(g) for g in m.groups())
            return dt.datetime(y, mo, d, hh, mi, ss, tzinfo=dt.timezone.utc)
        except ValueError:
            return None
    return None


def _crs_text(crs) -> str | None:
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def _read_band(path: Path, what: str):
    import rasterio

    try:
        with rasterio.open(path) as ds:
            check_pixel_budget(ds.width, ds.height, str(path))
            a = ds.read(1)
            t = ds.transform
            return (
                a,
                (t.a, t.b, t.c, t.d, t.e, t.f),
                _crs_text(ds.crs),
                ds.nodata,
                (ds.scales[0] if ds.scales else 1.0),
                (ds.offsets[0] if ds.offsets else 0.0),
                {**ds.tags(), **ds.tags(1)},
            )
    except InputError:
        raise
    except Exception as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"{path}: cannot be read as a raster ({reason}); expected {what}") from None


def _lst_values(a: np.ndarray, nodata, scale, offset, tags: dict, path: Path, lst_scale: float | None) -> np.ndarray:
    tag_scale = tags.get("scale_factor")
    if lst_scale is not None:
        s, o = float(lst_scale), 0.0
    elif scale not in (None, 1.0):
        s, o = float(scale), float(offset or 0.0)
    elif tag_scale is not None:
        try:
            s, o = float(tag_scale), float(tags.get("add_offset", 0.0) or 0.0)
        except ValueError:
            raise InputError(f"{path}: its scale_factor tag {tag_scale!r} is not a number") from None
    elif a.dtype.kind in "iu":
        raise InputError(
            f"{path}: LST stored as integers without a scale factor (no GDAL scale, no scale_factor tag); "
            "ECOSTRESS stores kelvin x 50: give `lst_scale` 0.02"
        )
    else:
        s, o = 1.0, 0.0
    values = a.astype(np.float64)
    bad = ~np.isfinite(values) | (values == 0)
    if nodata is not None and np.isfinite(nodata):
        bad |= values == nodata
    out = values * s + o
    out[bad] = np.nan
    good = out[np.isfinite(out)]
    if good.size:
        med = float(np.median(good))
        lo, hi = LST_RANGE_K
        if not lo <= med <= hi:
            raise InputError(
                f"{path}: median LST {med:.4g} K after scale {s:g} is not a land-surface temperature "
                f"({lo:g}-{hi:g} K); the scale factor is wrong or missing (`lst_scale`)"
            )
    return out.astype(np.float32)


def _same_grid(a_shape, a_t, b_shape, b_t, path: Path, lst_path: Path) -> None:
    if tuple(a_shape) != tuple(b_shape) or not np.allclose(a_t, b_t, rtol=0, atol=1e-6 * abs(a_t[0])):
        raise InputError(
            f"{path}: its grid ({b_shape[1]}x{b_shape[0]} px) differs from the LST's {lst_path} "
            f"({a_shape[1]}x{a_shape[0]} px); layers of a scene must share one grid"
        )


def read_ecostress_geotiffs(
    lst_path: str | os.PathLike,
    qc_path: str | os.PathLike | None = None,
    cloud_path: str | os.PathLike | None = None,
    water_path: str | os.PathLike | None = None,
    *,
    lst_scale: float | None = None,
) -> EcostressScene:
    """One scene from its GeoTIFF layers (see the module). Raises InputError for a missing file,
    an integer LST without a scale, implausible temperatures or layers on another grid."""
    p = regular_file(lst_path, "an ECOSTRESS LST GeoTIFF")
    a, t, crs, nodata, scale, offset, tags = _read_band(p, "an ECOSTRESS LST GeoTIFF")
    if crs is None:
        raise InputError(f"{p}: has no coordinate reference system")
    lst = _lst_values(a, nodata, scale, offset, tags, p, lst_scale)
    scene = EcostressScene(lst, t, crs, time=scene_time(p.name), name=_scene_name(p.name), paths={"lst": str(p)})
    for key, given, what in (
        ("qc", qc_path, "an ECOSTRESS QC GeoTIFF"),
        ("cloud", cloud_path, "an ECOSTRESS cloud mask GeoTIFF"),
        ("water", water_path, "an ECOSTRESS water mask GeoTIFF"),
    ):
        if given is None:
            continue
        q = regular_file(given, what)
        b, bt, _crs, b_nodata, _s, _o, _tags = _read_band(q, what)
        _same_grid(a.shape, t, b.shape, bt, q, p)
        if b.dtype.kind == "f":
            if not np.all(np.isfinite(b) | np.isnan(b)):
                raise InputError(f"{q}: holds infinite values; expected {what}")
            b = np.where(np.isfinite(b), b, -1)
        if key == "qc":
            arr = b.astype(np.int64)
            if b_nodata is not None and np.isfinite(b_nodata):
                arr[arr == int(b_nodata)] = -1
            arr[arr < 0] = -1
            if np.any(arr > 0xFFFF):
                raise InputError(f"{q}: values above 65535; expected the 16-bit ECOSTRESS QC word")
            scene.qc = arr.astype(np.int32)
        else:
            m = b.astype(np.int64)
            fill = (m != 0) & (m != 1)
            scene_mask = np.where(fill, 255, m).astype(np.uint8)
            setattr(scene, key, scene_mask)
        scene.paths[key] = str(q)
    return scene


def _scene_name(filename: str) -> str:
    m = _DOY.search(filename)
    if m:
        return m.group(0)
    return Path(filename).stem


def find_ecostress_scenes(folder: str | os.PathLike) -> list[dict[str, Path]]:
    """The scenes in ``folder``: LST files (``*_LST_*.tif``, in ``folder`` or its ``LST/``) with
    the QC, cloud and water files of the same ``doy`` stamp wherever they are below ``folder``.
    Sorted by time. Each item: ``{"lst": path, "qc": path?, "cloud": path?, "water": path?}``."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: is not a folder of ECOSTRESS scenes")
    tifs = sorted(p for p in root.rglob("*.tif") if p.is_file())
    lst = [p for p in tifs if re.search(r"_LST_doy", p.name) or (p.parent.name == "LST" and "_LST" in p.name)]
    if not lst:
        raise InputError(f"{root}: no ECOSTRESS LST GeoTIFF (*_LST_doy*.tif) found")
    out = []
    for p in lst:
        m = _DOY.search(p.name)
        item: dict[str, Path] = {"lst": p}
        if m:
            stamp = m.group(0)
            for key, tag in (("qc", "_QC_"), ("cloud", "_cloud_mask_"), ("water", "_water_mask_")):
                hits = [q for q in tifs if stamp in q.name and tag in q.name]
                if hits:
                    item[key] = hits[0]
        out.append(item)
    out.sort(key=lambda it: scene_time(it["lst"].name) or dt.datetime.min.replace(tzinfo=dt.timezone.utc))
    return out


# --- HDF5 swath ---------------------------------------------------------------------------------


def _find_datasets(h5, names: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    wanted = {n.lower(): n for n in names}

    def visit(name, obj):
        import h5py

        if isinstance(obj, h5py.Dataset):
            leaf = name.rsplit("/", 1)[-1].lower()
            if leaf in wanted and wanted[leaf] not in found:
                found[wanted[leaf]] = obj

    h5.visititems(visit)
    return found


def _attr(ds, key: str):
    v = ds.attrs.get(key)
    if v is None:
        return None
    v = np.asarray(v).reshape(-1)
    if v.size == 0:
        return None
    x = v[0]
    if isinstance(x, bytes):
        x = x.decode("ascii", "replace")
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _scaled(ds, path: Path, name: str, *, need_scale: bool) -> np.ndarray:
    raw = np.asarray(ds[()])
    scale = _attr(ds, "scale_factor")
    offset = _attr(ds, "add_offset") or 0.0
    fill = _attr(ds, "_FillValue")
    if scale is None and need_scale and raw.dtype.kind in "iu":
        raise InputError(
            f"{path}: dataset {ds.name} ({name}) is stored as integers and has no scale_factor attribute; "
            "cannot tell its units"
        )
    values = raw.astype(np.float64)
    bad = ~np.isfinite(values)
    if fill is not None:
        bad |= values == fill
    if need_scale:
        values = values * (scale if scale is not None else 1.0) + offset
    values[bad] = np.nan
    return values


def read_ecostress_h5(
    path: str | os.PathLike,
    geo_path: str | os.PathLike | None = None,
    *,
    grid_deg: float = L2G_GRID_DEG,
) -> EcostressScene:
    """A swath (or gridded) L2 LSTE HDF5 file on a lon/lat grid (see the module)."""
    import h5py
    from scipy.spatial import cKDTree

    p = regular_file(path, "an ECOSTRESS L2 LSTE HDF5 file")
    if not (grid_deg > 0 and np.isfinite(grid_deg)):
        raise InputError(f"`grid_deg` must be a positive step in degrees, got {grid_deg}")
    try:
        h5 = h5py.File(p, "r")
    except OSError as exc:
        raise InputError(f"{p}: cannot be read as HDF5 ({' '.join(str(exc).split())})") from None
    with h5:
        sets = _find_datasets(h5, (*_LAYERS, "latitude", "longitude"))
        if "LST" not in sets:
            raise InputError(f"{p}: no dataset named LST; expected an ECOSTRESS L2 LSTE file")
        lst = _scaled(sets["LST"], p, "LST", need_scale=True)
        check_pixel_budget(lst.shape[-1], lst.shape[0], str(p))
        layers = {k: np.asarray(sets[k][()]) for k in ("QC", "cloud_mask", "water_mask") if k in sets}
        lat = lon = None
        if "latitude" in sets and "longitude" in sets:
            lat, lon = np.asarray(sets["latitude"][()], np.float64), np.asarray(sets["longitude"][()], np.float64)
    if lat is None and geo_path is not None:
        g = regular_file(geo_path, "an ECOSTRESS L1B GEO HDF5 file")
        try:
            with h5py.File(g, "r") as gh:
                gs = _find_datasets(gh, ("latitude", "longitude"))
                if "latitude" not in gs or "longitude" not in gs:
                    raise InputError(f"{g}: no latitude/longitude datasets; expected an ECOSTRESS L1B GEO file")
                lat, lon = np.asarray(gs["latitude"][()], np.float64), np.asarray(gs["longitude"][()], np.float64)
        except OSError as exc:
            raise InputError(f"{g}: cannot be read as HDF5 ({' '.join(str(exc).split())})") from None
    if lat is None or lon is None:
        raise InputError(f"{p}: has no latitude/longitude; give the matching ECO_L1B_GEO file (`geo_path`)")
    if lat.shape != lst.shape or lon.shape != lst.shape:
        raise InputError(f"{p}: latitude/longitude {lat.shape} do not match LST {lst.shape}")
    lst[(lst < LST_RANGE_K[0] * 0.5)] = np.nan
    ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90)
    if not ok.any():
        raise InputError(f"{p}: no valid geolocation")
    west, east = float(lon[ok].min()), float(lon[ok].max())
    south, north = float(lat[ok].min()), float(lat[ok].max())
    cols = int(np.ceil((east - west) / grid_deg)) + 1
    rows = int(np.ceil((north - south) / grid_deg)) + 1
    check_pixel_budget(cols, rows, str(p))
    west -= 0.5 * grid_deg
    north += 0.5 * grid_deg
    k = np.cos(np.radians(0.5 * (south + north)))
    tree = cKDTree(np.column_stack([lon[ok] * k, lat[ok]]))
    gl = west + (np.arange(cols) + 0.5) * grid_deg
    ga = north - (np.arange(rows) + 0.5) * grid_deg
    glon, glat = np.meshgrid(gl, ga)
    dist, idx = tree.query(np.column_stack([glon.ravel() * k, glat.ravel()]), distance_upper_bound=1.5 * grid_deg)
    hit = np.isfinite(dist)

    def grid(values: np.ndarray, fill) -> np.ndarray:
        flat = values[ok]
        out = np.full(rows * cols, fill, dtype=np.result_type(flat.dtype, np.asarray(fill).dtype))
        out[hit] = flat[idx[hit]]
        return out.reshape(rows, cols)

    transform = (grid_deg, 0.0, west, 0.0, -grid_deg, north)
    scene = EcostressScene(
        grid(lst.astype(np.float32), np.float32(np.nan)).astype(np.float32),
        transform,
        "EPSG:4326",
        time=scene_time(p.name),
        name=p.stem,
        paths={"h5": str(p), **({"geo": str(geo_path)} if geo_path else {})},
    )
    if "QC" in layers:
        q = layers["QC"].astype(np.int64)
        scene.qc = grid(np.where(q < 0, -1, q), -1).astype(np.int32)
    for key, attr in (("cloud_mask", "cloud"), ("water_mask", "water")):
        if key in layers:
            m = layers[key].astype(np.int64)
            setattr(scene, attr, grid(np.where((m == 0) | (m == 1), m, 255), 255).astype(np.uint8))
    return scene
