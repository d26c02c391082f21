"""Tests of the NHS ISTV (ISB 1594) emergency-department assault reader and its gazetteer."""

from __future__ import annotations

import gzip
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.sources.helpers_readers import ISTV_HEADER, NOW, assert_counts, istv_row, write_csv

from vru.data import asset
from vru.sources import gazetteer
from vru.sources.base import SourceError
from vru.sources.canonical import ED_ASSAULTS
from vru.sources.istv import LOCATION_TYPES, METHODS, personal_columns, read_istv


def read(tmp_path, rows, header=ISTV_HEADER, name="istv.csv", **kw):
    path = write_csv(tmp_path / name, header, rows, **kw)
    p = read_istv(path, now=NOW)
    assert_counts(p)
    return p


def test_good_file(tmp_path):
    rows = [
        istv_row("A1"),
        istv_row("", arrival_datetime="02/03/2019 01:10", assault_datetime="",
                 assault_method="Punched", location_type="Pub", location_description="RG1"),
        istv_row("", arrival_datetime="2019-03-02 01:10", assault_datetime="",
                 assault_method="punched", location_type="pub", location_description="rg1"),
        istv_row("A4", site_code="rhw01", assault_datetime="2019-02-28 23:00",
                 assault_method="GLASS", location_type="Licenced premises",
                 location_description="Banbury"),
    ]
    p = read(tmp_path, rows)
    assert p.kind == "istv" and not p.problems and p.table.schema == ED_ASSAULTS
    a, b, c, d = p.table.to_pylist()
    assert a["source_ref"] == "RHW01:A1" and a["site_code"] == "RHW01"
    assert a["arrival"] == datetime(2019, 3, 2, 1, 10)
    assert a["assault"] == datetime(2019, 3, 2, 0, 30)
    assert (a["weapon"], a["location_type"]) == ("knife or sharp object", "street")
    assert a["geocode_level"] == "street" and a["lon"] == pytest.approx(-1.232, abs=0.01)
    assert (a["easting"], a["lsoa11cd"]) == (None, None)  # the lake derives them
    assert (a["source_file"], a["source_line"]) == ("istv.csv", 2)
    assert (b["weapon"], b["location_type"]) == ("body part", "licensed premises")
    assert b["month"] == "2019-03" and b["assault"] is None
    assert b["geocode_level"] == "postcode_district"
    # identical rows without a reference: the same content key, told apart by ordinal
    assert b["source_ref"].startswith("RHW01:~") and b["source_ref"].endswith(".1")
    assert c["source_ref"] == b["source_ref"][:-2] + ".2"
    assert d["month"] == "2019-02" and d["weapon"] == "glass or bottle"
    assert d["geocode_level"] == "place" and d["site_code"] == "RHW01"
    assert any("geocoded" in n for n in p.notes)


@pytest.mark.parametrize("over, field, words", [
    ({"site_code": ""}, "site_code", "required"),
    ({"site_code": "12"}, "site_code", "not an ODS site code"),
    ({"arrival_datetime": ""}, "arrival_datetime", "required"),
    ({"arrival_datetime": "2019-02-29 10:00"}, "arrival_datetime", "not a valid date-time"),
    ({"arrival_datetime": "2021-01-01 10:00", "assault_datetime": ""}, "arrival_datetime",
     "in the future"),
    ({"assault_datetime": "2019-03-02 02:00"}, "assault_datetime", "after arrival"),
    ({"assault_datetime": "2019-01-20 02:00"}, "assault_datetime", "more than 30 days"),
    ({"assault_datetime": "yesterday"}, "assault_datetime", "not a valid date-time"),
    ({"assault_method": ""}, "assault_method", "required"),
    ({"assault_method": "spoon"}, "assault_method", "not an ISTV category"),
    ({"location_type": "moon"}, "location_type", "not an ISTV category"),
])
def test_bad_rows(tmp_path, over, field, words):
    p = read(tmp_path, [istv_row("A1"), istv_row("A2", **over), istv_row("A3")])
    assert p.table["source_ref"].to_pylist() == ["RHW01:A1", "RHW01:A3"]
    (q,) = p.problems
    assert (q.line, q.field) == (3, field) and words in q.reason


def test_reference_reused_with_other_content(tmp_path):
    p = read(tmp_path, [istv_row("A1"), istv_row("A1"), istv_row("A1", location_type="home")])
    assert p.table["source_line"].to_pylist() == [2, 3]
    assert p.problems[0].field == "attendance_ref" and "line 2" in p.problems[0].reason


@pytest.mark.parametrize("column", [
    "NHS Number", "nhs_no", "Forename", "Surname", "Patient Name", "name", "DOB",
    "Date of Birth", "Postcode", "patient_postcode", "Address", "Telephone",
])
def test_personal_identifiers_refuse_the_file(tmp_path, column):
    header = [*ISTV_HEADER, column]
    path = write_csv(tmp_path / "pii.csv", header, [{**istv_row(), column: "x"}])
    with pytest.raises(SourceError) as e:
        read_istv(path)
    assert "no personal identifiers" in str(e.value) and column in str(e.value)
    assert e.value.line == 1 and e.value.field == column


