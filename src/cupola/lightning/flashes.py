"""Optical flashes and the frames they were seen in, in the camera's clock.

A :class:`Frames` is the exposure timing of a photo, a sequence of stills or a video: the start of
each exposure (camera clock, seconds after ``epoch``) and its length. A :class:`Flashes` is what the
detector found: one sub-pixel centroid per flash with the frames it was lit in, so the flash
happened (camera clock) between the start of its first exposure and the end of its last; in a
video the centroid also has a time (the brightness-weighted mean of its frames' mid-exposure
times), since the station moves the image of the cloud across the frame while the flash lasts.

Frame-time files are CSV ``file,time_utc[,exposure_s]`` (``file`` a name inside the frames folder,
``time_utc`` the start of the exposure, ISO 8601). Flash lists (to skip detection) are CSV
``col,row,time_start_utc,time_end_utc[,brightness][,time_utc]`` in the camera's clock (``time_utc``:
the instant the centroid refers to, for video flashes).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.io.tables import Refused, ValueRange, read_table
from cupola.lightning.events import parse_utc

__all__ = ["Frames", "Flashes", "read_frame_times", "read_flashes", "to_datetime"]

_EXPOSURE_S = ValueRange(0.0, 3600.0, "seconds in (0, 3600]", lo_open=True)


def to_datetime(t64: np.datetime64) -> dt.datetime:
    """datetime64[ns] (UTC) -> timezone-aware datetime (microseconds)."""
    us = t64.astype("datetime64[us]").astype(np.int64)
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=int(us))


@dataclass(frozen=True, eq=False)
class Frames:
    """Exposure timing of one or more frames, camera clock."""

    epoch: dt.datetime
    start_s: np.ndarray  # (F,) start of each exposure, seconds after epoch
    exposure_s: np.ndarray  # (F,)
    names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.start_s.shape[0])

    @property
    def is_video(self) -> bool:
        """True when frames follow each other closely enough (< 0.1 s) for flashes to span several."""
        return len(self) > 1 and float(np.median(np.diff(self.start_s))) < 0.1

    def time(self, i: int) -> dt.datetime:
        return self.epoch + dt.timedelta(seconds=float(self.start_s[i]))

    @staticmethod
    def regular(
        epoch: dt.datetime, count: int, interval_s: float, exposure_s: float | None = None, names: tuple[str, ...] = ()
    ) -> Frames:
        exp = interval_s if exposure_s is None else exposure_s
        return Frames(epoch, np.arange(count) * float(interval_s), np.full(count, float(exp)), names)


@dataclass(frozen=True, eq=False, init=False)
class Flashes:
    """Detected optical flashes (arrays over flashes), camera clock.

    ``t_centroid_s`` and ``score`` given as None (the default) are NaN for every flash.
    """

    col_px: np.ndarray
    row_px: np.ndarray
    t_start_s: np.ndarray  # earliest camera time the flash can have happened (start of first exposure)
    t_end_s: np.ndarray  # latest (end of last exposure)
    frame_start: np.ndarray
    frame_end: np.ndarray
    brightness: np.ndarray
    epoch: dt.datetime
    area_px: np.ndarray | None
    #: camera time the centroid refers to (video: brightness-weighted mean of the lit frames'
    #: mid-exposure times); NaN where unknown (a still: the flash is somewhere in the exposure)
    t_centroid_s: np.ndarray
    #: detection score: peak of the flash's brightening over its motion-compensated background in units
    #: of the difference image's noise (NaN for flash lists read from a file)
    score: np.ndarray

    # written out (not generated) because t_centroid_s and score accept None, which the instance
    # never holds: the generated __init__ would type the parameter as the attribute
    def __init__(
        self,
        col_px: np.ndarray,
        row_px: np.ndarray,
        t_start_s: np.ndarray,
        t_end_s: np.ndarray,
        frame_start: np.ndarray,
        frame_end: np.ndarray,
        brightness: np.ndarray,
        epoch: dt.datetime,
        area_px: np.ndarray | None = None,
        t_centroid_s: np.ndarray | None = None,
        score: np.ndarray | None = None,
    ) -> None:
        if t_centroid_s is None:
            t_centroid_s = np.full(len(col_px), np.nan)
        if score is None:
            score = np.full(len(col_px), np.nan)
        for name, value in (
            ("col_px", col_px),
            ("row_px", row_px),
            ("t_start_s", t_start_s),
            ("t_end_s", t_end_s),
            ("frame_start", frame_start),
            ("frame_end", frame_end),
            ("brightness", brightness),
            ("epoch", epoch),
            ("area_px", area_px),
            ("t_centroid_s", t_centroid_s),
            ("score", score),
        ):
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return int(self.col_px.shape[0])

    def subset(self, idx) -> Flashes:
        i = np.asarray(idx)
        area = None if self.area_px is None else self.area_px[i]
        return Flashes(
            self.col_px[i],
            self.row_px[i],
            self.t_start_s[i],
            self.t_end_s[i],
            self.frame_start[i],
            self.frame_end[i],
            self.brightness[i],
            self.epoch,
            area,
            self.t_centroid_s[i],
            self.score[i],
        )

    @staticmethod
    def from_frames(
        frames: Frames,
        col_px,
        row_px,
        frame_start,
        frame_end=None,
        brightness=None,
        area_px=None,
        t_centroid_s=None,
        score=None,
    ) -> Flashes:
        col = np.asarray(col_px, dtype=float)
        fs = np.asarray(frame_start, dtype=np.int64)
        fe = fs.copy() if frame_end is None else np.asarray(frame_end, dtype=np.int64)
        b = np.ones_like(col) if brightness is None else np.asarray(brightness, dtype=float)
        return Flashes(
            col,
            np.asarray(row_px, dtype=float),
            frames.start_s[fs],
            frames.start_s[fe] + frames.exposure_s[fe],
            fs,
            fe,
            b,
            frames.epoch,
            None if area_px is None else np.asarray(area_px, dtype=float),
            None if t_centroid_s is None else np.asarray(t_centroid_s, dtype=float),
            None if score is None else np.asarray(score, dtype=float),
        )


def read_frame_times(
    path: str | os.PathLike, folder: str | os.PathLike | None = None, exposure_s: float | None = None
) -> Frames:
    """Read ``file,time_utc[,exposure_s]``; frames are returned in time order.

    The exposure is the column's value, else ``exposure_s``, else the shortest frame interval (for a
    video, the frame period). Files must exist in ``folder`` when it is given.
    """
    p = Path(path)
    table = read_table(
        p,
        "frame times, one row per frame",
        required=("file", "time_utc"),
        optional=("exposure_s",),
        refused={"exposure": Refused("exposure_s", "has no unit", "seconds")},
    )
    has_exposure = table.has("exposure_s")
    files, times, exps = [], [], []
    for frame in table:
        name = frame.text("file")
        if not name:
            raise InputError(f"{frame.where('file')}: empty file name")
        if folder is not None and not (Path(folder) / name).is_file():
            raise InputError(f"{frame.where('file')}: {name!r} not found in {folder}")
        files.append(name)
        times.append(parse_utc(frame.text("time_utc"), where=frame.where("time_utc")))
        if has_exposure:
            exps.append(frame.number("exposure_s", _EXPOSURE_S))
    if not files:
        raise InputError(f"{p}: no data rows after the header; expected one row per frame")
    t = np.array(times, dtype="datetime64[ns]")
    order = np.argsort(t, kind="stable")
    t = t[order]
    if np.any(np.diff(t) == np.timedelta64(0, "ns")):
        k = int(np.flatnonzero(np.diff(t) == np.timedelta64(0, "ns"))[0])
        raise InputError(f"{p}: two frames have the same time ({np.datetime_as_string(t[k])}Z)")
    epoch = to_datetime(t[0])
    start = (t - np.datetime64(epoch.replace(tzinfo=None), "ns")).astype(np.int64) * 1e-9
    if exps:
        exp = np.array(exps)[order]
    elif exposure_s is not None:
        if not exposure_s > 0:
            raise InputError(f"`exposure_s` must be positive, got {exposure_s:g}")
        exp = np.full(len(files), float(exposure_s))
    elif len(files) > 1:
        exp = np.full(len(files), float(np.min(np.diff(start))))
    else:
        raise InputError(f"{p}: one frame and no exposure_s column; give the exposure (`exposure_s`)")
    if len(files) > 1 and np.any(start[:-1] + exp[:-1] > start[1:] + 1e-6):
        k = int(np.flatnonzero(start[:-1] + exp[:-1] > start[1:] + 1e-6)[0])
        raise InputError(f"{p}: the exposure of {files[order[k]]!r} ({exp[k]:g} s) overlaps the next frame")
    return Frames(epoch, start, exp, tuple(files[i] for i in order))


def read_flashes(path: str | os.PathLike, epoch: dt.datetime | None = None) -> Flashes:
    """Read a flash list ``col,row,time_start_utc,time_end_utc[,brightness][,time_utc]`` (camera clock)."""
    p = Path(path)
    table = read_table(
        p, "flashes", required=("col", "row", "time_start_utc", "time_end_utc"), optional=("brightness", "time_utc")
    )
    has_brightness, has_time = table.has("brightness"), table.has("time_utc")
    col, row, t0, t1, br, tc = [], [], [], [], [], []
    for flash in table:
        col.append(flash.number("col"))
        row.append(flash.number("row"))
        br.append(flash.number("brightness") if has_brightness else 1.0)
        a = parse_utc(flash.text("time_start_utc"), where=flash.where("time_start_utc"))
        b = parse_utc(flash.text("time_end_utc"), where=flash.where("time_end_utc"))
        if b < a:
            raise InputError(f"{p}: line {flash.line}: time_end_utc is before time_start_utc")
        t0.append(a)
        t1.append(b)
        if has_time:
            c = parse_utc(flash.text("time_utc"), where=flash.where("time_utc"))
            if not a <= c <= b:
                raise InputError(f"{p}: line {flash.line}: time_utc lies outside time_start_utc .. time_end_utc")
            tc.append(c)
    t0a, t1a = np.array(t0, dtype="datetime64[ns]"), np.array(t1, dtype="datetime64[ns]")
    ep = epoch or to_datetime(t0a.min())
    ref = np.datetime64(ep.astimezone(dt.timezone.utc).replace(tzinfo=None), "ns")
    n = len(col)
    tcen = (np.array(tc, dtype="datetime64[ns]") - ref).astype(np.int64) * 1e-9 if tc else None
    return Flashes(
        np.array(col),
        np.array(row),
        (t0a - ref).astype(np.int64) * 1e-9,
        (t1a - ref).astype(np.int64) * 1e-9,
        np.full(n, -1),
        np.full(n, -1),
        np.array(br),
        ep,
        None,
        tcen,
    )
