"""Tests of the vectorised text parsers and checks shared by the readers."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vru.sources import values as v


def arr(*xs):
    return pa.array(list(xs), pa.string())


@pytest.mark.parametrize("text, expected, has_time", [
    ("2019-03-01 22:15", datetime(2019, 3, 1, 22, 15), True),
    ("2019-03-01 22:15:07", datetime(2019, 3, 1, 22, 15, 7), True),
    ("2019-03-01T22:15", datetime(2019, 3, 1, 22, 15), True),
    ("2019-03-01T22:15:07", datetime(2019, 3, 1, 22, 15, 7), True),
    ("01/03/2019 22:15", datetime(2019, 3, 1, 22, 15), True),
    ("1/3/2019 9:05", datetime(2019, 3, 1, 9, 5), True),
    ("01/03/2019 22:15:59", datetime(2019, 3, 1, 22, 15, 59), True),
    ("2019-03-01 22:15:07.250", datetime(2019, 3, 1, 22, 15, 7), True),
    ("  2020-02-29  ", datetime(2020, 2, 29), False),
    ("29/02/2000", datetime(2000, 2, 29), False),
])
def test_datetime_formats(text, expected, has_time):
    r = v.parse_datetime(arr(text))
    assert r.values.to_pylist() == [expected]
    assert not r.bad[0]
    assert r.has_time[0] == has_time


@pytest.mark.parametrize("text", [
    "2019-02-30 10:00", "2019-02-29", "2100-02-29", "2019-13-01", "2019-00-10", "2019-01-00",
    "2019-01-32", "2019-03-01 24:00", "2019-03-01 10:60", "2019-03-01 10:00:60",
    "31/04/2019 10:00", "2019/03/01", "01-03-2019", "19-03-01 10:00", "tomorrow", "2019-03-01x",
    "2019-03-01 10:00 x", "１９９９-01-01",
])
def test_datetime_bad(text):
    r = v.parse_datetime(arr(text))
    assert r.bad.tolist() == [True]
    assert r.values.to_pylist() == [None]


def test_blank_is_null_not_bad():
    r = v.parse_datetime(arr("", "   ", None))
    assert r.values.to_pylist() == [None, None, None]
    assert not r.bad.any()


def test_date_only_refused_when_time_needed():
    r = v.parse_datetime(arr("2019-03-01", "2019-03-01 10:00"), date_only=False)
    assert r.bad.tolist() == [True, False]


def test_chunked_input():
    ch = pa.chunked_array([arr("2019-03-01"), arr("x", "02/03/2019")])
    r = v.parse_date(ch)
    assert r.values.to_pylist() == [date(2019, 3, 1), None, date(2019, 3, 2)]
    assert r.bad.tolist() == [False, True, False]


def test_sliced_input_reads_the_right_bytes():
    a = arr("junk", "2019-03-01 10:00", "01/02/2019 11:00")[1:]
    assert v.parse_datetime(a).values.to_pylist() == [datetime(2019, 3, 1, 10),
                                                      datetime(2019, 2, 1, 11)]


def test_date_drops_excel_time():
    r = v.parse_date(arr("01/03/2019 00:00", "2019-03-01", "31/02/2019"))
    assert r.values.to_pylist() == [date(2019, 3, 1), date(2019, 3, 1), None]
    assert r.bad.tolist() == [False, False, True]


def test_flags():
    r = v.parse_flag(arr("Y", "n", "YES", "No", "true", "FALSE", "1", "0", " t ", "", None,
                         "maybe", "2"))
    assert r.values.to_pylist() == [True, False, True, False, True, False, True, False, True,
                                    None, None, None, None]
    assert r.bad.tolist() == [False] * 11 + [True, True]


def test_numbers_with_thousands_separators():
    r = v.parse_number(arr("1,234.5", "-3", ".5", "+2.25", "123,456,789", "1,23", "1e5", "+",
                           ".", "", "12,34,567", "nan"))
    assert r.values.to_pylist() == [1234.5, -3.0, 0.5, 2.25, 123456789.0, None, None, None,
                                    None, None, None, None]
    assert r.bad.tolist() == [False] * 5 + [True] * 4 + [False, True, True]


def test_integers():
    r = v.parse_integer(arr("1,234", "-0", "007", "1.5", "99999999999999999999", ""))
    assert r.values.to_pylist() == [1234, 0, 7, None, None, None]
    assert r.bad.tolist() == [False, False, False, True, True, False]


def test_future_and_too_early():
    now = datetime(2020, 6, 1, 12)
    ts = v.parse_datetime(arr("2020-06-02 11:00", "2020-06-02 13:00", "1899-12-31", "1900-01-01",
                              "")).values
    assert v.future_mask(ts, now).tolist() == [False, True, False, False, False]
    assert v.too_early_mask(ts).tolist() == [False, False, True, False, False]
    d = v.parse_date(arr("2020-06-03", "2020-06-02")).values
    assert v.future_mask(d, now).tolist() == [True, False]


def test_lonlat_checks():
    lon = pa.array([-0.97, 51.45, 10.0, None, -0.97, 2.5], pa.float64())
    lat = pa.array([51.45, -0.97, 51.0, 51.0, 40.0, 51.0], pa.float64())
    swapped, outside = v.check_lonlat(lon, lat)
    assert swapped.tolist() == [False, True, False, False, False, False]
    assert outside.tolist() == [False, False, True, False, True, True]


def test_bng_checks():
    e = pa.array([471500.0, 1_000_000.0, -5.0, 300_000.0], pa.float64())
    n = pa.array([173500.0, 400_000.0, 100.0, None], pa.float64())
    swapped, outside = v.check_bng(e, n)
    assert swapped.tolist() == [False, True, False, False]
    assert outside.tolist() == [False, False, True, False]


def test_faults_first_failure_wins_and_quotes_row():
    t = pa.table({"a": ["1", "x", "y", "4"], "b": ["p", "q,r", "s", "t"]})
    f = v.Faults(4)
    f.add(np.array([False, True, True, False]), "a", lambda i: f"a bad at {i}")
    f.add(np.array([False, False, True, True]), "b", "b bad")
    probs = f.problems("f.csv", np.array([2, 3, 5, 6]), t)
    assert [(p.line, p.field, p.reason) for p in probs] == [
        (3, "a", "a bad at 1"), (5, "a", "a bad at 2"), (6, "b", "b bad")]
    assert probs[0].raw == 'x,"q,r"'
    assert f.bad.tolist() == [False, True, True, True]


def test_faults_rejects_wrong_length():
    with pytest.raises(ValueError):
        v.Faults(3).add(np.zeros(2, bool), "a", "x")


# ---- property-based --------------------------------------------------------------------

texts = st.lists(st.one_of(st.none(), st.text(max_size=30),
                           st.from_regex(r"\d{1,4}[-/]\d{1,2}[-/]\d{1,4}( \d{1,2}:\d{2})?",
                                         fullmatch=True)), max_size=30)


@settings(max_examples=150, deadline=None)
@given(texts)
def test_parsers_never_raise(xs):
    a = pa.array(xs, pa.string())
    for parser in (v.parse_datetime, v.parse_date, v.parse_flag, v.parse_number,
                   v.parse_integer):
        r = parser(a)
        assert len(r.values) == len(xs) == len(r.bad)
        nulls = np.asarray(r.values.is_null().to_numpy(zero_copy_only=False))
        blank = v.is_blank(a)
        assert not (r.bad & ~nulls).any()  # a bad text never yields a value
        assert ((~nulls) | r.bad | blank).all()  # non-blank text is a value or bad


@settings(max_examples=150, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
       st.sampled_from(["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M:%S",
                        "{d}/{m}/%Y {H}:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"]))
def test_datetime_round_trip(dt, fmt):
    fmt = fmt.format(d=dt.day, m=dt.month, H=dt.hour)
    text = dt.strftime(fmt.replace("%Y", f"{dt.year:04d}"))
    r = v.parse_datetime(arr(text))
    want = dt.replace(microsecond=0)
    if "%S" not in fmt:
        want = want.replace(second=0)
    assert r.values.to_pylist() == [want]
    assert not r.bad[0]


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(1, 1, 1)), st.booleans())
def test_date_round_trip(d, uk):
    text = (f"{d.day:02d}/{d.month:02d}/{d.year:04d}" if uk
            else f"{d.year:04d}-{d.month:02d}-{d.day:02d}")
    assert v.parse_date(arr(text)).values.to_pylist() == [d]


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=-(10**17), max_value=10**17), st.booleans())
def test_integer_round_trip(n, commas):
    text = f"{n:,}" if commas else str(n)
    assert v.parse_integer(arr(text)).values.to_pylist() == [n]
    assert v.parse_number(arr(text)).values.to_pylist() == [float(n)]


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=-(10**9), max_value=10**9), st.integers(0, 999))
def test_number_round_trip(whole, frac):
    text = f"{whole:,}.{frac:03d}"
    got = v.parse_number(arr(text)).values.to_pylist()[0]
    sign = -1 if text.startswith("-") else 1
    assert got == pytest.approx(whole + sign * frac / 1000)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["y", "yes", "true", "t", "1", "n", "no", "false", "f", "0"]),
       st.randoms())
def test_flag_round_trip(word, rnd):
    text = "".join(c.upper() if rnd.random() < 0.5 else c for c in word)
    got = v.parse_flag(arr(f" {text} ")).values.to_pylist()[0]
    assert got is (word in ("y", "yes", "true", "t", "1"))


def test_month_of():
    ts = v.parse_datetime(arr("2019-03-01 10:00", "", "31/12/1999", "2019-03-31 23:59")).values
    assert v.month_of(ts).to_pylist() == ["2019-03", None, "1999-12", "2019-03"]
    assert v.month_of(pa.chunked_array([ts])).to_pylist()[0] == "2019-03"


def test_large_string_and_all_empty_input():
    a = pa.array(["2019-03-01 10:00", "01/02/2019"], pa.large_string())
    assert v.parse_datetime(a).values.to_pylist() == [datetime(2019, 3, 1, 10),
                                                      datetime(2019, 2, 1)]
    empty = pa.array(["", ""], pa.string())
    assert v.parse_datetime(empty).values.null_count == 2
    assert v.parse_number(empty).values.null_count == 2
    assert len(v.parse_flag(pa.array([], pa.string())).values) == 0
