"""The airglow sequence animation: frames labelled with their time and a scale bar of the right
length; a GIF through Pillow, an MP4 where imageio-ffmpeg is installed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cupola.plot.airglow_movie import animation_frames, mp4_encoder_available, write_sequence_animation


def _frames(n=5, ny=40, nx=64):
    rng = np.random.default_rng(3)
    f = rng.normal(0.0, 0.01, (n, ny, nx))
    f[:, 10:12, 30:34] = np.nan
    return f


def test_frames_are_enlarged_and_carry_a_scale_bar_of_the_right_length():
    f = _frames(nx=128)  # 512 km wide: the 100-km bar is not shortened
    imgs = animation_frames(f, [0.0, 1.0, 2.0, 3.0, 4.0], spacing_km=4.0, bar_km=100.0)
    zoom = int(np.ceil(256 / 40))  # short side 40 cells -> at least 256 px
    assert len(imgs) == 5 and imgs[0].shape == (40 * zoom, 128 * zoom)
    # the bar: a white line 2 px thick, 6 px above the bottom, 100 km / 4 km * zoom long
    row = imgs[0][imgs[0].shape[0] - 6]
    white = np.flatnonzero(row == 255)
    assert white.min() == 6 and white.max() - white.min() + 1 == 25 * zoom + 1
    # on a grid 256 km wide the bar is a third of it
    narrow = animation_frames(_frames(nx=64), np.arange(5.0), spacing_km=4.0, bar_km=100.0)
    white = np.flatnonzero(narrow[0][narrow[0].shape[0] - 6] == 255)
    assert white.max() - white.min() + 1 == round(256 / 3 / 4 * zoom) + 1
    # the time label differs between frames whose data are the same
    same = animation_frames(np.stack([f[0], f[0]]), [0.0, 7.0], spacing_km=4.0)
    assert not np.array_equal(same[0][:16, :90], same[1][:16, :90])
    assert np.array_equal(same[0][30:-30], same[1][30:-30])
    # no data is black
    assert (imgs[0][10 * zoom : 12 * zoom, 30 * zoom : 34 * zoom] == 0).all()
    assert imgs[0][20 * zoom : 30 * zoom, 30 * zoom : 34 * zoom].mean() > 60  # data: grey about 128


def test_gif_when_mp4_is_not_wanted(tmp_path):
    anim = write_sequence_animation(tmp_path / "seq", _frames(), np.arange(5.0), 4.0, fps=5.0, prefer_mp4=False)
    assert anim.format == "GIF" and anim.library == "Pillow" and anim.path == tmp_path / "seq.gif"
    with Image.open(anim.path) as gif:
        assert gif.n_frames == 5 and gif.info["duration"] == 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seq.gif"]  # no temporary left


def test_mp4_when_imageio_ffmpeg_is_installed(tmp_path):
    if not mp4_encoder_available():
        pytest.skip("imageio-ffmpeg is not installed: the products fall back to a GIF (tested above)")
    import imageio.v2 as imageio

    anim = write_sequence_animation(tmp_path / "seq", _frames(), np.arange(5.0), 4.0)
    assert anim.format == "MP4" and anim.path.suffix == ".mp4"
    assert len(list(imageio.get_reader(anim.path))) == 5
