"""Big tiles in a pool, indexed as windows (``PoolOptions.split_levels``): the windows' geometry, a
window read from the file, a footprint a small part of a big tile found in a window (and not without
them), the votes per window with the ratio test passing over the same file's other levels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cupola.errors import InputError
from cupola.io.geotiff import write_lonlat_geotiff, write_north_up_geotiff
from cupola.locate.localize import Localizer, LocateOptions, ground_distance_m
from cupola.locate.pool import PoolOptions, TilePool, in_window, read_tile, split_big_tiles
from cupola.locate.reference import load_reference

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "samples" / "apl"
CHILE = SAMPLES / "ISS064-E-358"
CHILE_BOUNDS = (-71.01562, -20.30615, -68.90626, -18.31547)
NEW_MEXICO = SAMPLES / "ISS064-E-46242"
NEW_MEXICO_BOUNDS = (-105.4248, 34.05273, -105.16113, 34.27089)

FAST = PoolOptions(descriptor="sift", words=16, tile_px=512, top_k=3, vocab_tiles=8, mosaic_tiles=())
CANVAS_PX = 2600
CHILE_AT = (1400, 300)  # col, row of the Chilean mosaic's top-left pixel on the canvas


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A folder with one 2600-px GeoTIFF: the 1024-px Chilean mosaic at its own pixel size, pasted
    on a canvas of unrelated imagery (the New Mexican mosaic, mirrored), and the New Mexican mosaic
    as a second tile; and a photo of a 140-px square of the Chilean mosaic (1/18.6 of the canvas)."""
    import cv2

    chile = load_reference(CHILE / "reference.jpg", bounds=CHILE_BOUNDS)
    nm = load_reference(NEW_MEXICO / "reference.jpg", bounds=NEW_MEXICO_BOUNDS)
    block = np.concatenate([nm.image, nm.image[:, ::-1]], axis=1)
    block = np.concatenate([block, block[::-1]], axis=0)
    canvas = np.tile(block, (2, 2, 1))[:CANVAS_PX, :CANVAS_PX].copy()
    c0, r0 = CHILE_AT
    canvas[r0 : r0 + 1024, c0 : c0 + 1024] = chile.image
    west, south, east, north = CHILE_BOUNDS
    dx, dy = (east - west) / 1024, (north - south) / 1024
    bounds = (west - c0 * dx, north - (CANVAS_PX - r0) * dy, west + (CANVAS_PX - c0) * dx, north + r0 * dy)
    root = tmp_path_factory.mktemp("split")
    folder = root / "tiles"
    folder.mkdir()
    write_lonlat_geotiff(folder / "canvas.tif", canvas, bounds)
    write_lonlat_geotiff(folder / "new_mexico.tif", nm.image, NEW_MEXICO_BOUNDS)
    # the photo: a 140-px square about (600, 430) of the mosaic, turned a right angle, at 512 px
    photo = cv2.resize(np.rot90(chile.image[360:500, 530:670]), (512, 512), interpolation=cv2.INTER_CUBIC)
    centre = tuple(float(v) for v in chile.pixel_to_lonlat(599.5, 429.5))
    return folder, canvas, bounds, photo, centre


def test_a_big_tile_is_split_into_overlapping_windows(big):
    """2600 px, split above 2048 with windows at least 1024 long: the whole (level 0, read 2048
    long) and 3 x 3 windows of 1300 px overlapping by half; each window's box is the file's own
    georeferencing of those pixels; the small tile is taken as it is."""
    import rasterio
    from rasterio.windows import Window, bounds

    folder, *_ = big
    tiles = [read_tile(folder / "canvas.tif"), read_tile(folder / "new_mexico.tif")]
    out = split_big_tiles(tiles, levels=2, above_px=2048, min_px=1024)
    assert len(out) == 1 + 9 + 1
    whole, windows, small = out[0], out[1:10], out[10]
    assert whole.level == 0 and whole.window is None and whole.read_shape() == (2048, 2048)
    assert small.level is None and small.read_shape() == (1024, 1024)
    assert [w.window for w in windows[:3]] == [(0, 0, 1300, 1300), (650, 0, 1950, 1300), (1300, 0, 2600, 1300)]
    assert windows[4].name == "canvas.tif, window r1c1 of 3 x 3"
    with rasterio.open(folder / "canvas.tif") as ds:
        for w in windows:
            c0, r0, c1, r1 = w.window
            assert w.bounds_lonlat == pytest.approx(bounds(Window(c0, r0, c1 - c0, r1 - r0), ds.transform))
            assert w.size_px == (1300, 1300) and w.read_shape() == (1300, 1300)
    # a level below min_px is not made; no split at all at 0 levels or below the size
    assert len(split_big_tiles(tiles, 3, 2048, 1024)) == 11
    assert len(split_big_tiles(tiles, 0, 2048, 1024)) == 2
    assert len(split_big_tiles(tiles, 2, 4096, 1024)) == 2
    assert len(split_big_tiles(tiles, 2, 2048, 600)) == 1 + 9 + 49 + 1


