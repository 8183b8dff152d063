"""Write the flame colour tables of ``cupola.hazards.night_fire`` from the shared camera responses.

    python tools/fire_colours.py [DATA_DIR] [--out DIR]

DATA_DIR (default ``../shared/data/lamp-spectra``) holds the Nikon responses ``R_D3s.csv`` ...
``B_D3.csv`` (as for ``tools/lamp_ratios.py``). Writes ``fire_colours_<camera>.csv`` into
``src/cupola/data/lamps/`` (or ``--out``): per synthesised flame its temperature, soot emissivity
exponent, aerosol depth, airmass and G/R, B/G seen from the ISS.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "lamp-spectra"
DEFAULT_OUT = ROOT / "src" / "cupola" / "data" / "lamps"

HEADER = """\
# Synthetic G/R and B/G of flames through the Nikon {camera} as seen from the ISS: a grey body or
# soot (emissivity (lambda/560 nm)^-soot_alpha) at temperature_k x window x vertical or slant
# clear-to-smoky atmosphere (aerosol tau_550, Angstrom 1.3, Rayleigh after Bodhaine et al. 1999,
# airmass) x channel sensitivity; see cupola.hazards.night_fire. Written by tools/fire_colours.py.
temperature_k,soot_alpha,tau_550,airmass,g_r,b_g
"""


def _lamp_tool():
    spec = importlib.util.spec_from_file_location("lamp_ratios", ROOT / "tools" / "lamp_ratios.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build_tables(data_dir: Path) -> dict[str, str]:
    """The text of every table, by file name."""
    from cupola.hazards.night_fire import synthesise_fire_colours

    tool = _lamp_tool()
    out = {}
    for name, key in tool.CAMERAS.items():
        rows = synthesise_fire_colours(tool.read_camera(data_dir, name))
        body = "".join(f"{t:.0f},{a:g},{u:g},{m:g},{gr:.5f},{bg:.5f}\n" for t, a, u, m, gr, bg in rows)
        out[f"fire_colours_{key}.csv"] = HEADER.format(camera=name) + body
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
