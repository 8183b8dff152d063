"""The ``cupola lightning solve`` job: inputs -> detection -> association and pose -> products.

``run`` validates and computes everything without writing; :func:`cupola.lightning.products.write_products`
then writes the products all-or-nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cupola.errors import InputError
from cupola.geometry import orbit
from cupola.geometry.camera import Camera, camera_from_photo
from cupola.io.limits import regular_file
from cupola.lightning.detect import DetectOptions, detect_flashes
from cupola.lightning.events import Events, group_strokes, read_events
from cupola.lightning.flashes import Flashes, Frames, read_flashes, read_frame_times
from cupola.lightning.solve import Solution, SolveOptions, solve

__all__ = ["LightningRequest", "LightningResult", "run", "open_video"]


@dataclass
class LightningRequest:
    """Everything ``lightning solve`` needs. Exactly one input: ``photo`` (+ ``time``, ``exposure_s``),
    ``frames_dir`` + ``frame_times``, or ``video`` (+ ``time`` of its first frame)."""

    events: list[Path]
    tle_path: Path
    photo: Path | None = None
    time: dt.datetime | None = None
    exposure_s: float | None = None
    frames_dir: Path | None = None
    frame_times: Path | None = None
    video: Path | None = None
    fps: float | None = None
    background: Path | None = None
    flashes: Path | None = None  # skip detection: a flash list
    focal_mm: float | None = None
    sensor_mm: tuple[float, float] | None = None
    options: SolveOptions = field(default_factory=SolveOptions)
    detect: DetectOptions = field(default_factory=DetectOptions)
    event_sigma_m: float | None = None
    pixels: Path | None = None
    force_tle: bool = False
    group_strokes: bool = True  # network strokes of one flash -> one event (events.group_strokes)
    fast_decode: bool = True  # frames: parallel decoding at reduced scale for detection (frames_io)
    workers: int | None = None  # threads (default: the CPUs)
    progress: Callable[[int, int], None] | None = None  # callable(done, total) while frames are decoded
    full_georef: bool = False  # georef.tif at full resolution even for large frames


@dataclass
class LightningResult:
    request: LightningRequest
    mode: str
    frames: Frames
    image: np.ndarray  # the first frame, for the georeferenced products
    image_name: str
    camera_source: str
    flashes: Flashes
    events: Events
    elements: orbit.ElementSet
    solution: Solution
    warnings: list[str]
    georef_scale: int = 1  # georef.tif written at this reduction (the detection's, for large frames)


def open_video(path: Path, fps: float | None = None) -> tuple[int, float, Iterator[np.ndarray]]:
    """(frame count, frames per second, iterator of grey frames) of a video file (OpenCV/FFmpeg)."""
    try:
        import cv2
    except ImportError:
        raise InputError(
            f"{path}: reading video needs OpenCV (pip install opencv-python-headless); "
            "or extract the frames and give `frames_dir` and `frame_times`"
        ) from None
    p = regular_file(path, "a video file")
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        raise InputError(f"{p}: cannot be opened as a video (unknown format or codec)")
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    rate = float(fps) if fps else float(cap.get(cv2.CAP_PROP_FPS))
    if not (rate > 0 and np.isfinite(rate)):
        cap.release()
        raise InputError(f"{p}: the video does not state its frame rate; give `fps`")
    cap.release()

    def frames() -> Iterator[np.ndarray]:
        c = cv2.VideoCapture(str(p))
        try:
            while True:
                ok, img = c.read()
                if not ok:
                    break
                yield cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
        finally:
            c.release()

    if n <= 0:  # some containers do not say; count
        n = sum(1 for _ in frames())
    if n <= 0:
        raise InputError(f"{p}: the video has no frames")
    return n, rate, frames()


def _camera(req: LightningRequest, source: Path, width: int, height: int, info) -> tuple[Camera, str]:
    """The frames' camera from the request's focal length and sensor, else from ``info`` (EXIF; None
    for a video, which has none)."""
    return camera_from_photo(
        width,
        height,
        focal_mm=req.focal_mm,
        sensor_mm=req.sensor_mm,
        exif_focal_mm=info.focal_length_mm if info is not None else None,
        exif_model=info.camera_model if info is not None else None,
        photo=source,
    )


def run(req: LightningRequest) -> LightningResult:
    """Detect, associate, solve; raises InputError (bad input) or NoSolutionError; writes nothing.
    A 16-bit colour PNG or TIFF (photo, frames, background) keeps its 16 bits."""
    from cupola.io.images import check_same_depth, read_photo_full_depth
    from cupola.io.tle import element_set_at

    modes = [
        m
        for m, on in (
            ("photo", req.photo is not None),
            ("frames", req.frames_dir is not None or req.frame_times is not None),
            ("video", req.video is not None),
        )
        if on
    ]
    if len(modes) != 1:
        raise InputError(
            "give exactly one input: `video` (a file), `frames_dir` and `frame_times` (a folder and "
            "a CSV file), or a photo with `time` and `exposure_s`"
        )
    mode = modes[0]
    if not req.events:
        raise InputError("give the lightning events: `events` (one or more CSV files)")
    notes: list[str] = []
    detect_opts = req.detect
    if mode == "photo":
        if req.time is None or req.exposure_s is None:
            raise InputError("a photo needs `time` (start of the exposure, camera clock) and `exposure_s`")
        if not req.exposure_s > 0:
            raise InputError(f"`exposure_s` must be positive, got {req.exposure_s:g}")
        assert req.photo is not None  # the photo mode
        image, info = read_photo_full_depth(req.photo)
        frames = Frames(req.time, np.array([0.0]), np.array([float(req.exposure_s)]), (Path(req.photo).name,))
        images = iter([image])
        source, name = Path(req.photo), Path(req.photo).name
    elif mode == "frames":
        if req.frames_dir is None or req.frame_times is None:
            raise InputError("a frame sequence needs both `frames_dir` (a folder) and `frame_times` (a CSV file)")
        if not Path(req.frames_dir).is_dir():
            raise InputError(f"`frames_dir` {req.frames_dir}: not a folder")
        frames = read_frame_times(req.frame_times, req.frames_dir, req.exposure_s)
        image, info = read_photo_full_depth(Path(req.frames_dir) / frames.names[0])
        if req.fast_decode and req.flashes is None:
            from cupola.lightning.frames_io import detection_scale, read_sequence_reduced, reduce

            # detection on frames reduced by `scale`, decoded in parallel, each file once
            scale = detection_scale(image.shape[1], image.shape[0])
            rest = read_sequence_reduced(
                [Path(req.frames_dir) / nm for nm in frames.names[1:]],
                scale,
                (image.shape[1], image.shape[0]),
                workers=req.workers,
                progress=req.progress,
                dtype=image.dtype,
            )
            images = iter([reduce(image, scale)] + rest)
            detect_opts = replace(req.detect, input_scale=scale, workers=req.workers)
            if scale > 1:
                notes.append(f"detection on frames reduced {scale}x (flash patches are tens of pixels across)")
        else:

            def gen():
                assert req.frames_dir is not None  # checked above
                yield image
                for nm in frames.names[1:]:
                    img, _ = read_photo_full_depth(Path(req.frames_dir) / nm)
                    if img.shape[:2] != image.shape[:2]:
                        raise InputError(
                            f"{Path(req.frames_dir) / nm}: {img.shape[1]}x{img.shape[0]} px, but the "
                            f"first frame is {image.shape[1]}x{image.shape[0]}"
                        )
                    check_same_depth(Path(req.frames_dir) / nm, img, image.dtype, "the first frame")
                    yield img

            images = gen()
        source, name = Path(req.frames_dir) / frames.names[0], frames.names[0]
    else:
        assert req.video is not None  # the video mode
        if req.time is None:
            raise InputError("a video needs `time`: the start of its first frame (camera clock, ISO 8601)")
        from cupola.lightning.video import iter_video_frames, video_frame_times

        if req.fps is not None:
            if not req.fps > 0:
                raise InputError(f"`fps` must be positive, got {req.fps:g}")
            n, rate = len(video_frame_times(req.video)), float(req.fps)
            frames = Frames.regular(req.time, n, 1.0 / rate, req.exposure_s)
        else:
            # frame times from the container's timestamps (a variable frame rate is honoured)
            t_s = video_frame_times(req.video)
            n = len(t_s)
            period = float(np.median(np.diff(t_s))) if n > 1 else 1.0 / 30.0
            rate = 1.0 / period
            exp = np.full(n, float(req.exposure_s) if req.exposure_s else period)
            frames = Frames(req.time, t_s, exp)
        it = iter_video_frames(req.video)
        image = next(it)
        info = None  # a video has no EXIF

        def gen():
            yield image
            yield from it

        images = gen()
        source, name = Path(req.video), f"{Path(req.video).name} (frame 0)"
        notes.append(
            f"video: {n} frames at {rate:g} frames/s, frame times from "
            + ("the given frame rate" if req.fps is not None else "the container's timestamps")
        )
    height, width = image.shape[:2]
    camera, cam_source = _camera(req, source, width, height, info)
    background = None
    if req.background is not None:
        background, _ = read_photo_full_depth(req.background)
        if background.shape[:2] != image.shape[:2]:
            raise InputError(
                f"`background` {req.background}: {background.shape[1]}x{background.shape[0]} px, but "
                f"the frames are {width}x{height}"
            )
        check_same_depth(f"`background` {req.background}", background, image.dtype, "the first frame")
        if detect_opts.input_scale > 1:
            from cupola.lightning.frames_io import reduce

            background = reduce(background, detect_opts.input_scale)
    if req.flashes is not None:
        flashes = read_flashes(req.flashes, frames.epoch)
        inside = (
            (flashes.col_px >= -0.5)
            & (flashes.col_px <= width - 0.5)
            & (flashes.row_px >= -0.5)
            & (flashes.row_px <= height - 0.5)
        )
        if not inside.all():
            k = int(np.flatnonzero(~inside)[0])
            raise InputError(
                f"{req.flashes}: flash {k + 1} ({flashes.col_px[k]:g}, {flashes.row_px[k]:g}) lies outside "
                f"the {width}x{height} image"
            )
    else:
        flashes = detect_flashes(images, frames, background=background, options=detect_opts)
    events = Events.concat([read_events(p, sigma_m=req.event_sigma_m) for p in req.events])
    if req.group_strokes:
        n_before = len(events)
        events, _ = group_strokes(events)
        if len(events) < n_before:
            notes.append(
                f"{n_before - len(events)} subsequent strokes grouped with their flashes' first strokes "
                f"({len(events)} events)"
            )
    elements = element_set_at(req.tle_path, frames.epoch, force=req.force_tle, notes=notes)
    solution = solve(flashes, events, elements, camera, req.options)
    notes += solution.notes
    return LightningResult(
        req,
        mode,
        frames,
        image,
        name,
        cam_source,
        flashes,
        events,
        elements,
        solution,
        notes,
        georef_scale=detect_opts.input_scale,
    )
