"""``cupola rso synth|train|recover|pose|evaluate``: synthetic spacecraft imagery, image recovery
and pose estimation (thin wrapper over :mod:`cupola.rso`)."""

from __future__ import annotations

from pathlib import Path

import typer

from cupola.cli import options

rso_app = typer.Typer(
    help="Resident space objects: synthetic imagery, image recovery (U-Net) and pose (ResNet-50).",
    no_args_is_help=True,
)
train_app = typer.Typer(help="Train the recovery U-Net or the pose ResNet-50 on a synthetic set.", no_args_is_help=True)
rso_app.add_typer(train_app, name="train")


#: the inputs of ``rso evaluate`` whose pose estimates ``--refine`` may refine
REFINE_INPUTS = ("raw", "wiener", "richardson_lucy", "unet")

#: pixels of one synthetic set (images x width x height): it is held in memory, ~3 bytes a pixel
MAX_SET_PIXELS = 300_000_000


def register(app: typer.Typer) -> None:
    app.add_typer(rso_app, name="rso")


def _mesh() -> Path | None:
    return typer.Option(None, "--mesh", help="Spacecraft mesh (OBJ, GLB, STL, PLY); default the ISS-like model.")


def _scale() -> float:
    return typer.Option(1.0, "--scale", help="Multiply the mesh's coordinates by this to get metres.")


def _model(mesh: Path | None, scale: float):
    from cupola.rso.spacecraft import iss_like_model, load_model

    return iss_like_model() if mesh is None else load_model(mesh, scale=scale)


@rso_app.command("synth")
def synth_command(
    n: int = typer.Option(..., "--n", help="Number of images."),
    seed: int = typer.Option(0, "--seed", help="Random seed (the same seed gives the same set)."),
    size: int = typer.Option(64, "--size", help="Image width and height in pixels (16-512)."),
    renderer: str = typer.Option("embree", "--renderer", help="embree (ray casting) or mitsuba (path tracing)."),
    mesh: Path | None = _mesh(),
    scale: float = _scale(),
    psf_stars: Path | None = typer.Option(
        None,
        "--psf-stars",
        help="A star image (FITS, PNG, TIFF; linear counts) of the camera: its PSF, measured from the isolated "
        "unsaturated stars, blurs every image instead of a drawn one (same pixel scale as --size's images).",
    ),
    earth: bool = typer.Option(
        False,
        "--earth-background",
        help="Real ground imagery (the bundled Sentinel-2 mosaics) behind the spacecraft where the Earth "
        "fills the field (the Earth direction within ~65 deg of the boresight); black space elsewhere.",
    ),
    degradation: str = typer.Option(
        "full",
        "--degradation",
        help="full: drawn PSF, photon and read noise (low light to daylight), JPEG for half; blur: the same PSFs "
        "and 8-bit quantisation only (the degradation of Aberdeen et al. 2025).",
    ),
    out: Path = options.out_folder(),
    quiet: bool = options.quiet(),
) -> None:
    """Render a labelled set: uniform random attitudes, range, Sun angle, degraded copies."""
    from cupola.cli.progress import progress_bar
    from cupola.errors import InputError
    from cupola.rso.dataset import synthesize

    if n * size * size > MAX_SET_PIXELS:  # the set is built in memory: bounded before any work
        raise InputError(
            f"--n, --size: {n} image(s) of {size}x{size} px is {n * size * size / 1e6:.0f} million pixels; "
            f"at most {MAX_SET_PIXELS / 1e6:.0f} million per set (several sets, or smaller images)"
        )
    from cupola.rso.degrade import DEGRADATIONS

    if degradation not in DEGRADATIONS:  # before the model and star image are read
        raise InputError(f"--degradation: must be {' or '.join(DEGRADATIONS)}, got {degradation!r}")
    model = _model(mesh, scale)
    psf = None
    if psf_stars is not None:
        from cupola.rso.psf_stars import estimate_psf, read_star_image

        image, saturation = read_star_image(psf_stars)
        measured = estimate_psf(image, saturation_level=saturation, name=str(psf_stars))
        psf = (measured.psf, measured.kind())
        if not quiet:
            print(f"rso synth: PSF from {psf_stars}: {measured.kind()}")
    with progress_bar(disable=quiet) as advance:
        summary = synthesize(
            model,
            n,
            out,
            seed=seed,
            size_px=size,
            renderer=renderer,
            progress=advance,
            psf=psf,
            earth_background=earth,
            degradation=degradation,
        )
    if not quiet:
        print(
            f"rso synth: {n} image(s) of {summary['model']} ({size} px, seed {seed}), "
            f"{summary['render_seconds_per_image'] * 1000:.1f} ms per image -> {out}"
        )


