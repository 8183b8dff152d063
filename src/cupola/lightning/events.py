"""Lightning detections from networks: reading event files, error models, time windows.

Two CSV formats are read (UTF-8, header line, columns in any order and letter case, blank lines and
``#`` comments skipped, other columns ignored):

* ground-based lightning location networks (VLF/LF: NLDN, ENTLN, GLD360, WWLLN, EUCLID, ...)::

      time_utc,lat,lon[,height_m][,peak_current_ka][,type]
      2017-05-17T05:44:09.731245Z,29.9012,-101.3378,,-23.4,CG

* space-based optical mapper groups (GOES GLM, ISS LIS, FY-4 LMI, MTG LI)::

      time_utc,lat,lon,energy
      2017-05-17T05:44:09.732Z,29.91,-101.33,2.1e-14

``time_utc`` is ISO 8601 (``T`` or a space between date and time, up to nanoseconds); a trailing
``Z`` or a UTC offset is honoured, a time without one is read as UTC (the column says so).
``lat``/``lon`` are WGS84 degrees. ``height_m`` is the height (m above the ellipsoid) from which the
flash's light is seen to leave the cloud, where known (e.g. from a cloud-top height product); where
absent the solver's emission-height model is used (see :mod:`cupola.lightning.solve`).

Error models (defaults; override per file with ``sigma_m``)
--------------------------------------------------------
Each event's horizontal position is taken as Gaussian about the truth with ``sigma_m`` per axis:

* ground VLF/LF networks, :data:`NETWORK_SIGMA_M` = 150 m. Published median location errors:
  U.S. NLDN about 250 m after its 2002-2003 upgrade (Cummins & Murphy 2009, IEEE Trans. EMC 51,
  499-518) and ~0.3 km against rocket-triggered lightning (Nag et al. 2011, JGR 116, D02123);
  ENTLN 215 m median in Florida (Zhu et al. 2017, JGR Atmos. 122). Long-range networks are far
  coarser: GLD360 about 2 km median (Said et al. 2013, JGR Atmos. 118; Mallick et al. 2014),
  WWLLN about 5 km (Abarca et al. 2010, JGR 115, D18206) -- give ``--event-sigma-m`` for those.
  Timing: microseconds (GPS-synchronised), :data:`NETWORK_TIME_SIGMA_S`.
* optical mapper groups, :data:`MAPPER_SIGMA_M` = 4 km: GLM pixels are about 8 km at the
  sub-satellite point and 14 km at the edge of the field (Goodman et al. 2013, Atmos. Res. 125-126,
  34-49); ISS LIS pixels about 4-6 km (Blakeslee et al. 2020, JGR Atmos. 125); group centroids
  land within a few km of ground-network strokes (Rudlosky et al. 2019, GRL 46). Timing: the 2 ms
  integration frame, :data:`MAPPER_TIME_SIGMA_S`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.io.tables import LATITUDE, LONGITUDE, Refused, ValueRange, read_table

__all__ = ["Events", "read_events", "write_events_csv", "parse_utc", "format_utc", "NETWORK_SIGMA_M", "MAPPER_SIGMA_M"]

#: default 1-sigma horizontal location error (per axis) of a ground VLF/LF network event, metres
NETWORK_SIGMA_M = 150.0
#: default 1-sigma horizontal location error (per axis) of a space-based mapper group, metres
MAPPER_SIGMA_M = 4000.0
#: timing error of a GPS-synchronised ground network event, seconds
NETWORK_TIME_SIGMA_S = 1e-6
#: timing resolution of an optical mapper group (the 2 ms GLM/LIS integration frame), seconds
MAPPER_TIME_SIGMA_S = 2e-3

#: heights outside this range (metres above the WGS84 ellipsoid) are refused as a unit mistake
EMISSION_HEIGHT_RANGE_M = (-500.0, 25_000.0)

#: the headers of the two formats, as messages name them
EVENT_HEADERS = "time_utc,lat,lon[,height_m][,peak_current_ka][,type] or time_utc,lat,lon,energy"

# column names refused for the one cupola reads (a name without its unit, a synonym)
_REFUSED = {
    name: Refused(use)
    for name, use in {
        "height": "height_m",
        "alt": "height_m",
        "altitude": "height_m",
        "h": "height_m",
        "peak_current": "peak_current_ka",
        "current": "peak_current_ka",
        "peakcurrent": "peak_current_ka",
        "time": "time_utc",
        "timestamp": "time_utc",
        "datetime": "time_utc",
        "latitude": "lat",
        "longitude": "lon",
    }.items()
}

_EMISSION_HEIGHT = ValueRange(
    *EMISSION_HEIGHT_RANGE_M,
    f"emission height in metres above the WGS84 ellipsoid in [{EMISSION_HEIGHT_RANGE_M[0]:g}, "
    f"{EMISSION_HEIGHT_RANGE_M[1]:g}]",
)
_PEAK_CURRENT = ValueRange(-2000.0, 2000.0, "peak current in kA in [-2000, 2000]")
_ENERGY = ValueRange(0.0, math.inf, "a non-negative energy")


@dataclass(frozen=True, eq=False)
class Events:
    """Lightning events (flashes, strokes, pulses or mapper groups) from one or more files.

    Arrays are 1-D and of equal length. ``time`` is ``datetime64[ns]`` UTC in the network's clock.
    ``height_m``, ``peak_current_ka`` and ``energy`` are NaN where not given; ``type`` is '' where not
    given; ``kind`` is 'network' or 'mapper'; ``sigma_m`` the 1-sigma horizontal error per axis and
    ``time_sigma_s`` the timing error; ``source``/``line`` say where each event came from.
    """

    time: np.ndarray
    lon_deg: np.ndarray
    lat_deg: np.ndarray
    height_m: np.ndarray
    peak_current_ka: np.ndarray
    energy: np.ndarray
    type: np.ndarray
    kind: np.ndarray
    sigma_m: np.ndarray
    time_sigma_s: np.ndarray
    source: np.ndarray
    line: np.ndarray
    sources: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.time.shape[0])

    def offsets_s(self, epoch: dt.datetime) -> np.ndarray:
        """Seconds of each event after ``epoch`` (float64, exact to ~1 ns near the epoch)."""
        ref = np.datetime64(epoch.astimezone(dt.timezone.utc).replace(tzinfo=None), "ns")
        return (self.time - ref).astype(np.int64) * 1e-9

    def subset(self, index) -> Events:
        idx = np.asarray(index)
        return Events(**{n: getattr(self, n)[idx] for n in _EVENT_ARRAYS}, sources=self.sources)

    def between(self, start: dt.datetime, end: dt.datetime) -> Events:
        """The events with ``start <= time <= end``."""
        t = self.offsets_s(start)
        return self.subset(np.flatnonzero((t >= 0.0) & (t <= (end - start).total_seconds())))

    def where(self, i: int) -> str:
        """'file:line' of event ``i``, for messages and products."""
        return f"{self.sources[int(self.source[i])]}:{int(self.line[i])}"

    def time_utc(self, i: int) -> str:
        s = np.datetime_as_string(self.time[i], unit="us")
        return s + "Z"

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        if not parts:
            raise InputError("no event files given")
        sources: list[str] = []
        arrays: dict[str, list] = {}
        for p in parts:
            shift = len(sources)
            sources.extend(p.sources)
            for n in _EVENT_ARRAYS:
                arrays.setdefault(n, []).append(p.source + shift if n == "source" else getattr(p, n))
        merged = {n: np.concatenate(v) for n, v in arrays.items()}
        order = np.argsort(merged["time"], kind="stable")
        return Events(**{n: v[order] for n, v in merged.items()}, sources=tuple(sources))

    @staticmethod
    def from_arrays(
        time,
        lon_deg,
        lat_deg,
        *,
        height_m=None,
        peak_current_ka=None,
        energy=None,
        type=None,
        kind="network",
        sigma_m=None,
        time_sigma_s=None,
        source_name="(memory)",
    ) -> Events:
        """Events built in memory (simulations, tests); ``time`` as datetime64 or ISO strings."""
        t = np.asarray(time)
        if t.dtype.kind != "M":
            t = np.array([parse_utc(str(s)) for s in t], dtype="datetime64[ns]")
        t = t.astype("datetime64[ns]")
        n = t.shape[0]

        def full(v, fill, dtype=float):
            if v is None:
                return np.full(n, fill, dtype=dtype)
            return np.broadcast_to(np.asarray(v, dtype=dtype), (n,)).copy()

        kinds = full(kind, kind, dtype=object)
        mapper = kinds == "mapper"
        sig = full(sigma_m, np.nan)
        sig = np.where(np.isnan(sig), np.where(mapper, MAPPER_SIGMA_M, NETWORK_SIGMA_M), sig)
        tsig = full(time_sigma_s, np.nan)
        tsig = np.where(np.isnan(tsig), np.where(mapper, MAPPER_TIME_SIGMA_S, NETWORK_TIME_SIGMA_S), tsig)
        lon = np.asarray(lon_deg, dtype=float)
        return Events(
            time=t,
            lon_deg=np.where(lon >= 180.0, lon - 360.0, lon),
            lat_deg=np.asarray(lat_deg, float),
            height_m=full(height_m, np.nan),
            peak_current_ka=full(peak_current_ka, np.nan),
            energy=full(energy, np.nan),
            type=full(type, "", dtype=object),
            kind=kinds,
            sigma_m=sig,
            time_sigma_s=tsig,
            source=np.zeros(n, dtype=np.int64),
            line=np.arange(n, dtype=np.int64) + 2,
            sources=(source_name,),
        )


#: the per-event arrays of :class:`Events`, all of one length (``sources`` is per file)
_EVENT_ARRAYS = tuple(f.name for f in dataclasses.fields(Events) if f.name != "sources")


def parse_utc(text: str, *, where: str = "time") -> np.datetime64:
    """ISO 8601 date-time of a ``time_utc`` column -> ``datetime64[ns]`` UTC; a missing zone means
    UTC (the column's name says so). :func:`cupola.geometry.times.parse_time_ns`; raises InputError."""
    from cupola.geometry.times import parse_time_ns

    return parse_time_ns(text, where, naive_is_utc=True)


def format_utc(t64) -> str:
    """A UTC instant (``numpy.datetime64``) as ISO 8601 to the microsecond with ``Z``, as
    :func:`parse_utc` reads it back: ``2017-05-17T05:44:09.731245Z``."""
    return np.datetime_as_string(np.datetime64(t64, "ns"), unit="us") + "Z"


def read_events(path: str | os.PathLike, *, sigma_m: float | None = None) -> Events:
    """Read one event file (network or mapper format, told apart by the ``energy`` column).

    Args:
        path: the CSV file.
        sigma_m: 1-sigma horizontal location error per axis for every event of the file (metres);
            default :data:`NETWORK_SIGMA_M` or :data:`MAPPER_SIGMA_M` by format.

    Raises:
        InputError: missing/unreadable/binary file, missing or unit-less column, bad time, number or
            range, or no rows; the message names the file, line and column.
    """
    from cupola.lightning.lis import is_lis_file, lis_events

    p = Path(path)
    if p.suffix.lower() in (".nc", ".h5", ".hdf5") or is_lis_file(p):
        return lis_events(p, sigma_m=sigma_m)  # an ISS LIS science file: its groups
    table = read_table(
        p, "lightning events", required=("time_utc", "lat", "lon"), refused=_REFUSED, header=EVENT_HEADERS
    )
    mapper = table.has("energy")
    n = len(table)
    t = np.empty(n, dtype="datetime64[ns]")
    lat = np.empty(n)
    lon = np.empty(n)
    height = np.full(n, np.nan)
    current = np.full(n, np.nan)
    energy = np.full(n, np.nan)
    kinds = np.empty(n, dtype=object)
    lines = np.empty(n, dtype=np.int64)
    for k, row in enumerate(table):
        lines[k] = row.line
        t[k] = parse_utc(row.text("time_utc"), where=row.where("time_utc"))
        lat[k] = row.number("lat", LATITUDE)
        lon[k] = row.number("lon", LONGITUDE)
        height[k] = _or_nan(row.optional_number("height_m", _EMISSION_HEIGHT))
        current[k] = _or_nan(row.optional_number("peak_current_ka", _PEAK_CURRENT))
        if mapper:
            energy[k] = row.number("energy", _ENERGY)
        kinds[k] = row.text("type")
    if sigma_m is not None and not (sigma_m > 0 and math.isfinite(sigma_m)):
        raise InputError(f"{p}: location error must be a positive number of metres, got {sigma_m!r}")
    kind = "mapper" if mapper else "network"
    default_sigma = MAPPER_SIGMA_M if mapper else NETWORK_SIGMA_M
    ev = Events(
        time=t,
        lon_deg=np.where(lon >= 180.0, lon - 360.0, lon),
        lat_deg=lat,
        height_m=height,
        peak_current_ka=current,
        energy=energy,
        type=kinds,
        kind=np.full(n, kind, dtype=object),
        sigma_m=np.full(n, float(sigma_m or default_sigma)),
        time_sigma_s=np.full(n, MAPPER_TIME_SIGMA_S if mapper else NETWORK_TIME_SIGMA_S),
        source=np.zeros(n, dtype=np.int64),
        line=lines,
        sources=(str(p),),
    )
    order = np.argsort(ev.time, kind="stable")
    return ev.subset(order)


def write_events_csv(path: str | os.PathLike, events: Events) -> None:
    """Write events as CSV that :func:`read_events` reads back: the network format
    ``time_utc,lat,lon,height_m,peak_current_ka,type``, or the mapper format
    ``time_utc,lat,lon,energy`` when every event is a mapper group. Times to the microsecond."""
    mapper = len(events) > 0 and bool(np.all(events.kind == "mapper"))
    lines = ["time_utc,lat,lon,energy" if mapper else "time_utc,lat,lon,height_m,peak_current_ka,type"]
    for i in range(len(events)):
        t = format_utc(events.time[i])
        if mapper:
            lines.append(f"{t},{events.lat_deg[i]:.7f},{events.lon_deg[i]:.7f},{events.energy[i]:.4g}")
        else:
            h = "" if np.isnan(events.height_m[i]) else f"{events.height_m[i]:.0f}"
            pc = "" if np.isnan(events.peak_current_ka[i]) else f"{events.peak_current_ka[i]:.1f}"
            lines.append(f"{t},{events.lat_deg[i]:.7f},{events.lon_deg[i]:.7f},{h},{pc},{events.type[i]}")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def group_strokes(
    events: Events, *, max_distance_m: float = 5_000.0, max_gap_s: float = 0.5, max_duration_s: float = 1.0
) -> tuple[Events, list[np.ndarray]]:
    """Group the strokes of multi-stroke flashes of a ground network into one event per flash.

    A stroke joins the flash whose first stroke lies within ``max_distance_m`` and ``max_duration_s``
    before it, if the flash's last stroke is at most ``max_gap_s`` before it (the rule of the NLDN's
    flash grouping, Cummins et al. 1998, JGR 103, with a tighter distance: subsequent strokes follow
    the first one's channel or strike within a few km of it, Thottappillil et al. 1992, JGR 97).
    The flash keeps the first stroke's time, place, file and line (a network's flash location; the
    geometry of a still is computed at the event's instant), with a timing tolerance widened to a third
    of the strokes' span (the solver accepts 3 sigma), so it matches an exposure that caught a later
    stroke too. Mapper events are left as they are.

    Returns the grouped events (time-ordered) and, for each, the indices of its strokes in ``events``.
    """
    from cupola.geometry import geodesy

    net = np.flatnonzero(events.kind == "network")
    if net.size < 2:
        return events, [np.array([i]) for i in range(len(events))]
    t = (events.time - events.time.min()).astype(np.int64) * 1e-9
    xyz = geodesy.geodetic_to_ecef(np.radians(events.lon_deg), np.radians(events.lat_deg), 0.0)
    groups: list[list[int]] = []
    open_: list[int] = []  # indices into groups still accepting strokes
    for i in net[np.argsort(t[net], kind="stable")]:
        best, best_d = -1, np.inf
        still = []
        for g in open_:
            first, last = groups[g][0], groups[g][-1]
            if t[i] - t[first] > max_duration_s or t[i] - t[last] > max_gap_s:
                continue
            still.append(g)
            d = float(np.linalg.norm(xyz[i] - xyz[first]))
            if d <= max_distance_m and d < best_d:
                best, best_d = g, d
        open_ = still
        if best >= 0:
            groups[best].append(int(i))
        else:
            groups.append([int(i)])
            open_.append(len(groups) - 1)
    others = [[int(i)] for i in np.flatnonzero(events.kind != "network")]
    members = [np.array(g) for g in groups + others]
    firsts = np.array([m[0] for m in members])
    out = events.subset(firsts)
    span = np.array([t[m].max() - t[m].min() for m in members])
    out = dataclasses.replace(out, time_sigma_s=np.maximum(out.time_sigma_s, span / 3.0))
    order = np.argsort(out.time, kind="stable")
    return out.subset(order), [members[k] for k in order]
