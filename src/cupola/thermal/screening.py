"""Which scenes of a stack are usable, and why: a rule on the scene's own quality layers.

For each scene, over its land pixels (the water mask's 0; every pixel when there is none):

* ``coverage``: the share with a temperature and a QC word (not fill);
* ``qc_good``: among those, the share that :func:`cupola.thermal.qc.good_pixels` accepts (produced,
  good L1B input, LST error ≤ 2 K); 1 when the scene has no QC layer;
* ``cloud``: among those, the share that is cloud: the product's cloud mask grown over the rest of
  each deck (:func:`cupola.thermal.clouds.grow_clouds`, no edge buffer), or, without a mask, the
  temperature-and-texture test (:func:`cupola.thermal.clouds.cloud_test`) grown the same way.

A scene is **usable** when ``coverage ≥ 0.8``, ``qc_good ≥ 0.8`` and ``cloud ≤ 0.10``; otherwise
the reason names each test it failed with its value. How the thresholds were chosen (from what a
heat-island estimate needs, not from the bundled scenes: ``docs/thermal.md`` has the argument):

* cloud ≤ 10 %: cloud masks miss the edges of clouds. For clouds of ~10 pixels across with a
  missed 1-2 pixel fringe, the fringe is up to about a third of the flagged area; at 10 % cloud
  that leaves ≤ 3 % of the "clear" pixels contaminated, 5-15 K too cold: ≤ 0.3-0.5 K on a zone
  mean, within the ~1 K LST accuracy and below a heat island of a few kelvin. At 20 % it would be
  twice that, comparable to the signal;
* coverage ≥ 80 % and good QC ≥ 80 %: a scene is a sample of the whole area; with more than a
  fifth missing or unreliable, whole cities (or their rural rings) drop out and the per-city
  comparison between scenes is no longer of the same cities.

>>> import numpy as np
>>> t = np.full((50, 50), 300.0); t[:, :15] = 280.0              # 30 % of the scene is a cold deck
>>> s = screen_scene(t, cloud=None, qc=None, water=None)
>>> s.usable, s.reason
(False, 'cloud 30.0% > 10%')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from cupola.thermal.clouds import cloud_test, grow_clouds
from cupola.thermal.qc import good_pixels, qc_fill

__all__ = ["Screening", "screen_scene", "MIN_COVERAGE", "MIN_QC_GOOD", "MAX_CLOUD", "naive_usable"]

MIN_COVERAGE = 0.8
MIN_QC_GOOD = 0.8
MAX_CLOUD = 0.10
#: the naive baseline rule of the benchmark: usable when more than half the scene has data
NAIVE_MIN_VALID = 0.5


@dataclass(frozen=True)
class Screening:
    """The decision on one scene and the numbers behind it (shares of land pixels, 0-1)."""

    usable: bool
    reason: str
    coverage: float
    qc_good: float
    cloud: float
    cloud_product: float | None
    cloud_source: str
    land_pixels: int

    def to_dict(self) -> dict:
        return asdict(self)


def _share(a: np.ndarray, of: np.ndarray) -> float:
    n = int(of.sum())
    return float((a & of).sum()) / n if n else 0.0


def screen_scene(
    lst_k: np.ndarray,
    *,
    cloud: np.ndarray | None,
    qc: np.ndarray | None,
    water: np.ndarray | None,
    min_coverage: float = MIN_COVERAGE,
    min_qc_good: float = MIN_QC_GOOD,
    max_cloud: float = MAX_CLOUD,
) -> Screening:
    """Screen one scene (arrays on one grid: ``cloud``/``water`` 0/1 with 255 fill, ``qc`` the QC
    word with negative fill); see the module."""
    t = np.asarray(lst_k, dtype=np.float64)
    land = np.ones(t.shape, bool) if water is None else np.asarray(water) == 0
    if water is not None and not land.any():
        land = np.asarray(water) != 1
    has = np.isfinite(t)
    if qc is not None:
        has &= ~qc_fill(qc)
    coverage = _share(has, land)
    valid = has & land
    qc_good = _share(good_pixels(qc), valid) if qc is not None else 1.0
    if cloud is not None:
        product = np.asarray(cloud) == 1
        source = "product cloud mask, grown over each deck"
        cloud_product: float | None = _share(product, valid)
    else:
        product = cloud_test(t, land=land)
        source = "temperature and texture test (no cloud mask), grown over each deck"
        cloud_product = None
    grown = grow_clouds(product, t, buffer_px=0)
    cloud_share = _share(grown, valid)
    failed = []
    if coverage < min_coverage:
        failed.append(f"coverage {coverage:.1%} < {min_coverage:.0%}")
    if qc_good < min_qc_good:
        failed.append(f"good QC {qc_good:.1%} < {min_qc_good:.0%}")
    if cloud_share > max_cloud:
        extra = (
            f" (the mask flags {cloud_product:.1%}; the rest is cloud around it that the mask missed)"
            if cloud_product is not None and cloud_share > cloud_product + 0.02
            else ""
        )
        failed.append(f"cloud {cloud_share:.1%} > {max_cloud:.0%}{extra}")
    if failed:
        reason = "; ".join(failed)
    else:
        reason = f"clear enough: cloud {cloud_share:.1%}, coverage {coverage:.1%}, good QC {qc_good:.1%}"
    return Screening(
        usable=not failed,
        reason=reason,
        coverage=coverage,
        qc_good=qc_good,
        cloud=cloud_share,
        cloud_product=cloud_product,
        cloud_source=source,
        land_pixels=int(land.sum()),
    )


def naive_usable(lst_k: np.ndarray) -> bool:
    """The benchmark's baseline: usable when more than half the pixels have a temperature."""
    return bool(np.isfinite(np.asarray(lst_k, dtype=np.float64)).mean() > NAIVE_MIN_VALID)