def test_allowed_columns_are_not_personal():
    assert personal_columns(["site_name", "Hospital Name", "postcode_district",
                             "location_description", "weapon_name", *ISTV_HEADER]) == []


def test_vocabularies_cover_the_standard():
    assert list(METHODS) == ["body part", "blunt object", "knife or sharp object", "firearm",
                             "glass or bottle", "other", "unknown"]
    assert "licensed premises" in LOCATION_TYPES and "park or open space" in LOCATION_TYPES


def test_missing_column_empty_binary_header_only(tmp_path):
    path = write_csv(tmp_path / "x.csv", [h for h in ISTV_HEADER if h != "location_type"],
                     [istv_row()])
    with pytest.raises(SourceError, match="location_type"):
        read_istv(path)
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(SourceError, match="empty"):
        read_istv(tmp_path / "e.csv")
    (tmp_path / "b.csv").write_bytes(gzip.compress(b"site_code\n" * 100))
    with pytest.raises(SourceError):
        read_istv(tmp_path / "b.csv")
    p = read(tmp_path, [], name="h.csv")
    assert p.rows_in == 0


def test_cp1252(tmp_path):
    p = read(tmp_path, [istv_row(location_description="Café Rouge, £1 shop, Reading")],
             encoding="cp1252")
    assert p.table["location_description"].to_pylist() == ["Café Rouge, £1 shop, Reading"]
    assert p.table["geocode_level"].to_pylist() == ["place"]
    assert any("cp1252" in n for n in p.notes)


def test_malformed_row(tmp_path):
    path = write_csv(tmp_path / "m.csv", ISTV_HEADER, [istv_row("A1")])
    with open(path, "a") as f:
        f.write("RHW01,A2,2019-03-02 01:10\r\n")
    p = read_istv(path, now=NOW)
    assert_counts(p)
    assert p.problems[0].line == 3 and "malformed" in p.problems[0].reason


# ---- gazetteer -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, level, district", [
    ("Cowley Road, Oxford", "street", "Oxford"),
    ("On or near Cowley Road", "street", "Oxford"),  # unique and compact without a town
    ("cowley rd, OXFORD", "street", "Oxford"),
    ("RG1", "postcode_district", "Reading"),
    ("outside the station, RG1 1AA", "postcode_district", "Reading"),
    ("Oxford Road, RG1", "street", "Reading"),  # the postcode names the district
    ("High Wycombe", "place", "Wycombe"),
    ("High Street, Slough", "place", "Slough"),  # High Street spreads too far: the town
    ("High Street", "none", None),  # ambiguous without a town
    ("Oxford Road", "none", None),
    ("ZZ99", "none", None),
    ("", "none", None),
    ("somewhere", "none", None),
])
def test_gazetteer_levels(text, level, district):
    hit = gazetteer.load().locate(text)
    assert (hit.level, hit.district) == (level, district)
    assert (hit.lon is None) == (level == "none")
    if hit.lon is not None:
        assert -1.8 < hit.lon < -0.3 and 51.2 < hit.lat < 52.3  # Thames Valley


def test_gazetteer_key():
    assert gazetteer.key("Broad St.") == "broad street"
    assert gazetteer.key("St Aldate's") == "st aldate s"
    assert gazetteer.key("Henley-on-Thames") == "henley on thames"


def test_shipped_gazetteer_is_what_the_builder_makes(tmp_path):
    counts = gazetteer.build_gazetteer(tmp_path)
    assert counts["places.csv.gz"] >= 16 and counts["streets.csv.gz"] > 10_000
    for name in counts:
        assert (tmp_path / name).read_bytes() == asset("gazetteer", name).read_bytes(), name


# ---- property-based: generated files --------------------------------------------------------

CORRUPT = [{"site_code": "1"}, {"arrival_datetime": "31/06/2019 10:00"},
           {"assault_datetime": "2019-12-31 23:59"}, {"assault_method": "laser"},
           {"location_type": ""}, {"arrival_datetime": "2025-01-01 00:00"}]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(
    st.datetimes(datetime(2016, 1, 1), datetime(2019, 11, 30)),
    st.sampled_from([s for ss in METHODS.values() for s in ss]),
    st.sampled_from([s.upper() for ss in LOCATION_TYPES.values() for s in ss]),
    st.sampled_from(["", "RG1", "Cowley Road, Oxford", "High Street", "Slough", "x, y"]),
    st.booleans(),
    st.one_of(st.none(), st.sampled_from(CORRUPT))), min_size=1, max_size=30))
def test_generated_files(tmp_path, rows):
    data, want = [], []
    for i, (arrival, method, loc, desc, with_ref, corruption) in enumerate(rows):
        r = istv_row(f"A{i}" if with_ref else "", assault_datetime="",
                     arrival_datetime=arrival.strftime("%d/%m/%Y %H:%M"),
                     assault_method=method, location_type=loc, location_description=desc)
        if corruption:
            r.update(corruption)
        else:
            want.append(i + 2)
        data.append(r)
    p = read(tmp_path, data, name="gen.csv")
    assert p.table["source_line"].to_pylist() == want
    refs = p.table["source_ref"].to_pylist()
    assert len(refs) == len(set(refs))