def test_windows_of_a_utm_tile_keep_their_box_in_metres(tmp_path):
    img = np.zeros((2200, 2200), np.uint8)
    img[::7] = 200
    west, north = 500000.0, 4000000.0
    write_north_up_geotiff(tmp_path / "utm.tif", img, (west, north - 22000, west + 22000, north), "EPSG:32637")
    out = split_big_tiles([read_tile(tmp_path / "utm.tif")], levels=2, above_px=2048, min_px=1024)
    w = out[1 + 4]  # the centre window
    assert w.crs == "EPSG:32637" and w.window == (550, 550, 1650, 1650)
    assert w.bounds_native == pytest.approx((west + 5500, north - 16500, west + 16500, north - 5500))


def test_a_window_is_read_from_the_file_with_its_own_georeferencing(big, tmp_path):
    folder, canvas, bounds, *_ = big
    whole = load_reference(folder / "canvas.tif")
    win = load_reference(folder / "canvas.tif", window=(650, 1300, 1950, 2600))
    assert np.array_equal(win.image, canvas[1300:2600, 650:1950])
    lon, lat = win.pixel_to_lonlat(0, 0)
    assert (float(lon), float(lat)) == pytest.approx(tuple(float(v) for v in whole.pixel_to_lonlat(650, 1300)))
    assert win.content_id not in (None, whole.content_id)
    assert load_reference(folder / "canvas.tif", window=(650, 1300, 1950, 2600)).content_id == win.content_id
    small = load_reference(folder / "canvas.tif", window=(650, 1300, 1950, 2600), shrink_to=(650, 650))
    assert small.shape == (650, 650)
    assert small.lonlat_bounds() == pytest.approx(win.lonlat_bounds())
    # a plain image with bounds: the window cut from it, bounds in proportion
    import cv2

    cv2.imwrite(str(tmp_path / "plain.png"), canvas[:, :, ::-1])
    plain = load_reference(tmp_path / "plain.png", bounds=bounds, window=(650, 1300, 1950, 2600))
    assert np.array_equal(plain.image, canvas[1300:2600, 650:1950])
    assert plain.lonlat_bounds() == pytest.approx(win.lonlat_bounds())
    with pytest.raises(InputError, match="does not lie within the image"):
        load_reference(folder / "canvas.tif", window=(2000, 0, 2700, 500))


def test_a_small_footprint_in_a_big_tile_is_found_in_a_window(big, tmp_path):
    """The photo covers 1/18.6 of the canvas: read whole at 1024 px its ground is 55 px, and the
    pool without windows answers "not here"; with them a window that holds it (twice as fine) is
    voted first and the photo is placed within 2 km of the truth."""
    from cupola.locate.cache import FeatureCache

    folder, _, _, photo, centre = big
    loc = Localizer(LocateOptions(matcher="sift"))
    pool = TilePool(folder, FAST, cache=FeatureCache(tmp_path / "cache"))
    res = pool.locate(photo, LocateOptions(matcher="sift"), localizer=loc)
    assert res.matched, res.result.reason
    assert "window" in res.tile.name and res.ranking[0]["tile"] == res.tile.name
    # the answer counts tile files and windows apart: 2 files, 3 x 3 and 7 x 7 windows of the big one
    assert (res.to_dict()["tiles_total"], res.to_dict()["windows_total"]) == (2, 9 + 49)
    assert ground_distance_m(*res.result.center_lonlat, *centre) < 2000
    # the window's votes are those that land in it: its level's votes, counted by position
    top = res.ranking[0]
    assert top["votes"] > 10
    flat = TilePool(folder, replace(FAST, split_levels=0), cache=FeatureCache(tmp_path / "cache"))
    res0 = flat.locate(photo, LocateOptions(matcher="sift"), localizer=loc)
    assert not res0.matched and "not here" in res0.result.reason


