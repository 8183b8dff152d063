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


# --- the OpenCV resampler and the smooth-mapping lattice against independent references -------

GRID = (-101.2, 27.0, -96.0, 30.3)  # a grid around a tilted, perspective view of the photo


def _homography_mapping(seed: int, h_img: int = H, w_img: int = W):
    """A random homography photo -> ground (a perspective, tilted, rotated view), inverted: the
    mapping lon/lat -> col/row, as ``cupola locate`` builds it."""
    rng = np.random.default_rng(seed)
    corners = np.array([[-0.5, -0.5], [w_img - 0.5, -0.5], [w_img - 0.5, h_img - 0.5], [-0.5, h_img - 0.5]])
    ground = np.array([[-100.5, 29.9], [-96.8, 29.6], [-97.1, 27.3], [-100.2, 27.8]]) + rng.uniform(-0.2, 0.2, (4, 2))
    # DLT: h maps photo (col, row, 1) to ground; its inverse is the mapping
    rows = []
    for (x, y), (u, v) in zip(corners, ground, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    h = np.linalg.svd(np.array(rows))[2][-1].reshape(3, 3)
    h_inv = np.linalg.inv(h)

    def mapping(lon, lat):
        p = h_inv @ np.vstack([np.ravel(lon), np.ravel(lat), np.ones(np.size(lon))])
        return p[0] / p[2], p[1] / p[2]

    return mapping


def _cell_centres(ds):
    rows, cols = np.mgrid[0 : ds.height, 0 : ds.width]
    lon = ds.transform.c + (cols + 0.5) * ds.transform.a
    lat = ds.transform.f + (rows + 0.5) * ds.transform.e
    return lon, lat


def _reference_samples(img: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Bilinear between pixel centres, the edge value repeated: SciPy's order-1 spline, mode 'nearest'."""
    from scipy.ndimage import map_coordinates

    bands = img[..., None] if img.ndim == 2 else img
    return np.stack(
        [
            map_coordinates(bands[..., k].astype(float), [row, col], order=1, mode="nearest")
            for k in range(bands.shape[2])
        ]
    )


def _remap_position_quantum_px() -> float:
    """0 when the installed OpenCV interpolates at the float positions (5.x), 1/32 when it rounds
    them to its INTER_BITS grid (4.x): the bound on the OpenCV/NumPy difference scales with it."""
    import cv2

    ramp = np.array([[0.0, 1.0]], np.float32)
    got = cv2.remap(ramp, np.array([[0.01]], np.float32), np.array([[0.0]], np.float32), cv2.INTER_LINEAR)
    return 0.0 if abs(float(got[0, 0]) - 0.01) < 1e-4 else 1.0 / 32.0


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_opencv_resampler_matches_reference_bilinear(tmp_path, seed, dtype):
    """Random noise image (every indexing slip shows), random homography: alpha from the inside
    test, values the independent bilinear reference to within rounding (plus OpenCV 4's 1/32-px
    position rounding times the image's largest step where that OpenCV is installed)."""
    rng = np.random.default_rng(seed)
    full = np.iinfo(dtype).max
    img = rng.integers(0, full + 1, (H, W, 3), dtype=dtype)
    mapping = _homography_mapping(seed)
    out_cv, out_np = tmp_path / "cv.tif", tmp_path / "np.tif"
    write_georeferenced_cog(out_cv, img, mapping, GRID, 0.005)
    write_georeferenced_cog(out_np, img, mapping, GRID, 0.005, resampler="numpy")
    with rasterio.open(out_cv) as a, rasterio.open(out_np) as b:
        cv_data, np_data = a.read(), b.read()
        lon, lat = _cell_centres(a)
    col, row = (v.reshape(lon.shape) for v in mapping(lon.ravel(), lat.ravel()))
    inside = (col >= -0.5) & (col <= W - 0.5) & (row >= -0.5) & (row <= H - 0.5)
    assert 0.3 < inside.mean() < 0.9
    np.testing.assert_array_equal(cv_data[3], np.where(inside, full, 0))
    np.testing.assert_array_equal(np_data[3], cv_data[3])
    assert (cv_data[:3, ~inside] == 0).all()
    ref = _reference_samples(img, col[inside], row[inside])
    step = 2.0 * full * _remap_position_quantum_px()
    assert np.abs(np_data[:3, inside] - ref).max() <= 0.5 + 1e-6 * full
    assert np.abs(cv_data[:3, inside] - ref).max() <= 0.5 + 1e-4 * full + step


def test_opencv_resampler_float_with_nan(tmp_path):
    """Float image with a NaN hole: NaN outside and where a NaN pixel is among the four
    neighbours, the same as the NumPy reference; finite values equal to float32 precision."""
    rng = np.random.default_rng(3)
    img = rng.random((H, W)).astype(np.float64)
    img[100:140, 200:260] = np.nan
    mapping = _homography_mapping(3)
    out_cv, out_np = tmp_path / "cv.tif", tmp_path / "np.tif"
    write_georeferenced_cog(out_cv, img, mapping, GRID, 0.005)
    write_georeferenced_cog(out_np, img, mapping, GRID, 0.005, resampler="numpy")
    with rasterio.open(out_cv) as a, rasterio.open(out_np) as b:
        cv_data, np_data = a.read(1), b.read(1)
    nan_cv, nan_np = np.isnan(cv_data), np.isnan(np_data)
    quantum = _remap_position_quantum_px()
    # with exact positions the NaN patterns agree; with OpenCV 4's rounding a cell within 1/64 px
    # of a pixel line may switch neighbours
    assert (nan_cv != nan_np).mean() <= (0.0 if quantum == 0 else 0.01)
    with rasterio.open(out_cv) as ds:
        lon, lat = _cell_centres(ds)
    col, row = (v.reshape(lon.shape) for v in mapping(lon.ravel(), lat.ravel()))
    inside = (col >= -0.5) & (col <= W - 0.5) & (row >= -0.5) & (row <= H - 0.5)
    assert nan_cv[~inside].all()
    assert nan_cv[inside].sum() > 500  # the hole shows, inside the photo
    both = ~nan_cv & ~nan_np
    # float32 maps: positions to ~3e-5 px at col 500, times steps of up to 1 in this image
    assert np.abs(cv_data[both] - np_data[both]).max() <= 1e-4 + 2.0 * quantum


def _counting(mapping):
    calls = []

    def f(lon, lat):
        calls.append(np.size(lon))
        return mapping(lon, lat)

    return f, calls


def test_smooth_mapping_same_raster_fewer_evaluations(tmp_path):
    """A homography declared smooth: identical alpha (the inside test stays exact), values within
    the 0.05-px position tolerance times the largest step of a smooth image, and far fewer points
    mapped than grid cells."""
    rows, cols = np.mgrid[0:H, 0:W]
    img = (127.5 + 120 * np.sin(cols / 9.0) * np.cos(rows / 7.0)).astype(np.uint8)  # steps <= ~14 DN/px
    mapping = _homography_mapping(4)
    every, n_every = _counting(mapping)
    lattice, n_lattice = _counting(mapping)
    write_georeferenced_cog(tmp_path / "a.tif", img, every, GRID, 0.004)
    info = write_georeferenced_cog(tmp_path / "b.tif", img, lattice, GRID, 0.004, mapping_is_smooth=True)
    cells = info["width"] * info["height"]
    assert sum(n_every) == cells
    assert sum(n_lattice) < 0.1 * cells
    with rasterio.open(tmp_path / "a.tif") as a, rasterio.open(tmp_path / "b.tif") as b:
        da, db = a.read().astype(int), b.read().astype(int)
    np.testing.assert_array_equal(da[1], db[1])
    assert np.abs(da[0] - db[0]).max() <= 1 + 2 * 0.05 * 14


def _exact_block(mapping, nr, width, corner_res):
    lon0, lat0, res = corner_res
    rr, cc = np.mgrid[0:nr, 0:width]
    return mapping(lon0 + (cc.ravel() + 0.5) * res, lat0 - (rr.ravel() + 0.5) * res)


def test_lattice_positions_with_nan_region_and_kink():
    """The lattice's positions against the exact mapping: within the tolerance (twice it, the
    midpoint check's worst case) everywhere, NaN exactly where the mapping is NaN (an unseen
    region, a horizon), and a kink (not smooth) caught: the cells around it evaluated exactly."""
    from cupola.io.geotiff import LATTICE_TOLERANCE_PX, _lattice_colrow

    nr, width, corner_res = 300, 420, (-101.2, 30.3, 0.004)
    base = _homography_mapping(5)

    def with_hole_and_horizon(lon, lat):
        c, r = base(lon, lat)
        unseen = ((lon + 99.0) ** 2 + (lat - 29.6) ** 2 < 0.1**2) | (lat > 30.0 - 0.3 * (lon + 101.2))
        return np.where(unseen, np.nan, c), np.where(unseen, np.nan, r)

    def kinked(lon, lat):
        c, r = base(lon, lat)
        return c + 40.0 * np.abs(lon + 100.0088), r

    limits = (-0.5, W - 0.5, -0.5, H - 0.5)
    for mapping, expect_nan in ((with_hole_and_horizon, True), (kinked, False), (base, False)):
        f, calls = _counting(mapping)
        col, row = _lattice_colrow(f, corner_res, nr, width, limits)
        ce, re_ = _exact_block(mapping, nr, width, corner_res)
        assert np.array_equal(np.isnan(col), np.isnan(ce)) and np.array_equal(np.isnan(row), np.isnan(re_))
        assert np.isnan(ce).any() == expect_nan
        fin = np.isfinite(ce)
        assert np.abs(col[fin] - ce[fin]).max() <= 2 * LATTICE_TOLERANCE_PX
        assert np.abs(row[fin] - re_[fin]).max() <= 2 * LATTICE_TOLERANCE_PX
        if mapping is base:
            assert sum(calls) < 0.1 * nr * width
        if mapping is kinked:  # the column of lattice cells holding the kink was mapped exactly
            assert sum(calls) > 16 * nr


def test_lattice_exact_at_photo_edge():
    """A cell whose interpolated position is near the inside-test edge gets the exact position,
    so the mask is the exact mapping's even where the lattice error is not 0."""
    from cupola.io.geotiff import _lattice_colrow

    nr, width, corner_res = 200, 300, (-101.2, 30.3, 0.004)
    mapping = _homography_mapping(6)
    col, row = _lattice_colrow(mapping, corner_res, nr, width, (-0.5, W - 0.5, -0.5, H - 0.5))
    ce, re_ = _exact_block(mapping, nr, width, corner_res)

    def inside(c, r):
        return (c >= -0.5) & (c <= W - 0.5) & (r >= -0.5) & (r <= H - 0.5)

    np.testing.assert_array_equal(inside(col, row), inside(ce, re_))
    assert not np.array_equal(col, ce)  # the lattice was used at all


def test_cog_layout_ifds_before_data(rgb_cog):
    """GDAL's COG layout marker at the file's start (its own validity check reads it) and
    overviews tiled at 512 like the full resolution."""
    out, _, _ = rgb_cog
    head = out.read_bytes()[:400]
    assert b"LAYOUT=IFDS_BEFORE_DATA" in head and b"KNOWN_INCOMPATIBLE_EDITION=NO" in head
    with rasterio.open(out) as ds:
        factors = ds.overviews(1)
    assert factors and factors[0] == 2
    with rasterio.open(out, OVERVIEW_LEVEL=0) as ov:
        assert ov.block_shapes[0] == (512, 512) or max(ov.width, ov.height) <= 512


def test_bad_resampler(tmp_path):
    with pytest.raises(InputError, match="resampler"):
        write_georeferenced_cog(tmp_path / "x.tif", _photo(), _to_colrow, BOUNDS, 0.01, resampler="cubic")
    assert list(tmp_path.iterdir()) == []
