"""Mosaics of adjacent pool tiles (cupola.locate.mosaic): which tiles form a grid, the windows read,
a mosaic read back from its tiles, and a real photo larger than every tile of a grid pool found on a
mosaic through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cupola.io.geotiff import write_lonlat_geotiff
from cupola.locate.mosaic import Window, grid_neighbours, mosaic_shape, read_mosaic, window_tiles, windows
from cupola.locate.pool import scan_tiles
from cupola.locate.reference import load_reference
from cupola.simulate.locate_cases import grid_tiles, utm_crs

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "samples" / "apl"
SYRIA = SAMPLES / "ISS050-E-70536"
SYRIA_BOUNDS = (38.05664, 36.27978, 38.32031, 36.49203)


def grid_boxes(n: int, size: float = 1.0, x0: float = 0.0, y0: float = 0.0):
    return [
        (x0 + c * size, y0 + r * size, x0 + (c + 1) * size, y0 + (r + 1) * size) for r in range(n) for c in range(n)
    ]


def cut_grid(image: np.ndarray, bounds, n: int, zoom: float = 1.0):
    """``image`` (with lon/lat ``bounds``) cut into ``n x n`` tiles, each resized ``zoom`` times."""
    return [(name, img, box) for name, img, box, _ in grid_tiles(image, bounds, n, zoom)]


def test_only_side_by_side_tiles_of_one_pixel_size_are_neighbours():
    boxes = grid_boxes(2)  # 0 1 / 2 3 (rows from the south)
    sizes = [(100, 100)] * 4
    boxes.append((2.0, 0.0, 3.0, 1.0))  # east of tile 1, at another resolution
    sizes.append((300, 300))
    boxes.append((0.4, 0.3, 1.4, 1.3))  # a crop overlapping tiles 0-3
    sizes.append((100, 100))
    boxes.append((0.0, 0.0, 1.0, 1.0))  # a copy of tile 0 (its box is tile 0's: not beside it)
    sizes.append((100, 100))
    boxes.append((-1.0, 0.0, 0.0, 1.0))  # west of tile 0 and of its copy, size unknown (not read)
    sizes.append(None)
    boxes.append((0.0, 2.03, 1.0, 3.03))  # north of tile 2 with a 3 % gap: still a grid
    sizes.append((100, 100))
    boxes.append((2.0, 1.0, 3.0, 2.0))  # east of tile 3 at a pixel 5 % finer: another product
    sizes.append((105, 105))
    nb = grid_neighbours(boxes, sizes)
    assert nb[9] == set()
    assert nb[0] == {1, 2} and nb[3] == {1, 2} and nb[8] == {2}
    assert nb[4] == set() and nb[5] == set() and nb[7] == set()
    # a copy of a grid tile (another date of the same square) sits beside the same tiles
    assert nb[6] == {1, 2} and nb[1] == {0, 3, 6} and nb[2] == {0, 3, 6, 8}


def test_tiles_that_overlap_like_sentinel2_tiles_are_neighbours_in_their_own_crs():
    """MGRS tiles: 109.8 km wide at a 100 km step (8.9 % overlap) in their UTM zone; more overlap
    is not a grid, and tiles of two zones are never neighbours."""
    step, size = 100e3, 109.8e3
    corners = [(5e5 + c * step, 4e6 + r * step) for r in range(2) for c in range(2)]
    boxes = [(x, y, x + size, y + size) for x, y in corners]
    sizes = [(10980, 10980)] * 4
    assert grid_neighbours(boxes, sizes, crss=["EPSG:32637"] * 4) == [{1, 2}, {0, 3}, {0, 3}, {1, 2}]
    assert grid_neighbours(boxes, sizes, crss=["EPSG:32637", "EPSG:32638", "EPSG:32637", "EPSG:32638"]) == [
        {2},
        {3},
        {0},
        {1},
    ]
    wide = [(w, s, w + 1.15 * step, s + 1.15 * step) for w, s, _, _ in boxes]  # 15 % overlap: not a grid
    assert grid_neighbours(wide, sizes) == [set()] * 4


def test_windows_hold_the_tiles_within_half_a_window_of_their_centre():
    boxes = grid_boxes(5)
    nb = grid_neighbours(boxes, [(64, 64)] * 25)
    by_centre = {w.centre: w for w in windows(boxes, nb, 3)}
    assert len(by_centre[12].members) == 9 and by_centre[12].bounds == (1.0, 1.0, 4.0, 4.0)
    assert len(by_centre[0].members) == 4 and len(by_centre[2].members) == 6
    five = {w.centre: w for w in windows(boxes, nb, 5)}
    assert len(five[12].members) == 25 and len(five[0].members) == 9
    # two windows with the same tiles are given once (a 2 x 2 grid: every 3 x 3 window is all of it)
    two = grid_boxes(2)
    assert len(windows(two, grid_neighbours(two, [(64, 64)] * 4), 3)) == 1
    # a lone tile has no window
    assert windows([(0, 0, 1, 1)], [set()], 3) == []
    with pytest.raises(ValueError, match="odd"):
        windows(boxes, nb, 4)
    assert window_tiles(None, 10e3) == 3 and window_tiles(50e3, 10e3) == 7 and window_tiles(12e3, 10e3) == 5


def test_a_mosaic_read_from_its_tiles_gives_back_the_image_they_were_cut_from(tmp_path, monkeypatch):
    """The Syrian mosaic cut into 3 x 3 tiles (GeoTIFFs, one a plain image with a bounds sidecar),
    read back as one mosaic at its own size and at half of it."""
    import cv2

    ref = load_reference(SYRIA / "reference.jpg", bounds=SYRIA_BOUNDS)
    for name, img, box in cut_grid(ref.image, SYRIA_BOUNDS, 3):
        if name == "r1c1":
            cv2.imwrite(str(tmp_path / f"{name}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            w, s, e, n = box
            (tmp_path / f"{name}.bounds.json").write_text(json.dumps({"west": w, "south": s, "east": e, "north": n}))
        else:
            write_lonlat_geotiff(tmp_path / f"{name}.tif", img, box)
    tiles, _ = scan_tiles(tmp_path)
    assert len(tiles) == 9 and all(t.size_px is not None for t in tiles)
    nb = grid_neighbours([t.bounds_lonlat for t in tiles], [t.size_px for t in tiles])
    centre = next(i for i, t in enumerate(tiles) if t.name == "r1c1.png")
    assert len(nb[centre]) == 4
    win = next(w for w in windows([t.bounds_lonlat for t in tiles], nb, 3) if w.centre == centre)
    assert len(win.members) == 9 and np.allclose(win.bounds, SYRIA_BOUNDS)
    rows, cols = ref.shape
    pixel = ((SYRIA_BOUNDS[2] - SYRIA_BOUNDS[0]) / cols, (SYRIA_BOUNDS[3] - SYRIA_BOUNDS[1]) / rows)
    assert mosaic_shape(win, pixel, 4096) == (rows, cols)
    ids = [f"id{i}" for i in range(9)]
    whole = read_mosaic(tiles, win, (rows, cols), ids)
    assert whole.shape == ref.shape and whole.bounds == win.bounds
    diff = np.abs(whole.image.astype(int) - ref.image.astype(int))
    assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 3
    assert whole.name == "mosaic of 9 tiles around r1c1.png" and len(whole.content_id) == 64
    half = read_mosaic(tiles, win, mosaic_shape(win, pixel, cols // 2), ids)
    expect = cv2.resize(ref.image, (half.shape[1], half.shape[0]), interpolation=cv2.INTER_AREA)
    assert half.shape == (rows // 2, cols // 2) and np.abs(half.image.astype(int) - expect.astype(int)).mean() < 4
    # the content id follows the tiles' contents, and is None when one tile has none (a VRT)
    assert read_mosaic(tiles, win, (rows, cols), ["x"] + ids[1:]).content_id != whole.content_id
    assert read_mosaic(tiles, win, (rows, cols), [None] + ids[1:]).content_id is None
    # with a memo kept across windows, a tile read once at a pixel size is not read again
    import cupola.locate.pool as pool_module

    memo: dict = {}
    loads: list[str] = []
    real = pool_module.Tile.load
    monkeypatch.setattr(pool_module.Tile, "load", lambda self, **kw: loads.append(self.name) or real(self, **kw))
    first = read_mosaic(tiles, win, (rows, cols), ids, memo)
    again = read_mosaic(tiles, win, (rows, cols), ids, memo)
    assert len(loads) == 9 and np.array_equal(first.image, whole.image) and np.array_equal(again.image, whole.image)
    read_mosaic(tiles, win, (rows // 2, cols // 2), ids, memo)  # another pixel size: read again
    assert len(loads) == 18
    # ground no tile covers stays black: a window one tile wider than the grid on the east
    wider = Window(centre, win.members, (*SYRIA_BOUNDS[:2], SYRIA_BOUNDS[2] + pixel[0] * cols / 3, SYRIA_BOUNDS[3]))
    img = read_mosaic(tiles, wider, (rows, cols + cols // 3), ids).image
    assert img[:, -cols // 3 + 2 :].max() == 0 and img[:, : cols - 2].mean() > 20


def test_a_photo_larger_than_every_tile_is_found_on_a_mosaic_through_the_cli(tmp_path, capsys):
    """The real Syrian photo against its mosaic cut into 4 x 4 tiles, each upsampled twice (512 px,
    a quarter of the mosaic's width: smaller than the photo's footprint). Every tile alone is
    rejected; the window of adjacent tiles around the best-voted one is accepted, as a mosaic,
    within 1 km of the labelled centre, and the outputs are georeferenced on it."""
    from cupola.cli.main import main
    from cupola.locate.localize import ground_distance_m
    from cupola.simulate.locate_cases import read_base_case

    folder = tmp_path / "tiles"
    folder.mkdir()
    for name, img, box in cut_grid(
        load_reference(SYRIA / "reference.jpg", bounds=SYRIA_BOUNDS).image, SYRIA_BOUNDS, 4, 2.0
    ):
        write_lonlat_geotiff(folder / f"{name}.tif", img, box)
    out = tmp_path / "out"
    code = main(
        [
            "locate",
            str(SYRIA / "photo.jpg"),
            "--reference-dir",
            str(folder),
            "--top-k",
            "2",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    d = json.loads((out / "result.json").read_text())
    tried = d["pool"]["tried"]
    alone = [t for t in tried if "mosaic" not in t]
    assert len(alone) >= 2 and not any(t["matched"] for t in alone)
    assert tried[-1]["matched"] and len(tried[-1]["mosaic"]) >= 4
    assert d["reference"].startswith("mosaic of") and d["pool"]["matched_tile"] == d["reference"]
    truth = read_base_case(SYRIA).center_lonlat
    assert ground_distance_m(d["center"]["lon_deg"], d["center"]["lat_deg"], *truth) < 1000
    assert (out / "georef.tif").is_file() and (out / "footprint.geojson").is_file()


def test_a_grid_cut_in_utm_is_read_as_one_utm_mosaic(tmp_path):
    """The Syrian mosaic reprojected to its UTM zone and cut into 3 x 3 GeoTIFF tiles that overlap
    by 10 % of a step, as Sentinel-2's do: the pool keeps each tile's own CRS and box, finds the
    grid there, and the window read back is a UTM mosaic whose ground matches the source
    mosaic's."""
    from cupola.io.geotiff import write_north_up_geotiff
    from cupola.locate.mosaic import pixel_step

    ref = load_reference(SYRIA / "reference.jpg", bounds=SYRIA_BOUNDS)
    crs = utm_crs(38.19, 36.39)
    cut = grid_tiles(ref.image, SYRIA_BOUNDS, 3, overlap=0.1, crs=crs)
    for name, img, box, tile_crs in cut:
        assert tile_crs == crs == "EPSG:32637"
        write_north_up_geotiff(tmp_path / f"{name}.tif", img, box, tile_crs)
    tiles, _ = scan_tiles(tmp_path)
    assert len(tiles) == 9 and {t.crs for t in tiles} == {crs}
    boxes = [t.bounds_native for t in tiles]
    sizes = [t.size_px for t in tiles]
    nb = grid_neighbours(boxes, sizes, crss=[t.crs for t in tiles])
    centre = next(i for i, t in enumerate(tiles) if t.name == "r1c1.tif")
    assert len(nb[centre]) == 4
    win = next(w for w in windows(boxes, nb, 3, [t.crs for t in tiles]) if w.centre == centre)
    assert len(win.members) == 9 and win.crs == crs
    shape = mosaic_shape(win, pixel_step(boxes[centre], sizes[centre]), 4096)
    mosaic = read_mosaic(tiles, win, shape, [f"id{i}" for i in range(9)])
    assert mosaic.crs.to_string() == crs and mosaic.bounds is None
    # the same ground in the mosaic and in the source: sample lon/lat points well inside both
    lon = np.linspace(38.09, 38.28, 15)
    lat = np.linspace(36.32, 36.45, 15)
    lon, lat = np.meshgrid(lon, lat)
    c1, r1 = mosaic.lonlat_to_pixel(lon.ravel(), lat.ravel())
    c0, r0 = ref.lonlat_to_pixel(lon.ravel(), lat.ravel())
    a = mosaic.image[np.round(r1).astype(int), np.round(c1).astype(int)].astype(float).mean(axis=1)
    b = ref.image[np.round(r0).astype(int), np.round(c0).astype(int)].astype(float).mean(axis=1)
    assert np.corrcoef(a, b)[0, 1] > 0.9
    west, south, east, north = win.bounds_lonlat()
    assert west < 38.07 and east > 38.30 and south < 36.29 and north > 36.48


