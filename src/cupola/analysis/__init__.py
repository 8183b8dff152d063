"""Analysis tools shared by the capabilities, below them in the layering (they import geometry and
io only): :mod:`cupola.analysis.zonal`, coverage-weighted zonal statistics of rasters in
equal-area units (used by the night-light zones and the thermal heat island), and
:mod:`cupola.analysis.places`, zones around places known by a point and a land area, and
:mod:`cupola.analysis.planck`, Planck's law (thermal brightness temperatures, fire power)."""

__all__: list[str] = []
