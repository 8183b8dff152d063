"""CSV tie points and pixel lists (cupola.io.tables)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cupola.errors import InputError
from cupola.io.tables import (
    LONGITUDE,
    Refused,
    TiePoints,
    ValueRange,
    read_pixels,
    read_table,
    read_tie_points,
    write_pixels_csv,
)

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "samples" / "iss-meteor-2017"
TIE_POINTS = SAMPLES / "tie_points.csv"


def _write(tmp_path: Path, text: str, name: str = "points.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def _message(exc: pytest.ExceptionInfo, path: Path) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    assert str(path) in msg
    return msg


# --- tie points ------------------------------------------------------------------------------


def test_real_tie_points():
    tp = read_tie_points(TIE_POINTS)
    assert isinstance(tp, TiePoints) and len(tp) == 4
    np.testing.assert_array_equal(tp.col_px, [160, 1119, 160, 1119])
    np.testing.assert_array_equal(tp.row_px, [92, 92, 645, 645])
    np.testing.assert_allclose(tp.lat_deg, [30.320698, 28.518549, 31.138931, 29.383717])
    np.testing.assert_allclose(tp.lon_deg, [-100.203190, -101.894450, -101.312823, -103.066216])
    np.testing.assert_array_equal(tp.height_m, 0.0)
    for a in (tp.col_px, tp.row_px, tp.lon_deg, tp.lat_deg, tp.height_m):
        assert a.dtype == np.float64 and a.shape == (4,)
        assert not a.flags.writeable


def test_real_tie_points_on_the_image():
    assert len(read_tie_points(TIE_POINTS, image_size_px=(1280, 738))) == 4
    with pytest.raises(InputError, match="line 3, column col.*1119.*640x738"):
        read_tie_points(TIE_POINTS, image_size_px=(640, 738))


def test_columns_any_order_whitespace_case_comments_and_extras(tmp_path):
    path = _write(
        tmp_path,
        "# tie points for frame 1281\r\n"
        " LON , height_m,Lat ,row, col , name\r\n"
        "\r\n"
        '-100.5, 250.5 , 30.25, 10.5, 20.25, "Del Rio, TX"\r\n'
        "# a comment line\r\n"
        "  200 ,-10,-45,0,0,x\r\n",
    )
    tp = read_tie_points(path)
    np.testing.assert_array_equal(tp.col_px, [20.25, 0])
    np.testing.assert_array_equal(tp.row_px, [10.5, 0])
    np.testing.assert_array_equal(tp.lat_deg, [30.25, -45])
    # longitudes in [180, 360) come back in [-180, 180)
    np.testing.assert_array_equal(tp.lon_deg, [-100.5, -160])
    np.testing.assert_array_equal(tp.height_m, [250.5, -10])


def test_height_defaults_to_zero(tmp_path):
    tp = read_tie_points(_write(tmp_path, "col,row,lat,lon\n1,2,3,4\n"))
    np.testing.assert_array_equal(tp.height_m, [0.0])


def test_utf8_bom(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffcol,row,lat,lon\n1,2,3,4\n".encode("utf-8"))
    assert len(read_tie_points(path)) == 1


def test_missing_tie_point_file(tmp_path):
    path = tmp_path / "none.csv"
    with pytest.raises(InputError) as exc:
        read_tie_points(path)
    assert "not found" in _message(exc, path)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        read_tie_points(path)
    assert "empty" in _message(exc, path)


def test_header_only(tmp_path):
    path = _write(tmp_path, "col,row,lat,lon,height_m\n\n")
    with pytest.raises(InputError) as exc:
        read_tie_points(path)
    assert "no data rows" in _message(exc, path)


def test_missing_column(tmp_path):
    path = _write(tmp_path, "col,row,latitude,lon\n1,2,3,4\n")
    with pytest.raises(InputError) as exc:
        read_tie_points(path)
    msg = _message(exc, path)
    assert "missing column lat;" in msg and "col,row,lat,lon" in msg


def test_unitless_height_column(tmp_path):
    path = _write(tmp_path, "col,row,lat,lon,height\n1,2,3,4,5\n")
    with pytest.raises(InputError) as exc:
        read_tie_points(path)
    assert "'height' has no unit" in _message(exc, path)


def test_duplicate_column(tmp_path):
    path = _write(tmp_path, "col,row,lat,lon,lat\n1,2,3,4,5\n")
    with pytest.raises(InputError, match="'lat' appears twice"):
        read_tie_points(path)


def test_semicolons(tmp_path):
    path = _write(tmp_path, "col;row;lat;lon\n1;2;3,5;4\n")
    with pytest.raises(InputError) as exc:
        read_tie_points(path)
    assert "';'" in _message(exc, path)


@pytest.mark.parametrize(
    "value, words",
    [
        ("abc", "'abc' is not a number"),
        ("", "empty value"),
        ("nan", "not a finite number"),
        ("-inf", "not a finite number"),
        ("1,5", "fields"),
    ],
)
def test_bad_value_names_line_and_column(tmp_path, value, words):
    path = _write(tmp_path, f"col,row,lat,lon\n1,2,3,4\n\n5,6,7,{value}\n")
    with pytest.raises(InputError) as exc:
        read_tie_points(path)
    msg = _message(exc, path)
    assert "line 4" in msg and words in msg
    if words != "fields":
        assert "column lon" in msg


@pytest.mark.parametrize("lat", [90.0001, -91, 1e9])
def test_latitude_out_of_range(tmp_path, lat):
    path = _write(tmp_path, f"col,row,lat,lon\n1,2,3,4\n5,6,{lat},8\n")
    with pytest.raises(InputError) as exc:
        read_tie_points(path)
    msg = _message(exc, path)
    assert "line 3, column lat" in msg and "[-90, 90]" in msg


@pytest.mark.parametrize("lon", [360, -180.5, 720])
def test_longitude_out_of_range(tmp_path, lon):
    path = _write(tmp_path, f"col,row,lat,lon\n5,6,7,{lon}\n")
    with pytest.raises(InputError) as exc:
        read_tie_points(path)
    msg = _message(exc, path)
    assert "line 2, column lon" in msg and "[-180, 360)" in msg


def test_latitude_longitude_limits_accepted(tmp_path):
    tp = read_tie_points(_write(tmp_path, "col,row,lat,lon\n0,0,90,-180\n0,0,-90,359.999\n"))
    np.testing.assert_allclose(tp.lon_deg, [-180, -0.001])
    np.testing.assert_array_equal(tp.lat_deg, [90, -90])


def test_height_in_kilometres_refused(tmp_path):
    path = _write(tmp_path, "col,row,lat,lon,height_m\n0,0,0,0,1e6\n")
    with pytest.raises(InputError, match="column height_m.*metres"):
        read_tie_points(path)


def test_binary_and_non_utf8(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(b"col,row\x00\x01\x02")
    with pytest.raises(InputError, match="binary"):
        read_tie_points(path)
    path = tmp_path / "latin.csv"
    path.write_bytes("col,row,lat,lon\n1,2,3,4 # caf\u00e9\n".encode("latin-1"))
    with pytest.raises(InputError, match="line 2: not UTF-8"):
        read_tie_points(path)


def test_unterminated_quote(tmp_path):
    path = _write(tmp_path, 'col,row,lat,lon\n1,2,3,"4\n')
    with pytest.raises(InputError) as exc:
        read_tie_points(path)
    _message(exc, path)


# --- any table: the reading every CSV reader of cupola shares ------------------------------------


def test_read_table_rows_by_column_name(tmp_path):
    path = _write(tmp_path, "# stations\r\n Name ,HEIGHT_M, note\r\n\r\n a , 12.5,x\r\n# gone\r\nb,,\r\n")
    table = read_table(path, "stations", required=("name",), optional=("height_m", "lat"))
    assert table.header_line == 2 and table.columns == ("name", "height_m", "note") and len(table) == 2
    assert table.has("height_m") and not table.has("lat")
    rows = list(table)
    assert [r.line for r in rows] == [4, 6]
    assert [r.text("name") for r in rows] == ["a", "b"]
    assert [r.optional_number("height_m") for r in rows] == [12.5, None]
    assert rows[0].text("lat") == "" and rows[0].optional_number("lat") is None  # a column it lacks
    assert rows[1].where("height_m") == f"{path}: line 6, column height_m"
    with pytest.raises(InputError, match="line 6, column height_m: empty value; expected a number"):
        rows[1].number("height_m")


def test_read_table_refused_and_missing_columns(tmp_path):
    refused = {"exposure": Refused("exposure_s", "has no unit", "seconds"), "latitude": Refused("lat")}
    path = _write(tmp_path, "file,exposure\na,1\n")
    with pytest.raises(InputError) as exc:
        read_table(path, "frames", required=("file",), refused=refused)
    assert "line 1: column 'exposure' has no unit; expected 'exposure_s' (seconds)" in _message(exc, path)
    path = _write(tmp_path, "latitude,lon\n1,2\n")
    with pytest.raises(InputError, match="column 'latitude' is not understood; expected 'lat'$"):
        read_table(path, "points", required=("lat", "lon"), refused=refused)
    # a refused name is fine beside the column it stands for
    path = _write(tmp_path, "file,exposure,exposure_s\na,1,2\n")
    assert read_table(path, "frames", required=("file",), refused=refused).has("exposure_s")
    path = _write(tmp_path, "a\n1\n")
    with pytest.raises(InputError) as exc:
        read_table(path, "things", required=("x", "y"), optional=("z",))
    assert "line 1: missing columns x, y; expected header x,y[,z], found a" in _message(exc, path)
    with pytest.raises(InputError, match="expected header x or y, found a"):
        read_table(path, "things", required=("x",), header="x or y")


def test_read_table_checks_each_row_as_it_is_read(tmp_path):
    path = _write(tmp_path, "a,b\n1,2\n3\n4,5\n")
    table = read_table(path, "things", required=("a", "b"))  # reading the header does not look at rows
    rows = iter(table)
    assert next(rows).text("b") == "2"
    with pytest.raises(InputError) as exc:
        next(rows)
    assert "line 3: 1 fields; expected 2 as in the header" in _message(exc, path)
    short = table.rows[1]
    assert short.text("b") == ""  # unchecked, a missing field reads as empty
    assert table.check(table.rows[2]).text("a") == "4"


@pytest.mark.parametrize(
    "text, words",
    [
        ("abc", "'abc' is not a number; expected longitude in degrees in [-180, 360)"),
        ("", "empty value; expected longitude in degrees in [-180, 360)"),
        ("nan", "'nan' is not a finite number; expected longitude"),
        ("360", "360 is out of range; expected longitude in degrees in [-180, 360)"),
        ("-1.8e2 ", None),
    ],
)
def test_row_number_within_a_range(tmp_path, text, words):
    path = _write(tmp_path, f"lon,x\n{text},1\n")
    (row,) = read_table(path, "points", required=("lon",))
    if words is None:
        assert row.number("lon", LONGITUDE) == -180.0
        return
    with pytest.raises(InputError) as exc:
        row.number("lon", LONGITUDE)
    assert f"line 2, column lon: {words}" in _message(exc, path)


def test_value_range_ends():
    exposure = ValueRange(0.0, 3600.0, "seconds in (0, 3600]", lo_open=True)
    assert not exposure.contains(0.0) and exposure.contains(1e-9) and exposure.contains(3600.0)
    np.testing.assert_array_equal(LONGITUDE.contains(np.array([-180.0, 359.9, 360.0, np.nan])), [1, 1, 0, 0])


# --- pixels ----------------------------------------------------------------------------------


def test_read_pixels(tmp_path):
    col, row = read_pixels(_write(tmp_path, "row , col\n1.5,2\n3,-0.5\n"))
    np.testing.assert_array_equal(col, [2, -0.5])
    np.testing.assert_array_equal(row, [1.5, 3])
    assert col.dtype == row.dtype == np.float64


def test_read_pixels_from_a_tie_point_file():
    col, row = read_pixels(TIE_POINTS)
    np.testing.assert_array_equal(col, [160, 1119, 160, 1119])
    np.testing.assert_array_equal(row, [92, 92, 645, 645])


def test_read_pixels_errors(tmp_path):
    path = tmp_path / "none.csv"
    with pytest.raises(InputError, match="not found"):
        read_pixels(path)
    path = _write(tmp_path, "col\n1\n")
    with pytest.raises(InputError) as exc:
        read_pixels(path)
    assert "missing column row" in _message(exc, path)
    path = _write(tmp_path, "col,row\n")
    with pytest.raises(InputError, match="no data rows"):
        read_pixels(path)
    path = _write(tmp_path, "col,row\n1,2\nx,3\n")
    with pytest.raises(InputError, match="line 3, column col: 'x' is not a number"):
        read_pixels(path)
    path = _write(tmp_path, "col,row\n1,NaN\n")
    with pytest.raises(InputError, match="line 2, column row"):
        read_pixels(path)
    path = _write(tmp_path, "col,row\n1,2\n10,-0.6\n")
    with pytest.raises(InputError, match="line 3, column row.*-0.6"):
        read_pixels(path, image_size_px=(20, 10))


# --- writing ---------------------------------------------------------------------------------


def test_write_pixels_csv_layout_and_nan(tmp_path):
    path = tmp_path / "out.csv"
    written = write_pixels_csv(path, [0, 639.5], [0, 368.25], [-100.25, np.nan], [30.5, np.nan])
    assert written == path
    lines = path.read_text().splitlines()
    assert lines[0] == "col,row,lat,lon"
    assert lines[1] == "0.0000,0.0000,30.500000000,-100.250000000"
    assert lines[2] == "639.5000,368.2500,,"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temp file left


def test_write_then_read_round_trip(tmp_path):
    path = tmp_path / "out.csv"
    col = np.array([0.0, 10.5, 1279.0])
    row = np.array([0.0, 20.25, 737.0])
    lon = np.array([-100.203190, 179.999999999, -180.0])
    lat = np.array([30.320698, -89.5, 90.0])
    write_pixels_csv(path, col, row, lon, lat)
    c, r = read_pixels(path)
    np.testing.assert_array_equal(c, col)
    np.testing.assert_array_equal(r, row)
    tp = read_tie_points(path)
    np.testing.assert_allclose(tp.lon_deg, lon, atol=1e-9)
    np.testing.assert_allclose(tp.lat_deg, lat, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-0.5, 1e5), st.floats(-0.5, 1e5), st.floats(-180, 179.9999999), st.floats(-90, 90)),
        min_size=1,
        max_size=20,
    )
)
def test_round_trip_property(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("rt") / "p.csv"
    col, row, lon, lat = (np.array(v) for v in zip(*rows))
    write_pixels_csv(path, col, row, lon, lat)
    tp = read_tie_points(path)
    np.testing.assert_allclose(tp.col_px, col, atol=5e-5)
    np.testing.assert_allclose(tp.row_px, row, atol=5e-5)
    np.testing.assert_allclose(tp.lat_deg, lat, atol=5e-10)
    # longitudes may wrap from just under +180 to -180 when rounded to 9 decimals
    dlon = (tp.lon_deg - lon + 180.0) % 360.0 - 180.0
    np.testing.assert_allclose(dlon, 0.0, atol=5e-10)


def test_write_replaces_existing_file(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old contents\n")
    write_pixels_csv(path, [1], [2], [3], [4])
    assert path.read_text().startswith("col,row,lat,lon\n1.0000,2.0000,4.000000000,3.000000000")


def test_write_file_permissions_follow_umask(tmp_path):
    path = tmp_path / "out.csv"
    write_pixels_csv(path, [1], [2], [3], [4])
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_write_length_mismatch(tmp_path):
    with pytest.raises(ValueError, match="different lengths"):
        write_pixels_csv(tmp_path / "x.csv", [1, 2], [1, 2], [1], [1, 2])
    assert list(tmp_path.iterdir()) == []


def test_write_into_missing_folder(tmp_path):
    path = tmp_path / "no" / "such" / "out.csv"
    with pytest.raises(InputError) as exc:
        write_pixels_csv(path, [1], [2], [3], [4])
    assert "does not exist" in _message(exc, path)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "out.csv"
    path.write_text("precious\n")

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(InputError, match="disk on fire"):
        write_pixels_csv(path, [1], [2], [3], [4])
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    assert path.read_text() == "precious\n"
