"""Reading a thermal band as brightness temperature, whatever it was stored as, and refusing what
cannot be read safely: a raster of brightness temperature (K) or of band radiance
(W m⁻² sr⁻¹ µm⁻¹, converted through the band-integrated Planck function of its band).

* **Scale.** The raster's own scale/offset (GDAL metadata), else its ``scale_factor``/``add_offset``
  tags (ECOSTRESS, HDF-EOS style); integers with neither take the ``scale`` given, and without one
  are refused: digital numbers are not temperatures. Floating-point values are used as they are.
* **Units.** ``units="auto"`` takes the raster's unit tag when it has one (K / kelvin, or a
  radiance unit with W and sr; degrees Celsius and anything else are refused); without a tag, a
  median in 150-400 is kelvin and a median within the band's radiance at 150-400 K is radiance.
  Either way the brightness temperature's median must be an Earth scene's (180-345 K), or the
  units or the scale are wrong (a Celsius raster read as radiance lands above 360 K).

>>> import numpy as np
>>> from cupola.io.geotiff import write_lonlat_geotiff
>>> from cupola.thermal.planck import BandPlanck, SpectralResponse
>>> b = BandPlanck(SpectralResponse.gaussian("b", 10.9, 0.6))
>>> _ = write_lonlat_geotiff("rad.tif", b.radiance(np.full((2, 3), 300.0)).astype(np.float32), (0, 0, 3, 2))
>>> band = read_brightness("rad.tif", b)
>>> band.units, round(float(band.bt_k[0, 0]), 3)
('radiance', 300.0)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.thermal.planck import BandPlanck

__all__ = ["ThermalBand", "read_brightness", "check_same_grid", "UNITS"]

UNITS = ("auto", "K", "radiance")
#: medians of brightness temperature an Earth scene can have (K)
SCENE_BT_RANGE_K = (180.0, 345.0)
#: medians accepted as kelvin, and the temperatures whose band radiances are accepted as radiance
AUTO_RANGE_K = (150.0, 400.0)


@dataclass(frozen=True)
class ThermalBand:
    """``bt_k`` brightness temperature (float64, NaN = no data) on the grid ``transform`` (GDAL
    six coefficients) / ``crs``; ``units`` what the file held ('K' or 'radiance'); ``path``."""

    bt_k: np.ndarray
    transform: tuple[float, float, float, float, float, float]
    crs: str | None
    units: str
    path: Path

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.bt_k.shape[0]), int(self.bt_k.shape[1]))


def _unit_from_tag(tag: str, p: Path) -> str | None:
    t = tag.strip().lower().replace(" ", "")
    if not t:
        return None
    if t in ("k", "kelvin", "degk"):
        return "K"
    if "w" in t and "sr" in t:
        return "radiance"
    if t in ("c", "degc", "°c", "celsius", "degreescelsius", "degc."):
        raise InputError(f"{p}: its values are in degrees Celsius (unit tag {tag!r}); convert them to kelvin")
    raise InputError(
        f"{p}: unit tag {tag!r} is neither kelvin nor a radiance in W m-2 sr-1 um-1; convert it, or give `units`"
    )


def read_brightness(
    path: str | os.PathLike,
    band: BandPlanck,
    *,
    units: str = "auto",
    scale: float | None = None,
    what: str = "a thermal band (GeoTIFF of brightness temperature or radiance)",
) -> ThermalBand:
    """The brightness temperature of band 1 of ``path`` (see the module). Raises InputError for a
    missing or unreadable file, integers without a scale, or values that are no temperature or
    radiance of ``band``."""
    import rasterio

    from cupola.io.limits import check_pixel_budget, regular_file

    if units not in UNITS:
        raise InputError(f"`units` {units!r}: use one of {', '.join(UNITS)}")
    if scale is not None and not (np.isfinite(scale) and scale > 0):
        raise InputError(f"`scale` must be a positive number, got {scale}")
    p = regular_file(path, what)
    try:
        with rasterio.open(p) as ds:
            check_pixel_budget(ds.width, ds.height, str(p))
            masked = ds.read(1, masked=True)
            kind = np.dtype(ds.dtypes[0]).kind
            gdal_scale = ds.scales[0] if ds.scales else 1.0
            gdal_offset = ds.offsets[0] if ds.offsets else 0.0
            tags = {**ds.tags(), **ds.tags(1)}
            tag_units = (ds.units[0] if ds.units else "") or tags.get("units", "") or ""
            t = ds.transform
            crs = ds.crs
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{p}: cannot be read as a raster ({' '.join(str(exc).split())}); expected {what}") from None
    values = masked.astype(np.float64).filled(np.nan)
    if gdal_scale not in (None, 1.0) or gdal_offset not in (None, 0.0):
        values = values * float(gdal_scale or 1.0) + float(gdal_offset or 0.0)
    elif "scale_factor" in tags:
        try:
            values = values * float(tags["scale_factor"]) + float(tags.get("add_offset", 0.0) or 0.0)
        except ValueError:
            raise InputError(f"{p}: its scale_factor tag {tags['scale_factor']!r} is not a number") from None
    elif kind in "iu":
        if scale is None:
            raise InputError(
                f"{p}: stored as integers without a scale factor (no GDAL scale, no scale_factor tag); "
                "give the factor that turns them into kelvin or radiance (`scale`)"
            )
        values = values * scale
    values[~np.isfinite(values)] = np.nan
    good = values[np.isfinite(values)]
    if not good.size:
        raise InputError(f"{p}: holds no valid pixel")
    med = float(np.median(good))
    unit = units if units != "auto" else _unit_from_tag(tag_units, p)
    l_lo, l_hi = (float(x) for x in band.radiance(np.array(AUTO_RANGE_K)))
    if unit is None:
        if AUTO_RANGE_K[0] <= med <= AUTO_RANGE_K[1]:
            unit = "K"
        elif l_lo <= med <= l_hi:
            unit = "radiance"
        else:
            raise InputError(
                f"{p}: median {med:.4g} is neither a brightness temperature "
                f"({AUTO_RANGE_K[0]:g}-{AUTO_RANGE_K[1]:g} K) "
                f"nor a radiance of band {band.response.name} ({l_lo:.3g}-{l_hi:.3g} W m-2 sr-1 um-1); "
                "wrong units or scale"
            )
    if unit == "K":
        bt = values
    else:
        with np.errstate(invalid="ignore"):
            bt = band.temperature(np.where(values > 0, values, np.nan))
    bt_good = bt[np.isfinite(bt)]
    med_bt = float(np.median(bt_good)) if bt_good.size else float("nan")
    lo, hi = SCENE_BT_RANGE_K
    if not lo <= med_bt <= hi:
        shown = f"{med:.4g} {'K' if unit == 'K' else 'W m-2 sr-1 um-1'}"
        raise InputError(
            f"{p}: read as {unit}, its median {shown} is a brightness temperature of {med_bt:.4g} K, not an Earth "
            f"scene's ({lo:g}-{hi:g} K); wrong units (degrees Celsius? mW?) or scale"
        )
    crs_text = None if crs is None else (f"EPSG:{crs.to_epsg()}" if crs.to_epsg() else crs.to_wkt())
    return ThermalBand(bt, (t.a, t.b, t.c, t.d, t.e, t.f), crs_text, unit, p)


def check_same_grid(a, b, a_path, b_path) -> None:
    """Refuse two rasters (anything with ``shape``, ``transform``, ``crs``) on different grids."""
    same = (
        tuple(a.shape) == tuple(b.shape)
        and a.crs == b.crs
        and np.allclose(a.transform, b.transform, rtol=0, atol=1e-6 * max(abs(a.transform[0]), 1e-12))
    )
    if not same:
        raise InputError(
            f"{b_path} ({b.shape[1]}x{b.shape[0]} px) and {a_path} ({a.shape[1]}x{a.shape[0]} px) are on different "
            "grids; resample one onto the other first"
        )
