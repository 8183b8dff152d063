"""Checks of every command's options before any work starts, in one place.

Every number given on the command line must be finite (``nan``, ``inf`` are refused), and the
options below must lie in their range; input files must not be special files that could block
or never end (a FIFO, ``/dev/zero``); ``--out`` must be usable (a folder, or for ``shadows`` a
file, in a place that exists and can be written). A failed check is an
:class:`~cupola.errors.InputError` naming the option: exit code 2, one line, nothing written.

The checks wrap each command's callback (:func:`install`), so they run after parsing and before
the command body; the same wrapper turns the parameter names in the library's error messages into
the command's flags (:func:`cupola.cli.options.flag_message`); :func:`cupola.cli.main.command`
returns the app's click command with them installed (what the real entry point runs; give it to
``click.testing.CliRunner`` to test the same way).
"""

from __future__ import annotations

import functools
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cupola.cli.options import flag_message
from cupola.errors import InputError, NoSolutionError


@dataclass(frozen=True)
class Range:
    """``lo``..``hi``; ``lo_open``/``hi_open`` exclude the end; ``what`` says what is expected."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False
    what: str = ""

    def ok(self, v: float) -> bool:
        above = v > self.lo if self.lo_open else v >= self.lo
        below = v < self.hi if self.hi_open else v <= self.hi
        return above and below

    def text(self) -> str:
        span = f"{'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}{')' if self.hi_open else ']'}"
        return f"{self.what} in {span}" if self.what else span


LAT = Range(-90.0, 90.0, what="a latitude in degrees")
LON = Range(-180.0, 360.0, hi_open=True, what="a longitude in degrees")
ANGLE = Range(-360.0, 360.0, what="an angle in degrees")
FOCAL_MM = Range(0.0, 5000.0, lo_open=True, what="a positive focal length in mm")
SENSOR_MM = Range(0.0, 1000.0, lo_open=True, what="a positive size in mm")
HEIGHT_M = Range(-1_000.0, 100_000.0, what="a height in metres above the WGS84 ellipsoid")
POSITIVE = Range(0.0, math.inf, lo_open=True, hi_open=True, what="a positive number")
NON_NEGATIVE = Range(0.0, math.inf, hi_open=True, what="zero or more")
EXPOSURE_S = Range(0.0, 3600.0, lo_open=True, what="a positive time in seconds")
FRACTION = Range(0.0, 1.0, what="a fraction")
COUNT = Range(1, 1_000_000, what="a whole number, at least 1")
LENGTH_M = Range(0.0, 100_000.0, lo_open=True, what="a positive length in metres")
SIGMA = Range(0.0, 1e6, what="an uncertainty (zero or more)")
PIXEL = Range(-1e6, 1e6, what="pixels")
CLOCK_S = Range(-86_400.0, 86_400.0, what="a time in seconds")
SIZE_PX = Range(1, 20_000, what="a size in pixels")
MATCHERS = ("aliked", "xfeat", "sift")
SEED = Range(0, 2**32 - 1, what="a seed, zero or more")
#: the options both ``rso train`` commands share
RSO_TRAIN = {
    "epochs": COUNT,
    "batch": Range(2, 1_000_000, what="a batch size (batch normalisation needs 2 or more)"),
    "lr": Range(0.0, 10.0, lo_open=True, what="a positive learning rate"),
    "threads": Range(1, 1024, what="a number of threads"),
    "limit": Range(2, 1_000_000_000, what="a number of images"),
    "crop": Range(4, 512, what="a size in pixels (a multiple of 4)"),
}

# per command (its path of names): option -> a Range for a number, or one Range per element of a
# tuple option; or a tuple of strings: the allowed choices
RULES: dict[tuple[str, ...], dict] = {
    ("geolocate",): {
        "focal_mm": FOCAL_MM,
        "sensor_mm": (SENSOR_MM, SENSOR_MM),
        "attitude": (ANGLE, ANGLE, ANGLE),
        "look_at": (LAT, LON),
        "rotation": ANGLE,
        "height_m": HEIGHT_M,
    },
    ("orbit",): {},
    ("shadows", "sideway"): {
        "lat": LAT,
        "lon": LON,
        "shadow_m": LENGTH_M,
        "displacement_m": Range(0.0, 100_000.0, what="metres"),
        "height_m": LENGTH_M,
        "gsd_m": POSITIVE,
        "up_azimuth_deg": ANGLE,
        "sigma_px": SIGMA,
        "sigma_m": SIGMA,
        "sigma_time_s": SIGMA,
        "sat_altitude_km": Range(100.0, 100_000.0, what="an altitude in km"),
        "base_px": (PIXEL, PIXEL),
        "top_px": (PIXEL, PIXEL),
        "shadow_tip_px": (PIXEL, PIXEL),
        "method": ("simple", "precise"),
    },
    ("shadows", "height"): {
        "lat": LAT,
        "lon": LON,
        "shadow_m": LENGTH_M,
        "gsd_m": POSITIVE,
        "up_azimuth_deg": ANGLE,
        "sigma_px": SIGMA,
        "sigma_m": SIGMA,
        "sigma_time_s": SIGMA,
        "base_px": (PIXEL, PIXEL),
        "shadow_tip_px": (PIXEL, PIXEL),
        "method": ("simple", "precise"),
    },
    ("shadows", "batch"): {"method": ("simple", "precise")},
    ("stereo",): {
        "attitude1": (ANGLE, ANGLE, ANGLE),
        "attitude2": (ANGLE, ANGLE, ANGLE),
        "focal_mm": FOCAL_MM,
        "sensor_mm": (SENSOR_MM, SENSOR_MM),
        "posting_m": LENGTH_M,
        "height_range_m": (HEIGHT_M, HEIGHT_M),
    },
    ("locate", "photo"): {
        "top_k": Range(1, 1000, what="a number of tiles"),
        "bounds": (LON, LAT, LON, LAT),
        "nadir": (LAT, LON),
        "focal_mm": FOCAL_MM,
        "sensor_width_mm": SENSOR_MM,
        "matcher": MATCHERS,
    },
    ("locate", "evaluate"): {"top_k": Range(1, 1000, what="a number of tiles"), "matcher": MATCHERS},
    ("locate", "batch"): {
        "workers": Range(1, 1024, what="a number of worker processes"),
        "top_k": Range(1, 1000, what="a number of tiles"),
        "matcher": MATCHERS,
    },
    ("nightlights", "calibrate"): {
        "exposure_s": EXPOSURE_S,
        "iso": Range(0.0, 1e7, lo_open=True, what="a positive ISO speed"),
        "f_number": Range(0.0, 100.0, lo_open=True, what="a positive f-number"),
        "focal_mm": FOCAL_MM,
        "sensor_mm": (SENSOR_MM, SENSOR_MM),
        "transfer": ("srgb", "linear"),
    },
    ("nightlights", "stars"): {
        "focal_mm": FOCAL_MM,
        "sensor_mm": (SENSOR_MM, SENSOR_MM),
        "transfer": ("srgb", "linear"),
    },
    ("nightlights", "zones"): {
        "centre": (LAT, LON),
        "ring_km": Range(0.0, 20_000.0, lo_open=True, what="a positive width in km"),
        "band": Range(1, 100_000, what="a band number, from 1"),
        "lit_threshold": Range(-1e6, 1e9, what="a radiance in nW cm-2 sr-1"),
        "bootstrap": Range(1, 100_000, what="a number of resamples"),
        "seed": Range(0, 2**32 - 1, what="a seed, zero or more"),
    },
    ("lightning", "solve"): {
        "exposure_s": EXPOSURE_S,
        "fps": Range(0.0, 100_000.0, lo_open=True, what="a positive frame rate (frames per second)"),
        "focal_mm": FOCAL_MM,
        "sensor_mm": (SENSOR_MM, SENSOR_MM),
        "attitude_guess": (ANGLE, ANGLE, ANGLE),
        "guess_radius_deg": Range(0.0, 180.0, lo_open=True, what="a positive angle in degrees"),
        "emission_height_m": Range(0.0, 100_000.0, what="metres"),
        "emission_height_sigma_m": SIGMA,
        "clock_offset_s": CLOCK_S,
        "max_clock_offset_s": Range(0.0, 86_400.0, what="seconds"),
        "event_sigma_m": POSITIVE,
        "centroid_sigma_px": POSITIVE,
        "detect_threshold": Range(0.0, 1000.0, lo_open=True, what="a positive threshold (noise sigmas)"),
    },
    ("lightning", "lis"): {"height_m": Range(-500.0, 100_000.0, what="a height in metres")},
    ("lightning", "simulate"): {
        "attitude": (ANGLE, ANGLE, ANGLE),
        "focal_mm": FOCAL_MM,
        "sensor_mm": (SENSOR_MM, SENSOR_MM),
        "size": (SIZE_PX, SIZE_PX),
        "n_flashes": Range(0, 100_000, what="flashes"),
        "n_frames": Range(1, 10_000, what="frames"),
        "interval_s": Range(0.0, 3600.0, lo_open=True, what="a positive time in seconds"),
        "exposure_s": EXPOSURE_S,
        "clock_offset_s": CLOCK_S,
        "network_sigma_m": Range(0.0, 100_000.0, what="metres"),
        "cloud_top_m": Range(0.0, 30_000.0, what="metres"),
        "cloud_top_sigma_m": Range(0.0, 10_000.0, what="metres"),
        "false_rate": Range(0.0, 100.0, what="false detections per flash"),
        "miss_rate": FRACTION,
        "storms": Range(0, 10_000, what="storm cells"),
        "cities": Range(0, 100_000, what="towns"),
        "seed": SEED,
    },
    ("airglow", "waves"): {
        "focal_mm": FOCAL_MM,
        "sensor_mm": (SENSOR_MM, SENSOR_MM),
        "attitude": (ANGLE, ANGLE, ANGLE),
        "layer_km": Range(20.0, 500.0, what="an airglow layer height in km, above the cloud tops (OH ~87),"),
        "grid_km": Range(0.0, 1000.0, lo_open=True, what="a positive grid spacing in km"),
        "wind": (Range(-500.0, 500.0, what="a wind in m/s"), Range(-500.0, 500.0, what="a wind in m/s")),
    },
    ("rso", "synth"): {
        "n": Range(1, 1_000_000, what="a number of images"),
        "size": Range(16, 512, what="a size in pixels"),
        "renderer": ("embree", "mitsuba"),
        "scale": POSITIVE,
        "seed": SEED,
    },
    ("rso", "train", "recover"): {**RSO_TRAIN, "base": Range(1, 256, what="a number of channels")},
    ("rso", "train", "pose"): {
        **RSO_TRAIN,
        "width": Range(0.0, 4.0, lo_open=True, what="a width multiplier"),
        "input_kind": ("clean", "degraded", "restored"),
        "scale": POSITIVE,
    },
    ("rso", "pose"): {"scale": POSITIVE},
    ("thermal", "bt"): {"raster_band": Range(1, 100_000, what="a band number, from 1")},
    ("catalog", "serve"): {"port": Range(0, 65_535, what="a TCP port (0: any free one)")},
    ("catalog", "build"): {"thumbnail_px": Range(8, 4096, what="a thumbnail size in pixels")},
    ("describe",): {"near_km": Range(0.0, 20_000.0, what="a distance in km (at most half the way round the Earth)")},
    ("onboard", "bench"): {
        "threads": Range(1, 1024, what="a number of threads"),
        "repeats": Range(2, 1_000_000, what="a number of timed runs"),
        "size_px": Range(32, 2048, what="a size in pixels (a multiple of 32)"),
        "bitflip_trials": Range(0, 1_000_000, what="a number of trials"),
        "bitflip_bits": Range(1, 1024, what="a number of bits"),
        "bitflip_threshold": POSITIVE,
        "seed": SEED,
        "input_kind": ("sample", "synthetic"),
    },
}

#: options that name an output (not read, so not checked as input files); value: "folder" or "file"
OUTPUTS: dict[tuple[str, ...], dict[str, str]] = {
    ("geolocate",): {"out": "folder"},
    ("stereo",): {"out": "folder"},
    ("shadows", "sideway"): {"out": "file", "plot": "file"},
    ("shadows", "height"): {"out": "file", "plot": "file"},
    ("shadows", "batch"): {"out": "file"},
    ("locate", "photo"): {"out": "folder", "cache": "folder"},
    ("locate", "evaluate"): {"cache": "folder"},
    ("locate", "batch"): {"out": "folder", "cache": "folder"},
    ("nightlights", "calibrate"): {"out": "folder"},
    ("nightlights", "stars"): {"out": "folder"},
    ("nightlights", "zones"): {"out": "folder"},
    ("lightning", "solve"): {"out": "folder"},
    ("lightning", "simulate"): {"out": "folder"},
    ("lightning", "lis"): {"out": "folder"},
    ("airglow", "waves"): {"out": "folder"},
    ("rso", "synth"): {"out": "folder"},
    ("rso", "train", "recover"): {"out": "file"},
    ("rso", "train", "pose"): {"out": "file"},
    ("rso", "recover"): {"out": "folder"},
    ("rso", "pose"): {"out": "folder"},
    ("rso", "evaluate"): {"out": "folder"},
    ("onboard", "bench"): {"out": "folder"},
}

#: total pixels a simulated scene may have (width x height)
MAX_SIMULATED_PIXELS = 100_000_000


def install(group, path: tuple[str, ...] = ()) -> None:
    """Wrap the callback of every command below the click ``group`` with :func:`check`."""
    commands = getattr(group, "commands", None)
    if commands:
        for name, sub in commands.items():
            install(sub, path + (name,))
        return
    if group.callback is None or getattr(group.callback, "_cupola_checked", False):
        return
    flags = {
        p.name: (p.opts[0] if getattr(p, "opts", None) and p.opts[0].startswith("-") else p.name.upper())
        for p in group.params
    }
    body = group.callback

    @functools.wraps(body)
    def checked(*args, **kwargs):
        check(path, kwargs, flags)
        try:
            return body(*args, **kwargs)
        except (InputError, NoSolutionError) as exc:  # the library names parameters; the user gave flags
            message = flag_message(str(exc), flags)
            if message == str(exc):
                raise
            raise type(exc)(message) from exc

    checked._cupola_checked = True  # type: ignore[attr-defined]
    group.callback = checked


def check(path: tuple[str, ...], values: dict, flags: dict[str, str]) -> None:
    """Refuse a value out of range, a non-finite number, a special input file or an unusable
    output; the message names the option (``flags``: parameter name -> option)."""
    rules = RULES.get(path, {})
    outputs = OUTPUTS.get(path, {})
    for name, value in values.items():
        if value is None:
            continue
        flag = flags.get(name, name)
        rule = rules.get(name)
        if isinstance(rule, tuple) and rule and isinstance(rule[0], str):
            if str(value) not in rule:
                raise InputError(f"{flag}: {str(value)!r} is not one of {', '.join(rule)}")
            continue
        items = list(value) if isinstance(value, (tuple, list)) else [value]
        for k, v in enumerate(items):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            if isinstance(v, float) and not math.isfinite(v):
                raise InputError(f"{flag}: {v!r} is not a finite number")
            r = rule[k] if isinstance(rule, tuple) and k < len(rule) else rule if isinstance(rule, Range) else None
            if r is not None and not r.ok(v):
                which = f" (value {k + 1} of {len(items)})" if len(items) > 1 else ""
                raise InputError(f"{flag}: {v:g}{which} is out of range; expected {r.text()}")
        if name in outputs:
            _check_output(flag, Path(value), outputs[name])
        else:
            for v in items:
                if isinstance(v, Path):
                    _check_input(flag, v)
    if path == ("lightning", "simulate") and values.get("size"):
        w, h = values["size"]
        if w * h > MAX_SIMULATED_PIXELS:
            raise InputError(
                f"{flags.get('size', '--size')}: {w}x{h} is {w * h / 1e6:.0f} million pixels; "
                f"at most {MAX_SIMULATED_PIXELS / 1e6:.0f} million are simulated"
            )


def _check_input(flag: str, p: Path) -> None:
    """An input that exists must be a regular file or a folder: a FIFO, a device or a socket
    could block or never end. (A missing one is reported by the reader, which knows what it
    expected.)"""
    try:
        st = os.stat(p)
    except OSError:
        return
    if stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode):
        return
    from cupola.io.limits import _kind

    raise InputError(f"{flag} {p}: is {_kind(st.st_mode)}; expected a regular file")


def _check_output(flag: str, p: Path, kind: str) -> None:
    if kind == "folder":
        if p.exists() and not p.is_dir():
            raise InputError(f"{flag} {p}: exists and is not a folder")
    else:
        if p.is_dir():
            raise InputError(f"{flag} {p}: is a folder; expected a file name")
        if p.exists() and not p.is_file():
            raise InputError(f"{flag} {p}: exists and is not a regular file")
    # the nearest folder that exists must be a folder we may write into
    parent = p if kind == "folder" else p.parent
    for folder in (parent, *parent.parents):
        if folder.exists() or folder.is_symlink():
            if not folder.is_dir():
                raise InputError(f"{flag} {p}: {folder} is not a folder")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise InputError(f"{flag} {p}: {folder} is not writable")
            break
    if kind == "file" and not p.parent.is_dir():
        raise InputError(f"{flag} {p}: folder {p.parent} does not exist")
