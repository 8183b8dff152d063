"""Colour indices of night lights and a lamp-type class map.

Ratios of band radiances, G/R and B/G, separate the major lamp technologies because their
spectra differ in where they put their light: high-pressure sodium (HPS) almost all in the
yellow-red (the broadened Na D lines near 589 nm), so G/R and B/G are low; white LEDs have a blue
pump peak (~450 nm) and a broad phosphor band, so B/G is high; metal halide and fluorescent lamps
have line-rich spectra with strong green (Hg 546 nm, Tl 535 nm) and moderate blue; mercury vapour
has strong blue-violet and green Hg lines and little red.

References for the method and the lamp clusters:

* Sánchez de Miguel, A., Kyba, C. C. M., Aubé, M., Zamorano, J., Cardiel, N., Tapia, C., Bennie, J.,
  Gaston, K. J. (2019). Colour remote sensing of the impact of artificial light at night (I): The
  potential of the International Space Station and other DSLR-based platforms. Remote Sensing of
  Environment 224, 92-103: G/R and B/G of ISS DSLR images, lamp spectra (LICA-UCM and Elvidge et al.
  libraries) synthesised through a Nikon D3S response.
* Elvidge, C. D., Keith, D. M., Tuttle, B. T., Baugh, K. E. (2010). Spectral identification of
  lighting type and character. Sensors 10, 3961-3988: emission spectra of 43 lamps of nine types.
* Sánchez de Miguel, A. et al. (2021). Colour remote sensing of the impact of artificial light at
  night (II): Calibration of DSLR-based images from the International Space Station. Remote Sensing
  of Environment 264, 112611.

:data:`LAMP_CLASSES` are rectangles in the (G/R, B/G) plane drawn between the lamp clusters of
those colour-colour diagrams. They are approximate (the published diagrams overlap at their edges,
shift with the camera's spectral response, and real pixels mix lamps), so the class map is an
indicator, not an inventory; pass your own rules for your camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LampClass", "LAMP_CLASSES", "colour_ratios", "classify_lamps", "CLASS_NODATA", "CLASS_UNCLASSIFIED"]

CLASS_UNCLASSIFIED = 0
CLASS_NODATA = 255


@dataclass(frozen=True)
class LampClass:
    code: int
    name: str
    g_r: tuple[float, float]  # [min, max) of G/R
    b_g: tuple[float, float]  # [min, max) of B/G
    colour: str  # for plots


#: First matching rule wins; see the module docstring for the sources and their limits.
LAMP_CLASSES = (
    LampClass(1, "high-pressure sodium", (0.0, 0.55), (0.0, 0.30), "#f39c12"),
    LampClass(2, "LED (white)", (0.55, 1.10), (0.55, np.inf), "#3498db"),
    LampClass(3, "metal halide", (0.55, 1.10), (0.25, 0.55), "#2ecc71"),
    LampClass(4, "fluorescent", (1.10, np.inf), (0.0, 0.75), "#9b59b6"),
    LampClass(5, "mercury vapour", (1.10, np.inf), (0.75, np.inf), "#e74c3c"),
)


def colour_ratios(radiance: np.ndarray, *, min_r: float = 0.0, min_g: float = 0.0) -> np.ndarray:
    """(2, h, w) float32: G/R and B/G of a (3, h, w) R, G, B radiance.

    NaN where a band is NaN, or R is below ``min_r`` or G below ``min_g`` (give a few times the
    noise: ratios of noise are meaningless). B is not thresholded, so that sodium light, which has
    almost none, keeps its colour; a negative B (noise) gives B/G = 0.
    """
    r, g, b = radiance[0], radiance[1], radiance[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (r > max(min_r, 0.0)) & (g > max(min_g, 0.0)) & np.isfinite(b)
        gr = np.where(ok, g / r, np.nan).astype(np.float32)
        bg = np.where(ok, np.maximum(b, 0.0) / g, np.nan).astype(np.float32)
    return np.stack([gr, bg])


def classify_lamps(ratios: np.ndarray, classes=LAMP_CLASSES) -> np.ndarray:
    """uint8 class codes: :data:`LAMP_CLASSES` codes, 0 for unclassified, 255 where no ratio."""
    gr, bg = ratios[0], ratios[1]
    out = np.full(gr.shape, CLASS_NODATA, np.uint8)
    valid = np.isfinite(gr) & np.isfinite(bg)
    out[valid] = CLASS_UNCLASSIFIED
    todo = valid.copy()
    for cl in classes:
        hit = todo & (gr >= cl.g_r[0]) & (gr < cl.g_r[1]) & (bg >= cl.b_g[0]) & (bg < cl.b_g[1])
        out[hit] = cl.code
        todo &= ~hit
    return out