def test_the_same_file_at_another_level_is_not_the_second_neighbour(big, monkeypatch):
    """A split file holds the same ground at two or three scales, and RootSIFT finds the same
    blobs at each: the plain two-nearest ratio test cancels some of the photo's votes for its
    window with the same feature at the other level. Looking past those only adds votes (the
    nearest neighbour is the same, the second is no nearer)."""
    folder, _, _, photo, _ = big
    opts = LocateOptions(matcher="sift")
    pool = TilePool(folder, FAST)
    pool.build_index()
    votes = {r["tile"]: r["votes"] for r in pool.rank(photo, pool.tiles, opts)}
    best = max(votes, key=votes.get)
    assert "window" in best
    monkeypatch.setattr(TilePool, "SECOND_SEARCH", 2)
    plain = TilePool(folder, FAST)
    plain.build_index()
    plain_votes = {r["tile"]: r["votes"] for r in plain.rank(photo, plain.tiles, opts)}
    assert plain_votes[best] < votes[best]
    assert all(plain_votes[t] <= votes[t] for t in votes)


def test_inverted_file_votes_of_split_tiles_agree_with_the_exhaustive_search(big):
    folder, _, _, photo, _ = big
    opts = LocateOptions(matcher="sift")
    exact = TilePool(folder, FAST)
    exact.build_index()
    ref = {r["tile"]: r["votes"] for r in exact.rank(photo, exact.tiles, opts)}
    every = TilePool(folder, replace(FAST, ivf_above=0, ivf_probe=FAST.words, vote_ratio_big=FAST.vote_ratio))
    every.build_index()
    assert {r["tile"]: r["votes"] for r in every.rank(photo, every.tiles, opts)} == ref
    assert every._stacked is not None and every._stacked[-1] is not None  # the inverted file was used


def test_in_window_takes_pixel_centres_inside_the_edges():
    xy = np.array([[-0.5, 0.0], [-0.6, 0.0], [9.4, 9.4], [9.5, 0.0], [3.0, 10.0]], np.float32)
    assert in_window(xy, (0, 0, 10, 10)).tolist() == [True, False, True, False, False]


def test_verification_passes_over_windows_that_half_overlap_one_already_taken():
    """Four overlapping windows of one place lead the votes: the verifications go to one of them,
    its diagonal neighbour (a quarter shared) and the next place, the others after; a coarser
    window holding a taken one, and tiles taken whole, are never passed over."""
    from cupola.locate.pool import Tile, distinct_windows

    def win(name, level, box, path="a.tif"):
        return {"tile": name, "_tile": Tile(Path(path), name, (0, 0, 1, 1), level=level, window=box)}

    ranking = [
        win("r0c1", 2, (250, 0, 750, 500)),
        win("r1c1", 2, (250, 250, 750, 750)),  # half of it under r0c1
        win("r1c0", 2, (0, 250, 500, 750)),  # a quarter under r0c1
        win("r0c0", 2, (0, 0, 500, 500)),  # half under r0c1
        win("other place", 2, (0, 0, 500, 500), path="b.tif"),
        win("level 1 holding r0c1", 1, (0, 0, 1000, 1000)),
        {"tile": "whole", "_tile": Tile(Path("c.tif"), "whole", (0, 0, 1, 1))},
    ]
    names = [e["tile"] for e in distinct_windows(ranking, 4)]
    assert names == ["r0c1", "r1c0", "other place", "level 1 holding r0c1"]
    assert [e["tile"] for e in distinct_windows(ranking, 7)] == [
        "r0c1",
        "r1c0",
        "other place",
        "level 1 holding r0c1",
        "whole",
        "r1c1",
        "r0c0",
    ]
    plain = [{"tile": str(i), "_tile": Tile(Path(f"{i}.tif"), str(i), (0, 0, 1, 1))} for i in range(5)]
    assert distinct_windows(plain, 3) == plain[:3]


def test_a_vrt_keeps_no_cache_id_even_when_the_caller_knows_its_hash(big, tmp_path):
    """A VRT's pixels live in other files: an id from its own bytes (as the pool's manifest has)
    would let a cache serve features of files that changed since, so it is not taken."""
    import rasterio.shutil

    folder, *_ = big
    rasterio.shutil.copy(folder / "canvas.tif", tmp_path / "canvas.vrt", driver="VRT")
    assert load_reference(tmp_path / "canvas.vrt", content_id="abc", window=(0, 0, 700, 700)).content_id is None
    assert load_reference(folder / "canvas.tif", content_id="abc").content_id == "abc"
