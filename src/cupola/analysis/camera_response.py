"""Camera spectral sensitivity curves: ``R_<name>.csv``, ``G_<name>.csv``, ``B_<name>.csv`` in one
folder (one header line, then wavelength in ångström and relative response), as the lamp-spectra
library (``../shared/data/lamp-spectra``: the Nikon D3S and D3) holds them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cupola.analysis.lamps import CameraResponse
from cupola.errors import InputError

__all__ = ["read_camera_response"]


def read_camera_response(folder: str | os.PathLike, name: str) -> CameraResponse:
    """The :class:`cupola.analysis.lamps.CameraResponse` of camera ``name`` (e.g. ``"D3s"``) from
    its three curves in ``folder`` (wavelengths turned into nm).

    Raises:
        InputError: a curve is missing, is not two columns of numbers, or the three differ in wavelengths.
    """
    folder = Path(folder)
    curves = []
    for band in "RGB":
        path = folder / f"{band}_{name}.csv"
        if not path.is_file():
            raise InputError(f"{path}: no such camera response curve")
        try:
            a = np.loadtxt(path, skiprows=1, ndmin=2)
        except ValueError as e:
            raise InputError(f"{path}: not a table of numbers ({e})") from None
        if a.shape[1] != 2:
            raise InputError(f"{path}: expected two columns (wavelength in angstrom, response)")
        curves.append(a)
    wl = curves[0][:, 0]
    if any(not np.array_equal(c[:, 0], wl) for c in curves):
        raise InputError(f"{folder}: the R, G, B curves of {name} have different wavelengths")
    return CameraResponse(name, wl / 10.0, curves[0][:, 1], curves[1][:, 1], curves[2][:, 1])
