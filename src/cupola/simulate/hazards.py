"""A before/after flood pair with a known answer, on a real background: one of the bundled
localization reference images (true colour, north-up, known bounds), scaled to reflectance, a NIR
band synthesised from the colours (vegetation bright, the scene's own dark bluish water dark), and a
flood painted into the 'after' image: a smooth random field thresholded to ``fraction`` of the
frame, turbid flood-water reflectances with texture, blended over ~2 pixels at the edges. The two
dates differ by a gain, an offset and noise, as two acquisitions would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FloodPair", "flood_pair", "write_flood_pair"]

#: turbid flood water (R, G, B, NIR reflectance)
FLOOD_WATER = (0.07, 0.08, 0.06, 0.03)


@dataclass(frozen=True)
class FloodPair:
    """``before``/``after`` (4, rows, cols) float32 R, G, B, NIR; ``truth`` the flooded pixels;
    ``transform`` (GDAL six) in EPSG:4326."""

    before: np.ndarray
    after: np.ndarray
    truth: np.ndarray
    transform: tuple[float, float, float, float, float, float]


def flood_pair(reference_jpg: str | Path, *, fraction: float = 0.12, seed: int = 0) -> FloodPair:
    """The pair on the reference image ``reference_jpg`` (its ``case.json`` beside it gives the bounds)."""
    from PIL import Image
    from scipy import ndimage

    path = Path(reference_jpg)
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0 * 0.4
    box = json.loads((path.parent / "case.json").read_text())["reference_bounds"]
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    bright = (r + g + b) / 3.0
    own_water = (b >= r) & (bright < 0.06)
    nir = np.where(own_water, 0.4 * bright, 0.12 + 1.2 * bright + 1.5 * np.maximum(g - r, 0.0))
    stack = np.stack([r, g, b, nir]).astype(np.float32)
    rows, cols = r.shape
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=(rows, cols)), 40)
    t = np.quantile(field, 1.0 - fraction)
    blend = np.clip((field - t) / (4 * field.std() / 40) + 0.5, 0.0, 1.0).astype(np.float32)
    water = np.asarray(FLOOD_WATER, np.float32)[:, None, None] * (
        1.0 + 0.15 * rng.normal(size=(1, rows, cols)).astype(np.float32)
    )
    flooded = stack * (1.0 - blend) + water * blend
    before = (1.05 * stack + 0.005 + rng.normal(0, 0.004, stack.shape)).astype(np.float32)
    after = (0.97 * flooded - 0.003 + rng.normal(0, 0.004, stack.shape)).astype(np.float32)
    res_x = (box["east"] - box["west"]) / cols
    res_y = (box["north"] - box["south"]) / rows
    return FloodPair(before, after, (blend > 0.5) & ~own_water, (res_x, 0.0, box["west"], 0.0, -res_y, box["north"]))


def write_flood_pair(pair: FloodPair, folder: str | Path, *, times: tuple[str, str] | None = None) -> dict[str, Path]:
    """``before.tif``, ``after.tif`` (4-band GeoTIFFs with band descriptions red, green, blue, nir)
    and ``truth.tif`` (uint8) into ``folder``; ``times`` (before, after) as TIFF date-time tags."""
    import rasterio
    from rasterio.transform import Affine

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, data in (("before", pair.before), ("after", pair.after), ("truth", pair.truth[None].astype(np.uint8))):
        p = folder / f"{name}.tif"
        with rasterio.open(
            p, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
            dtype=data.dtype.name, crs="EPSG:4326", transform=Affine(*pair.transform), compress="deflate",
        ) as ds:  # fmt: skip
            ds.write(data)
            if name != "truth":
                ds.descriptions = ("red", "green", "blue", "nir")
                if times:
                    stamp = times[0 if name == "before" else 1]
                    ds.update_tags(TIFFTAG_DATETIME=stamp.replace("-", ":").replace("T", " ").rstrip("Z")[:19])
        out[name] = p
    return out