def test_a_raster_finer_than_the_mosaic_is_read_smaller_by_averaging(tmp_path):
    """``load_reference(shrink_to=...)``: a projected GeoTIFF read at a quarter of its size holds
    the 4 x 4 block means, on a transform that maps its corners to the same ground; a plain image
    with a sidecar, and a raster already small enough, are read whole."""
    from cupola.io.geotiff import write_north_up_geotiff

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (240, 320, 3)).astype(np.uint8)
    box = (500_000.0, 4_000_000.0, 503_200.0, 4_002_400.0)  # 10 m pixels in UTM 37N
    path = write_north_up_geotiff(tmp_path / "t.tif", img, box, "EPSG:32637")
    full = load_reference(path)
    small = load_reference(path, shrink_to=(80, 60))
    assert small.shape == (60, 80) and small.transform.a == 40.0 and small.transform.e == -40.0
    blocks = img.reshape(60, 4, 80, 4, 3).astype(float).mean(axis=(1, 3))
    assert np.abs(small.image.astype(float) - blocks).max() <= 1.0
    assert np.allclose(small.lonlat_bounds(), full.lonlat_bounds(), atol=1e-9)
    assert load_reference(path, shrink_to=(400, 400)).shape == (240, 320)


def test_windows_centred_where_tiles_meet_hold_a_footprint_that_straddles_them():
    """A 3 x 3 grid: one-tile windows on every shared edge (12) and every inner corner (4); a
    footprint across the corner of tiles 0, 1, 3 and 4 lies whole in the corner window, in no tile
    alone and in a 3 x 3 window only as a ninth of it; overlapping tiles (MGRS) meet in the middle
    of their overlap."""
    from cupola.locate.mosaic import straddle_windows, windows_to_verify

    boxes = grid_boxes(3)
    nb = grid_neighbours(boxes, [(100, 100)] * 9)
    wins = straddle_windows(boxes, nb)
    assert len(wins) == 16 and all(w.bounds[2] - w.bounds[0] == 1.0 for w in wins)
    corner = next(w for w in wins if w.bounds == (0.5, 0.5, 1.5, 1.5))
    assert corner.members == (0, 1, 3, 4) and corner.where == "across the north-east corner of"
    footprint = (0.7, 0.75, 1.3, 1.35)  # 0.6 of a tile wide, across the corner at (1, 1)
    inside = [w for w in wins if w.bounds[0] <= footprint[0] and w.bounds[1] <= footprint[1]]
    inside = [w for w in inside if w.bounds[2] >= footprint[2] and w.bounds[3] >= footprint[3]]
    assert inside == [corner]
    # the votes fall on the four tiles under the footprint: its corner window is verified first
    weight = [(0, 0.0)] * 9
    for j, v in ((0, 5), (1, 6), (3, 4), (4, 7)):
        weight[j] = (v, 0.1)
    assert windows_to_verify(boxes, nb, [1], weight, 1)[0] == corner
    # tiles 109.8 units wide at a 100-unit step: the east window sits in the middle of the overlap
    mgrs = [(c * 100.0, 0.0, c * 100.0 + 109.8, 109.8) for c in range(2)]
    (edge,) = straddle_windows(mgrs, grid_neighbours(mgrs, [(1098, 1098)] * 2))
    assert np.allclose(edge.bounds, (104.9 - 54.9, 0.0, 104.9 + 54.9, 109.8))


