"""Tests of cupola.io.geotiff.write_georeferenced_cog with a synthetic photo and affine mapping."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp

from cupola.errors import InputError
from cupola.io.geotiff import write_georeferenced_cog

# the synthetic "photo": pixel (col, row) centre sees lon = LON0 + col*STEP, lat = LAT0 - row*STEP
LON0, LAT0, STEP = -101.0, 30.0, 0.01
H, W = 300, 500


def _photo(dtype=np.uint8, bands=3):
    rows, cols = np.mgrid[0:H, 0:W]
    chans = [cols % 251, rows % 241, (cols + 2 * rows) % 239][:bands]
    img = np.stack(chans, axis=-1).astype(dtype)
    return img[..., 0] if bands == 1 else img


def _to_colrow(lon, lat):
    return (np.asarray(lon) - LON0) / STEP, (LAT0 - np.asarray(lat)) / STEP


# output grid: larger than the photo on all sides, 0.005 deg -> 1200 x 800 (overviews need > 512)
BOUNDS = (-101.5, 26.0, -95.5, 30.0 + 0.5)
RES = 0.005


def _grid_colrow(ds, lon, lat):
    row, col = ds.index(lon, lat)
    return col, row


@pytest.fixture(scope="module")
def rgb_cog(tmp_path_factory):
    out = tmp_path_factory.mktemp("cog") / "georef.tif"
    calls = []
    info = write_georeferenced_cog(
        out, _photo(), _to_colrow, BOUNDS, RES, block_rows=200, progress=lambda d, t: calls.append((d, t))
    )
    return out, info, calls


def test_cog_georeferencing(rgb_cog):
    out, info, calls = rgb_cog
    assert info["width"] == 1200 and info["height"] == 900
    assert info["resolution_deg"] == RES
    assert info["transform"] == (RES, 0.0, -101.5, 0.0, -RES, 30.5)
    assert info["bounds_lonlat"] == pytest.approx(BOUNDS)
    covered = (W * STEP) * (H * STEP) / ((BOUNDS[2] - BOUNDS[0]) * (BOUNDS[3] - BOUNDS[1]))
    assert info["valid_fraction"] == pytest.approx(covered, rel=0.01)
    assert calls[-1] == (900, 900) and len(calls) == 5
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 4326
        assert tuple(ds.transform)[:6] == pytest.approx(info["transform"])
        assert (ds.width, ds.height, ds.count) == (1200, 900, 4)
        assert ds.dtypes == ("uint8",) * 4
        assert ds.colorinterp == (ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha)


def test_cog_values_match_photo(rgb_cog):
    out, _, _ = rgb_cog
    img = _photo()
    with rasterio.open(out) as ds:
        data = ds.read()
        # grid cells whose centres fall exactly on photo pixel centres: 0.01 deg = 2 cells;
        # cell (i, j) centre lon = -101.5 + (i + 0.5) * 0.005 -> never exactly on a pixel centre,
        # so compare against bilinear interpolation of the photo at the mapped position.
        for lon, lat in [(-100.2, 29.1), (-97.3, 27.6), (-98.77, 28.33), (-96.06, 27.05)]:
            col, row = _grid_colrow(ds, lon, lat)
            clon, clat = ds.xy(row, col)  # cell centre
            pc, pr = _to_colrow(clon, clat)
            c0, r0 = int(np.floor(pc)), int(np.floor(pr))
            fc, fr = pc - c0, pr - r0
            ref = (
                img[r0, c0] * (1 - fc) * (1 - fr)
                + img[r0, c0 + 1] * fc * (1 - fr)
                + img[r0 + 1, c0] * (1 - fc) * fr
                + img[r0 + 1, c0 + 1] * fc * fr
            )
            np.testing.assert_allclose(data[:3, row, col], ref, atol=0.51)
            assert data[3, row, col] == 255


def test_cog_exact_on_pixel_centres(tmp_path):
    """A grid aligned with the photo's pixel centres reproduces the photo exactly."""
    out = tmp_path / "aligned.tif"
    img = _photo()
    bounds = (LON0 - STEP / 2, LAT0 - (H - 0.5) * STEP, LON0 + (W - 0.5) * STEP, LAT0 + STEP / 2)
    info = write_georeferenced_cog(out, img, _to_colrow, bounds, STEP)
    assert (info["width"], info["height"]) == (W, H)
    with rasterio.open(out) as ds:
        data = ds.read()
    np.testing.assert_array_equal(np.moveaxis(data[:3], 0, -1), img)
    assert (data[3] == 255).all()
    assert info["valid_fraction"] == 1.0


def test_cog_nodata_outside_photo(rgb_cog):
    out, _, _ = rgb_cog
    with rasterio.open(out) as ds:
        data = ds.read()
        # west of the photo, south of it, and a corner
        for lon, lat in [(-101.3, 29.0), (-98.0, 26.5), (-95.6, 26.1)]:
            col, row = _grid_colrow(ds, lon, lat)
            assert data[3, row, col] == 0
            assert (data[:3, row, col] == 0).all()
        mask = ds.dataset_mask()
        assert (mask[data[3] == 0] == 0).all() and (mask[data[3] == 255] == 255).all()
        # the covered area is a rectangle of about W/2*... cells: 500*0.01/0.005 x 300*0.01/0.005
        assert abs(int((data[3] == 255).sum()) - 1000 * 600) <= 2 * (1000 + 600)