def _train_options():
    return {
        "epochs": typer.Option(10, "--epochs", help="Passes over the set."),
        "batch": typer.Option(32, "--batch", help="Images per step."),
        "lr": typer.Option(1e-3, "--lr", help="Peak learning rate (one-cycle schedule)."),
        "threads": typer.Option(1, "--threads", help="CPU threads for PyTorch."),
        "limit": typer.Option(None, "--limit", help="Use only the first N images (of the --data sets, in order)."),
        "resume": typer.Option(False, "--resume", help="Continue from MODEL.ckpt when it is there."),
    }


_T = _train_options()


def _data() -> Path:
    return typer.Option(..., "--data", help="An image set written by 'cupola rso synth'.")


def _train_data() -> list[Path]:
    return typer.Option(
        ...,
        "--data",
        help="An image set written by 'cupola rso synth'; repeat it to train on several (same image size, "
        "field of view and model), e.g. sets of different seeds.",
    )


def _read_sets(folders: list[Path]):
    from cupola.errors import InputError
    from cupola.rso.dataset import join_sets, read_set

    seen: set[Path] = set()
    for f in folders:
        if f.resolve() in seen:
            raise InputError(f"--data: {f} is given twice; each set is read once")
        seen.add(f.resolve())
    return join_sets([read_set(f) for f in folders])


def _model_out() -> Path:
    return typer.Option(
        ...,
        "--out",
        help="The model file to write (a checkpoint MODEL.ckpt is kept while training); an existing file "
        "there is replaced only if it is a cupola rso model.",
    )


def _print_history(kind: str, obj: dict, out: Path) -> None:
    h = obj["history"]
    print(f"rso train {kind}: {len(h)} epoch(s), loss {h[0]:.4g} -> {h[-1]:.4g} -> {out}")


@train_app.command("recover")
def train_recover_command(
    data: list[Path] = _train_data(),
    out: Path = _model_out(),
    epochs: int = _T["epochs"],
    batch: int = _T["batch"],
    lr: float = _T["lr"],
    threads: int = _T["threads"],
    limit: int | None = _T["limit"],
    resume: bool = _T["resume"],
    base: int = typer.Option(
        64, "--base", help="Channels of the U-Net's first level (64: the bundled network; 16 trains ~10x faster)."
    ),
    crop: int = typer.Option(32, "--crop", help="Training crop size in pixels (multiple of 4)."),
    quiet: bool = options.quiet(),
) -> None:
    """Train the recovery U-Net on (degraded, clean) pairs."""
    from cupola.cli.progress import progress_bar
    from cupola.errors import InputError
    from cupola.rso.train import TrainConfig, check_model_out, train_recover

    if crop % 4:
        raise InputError(f"--crop: {crop} is not a multiple of 4")
    check_model_out(out)
    cfg = TrainConfig(epochs=epochs, batch=batch, lr=lr, threads=threads, limit=limit, base=base, crop_px=crop)
    s = _read_sets(data)
    with progress_bar(disable=quiet) as advance:
        obj = train_recover(s, out, cfg, resume=resume, progress=advance)
    if not quiet:
        _print_history("recover", obj, out)


