"""The picture behind ``cupola shadows ... --plot``: sun, line of sight, landmark, shadow and
relief displacement, annotated with the numbers (matplotlib's Agg canvas, no pyplot)."""

from __future__ import annotations

import math
from pathlib import Path

from cupola.plot.figure import new_figure, save_figure


def write_shadow_diagram(path, result: dict, *, title: str = "") -> Path:
    """Two panels: a map view (north up) and a vertical section through the landmark.

    ``result`` is :meth:`cupola.shadows.ShadowResult.to_dict`.
    """
    h = result.get("height_m") or 0.0
    elev = result.get("solar_elevation_deg")
    sun_az = result.get("solar_azimuth_deg")
    shadow = result.get("shadow_length_m")
    disp = result.get("displacement_m")
    sway = result.get("side_sway_deg")
    view_az = result.get("view_azimuth_deg")

    fig = new_figure((12, 5.6))
    ax_map, ax_side = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.35]})
    # -- map view ---------------------------------------------------------------------------------
    scale = max(v for v in (shadow or 0, disp or 0, h * 0.3, 1.0))
    ax_map.plot(0, 0, "s", color="#333", ms=10, zorder=5, label="landmark base")
    if sun_az is not None:
        _azimuth_arrow(ax_map, sun_az, scale, f"sun\naz {sun_az:.1f}°", "#e69f00", "#b07000")
    if shadow is not None and sun_az is not None:
        a = math.radians(sun_az + 180.0)
        ax_map.plot(
            [0, shadow * math.sin(a)],
            [0, shadow * math.cos(a)],
            color="#555",
            lw=6,
            alpha=0.55,
            solid_capstyle="butt",
            label=f"shadow {shadow:.1f} m",
        )
    if disp:
        a = math.radians((view_az + 180.0) if view_az is not None else 90.0)
        ax_map.plot(
            [0, disp * math.sin(a)],
            [0, disp * math.cos(a)],
            color="#0072b2",
            lw=3,
            label=f"relief displacement {disp:.1f} m" + ("" if view_az is not None else " (direction unknown)"),
        )
        ax_map.plot(disp * math.sin(a), disp * math.cos(a), "^", color="#0072b2", ms=9)
    if view_az is not None:
        _azimuth_arrow(ax_map, view_az, scale, f"satellite\naz {view_az:.1f}°", "#009e73", "#006e50", ls="--")
    lim = 1.55 * scale
    ax_map.set_xlim(-lim, lim)
    ax_map.set_ylim(-lim, lim)
    ax_map.set_aspect("equal")
    ax_map.axhline(0, color="#ddd", lw=0.8, zorder=0)
    ax_map.axvline(0, color="#ddd", lw=0.8, zorder=0)
    ax_map.annotate(
        "N",
        xy=(0.06, 0.93),
        xytext=(0.06, 0.8),
        xycoords="axes fraction",
        arrowprops={"arrowstyle": "-|>", "color": "k"},
        ha="center",
        fontsize=11,
        weight="bold",
    )
    ax_map.set_xlabel("east (m)")
    ax_map.set_ylabel("north (m)")
    ax_map.set_title("map view")
    ax_map.legend(loc="lower right", fontsize=8)

    # -- vertical section --------------------------------------------------------------------------
    ax = ax_side
    ground = max(shadow or 0, disp or 0, h * 0.6) * 1.3
    ax.fill_between([-ground, ground], [-0.05 * h] * 2, [0, 0], color="#c8b89a")
    ax.plot([0, 0], [0, h], color="#333", lw=5, solid_capstyle="butt")
    ax.text(
        0.03 * ground,
        h * 0.9,
        f"height\n{h:.1f} m" + (f"\n± {result['sigma_height_m']:.1f}" if result.get("sigma_height_m") else ""),
        fontsize=10,
        va="top",
    )
    if shadow is not None and elev is not None:
        ax.plot([0, -shadow], [0, 0], color="#555", lw=7, alpha=0.6, solid_capstyle="butt")
        ax.plot([-shadow, 0], [0, h], color="#e69f00", lw=1.5)
        ax.annotate(
            f"sun ray, elevation {elev:.3f}°",
            xy=(-shadow * 0.5, h * 0.5),
            xytext=(-0.97 * ground, 0.62 * h),
            color="#b07000",
            fontsize=9,
            arrowprops={"arrowstyle": "-", "color": "#e69f00", "lw": 0.8},
        )
        ax.text(-0.02 * ground, -0.08 * h, f"shadow {shadow:.1f} m", ha="right", va="top", fontsize=9)
    if disp is not None and sway is not None:
        ax.plot([0, disp], [0, 0], color="#0072b2", lw=4, solid_capstyle="butt")
        ax.plot([disp, 0], [0, h], color="#009e73", lw=1.5, ls="--")
        sway_text = f"line of sight\nview zenith (side-sway) {sway:.3f}°"
        if result.get("sigma_side_sway_deg"):
            sway_text += f" ± {result['sigma_side_sway_deg']:.2f}°"
        if result.get("off_nadir_deg") is not None:
            sway_text += f"\noff-nadir at the satellite {result['off_nadir_deg']:.3f}°"
        ax.annotate(
            sway_text,
            xy=(disp * 0.5, h * 0.5),
            xytext=(0.97 * ground, 0.62 * h),
            ha="right",
            color="#006e50",
            fontsize=9,
            arrowprops={"arrowstyle": "-", "color": "#009e73", "lw": 0.8},
        )
        ax.text(
            0.02 * ground, -0.08 * h, f"displacement {disp:.1f} m", ha="left", va="top", fontsize=9, color="#0072b2"
        )
    ax.set_xlim(-ground, ground)
    ax.set_ylim(-0.25 * h, 1.45 * h)
    ax.set_xlabel("← shadow side (away from the sun)    |    displacement side (away from the satellite) →   (m)")
    ax.set_ylabel("height (m)")
    ax.set_title("vertical section (sun and line of sight folded into one plane)")
    info = [
        f"method: {result.get('method')}",
        f"time: {result.get('time_utc')}",
        f"landmark: {result.get('lat_deg'):.4f}, {result.get('lon_deg'):.4f}",
    ]
    if result.get("hour_angle_deg") is not None:
        info.append(f"hour angle {result['hour_angle_deg']:.4f}°, declination {result['declination_deg']:.4f}°")
    ax.text(
        0.01,
        0.99,
        "\n".join(info),
        transform=ax.transAxes,
        va="top",
        fontsize=8.5,
        family="monospace",
        bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "#ccc"},
    )
    fig.suptitle(title or "Height from shadow and side-sway from relief displacement", fontsize=13, weight="bold")
    fig.tight_layout()
    return save_figure(fig, path, dpi=130)


def _azimuth_arrow(ax, azimuth_deg: float, scale_m: float, label: str, color: str, label_color: str, **line) -> None:
    """An arrow on the map view from the landmark towards ``azimuth_deg`` (clockwise from north),
    1.25 ``scale_m`` long, with ``label`` just beyond its tip; ``line``: more arrow style (``ls``)."""
    from matplotlib.patches import FancyArrowPatch

    a = math.radians(azimuth_deg)
    east, north = math.sin(a), math.cos(a)
    ax.add_patch(
        FancyArrowPatch(
            (0, 0),
            (1.25 * scale_m * east, 1.25 * scale_m * north),
            arrowstyle="-|>",
            mutation_scale=18,
            color=color,
            lw=2,
            **line,
        )
    )
    label_at_m = 1.32 * scale_m
    ax.text(label_at_m * east, label_at_m * north, label, color=label_color, ha="center", va="center", fontsize=9)
