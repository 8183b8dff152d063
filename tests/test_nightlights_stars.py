"""The star identification of night frames on partial skies, and what it feeds: square pixels of
the ISS cameras, the attitude used for the products, lens profiles that must not be another lens'."""

from __future__ import annotations

import numpy as np
import pytest

from cupola.geometry.camera import ISS_CAMERAS, camera_for_body


@pytest.mark.parametrize("model", sorted(ISS_CAMERAS))
def test_every_iss_camera_has_square_pixels(model):
    body = ISS_CAMERAS[model]
    assert body.sensor_width_mm / body.width_px == pytest.approx(body.sensor_height_mm / body.height_px, rel=1e-12)
    assert 35.8 < body.sensor_width_mm < 36.1 and 23.8 < body.sensor_height_mm < 24.0  # the data sheets, rounded
    for w, h in ((body.width_px, body.height_px), (body.width_px // 4, body.height_px // 4), (1376, 918)):
        for ww, hh in ((w, h), (h, w)):  # landscape and portrait
            if (
                abs(ww / hh - body.width_px / body.height_px) > 0.02
                and abs(hh / ww - body.width_px / body.height_px) > 0.02
            ):
                continue
            cam = camera_for_body(body, focal_mm=50.0, width_px=ww, height_px=hh)
            assert cam.focal_x_px == pytest.approx(cam.focal_y_px, rel=1e-12)
    full = camera_for_body(body, focal_mm=50.0, width_px=body.width_px, height_px=body.height_px)
    assert full.focal_x_px == pytest.approx(50.0 / (body.pixel_pitch_um * 1e-3))


# -- lens profiles -------------------------------------------------------------------------------------


def test_a_lens_lensfun_does_not_know_is_reported_not_replaced():
    pytest.importorskip("lensfunpy")
    from cupola.nightlights.lens import UnknownLensWarning, lens_from_lensfun, same_lens

    kw = dict(focal_mm=28, f_number=1.4, width_px=600, height_px=400)
    with pytest.warns(UnknownLensWarning, match="AF Nikkor 28mm f/1.4D.*another lens"):
        lens = lens_from_lensfun("NIKON CORPORATION", "NIKON D5", "Nikon", "AF-S NIKKOR 28mm f/1.4E ED", **kw)
    assert lens.unknown_lens == "AF-S NIKKOR 28mm f/1.4E ED"
    assert lens.vignetting == "none" and lens.distortion == "none"
    assert "not in the lensfun database" in lens.notes[0] and lens.to_dict()["unknown_lens"]
    # the lens lensfun does know is still found, under its own name
    known = lens_from_lensfun("NIKON CORPORATION", "NIKON D5", "Nikon", "AF Nikkor 28mm f/1.4D", **kw)
    assert known.unknown_lens is None and known.distortion == "lensfun"
    assert same_lens("AF-S Nikkor 70-200mm f/2.8G ED VR II", "Nikon AF-S Nikkor 70-200mm f/2.8G ED VR II 162")[0]
    assert not same_lens("AF-S Nikkor 70-200mm f/2.8G ED VR II", "Nikon AF-S VR Zoom-Nikkor 70-200mm f/2.8G IF-ED")[0]
    assert not same_lens("AF-S VR Nikkor 400mm f/2.8G ED", "AF-S VR Nikkor 400mm f/2.8G ED + converter TC-14EIII")[0]


def test_user_flat_is_normalised_on_the_optical_axis(tmp_path):
    pytest.importorskip("lensfunpy")
    from cupola.nightlights.lens import flat_field_gain, lens_from_lensfun
    from cupola.nightlights.raw import read_raw
    from cupola.simulate.nightlights import make_frame

    w, h = 696, 464
    lens_name = "AF-S Nikkor 85mm f/1.8G"  # strong vignetting wide open
    make_frame(
        tmp_path / "flat.dng",
        width_px=w,
        height_px=h,
        focal_mm=85,
        f_number=1.8,
        lens_model=lens_name,
        flat_field=True,
        exposure_s=1.0,
        iso=100,
        flat_e=40000.0,
        seed=3,
    )
    ff = read_raw(tmp_path / "flat.dng")
    lens = lens_from_lensfun(
        "NIKON CORPORATION", "NIKON D5", "Nikon", lens_name, focal_mm=85, f_number=1.8, width_px=w, height_px=h
    )
    gain = flat_field_gain(ff.planes, center_px=lens.center_px)
    # the optical axis in plane pixels (the image centre here), where the gain must be 1
    jc, ic = (lens.center_px[0] - 0.5) / 2.0, (lens.center_px[1] - 0.5) / 2.0
    from scipy.ndimage import gaussian_filter, map_coordinates

    for k in range(4):
        assert float(map_coordinates(gain[k], [[ic], [jc]], order=1)[0]) == pytest.approx(1.0, abs=0.0015), k
    # the old normalisation, the mean over the central 5 % of the area, refers to that area's mean
    s = gaussian_filter(ff.planes[1], 6.0, mode="nearest")
    hh, ww = int(round(h / 2 * np.sqrt(0.05) / 2)), int(round(w / 2 * np.sqrt(0.05) / 2))
    old = float(np.mean(s[h // 4 - hh : h // 4 + hh, w // 4 - ww : w // 4 + ww])) / float(
        map_coordinates(s, [[ic], [jc]], order=1)[0]
    )
    assert old < 0.995  # half a percent or more below the axis
