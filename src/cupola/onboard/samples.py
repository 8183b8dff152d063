"""Real inputs from the bundled samples: grey crops of ISS photos in [0, 1], 1 x 1 x S x S float32.

The calibration set of static int8 quantization comes from the ``apl`` photos; the evaluation
input from the Meteor frame (a different photo), so calibration never sees the measured input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cupola.io.images import read_photo

__all__ = ["SAMPLES", "calibration_crops", "calibration_crops_hw", "day_night_crops_hw", "evaluation_crop"]

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def _grey(path: Path) -> np.ndarray:
    pixels, _ = read_photo(path)
    g = pixels.astype(np.float32)
    if g.ndim == 3:
        g = g @ np.array([0.299, 0.587, 0.114], np.float32)
    return g / (65535.0 if pixels.dtype == np.uint16 else 255.0)


def _crops(
    g: np.ndarray, size_px: int, n: int, rng: np.random.Generator, width_px: int | None = None
) -> list[np.ndarray]:
    """``n`` random ``size_px`` x ``width_px`` (default square) crops of ``g``, 1 x 1 x rows x cols."""
    h, w = g.shape
    cw = size_px if width_px is None else width_px
    if h < size_px or w < cw:
        return []
    rows = rng.integers(0, h - size_px + 1, n)
    cols = rng.integers(0, w - cw + 1, n)
    return [np.ascontiguousarray(g[r : r + size_px, c : c + cw])[None, None] for r, c in zip(rows, cols)]


def calibration_crops(size_px: int, per_photo: int = 2, seed: int = 0) -> list[np.ndarray]:
    """``per_photo`` random crops of every bundled ``apl`` photo (sorted by name)."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for photo in sorted((SAMPLES / "apl").glob("*/photo.jpg")):
        out += _crops(_grey(photo), size_px, per_photo, rng)
    return out


def calibration_crops_hw(rows_px: int, cols_px: int, per_photo: int = 2, seed: int = 0) -> list[np.ndarray]:
    """Like :func:`calibration_crops` for a rows_px x cols_px shape (photos smaller than it give none)."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for photo in sorted((SAMPLES / "apl").glob("*/photo.jpg")):
        out += _crops(_grey(photo), rows_px, per_photo, rng, cols_px)
    return out


def day_night_crops_hw(
    rows_px: int, cols_px: int, per_photo: int = 2, night: int = 4, seed: int = 0
) -> list[np.ndarray]:
    """A day and night calibration set of rows_px x cols_px inputs: :func:`calibration_crops_hw`
    (``per_photo`` crops of each daylight ``apl`` photo) and ``night`` random crops of the bundled
    Meteor frame (night: city lights, mean grey ~0.05), the frame first area-resized so that its
    shorter side covers the shape when it is smaller. The Meteor crops drawn here use their own
    random stream (``seed`` + 1000), not :func:`evaluation_crop`'s, but come from the same frame."""
    import cv2

    photo = next((SAMPLES / "iss-meteor-2017").glob("*.jpg"))
    g = _grey(photo)
    scale = max(rows_px / g.shape[0], cols_px / g.shape[1], 1.0)
    if scale > 1.0:
        size = (max(cols_px, round(g.shape[1] * scale)), max(rows_px, round(g.shape[0] * scale)))
        g = cv2.resize(g, size, interpolation=cv2.INTER_LINEAR)
    rng = np.random.default_rng(seed + 1000)
    return calibration_crops_hw(rows_px, cols_px, per_photo, seed) + _crops(g, rows_px, night, rng, cols_px)


def evaluation_crop(size_px: int, seed: int = 0) -> np.ndarray:
    """One random crop of the bundled Meteor frame (night, city lights and a meteor)."""
    photo = next((SAMPLES / "iss-meteor-2017").glob("*.jpg"))
    return _crops(_grey(photo), size_px, 1, np.random.default_rng(seed))[0]
