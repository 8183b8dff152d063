"""Pool mode of locate: a folder of GeoTIFF tiles written here (one holds the photo, the others are
other places and other parts of the same mosaic), the horizon filter, the feature cache (versions,
corruption, nothing written without a folder) and the CLI through its real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cupola.errors import InputError
from cupola.io.geotiff import write_lonlat_geotiff
from cupola.locate.cache import CACHE_FORMAT_VERSION, FeatureCache, feature_key
from cupola.locate.features import Features
from cupola.locate.localize import LocateOptions
from cupola.locate.pool import PoolOptions, TilePool, scan_tiles, tied_with_leader, within_horizon
from cupola.locate.reference import load_reference

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "samples" / "apl"
CHILE = SAMPLES / "ISS064-E-358"
CHILE_BOUNDS = (-71.01562, -20.30615, -68.90626, -18.31547)
NEW_MEXICO = SAMPLES / "ISS064-E-46242"
NEW_MEXICO_BOUNDS = (-105.4248, 34.05273, -105.16113, 34.27089)
SYRIA = SAMPLES / "ISS050-E-70536"
SYRIA_BOUNDS = (38.05664, 36.27978, 38.32031, 36.49203)

FAST = PoolOptions(descriptor="sift", words=16, tile_px=512, top_k=3, vocab_tiles=8)


def write_geotiff(path, img, bounds):
    write_lonlat_geotiff(path, img, bounds)


def half(img):
    import cv2

    return cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)


def sub_bounds(bounds, shape, c0, r0, c1, r1):
    west, south, east, north = bounds
    h, w = shape
    return (
        west + c0 / w * (east - west),
        north - r1 / h * (north - south),
        west + c1 / w * (east - west),
        north - r0 / h * (north - south),
    )


@pytest.fixture(scope="module")
def refs():
    return {
        "chile": load_reference(CHILE / "reference.jpg", bounds=CHILE_BOUNDS),
        "new_mexico": load_reference(NEW_MEXICO / "reference.jpg", bounds=NEW_MEXICO_BOUNDS),
        "syria": load_reference(SYRIA / "reference.jpg", bounds=SYRIA_BOUNDS),
    }


@pytest.fixture(scope="module")
def photo(refs):
    """A 'photo' cut from the Chilean mosaic, turned 93 deg (see test_locate.synthetic_photo)."""
    import cv2

    from cupola.locate import homography as hg

    ref = refs["chile"]
    a = np.radians(93.0)
    sq = np.array([[-170, -170], [170, -170], [170, 170], [-170, 170]], float)
    src = sq @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]).T + (600.0, 430.0)
    dst = np.array([[0, 0], [511, 0], [511, 511], [0, 511]], float)
    h = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))
    img = cv2.warpPerspective(ref.image, h, (512, 512), flags=cv2.INTER_AREA)
    c = hg.apply_h(np.linalg.inv(h), np.array([[255.5, 255.5]]))[0]
    return img, tuple(float(v) for v in ref.pixel_to_lonlat(c[0], c[1]))


@pytest.fixture(scope="module")
def tiles(tmp_path_factory, refs):
    """Folders of 512-px GeoTIFF tiles: 'with' holds the Chilean tile among seven distractors
    (New Mexico, Syria, their quadrants, and a part of the Chilean mosaic away from the photo);
    'without' holds only the distractors."""
    root = tmp_path_factory.mktemp("pool")
    with_true, without = root / "with", root / "without"
    with_true.mkdir()
    without.mkdir()
    chile = refs["chile"]
    write_geotiff(with_true / "chile.tif", half(chile.image), CHILE_BOUNDS)
    distract = {
        "new_mexico.tif": (half(refs["new_mexico"].image), NEW_MEXICO_BOUNDS),
        "syria.tif": (half(refs["syria"].image), SYRIA_BOUNDS),
        # the Chilean mosaic's south-east corner, outside the photo's footprint (~rows 190-670)
        "chile_se.tif": (chile.image[700:1024, 700:1024], sub_bounds(CHILE_BOUNDS, chile.shape, 700, 700, 1024, 1024)),
    }
    for name, r, b in (("nm", refs["new_mexico"], NEW_MEXICO_BOUNDS), ("sy", refs["syria"], SYRIA_BOUNDS)):
        for q, (c0, r0) in enumerate(((0, 0), (512, 0), (0, 512), (512, 512))):
            if q < 2:
                distract[f"{name}_q{q}.tif"] = (
                    r.image[r0 : r0 + 512, c0 : c0 + 512],
                    sub_bounds(b, r.shape, c0, r0, c0 + 512, r0 + 512),
                )
    for name, (img, b) in distract.items():
        write_geotiff(with_true / name, img, b)
        write_geotiff(without / name, img, b)
    (with_true / "notes.txt").write_text("not a tile")
    return with_true, without


@pytest.fixture(scope="module")
def localizer():
    from cupola.locate.localize import Localizer

    return Localizer(LocateOptions(matcher="sift", focal_mm=207.0))


def test_pool_chooses_the_true_tile_among_distractors(tiles, photo, localizer, tmp_path, monkeypatch):
    from pyproj import Geod

    img, truth = photo
    cache = FeatureCache(tmp_path / "cache")
    pool = TilePool(tiles[0], FAST, cache=cache)
    assert len(pool.tiles) == 8 and not pool.skipped  # notes.txt is not an image: not listed
    res = pool.locate(img, LocateOptions(matcher="sift", focal_mm=207.0), localizer=localizer)
    assert res.matched, res.result.reason
    assert res.tile.name == "chile.tif" and res.result.reference == "chile.tif"
    assert Geod(ellps="WGS84").inv(*res.result.center_lonlat, *truth)[2] < 1000.0
    assert [r["rank"] for r in res.ranking] == list(range(1, 9))
    assert res.tried[-1]["tile"] == "chile.tif" and res.tried[-1]["rank"] <= FAST.top_k
    d = res.to_dict()
    assert d["matched_tile"] == "chile.tif" and d["matched_rank"] == res.tried[-1]["rank"]
    json.dumps(d)
    # the index is on disk now: a new pool over the same folder computes nothing, and lists the
    # tiles from the cache without opening them
    import cupola.locate.pool as pool_module

    def no_open(*a, **k):
        raise AssertionError("a listed tile was opened again")

    monkeypatch.setattr(pool_module, "read_tile", no_open)
    again = TilePool(tiles[0], FAST, cache=FeatureCache(tmp_path / "cache"))
    assert [t.bounds_lonlat for t in again.tiles] == [t.bounds_lonlat for t in pool.tiles]
    assert again.build_index() == 0


def test_pool_without_the_true_tile_says_not_here(tiles, photo, localizer):
    img, _ = photo
    from dataclasses import replace

    pool = TilePool(tiles[1], replace(FAST, top_k=2))  # memory-only cache
    res = pool.locate(img, LocateOptions(matcher="sift", contrast_retry=False))
    assert not res.matched
    # the two best tiles, then the two mosaics of side-by-side quadrants (New Mexico's, Syria's),
    # then the two windows of one quadrant's extent across their shared edges
    assert res.result.reason.startswith("not here") and len(res.tried) == 6
    assert ["mosaic" in t for t in res.tried] == [False, False, True, True, True, True]
    pairs = [("nm_q0.tif", "nm_q1.tif"), ("sy_q0.tif", "sy_q1.tif")]
    assert sorted(tuple(t["mosaic"]) for t in res.tried[2:4]) == pairs
    assert sorted(tuple(t["mosaic"]) for t in res.tried[4:]) == pairs
    assert all(" tiles around " in t["tile"] for t in res.tried[2:4])
    assert all(" tiles across the east edge of " in t["tile"] for t in res.tried[4:])
    assert "none of the 2 best-ranked of 7 tiles was accepted (" in res.result.reason
    assert "); nor 4 mosaics of adjacent tiles (mosaic of 2 tiles around " in res.result.reason
    for t in res.tried:
        assert t["tile"] in res.result.reason
    # with the contrast retry (the default), the same two tiles are searched again on
    # contrast-folded images, in the same order, and the answer says so; tiles smaller than the
    # first pass's reference size are not (these are 512 px and less)
    again = pool.locate(img, LocateOptions(matcher="sift"))
    assert not again.matched and [t["tile"] for t in again.tried] == [t["tile"] for t in res.tried]
    assert "contrast-folded" not in again.result.reason
    again = pool.locate(img, LocateOptions(matcher="sift", ref_px=256))
    assert not again.matched and len(again.tried) == 8
    assert [t["tile"] for t in again.tried[6:]] == [t["tile"] for t in again.tried[:2]]
    assert [t.get("contrast") for t in again.tried] == [None] * 6 + ["folded", "folded"]
    assert "none of the 2 best-ranked" in again.result.reason
    assert "2 of them searched again on contrast-folded images" in again.result.reason
    assert "contrast-folded retry" in again.timings_s
    # with a 50-mm lens (~300 km of ground) every tile is too narrow to be found: said once, not per tile
    wide_lens = pool.locate(img, LocateOptions(matcher="sift", contrast_retry=False, focal_mm=50.0))
    assert not wide_lens.matched and wide_lens.result.reason.count("lens sees") == 1
    assert "every tile verified is narrower than the 302 km a 50 mm lens sees" in wide_lens.result.reason
    assert all("km across" not in t["reason"] for t in wide_lens.tried)


def test_small_tiles_are_not_read_again_for_the_folded_search(tiles, photo, monkeypatch):
    """After a "not here", a tile its metadata shows smaller than ref_px is skipped by the
    contrast-folded search without being read again: each verified tile is read once."""
    from dataclasses import replace

    import cupola.locate.pool as pool_module

    img, _ = photo
    pool = TilePool(tiles[1], replace(FAST, top_k=2, mosaic_tiles=()))  # (a mosaic reads its tiles again)
    opts = LocateOptions(matcher="sift", quick_inliers=None)
    pool.locate(img, opts)  # builds the index (which reads every tile once)
    loads: list[str] = []
    real = pool_module.Tile.load
    monkeypatch.setattr(pool_module.Tile, "load", lambda self, **kw: loads.append(self.name) or real(self, **kw))
    res = pool.locate(img, opts)
    assert not res.matched and all(t.size_px is not None for t in pool.tiles)
    assert loads == [t["tile"] for t in res.tried] and len(loads) == len(set(loads))


def test_every_mosaic_is_verified_with_the_small_reference_bar(tiles, photo, monkeypatch):
    """Mosaics are second chances over the photo's region: each is verified with at least
    ``small_ref_min_inliers``, whatever its size; the tiles alone keep the bar of their size."""
    from dataclasses import replace

    import cupola.locate.pool as pool_module

    img, _ = photo
    seen: list[tuple[str, int]] = []
    real = pool_module.Localizer.locate

    def spy(self, photo, references, *args, **kw):
        seen.extend((r.name, self.opts.min_inliers) for r in references)
        return real(self, photo, references, *args, **kw)

    monkeypatch.setattr(pool_module.Localizer, "locate", spy)
    opts = LocateOptions(matcher="sift", contrast_retry=False)
    res = TilePool(tiles[1], replace(FAST, top_k=2)).locate(img, opts)
    assert not res.matched
    mosaics = [bar for name, bar in seen if name.startswith("mosaic of")]
    alone = [bar for name, bar in seen if not name.startswith("mosaic of")]
    assert len(mosaics) == 4 and set(mosaics) == {opts.small_ref_min_inliers}
    assert alone and set(alone) == {opts.min_inliers}


def test_a_negative_photo_is_found_in_a_pool_by_the_contrast_folded_retry(refs, photo, tmp_path):
    """A photo whose contrast is reversed (here: everywhere, a negative) is found by a single
    search only on contrast-folded images; a pool does the same over the tiles it verified."""
    from dataclasses import replace

    from pyproj import Geod

    img, truth = photo
    folder = tmp_path / "tiles"
    folder.mkdir()
    # one tile (the test's time), whole: the folded search is for references of at least ref_px
    write_geotiff(folder / "chile.tif", refs["chile"].image, CHILE_BOUNDS)
    pool = TilePool(folder, replace(FAST, top_k=1), cache=FeatureCache(tmp_path / "cache"))
    opts = LocateOptions(matcher="aliked", focal_mm=207.0, diagonal_turns=False)  # a right angle: no diagonals
    res = pool.locate(255 - img, opts)
    assert res.matched, res.result.reason
    assert res.tile.name == "chile.tif" and "contrast-folded" in res.result.reason
    assert [(t["tile"], t.get("contrast"), t["matched"]) for t in res.tried] == [
        ("chile.tif", None, False),
        ("chile.tif", "folded", True),
    ]
    assert Geod(ellps="WGS84").inv(*res.result.center_lonlat, *truth)[2] < 1000.0


def test_horizon_filter_drops_far_tiles(tiles, photo, localizer):
    all_tiles, _ = scan_tiles(tiles[0])
    near_chile = within_horizon(all_tiles, (-73.3, -20.6), 420e3)
    assert sorted(t.name for t in near_chile) == ["chile.tif", "chile_se.tif"]
    img, _ = photo
    pool = TilePool(tiles[0], FAST)
    res = pool.locate(
        img, LocateOptions(matcher="sift", focal_mm=207.0, nadir_lonlat=(-73.3, -20.6)), localizer=localizer
    )
    assert res.tiles_beyond_horizon == 6 and len(res.ranking) == 2
    assert res.matched and res.tile.name == "chile.tif"
    # from over the Indian Ocean no tile is in view
    far = pool.locate(img, LocateOptions(matcher="sift", nadir_lonlat=(80.0, -40.0)))
    assert not far.matched and "horizon" in far.result.reason and far.tiles_beyond_horizon == 8


def _entry_versions(path):
    with np.load(path) as z:
        meta = json.loads(str(z["meta"][()]))
    return meta["cupola_version"], meta["format_version"]


def test_cache_from_another_version_is_rebuilt_not_trusted(tiles, tmp_path, monkeypatch):
    import cupola

    folder = tmp_path / "cache"
    pool = TilePool(tiles[1], FAST, cache=FeatureCache(folder))
    assert pool.build_index() == 7
    files = sorted(folder.rglob("*.npz"))
    assert files and not list(folder.rglob(".tmp-*"))
    assert {_entry_versions(f) for f in files} == {(cupola.__version__, CACHE_FORMAT_VERSION)}
    # a later cupola reads the same folder: nothing is trusted, every entry is recomputed in place
    monkeypatch.setattr(cupola, "__version__", "99.0.0")
    newer = TilePool(tiles[1], FAST, cache=FeatureCache(folder))
    assert newer.build_index() == 7 and newer.cache.rebuilt >= 7
    assert sorted(folder.rglob("*.npz")) == files  # same files, overwritten
    assert {_entry_versions(f) for f in files} == {("99.0.0", CACHE_FORMAT_VERSION)}
    assert TilePool(tiles[1], FAST, cache=FeatureCache(folder)).build_index() == 0


def test_corrupt_cache_entry_is_rebuilt(tmp_path):
    import torch

    cache = FeatureCache(tmp_path / "c")
    key = feature_key("0" * 64, "tile", 0, 0, 64, 64, 512, "aliked", 1024)
    f = Features(np.arange(8, dtype=np.float32).reshape(4, 2), torch.ones(4, 128), (64, 64))
    cache.put(key, f)
    path = cache.path_for(key)
    back = FeatureCache(tmp_path / "c").get(key)
    assert isinstance(back.descriptors, torch.Tensor) and np.array_equal(back.keypoints, f.keypoints)
    assert back.shape == (64, 64)
    sift = Features(np.zeros((2, 2), np.float32), np.ones((2, 128), np.float32), (5, 5))
    cache.put(key + "x", sift)
    assert isinstance(FeatureCache(tmp_path / "c").get(key + "x").descriptors, np.ndarray)
    # truncated file: a miss, then overwritten by the next put
    path.write_bytes(path.read_bytes()[:100])
    fresh = FeatureCache(tmp_path / "c")
    assert fresh.get(key) is None and fresh.rebuilt == 1
    fresh.put(key, f)
    assert FeatureCache(tmp_path / "c").get(key) is not None
    # garbage where an array should be
    akey = feature_key("1" * 64, "pool-vlad")
    fresh.put_array(akey, np.ones((2, 3), np.float16))
    fresh.path_for(akey).write_bytes(b"garbage")
    assert FeatureCache(tmp_path / "c").get_array(akey) is None


def test_corrupt_descriptor_in_a_pool_cache_is_recomputed(tiles, tmp_path):
    folder = tmp_path / "cache"
    TilePool(tiles[1], FAST, cache=FeatureCache(folder)).build_index()
    victim = max(folder.rglob("*.npz"), key=lambda p: p.stat().st_size)  # a tile's descriptor
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    pool = TilePool(tiles[1], FAST, cache=FeatureCache(folder))
    assert pool.build_index() == 1
    with np.load(victim) as z:
        assert "array" in z.files


def test_cache_keys_carry_the_versions_and_memory_only_writes_nothing(tmp_path, monkeypatch):
    import cupola

    k1 = feature_key("abc", "x", 1)
    assert f"format={CACHE_FORMAT_VERSION}" in k1 and f"cupola={cupola.__version__}" in k1
    monkeypatch.setattr(cupola, "__version__", "99.0.0")
    k2 = feature_key("abc", "x", 1)
    assert k1 != k2
    monkeypatch.chdir(tmp_path)
    c = FeatureCache(None)
    assert c.path_for(k2) is None
    c.put_array(k2, np.ones(3))
    assert c.get_array(k2) is not None and not any(tmp_path.iterdir())
    with pytest.raises(ValueError):
        feature_key("", "x")


def test_sidecar_and_case_folders_are_tiles(tmp_path, refs):
    import cv2

    (tmp_path / "a.jpg").write_bytes(cv2.imencode(".jpg", half(refs["syria"].image))[1].tobytes())
    (tmp_path / "a.bounds.json").write_text(json.dumps(dict(zip(("west", "south", "east", "north"), SYRIA_BOUNDS))))
    (tmp_path / "b.jpg").write_bytes((tmp_path / "a.jpg").read_bytes())  # no bounds: skipped
    case = tmp_path / "case1"
    case.mkdir()
    (case / "reference.jpg").write_bytes((tmp_path / "a.jpg").read_bytes())
    (case / "case.json").write_text(
        json.dumps(
            {
                "reference": "reference.jpg",
                "reference_bounds": dict(zip(("west", "south", "east", "north"), SYRIA_BOUNDS)),
            }
        )
    )
    found, skipped = scan_tiles(tmp_path)
    assert [t.name for t in found] == ["a.jpg", "case1/reference.jpg"] and skipped == ["b.jpg"]
    assert found[0].bounds_lonlat == pytest.approx(SYRIA_BOUNDS)
    ref = found[1].load()
    assert ref.name == "case1/reference.jpg" and ref.content_id
    (tmp_path / "a.bounds.json").write_text('{"west": 5, "south": 1, "east": 4, "north": 2}')
    with pytest.raises(InputError, match="a.bounds.json"):
        scan_tiles(tmp_path)


@pytest.mark.parametrize(
    "setup,match",
    [
        (lambda d: None, "no georeferenced tiles"),
        (lambda d: (d / "plain.jpg").write_bytes(b"\xff\xd8 not really"), "no georeferenced tiles"),
    ],
)
def test_pool_bad_folders(tmp_path, setup, match):
    d = tmp_path / "tiles"
    d.mkdir()
    setup(d)
    with pytest.raises(InputError, match=match):
        TilePool(d)
    with pytest.raises(InputError, match="not a folder"):
        TilePool(tmp_path / "nope")


def _cli(capsys, *args):
    from cupola.cli.main import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_reference_dir(tiles, tmp_path, capsys, refs, photo):
    import cv2

    img, truth = photo
    photo_path = tmp_path / "photo.png"
    cv2.imwrite(str(photo_path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    out, cache = tmp_path / "out", tmp_path / "cache"
    code, _, err = _cli(
        capsys,
        "locate",
        photo_path,
        "--reference-dir",
        tiles[0],
        "--cache",
        cache,
        "--top-k",
        "3",
        "--matcher",
        "sift",
        "--focal-mm",
        "207",
        "--out",
        out,
        "--quiet",
    )
    assert code == 0, err
    d = json.loads((out / "result.json").read_text())
    assert d["matched"] and d["reference"] == "chile.tif" and d["pool"]["matched_tile"] == "chile.tif"
    assert d["pool"]["tiles_total"] == 8 and d["pool"]["ranking"][0]["rank"] == 1
    assert (out / "footprint.geojson").is_file() and (out / "georef.tif").is_file()
    assert any(cache.rglob("*.npz"))
    # no true tile: "not here", exit 3, result.json kept
    out2 = tmp_path / "out2"
    code, _, err = _cli(
        capsys,
        "locate",
        photo_path,
        "--reference-dir",
        tiles[1],
        "--top-k",
        "1",
        "--matcher",
        "sift",
        "--out",
        out2,
        "--quiet",
    )
    assert code == 3 and "not here" in err
    d = json.loads((out2 / "result.json").read_text())
    # --top-k 1, plus the tiles whose votes cannot be told from the leader's (at most 4 more)
    votes = [e["votes"] for e in d["pool"]["ranking"]]
    # (the tiles are smaller than the first pass's 1024 px: none is searched again on folded images)
    tried = d["pool"]["tried"]
    alone = [t for t in tried if "mosaic" not in t]
    assert not d["matched"] and len(alone) == tied_with_leader(votes, 1, 4, 1.0) <= 5
    # then the --top-k best windows of side-by-side tiles as mosaics (the fixture's quadrant pairs),
    # and the best window of one tile's extent across their shared edge
    assert len(tried) == len(alone) + 2 and [len(t["mosaic"]) for t in tried[-2:]] == [2, 2]
    assert " around " in tried[-2]["tile"] and " across the east edge of " in tried[-1]["tile"]
    assert (out2 / "matches.png").is_file()


@pytest.mark.parametrize(
    "args,match",
    [
        (lambda t, e: ["--reference-dir", e], "no georeferenced tiles"),
        (lambda t, e: ["--reference-dir", e / "missing"], "not a folder"),
        (
            lambda t, e: ["--reference-dir", t, "--reference", t / "chile.tif"],
            "either as --reference or as --reference-dir",
        ),
        (lambda t, e: [], "either as --reference or as --reference-dir"),
        (lambda t, e: ["--reference-dir", t, "--top-k", "0"], "--top-k"),
        (lambda t, e: ["--reference-dir", t, "--bounds", "1", "2", "3", "4"], "--bounds"),
    ],
)
def test_cli_reference_dir_bad_input(tiles, tmp_path, capsys, args, match):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "plain.png").write_bytes(b"\x89PNG nothing")
    out = tmp_path / "out"
    code, _, err = _cli(
        capsys, "locate", CHILE / "photo.jpg", *args(tiles[0], empty), "--matcher", "sift", "--out", out
    )
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and match in err
    assert not out.exists()


def test_cli_tle_with_exif_time_drops_tiles_beyond_the_horizon(tiles, tmp_path, capsys, photo):
    """--tle without --time takes the photo's EXIF time: on 2017-05-17 05:44:09 UTC the ISS was over
    Texas, so only the New Mexico tiles are in view; the Chilean photo is not there."""
    from PIL import Image

    img, _ = photo
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2017:05:17 05:44:09"
    path = tmp_path / "photo.jpg"
    Image.fromarray(img).save(path, exif=exif.tobytes())
    tle = SAMPLES.parent / "iss-meteor-2017" / "iss_tle_25544_20170101-20170630.txt"
    out = tmp_path / "out"
    code, _, err = _cli(
        capsys,
        "locate",
        path,
        "--reference-dir",
        tiles[0],
        "--tle",
        tle,
        "--top-k",
        "1",
        "--matcher",
        "sift",
        "--out",
        out,
        "--quiet",
    )
    assert code == 3, err
    d = json.loads((out / "result.json").read_text())
    assert d["pool"]["tiles_beyond_horizon"] == 5 and d["pool"]["tiles_ranked"] == 3
    assert {r["tile"] for r in d["pool"]["ranking"]} == {"new_mexico.tif", "nm_q0.tif", "nm_q1.tif"}
    # a photo without EXIF time cannot stand in for --time
    code, _, err = _cli(
        capsys, "locate", CHILE / "photo.jpg", "--reference-dir", tiles[0], "--tle", tle, "--out", tmp_path / "o2"
    )
    assert code == 2 and "DateTimeOriginal" in err


def test_localizer_keeps_the_photo_features_for_the_same_pixels():
    from cupola.locate.localize import Localizer, LocateOptions

    loc = Localizer(LocateOptions(matcher="sift"))
    photo = np.full((64, 96, 3), 90, np.uint8)
    photo[10:30, 20:50] = 200
    loc._set_photo(photo)
    loc._photo_cache["marker"] = 1
    loc._set_photo(photo.copy())  # the same pixels in another array: kept
    assert loc._photo_cache == {"marker": 1}
    changed = photo.copy()
    changed[0, 0, 0] = 0  # one value differs: recomputed
    loc._set_photo(changed)
    assert loc._photo_cache == {}


def test_index_holds_each_tiles_matching_features_so_a_query_extracts_none(tiles, photo, tmp_path):
    from cupola.locate.localize import Localizer

    img, truth = photo
    opts = LocateOptions(matcher="sift", focal_mm=207.0)
    cache = FeatureCache(tmp_path / "c")
    loc = Localizer(opts, cache=cache)
    pool = TilePool(tiles[0], FAST, cache=cache)
    pool.build_index(localizer=loc)
    assert pool.features_computed == len(pool.tiles) == 8
    assert all(loc.has_reference_features(pool._content[t.path], t.size_px) for t in pool.tiles)
    # a later run over the same cache: the index computes nothing, and neither does the query
    store = FeatureCache(tmp_path / "c")
    again = TilePool(tiles[0], FAST, cache=store)
    res = again.locate(img, opts, localizer=Localizer(opts, cache=store))
    assert again.features_computed == 0 and again.index_computed == 0
    assert res.matched and res.tile.name == "chile.tif"
    assert "reference features" not in res.result.timings_s
    # without a cache folder nothing is prepared (it would be thrown away)
    mem = TilePool(tiles[0], FAST)
    mem.build_index(localizer=Localizer(opts))
    assert mem.features_computed == 0


def test_quick_precheck_verifies_first_the_tile_the_photo_clearly_matches(tiles, photo, tmp_path, monkeypatch):
    """The pool's pre-check: among the top-k tiles, one whose quick stage keeps >= quick_inliers is
    verified before better-ranked tiles; the others keep their rank order."""
    from cupola.locate.localize import Localizer

    img, _ = photo
    opts = LocateOptions(matcher="sift", focal_mm=207.0)
    cache = FeatureCache(tmp_path / "c")
    pool = TilePool(tiles[0], FAST, cache=cache)
    real_rank = pool.rank

    def chile_third(*a, **k):  # the true tile ranked last of the top 3
        r = real_rank(*a, **k)
        i = next(j for j, e in enumerate(r) if e["tile"] == "chile.tif")
        r.insert(2, r.pop(i))
        for k2, e in enumerate(r):
            e["rank"] = k2 + 1
        return r

    monkeypatch.setattr(pool, "rank", chile_third)
    monkeypatch.setattr(Localizer, "quick_inliers_for", lambda self, photo, ref: 50 if ref.name == "chile.tif" else 3)
    res = pool.locate(img, opts, localizer=Localizer(opts, cache=cache))
    assert res.matched and res.tile.name == "chile.tif"
    assert [(t["tile"], t["rank"], t["quick_inliers"]) for t in res.tried] == [("chile.tif", 3, 50)]
    # no tile clears the bar: verified in rank order, the true tile last
    monkeypatch.setattr(Localizer, "quick_inliers_for", lambda self, photo, ref: 3)
    res = pool.locate(img, opts, localizer=Localizer(opts, cache=cache))
    assert [t["rank"] for t in res.tried] == [1, 2, 3] and res.tried[-1]["tile"] == "chile.tif"


def test_tiles_the_votes_cannot_tell_from_the_leader_are_verified_too(tiles, photo, tmp_path, monkeypatch):
    """With votes at chance level (no clear leader) the true tile ranked past top_k is still
    verified; with a clear leader only top_k tiles are, and the extra is bounded by tied_extra."""
    from dataclasses import replace

    from cupola.locate.localize import Localizer

    img, _ = photo
    # no contrast-folded retry after a "not here": only the tiles of the first search are listed
    opts = LocateOptions(matcher="sift", focal_mm=207.0, quick_inliers=None, contrast_retry=False)
    cache = FeatureCache(tmp_path / "c")
    pool = TilePool(tiles[0], replace(FAST, top_k=2, tied_extra=3, mosaic_tiles=()), cache=cache)
    real_rank = pool.rank
    fake_votes: list[int] = []

    def chile_fifth(*a, **k):  # the true tile moved to rank 5, votes as given
        r = real_rank(*a, **k)
        i = next(j for j, e in enumerate(r) if e["tile"] == "chile.tif")
        r.insert(4, r.pop(i))
        for k2, e in enumerate(r):
            e["rank"], e["votes"] = k2 + 1, fake_votes[k2]
        return r

    monkeypatch.setattr(pool, "rank", chile_fifth)
    n = len(pool.tiles)
    assert n >= 6
    fake_votes[:] = [9, 8] + [7] * (n - 2)  # no leader: every tile within one sigma
    res = pool.locate(img, opts, localizer=Localizer(opts, cache=cache))
    assert res.matched and res.tile.name == "chile.tif" and [t["rank"] for t in res.tried] == [1, 2, 3, 4, 5]
    fake_votes[:] = [60, 8] + [7] * (n - 2)  # a clear leader: top_k only, the true tile not reached
    res = pool.locate(img, opts, localizer=Localizer(opts, cache=cache))
    assert not res.matched and [t["rank"] for t in res.tried] == [1, 2]


def test_votes_rank_the_true_tile_first_and_shared_features_vote_for_none(tiles, photo, tmp_path):
    """Each photo feature votes for the tile holding its nearest neighbour when it beats the
    second nearest over the whole pool: the true tile collects the votes; an exact copy of it makes
    every one of its features ambiguous, so neither copy gets more than a few votes."""
    import shutil

    img, _ = photo
    pool = TilePool(tiles[0], FAST)
    pool.build_index()
    ranking = pool.rank(img, pool.tiles, LocateOptions(focal_mm=207.0))
    assert ranking[0]["tile"] == "chile.tif"
    assert ranking[0]["votes"] > 3 * max(r["votes"] for r in ranking[1:])
    twin = tmp_path / "twin"
    shutil.copytree(tiles[0], twin)
    shutil.copy(twin / "chile.tif", twin / "chile_copy.tif")
    pool2 = TilePool(twin, FAST)
    pool2.build_index()
    votes = {r["tile"]: r["votes"] for r in pool2.rank(img, pool2.tiles, LocateOptions(focal_mm=207.0))}
    assert votes["chile.tif"] + votes["chile_copy.tif"] < 0.1 * ranking[0]["votes"]


def test_inverted_file_votes_agree_with_the_exhaustive_search(tiles, photo):
    """Above ``ivf_above`` tile features the votes search only the tile features filed under each
    photo feature's nearest VLAD words: the same tile leads, with most of its exhaustive votes;
    probing every word is the exhaustive search (same votes, tile for tile)."""
    from dataclasses import replace

    img, _ = photo
    exact = TilePool(tiles[0], FAST)
    exact.build_index()
    ref = {r["tile"]: r["votes"] for r in exact.rank(img, exact.tiles, LocateOptions(focal_mm=207.0))}
    ivf = TilePool(tiles[0], replace(FAST, ivf_above=0, ivf_probe=4))
    ivf.build_index()
    ranking = ivf.rank(img, ivf.tiles, LocateOptions(focal_mm=207.0))
    assert ivf._stacked is not None and ivf._stacked[-1] is not None  # the inverted file was used
    assert ranking[0]["tile"] == "chile.tif" and ranking[0]["votes"] >= 0.7 * ref["chile.tif"]
    every = TilePool(tiles[0], replace(FAST, ivf_above=0, ivf_probe=FAST.words, vote_ratio_big=FAST.vote_ratio))
    every.build_index()
    assert {r["tile"]: r["votes"] for r in every.rank(img, every.tiles, LocateOptions(focal_mm=207.0))} == ref


def test_big_pools_vote_with_their_own_ratio(tiles, photo):
    """Above ``ivf_above`` tile features Lowe's test across the pool uses ``vote_ratio_big``: the
    same votes as an exhaustive pool with that ratio (every word probed), and more votes than with
    the small pools' stricter ratio."""
    from dataclasses import replace

    img, _ = photo
    opts = LocateOptions(focal_mm=207.0)
    loose = TilePool(tiles[0], replace(FAST, vote_ratio=0.95))
    loose.build_index()
    ref = {r["tile"]: r["votes"] for r in loose.rank(img, loose.tiles, opts)}
    big = TilePool(tiles[0], replace(FAST, ivf_above=0, ivf_probe=FAST.words, vote_ratio_big=0.95))
    big.build_index()
    assert {r["tile"]: r["votes"] for r in big.rank(img, big.tiles, opts)} == ref
    strict = TilePool(tiles[0], FAST)
    strict.build_index()
    assert sum(r["votes"] for r in strict.rank(img, strict.tiles, opts)) < sum(ref.values())


