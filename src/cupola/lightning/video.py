"""Video files (MP4/H.264, MOV, AVI, ...) through PyAV (FFmpeg), with frame times from the container.

Frame times are the presentation timestamps the container stores for each frame (``pts`` x the
stream's time base), read by demuxing without decoding; a variable frame rate (dropped or
duplicated frames, common in camcorder and phone video) is honoured instead of assuming a constant
rate. Frames are decoded once, in order, to 8-bit grey (the luma plane).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from cupola.errors import InputError

__all__ = ["video_frame_times", "iter_video_frames"]


def _open(path):
    try:
        import av
    except ImportError:  # pragma: no cover - a declared dependency
        raise InputError("reading video needs PyAV (pip install av)") from None
    from cupola.io.limits import regular_file

    p = regular_file(path, "a video file")
    try:
        c = av.open(str(p))
    except Exception as e:  # noqa: BLE001 - FFmpeg's many error types: all mean "not a video we can read"
        raise InputError(f"{p}: cannot be opened as a video ({type(e).__name__}: {e})") from None
    if not c.streams.video:
        c.close()
        raise InputError(f"{p}: no video stream")
    return c


def video_frame_times(path) -> np.ndarray:
    """Seconds of each frame after the first (presentation order), from the container's timestamps."""
    c = _open(path)
    try:
        st = c.streams.video[0]
        pts = [p.pts for p in c.demux(st) if p.pts is not None and p.size > 0]
        tb = st.time_base
    except Exception as e:  # noqa: BLE001
        raise InputError(f"{path}: cannot read the video's packets ({type(e).__name__}: {e})") from None
    finally:
        c.close()
    if not pts:
        raise InputError(f"{path}: the video has no timestamped frames")
    t = np.sort(np.array(pts, dtype=np.int64))
    if np.any(np.diff(t) <= 0):
        raise InputError(f"{path}: two frames share a timestamp; give `fps` to use a constant frame rate")
    return (t - t[0]).astype(np.float64) * float(tb)


def iter_video_frames(path) -> Iterator[np.ndarray]:
    """Decoded frames as 2-D uint8 grey arrays, in presentation order."""
    c = _open(path)
    try:
        st = c.streams.video[0]
        st.thread_type = "AUTO"
        for frame in c.decode(st):
            yield frame.to_ndarray(format="gray")
    finally:
        c.close()
