"""The jobs behind ``cupola thermal bt`` and ``cupola thermal indices``: read the inputs, compute
with :mod:`.planck` / :mod:`.multispectral`, and write the products all or nothing.

``thermal bt``: a radiance raster (W m⁻² sr⁻¹ µm⁻¹) and its band (a named model, a
``gaussian:``/``tophat:`` model or a response CSV) -> ``bt.tif`` (brightness temperature, K, COG),
``surface_temperature.tif`` with an emissivity, ``bt_error.png`` (the central-wavelength
shortcut's error for this band) and ``result.json``.

``thermal indices``: a band stack -> ``<index>.tif`` (COG), ``<index>.png``, with coregistration
``coregistration.png`` and the shifts, and ``result.json`` (formulas, references, proxy flags).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from cupola import __version__
from cupola.errors import InputError
from cupola.io.cog import write_cog
from cupola.io.staging import staged_output, write_json

__all__ = ["run_bt", "run_indices", "parse_band_map", "read_stack"]


def _response(band: str):
    from cupola.thermal.sensors import band_response, read_spectral_response

    p = Path(band)
    if p.suffix.lower() in (".csv", ".txt") or p.exists():
        return read_spectral_response(p)
    return band_response(band)


def run_bt(radiance_path, band: str, out_dir, *, emissivity: float | None = None, radiance_band: int = 1) -> dict:
    """Brightness temperature (and surface temperature with ``emissivity``) of a radiance raster."""
    from cupola.io.raster_band import read_raster_band
    from cupola.plot.thermal import write_bt_error
    from cupola.thermal.planck import BandPlanck, central_wavelength_error_k, surface_temperature

    response = _response(band)
    if emissivity is not None and not (0 < emissivity <= 1):
        raise InputError(f"`emissivity` must lie in (0, 1], got {emissivity}")
    rad = read_raster_band(radiance_path, radiance_band, what="a thermal radiance raster (W m-2 sr-1 um-1)")
    bp = BandPlanck(response)
    bt = bp.temperature(rad.values).astype(np.float32)
    good = np.isfinite(rad.values) & (rad.values > 0)
    finite = np.isfinite(rad.values)
    if not good.any():
        what = (
            "no data"
            if not finite.any()
            else f"no positive radiance (median {float(np.median(rad.values[finite])):.3g})"
        )
        raise InputError(
            f"{radiance_path}: {what}; expected W m-2 sr-1 um-1 (a radiance is positive; check the units and the scale)"
        )
    outside = good & ~np.isfinite(bt)
    if good.any() and outside.mean() > 0.5:
        raise InputError(
            f"{radiance_path}: most radiances fall outside {bp.t_min_k:g}-{bp.t_max_k:g} K for band "
            f"{response.name}; expected W m-2 sr-1 um-1 (check the units and the scale)"
        )
    t_grid = np.linspace(200.0, 400.0, 201)
    err = central_wavelength_error_k(response, t_grid)
    summary: dict = {
        "schema": "cupola.thermal.bt/1",
        "cupola_version": __version__,
        "inputs": {"radiance": str(radiance_path), "band": response.to_dict()},
        "method": "band-integrated Planck function, inverted by spline + Newton (cupola.thermal.planck)",
        "central_wavelength_error_k": {"min": float(err.min()), "max": float(err.max()), "at_300k": float(err[100])},
        "bt_k": finite_stats(bt),
    }
    with staged_output(out_dir, kind="thermal-bt", inputs=[radiance_path]) as stage:
        t = rad.transform
        write_cog(stage / "bt.tif", bt, t, rad.crs, units="K", description=f"brightness temperature {response.name}")
        if emissivity is not None:
            ts = surface_temperature(rad.values, bp, emissivity).astype(np.float32)
            write_cog(stage / "surface_temperature.tif", ts, t, rad.crs, units="K", description="surface temperature")
            summary["surface_temperature_k"] = {**finite_stats(ts), "emissivity": emissivity}
        write_bt_error(stage / "bt_error.png", t_grid, {response.name: err})
        summary["products"] = sorted([p.name for p in stage.iterdir() if not p.name.startswith(".")] + ["result.json"])
        write_json(stage / "result.json", summary)
    return summary


def finite_stats(a: np.ndarray) -> dict:
    """Share of finite cells and their min / median / max (a product summary)."""
    v = a[np.isfinite(a)]
    if not v.size:
        return {"valid_fraction": 0.0}
    return {
        "valid_fraction": float(v.size / a.size),
        "min": float(v.min()),
        "median": float(np.median(v)),
        "max": float(v.max()),
    }


def parse_band_map(text: str | None) -> dict[str, int]:
    """``red=3,green=2,blue=1,nir=4`` -> {role: band number}.

    >>> parse_band_map("red=3, nir=4")
    {'red': 3, 'nir': 4}
    """
    from cupola.thermal.multispectral import BAND_ROLES

    if not text:
        return {}
    out: dict[str, int] = {}
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        role, _, num = part.partition("=")
        role = role.lower()
        if role not in BAND_ROLES or not num.isdigit() or int(num) < 1:
            raise InputError(f"`bands` {part!r}: expected ROLE=NUMBER with ROLE one of {', '.join(BAND_ROLES)}")
        out[role] = int(num)
    return out


def read_stack(
    path: str | os.PathLike | None,
    band_map: dict[str, int],
    band_files: Mapping[str, str | os.PathLike],
    *,
    coregister_bands: bool,
):
    """The bands by role, their grid (transform, crs) and what was done: from a multi-band raster
    (``band_map``; an RGB photo without one), plus separate files per role (``band_files``)."""
    import rasterio
    from rasterio.warp import Resampling, reproject

    from cupola.io.limits import check_pixel_budget, regular_file

    bands: dict[str, np.ndarray] = {}
    grid: tuple | None = None
    notes: list[str] = []
    sources: list[tuple[str, Path, int]] = []
    if path is not None:
        p = regular_file(path, "a band stack (GeoTIFF) or an RGB photo")
        try:
            with rasterio.open(p) as ds:
                count = ds.count
        except Exception as exc:  # rasterio's RasterioIOError and friends, in one line
            raise InputError(f"{p}: cannot be read as a raster ({' '.join(str(exc).split())})") from None
        mapping = band_map or ({"red": 1, "green": 2, "blue": 3} if count >= 3 else {})
        if not mapping:
            raise InputError(f"{p}: {count} band(s); say which is which with `bands` (e.g. red=3,nir=4)")
        for role, k in mapping.items():
            if k > count:
                raise InputError(f"{p}: has {count} band(s); `bands` {role}={k} does not exist")
            sources.append((role, p, k))
    for role, f in band_files.items():
        sources.append((role, regular_file(f, f"the {role} band (GeoTIFF)"), 1))
    if not sources:
        raise InputError("no bands given: a stack file and/or `band_files`")
    for role, p, k in sources:
        try:
            with rasterio.open(p) as ds:
                check_pixel_budget(ds.width, ds.height, str(p))
                a = ds.read(k, masked=True).astype(np.float64).filled(np.nan)
                g = (tuple(ds.transform)[:6], ds.crs, a.shape)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{p}: cannot be read as a raster ({' '.join(str(exc).split())})") from None
        if grid is None:
            grid = g
        elif g[2] != grid[2] or not np.allclose(g[0], grid[0], rtol=0, atol=1e-9 * max(1.0, abs(grid[0][0]))):
            if not coregister_bands:
                raise InputError(
                    f"{p}: the {role} band is on a different grid ({g[2][1]}x{g[2][0]} px) than the first band "
                    f"({grid[2][1]}x{grid[2][0]} px); resample it, or ask for coregistration (`coregister`)"
                )
            if g[1] is None or grid[1] is None:
                raise InputError(f"{p}: the {role} band has no CRS; bands on different grids need one to be resampled")
            dest = np.full(grid[2], np.nan)
            reproject(
                a,
                dest,
                src_transform=rasterio.Affine(*g[0]),
                src_crs=g[1],
                dst_transform=rasterio.Affine(*grid[0]),
                dst_crs=grid[1],
                resampling=Resampling.bilinear,
                src_nodata=np.nan,
                dst_nodata=np.nan,
            )
            a = dest
            notes.append(f"{role} resampled onto the first band's grid")
        if role in bands:
            raise InputError(f"band role {role} given twice")
        bands[role] = a
    assert grid is not None
    return bands, grid, notes


def run_indices(
    path,
    out_dir,
    *,
    band_map: dict[str, int] | None = None,
    band_files: dict[str, str] | None = None,
    coregister_bands: bool = False,
    reference: str | None = None,
) -> dict:
    """Indices of a band stack (see the module)."""
    from cupola.plot.thermal import write_coregistration, write_index_map
    from cupola.thermal.multispectral import compute_indices, coregister

    bands, (transform, crs, _shape), notes = read_stack(
        path, band_map or {}, band_files or {}, coregister_bands=coregister_bands
    )
    shifts: dict = {}
    raw = dict(bands)
    if reference is not None and reference not in bands:
        raise InputError(f"`reference` band {reference!r} is not in the stack ({', '.join(bands)})")
    if coregister_bands and len(bands) > 1:
        bands, shifts = coregister(bands, reference)
    indices = compute_indices(bands)
    crs_text = crs.to_string() if crs is not None else None
    summary: dict = {
        "schema": "cupola.thermal.indices/1",
        "cupola_version": __version__,
        "inputs": {
            "stack": str(path) if path else None,
            "band_files": {k: str(v) for k, v in (band_files or {}).items()},
        },
        "bands": sorted(bands),
        "notes": notes,
        "coregistration": {k: {kk: vv for kk, vv in v.items() if kk != "surface"} for k, v in shifts.items()},
        "indices": [ix.to_dict() for ix in indices.values()],
    }
    with staged_output(out_dir, kind="thermal-indices", inputs=[path, *(band_files or {}).values()]) as stage:
        for name, ix in indices.items():
            write_cog(stage / f"{name}.tif", ix.values, transform, crs_text, description=f"{name}: {ix.formula}")
            flag = " (RGB-only proxy)" if ix.proxy else ""
            write_index_map(stage / f"{name}.png", ix.values, title=f"{name.upper()}{flag}", label=ix.formula)
        moved = [k for k, v in shifts.items() if not v.get("reference")]
        if moved:
            ref = next(k for k, v in shifts.items() if v.get("reference"))
            k = moved[0]
            s = shifts[k]
            write_coregistration(
                stage / "coregistration.png",
                raw[ref],
                raw[k],
                bands[k],
                s["surface"],
                (s["dx_px"], s["dy_px"]),
                f"{k} on {ref}: phase correlation, peak {s['peak']:.2f}",
            )
        summary["products"] = sorted([p.name for p in stage.iterdir() if not p.name.startswith(".")] + ["result.json"])
        write_json(stage / "result.json", summary)
    return summary
