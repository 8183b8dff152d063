"""The ECOSTRESS Level-2 land-surface-temperature quality word (the ``QC`` layer), decoded.

Each pixel's QC is a 16-bit word of eight 2-bit fields (bit 0 the least significant). The layout
and the meaning of each value are those of the ECOSTRESS Level-2 Product Specification Document
(Hulley, JPL D-94635, QC table of the L2_LSTE product) and the Level-2 Product User Guide (Hulley &
Freepartner, JPL D-103137); the same TES-family layout as MODIS MOD21 / VIIRS VNP21. The
Collection-3 processing code of the ECOSTRESS team (ECOv003-L2-LSTE, README, "QC bit groups")
lists the same groups. Values as :data:`QC_FIELDS`:

===== ===================== ==============================================================
bits  field                 values 0 / 1 / 2 / 3
===== ===================== ==============================================================
0-1   mandatory             best quality / nominal quality (check the other fields) /
                            cloud detected / not produced (missing or bad data)
2-3   data_quality          good L1B data / missing stripe pixel (filled) / not set /
                            missing or bad L1B data
4-5   cloud_ocean           not set in version 2: use the cloud_mask and water_mask layers
6-7   iterations            TES: slow convergence / nominal / nominal / fast
8-9   atmospheric_opacity   ≥ 0.3 (warm humid air or cold land) / 0.2-0.3 / 0.1-0.2 / < 0.1
10-11 mmd                   emissivity contrast > 0.15 (silicate rocks) / 0.1-0.15 /
                            0.03-0.1 (soils, mixed) / < 0.03 (vegetation, water, snow)
12-13 emissivity_accuracy   > 0.02 (poor) / 0.015-0.02 (marginal) / 0.01-0.015 (good) /
                            < 0.01 (excellent)
14-15 lst_accuracy          > 2 K (poor) / 1.5-2 K (marginal) / 1-1.5 K (good) / < 1 K
                            (excellent)
===== ===================== ==============================================================

A pixel is *good* for cupola (:func:`good_pixels`) when it was produced (mandatory 0 or 1), its
L1B input was not missing or bad (data quality ≠ 3) and its LST uncertainty is at most 2 K (LST
accuracy ≠ 0): a heat island is a few kelvin, a pixel known to be off by more than 2 K cannot
resolve it. Emissivity accuracy is not used: with three bands since 2019 nearly every ECOSTRESS
pixel reports > 0.02 (poor), which would reject everything. Fill values (negative, e.g. -99999)
are never good.

>>> import numpy as np
>>> from cupola.thermal.qc import decode_qc, good_pixels
>>> word = np.array([0b10_00_10_01_11_00_00_00, 0b00_00_00_00_00_00_00_00, 15, -99999])
>>> d = decode_qc(word)
>>> d["lst_accuracy"].tolist(), d["mmd"].tolist(), d["mandatory"].tolist()
([2, 0, 0, 0], [2, 0, 0, 0], [0, 0, 3, 0])
>>> good_pixels(word).tolist()
[True, False, False, False]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["QcField", "QC_FIELDS", "decode_qc", "good_pixels", "qc_fill", "describe_qc", "LST_ERROR_K"]


@dataclass(frozen=True)
class QcField:
    """One 2-bit field of the QC word: its first bit, name and the meaning of values 0-3."""

    first_bit: int
    name: str
    meanings: tuple[str, str, str, str]


QC_FIELDS: tuple[QcField, ...] = (
    QcField(
        0,
        "mandatory",
        ("best quality", "nominal quality", "cloud detected", "not produced (missing or bad data)"),
    ),
    QcField(
        2, "data_quality", ("good L1B data", "missing stripe pixel (filled)", "not set", "missing or bad L1B data")
    ),
    QcField(4, "cloud_ocean", ("not set (use cloud_mask / water_mask)", "set", "set", "set")),
    QcField(6, "iterations", ("slow convergence", "nominal", "nominal", "fast")),
    QcField(
        8,
        "atmospheric_opacity",
        (">= 0.3 (warm, humid air or cold land)", "0.2-0.3 (nominal)", "0.1-0.2 (nominal)", "< 0.1 (dry or high)"),
    ),
    QcField(
        10,
        "mmd",
        (
            "> 0.15 (silicate rocks)",
            "0.1-0.15 (rocks, sand, soils)",
            "0.03-0.1 (soils, mixed)",
            "< 0.03 (vegetation, water)",
        ),
    ),
    QcField(
        12,
        "emissivity_accuracy",
        ("> 0.02 (poor)", "0.015-0.02 (marginal)", "0.01-0.015 (good)", "< 0.01 (excellent)"),
    ),
    QcField(14, "lst_accuracy", ("> 2 K (poor)", "1.5-2 K (marginal)", "1-1.5 K (good)", "< 1 K (excellent)")),
)

#: upper bound of the LST error (K) by value of the lst_accuracy field (inf: more than 2 K)
LST_ERROR_K = (np.inf, 2.0, 1.5, 1.0)


def qc_fill(qc) -> np.ndarray:
    """True where the QC word is a fill value (negative, e.g. -99999, or NaN)."""
    q = np.asarray(qc)
    if q.dtype.kind == "f":
        return ~np.isfinite(q) | (q < 0)
    return q < 0


def _words(qc) -> np.ndarray:
    q = np.asarray(qc)
    if q.dtype.kind == "f":
        q = np.where(np.isfinite(q), q, -1).astype(np.int64)
    return np.where(q < 0, 0, q).astype(np.int64)


def decode_qc(qc) -> dict[str, np.ndarray]:
    """Every field of :data:`QC_FIELDS` as a uint8 array of values 0-3 (fill words decode to 0:
    mask them with :func:`qc_fill`)."""
    q = _words(qc)
    return {f.name: ((q >> f.first_bit) & 3).astype(np.uint8) for f in QC_FIELDS}


def good_pixels(qc) -> np.ndarray:
    """Pixels produced, from good L1B data, with an LST error of at most 2 K (see the module)."""
    q = _words(qc)
    mandatory = q & 3
    data_quality = (q >> 2) & 3
    lst_accuracy = (q >> 14) & 3
    return (~qc_fill(qc)) & (mandatory <= 1) & (data_quality != 3) & (lst_accuracy != 0)


def describe_qc(qc) -> dict[str, dict[str, float]]:
    """Share of each value of each field among the non-fill words: ``{field: {meaning: share}}``."""
    fill = qc_fill(qc)
    n = int((~fill).sum())
    fields = decode_qc(qc)
    out: dict[str, dict[str, float]] = {}
    for f in QC_FIELDS:
        v = fields[f.name][~fill]
        out[f.name] = {f.meanings[k]: (float(np.count_nonzero(v == k)) / n if n else 0.0) for k in range(4)}
    return out
