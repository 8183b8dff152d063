"""The PSF measured from star images (cupola.rso.psf_stars), against star fields rendered with
astropy's Moffat2D (integrated over each pixel, stars at random sub-pixel positions), and
``rso synth --psf-stars`` through the CLI."""

import numpy as np
import pytest

from cupola.cli.main import main
from cupola.errors import InputError
from cupola.rso.psf_stars import estimate_psf, moffat_fwhm_px, read_star_image


def _star_field(alpha, beta, n_stars=25, shape=(300, 300), seed=0, flux=4e4, sky=200.0, saturate=None):
    """Stars of a Moffat2D profile (astropy), each pixel the mean of 8 x 8 sub-samples, Poisson
    and read noise; (image, true kernel at the pixel centre grid, positions)."""
    from astropy.modeling.models import Moffat2D

    rng = np.random.default_rng(seed)
    img = np.full(shape, sky, float)
    sub = (np.arange(8) + 0.5) / 8 - 0.5
    pos = []
    while len(pos) < n_stars:
        r, c = rng.uniform(20, shape[0] - 20), rng.uniform(20, shape[1] - 20)
        if all(max(abs(r - a), abs(c - b)) > 25 for a, b in pos):
            pos.append((r, c))
    model = Moffat2D(amplitude=1.0, gamma=alpha, alpha=beta)
    yy, xx = np.mgrid[-10:11, -10:11].astype(float)
    for r, c in pos:
        r0, c0 = int(round(r)), int(round(c))
        y = (yy + r0 - r)[..., None, None] + sub[:, None]
        x = (xx + c0 - c)[..., None, None] + sub[None, :]
        stamp = model(x, y).mean(axis=(2, 3))
        img[r0 - 10 : r0 + 11, c0 - 10 : c0 + 11] += flux * stamp / stamp.sum()
    img = rng.poisson(img).astype(float) + rng.normal(0, 3.0, shape)
    if saturate is not None:
        img = np.minimum(img, saturate)
    y, x = np.mgrid[-7:8, -7:8].astype(float)
    truth = model(x[..., None, None] + sub[:, None], y[..., None, None] + sub[None, :]).mean(axis=(2, 3))
    return img, truth / truth.sum(), model


@pytest.mark.parametrize("alpha,beta", [(1.2, 2.5), (2.0, 4.0), (3.0, 3.0)])
def test_the_measured_psf_is_the_stars_profile(alpha, beta):
    img, truth, model = _star_field(alpha, beta, seed=int(alpha * 10))
    est = estimate_psf(img)
    assert est.n_stars >= 15
    assert est.psf.sum() == pytest.approx(1.0)
    assert np.unravel_index(np.argmax(est.psf), est.psf.shape) == (7, 7)
    # the kernel is the pixel-integrated profile: its FWHM is the truth kernel's, and a little
    # wider than astropy's FWHM of the continuous profile (integration over a pixel only widens)
    assert est.fwhm_px == pytest.approx(_fitted_fwhm(truth), rel=0.03)
    assert est.fwhm_px >= model.fwhm
    assert np.corrcoef(est.psf.ravel(), truth.ravel())[0, 1] > 0.999
    assert np.abs(est.psf - truth).sum() < 0.05


def _fitted_fwhm(kernel):
    from cupola.rso.psf_stars import _moffat_fit

    return moffat_fwhm_px(*_moffat_fit(kernel))


@pytest.mark.parametrize("alpha,beta", [(1.2, 2.5), (2.5, 4.765)])
def test_the_moffat_fit_gives_astropys_fwhm(alpha, beta):
    from astropy.modeling.models import Moffat2D

    model = Moffat2D(amplitude=1.0, gamma=alpha, alpha=beta)
    y, x = np.mgrid[-7:8, -7:8].astype(float)
    assert _fitted_fwhm(model(x, y)) == pytest.approx(model.fwhm, rel=1e-4)
    assert moffat_fwhm_px(alpha, beta) == pytest.approx(model.fwhm, rel=1e-9)


def test_saturated_stars_are_left_out():
    img, truth, _ = _star_field(2.0, 3.0, seed=3, flux=4e5, saturate=6000.0)
    clipped = int((img >= 6000.0).sum())
    assert clipped > 0
    try:
        est = estimate_psf(img, saturation_level=6000.0)
    except InputError as exc:  # every star clipped is an input error, never a flat-topped PSF
        assert "unsaturated" in str(exc)
    else:
        assert est.fwhm_px == pytest.approx(_fitted_fwhm(truth), rel=0.05)
    with pytest.raises(InputError, match="unsaturated"):
        estimate_psf(np.minimum(_star_field(2.0, 3.0, seed=4, flux=4e6)[0], 6000.0), saturation_level=6000.0)


def test_no_stars_and_bad_images_are_input_errors():
    rng = np.random.default_rng(1)
    with pytest.raises(InputError, match="at least 3 needed"):
        estimate_psf(rng.normal(100, 3, (200, 200)))
    with pytest.raises(InputError, match="grey star image"):
        estimate_psf(np.zeros((20, 20)))
    with pytest.raises(InputError, match="NaN"):
        estimate_psf(np.full((100, 100), np.nan))


def test_synth_with_a_psf_from_stars(tmp_path, capsys):
    from astropy.io import fits

    from cupola.rso.dataset import read_set

    img, truth, _ = _star_field(1.8, 3.0, seed=7)
    stars = tmp_path / "stars.fits"
    fits.PrimaryHDU(img.astype(np.float32)).writeto(stars)
    back, sat = read_star_image(stars)
    assert back.shape == img.shape and sat is None
    out = tmp_path / "set"
    assert main(["rso", "synth", "--n", "2", "--size", "32", "--psf-stars", str(stars), "--out", str(out)]) == 0
    s = read_set(out)
    assert np.abs(s.psf[0] - truth).sum() < 0.05 and np.array_equal(s.psf[0], s.psf[1])
    assert s.summary["psf"].startswith("stars n=")
    # an image without stars: one line, exit 2, nothing written
    empty = tmp_path / "empty.fits"
    fits.PrimaryHDU(np.random.default_rng(0).normal(100, 3, (200, 200)).astype(np.float32)).writeto(empty)
    capsys.readouterr()
    code = main(["rso", "synth", "--n", "2", "--psf-stars", str(empty), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "empty.fits" in err
    assert not (tmp_path / "o").exists()


def test_a_16_bit_rgb_star_image_keeps_its_16_bits(tmp_path):
    """A linear 16-bit RGB TIFF or PNG of stars (a RAW development) is read with its 16 bits and
    saturates at 65535, as its grey twin (Pillow kept the high byte: faint stars lost)."""
    import cv2

    img, _, _ = _star_field(1.8, 3.0, seed=7)
    grey = np.clip(img / img.max() * 60000, 0, 65535).astype(np.uint16)
    for name in ("s.tif", "s.png"):
        cv2.imwrite(str(tmp_path / name), np.dstack([grey] * 3))
        back, sat = read_star_image(tmp_path / name)
        assert sat == 65535.0
        np.testing.assert_allclose(back, grey.astype(float))
