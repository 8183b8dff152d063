"""TLE files (cupola.io.tle) and the choice of element set (cupola.geometry.orbit)."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import pytest

from cupola.errors import InputError
from cupola.geometry.orbit import (
    ElementSet,
    StaleElementsWarning,
    parse_time,
    select_element_set,
)
from cupola.io.tle import read_tle_file

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "cupola" / "data" / "samples" / "iss-meteor-2017"
ISS_TLE = SAMPLES / "iss_tle_25544_20170101-20170630.txt"
UTC = dt.timezone.utc

# the first element set of the sample file
L1 = "1 25544U 98067A   17001.10660880  .00001073  00000-0  23630-4 0  9997"
L2 = "2 25544  51.6423 151.2131 0007045  39.8224 315.5565 15.53964187 35761"


def _write(tmp_path: Path, text: str, name: str = "tle.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def _message(exc: pytest.ExceptionInfo, path: Path) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    assert str(path) in msg
    return msg


# --- the real file ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def iss_sets() -> list[ElementSet]:
    return read_tle_file(ISS_TLE)


def test_real_file(iss_sets):
    assert len(iss_sets) == 493
    assert all(s.norad_id == 25544 for s in iss_sets)
    assert all(s.epoch.tzinfo is not None for s in iss_sets)
    assert iss_sets[0].line1 == L1 and iss_sets[0].line2 == L2
    assert iss_sets[0].name == "NORAD 25544"
    # epoch 17001.10660880 = 2017-01-01 + 0.10660880 d
    want = dt.datetime(2017, 1, 1, tzinfo=UTC) + dt.timedelta(days=0.10660880)
    assert abs((iss_sets[0].epoch - want).total_seconds()) < 1e-3
    assert dt.datetime(2017, 6, 1, tzinfo=UTC) < iss_sets[-1].epoch < dt.datetime(2017, 7, 1, tzinfo=UTC)


def test_str_path_and_crlf_and_bom(tmp_path):
    text = "\ufeff" + "\r\n".join([L1, L2]) + "\r\n"
    sets = read_tle_file(str(_write(tmp_path, text)))
    assert len(sets) == 1 and sets[0].line2 == L2


@pytest.mark.parametrize("name_line, name", [("ISS (ZARYA)", "ISS (ZARYA)"), ("0 ISS (ZARYA)", "ISS (ZARYA)")])
def test_three_line_format(tmp_path, name_line, name):
    lines = ISS_TLE.read_text().splitlines()[:6]
    text = "\n".join([name_line, *lines[0:2], name_line, *lines[2:4], "", name_line, *lines[4:6]]) + "\n"
    sets = read_tle_file(_write(tmp_path, text))
    assert len(sets) == 3
    assert all(s.name == name for s in sets)
    assert sets[1].line1 == lines[2]


def test_mixed_two_and_three_line(tmp_path):
    text = "\n".join(["ISS (ZARYA)", L1, L2, L1, L2])
    sets = read_tle_file(_write(tmp_path, text))
    assert [s.name for s in sets] == ["ISS (ZARYA)", "NORAD 25544"]


# --- errors --------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "none.txt"
    with pytest.raises(InputError) as exc:
        read_tle_file(path)
    assert "not found" in _message(exc, path)


def test_folder(tmp_path):
    with pytest.raises(InputError) as exc:
        read_tle_file(tmp_path)
    assert "folder" in _message(exc, tmp_path)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_empty_file(tmp_path, text):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        read_tle_file(path)
    assert "empty" in _message(exc, path)


def test_binary_file(tmp_path):
    path = tmp_path / "tle.bin"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError) as exc:
        read_tle_file(path)
    assert "binary" in _message(exc, path)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(("SATELLITE \u00e9t\u00e9\n" + L1 + "\n" + L2 + "\n").encode("latin-1"))
    with pytest.raises(InputError) as exc:
        read_tle_file(path)
    msg = _message(exc, path)
    assert "line 1" in msg and "UTF-8" in msg


def test_jpeg_is_not_a_tle(tmp_path):
    path = tmp_path / "photo.txt"
    path.write_bytes((SAMPLES / "meteor_20170517T054409.526Z.jpg").read_bytes()[:2000])
    with pytest.raises(InputError) as exc:
        read_tle_file(path)
    _message(exc, path)


def test_prose_is_not_a_tle(tmp_path):
    path = _write(tmp_path, "hello\nworld\n")
    with pytest.raises(InputError) as exc:
        read_tle_file(path)
    assert "line 1" in _message(exc, path)


def test_bad_checksum(tmp_path):
    bad = L2[:68] + str((int(L2[68]) + 1) % 10)
    path = _write(tmp_path, "\n".join(["ISS", L1, L2, "ISS", L1, bad]) + "\n")
    with pytest.raises(InputError) as exc:
        read_tle_file(path)
    msg = _message(exc, path)
    assert "line 6" in msg and "checksum" in msg


def test_corrupted_digit_caught_by_checksum(tmp_path):
    bad = L1[:20] + "2" + L1[21:]  # epoch year-day 17001 -> 17002
    path = _write(tmp_path, bad + "\n" + L2 + "\n")
    with pytest.raises(InputError, match="line 1: TLE checksum"):
        read_tle_file(path)


def test_truncated_line(tmp_path):
    path = _write(tmp_path, L1 + "\n" + L2[:40] + "\n")
    with pytest.raises(InputError) as exc:
        read_tle_file(path)
    msg = _message(exc, path)
    assert "line 2" in msg and "69-character" in msg


def test_file_cut_after_line_1(tmp_path):
    path = _write(tmp_path, "\n".join([L1, L2, L1]) + "\n")
    with pytest.raises(InputError) as exc:
        read_tle_file(path)
    msg = _message(exc, path)
    assert "line 3" in msg and "no line 2" in msg


def test_line_2_missing_in_the_middle(tmp_path):
    lines = ISS_TLE.read_text().splitlines()[:4]
    path = _write(tmp_path, "\n".join([lines[0], lines[2], lines[3]]) + "\n")
    with pytest.raises(InputError) as exc:
        read_tle_file(path)
    msg = _message(exc, path)
    assert "line 2" in msg and "TLE line 2" in msg


def test_line_1_missing(tmp_path):
    path = _write(tmp_path, "ISS (ZARYA)\n" + L2 + "\n")
    with pytest.raises(InputError) as exc:
        read_tle_file(path)
    assert "line 1" in _message(exc, path)


def test_satellite_numbers_differ(tmp_path):
    other = L2[:2] + "25545" + L2[7:68]
    other += str(_checksum(other))
    path = _write(tmp_path, L1 + "\n" + other + "\n")
    with pytest.raises(InputError, match="satellite numbers differ"):
        read_tle_file(path)


def _checksum(line: str) -> int:
    return sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68]) % 10


# --- parse_time -----------------------------------------------------------------------------


def test_parse_time_z_and_offsets():
    t = parse_time("2017-05-17T05:44:09.526Z")
    assert t == dt.datetime(2017, 5, 17, 5, 44, 9, 526000, tzinfo=UTC)
    assert t.tzinfo == UTC
    assert parse_time("2017-05-17T07:44:09.526+02:00") == t
    assert parse_time(" 2017-05-17 05:44:09.526z ") == t
    assert parse_time("2017-05-17T07:44:09.526+02:00").utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("text", ["2017-05-17T05:44:09", "2017-05-17"])
def test_parse_time_needs_a_zone(text):
    with pytest.raises(InputError, match="time zone"):
        parse_time(text, field="--time")


@pytest.mark.parametrize("text", ["yesterday", "2017-13-01T00:00:00Z", ""])
def test_parse_time_refuses_non_iso(text):
    with pytest.raises(InputError, match="--time.*ISO 8601"):
        parse_time(text, field="--time")


# --- select_element_set ----------------------------------------------------------------------


def test_select_nearest_epoch(iss_sets):
    t = parse_time("2017-05-17T05:44:09.526Z")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        best = select_element_set(iss_sets, t)
    gaps = [abs((s.epoch - t).total_seconds()) for s in iss_sets]
    assert abs((best.epoch - t).total_seconds()) == min(gaps)
    assert min(gaps) < 86400
    # 05:44:09.5 on 2017-05-17 is year-day 137.2390; the neighbours are 136.9101 (0.3289 d
    # before) and 137.5691 (0.3300 d after), so the earlier one wins by about 90 s
    assert best.line1[18:32] == "17136.91012731"


def test_select_exactly_at_an_epoch(iss_sets):
    target = iss_sets[100]
    assert select_element_set(iss_sets, target.epoch) == target  # the file repeats some sets


def test_select_stale_warns(iss_sets):
    t = iss_sets[-1].epoch + dt.timedelta(days=10)
    with pytest.warns(StaleElementsWarning, match="10.0 days"):
        best = select_element_set(iss_sets, t)
    assert best is iss_sets[-1]


def test_select_three_days_is_not_stale(iss_sets):
    t = iss_sets[0].epoch - dt.timedelta(days=2.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert select_element_set(iss_sets, t) is iss_sets[0]


def test_select_too_old_refused_unless_forced(iss_sets):
    t = iss_sets[-1].epoch + dt.timedelta(days=45)
    with pytest.raises(InputError, match="45.0 days") as exc:
        select_element_set(iss_sets, t, source=str(ISS_TLE))
    assert str(ISS_TLE) in str(exc.value) and "\n" not in str(exc.value)
    with pytest.warns(StaleElementsWarning):
        assert select_element_set(iss_sets, t, force=True) is iss_sets[-1]


def test_select_before_the_first_set(iss_sets):
    t = iss_sets[0].epoch - dt.timedelta(days=31)
    with pytest.raises(InputError):
        select_element_set(iss_sets, t)


def test_select_from_nothing():
    with pytest.raises(InputError, match="no element sets"):
        select_element_set([], dt.datetime(2017, 1, 1, tzinfo=UTC))


def test_garbage_field_with_valid_checksum_is_refused(tmp_path):
    bad = L2[:8] + " 5X.6423" + L2[16:68]
    bad += str(_checksum(bad))
    path = _write(tmp_path, L1 + "\n" + bad + "\n")
    with pytest.raises(InputError):
        read_tle_file(path)
