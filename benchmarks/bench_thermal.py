"""Thermal scenes: three figures, each with its baseline measured in the same run.

* ``thermal_bt_error_k``: the largest brightness-temperature error (K) of cupola's band-integrated
  Planck inversion (:class:`cupola.thermal.planck.BandPlanck`) over the five modelled ECOSTRESS
  bands and the two CTI bands, 200-350 K, against a high-resolution spectral integration (adaptive
  quadrature of R(λ)B(λ,T) over the exact analytic response, inverted by Brent's method). Baseline:
  the central-wavelength shortcut's largest error on the same cases.
* ``thermal_scene_screening_agreement``: share of the four bundled ECOSTRESS scenes (../shared/data)
  where the automatic screening agrees with the manual labels of ``docs/thermal.md`` (written
  before the rule); the reason per scene is printed. Baseline: "usable when more than half the
  scene has data".
* ``thermal_uhi_seconds``: heat island of 500 cities on a 2000 x 1000 scene (rings, exact zonal
  means). Baseline: a brute-force loop rasterizing each city and ring on its own (pixel centres).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from common import ROOT, bench_line

LA = ROOT.parent / "shared" / "data" / "ecostress-la"
#: the manual labels of docs/thermal.md (usable?), fixed before the rule was run
MANUAL = {
    "doy2023175112358": (False, "broken cloud over the western half, cold unflagged fringes"),
    "doy2023184152551": (False, "marine stratus over the coastal plain, mostly missed by the mask over land"),
    "doy2023194040614": (True, "clear, a sliver of no data at the swath edge"),
    "doy2023205231732": (True, "clear and complete"),
}


def bt_error() -> None:
    from scipy import integrate, optimize

    from cupola.thermal.planck import BandPlanck, planck_radiance, planck_temperature
    from cupola.thermal.sensors import BAND_NAMES, CTI_BANDS_UM, ECOSTRESS_BANDS_UM, band_response

    temps = np.linspace(200.0, 350.0, 16)
    ours_max = 0.0
    base_max = 0.0
    for name in BAND_NAMES:
        resp = band_response(name)
        if name.startswith("ecostress"):
            c, fwhm = ECOSTRESS_BANDS_UM[int(name.split("-")[1])]
            sigma = fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
            lo, hi = c - 8 * sigma, c + 8 * sigma

            def r(w, c=c, sigma=sigma):
                return math.exp(-0.5 * ((w - c) / sigma) ** 2)

            centre = c
        else:
            lo, hi = CTI_BANDS_UM[name.split("-")[1]]

            def r(w):
                return 1.0

            centre = 0.5 * (lo + hi)
        norm = integrate.quad(r, lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0]

        def band_l(t, r=r, lo=lo, hi=hi, norm=norm):
            f = lambda w: r(w) * float(planck_radiance(w, t))  # noqa: E731
            return integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0] / norm

        bp = BandPlanck(resp)
        for t in temps:
            L = band_l(t)
            t_ref = optimize.brentq(lambda x, L=L: band_l(x) - L, t - 20, t + 20, xtol=1e-9)
            ours_max = max(ours_max, abs(float(bp.temperature(L)) - t_ref))
            base_max = max(base_max, abs(float(planck_temperature(centre, L)) - t_ref))
    print(
        f"# {len(BAND_NAMES)} bands x {temps.size} temperatures 200-350 K against adaptive quadrature: "
        f"band-integrated max {ours_max:.2e} K, central wavelength max {base_max:.3f} K",
        flush=True,
    )
    bench_line("thermal_bt_error_k", ours_max, "K", baseline=base_max)


def screening_agreement() -> None:
    from cupola.io.ecostress import find_ecostress_scenes, read_ecostress_geotiffs
    from cupola.thermal.screening import naive_usable, screen_scene

    if not LA.is_dir():
        print(f"# (thermal_scene_screening_agreement skipped: no {LA})")
        return
    agree = naive_agree = n = 0
    for files in find_ecostress_scenes(LA):
        s = read_ecostress_geotiffs(files["lst"], files.get("qc"), files.get("cloud"), files.get("water"))
        if s.name not in MANUAL:
            continue
        manual, why = MANUAL[s.name]
        auto = screen_scene(s.lst_k, cloud=s.cloud, qc=s.qc, water=s.water)
        naive = naive_usable(s.lst_k)
        n += 1
        agree += auto.usable == manual
        naive_agree += naive == manual
        print(
            f"# {s.name}: manual {'usable' if manual else 'not usable'} ({why}); rule "
            f"{'usable' if auto.usable else 'not usable'}: {auto.reason}; naive {'usable' if naive else 'not usable'}",
            flush=True,
        )
    if n:
        bench_line("thermal_scene_screening_agreement", agree / n, "fraction", baseline=naive_agree / n)


def _brute_force(t: np.ndarray, transform, zones: np.ndarray, rings: np.ndarray) -> np.ndarray:
    from rasterio import features
    from rasterio.transform import Affine

    out = np.full(len(zones), np.nan)
    aff = Affine(*transform)
    for k, (z, r) in enumerate(zip(zones, rings)):
        means = []
        for g in (z, r):
            if g is None or g.is_empty:
                means.append(np.nan)
                continue
            m = features.rasterize([(g, 1)], out_shape=t.shape, transform=aff, fill=0, dtype="uint8").astype(bool)
            v = t[m]
            v = v[np.isfinite(v)]
            means.append(float(v.mean()) if v.size else np.nan)
        out[k] = means[0] - means[1]
    return out


def uhi_seconds() -> None:
    from cupola.io.raster_band import RasterBand
    from cupola.simulate.thermal_scenes import urban_scene
    from cupola.thermal.heat_island import heat_island, rural_rings

    t, transform, zones, truth = urban_scene(1000, 2000, 500, seed=3)
    names = np.array([f"c{k}" for k in range(len(zones))], dtype=object)
    t0 = time.perf_counter()
    rings = rural_rings(zones)
    hi = heat_island(RasterBand(t, transform, "EPSG:4326"), zones, names, rings=rings)
    ours = time.perf_counter() - t0
    ok = np.isfinite(hi.uhi_k)
    err = np.abs(hi.uhi_k[ok] - truth[ok])
    sample = 100
    t0 = time.perf_counter()
    _brute_force(t, transform, zones[:sample], rings[0][:sample])
    brute = (time.perf_counter() - t0) * len(zones) / sample
    print(
        f"# 500 cities on 2000x1000 px: {ours:.2f} s (rings + exact zonal means), {ok.sum()} with a heat island, "
        f"median |error| against the planted one {np.median(err):.3f} K; brute force ({sample} timed, scaled): "
        f"{brute:.2f} s",
        flush=True,
    )
    bench_line("thermal_uhi_seconds", ours, "s", baseline=brute, ratio=ours / brute)


BENCHMARKS = {
    "thermal_bt_error_k": bt_error,
    "thermal_scene_screening_agreement": screening_agreement,
    "thermal_uhi_seconds": uhi_seconds,
}

if __name__ == "__main__":  # pragma: no cover
    for f in BENCHMARKS.values():
        f()
    _ = Path
