"""The published Gaofen-1 worked example (Oriental Pearl TV Tower), both methods, against the
tower's surveyed height (468 m) as the baseline."""

from __future__ import annotations

import datetime as dt

from common import bench_line

SURVEYED_HEIGHT_M = 468.0


def oriental_pearl():
    from cupola.shadows import Measurement, solve

    t = dt.datetime(2013, 8, 5, 2, 56, 39, tzinfo=dt.timezone.utc)
    for method in ("simple", "precise"):
        r = solve(
            t,
            lat=31.23,
            lon=121.5,
            method=method,
            measurement=Measurement(shadow_m=168.0, displacement_m=125.5, sigma_shadow_m=2 * 2**0.5),
        )
        print(
            f"# {method}: H {r.solar_elevation_deg:.4f} deg, height {r.height_m:.1f} +- {r.sigma_height_m:.1f} m, "
            f"side-sway {r.side_sway_deg:.3f} deg",
            flush=True,
        )
        bench_line(
            f"shadows_oriental_pearl_height_{method}",
            r.height_m,
            "m",
            baseline=SURVEYED_HEIGHT_M,
            ratio=r.height_m / SURVEYED_HEIGHT_M,
        )


BENCHMARKS = {"shadows_oriental_pearl": oriental_pearl}