def test_a_photo_across_the_corner_of_tiles_larger_than_it_is_found_in_a_pool(tmp_path):
    """The real Crimean photo (with its focal length) against its place re-framed on a canvas six
    times its footprint (at the mosaic's own pixel size, unrelated imagery around it) and cut
    into 2 x 2 tiles, the footprint across their shared corner: no tile alone is accepted (each
    holds a quarter of it), and since the lens's ground fits twice in a tile the one-tile
    windows come first, before any 2 x 2 mosaic (which would leave it a sixth of the mosaic);
    the window on the corner finds it."""
    from dataclasses import replace

    from cupola.io.geotiff import write_north_up_geotiff
    from cupola.locate.localize import LocateOptions, ground_distance_m
    from cupola.locate.pool import PoolOptions, TilePool
    from cupola.simulate.locate_cases import _linear_pixels, read_base_case, reframe_reference

    base = read_base_case(SAMPLES / "ISS062-E-150758")
    filler = read_base_case(SAMPLES / "ISS064-E-46242").reference  # New Mexico, not in the photo
    px = _linear_pixels(base.footprint_lonlat, base.bounds, base.reference.shape)
    side = round(6 * float(max(np.ptp(px[:, 0]), np.ptp(px[:, 1]))))
    canvas, bounds = reframe_reference(base, 1 / 6, (0.5, 0.5), filler, out_px=side)
    for name, img, box, crs in grid_tiles(canvas, bounds, 2):
        write_north_up_geotiff(tmp_path / f"{name}.tif", img, box, crs)
    opts = replace(LocateOptions(), focal_mm=base.focal_mm)
    res = TilePool(tmp_path, PoolOptions(top_k=2)).locate(base.photo, opts)
    assert res.matched, res.result.reason
    assert res.tile.name.startswith("mosaic of 4 tiles across the north-east corner of r")
    alone = [t for t in res.tried if "mosaic" not in t]
    assert len(alone) >= 2 and not any(t["matched"] for t in alone)
    assert all(" across the " in t["tile"] for t in res.tried if "mosaic" in t)
    assert ground_distance_m(*res.result.center_lonlat, *base.center_lonlat) < 1000
