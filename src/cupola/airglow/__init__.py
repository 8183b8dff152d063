"""Airglow gravity waves from ISS night frames: each frame projected onto a shell at the layer
height with its own pose (the station's motion compensated), cleaned (flat, stars, city lights
and clouds that move with the ground), and the waves measured: 2-D periodograms with a red-noise
test, the sequence's phase velocities, and a wave table (wavelength, azimuth, phase speed,
period, amplitude, with uncertainties).

>>> from cupola.airglow import shell
>>> shell.MIN_LAYER_HEIGHT_M
20000.0
"""
