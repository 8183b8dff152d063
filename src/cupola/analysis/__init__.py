"""Analysis tools shared by the capabilities, below them in the layering (they import geometry and
io only): :mod:`cupola.analysis.zonal`, coverage-weighted zonal statistics of rasters in
equal-area units (used by the night-light zones and the thermal heat island), and
:mod:`cupola.analysis.places`, zones around places known by a point and a land area, and
:mod:`cupola.analysis.planck`, Planck's law (thermal brightness temperatures, fire power), and
:mod:`cupola.analysis.lamps` with :mod:`cupola.analysis.lamp_colour`, lamp and flame colours as a
camera sees them from orbit and the lamp classes fitted on them (night-light calibration, night fires),
and :mod:`cupola.analysis.aliked_graph` with :mod:`cupola.analysis.deform_onnx`, ALIKED's backbone as
one exportable graph and its ONNX Runtime session (locate's reference extraction, the onboard
benchmark)."""

__all__: list[str] = []
