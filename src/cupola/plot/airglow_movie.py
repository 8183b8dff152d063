"""The projected airglow sequence as an animation: an MP4 (H.264 through imageio-ffmpeg) where
that encoder is installed, else a looping GIF (Pillow). Each frame carries its time from the first
frame and a 100-km scale bar along the layer."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cupola.io.atomic import atomic_write

__all__ = ["Animation", "mp4_encoder_available", "write_sequence_animation", "animation_frames"]

#: frames are enlarged by a whole factor to at least this many pixels on the short side
MIN_SIDE_PX = 256


@dataclass(frozen=True)
class Animation:
    path: Path
    format: str  # "MP4" or "GIF"
    library: str  # what wrote it
    frames: int

    def to_dict(self) -> dict:
        return {"file": self.path.name, "format": self.format, "library": self.library, "frames": self.frames}


def mp4_encoder_available() -> bool:
    """Whether imageio with its ffmpeg binary (imageio-ffmpeg) can be imported."""
    try:
        import imageio.v2  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def animation_frames(
    frames: np.ndarray, t_s, spacing_km: float, *, limit: float | None = None, bar_km: float = 100.0
) -> list[np.ndarray]:
    """The modulation frames (n, ny, nx; NaN = no data, black) as uint8 grey images, stretched to
    +-``limit`` (default 3 robust sigmas), enlarged by a whole factor, with ``t = +S s`` and a
    scale bar of ``bar_km`` (shortened to a third of the width on small grids) drawn in white."""
    from PIL import Image, ImageDraw

    frames = np.asarray(frames, dtype=float)
    finite = frames[np.isfinite(frames)]
    if limit is None:
        limit = 3.0 * 1.4826 * float(np.median(np.abs(finite - np.median(finite)))) if finite.size else 1.0
        limit = limit or 1.0
    ny, nx = frames.shape[1:]
    zoom = max(1, int(np.ceil(MIN_SIDE_PX / max(1, min(nx, ny)))))
    bar_km = min(bar_km, nx * spacing_km / 3.0)
    bar_px = max(1, int(round(bar_km / spacing_km * zoom)))
    out = []
    for f, t in zip(frames, np.asarray(t_s, dtype=float), strict=True):
        g = np.clip((np.nan_to_num(f, nan=-limit) + limit) / (2 * limit), 0, 1)
        g = np.where(np.isfinite(f), g, 0.0)
        img = (g * 255).astype(np.uint8)
        img = np.kron(img, np.ones((zoom, zoom), np.uint8))
        pil = Image.fromarray(img, mode="L")
        draw = ImageDraw.Draw(pil)
        h = pil.height
        draw.rectangle([4, 2, 80, 14], fill=0)
        draw.text((6, 3), f"t = {t:+.0f} s", fill=255)
        draw.rectangle([4, h - 18, 10 + max(bar_px, 50), h - 2], fill=0)
        draw.line([6, h - 6, 6 + bar_px, h - 6], fill=255, width=2)
        draw.text((6, h - 17), f"{bar_km:.0f} km", fill=255)
        out.append(np.asarray(pil))
    return out


def write_sequence_animation(
    path_stem: str | os.PathLike,
    frames: np.ndarray,
    t_s,
    spacing_km: float,
    *,
    fps: float = 8.0,
    prefer_mp4: bool = True,
) -> Animation:
    """Write ``path_stem`` + ``.mp4`` (imageio-ffmpeg, when installed and ``prefer_mp4``) or
    ``.gif`` (Pillow) and say which."""
    images = animation_frames(frames, t_s, spacing_km)
    stem = Path(path_stem)
    if prefer_mp4 and mp4_encoder_available():
        import imageio.v2 as imageio

        path = stem.with_suffix(".mp4")
        # H.264 wants even sizes: pad by a black row/column
        h, w = images[0].shape
        pad = ((0, h % 2), (0, w % 2))
        with atomic_write(path) as tmp:
            with imageio.get_writer(
                tmp, format="FFMPEG", fps=fps, codec="libx264", macro_block_size=1, output_params=["-f", "mp4"]
            ) as wr:
                for im in images:
                    wr.append_data(np.pad(im, pad))  # type: ignore[attr-defined]
        return Animation(path, "MP4", "imageio-ffmpeg (libx264)", len(images))
    from PIL import Image

    path = stem.with_suffix(".gif")
    pil = [Image.fromarray(im, mode="L") for im in images]
    with atomic_write(path) as tmp:
        pil[0].save(tmp, format="GIF", save_all=True, append_images=pil[1:], duration=int(1000 / fps), loop=0)
    return Animation(path, "GIF", "Pillow", len(images))