def test_cog_is_cloud_optimized(rgb_cog):
    out, _, _ = rgb_cog
    with rasterio.open(out) as ds:
        assert ds.driver == "GTiff"
        assert ds.overviews(1), "a COG of this size has internal overviews"
        assert ds.block_shapes[0] == (512, 512)
        assert ds.profile["tiled"]
        structure = ds.tags(ns="IMAGE_STRUCTURE")
        assert structure.get("LAYOUT") == "COG"
        assert structure.get("COMPRESSION") == "DEFLATE"
    assert [p.name for p in out.parent.iterdir()] == ["georef.tif"]  # no scratch files left


def test_float_image_nan_nodata(tmp_path):
    out = tmp_path / "f.tif"
    img = _photo(np.float64, bands=1) / 10.0
    write_georeferenced_cog(out, img, _to_colrow, BOUNDS, 0.01)
    with rasterio.open(out) as ds:
        assert ds.count == 1 and ds.dtypes[0] == "float32"
        assert np.isnan(ds.nodata)
        data = ds.read(1)
        col, row = _grid_colrow(ds, -101.3, 29.0)
        assert np.isnan(data[row, col])
        col, row = _grid_colrow(ds, -99.0, 28.5)
        assert np.isfinite(data[row, col])


def test_uint16_gray_gets_alpha(tmp_path):
    out = tmp_path / "u16.tif"
    img = (_photo(np.uint16, bands=1) * 200).astype(np.uint16)
    write_georeferenced_cog(out, img, _to_colrow, BOUNDS, 0.01)
    with rasterio.open(out) as ds:
        assert ds.count == 2 and ds.dtypes == ("uint16", "uint16")
        assert ds.colorinterp[1] == ColorInterp.alpha
        alpha = ds.read(2)
        assert set(np.unique(alpha)) == {0, 65535}


def test_antimeridian_bounds_used_as_given(tmp_path):
    out = tmp_path / "am.tif"
    seen = []

    def mapping(lon, lat):
        seen.append(lon.max())
        return (lon - 178.0) / 0.01, (-10.0 - lat) / 0.01  # photo spans 178..183 E (unwrapped)

    img = _photo()
    write_georeferenced_cog(out, img, mapping, (177.0, -14.0, 184.0, -9.0), 0.01)
    assert max(seen) > 180.0
    with rasterio.open(out) as ds:
        assert ds.transform.c == pytest.approx(177.0)
        assert ds.bounds.right == pytest.approx(184.0)
        col, row = _grid_colrow(ds, 182.0, -11.0)
        assert ds.read(4)[row, col] == 255


def test_pixel_cap_coarsens_with_warning(tmp_path):
    out = tmp_path / "cap.tif"
    with pytest.warns(UserWarning, match="coarsened"):
        info = write_georeferenced_cog(out, _photo(), _to_colrow, BOUNDS, 0.001, max_pixels=200_000)
    assert info["width"] * info["height"] <= 200_000
    assert info["resolution_deg"] > 0.001
    with rasterio.open(out) as ds:
        assert ds.width == info["width"] and ds.transform.a == pytest.approx(info["resolution_deg"])


def test_failing_mapping_leaves_no_file(tmp_path):
    out = tmp_path / "bad.tif"

    def mapping(lon, lat):
        raise RuntimeError("mapping failed")

    with pytest.raises(RuntimeError):
        write_georeferenced_cog(out, _photo(), mapping, BOUNDS, 0.01)
    assert list(tmp_path.iterdir()) == []


def test_nan_mapping_gives_empty_raster(tmp_path):
    out = tmp_path / "nan.tif"
    info = write_georeferenced_cog(
        out, _photo(), lambda lon, lat: (np.full_like(lon, np.nan), np.full_like(lat, np.nan)), BOUNDS, 0.02
    )
    assert info["valid_fraction"] == 0.0
    with rasterio.open(out) as ds:
        assert (ds.read(4) == 0).all()


@pytest.mark.parametrize(
    "image, bounds, res",
    [
        (np.zeros((10, 10), np.int32), BOUNDS, 0.01),
        (np.zeros((10,), np.uint8), BOUNDS, 0.01),
        (np.zeros((10, 10), np.uint8), (-95.0, 26.0, -100.0, 30.0), 0.01),
        (np.zeros((10, 10), np.uint8), (-100.0, 26.0, -95.0, 95.0), 0.01),
        (np.zeros((10, 10), np.uint8), BOUNDS, -0.01),
    ],
)
def test_bad_input(tmp_path, image, bounds, res):
    with pytest.raises(InputError):
        write_georeferenced_cog(tmp_path / "x.tif", image, _to_colrow, bounds, res)
    assert list(tmp_path.iterdir()) == []
