"""The job behind ``cupola thermal splitwindow``: two thermal bands (brightness temperature or
radiance, on one grid) -> land-surface temperature by the generalized split window
(:mod:`.splitwindow`), written all or nothing: ``lst.tif`` (K, COG), ``lst_error.tif`` (predicted
1-sigma error, K, COG), ``lst.png`` (quick look) and ``result.json`` (algorithm, coefficients and
their source, emissivity and water vapour used, predicted error).

Emissivity: one value for both bands, two values ``E_I,E_J``, or an NDVI raster on the same grid
(the NDVI thresholds method, :mod:`.emissivity`). Water vapour: the total column (g cm⁻²) when
known; otherwise :data:`DEFAULT_TCW_G_CM2` with a wide uncertainty, which the predicted error shows.
"""

from __future__ import annotations

import os

import numpy as np

from cupola import __version__
from cupola.errors import InputError
from cupola.io.cog import write_cog
from cupola.io.staging import staged_output, write_json
from cupola.thermal.band_jobs import finite_stats

__all__ = ["run_splitwindow", "parse_emissivity", "DEFAULT_TCW_G_CM2"]

#: water vapour assumed when none is given (g cm-2) and its 1-sigma uncertainty (covers 0.5-3.5)
DEFAULT_TCW_G_CM2 = 2.0
DEFAULT_TCW_SIGMA_G_CM2 = 1.5
#: 1-sigma uncertainty of a given water vapour: 15 % (reanalysis-like), at least 0.2 g cm-2
TCW_RELATIVE_SIGMA = 0.15
#: 1-sigma uncertainties assumed for the mean emissivity and the band difference
EMISSIVITY_SIGMA = 0.01
EMISSIVITY_DIFFERENCE_SIGMA = 0.005


def parse_emissivity(text: str) -> tuple[float, float]:
    """``0.97`` -> (0.97, 0.97); ``0.971,0.977`` -> (0.971, 0.977).

    >>> parse_emissivity("0.971, 0.977")
    (0.971, 0.977)
    """
    parts = [x.strip() for x in str(text).split(",")]
    try:
        vals = [float(x) for x in parts]
    except ValueError:
        vals = []
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) != 2 or not all(0 < v <= 1 for v in vals):
        raise InputError(f"`emissivity` {text!r}: one value or two (band i, band j), each in (0, 1]")
    return vals[0], vals[1]