def test_unknown_ranking_is_an_input_error(tiles):
    from dataclasses import replace

    with pytest.raises(InputError, match="unknown pool ranking"):
        TilePool(tiles[0], replace(FAST, ranking="bogus"))


def test_a_large_photo_is_ranked_from_an_area_averaged_copy(tiles):
    """The ranking's features of a photo several times larger than its ranking size are taken from
    an area-averaged copy: the same image grid and about the same features as the photo given at
    twice that size."""
    import cv2

    pool = TilePool(tiles[0], FAST)
    base = cv2.resize(load_reference(CHILE / "reference.jpg", bounds=CHILE_BOUNDS).image[200:712, 300:812], (512, 512))
    big = cv2.resize(base, (3072, 3072), interpolation=cv2.INTER_CUBIC)
    kp_b, desc_b, shape_b = pool._extract(base, 256)
    kp_g, desc_g, shape_g = pool._extract(big, 256)
    assert shape_g == shape_b == (256, 256)
    assert abs(len(kp_g) - len(kp_b)) <= 0.25 * len(kp_b)
    # most keypoints found again within 1.5 px
    d = np.linalg.norm(kp_b[:, None, :] - kp_g[None, :, :], axis=2).min(axis=1)
    assert np.mean(d < 1.5) > 0.6