@train_app.command("pose")
def train_pose_command(
    data: list[Path] = _train_data(),
    out: Path = _model_out(),
    epochs: int = _T["epochs"],
    batch: int = _T["batch"],
    lr: float = _T["lr"],
    threads: int = _T["threads"],
    limit: int | None = _T["limit"],
    resume: bool = _T["resume"],
    width: float = typer.Option(0.25, "--width", help="ResNet-50 width multiplier (1.0: the standard widths)."),
    input_kind: str = typer.Option(
        "restored",
        "--input",
        help="Train on the restored (the degraded images through the recovery U-Net of --recover-model, "
        "as 'rso pose' feeds the network; the bundled network's), the clean or the degraded images.",
    ),
    recover_model: Path | None = typer.Option(
        None, "--recover-model", help="Recovery model for --input restored (default: bundled)."
    ),
    rot90: bool = typer.Option(False, "--rot90", help="Turn batches by random quarter turns (labels turned too)."),
    roll: bool = typer.Option(False, "--roll", help="Roll each image by a random angle (an exact camera roll)."),
    forgive_near: bool = typer.Option(
        False,
        "--forgive-near-symmetries",
        help="Loss forgives the model's near-symmetries too (ISS-like: the radiator flips; "
        "'rso pose --refine' tells them apart). Evaluation still counts them as errors.",
    ),
    init: Path | None = typer.Option(
        None, "--init", help="Start from this pose model's weights (fine-tuning; same --width and image size)."
    ),
    mesh: Path | None = _mesh(),
    scale: float = _scale(),
    quiet: bool = options.quiet(),
) -> None:
    """Train the pose ResNet-50 (6-D rotation + range, geodesic loss over the model's symmetries)."""
    import numpy as np

    from cupola.cli.progress import progress_bar
    from cupola.rso.train import TrainConfig, check_model_out, load_model_file, train_pose

    check_model_out(out)
    init_obj = load_model_file(init, "pose") if init is not None else None
    rec_obj = load_model_file(recover_model or _bundled("recover"), "recover") if input_kind == "restored" else None
    cfg = TrainConfig(
        epochs=epochs, batch=batch, lr=lr, threads=threads, limit=limit, width=width, input=input_kind, rot90=rot90,
        roll=roll,
    )  # fmt: skip
    model = _model(mesh, scale)
    s = _read_sets(data)
    sym = np.stack([r.as_matrix() for r in model.symmetries])
    loss_sym = None
    if forgive_near:
        from cupola.rso.refine import near_symmetries

        loss_sym = np.stack([(a * b).as_matrix() for a in model.symmetries for b in near_symmetries(model)])
    with progress_bar(disable=quiet) as advance:
        obj = train_pose(s, out, cfg, sym, resume=resume, progress=advance, loss_symmetries=loss_sym,
                         init=init_obj, recover=rec_obj)  # fmt: skip
    if not quiet:
        _print_history("pose", obj, out)


def _bundled(kind: str) -> Path:
    from importlib.resources import files

    return Path(str(files("cupola") / "data" / "rso" / f"{kind}.pt"))


def _read_image(path: Path, size_px: int):
    import numpy as np

    from cupola.errors import InputError
    from cupola.io.images import read_photo_full_depth

    pixels, _ = read_photo_full_depth(path)  # a 16-bit RGB PNG or TIFF keeps its 16 bits
    a = pixels.astype(np.float32)
    if a.ndim == 3:
        a = a.mean(axis=2)
    a /= 65535.0 if pixels.dtype == np.uint16 else 255.0
    if a.shape != (size_px, size_px):
        raise InputError(f"{path}: image is {a.shape[1]}x{a.shape[0]} px; the model expects {size_px}x{size_px} px")
    if not np.any(a > 0):
        raise InputError(f"{path}: the image is empty (every pixel is 0); expected a spacecraft on a dark sky")
    if float(a.max() - a.min()) == 0.0:  # all white (saturated) or one grey: nothing to see either
        level = int(round(float(a.flat[0]) * (65535 if pixels.dtype == np.uint16 else 255)))
        raise InputError(f"{path}: the image is uniform (every pixel is {level}); expected a spacecraft on a dark sky")
    return a


