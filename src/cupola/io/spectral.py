"""Spectral response files: CSV with columns ``wavelength_um`` and ``response`` (relative, any
scale), read through :func:`cupola.io.tables.read_table` (header in any case, ``#`` comments).
Wavelengths in nanometres (``wavelength_nm``) are accepted and converted.

>>> from pathlib import Path
>>> _ = Path("b.csv").write_text("wavelength_um,response\\n10.0,0\\n10.5,1\\n11.0,0\\n")
>>> r = read_spectral_response("b.csv")
>>> r.name, round(r.centre_um, 3)
('b', 10.5)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.io.limits import regular_file
from cupola.io.tables import read_table

__all__ = ["read_spectral_response"]


def read_spectral_response(path: str | os.PathLike, name: str | None = None):
    """The :class:`~cupola.thermal.planck.SpectralResponse` in ``path`` (sorted by wavelength)."""
    from cupola.thermal.planck import SpectralResponse

    p = regular_file(path, "a spectral response (CSV wavelength_um,response)")
    table = read_table(p, "spectral response", required=("response",), optional=("wavelength_um", "wavelength_nm"))
    if not (table.has("wavelength_um") or table.has("wavelength_nm")):
        raise InputError(f"{p}: needs a column wavelength_um (or wavelength_nm) beside response")
    unit = "wavelength_um" if table.has("wavelength_um") else "wavelength_nm"
    w = np.array([row.number(unit) for row in table], dtype=np.float64)
    r = np.array([row.number("response") for row in table], dtype=np.float64)
    if unit == "wavelength_nm":
        w = w / 1000.0
    order = np.argsort(w, kind="stable")
    try:
        return SpectralResponse(name or Path(p).stem, w[order], r[order], source=f"measured response file {p}")
    except InputError as exc:
        raise InputError(f"{p}: {exc}") from None
