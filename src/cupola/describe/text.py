"""The short paragraph of a description, written from its facts (see :mod:`cupola.describe.facts`)."""

from __future__ import annotations

__all__ = ["paragraph"]


def _pct(share: float) -> str:
    return f"{round(100 * share):d}%"


def _list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _pop(n: int) -> str:
    return f"{n / 1e6:.1f} million" if n >= 1e6 else f"{round(n / 1000):d} thousand"


def _latlon(lat: float, lon: float) -> str:
    return f"{abs(lat):.2f}°{'N' if lat >= 0 else 'S'} {abs(lon):.2f}°{'E' if lon >= 0 else 'W'}"


def paragraph(f: dict) -> str:
    """A few plain sentences: where, what is in view, light, season, geometry and scale."""
    out: list[str] = []
    c = f["center"]
    where = f"The footprint ({f['footprint_area_km2']:,.0f} km²) is centred at {abs(c['lat_deg']):.2f}°"
    where += f"{'N' if c['lat_deg'] >= 0 else 'S'}, {abs(c['lon_deg']):.2f}°{'E' if c['lon_deg'] >= 0 else 'W'}."
    out.append(where)
    w = f["water"]
    seas = w.get("seas") or []
    if w["open_ocean"]:
        named = f" ({_list([x['name'] for x in seas if x['in_view']])})" if any(x["in_view"] for x in seas) else ""
        out.append(f"It lies over the open ocean{named}: no land and no coast in view.")
    elif f["countries"]:
        parts = [f"{r['name']} ({_pct(r['share'])})" for r in f["countries"]]
        out.append(f"It covers {_list(parts)}.")
        if f["regions"]:
            regs = [f"{r['name']} ({_pct(r['share'])})" for r in f["regions"][:4]]
            out.append(f"Regions in view: {_list(regs)}.")
    if not w["open_ocean"]:
        bits = []
        if w["water_share"] >= 0.01:
            bits.append(f"water covers {_pct(w['water_share'])} of it")
        if w["sea_coast_in_view"]:
            bits.append("a sea coast is in view")
        if w["lake_shore_in_view"]:
            bits.append("a lake shore is in view")
        if bits:
            s = _list(bits)
            out.append(s[0].upper() + s[1:] + ".")
        inside = [f"{x['name']} ({_pct(x['share'])})" for x in seas if x["in_view"]]
        beside = [x["name"] for x in seas if not x["in_view"]]
        if inside:
            out.append(f"Seas in view: {_list(inside)}.")
        if beside:
            out.append(f"{'Also next to' if inside else 'Next to'} the footprint: {_list(beside)}.")
    t = f.get("terrain")
    if t:
        adj = {"plains": "flat", "plateau": "a high, flat plateau", "hills": "hilly", "mountains": "mountainous"}
        parts = [f"{k} {_pct(v)}" for k, v in sorted(t["shares"].items(), key=lambda kv: -kv[1])]
        out.append(
            f"The land is mostly {adj[t['dominant']]} ({', '.join(parts)}), from {t['elevation_min_m']:,} m to "
            f"{t['elevation_max_m']:,} m above sea level (mean {t['elevation_mean_m']:,} m, on a 5' grid)."
        )
    if f["cities_in_view"]:
        cs = [f"{x['name']} ({_pop(x['population'])})" for x in f["cities_in_view"]]
        out.append(f"The largest cities in view are {_list(cs)}.")
    if f["cities_near"]:
        cs = [
            f"{x['name']} ({_pop(x['population'])}, {x['distance_km']:.0f} km {x['direction']})"
            for x in f["cities_near"][:3]
        ]
        out.append(f"Nearby: {_list(cs)}.")
    sun = f.get("sun")
    if sun:
        light = {"day": "by day", "twilight": "at twilight", "night": "at night"}[sun["daylight"]]
        side = "above" if sun["elevation_deg"] >= 0 else "below"
        out.append(f"Taken {light}, sun {abs(sun['elevation_deg']):.0f}° {side} the horizon.")
    if f.get("lit_areas"):
        lit = [
            x["name"] if x["name"] else f"unnamed lights at {_latlon(x['lat_deg'], x['lon_deg'])}"
            for x in f["lit_areas"]
        ]
        out.append(f"Brightest lit areas: {_list(lit)} (a flash of lightning can be among them).")
    if f.get("season"):
        out.append(f"Season: {f['season']}.")
    v = f.get("view")
    if v:
        if v["nadir"]:
            out.append(f"Looking nearly straight down ({v['off_nadir_deg']:.0f}° off nadir).")
        else:
            toward = f", toward the {v['toward']} horizon" if v.get("toward") else ""
            out.append(f"An oblique view, {v['off_nadir_deg']:.0f}° off nadir{toward}.")
    if f.get("gsd_m"):
        out.append(f"Ground sample distance about {f['gsd_m']:.0f} m at the centre.")
    elif f.get("ground_width_km"):
        out.append(f"The photo spans about {f['ground_width_km']:.0f} km on the ground.")
    return " ".join(out)
