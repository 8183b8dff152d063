"""``report.png``: one page per frame showing what the calibration did.

Panels: the RAW signal before calibration; ground radiance after it; the vignetting profile that
was corrected; the astrometric residuals of the identified stars; the photometric zero-point fit
per channel; histograms of the colour ratios G/R and B/G with the share of each lamp class.

The frame is read by attribute (``path``, ``frame``, ``radiance``, ``astrometry``, ...: a
:class:`cupola.nightlights.pipeline.FrameResult`) and the lamp classes are passed in, so this
layer imports nothing from the capability.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cupola.plot.figure import new_figure, save_figure
from cupola.plot.palette import CHANNEL as _COL

__all__ = ["write_report"]


def _stretch(rgb: np.ndarray) -> np.ndarray:
    """asinh stretch of a (3, h, w) array to (h, w, 3) in [0, 1]; NaN -> 0."""
    a = np.nan_to_num(np.asarray(rgb, float), nan=0.0)
    a = np.clip(a, 0, None)
    lo = 0.0
    hi = np.percentile(a[a > 0], 99.8) if np.any(a > 0) else 1.0
    soft = max(np.percentile(a[a > 0], 50) if np.any(a > 0) else 1.0, hi * 1e-3)
    v = np.arcsinh((a - lo) / soft) / np.arcsinh(max(hi, 1e-30) / soft)
    return np.clip(v, 0, 1).transpose(1, 2, 0)


def _bin4(a: np.ndarray) -> np.ndarray:
    """Mean over 4x4 blocks of a (bands, h, w) array (NaN-aware)."""
    b, h, w = a.shape
    h4, w4 = h // 4, w // 4
    v = a[:, : h4 * 4, : w4 * 4].reshape(b, h4, 4, w4, 4)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(v, axis=(2, 4))


def write_report(path: str | Path, fr, lamp_classes) -> Path:
    """Draw the report page of one calibrated frame ``fr`` into ``path`` (PNG, 1280 x 760 px).

    ``lamp_classes`` are the lamp classes of the class map (objects with ``name`` and ``code``), as
    :data:`cupola.analysis.lamp_colour.LAMP_CLASSES`.
    """
    # the object-oriented API (no pyplot state): safe to draw from a worker thread
    fig = new_figure((16, 9.5))
    axes = fig.subplots(2, 3)
    (a_before, a_after, a_vig), (a_res, a_zp, a_hist) = axes
    name = fr.path.name

    # before / after ------------------------------------------------------------------------
    a_before.imshow(_stretch(fr.raw_quicklook), interpolation="nearest")
    a_before.set_title(f"before: RAW signal (DN above {fr.frame.dark.split(' ')[0]})", fontsize=10)
    rad = _bin4(fr.radiance)
    img = _stretch(rad)
    sat = _bin4(fr.saturated[None].astype(np.float32))[0] > 0
    img[sat] = (1.0, 0.0, 1.0)
    a_after.imshow(img, interpolation="nearest")
    a_after.set_title("after: radiance R,G,B (nW cm$^{-2}$ sr$^{-1}$, asinh); magenta = saturated", fontsize=10)
    for a in (a_before, a_after):
        a.set_xticks([])
        a.set_yticks([])

    # vignetting profile along the diagonal ---------------------------------------------------
    lens = fr.lens
    w, h = lens.width_px, lens.height_px
    t = np.linspace(0, 1, 200)
    cx, cy = lens.center_px
    cols = cx + t * (w - 1 - cx)
    rows = cy + t * (h - 1 - cy)
    if lens.vignetting == "flat":
        g = lens.flat_gain
        for k, (c, lab) in enumerate(zip("RGGB", ("R", "G1", "G2", "B"))):
            dx, dy = fr.frame.offsets[k]
            jj = np.clip(np.rint((cols - dx) / 2).astype(int), 0, g.shape[2] - 1)
            ii = np.clip(np.rint((rows - dy) / 2).astype(int), 0, g.shape[1] - 1)
            a_vig.plot(t, 1.0 / g[k, ii, jj], color=_COL[c], lw=1, label=f"{lab}: relative illumination")
    else:
        v = lens.relative_illumination(cols, rows)
        a_vig.plot(t, v, color="k", label="relative illumination V")
        a_vig.plot(t, 1.0 / v, color="0.5", ls="--", label="applied gain 1/V")
    a_vig.set_xlabel("fraction of the half diagonal")
    a_vig.set_title(f"vignetting: {lens.vignetting}", fontsize=10)
    a_vig.legend(fontsize=8)
    a_vig.grid(alpha=0.3)
    a_vig.text(0.01, 0.01, "\n".join(_wrap(lens.source, 70)), transform=a_vig.transAxes, fontsize=6.5, va="bottom")

    # star residuals --------------------------------------------------------------------------
    sol = fr.astrometry
    a_res.set_xlim(0, w)
    a_res.set_ylim(h, 0)
    a_res.set_aspect("equal")
    if sol is not None and sol.n_matched:
        ph = fr.photometry
        c = ph.col if ph is not None else np.zeros(sol.n_matched)
        r = ph.row if ph is not None else np.zeros(sol.n_matched)
        scale = 0.05 * w / max(np.percentile(np.hypot(*sol.residuals_px.T), 90), 1e-3)
        a_res.quiver(
            c,
            r,
            sol.residuals_px[:, 0] * scale,
            sol.residuals_px[:, 1] * scale,
            angles="xy",
            scale_units="xy",
            scale=1,
            width=0.003,
            color="k",
        )
        a_res.scatter(c, r, s=4, c="tab:red")
        a_res.set_title(
            f"astrometric residuals ({sol.method}): {sol.n_matched} stars, rms {sol.rms_px:.3f} px (x{scale:.0f})",
            fontsize=10,
        )
    else:
        a_res.text(
            0.5,
            0.5,
            fr.star_note or "no stars",
            ha="center",
            va="center",
            wrap=True,
            fontsize=9,
            transform=a_res.transAxes,
        )
        a_res.set_title("astrometric residuals", fontsize=10)

    # zero points -------------------------------------------------------------------------------
    cal_own = fr.calibration
    ph = fr.photometry
    if cal_own is not None and ph is not None:
        bv = fr.star_catalog_rows["b_v"]
        hp = fr.star_catalog_rows["hp"]
        xs = np.linspace(np.nanmin(bv), np.nanmax(bv), 10)
        for k, ch in enumerate("RGB"):
            ok = ph.usable & (ph.flux[ch] > 0)
            y = -2.5 * np.log10(ph.flux[ch][ok]) - hp[ok]
            off = 2.0 * (k - 1)
            a_zp.scatter(bv[ok], y + off, s=6, color=_COL[ch], alpha=0.6)
            a_zp.plot(
                xs,
                -cal_own.zero_points[ch] + cal_own.colour_terms[ch] * xs + off,
                color=_COL[ch],
                label=f"{ch}: ZP {cal_own.zero_points[ch]:.3f}±{cal_own.zero_point_err[ch]:.3f}, "
                f"a {cal_own.colour_terms[ch]:+.3f}, rms {cal_own.rms_mag[ch]:.3f} ({cal_own.n_stars[ch]})",
            )
        a_zp.set_xlabel("B-V (Hipparcos)")
        a_zp.set_ylabel("m_inst - Hp (mag, channels offset by 2)")
        a_zp.invert_yaxis()
        a_zp.legend(fontsize=7)
        a_zp.set_title("photometric calibration against stars", fontsize=10)
    else:
        used = fr.calibration_used
        text = f"constants: {fr.calibration_from}"
        if used is not None:
            text += "\n" + "\n".join(f"{c}: ZP {used.zero_points[c]:.3f} ± {used.zero_point_err[c]:.3f}" for c in "RGB")
        a_zp.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, transform=a_zp.transAxes)
        a_zp.set_title("photometric calibration", fontsize=10)
    a_zp.grid(alpha=0.3)

    # ratio histograms ---------------------------------------------------------------------------
    gr = fr.ratios[0][np.isfinite(fr.ratios[0])]
    bg = fr.ratios[1][np.isfinite(fr.ratios[1])]
    bins = np.linspace(0, 2.0, 101)
    if gr.size:
        a_hist.hist(np.clip(gr, 0, 2), bins=bins, histtype="step", color="tab:green", label=f"G/R ({gr.size} px)")
        a_hist.hist(np.clip(bg, 0, 2), bins=bins, histtype="step", color="tab:blue", label="B/G")
        counts = {cl.name: int(np.count_nonzero(fr.classes == cl.code)) for cl in lamp_classes}
        tot = max(1, sum(counts.values()) + int(np.count_nonzero(fr.classes == 0)))
        a_hist.text(
            0.98,
            0.97,
            "\n".join(f"{n}: {100 * c / tot:.1f}%" for n, c in counts.items()),
            transform=a_hist.transAxes,
            ha="right",
            va="top",
            fontsize=7,
        )
        a_hist.legend(fontsize=8, loc="center right")
    else:
        a_hist.text(
            0.5, 0.5, "no pixel bright enough for a colour", ha="center", va="center", transform=a_hist.transAxes
        )
    a_hist.set_xlabel("ratio of band radiances (text: share of each lamp class)")
    a_hist.set_title("colour ratios", fontsize=10)
    t = fr.exposure.exposure_s
    t_text = f"1/{1 / t:.0f} s" if t < 0.5 and abs(1 / t - round(1 / t)) < 0.01 else f"{t:g} s"
    fig.suptitle(
        f"{name}: {fr.frame.meta.model or '?'} + {fr.frame.meta.lens_model or '?'}, "
        f"{t_text}, ISO {fr.exposure.iso:g}, f/{fr.exposure.f_number:g}; "
        f"calibration: {fr.calibration_from}",
        fontsize=11,
    )
    fig.subplots_adjust(left=0.04, right=0.99, bottom=0.07, top=0.91, wspace=0.22, hspace=0.25)
    return save_figure(fig, path, dpi=80)


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width)