def run_splitwindow(
    band_i_path: str | os.PathLike,
    band_j_path: str | os.PathLike,
    out_dir,
    *,
    sensor: str,
    emissivity: str | None = None,
    ndvi: str | os.PathLike | None = None,
    tcw_g_cm2: float | None = None,
    units: str = "auto",
    scale: float | None = None,
) -> dict:
    """LST of a band pair (see the module); returns the summary written to ``result.json``."""
    from cupola.io.raster_band import read_raster_band
    from cupola.plot.thermal import write_lst_map
    from cupola.thermal.band_input import check_same_grid, read_brightness
    from cupola.thermal.emissivity import ndvi_emissivity
    from cupola.thermal.planck import BandPlanck
    from cupola.thermal.sensors import band_response
    from cupola.thermal.splitwindow import SENSORS, predicted_error_k, split_window_lst

    key = sensor.strip().lower()
    if key not in SENSORS:
        raise InputError(f"`sensor` {sensor!r}: unknown; use one of {', '.join(SENSORS)}")
    s = SENSORS[key]
    if (emissivity is None) == (ndvi is None):
        raise InputError(
            "give the surface emissivity either as values (`emissivity`) or from NDVI (`ndvi`), one of them"
        )
    if tcw_g_cm2 is not None and not (np.isfinite(tcw_g_cm2) and 0 <= tcw_g_cm2 <= 10):
        raise InputError(f"`tcw` {tcw_g_cm2}: total column water vapour in g cm-2 lies in 0-10")
    e_fixed = parse_emissivity(emissivity) if emissivity is not None else None
    ri, rj = band_response(s.band_i), band_response(s.band_j)
    bi = read_brightness(band_i_path, BandPlanck(ri), units=units, scale=scale, what=f"band {s.band_i} (GeoTIFF)")
    bj = read_brightness(band_j_path, BandPlanck(rj), units=units, scale=scale, what=f"band {s.band_j} (GeoTIFF)")
    check_same_grid(bi, bj, band_i_path, band_j_path)
    if ndvi is not None:
        nd = read_raster_band(ndvi, what="an NDVI raster (GeoTIFF)")
        check_same_grid(bi, nd, band_i_path, ndvi)
        ei = ndvi_emissivity(nd.values, s.soil_emissivity[0], s.vegetation_emissivity[0])
        ej = ndvi_emissivity(nd.values, s.soil_emissivity[1], s.vegetation_emissivity[1])
        e_text: dict[str, object] = {
            "method": s.emissivity_source,
            "soil": s.soil_emissivity,
            "vegetation": s.vegetation_emissivity,
        }
    else:
        assert e_fixed is not None
        ei, ej = np.full(bi.shape, e_fixed[0]), np.full(bi.shape, e_fixed[1])
        e_text = {"method": "given", "band_i": e_fixed[0], "band_j": e_fixed[1]}
    w = DEFAULT_TCW_G_CM2 if tcw_g_cm2 is None else float(tcw_g_cm2)
    w_sigma = DEFAULT_TCW_SIGMA_G_CM2 if tcw_g_cm2 is None else max(0.2, TCW_RELATIVE_SIGMA * w)
    ok = np.isfinite(bi.bt_k) & np.isfinite(bj.bt_k) & np.isfinite(ei) & np.isfinite(ej)
    if not ok.any():
        raise InputError(f"{band_i_path} and {band_j_path}: no pixel has both bands (and an emissivity)")
    lst = np.full(bi.shape, np.nan)
    err = np.full(bi.shape, np.nan)
    c = s.coefficients
    lst[ok] = split_window_lst(bi.bt_k[ok], bj.bt_k[ok], ei[ok], ej[ok], w, c)
    err[ok] = predicted_error_k(
        c,
        s.stated_error_k,
        ei[ok],
        ej[ok],
        w,
        emissivity_sigma=EMISSIVITY_SIGMA,
        emissivity_difference_sigma=EMISSIVITY_DIFFERENCE_SIGMA,
        water_vapour_sigma_g_cm2=w_sigma,
    )
    summary: dict = {
        "schema": "cupola.thermal.splitwindow/1",
        "cupola_version": __version__,
        "inputs": {
            "band_i": {"path": str(band_i_path), "units": bi.units, "band": ri.to_dict()},
            "band_j": {"path": str(band_j_path), "units": bj.units, "band": rj.to_dict()},
            "ndvi": str(ndvi) if ndvi is not None else None,
        },
        "algorithm": "generalized split window, Jiménez-Muñoz & Sobrino 2008, IEEE GRSL 5(4) 806-809: "
        "LST = Ti + c1 (Ti-Tj) + c2 (Ti-Tj)^2 + c0 + (c3 + c4 W)(1-e) + (c5 + c6 W) de",
        "sensor": key,
        "coefficients": c.to_dict(),
        "emissivity": e_text,
        "water_vapour_g_cm2": {
            "value": w,
            "sigma": w_sigma,
            "source": "given" if tcw_g_cm2 is not None else "assumed (not given): a mid-latitude value",
        },
        "predicted_error_k": {
            **finite_stats(err),
            "stated_algorithm_error_k": s.stated_error_k,
            "stated_error_source": s.error_source,
            "propagated": f"emissivity sigma {EMISSIVITY_SIGMA}, emissivity difference sigma "
            f"{EMISSIVITY_DIFFERENCE_SIGMA}, water vapour sigma {w_sigma:g} g cm-2, in quadrature",
        },
        "lst_k": finite_stats(lst),
    }
    with staged_output(out_dir, kind="thermal-splitwindow", inputs=[band_i_path, band_j_path, ndvi]) as stage:
        t = bi.transform
        write_cog(stage / "lst.tif", lst.astype(np.float32), t, bi.crs, units="K", description="split-window LST")
        write_cog(
            stage / "lst_error.tif", err.astype(np.float32), t, bi.crs, units="K", description="predicted LST error"
        )
        write_lst_map(
            stage / "lst.png",
            lst,
            t,
            title=f"split-window LST ({key}; predicted error {summary['predicted_error_k'].get('median', 0):.1f} K)",
        )
        summary["products"] = sorted([p.name for p in stage.iterdir() if not p.name.startswith(".")] + ["result.json"])
        write_json(stage / "result.json", summary)
    return summary
