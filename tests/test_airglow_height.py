"""The sharpness measure of the layer-height scan (:func:`cupola.airglow.waves.peak_excess`)."""

from __future__ import annotations

import numpy as np
from test_airglow import _grid_cube

from cupola.airglow.waves import peak_excess


def _stack(scales):
    """A 30-km wave over noise, its pattern scaled by ``scales[i]`` in frame i (a wrong layer
    height seen from a moving, oblique camera changes the scale from frame to frame)."""
    m, xx, yy, _ = _grid_cube(n=len(scales), noise=0.01)
    for i, f in enumerate(scales):
        m[i] += 0.02 * np.cos(2 * np.pi * (xx * 0.6 + yy * 0.8) * f / 30.0)
    return m, np.ones(xx.shape, bool)


def test_a_steady_wave_stands_higher_than_one_whose_scale_changes_between_frames():
    n = 12
    steady = peak_excess(*_stack(np.ones(n)), 3.0)
    smeared = peak_excess(*_stack(np.linspace(0.9, 1.1, n)), 3.0)
    noise, xx, _, _ = _grid_cube(n=n, noise=0.01)
    alone = peak_excess(noise, np.ones(xx.shape, bool), 3.0)
    assert steady > 1.0 > alone  # significant only with the wave
    assert smeared < 0.5 * steady  # the wave's power spread over neighbouring wavevectors