@rso_app.command("recover")
def recover_command(
    image: Path = typer.Argument(..., help="A degraded grey image (PNG, JPEG, TIFF) of the model's size."),
    model: Path | None = typer.Option(None, "--model", help="Recovery model file (default: the bundled one)."),
    out: Path = options.out_folder("Output folder: restored.png and result.json."),
    quiet: bool = options.quiet(),
) -> None:
    """Restore a blurred, noisy image with the U-Net; writes restored.png and result.json."""
    import numpy as np
    from PIL import Image

    from cupola.io.staging import staged_output, write_json
    from cupola.rso.recover import recover_images
    from cupola.rso.train import build, load_model_file

    model_path = model or _bundled("recover")
    obj = load_model_file(model_path, "recover")
    a = _read_image(image, int(obj["size_px"]))
    restored = recover_images(build(obj), a[None])[0]
    result = {
        "version": 1,
        "image": str(image),
        "model": str(model_path),
        "size_px": int(obj["size_px"]),
        "restored": "restored.png",
    }
    with staged_output(out, "--out", kind="rso-recover", inputs=[image, model]) as stage:
        Image.fromarray(np.round(restored * 255).astype(np.uint8)).save(stage / "restored.png", format="PNG")
        write_json(stage / "result.json", result)
    if not quiet:
        print(f"rso recover: {image} -> {out / 'restored.png'}")


@rso_app.command("pose")
def pose_command(
    image: Path = typer.Argument(..., help="A grey image (PNG, JPEG, TIFF) of the model's size."),
    model: Path | None = typer.Option(None, "--model", help="Pose model file (default: the bundled one)."),
    recover_model: Path | None = typer.Option(
        None, "--recover-model", help="Restore the image with this U-Net first (default: the bundled one)."
    ),
    raw: bool = typer.Option(False, "--raw", help="Do not restore the image first."),
    refine: bool = typer.Option(
        False,
        "--refine",
        help="Refine the network's estimates (the image and its quarter turns) by render-and-compare "
        "with the model's silhouette (~0.7 s); the overlay shows the refined pose.",
    ),
    mesh: Path | None = _mesh(),
    scale: float = _scale(),
    out: Path = options.out_folder(),
    quiet: bool = options.quiet(),
) -> None:
    """Attitude (body -> camera) and range of the spacecraft; writes overlay.png and result.json."""
    import json

    import numpy as np
    from scipy.spatial.transform import Rotation

    from cupola.io.staging import staged_output, write_json
    from cupola.rso.pose import image_estimates, overlay_wireframe, pose_turn_estimates, turns_medoid
    from cupola.rso.recover import recover_images
    from cupola.rso.train import build, load_model_file

    obj = load_model_file(model or _bundled("pose"), "pose")
    sc = _model(mesh, scale)
    a = _read_image(image, int(obj["size_px"]))
    x = a[None]
    if not raw:
        robj = load_model_file(recover_model or _bundled("recover"), "recover")
        x = recover_images(build(robj), x)
    est = pose_turn_estimates(build(obj), obj, x)
    rot, rng_m = turns_medoid(est, obj)
    network = {"quaternion_xyzw": [float(v) for v in rot[0].as_quat()], "range_m": float(rng_m[0]),
               "estimate": "medoid of the network on the image and its three quarter turns"}  # fmt: skip
    fov_deg = float(obj.get("fov_deg", 10.0))
    refined = None
    if refine:
        from cupola.rso.refine import MAX_MOVE_DEG, refine_pose

        starts, ranges = image_estimates(est, 0)
        refined = refine_pose(sc, x[0], starts, ranges, fov_deg, anchor=(rot[0], float(rng_m[0])))
        rot, rng_m = Rotation.concatenate([refined.rotation]), np.array([refined.range_m])
    q = rot[0].as_quat()
    yaw, pitch, roll = rot[0].as_euler("ZYX", degrees=True)
    result = {
        "version": 1,
        "image": str(image),
        "restored": not raw,
        "quaternion_xyzw": [float(v) for v in q],
        "yaw_pitch_roll_deg": [float(yaw), float(pitch), float(roll)],
        "euler": "intrinsic Z-Y-X, body -> camera (OpenCV camera frame)",
        "range_m": float(rng_m[0]),
        "symmetric_attitudes_quaternion_xyzw": [[float(v) for v in (rot[0] * s).as_quat()] for s in sc.symmetries[1:]],
        "estimate": "network refined by render-and-compare" if refined is not None else "network",
        "network": network,
    }
    if refined is not None:
        refinement: dict = {"silhouette_ncc": refined.score, "renders": refined.renders, "local": refined.local}
        if refined.local:
            refinement["note"] = (
                f"the best silhouette match lay more than {MAX_MOVE_DEG:g} deg from the network's estimate "
                "(a turn the silhouette cannot tell); the network's estimate was refined alone"
            )
        result["refinement"] = refinement
    inputs = [image, model, recover_model, mesh]
    with staged_output(out, "--out", kind="rso-pose", inputs=inputs) as stage:
        overlay_wireframe(x[0], sc, rot[0], float(rng_m[0]), fov_deg, stage / "overlay.png")
        write_json(stage / "result.json", result)
    if not quiet:
        print(
            f"rso pose: q(x,y,z,w) = {q[0]:+.4f} {q[1]:+.4f} {q[2]:+.4f} {q[3]:+.4f}; yaw/pitch/roll = "
            f"{yaw:.1f} {pitch:.1f} {roll:.1f} deg; range {rng_m[0]:.0f} m{' (refined)' if refine else ''} -> {out}"
        )
    del json


