"""Options shared by the commands, declared once (as rasterio's ``rio/options.py``), and the
map from the library's parameter names to the flags that set them.

Each function returns a ``typer.Option`` to use as a parameter default::

    def orbit_command(tle: Path = options.tle(), time: str = options.time(), force: bool = options.force()):

A command passes ``help=`` where its own wording says more; the flag, the default and whether
the option is required stay the same everywhere.

The library speaks in parameter names: an :class:`~cupola.errors.InputError` writes a parameter
in backquotes (``"`focal_mm` must be positive"``). :func:`flag_message` turns those into the
command's flags (``--focal-mm``), from the command's own options and :data:`PARAMETER_FLAGS` for
the library names that differ from them (``tle_path`` is ``--tle``). It runs on every error a
command raises (:func:`cupola.cli.checks.install`), so the one-line error names the flag.

>>> flags = {"focal_mm": "--focal-mm", "sensor_mm": "--sensor-mm"}
>>> flag_message("`focal_mm` must be positive; give `sensor_mm`", flags)
'--focal-mm must be positive; give --sensor-mm'
>>> flag_message("`max_triplets` must be positive", {})
"'max_triplets' must be positive"
"""

from __future__ import annotations

import re
from typing import Any

import typer

__all__ = [
    "tle",
    "time",
    "force",
    "out_folder",
    "out_file",
    "quiet",
    "as_json",
    "focal_mm",
    "sensor_mm",
    "attitude",
    "method",
    "matcher",
    "cache",
    "top_k",
    "PARAMETER_FLAGS",
    "flag_message",
]

#: library parameter names whose flag is not ``--`` + the name with ``-`` for ``_``
PARAMETER_FLAGS: dict[str, str] = {
    "tle_path": "--tle",
    "force_tle": "--force",
    "frames_dir": "--frames",
    "attitude_rpy_deg": "--attitude",
    "look_at_rotation_deg": "--rotation",
    "attitude_guess_deg": "--attitude-guess",
    "height_mode": "--solve-height",
    "sigma_shadow_m": "--sigma-m",
    "known_height_m": "--height-m",
    "satellite_altitude_m": "--sat-altitude-km",
    "threshold_sigma": "--detect-threshold",
    "group_strokes": "--no-stroke-grouping",
    "cache_dir": "--cache",
    "out_dir": "--out",
    "background_path": "--background",
    "landmarks": "--landmark",
    "spacing_km": "--grid-km",
    "crop_px": "--crop",
}

_PARAMETER = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def flag_message(message: str, flags: dict[str, str]) -> str:
    """``message`` with every backquoted parameter name replaced by its flag: the command's own
    (``flags``: parameter name -> flag), else :data:`PARAMETER_FLAGS`, else ``--`` + the name when
    it is one of the command's flags; a name no flag sets stays a quoted name."""
    known = set(flags.values())

    def flag(m: re.Match) -> str:
        name = m.group(1)
        if name in flags and flags[name].startswith("-"):
            return flags[name]
        if name in PARAMETER_FLAGS:
            return PARAMETER_FLAGS[name]
        guess = "--" + name.replace("_", "-")
        return guess if guess in known else f"'{name}'"

    return _PARAMETER.sub(flag, message)


# --- inputs -------------------------------------------------------------------------------------


def tle(help: str = "File of two-line element sets (2- or 3-line format).", *, required: bool = True) -> Any:
    """``--tle FILE``: the satellite's element sets."""
    return typer.Option(... if required else None, "--tle", help=help)


def time(help: str = "Time, ISO 8601 with zone, e.g. 2017-05-17T05:44:09.526Z.", *, required: bool = True) -> Any:
    """``--time ISO8601``: a time with its zone (see :mod:`cupola.geometry.times`)."""
    return typer.Option(... if required else None, "--time", help=help)


def force(help: str = "Accept element sets more than 30 days from the time.") -> Any:
    """``--force``: accept a far element set."""
    return typer.Option(False, "--force", help=help)


def focal_mm(help: str = "Focal length in mm (default: EXIF).") -> Any:
    return typer.Option(None, "--focal-mm", help=help)


def sensor_mm(help: str = "Focal-plane width and height in mm (default: from the EXIF camera model).") -> Any:
    return typer.Option(None, "--sensor-mm", help=help)


def attitude(default: Any = None, help: str = "Camera roll, pitch, yaw in degrees in the LVLH frame.") -> Any:
    return typer.Option(default, "--attitude", help=help)


def method(help: str = "precise (default) or simple (the published steps).") -> Any:
    return typer.Option("precise", "--method", help=help)


def matcher(help: str = "aliked (ALIKED+LightGlue, default), xfeat (XFeat+LighterGlue, faster) or sift.") -> Any:
    return typer.Option("aliked", "--matcher", help=help)


def cache(help: str = "Folder for the tiles' cached descriptors and features.") -> Any:
    return typer.Option(None, "--cache", help=help)


def top_k(help: str = "Tiles verified by matching, best-ranked first.") -> Any:
    return typer.Option(4, "--top-k", help=help)


# --- outputs ------------------------------------------------------------------------------------


def out_folder(help: str = "Output folder.") -> Any:
    """``--out DIR``, required: the folder the products go into."""
    return typer.Option(..., "--out", help=help)


def out_file(help: str = "Also write the JSON to this file.", *, required: bool = False) -> Any:
    """``--out FILE``: one output file."""
    return typer.Option(... if required else None, "--out", help=help)


def quiet(help: str = "No progress bar or summary.") -> Any:
    return typer.Option(False, "--quiet", help=help)


def as_json(help: str = "Print JSON instead of a table.") -> Any:
    return typer.Option(False, "--json", help=help)
