"""cupola.rso: the ISS-like model, the renderer, the degradation and the synthetic sets."""

import csv

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from cupola.cli.main import main
from cupola.rso import degrade as dg
from cupola.rso.dataset import draw_sample, join_sets, read_set, synthesize
from cupola.rso.render import View, project, range_for_fill, render
from cupola.rso.spacecraft import ARRAY, iss_like_model, load_model

MODEL = iss_like_model()


def test_model_has_the_iss_dimensions():
    v = MODEL.vertices_m
    assert v[:, 0].max() - v[:, 0].min() == pytest.approx(117.0)  # arrays reach past the 109 m truss
    arrays = MODEL.faces[MODEL.material == ARRAY]
    assert len(arrays) == 8 * 12  # eight wings, a box of 12 triangles each
    wing = v[arrays[:12].ravel()]
    assert np.ptp(wing[:, 0]) == pytest.approx(12.0) and np.ptp(wing[:, 1]) == pytest.approx(35.0)


def _principal_angle_deg(img):
    """Orientation of the long axis of the bright pixels (second moments), in (-90, 90]."""
    r, c = np.nonzero(img > 0.02)
    w = img[r, c]
    x, y = c - np.average(c, weights=w), r - np.average(r, weights=w)
    cov = np.cov(np.vstack([x, y]), aweights=w)
    vals, vecs = np.linalg.eigh(cov)
    a = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))
    return (a + 90) % 180 - 90


@pytest.mark.parametrize("yaw_deg", [0.0, 35.0, -60.0, 80.0])
def test_a_known_attitude_gives_the_truss_orientation_in_the_image(yaw_deg):
    # a truss-only model seen from above: the silhouette's long axis follows the projected truss ends
    import dataclasses

    faces = MODEL.faces[:12]  # the truss is the first box
    model = dataclasses.replace(MODEL, faces=faces, material=np.zeros(12, np.int8), name="truss")
    assert np.ptp(MODEL.vertices_m[faces.ravel()][:, 0]) == pytest.approx(109.0)
    rot = Rotation.from_euler("xz", [180.0 + 20.0, yaw_deg], degrees=True)  # tilted 20 deg out of the sky plane
    view = View(rot, range_for_fill(MODEL.extent_m, 0.8, 10.0), (0.0, 0.3, -1.0))
    img = render(model, view, 96)
    ends = project(np.array([[-54.5, 0, 0], [54.5, 0, 0]]), view, 96)
    expected = np.degrees(np.arctan2(*(ends[1] - ends[0])[::-1]))
    expected = (expected + 90) % 180 - 90
    got = _principal_angle_deg(img)
    diff = (got - expected + 90) % 180 - 90
    assert abs(diff) < 1.5, (got, expected)
    assert abs((expected - yaw_deg + 90) % 180 - 90) < 1e-6  # the turn about the boresight turns the truss


def test_render_is_black_where_the_model_is_not_and_lit_facing_the_sun():
    view = View(Rotation.from_euler("x", 180.0, degrees=True), 900.0, (0.0, 0.0, -1.0))
    img = render(MODEL, view, 64)
    assert img[0, 0] == 0 and img[-1, -1] == 0
    back = render(MODEL, View(view.rotation, 900.0, (0.0, 0.0, 1.0)), 64)  # Sun behind the model
    assert img.sum() > 5 * back.sum()


def test_degradation_preserves_flux():
    rng = np.random.default_rng(11)
    clean = np.zeros((64, 64))
    clean[20:40, 15:50] = rng.uniform(0.1, 0.6, (20, 35))
    for psf in (dg.gaussian_psf(1.7), dg.moffat_psf(2.0, 3.0), dg.motion_psf(6.0, 30.0),
                dg.combine_psfs(dg.gaussian_psf(1.0), dg.motion_psf(4.0, 100.0))):  # fmt: skip
        assert psf.sum() == pytest.approx(1.0)
        assert dg.convolve(clean, psf).sum() == pytest.approx(clean.sum(), rel=1e-9)
    d = dg.Degradation(dg.gaussian_psf(1.5), "g", photons_white=200.0, read_noise_e=0.0)
    mean = np.mean([dg.degrade(clean, d, np.random.default_rng(k)).sum() for k in range(30)])
    assert mean == pytest.approx(clean.sum(), rel=0.01)  # photon noise is zero-mean
    assert not np.allclose(dg.degrade(clean, d, np.random.default_rng(1)), dg.degrade(clean, d, None), atol=1e-3)


def test_motion_psf_has_its_length_and_direction():
    k = dg.motion_psf(8.0, 0.0, size=15)
    assert np.count_nonzero(k.sum(axis=0) > 1e-6) in (8, 9, 10) and np.count_nonzero(k.sum(axis=1) > 1e-6) <= 2