@rso_app.command("evaluate")
def evaluate_command(
    data: Path = _data(),
    recover_model: Path | None = typer.Option(None, "--recover-model", help="Recovery model (default: bundled)."),
    pose_model: Path | None = typer.Option(None, "--pose-model", help="Pose model (default: bundled)."),
    templates: Path | None = typer.Option(
        None, "--templates", help="A set whose clean images are the nearest-neighbour templates (the training set)."
    ),
    refine: str = typer.Option(
        "",
        "--refine",
        help="Comma-separated inputs (raw, wiener, richardson_lucy, unet) whose network and template "
        "estimates are refined by render-and-compare (~0.7 s an image and input).",
    ),
    mesh: Path | None = _mesh(),
    scale: float = _scale(),
    out: Path = options.out_folder(),
    quiet: bool = options.quiet(),
) -> None:
    """Recovery (MSE, PSNR, SSIM) and pose (mean/median error, SPEED score) on a labelled set."""
    from cupola.cli.progress import progress_bar
    from cupola.errors import InputError
    from cupola.io.staging import staged_output, write_json
    from cupola.rso.dataset import read_set
    from cupola.rso.evaluate import evaluate
    from cupola.rso.train import load_model_file

    names = tuple(n.strip() for n in refine.split(",") if n.strip())
    bad = [n for n in names if n not in REFINE_INPUTS]
    if bad:
        raise InputError(f"--refine {refine}: unknown input {bad[0]!r}; expected some of {', '.join(REFINE_INPUTS)}")
    sc = _model(mesh, scale) if names else None
    robj = load_model_file(recover_model or _bundled("recover"), "recover")
    pobj = load_model_file(pose_model or _bundled("pose"), "pose")
    s = read_set(data)
    tmpl = read_set(templates) if templates is not None else None
    with progress_bar(disable=quiet) as advance:
        res = evaluate(s, robj, pobj, templates=tmpl, progress=advance, model=sc, refine=names)
    inputs = [data, templates, recover_model, pose_model, mesh]
    with staged_output(out, "--out", kind="rso-evaluate", inputs=inputs) as stage:
        write_json(stage / "result.json", {"version": 1, "data": str(data), **res})
    if quiet:
        return
    print(f"rso evaluate: {res['n']} image(s) of {data}")
    for name, r in res["recovery"].items():
        print(f"  recovery {name:16s} MSE {r['mse']:.3g}  PSNR {r['psnr_db']:.2f} dB  SSIM {r['ssim']:.3f}")
    for name, r in res.get("pose", {}).items():
        print(f"  pose {name:20s} mean {r['mean_error_deg']:.1f} deg  median {r['median_error_deg']:.1f} deg  "
              f"SPEED {r['speed_score']:.3f}")  # fmt: skip
    for key, label in (("pose_one_pass", "one pass"), ("pose_refined", "pose refined"),
                       ("template_baseline", "templates"), ("template_refined", "templates refined")):  # fmt: skip
        for name, r in res.get(key, {}).items():
            print(f"  {label} {name:{25 - len(label)}s} mean {r['mean_error_deg']:.1f} deg  "
                  f"median {r['median_error_deg']:.1f} deg  SPEED {r['speed_score']:.3f}")  # fmt: skip
