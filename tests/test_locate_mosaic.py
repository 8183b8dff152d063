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

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "samples" / "apl"
SYRIA = SAMPLES / "ISS050-E-70536"
SYRIA_BOUNDS = (38.05664, 36.27978, 38.32031, 36.49203)


def grid_boxes(n: int, size: float = 1.0, x0: float = 0.0, y0: float = 0.0):
    return [
        (x0 + c * size, y0 + r * size, x0 + (c + 1) * size, y0 + (r + 1) * size) for r in range(n) for c in range(n)
    ]


def cut_grid(image: np.ndarray, bounds, n: int, zoom: float = 1.0):
    """``image`` (with lon/lat ``bounds``) cut into ``n x n`` tiles, each resized ``zoom`` times."""
    import cv2

    h, w = image.shape[:2]
    west, south, east, north = bounds
    out = []
    for r in range(n):
        for c in range(n):
            r0, r1, c0, c1 = round(r * h / n), round((r + 1) * h / n), round(c * w / n), round((c + 1) * w / n)
            tile = image[r0:r1, c0:c1]
            if zoom != 1.0:
                tile = cv2.resize(
                    tile, (round((c1 - c0) * zoom), round((r1 - r0) * zoom)), interpolation=cv2.INTER_CUBIC
                )
            box = (
                west + c0 / w * (east - west),
                north - r1 / h * (north - south),
                west + c1 / w * (east - west),
                north - r0 / h * (north - south),
            )
            out.append((f"r{r}c{c}", np.ascontiguousarray(tile), box))
    return out


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


def test_windows_hold_the_tiles_within_half_a_window_of_their_centre():
    boxes = grid_boxes(5)
    nb = grid_neighbours(boxes, [(64, 64)] * 25)
    by_centre = {w.centre: w for w in windows(boxes, nb, 3)}
    assert len(by_centre[12].members) == 9 and by_centre[12].bounds_lonlat == (1.0, 1.0, 4.0, 4.0)
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
    assert len(win.members) == 9 and np.allclose(win.bounds_lonlat, SYRIA_BOUNDS)
    rows, cols = ref.shape
    pixel = ((SYRIA_BOUNDS[2] - SYRIA_BOUNDS[0]) / cols, (SYRIA_BOUNDS[3] - SYRIA_BOUNDS[1]) / rows)
    assert mosaic_shape(win, pixel, 4096) == (rows, cols)
    ids = [f"id{i}" for i in range(9)]
    whole = read_mosaic(tiles, win, (rows, cols), ids)
    assert whole.shape == ref.shape and whole.bounds == win.bounds_lonlat
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
    monkeypatch.setattr(pool_module.Tile, "load", lambda self: loads.append(self.name) or real(self))
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