def test_labels_round_trip_and_the_seed_repeats(tmp_path):
    out = tmp_path / "set"
    synthesize(MODEL, 6, out, seed=5, size_px=32)
    s = read_set(out)
    again = [draw_sample(MODEL, 5, i, 32) for i in range(6)]
    for i, smp in enumerate(again):
        assert (s.rotations[i].inv() * smp.view.rotation).magnitude() < 1e-8
        assert s.range_m[i] == pytest.approx(smp.view.range_m)
        assert np.allclose(s.degraded[i], smp.degraded, atol=1e-6)
    with open(out / "labels.csv") as fh:
        rows = list(csv.DictReader(fh))
    for i, row in enumerate(rows):
        e = Rotation.from_euler("ZYX", [float(row[k]) for k in ("yaw_deg", "pitch_deg", "roll_deg")], degrees=True)
        assert (e.inv() * s.rotations[i]).magnitude() < 1e-8
        sun = np.array([float(row[k]) for k in ("sun_x", "sun_y", "sun_z")])
        assert np.linalg.norm(sun) == pytest.approx(1.0)
    assert s.psf.shape == (6, 15, 15) and (out / rows[0]["image"]).is_file()
    other = [draw_sample(MODEL, 6, i, 32) for i in range(2)]
    assert (other[0].view.rotation.inv() * again[0].view.rotation).magnitude() > 1e-3


def test_blur_degradation_keeps_the_views_and_psfs_and_adds_no_noise(tmp_path, capsys):
    full = [draw_sample(MODEL, 7, i, 32) for i in range(4)]
    blur = [draw_sample(MODEL, 7, i, 32, degradation="blur") for i in range(4)]
    for f, b in zip(full, blur):
        assert (f.view.rotation.inv() * b.view.rotation).magnitude() < 1e-12
        assert np.array_equal(f.degradation.psf, b.degradation.psf) and np.array_equal(f.clean, b.clean)
        expect = np.round(np.clip(dg.convolve(b.clean, b.degradation.psf), 0, 1) * 255) / 255  # blur + 8 bits
        assert np.abs(b.degraded - expect).max() < 1e-6
        assert b.degradation.jpeg_quality is None and not b.degradation.noise
    assert max(np.abs(f.degraded - b.degraded).max() for f, b in zip(full, blur)) > 0.05  # the full one is noisy
    out = tmp_path / "blur"
    assert (
        main(["rso", "synth", "--n", "2", "--size", "32", "--degradation", "blur", "--out", str(out), "--quiet"]) == 0
    )
    assert read_set(out).summary["degradation"] == "blur"
    with open(out / "labels.csv") as fh:
        assert all(r["jpeg_quality"] == r["photons_white"] == r["read_noise_e"] == "" for r in csv.DictReader(fh))
    synthesize(MODEL, 2, tmp_path / "full", seed=7, size_px=32)
    joined = join_sets([read_set(tmp_path / "full"), read_set(out)])
    assert joined.summary["degradation"] == "mixed"
    assert [p["degradation"] for p in joined.summary["parts"]] == ["full", "blur"]
    code = main(["rso", "synth", "--n", "2", "--degradation", "haze", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--degradation" in err and not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="haze"):
        dg.random_degradation(np.random.default_rng(0), kind="haze")


def test_synth_command_and_bad_inputs(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["rso", "synth", "--n", "3", "--size", "32", "--out", str(out), "--quiet"]) == 0
    assert len(list((out / "degraded").glob("*.png"))) == 3
    bad = tmp_path / "bad.obj"
    bad.write_text("this is not a mesh\n")
    code = main(["rso", "synth", "--n", "2", "--mesh", str(bad), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "bad.obj" in err
    assert not (tmp_path / "o").exists()
    code = main(["rso", "synth", "--n", "0", "--out", str(tmp_path / "o")])
    assert code == 2 and not (tmp_path / "o").exists()


def test_a_user_mesh_renders(tmp_path):
    import trimesh

    path = tmp_path / "box.stl"
    trimesh.creation.box(extents=(4.0, 2.0, 1.0)).export(path)
    m = load_model(path, scale=10.0)
    assert m.extent_m == pytest.approx(2 * np.linalg.norm([20, 10, 5]))
    img = render(m, View(Rotation.identity(), range_for_fill(m.extent_m, 0.8, 10.0), (0, 0, -1.0)), 32)
    assert img.max() > 0.5


def test_mitsuba_renders_the_same_silhouettes():
    # an independent renderer (path tracing) agrees on geometry and brightness, Sun behind the camera
    pytest.importorskip("mitsuba")
    import dataclasses

    from cupola.rso.dataset import draw_view
    from cupola.rso.render_mitsuba import render_mitsuba

    ious, flux = [], []
    for i in range(6):
        v = dataclasses.replace(
            draw_view(np.random.default_rng([9, i]), MODEL), sun_cam=(0.0, 0.0, -1.0), earth_cam=None
        )
        a, b = render_mitsuba(MODEL, v, 64), render(MODEL, v, 64)
        ious.append(((a > 0.01) & (b > 0.01)).sum() / ((a > 0.01) | (b > 0.01)).sum())
        flux.append(a.sum() / b.sum())
    assert np.mean(ious) > 0.85 and min(ious) > 0.7, ious
    assert 0.8 < np.median(flux) < 1.2, flux


def test_deconvolution_baselines_are_tuned_to_the_noise():
    from cupola.rso.recover import tune_baselines

    blur = [draw_sample(MODEL, 3, i, 32, degradation="blur") for i in range(4)]
    noisy = [draw_sample(MODEL, 3, i, 32) for i in range(4)]

    def tuned(samples):
        return tune_baselines(*(np.stack(a) for a in zip(*((s.degraded, s.clean, s.degradation.psf) for s in samples))))

    (w_blur, rl_blur), (w_noisy, rl_noisy) = tuned(blur), tuned(noisy)
    assert rl_blur >= 80 and w_blur <= 1e-3  # without noise, deconvolve hard
    assert rl_noisy <= 20 and w_noisy >= 3e-3  # noise: stop early, regularise
