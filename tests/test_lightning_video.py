"""Real video containers through PyAV: MP4/H.264 and MOV clips encoded here, frame times from the
container's timestamps (with a dropped frame), a flash found in the decoded frames."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import numpy as np
import pytest


def _encode(path, times_s, frames, codec="libx264"):
    import av

    c = av.open(str(path), "w")
    s = c.add_stream(codec, rate=30)
    s.width, s.height = frames[0].shape[1], frames[0].shape[0]
    s.pix_fmt = "yuv420p"
    s.time_base = Fraction(1, 90000)
    s.options = {"crf": "4"}
    for t, img in zip(times_s, frames):
        f = av.VideoFrame.from_ndarray(np.repeat(img[..., None], 3, axis=2), format="rgb24")
        f.pts = int(round(t * 90000))
        f.time_base = Fraction(1, 90000)
        for p in s.encode(f):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()


@pytest.mark.parametrize("suffix", [".mp4", ".mov"])
def test_video_timestamps_and_a_flash(tmp_path, suffix):
    from cupola.lightning.detect import detect_flashes
    from cupola.lightning.flashes import Frames
    from cupola.lightning.video import iter_video_frames, video_frame_times

    n, w, h = 36, 192, 128
    times = np.arange(n) / 30.0
    times[20:] += 1 / 30.0  # a dropped frame: the container says so, a frame rate would not
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(n):
        img = 20.0 + rng.normal(0, 1.0, (h, w))
        if 24 <= i <= 26:  # a flash lit for three frames at (131.0, 47.0)
            img += 150.0 * np.exp(-0.5 * ((xx - 131.0) ** 2 + (yy - 47.0) ** 2) / 6.0**2)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    path = tmp_path / f"clip{suffix}"
    _encode(path, times, frames)
    t = video_frame_times(path)
    assert t.shape == (n,)
    assert np.allclose(t, times - times[0], atol=2e-5)
    decoded = list(iter_video_frames(path))
    assert len(decoded) == n and decoded[0].shape == (h, w) and decoded[0].dtype == np.uint8
    assert abs(float(decoded[25][47, 131]) - float(frames[25][47, 131])) < 12
    epoch = dt.datetime(2017, 5, 17, 5, 44, 9, tzinfo=dt.timezone.utc)
    fr = Frames(epoch, t, np.full(n, 1 / 30.0))
    fl = detect_flashes(iter(decoded), fr)
    assert len(fl) == 1
    assert abs(fl.col_px[0] - 131.0) < 1.0 and abs(fl.row_px[0] - 47.0) < 1.0
    assert fl.frame_start[0] == 24 and fl.frame_end[0] == 26
    # the flash's window opens one frame before its first lit frame, at that frame's container time
    assert abs(fl.t_start_s[0] - t[23]) < 1e-9


def test_not_a_video(tmp_path):
    from cupola.errors import InputError
    from cupola.lightning.video import video_frame_times

    p = tmp_path / "x.mp4"
    p.write_bytes(b"not a video at all" * 10)
    with pytest.raises(InputError, match="cannot be opened as a video"):
        video_frame_times(p)
