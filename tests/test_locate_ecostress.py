"""The localizer on real imagery none of its defaults was chosen on: ECOSTRESS scenes of Los Angeles
(``benchmarks/locate_ecostress.py``), a crop of one scene on a larger crop of another."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
LA = ROOT.parent / "shared" / "data" / "ecostress-la" / "LST"
pytestmark = pytest.mark.skipif(not LA.is_dir(), reason="../shared/data/ecostress-la not present")


@pytest.fixture(scope="module")
def eco():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import locate_ecostress

    scenes = locate_ecostress.read_scenes(LA)
    return locate_ecostress, scenes, {c[0]: c for c in locate_ecostress.true_cases(scenes)}


def test_the_probes_truth_is_where_its_framing_puts_the_photo(eco):
    """Each pair's truth is the photo crop's own centre, which lies at the framing's fractions of
    the reference; the photo is the same ground, square, resampled to 70-m pixels."""
    module, _, cases = eco
    assert len(cases) == 72
    for (across, (fx, fy)), turn in zip(module.PLACES, (0, 90)):
        _, framing, photo, ref, truth, _ = cases[f"LA 194 on 205 / 30 km in 2x, place {across}, turned {turn}"]
        col, row = ref.lonlat_to_pixel(*truth)
        h, w = ref.shape
        assert abs((col + 0.5) / w - fx) < 0.002 and abs((row + 0.5) / h - fy) < 0.002
        assert framing == "2x" and photo.shape == (429, 429, 3)
        assert ref.ground_size_m()[0] == pytest.approx(60_000, rel=0.01)


def test_an_afternoon_crop_is_found_on_an_evening_scene_and_not_on_another_place(eco):
    """A real pair from two hours of the day with different heat (16:17 and 21:06 local time):
    rejected before a grey picture stored as RGB was judged by its single band (the bright, hot half
    of the afternoon crop was taken for cloud), found since; the same crop on an astronaut photo's
    reference of Syria is rejected."""
    from pyproj import Geod

    from cupola.locate.localize import Localizer, LocateOptions
    from cupola.locate.reference import Reference
    from cupola.simulate.locate_cases import read_base_case

    module, _, cases = eco
    _, _, photo, ref, truth, _ = cases["LA 205 on 194 / 30 km in 2x, place 0.7, turned 270"]
    assert np.array_equal(photo[..., 0], photo[..., 2])  # grey, stored as RGB
    loc = Localizer(LocateOptions())
    res = loc.locate(photo, [ref])
    assert res.matched, res.reason
    assert Geod(ellps="WGS84").inv(*res.center_lonlat, *truth)[2] < 1000.0
    syria = read_base_case(ROOT / "src" / "cupola" / "data" / "samples" / "apl" / "ISS050-E-70536")
    res = loc.locate(photo, [Reference(syria.reference, syria.name, bounds=syria.bounds)])
    assert not res.matched
