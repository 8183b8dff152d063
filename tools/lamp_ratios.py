"""Write the lamp colour tables of ``cupola.analysis.lamp_colour`` from the lamp-spectra library.

    python tools/lamp_ratios.py [DATA_DIR] [--out DIR]

DATA_DIR (default ``../shared/data/lamp-spectra`` beside the repository) holds
``spectra/<TYPE>_<description>.dat`` (relative power, wavelength in ångström) and the Nikon
spectral sensitivities ``R_D3s.csv`` ... ``B_D3.csv`` (wavelength in ångström, relative response).
For each camera it writes ``lamp_colours_<camera>.csv`` into ``src/cupola/data/lamps/`` (or
``--out``): per lamp the synthetic G/R and B/G seen from the ISS (window and a vertical path
through a clear atmosphere, :mod:`cupola.analysis.lamps`), S/P ratio, star light index,
melanopic DER, CCT and Duv; and ``cameras.csv``: each camera's G/R and B/G of an A0 V star, which
ties the synthetic ratios to star-calibrated radiance.

Sources: the spectra and responses are those of the public repository pmisson/kolorespy
(A. Sánchez de Miguel), from the LSPDD lamp database (Aubé et al. 2013, PLOS ONE 8: e67798) and
the LICA-UCM laboratory. ``tests/test_lamps.py`` checks that this script reproduces the committed
tables.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "lamp-spectra"
DEFAULT_OUT = ROOT / "src" / "cupola" / "data" / "lamps"
#: camera name in the file names -> name in the tables
CAMERAS = {"D3s": "d3s", "D3": "d3"}
COLUMNS = ("file", "type", "g_r", "b_g", "sp_ratio", "sli", "mel_der", "cct_k", "duv")

HEADER = """\
# Synthetic colour ratios and light-quality indices of {n} lamp spectra through the Nikon {camera}
# as seen from the ISS: spectrum x window x vertical clear atmosphere (tau_550 0.1, Angstrom 1.3,
# Rayleigh after Bodhaine et al. 1999) x channel sensitivity; see cupola.analysis.lamps.
# g_r, b_g: ratios of the channel signals (curves peak-normalised as published); sp_ratio: S/P;
# sli: star light index; mel_der: melanopic DER (CIE S 026); cct_k, duv: Ohno 2013.
# Spectra: LSPDD (Aube et al. 2013, PLOS ONE 8:e67798) and LICA-UCM, as collected in the public
# repository pmisson/kolorespy (A. Sanchez de Miguel). Written by tools/lamp_ratios.py.
"""


def read_camera(data_dir: Path, name: str):
    from cupola.analysis.camera_response import read_camera_response
    from cupola.errors import InputError

    try:
        return read_camera_response(data_dir, name)
    except InputError as e:
        raise SystemExit(str(e)) from None


def read_spectrum(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(wavelength nm, relative power) of one ``.dat`` file (power, wavelength in angstrom)."""
    a = np.loadtxt(path)
    if a.ndim != 2 or a.shape[1] != 2:
        raise SystemExit(f"{path}: expected two columns (relative power, wavelength in angstrom)")
    return a[:, 1] / 10.0, a[:, 0]


def lamp_rows(data_dir: Path, camera) -> list[tuple]:
    from cupola.analysis.lamps import camera_ratios, light_indices

    rows = []
    for path in sorted((data_dir / "spectra").glob("*.dat")):
        wl_nm, power = read_spectrum(path)
        g_r, b_g = camera_ratios(wl_nm, power, camera)
        ind = light_indices(wl_nm, power)
        lamp_type = path.name.split("_", 1)[0]
        rows.append((path.name, lamp_type, g_r, b_g, ind.sp_ratio, ind.sli, ind.mel_der, ind.cct_k, ind.duv))
    if not rows:
        raise SystemExit(f"{data_dir / 'spectra'}: no .dat spectra")
    return rows


def _format(row: tuple) -> str:
    name, lamp_type, g_r, b_g, sp, sli, mel, cct, duv = row
    return f"{name},{lamp_type},{g_r:.5f},{b_g:.5f},{sp:.4f},{sli:.4f},{mel:.4f},{cct:.1f},{duv:.5f}"


def build_tables(data_dir: Path) -> dict[str, str]:
    """The text of every table, by file name."""
    from cupola.analysis.lamps import A0V_TEMPERATURE_K, a0v_ratios

    out = {}
    cams = []
    for name, key in CAMERAS.items():
        camera = read_camera(data_dir, name)
        rows = lamp_rows(data_dir, camera)
        text = HEADER.format(n=len(rows), camera=name) + ",".join(COLUMNS) + "\n"
        out[f"lamp_colours_{key}.csv"] = text + "".join(_format(r) + "\n" for r in rows)
        cams.append((key, *a0v_ratios(camera)))
    out["cameras.csv"] = (
        f"# G/R and B/G of an A0 V star (blackbody {A0V_TEMPERATURE_K:.0f} K) through each camera and the\n"
        "# window, above the atmosphere; written by tools/lamp_ratios.py\n"
        "camera,a0v_g_r,a0v_b_g\n" + "".join(f"{k},{gr:.5f},{bg:.5f}\n" for k, gr, bg in cams)
    )
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in build_tables(args.data_dir).items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
