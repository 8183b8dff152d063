"""Short sequences: the generator's cloud streets along the track (the false-wave case of the
short-sequence study) and the ambiguity threshold of the wave table."""

from __future__ import annotations

import numpy as np
import pytest


def test_cloud_streets_run_along_the_ground_track():
    """Sampled along the ground track (at the clouds' 10 km) the streets are constant; across it
    they repeat every ``stripes_wavelength_km``."""
    from scipy import ndimage

    from cupola.geometry import geodesy
    from cupola.simulate.airglow import make_sequence

    kw = dict(n_frames=3, interval_s=1.0, binning=16, stars=0, cities=0, noise=False, vignetting=False, seed=3)
    plain = make_sequence(**kw)
    streets = make_sequence(**kw, ground_stripes=0.5, stripes_wavelength_km=60.0)
    diff = (streets.frames[1] - plain.frames[1]) / streets.mean_e
    pose, cam = streets.poses[1], streets.camera
    lon, lat = (np.radians(v) for v in streets.centre_lonlat_deg)
    east, north, _ = geodesy.enu_basis(lon, lat)
    sub = [geodesy.geodetic_to_ecef(*geodesy.ecef_to_geodetic(s.position_m)[:2], 0.0) for s in streets.states]
    track = (sub[-1] - sub[0]) @ np.array([east, north]).T
    track /= np.linalg.norm(track)
    across = np.array([-track[1], track[0]])

    def sample(direction, offset_km, s_km):
        xy = offset_km * across[:, None] + np.outer(direction, s_km)
        pts = geodesy.geodetic_to_ecef(lon, lat, 10e3) + 1e3 * (xy[0][:, None] * east + xy[1][:, None] * north)
        col, row = cam.ray_to_pixel((pts - pose.position_m) @ pose.matrix)
        return ndimage.map_coordinates(diff, [row, col], order=1)

    s_km = np.linspace(-100.0, 100.0, 81)
    along = [np.ptp(sample(track, off, s_km)) for off in (-40.0, -7.0, 20.0)]
    s_across = np.linspace(-180.0, 180.0, 721)
    cut = sample(across, 0.0, s_across)
    assert np.ptp(cut) > 0.4 and max(along) < 0.1 * np.ptp(cut), (along, np.ptp(cut))
    spectrum = np.abs(np.fft.rfft(cut - cut.mean()))
    period_km = (s_across[-1] - s_across[0]) / np.argmax(spectrum)
    assert period_km == pytest.approx(60.0, rel=0.1)


@pytest.mark.parametrize("nsigma, ambiguous", [(2.0, False), (3.0, False), (4.0, True)])
def test_the_ambiguity_threshold_is_in_sigma_of_the_phase_speed(nsigma, ambiguous):
    from cupola.airglow.waves import wave_from_params

    k = 1.0 / 50.0  # cycles/km, toward the east
    c = 30.0  # m/s
    w = 2 * np.pi * k * c / 1e3
    cov = np.zeros((5, 5))
    cov[2, 2] = (2 * np.pi * k * 10.0 / 1e3) ** 2  # sigma of w: 10 m/s of phase speed
    wave = wave_from_params(np.array([k, 0.0, w, 0.02, 0.0]), cov, 3.0, ambiguous_nsigma=nsigma)
    assert wave.phase_speed_m_s == pytest.approx(30.0) and wave.phase_speed_sigma_m_s == pytest.approx(10.0)
    assert wave.ambiguous is ambiguous
