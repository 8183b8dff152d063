"""Reading a sequence of stills for detection: in parallel, at reduced scale, each file once.

Detection looks for lit cloud patches kilometres across (tens of pixels on a D5 with a 50 mm lens),
so it runs on frames reduced by ``scale`` (a power of two chosen so a frame keeps >= ~1 Mpx):
JPEGs are decoded directly at that scale by the decoder's scaled inverse DCT (Pillow's ``draft``;
several times faster than a full decode), other formats are decoded and block-averaged. The first
frame is decoded at full resolution once (the georeferenced products need it) and reduced the same
way. Files are decoded on a thread pool (Pillow releases the GIL while decoding).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from cupola.errors import InputError

__all__ = ["detection_scale", "reduce", "read_reduced", "read_sequence_reduced"]

#: keep at least this many pixels per frame for detection
MIN_DETECTION_PIXELS = 1_000_000


def detection_scale(width: int, height: int, min_pixels: int = MIN_DETECTION_PIXELS) -> int:
    """The largest of 1, 2, 4, 8 that divides both sides and leaves >= ``min_pixels`` pixels."""
    s = 1
    for c in (2, 4, 8):
        if width % c == 0 and height % c == 0 and (width // c) * (height // c) >= min_pixels:
            s = c
    return s


def _grey(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a[..., :3].mean(axis=2, dtype=np.float32) if a.ndim == 3 else a.astype(np.float32)


def reduce(image: np.ndarray, scale: int) -> np.ndarray:
    """Grey (mean of the colour channels, as detection's) block-averaged by ``scale``, float32."""
    import cv2

    a = np.asarray(image)
    if scale > 1:
        h, w = (a.shape[0] // scale) * scale, (a.shape[1] // scale) * scale
        a = cv2.resize(
            np.ascontiguousarray(a[:h, :w]).astype(np.float32), (w // scale, h // scale), interpolation=cv2.INTER_AREA
        )  # the block mean for an integer factor
    return _grey(a)


def read_reduced(path: Path, scale: int, full_size: tuple[int, int], dtype=None) -> np.ndarray:
    """One frame reduced by ``scale`` (see the module docstring); refuses a frame of another size, or
    (with ``dtype``, the first frame's) of another bit depth. A 16-bit colour PNG or TIFF keeps its
    16 bits (:func:`cupola.io.images.read_photo_full_depth`)."""
    from PIL import Image

    from cupola.io.images import check_same_depth, read_photo_full_depth

    p = Path(path)
    try:
        with Image.open(p) as im:
            if im.size != full_size:
                raise InputError(
                    f"{p}: {im.size[0]}x{im.size[1]} px, but the first frame is {full_size[0]}x{full_size[1]}"
                )
            if scale > 1 and im.format == "JPEG":
                im.draft("RGB" if im.mode != "L" else "L", (full_size[0] // scale, full_size[1] // scale))
                im.load()
                a = np.asarray(im)
                check_same_depth(p, a, dtype, "the first frame")
                if a.shape[1] * scale == full_size[0] and a.shape[0] * scale == full_size[1]:
                    return _grey(a)
                return reduce(np.asarray(im.resize(full_size)), scale)  # pragma: no cover - odd draft size
    except InputError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise InputError(f"{p}: image data is truncated or corrupt ({e}); expected a complete image file") from None
    a, _ = read_photo_full_depth(p)
    check_same_depth(p, a, dtype, "the first frame")
    return reduce(a, scale)


def read_sequence_reduced(
    paths: list[Path],
    scale: int,
    full_size: tuple[int, int],
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    dtype=None,
) -> list[np.ndarray]:
    """``read_reduced`` for every path, in order, on ``workers`` threads (default: the CPUs)."""
    k = workers if workers else min(os.cpu_count() or 1, 8)
    out: list[np.ndarray] = []
    if k <= 1:
        for i, p in enumerate(paths):
            out.append(read_reduced(p, scale, full_size, dtype))
            if progress:
                progress(i + 1, len(paths))
        return out
    with ThreadPoolExecutor(k) as ex:
        for i, a in enumerate(ex.map(lambda p: read_reduced(p, scale, full_size, dtype), paths)):
            out.append(a)
            if progress:
                progress(i + 1, len(paths))
    return out
