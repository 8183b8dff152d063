"""Reading a sequence for ``cupola airglow waves``: frames (a folder with a times table, or photos
with EXIF times), the orbit, the camera and the pose, with one-line errors naming the file."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from cupola.airglow.shell import check_layer_height
from cupola.errors import InputError
from cupola.geometry import attitude as att
from cupola.geometry import orbit
from cupola.geometry.camera import Camera, camera_from_photo
from cupola.geometry.times import parse_time

__all__ = ["SequenceRequest", "load_request", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")


@dataclass
class SequenceRequest:
    frames: list[np.ndarray]
    names: list[str]
    paths: list[Path]
    times: list[dt.datetime]
    camera: Camera
    poses: list[att.Pose]
    flat: np.ndarray | None
    notes: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def _grey(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    return a.mean(axis=2) if a.ndim == 3 else a


def _exif_time(path: Path, info) -> dt.datetime:
    if not info.datetime_original:
        raise InputError(f"{path}: no EXIF DateTimeOriginal; give the times in a table (`frame_times`)")
    try:
        t = dt.datetime.strptime(str(info.datetime_original).strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        raise InputError(
            f"{path}: EXIF DateTimeOriginal {info.datetime_original!r} is not YYYY:MM:DD HH:MM:SS"
        ) from None
    sub = str(info.subsec or "").strip()
    if sub.isdigit():
        t += dt.timedelta(seconds=float("0." + sub))
    return t.replace(tzinfo=dt.timezone.utc)  # ISS cameras keep GMT


def _read_times(table: Path) -> dict[str, dt.datetime]:
    from cupola.io.tables import read_table

    out: dict[str, dt.datetime] = {}
    for row in read_table(table, "frame times", required=("file", "time")):
        out[Path(row.text("file")).name] = parse_time(row.text("time"), row.where("time"))
    return out


def _lvlh(state: orbit.StateVector) -> Rotation:
    return Rotation.from_matrix(att.lvlh_to_itrs(state))


#: a result.json to take a pose from is a few kB; anything this big is not one
MAX_POSE_JSON_BYTES = 16 * 1024 * 1024


def _pose_rpy(path: Path) -> tuple[float, float, float]:
    from cupola.io.limits import read_json_bounded

    doc = read_json_bounded(path, "the result.json of a cupola command", MAX_POSE_JSON_BYTES)
    pose = doc.get("pose") if isinstance(doc, dict) else None
    keys = ("lvlh_roll_deg", "lvlh_pitch_deg", "lvlh_yaw_deg")
    if not isinstance(pose, dict) or not all(
        isinstance(pose.get(k), (int, float)) and not isinstance(pose.get(k), bool) and np.isfinite(pose[k])
        for k in keys
    ):
        raise InputError(f"{path}: no pose with finite lvlh_roll_deg, lvlh_pitch_deg, lvlh_yaw_deg")
    return (float(pose[keys[0]]), float(pose[keys[1]]), float(pose[keys[2]]))


#: a tie-point table's column saying which frame a point was measured on (one of them; without
#: any, every point is on the first frame): ``frame`` (index from 0 in the frames' order),
#: ``file`` (the frame's file name) or ``time`` (the frame's time, ISO 8601 UTC, to 1 ms)
TIE_FRAME_KEYS = ("frame", "file", "time")


def _tie_point_frames(path: Path, names: list[str], times: list[dt.datetime]) -> np.ndarray | None:
    """The frame index of each tie point (rows in file order), or None where the table has no
    frame column (every point on the first frame)."""
    from cupola.io.tables import ValueRange, read_table

    table = read_table(path, "tie points")
    key = next((k for k in TIE_FRAME_KEYS if table.has(k)), None)
    if key is None:
        return None
    index = ValueRange(0, len(names) - 1, f"a frame index from 0 to {len(names) - 1} (the frames' order)")
    by_name = {n: i for i, n in enumerate(names)}
    out = []
    for row in table:
        if key == "frame":
            v = row.number("frame", index)
            if v != int(v):
                raise InputError(f"{row.where('frame')}: {row.text('frame')!r} is not a whole frame index")
            out.append(int(v))
        elif key == "file":
            name = Path(row.text("file")).name
            if name not in by_name:
                raise InputError(f"{row.where('file')}: {name!r} is not one of the frames")
            out.append(by_name[name])
        else:
            t = parse_time(row.text("time"), row.where("time"))
            dts = np.array([abs((t - ft).total_seconds()) for ft in times])
            i = int(np.argmin(dts))
            if dts[i] > 1e-3:
                raise InputError(
                    f"{row.where('time')}: no frame at {t.isoformat()} (the nearest, {names[i]}, is at "
                    f"{times[i].isoformat()})"
                )
            out.append(i)
    return np.array(out, dtype=int)


def _tie_point_attitudes(
    path: Path,
    camera: Camera,
    states: list[orbit.StateVector],
    names: list[str],
    times: list[dt.datetime],
    size_px: tuple[int, int],
) -> tuple[list[Rotation], bool, dict, list[str]]:
    """The camera -> LVLH rotation of every frame solved from tie points (cupola's tie-point
    solver, :func:`cupola.geometry.attitude.solve_attitude`, at each frame's orbit position):
    points on one frame (no frame column: the first) give one attitude held in LVLH for the
    sequence, points on several a pose per frame (:mod:`cupola.airglow.tie_points`). Returns the
    rotations, whether they are per frame, the fit for ``result.json`` and notes."""
    from cupola.airglow.tie_points import solve_frame_attitudes
    from cupola.io.tables import read_tie_points

    tp = read_tie_points(path, image_size_px=size_px)  # names the file, line and column
    frame_of = _tie_point_frames(path, names, times)
    per_frame = frame_of is not None
    if frame_of is None:
        frame_of = np.zeros(len(tp.col_px), dtype=int)
    t_s = np.array([(t - times[0]).total_seconds() for t in times])
    try:
        sol = solve_frame_attitudes(
            camera,
            states,
            t_s,
            frame_of,
            col_px=tp.col_px,
            row_px=tp.row_px,
            lon_deg=tp.lon_deg,
            lat_deg=tp.lat_deg,
            height_m=tp.height_m,
            names=names,
        )
    except InputError as exc:  # name the tie-point file
        raise InputError(f"{path}: {exc}") from None
    poor = [s for s in sol.solved if s["rms_px"] > 10.0]
    notes = [
        f"tie-point fit is poor on {names[s['frame']]}: RMS {s['rms_px']:.1f} px; check the points, the frame and "
        "its time"
        for s in poor
    ]
    if per_frame:
        info = {"file": Path(path).name, **sol.to_dict(names)}
        if sol.interpolated:
            notes.append(
                f"{sol.interpolated} of {len(names)} frames without tie points: their attitude in LVLH interpolated "
                "(slerp) between the nearest frames solved, held before the first and after the last"
            )
    else:
        s0 = sol.solved[0]
        info = {"file": Path(path).name, "frame": names[0], "points": s0["points"], "rms_px": s0["rms_px"],
                "rms_m": s0["rms_m"]}  # fmt: skip
    return sol.rotations_lvlh, per_frame, info, notes


#: the columns of a per-frame attitude table: the frame (one of), the attitude (one set of)
ATTITUDE_KEYS = ("file", "time")
ATTITUDE_RPY = ("roll_deg", "pitch_deg", "yaw_deg")
ATTITUDE_QUAT = ("qw", "qx", "qy", "qz")


def _frame_attitudes(path: Path, names: list[str], times: list[dt.datetime]) -> list[Rotation]:
    """The camera -> LVLH rotation of every frame from a table (see :func:`load_request`)."""
    from cupola.io.tables import ValueRange, read_table

    header = "file|time,roll_deg,pitch_deg,yaw_deg|qw,qx,qy,qz"
    table = read_table(path, "frame attitudes", header=header)
    key = next((k for k in ATTITUDE_KEYS if table.has(k)), None)
    if key is None:
        raise InputError(f"{path}: line {table.header_line}: no column file or time; expected header {header}")
    use_rpy = all(table.has(c) for c in ATTITUDE_RPY)
    if not use_rpy and not all(table.has(c) for c in ATTITUDE_QUAT):
        raise InputError(
            f"{path}: line {table.header_line}: need columns roll_deg,pitch_deg,yaw_deg or qw,qx,qy,qz; "
            f"found {','.join(table.columns)}"
        )
    angle = ValueRange(-360.0, 360.0, "an angle in degrees in [-360, 360]")
    unit = ValueRange(-1.0, 1.0, "a quaternion component in [-1, 1]")
    files: list[str] = []
    stamps: list[dt.datetime] = []
    rots: list[Rotation] = []
    for row in table:
        if use_rpy:
            rot = att.rotation_from_rpy(*(row.number(c, angle) for c in ATTITUDE_RPY))
        else:
            q = np.array([row.number(c, unit) for c in ATTITUDE_QUAT])
            if not abs(np.linalg.norm(q) - 1.0) < 1e-3:
                raise InputError(
                    f"{path}: line {row.line}: quaternion qw,qx,qy,qz has norm {np.linalg.norm(q):.6f}, not 1"
                )
            rot = Rotation.from_quat([q[1], q[2], q[3], q[0]])  # scipy: scalar last
        if key == "file":
            files.append(Path(row.text("file")).name)
        else:
            stamps.append(parse_time(row.text("time"), row.where("time")))
        rots.append(rot)
    if key == "file":
        by_name = dict(zip(files, rots, strict=True))
        missing = [n for n in names if n not in by_name]
        if missing:
            raise InputError(f"{path}: no attitude for frame {missing[0]} ({len(missing)} frame(s) without one)")
        return [by_name[n] for n in names]
    t0 = stamps[0]
    ts = np.array([(t - t0).total_seconds() for t in stamps])
    if len(ts) > 1 and not (np.diff(ts) > 0).all():
        raise InputError(f"{path}: attitude times must increase")
    want = np.array([(t - t0).total_seconds() for t in times])
    if len(ts) == 1 or want.min() < ts[0] - 1e-6 or want.max() > ts[-1] + 1e-6:
        raise InputError(
            f"{path}: attitude times {stamps[0].isoformat()} to {stamps[-1].isoformat()} do not cover the frames "
            f"({times[0].isoformat()} to {times[-1].isoformat()})"
        )
    return att.interpolate_rotations(ts, rots, want)


def load_request(
    *,
    photos: list[Path],
    frames_dir: Path | None,
    frame_times: Path | None,
    tle: Path,
    force: bool = False,
    focal_mm: float | None = None,
    sensor_mm: tuple[float, float] | None = None,
    attitude_rpy_deg: tuple[float, float, float] | None = None,
    pose_from: Path | None = None,
    tie_points: Path | None = None,
    attitudes: Path | None = None,
    register_ground: bool = False,
    flat: Path | None = None,
    layer_km: float = 87.0,
    exposure_s: float | None = None,
    dark: Path | None = None,
) -> SequenceRequest:
    """Everything :func:`~cupola.airglow.sequence.analyse_sequence` needs, read and checked.

    The pose is one attitude in LVLH for the whole sequence: given (``attitude_rpy_deg``), taken
    from another command's ``result.json`` (``pose_from``) or solved from ``tie_points`` (CSV
    ``col,row,lat,lon[,height_m]`` in the pixels of the first frame, solved at its time); or one
    per frame from ``tie_points`` with a column ``frame`` (index from 0), ``file`` or ``time``
    saying which frame each point is on (each frame with points solved, the others interpolated:
    :mod:`cupola.airglow.tie_points`), or from ``attitudes``, a CSV with a row per frame (column
    ``file``) or an attitude log (column ``time``, ISO 8601 UTC, interpolated to each frame's
    time by slerp) giving the LVLH attitude as ``roll_deg,pitch_deg,yaw_deg`` or as the
    quaternion ``qw,qx,qy,qz`` (scalar first) of the camera -> LVLH rotation.
    ``register_ground``: every frame's attitude after the first refined by tracking the first
    frame's ground lights (:func:`cupola.airglow.register.register_to_ground`): a hand-held
    sequence.
    ``exposure_s``: the frames' exposure time; the times are the shutter openings (as EXIF's), and
    each frame's pose is then taken at mid-exposure, where the smeared frame is centred.
    ``dark``: a dark frame (same size and exposure, the lens capped; any linear image) subtracted
    from every frame before anything else (black level, dark current, hot pixels)."""
    from cupola.io.images import read_photo_full_depth  # a 16-bit RGB TIFF or PNG keeps its 16 bits
    from cupola.io.tle import TleFile

    check_layer_height(layer_km * 1e3)
    if exposure_s is not None and not (np.isfinite(exposure_s) and 0 < exposure_s <= 60):
        raise InputError(f"`exposure_s` must be in (0, 60] s, got {exposure_s}")
    if sum(x is not None for x in (attitude_rpy_deg, tie_points, pose_from, attitudes)) != 1:
        raise InputError(
            "give exactly one of `attitude_rpy_deg` (roll, pitch, yaw), `tie_points` (a file), "
            "`pose_from` (a result.json) and `attitudes` (a table of per-frame attitudes)"
        )
    if photos and frames_dir is not None:
        raise InputError("give either photos or a frames folder (`frames_dir`), not both")
    times_by_name = _read_times(frame_times) if frame_times is not None else None
    if frames_dir is not None:
        if not Path(frames_dir).is_dir():
            raise InputError(f"{frames_dir}: not a folder of frames")
        if times_by_name is None:
            raise InputError("a frames folder (`frames_dir`) needs a times table (`frame_times`)")
        photos = sorted(p for p in Path(frames_dir).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not photos:
            raise InputError(f"{frames_dir}: no frames ({', '.join(IMAGE_SUFFIXES)})")
    if not photos:
        raise InputError("no frames: give photos or a frames folder (`frames_dir`) with `frame_times`")
    frames, infos, times = [], [], []
    for p in photos:
        a, info = read_photo_full_depth(p)
        frames.append(_grey(a))
        infos.append(info)
        if times_by_name is not None:
            if p.name not in times_by_name:
                raise InputError(f"{frame_times}: no time for frame {p.name}")
            times.append(times_by_name[p.name])
        else:
            times.append(_exif_time(p, info))
    # sizes and order are checked by analyse_sequence too; the camera needs them first
    h, w = frames[0].shape
    for p, f in zip(photos, frames, strict=True):
        if f.shape != (h, w):
            raise InputError(
                f"{p}: {f.shape[1]}x{f.shape[0]} px, but {photos[0].name} is {w}x{h} px: "
                "frames of a sequence must have the same size"
            )
    if dark is not None:
        da, _ = read_photo_full_depth(dark)
        dark_img = _grey(da)
        if dark_img.shape != (h, w):
            raise InputError(f"{dark}: dark frame is {dark_img.shape[1]}x{dark_img.shape[0]} px, the frames {w}x{h} px")
        if not np.isfinite(dark_img).all():
            raise InputError(f"{dark}: dark frame has invalid pixels")
        frames = [f - dark_img for f in frames]
    info0 = infos[0]
    camera, camera_source = camera_from_photo(
        w,
        h,
        focal_mm=focal_mm,
        sensor_mm=sensor_mm,
        exif_focal_mm=info0.focal_length_mm,
        exif_model=info0.camera_model,
        photo=photos[0],
    )
    notes: list[str] = []
    tles = TleFile.read(tle)
    el = tles.at(times[len(times) // 2], force=force, notes=notes)
    half = dt.timedelta(seconds=0.5 * exposure_s) if exposure_s is not None else dt.timedelta(0)
    tie_info = None
    states = [orbit.state_at(el, t + half) for t in times]
    per_frame: list[Rotation] | None = None
    if attitudes is not None:
        per_frame = _frame_attitudes(attitudes, [p.name for p in photos], [t + half for t in times])
        source = f"attitudes: {Path(attitudes).name} (one per frame)"
        rpy = att.rpy_from_pose(states[0], att.Pose(states[0].position_m, _lvlh(states[0]) * per_frame[0]))
    elif attitude_rpy_deg is not None:
        rpy = attitude_rpy_deg
        source = "attitude"
    elif tie_points is not None:
        names = [p.name for p in photos]
        rots, tie_per_frame, tie_info, tie_notes = _tie_point_attitudes(
            tie_points, camera, states, names, times, (w, h)
        )
        notes.extend(tie_notes)
        rpy = att.rpy_from_pose(states[0], att.Pose(states[0].position_m, _lvlh(states[0]) * rots[0]))
        if tie_per_frame:
            per_frame = rots
            source = (
                f"tie_points: {Path(tie_points).name} ({tie_info['points']} points on {tie_info['frames']} frames, "
                "a pose per frame)"
            )
        else:
            source = f"tie_points: {Path(tie_points).name} ({tie_info['points']} points on {photos[0].name})"
    else:
        assert pose_from is not None  # exactly one pose source (checked above)
        rpy = _pose_rpy(pose_from)
        source = f"pose_from: {Path(pose_from).name}"
    if per_frame is not None:
        poses = [att.Pose(s.position_m, _lvlh(s) * r) for s, r in zip(states, per_frame, strict=True)]
    else:
        poses = [att.pose_from_rpy(s, *rpy) for s in states]
    flat_img = None
    if flat is not None:
        fa, _ = read_photo_full_depth(flat)
        flat_img = _grey(fa)
        if flat_img.shape != (h, w):
            raise InputError(f"{flat}: flat field is {flat_img.shape[1]}x{flat_img.shape[0]} px, the frames {w}x{h} px")
        centre = flat_img[h // 2 - h // 20 : h // 2 + h // 20 + 1, w // 2 - w // 20 : w // 2 + w // 20 + 1]
        flat_img = flat_img / float(np.median(centre))
        if not (np.isfinite(flat_img).all() and flat_img.min() > 0):
            raise InputError(f"{flat}: flat field has zero or invalid pixels")
    registration = None
    if register_ground:
        from cupola.airglow.register import register_to_ground

        reg = register_to_ground(frames, camera, states, poses[0], flat=flat_img)
        poses = reg.poses
        registration = reg.to_dict()
        notes.extend(reg.notes)
        source += " + ground registration"
    drift = np.array([att.rpy_from_pose(s, p) for s, p in zip(states, poses, strict=True)]) - np.array(rpy)
    drift = (drift + 180.0) % 360.0 - 180.0
    summary = {
        "camera": {**camera.to_dict(), "source": camera_source},
        "pose": {
            "source": source,
            "lvlh_roll_deg": rpy[0],
            "lvlh_pitch_deg": rpy[1],
            "lvlh_yaw_deg": rpy[2],
            "per_frame": bool(per_frame is not None or register_ground),
            "drift_deg_max": float(np.abs(drift).max()),
            **({"tie_points": tie_info} if tie_info is not None else {}),
            **({"ground_registration": registration} if registration is not None else {}),
        },
        "tle": el.to_dict(),
        "exposure_s": exposure_s,
        "dark": Path(dark).name if dark is not None else None,
        "inputs": [p.name for p in photos],
    }
    return SequenceRequest(
        frames=frames,
        names=[p.name for p in photos],
        paths=[*photos, *(x for x in (frame_times, flat, dark, pose_from, tie_points, attitudes) if x is not None)],
        times=times,
        camera=camera,
        poses=poses,
        flat=flat_img,
        notes=notes,
        summary=summary,
    )
