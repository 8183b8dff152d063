"""Reading photographs and EXIF with cupola.io.images."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cupola.errors import InputError
from cupola.io.images import PhotoInfo, read_photo, read_photo_info

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "samples" / "iss-meteor-2017"
METEOR = SAMPLES / "meteor_20170517T054409.526Z.jpg"


def _exif_jpeg(path: Path, *, orientation: int | None = 6, width: int = 48, height: int = 32) -> Path:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x010F] = "NIKON CORPORATION\x00"
    exif[0x0110] = "NIKON D4 "
    if orientation is not None:
        exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    sub[0x920A] = 24.0
    sub[0xA405] = 36
    sub[0x9003] = "2017:05:17 05:44:09"
    sub[0x9291] = "526"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (29.0, 21.0, 36.0)
    img.save(path, exif=exif, quality=95)
    return path


# --- the real sample ---------------------------------------------------------------------


def test_real_sample_info():
    info = read_photo_info(METEOR)
    assert (info.width_px, info.height_px) == (1280, 738)
    assert info.mode == "RGB"
    assert info.path == METEOR
    # the video frame carries no camera EXIF
    assert info.camera_model is None and info.focal_length_mm is None and info.orientation is None


def test_real_sample_pixels():
    pixels, info = read_photo(str(METEOR))
    assert pixels.shape == (738, 1280, 3)
    assert pixels.dtype == np.uint8
    assert pixels.flags.c_contiguous
    # a night frame: mostly dark, with some bright pixels (city lights, lightning)
    assert np.median(pixels) < 60
    assert pixels.max() > 150
    assert info.width_px == pixels.shape[1]


# --- EXIF ----------------------------------------------------------------------------------


def test_exif_fields(tmp_path):
    path = _exif_jpeg(tmp_path / "nikon.jpg")
    info = read_photo_info(path)
    assert info.camera_make == "NIKON CORPORATION"
    assert info.camera_model == "NIKON D4"
    assert info.focal_length_mm == pytest.approx(24.0)
    assert info.focal_length_35mm == pytest.approx(36.0)
    assert info.datetime_original == "2017:05:17 05:44:09"
    assert info.subsec == "526"
    assert info.orientation == 6
    assert info.exif["Model"] == "NIKON D4"
    assert info.exif["FocalLength"] == pytest.approx(24.0)
    assert info.exif["GPSInfo"]["GPSLatitudeRef"] == "N"
    assert info.exif["GPSInfo"]["GPSLatitude"] == pytest.approx([29.0, 21.0, 36.0])
    # no pointer tags or raw bytes leak into the readable dict
    assert "ExifOffset" not in info.exif
    assert all(not isinstance(v, bytes) for v in info.exif.values())
    hash(info)  # frozen and hashable despite the dict


def test_orientation_is_recorded_not_applied(tmp_path):
    path = _exif_jpeg(tmp_path / "rotated.jpg", orientation=6, width=48, height=32)
    pixels, info = read_photo(path)
    assert info.orientation == 6
    assert pixels.shape == (32, 48, 3)  # as stored, not rotated to 48 x 32
    assert (info.width_px, info.height_px) == (48, 32)


def test_zero_focal_length_means_unknown(tmp_path):
    img = Image.new("L", (8, 8))
    exif = Image.Exif()
    sub = exif.get_ifd(0x8769)
    sub[0x920A] = 0.0
    sub[0xA405] = 0
    img.save(tmp_path / "zero.jpg", exif=exif)
    info = read_photo_info(tmp_path / "zero.jpg")
    assert info.focal_length_mm is None and info.focal_length_35mm is None


def test_info_fields():
    names = [f.name for f in dataclasses.fields(PhotoInfo)]
    for n in (
        "path",
        "width_px",
        "height_px",
        "mode",
        "camera_make",
        "camera_model",
        "focal_length_mm",
        "focal_length_35mm",
        "datetime_original",
        "subsec",
        "orientation",
        "exif",
    ):
        assert n in names
    with pytest.raises(dataclasses.FrozenInstanceError):
        read_photo_info(METEOR).width_px = 3


# --- pixel formats ---------------------------------------------------------------------------


def test_grey_png_8_bit(tmp_path):
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    Image.fromarray(a).save(tmp_path / "g.png")
    pixels, info = read_photo(tmp_path / "g.png")
    assert pixels.dtype == np.uint8 and pixels.shape == (3, 4)
    np.testing.assert_array_equal(pixels, a)
    assert info.mode == "L"


@pytest.mark.parametrize("fmt", ["png", "tif"])
def test_grey_16_bit(tmp_path, fmt):
    a = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000 + 7
    Image.fromarray(a).save(tmp_path / f"g16.{fmt}")
    pixels, _ = read_photo(tmp_path / f"g16.{fmt}")
    assert pixels.dtype == np.uint16 and pixels.shape == (3, 4)
    np.testing.assert_array_equal(pixels, a)


@pytest.mark.parametrize("fmt", ["png", "tif"])
def test_16_bit_rgb_keeps_its_depth_when_asked(tmp_path, fmt):
    """Pillow reads a 16-bit RGB PNG or TIFF as 8 bits (the high byte); ``read_photo_full_depth``
    keeps all 16 (R, G, B order), and an 8-bit RGB PNG comes back as ``read_photo`` reads it."""
    import cv2

    from cupola.io.images import read_photo_full_depth

    a = np.arange(24, dtype=np.uint16).reshape(2, 4, 3) * 150 + 3  # 12-bit values in 16 bits
    cv2.imwrite(str(tmp_path / f"c16.{fmt}"), a[..., ::-1])
    shallow, _ = read_photo(tmp_path / f"c16.{fmt}")
    assert shallow.dtype == np.uint8 and shallow.max() <= a.max() >> 8  # what was lost
    deep, info = read_photo_full_depth(tmp_path / f"c16.{fmt}")
    assert deep.dtype == np.uint16 and (info.width_px, info.height_px) == (4, 2)
    np.testing.assert_array_equal(deep, a)
    Image.fromarray((a >> 4).astype(np.uint8), "RGB").save(tmp_path / "c8.png")
    np.testing.assert_array_equal(read_photo_full_depth(tmp_path / "c8.png")[0], read_photo(tmp_path / "c8.png")[0])


def test_pixel_order_is_row_col(tmp_path):
    """pixels[row, col]: a bright pixel at col 5, row 2 reads back there."""
    a = np.zeros((4, 7), dtype=np.uint8)
    a[2, 5] = 200
    Image.fromarray(a).save(tmp_path / "dot.png")
    pixels, info = read_photo(tmp_path / "dot.png")
    assert (info.width_px, info.height_px) == (7, 4)
    assert pixels[2, 5] == 200 and pixels.sum() == 200


def test_rgba_and_palette_become_rgb(tmp_path):
    rgba = np.zeros((3, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 10
    rgba[..., 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    pixels, info = read_photo(tmp_path / "a.png")
    assert info.mode == "RGBA" and pixels.shape == (3, 4, 3)
    assert (pixels[..., 0] == 10).all()
    Image.new("P", (5, 2)).save(tmp_path / "p.png")
    pixels, _ = read_photo(tmp_path / "p.png")
    assert pixels.shape == (2, 5, 3) and pixels.dtype == np.uint8


def test_float_tiff_refused(tmp_path):
    Image.fromarray(np.zeros((2, 2), dtype=np.float32)).save(tmp_path / "f.tif")
    with pytest.raises(InputError, match="f.tif.*mode 'F'"):
        read_photo(tmp_path / "f.tif")


@pytest.mark.parametrize("reader", [read_photo, read_photo_info])
def test_three_band_float_tiff_says_what_it_holds(tmp_path, reader):
    """Pillow cannot identify an RGB float TIFF (a processed image); the error says what it is."""
    import rasterio

    with rasterio.open(tmp_path / "rgb.tif", "w", driver="GTiff", width=4, height=3, count=3, dtype="float32") as ds:
        ds.write(np.zeros((3, 3, 4), dtype=np.float32))
    with pytest.raises(InputError, match=r"rgb.tif: a TIFF of 3 band\(s\) of float32 samples, which is not read"):
        reader(tmp_path / "rgb.tif")


def test_file_format_reads_the_signature_not_the_name(tmp_path):
    """JPEG, PNG, classic TIFF (Pillow and GDAL writers, both byte orders) and BigTIFF by their first
    bytes, whatever the file is called; anything else ""; the TIFF tag reader takes classic TIFF."""
    import rasterio

    from cupola.io.dng import read_tiff_tags
    from cupola.io.images import file_format

    img = Image.fromarray(np.zeros((4, 4), dtype=np.uint8))
    img.save(tmp_path / "a.dat", format="JPEG")
    img.save(tmp_path / "b.dat", format="PNG")
    img.save(tmp_path / "c.dat", format="TIFF")
    (tmp_path / "d.tif").write_bytes(b"MM\0*" + bytes(8))  # big-endian classic TIFF header
    for name, big in (("e.tif", "YES"), ("f.tif", "NO")):
        with rasterio.open(
            tmp_path / name, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint8", BIGTIFF=big
        ) as ds:
            ds.write(np.zeros((1, 4, 4), dtype=np.uint8))
    (tmp_path / "g.tif").write_text("not an image")
    got = {n: file_format(tmp_path / n) for n in ("a.dat", "b.dat", "c.dat", "d.tif", "e.tif", "f.tif", "g.tif")}
    assert got == {"a.dat": "JPEG", "b.dat": "PNG", "c.dat": "TIFF", "d.tif": "TIFF", "e.tif": "BigTIFF",
                   "f.tif": "TIFF", "g.tif": ""}  # fmt: skip
    assert read_tiff_tags(tmp_path / "f.tif")["ImageWidth"] == 4
    with pytest.raises(InputError, match="e.tif: not a TIFF-based file \\(a BigTIFF"):
        read_tiff_tags(tmp_path / "e.tif")
    with pytest.raises(InputError, match="g.tif: not a TIFF-based file \\(no TIFF header"):
        read_tiff_tags(tmp_path / "g.tif")
    with pytest.raises(OSError):
        file_format(tmp_path / "missing.jpg")


# --- errors --------------------------------------------------------------------------------


def _one_line(exc: pytest.ExceptionInfo, path: Path) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    assert str(path) in msg
    return msg


@pytest.mark.parametrize("reader", [read_photo, read_photo_info])
def test_missing_file(tmp_path, reader):
    path = tmp_path / "nope.jpg"
    with pytest.raises(InputError) as exc:
        reader(path)
    assert "not found" in _one_line(exc, path)


@pytest.mark.parametrize("reader", [read_photo, read_photo_info])
def test_folder(tmp_path, reader):
    with pytest.raises(InputError) as exc:
        reader(tmp_path)
    assert "folder" in _one_line(exc, tmp_path)


@pytest.mark.parametrize("reader", [read_photo, read_photo_info])
def test_zero_byte_file(tmp_path, reader):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(InputError) as exc:
        reader(path)
    assert "empty" in _one_line(exc, path)


@pytest.mark.parametrize("reader", [read_photo, read_photo_info])
def test_text_file_is_not_an_image(tmp_path, reader):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\nsecond line\n")
    with pytest.raises(InputError) as exc:
        reader(path)
    assert "not an image" in _one_line(exc, path)


@pytest.mark.parametrize("fraction", [0.5, 0.95])
def test_truncated_jpeg(tmp_path, fraction):
    data = METEOR.read_bytes()
    path = tmp_path / "half.jpg"
    path.write_bytes(data[: int(len(data) * fraction)])
    # the header survives, so the metadata can still be read ...
    info = read_photo_info(path)
    assert (info.width_px, info.height_px) == (1280, 738)
    # ... but decoding the pixels must refuse the file
    with pytest.raises(InputError) as exc:
        read_photo(path)
    assert "truncated" in _one_line(exc, path)


def test_jpeg_cut_in_the_header(tmp_path):
    path = tmp_path / "stub.jpg"
    path.write_bytes(METEOR.read_bytes()[:40])
    with pytest.raises(InputError) as exc:
        read_photo(path)
    assert "corrupt" in _one_line(exc, path).lower()


@pytest.mark.filterwarnings("error")
def test_truncated_png(tmp_path):
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as exc:
        read_photo(path)
    assert "truncated" in _one_line(exc, path)
