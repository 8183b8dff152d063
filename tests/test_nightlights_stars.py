"""The star identification of night frames on partial skies, and what it feeds: square pixels of
the ISS cameras, the attitude used for the products, lens profiles that must not be another lens'."""

from __future__ import annotations

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
