"""Where a satellite was at a time: the data behind ``cupola orbit``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cupola.geometry import orbit
from cupola.geometry.sun import sun_position


def orbit_report(tle_path: Path, time: dt.datetime, *, force: bool = False) -> dict:
    """Sub-point, altitude, ground speed, element set used and the sun at the sub-point."""
    from cupola.io.tle import element_set_at

    notes: list[str] = []
    el = element_set_at(tle_path, time, force=force, notes=notes)
    st = orbit.state_at(el, time)
    lon, lat = st.subpoint
    sun = sun_position(time, lon=lon, lat=lat)
    return {
        "name": el.name,
        "time_utc": orbit.iso_z(time),
        "tle_epoch": orbit.iso_z(el.epoch),
        "tle_age_days": (time - el.epoch).total_seconds() / 86400.0,
        "subpoint_lat_deg": lat,
        "subpoint_lon_deg": lon,
        "altitude_m": st.altitude_m,
        "ground_speed_m_s": st.ground_speed_m_s,
        "sun_elevation_deg": sun.elevation_deg,
        "sun_azimuth_deg": sun.azimuth_deg,
        "illumination": sun.illumination,
        "warnings": "; ".join(notes) or "none",
    }