def test_tiles_below_the_smallest_image_are_skipped_and_named(tmp_path, refs):
    """A sliver cut from a mosaic's edge (here 40 px high), a GeoTIFF or a plain image with a
    sidecar, is no reference to match: the pool skips it and says so, the other tiles stay."""
    import cv2

    from cupola.locate.reference import MIN_SIDE_PX

    img = half(refs["syria"].image)
    write_geotiff(tmp_path / "a.tif", img, SYRIA_BOUNDS)
    write_geotiff(tmp_path / "sliver.tif", img[: MIN_SIDE_PX - 24], SYRIA_BOUNDS)
    (tmp_path / "b.jpg").write_bytes(cv2.imencode(".jpg", img[:, : MIN_SIDE_PX - 1])[1].tobytes())
    (tmp_path / "b.bounds.json").write_text(json.dumps(dict(zip(("west", "south", "east", "north"), SYRIA_BOUNDS))))
    listing: dict = {}
    found, skipped = scan_tiles(tmp_path, listing)
    assert [t.name for t in found] == ["a.tif"]
    assert skipped == [f"b.jpg ({MIN_SIDE_PX - 1} x {img.shape[0]} px, below {MIN_SIDE_PX} px)",
                       f"sliver.tif ({img.shape[1]} x {MIN_SIDE_PX - 24} px, below {MIN_SIDE_PX} px)"]  # fmt: skip
    again, skipped_again = scan_tiles(tmp_path, listing)  # from the listing, without opening the files
    assert [t.name for t in again] == ["a.tif"] and skipped_again == skipped
    with pytest.raises(InputError, match=f"the reference is {img.shape[1]} x {MIN_SIDE_PX - 24} px"):
        load_reference(tmp_path / "sliver.tif")


def test_the_photos_masks_are_computed_once_for_every_turn(tiles, photo, monkeypatch):
    """An ALIKED pool describes the photo at four right-angle turns: the grey image and the cloud
    and frame masks are computed once for all of them, and each turn equals the photo turned
    first and described alone."""
    import cupola.locate.pool as pool_module

    pool = TilePool(tiles[0], FAST)
    calls = []
    real_cloud_mask = pool_module.cloud_mask
    monkeypatch.setattr(pool_module, "cloud_mask", lambda img: calls.append(img.shape) or real_cloud_mask(img))
    img = photo[0][:, 64:]  # not square, so a quarter turn changes the shape
    turns = [pool._photo_features(img, 256, k) for k in range(4)]
    assert len(calls) == 1
    assert pool._photo_features(img, 256, 2) is turns[2]
    assert turns[1][2] == turns[3][2] == turns[0][2][::-1]
    for k in (1, 2):
        alone = pool._extract(np.ascontiguousarray(np.rot90(img, k)), 256, mask_clouds=True)
        assert alone[2] == turns[k][2]
        assert abs(len(alone[0]) - len(turns[k][0])) <= 0.1 * len(alone[0])
    assert len(calls) == 3
