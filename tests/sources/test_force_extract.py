"""Tests of the police force crime extract reader."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.sources.helpers_readers import FORCE_HEADER, NOW, assert_counts, force_row, write_csv

from vru.sources.base import SourceError
from vru.sources.canonical import INCIDENTS
from vru.sources.force_extract import (
    AGE_BANDS,
    HO_OUTCOMES,
    POLICE_UK_CATEGORIES,
    iter_force_extract,
    normalise_code,
    offence_codes,
    read_force_extract,
)


def read(tmp_path, rows, header=FORCE_HEADER, name="extract.csv", **kw):
    path = write_csv(tmp_path / name, header, rows, **kw)
    p = read_force_extract(path, now=NOW)
    assert_counts(p)
    return p


def test_offence_code_mapping_uses_police_uk_spelling():
    codes = offence_codes()
    cats = set(codes["category"].to_pylist())
    assert cats == set(POLICE_UK_CATEGORIES) - {"Anti-social behaviour"}
    keys = codes["code"].to_pylist()
    assert len(keys) == len(set(keys))
    lookup = dict(zip(keys, codes["category"].to_pylist(), strict=True))
    assert lookup["8N"] == "Violence and sexual offences"
    assert lookup["34B"] == "Robbery"
    assert lookup["4.10"] == lookup["1"] == "Violence and sexual offences"  # split homicide
    assert lookup["44"] == "Bicycle theft"
    assert lookup["10D"] == "Possession of weapons"


def test_outcome_table_has_the_22_types():
    assert sorted(HO_OUTCOMES) == list(range(1, 23))
    assert HO_OUTCOMES[1] == "Charged/summonsed"
    assert HO_OUTCOMES[18].startswith("Investigation complete")


@pytest.mark.parametrize("raw, key", [("8n", "8N"), (" 08N ", "8N"), ("105 a", "105A"),
                                      ("4.10", "4.10"), ("0", "0"), ("AF", "AF")])
def test_normalise_code(raw, key):
    assert normalise_code(raw) == key


def test_good_file(tmp_path):
    rows = [
        force_row("43/1/19"),
        force_row("43/2/19", ho_offence_code="034b", committed_from="01/03/2019 22:15",
                  committed_to="02/03/2019 01:00", longitude="", latitude="",
                  easting="471,500", northing="173500", knife_flag="", outcome_type="",
                  outcome_date="", victim_age_band="65 +"),
        force_row("43/3/19", committed_from="2019-03-04", longitude="", latitude="",
                  location_description="", outcome_type="18", domestic_flag="yes"),
    ]
    p = read(tmp_path, rows)
    assert p.kind == "force_extract" and p.problems == [] and p.rows_in == 3
    assert p.table.schema == INCIDENTS
    r = p.table.to_pylist()
    assert r[0]["source"] == "force_extract" and r[0]["source_ref"] == "43/1/19"
    assert r[0]["category"] == "Violence and sexual offences"
    assert r[0]["offence_group"] == "Violence against the person"
    assert r[0]["time_precision"] == "minute" and r[0]["occurred_to"] is None
    assert r[0]["month"] == "2019-03"
    assert (r[0]["lon"], r[0]["lat"], r[0]["easting"]) == (-0.971, 51.455, None)
    assert r[0]["knife"] is True and r[0]["domestic"] is False
    assert (r[0]["outcome"], r[0]["outcome_code"]) == ("Charged/summonsed", "1")
    assert r[0]["outcome_date"] == date(2019, 4, 2)
    assert r[0]["location"] == "Broad Street"
    assert (r[0]["source_file"], r[0]["source_line"]) == ("extract.csv", 2)
    assert r[1]["category"] == "Robbery" and r[1]["offence_code"] == "34B"
    assert r[1]["time_precision"] == "window"
    assert r[1]["occurred_to"] == datetime(2019, 3, 2, 1, 0)
    assert (r[1]["easting"], r[1]["northing"], r[1]["lon"]) == (471500.0, 173500.0, None)
    assert r[1]["knife"] is None and r[1]["outcome"] is None
    assert r[1]["victim_age_band"] == "65+"
    assert r[2]["time_precision"] == "day" and r[2]["lon"] is None
    assert r[2]["location"] is None and r[2]["domestic"] is True
    assert r[2]["outcome"].startswith("Investigation complete")


@pytest.mark.parametrize("over, field, words", [
    ({"crime_ref": ""}, "crime_ref", "required"),
    ({"force": " "}, "force", "required"),
    ({"ho_offence_code": ""}, "ho_offence_code", "required"),
    ({"ho_offence_code": "8Z"}, "ho_offence_code", "unknown Home Office offence code '8Z'"),
    ({"committed_from": ""}, "committed_from", "required"),
    ({"committed_from": "2019-02-30 10:00"}, "committed_from", "not a valid date"),
    ({"committed_from": "1019-03-01 10:00"}, "committed_from", "before 1900"),
    ({"committed_from": "2020-06-03 10:00"}, "committed_from", "in the future"),
    ({"committed_to": "2019-03-01 20:00"}, "committed_to", "before committed_from"),
    ({"committed_to": "soon"}, "committed_to", "not a valid date"),
    ({"longitude": "51.455", "latitude": "-0.971"}, "longitude/latitude", "look swapped"),
    ({"longitude": "10.5", "latitude": "48.1"}, "longitude/latitude", "outside Great Britain"),
    ({"longitude": "", "latitude": "51.4"}, "longitude/latitude", "only one of"),
    ({"longitude": "west"}, "longitude", "not a number"),
    ({"easting": "800000", "northing": "1250000", "longitude": "", "latitude": ""},
     "easting/northing", "outside Great Britain"),
    ({"easting": "1200000", "northing": "473500", "longitude": "", "latitude": ""},
     "easting/northing", "look swapped"),
    ({"knife_flag": "maybe"}, "knife_flag", "not a yes/no flag"),
    ({"domestic_flag": "2"}, "domestic_flag", "not a yes/no flag"),
    ({"outcome_type": "23"}, "outcome_type", "1 to 22"),
    ({"outcome_type": "charged"}, "outcome_type", "1 to 22"),
    ({"outcome_date": "2019-02-01"}, "outcome_date", "before the crime"),
    ({"outcome_date": "32/01/2019"}, "outcome_date", "not a valid date"),
    ({"outcome_date": "2021-01-01"}, "outcome_date", "in the future"),
    ({"victim_age_band": "old"}, "victim_age_band", "unknown victim_age_band 'old'"),
])
def test_bad_rows_are_quarantined_naming_the_field(tmp_path, over, field, words):
    p = read(tmp_path, [force_row("43/1/19"), force_row("43/2/19", **over),
                        force_row("43/3/19")])
    assert p.table["source_ref"].to_pylist() == ["43/1/19", "43/3/19"]
    (q,) = p.problems
    assert (q.line, q.field) == (3, field)
    assert words in q.reason
    assert "Thames Valley Police" in q.raw or "TVP" in q.raw or over.get("force") == " "


def test_repeated_reference(tmp_path):
    rows = [force_row("43/1/19"), force_row("43/1/19"),
            force_row("43/1/19", offence_description="Assault"), force_row("43/2/19")]
    p = read(tmp_path, rows)
    # an identical repeat is kept (the lake decides duplicates); a different one is held
    assert p.table["source_line"].to_pylist() == [2, 3, 5]
    (q,) = p.problems
    assert q.line == 4 and q.field == "crime_ref" and "line 2" in q.reason


def test_repeated_reference_after_a_bad_first_row(tmp_path):
    rows = [force_row("43/1/19", committed_from="x"), force_row("43/1/19")]
    p = read(tmp_path, rows)
    assert p.table["source_line"].to_pylist() == [3]
    assert p.problems[0].field == "committed_from"


def test_streaming_batches_and_repeats_across_batches(tmp_path):
    rows = [force_row(f"43/{i}/19") for i in range(400)]
    rows.append(force_row("43/5/19", offence_description="changed"))
    path = write_csv(tmp_path / "big.csv", FORCE_HEADER, rows)
    batches = list(iter_force_extract(path, now=NOW, block_size=4096))
    assert len(batches) > 5
    accepted = sum(t.num_rows for t, _ in batches)
    problems = [q for _, ps in batches for q in ps]
    assert accepted == 400 and len(problems) == 1
    assert problems[0].line == 402 and "line 7" in problems[0].reason
    whole = read_force_extract(path, now=NOW)
    assert whole.table.num_rows == 400


def test_bom_and_header_spellings(tmp_path):
    header = ["Crime Reference", " Force ", "HO Offence Code", "Committed From", "Longitude",
              "Latitude"]
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeff".encode() + (",".join(header) + "\n"
                     "43/1/19,TVP,8N,2019-03-01 22:15,-0.97,51.45\n").encode())
    p = read_force_extract(path, now=NOW)
    assert p.table["source_ref"].to_pylist() == ["43/1/19"]


def test_cp1252_file(tmp_path):
    rows = [force_row(offence_description="Theft of £50 from café", location_description="Café")]
    p = read(tmp_path, rows, encoding="cp1252")
    assert p.table["location"].to_pylist() == ["Café"]
    assert any("cp1252" in n for n in p.notes)


def test_malformed_row(tmp_path):
    path = write_csv(tmp_path / "m.csv", FORCE_HEADER, [force_row("43/1/19")])
    with open(path, "a") as f:
        f.write("43/2/19,TVP,8N,too,few\n")
        f.write(",".join(force_row("43/3/19").values()) + "\n")
    p = read_force_extract(path, now=NOW)
    assert_counts(p)
    assert p.table["source_line"].to_pylist() == [2, 4]
    (q,) = p.problems
    assert q.line == 3 and "malformed" in q.reason


def test_missing_column(tmp_path):
    header = [h for h in FORCE_HEADER if h != "ho_offence_code"]
    path = write_csv(tmp_path / "x.csv", header, [force_row()])
    with pytest.raises(SourceError) as e:
        read_force_extract(path)
    assert "ho_offence_code" in str(e.value) and "x.csv" in str(e.value)


def test_no_coordinate_columns(tmp_path):
    header = [h for h in FORCE_HEADER if h not in ("longitude", "latitude", "easting",
                                                   "northing")]
    path = write_csv(tmp_path / "x.csv", header, [force_row()])
    with pytest.raises(SourceError, match="easting"):
        read_force_extract(path)


def test_wrong_kind_of_file(tmp_path):
    path = tmp_path / "street.csv"
    path.write_text("Crime ID,Month,Reported by\n1,2019-01,TVP\n")
    with pytest.raises(SourceError, match="missing column"):
        read_force_extract(path)


def test_empty_binary_and_header_only(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(SourceError, match="empty"):
        read_force_extract(tmp_path / "empty.csv")
    (tmp_path / "bin.csv").write_bytes(b"PK\x03\x04\x00\x00\x01\x02" * 50)
    with pytest.raises(SourceError, match="binary"):
        read_force_extract(tmp_path / "bin.csv")
    p = read(tmp_path, [], name="header.csv")
    assert p.rows_in == 0 and p.table.schema == INCIDENTS
    assert any("header only" in n for n in p.notes)


def test_unclosed_quote_is_an_error_or_a_quarantine(tmp_path):
    path = write_csv(tmp_path / "q.csv", FORCE_HEADER, [force_row("43/1/19")])
    with open(path, "a") as f:
        f.write('43/2/19,TVP,8N,"unclosed,2019-03-01 10:00,,,,-0.9,51.4,,,,,,\n')
    try:
        p = read_force_extract(path, now=NOW)
    except SourceError as e:
        assert "q.csv" in str(e)
    else:
        assert_counts(p)
        assert p.table["source_ref"].to_pylist() == ["43/1/19"]


# ---- property-based: generated files --------------------------------------------------

CORRUPTIONS = [
    {"ho_offence_code": "ZZ9"}, {"committed_from": "2019-02-31 10:00"},
    {"committed_from": "2031-01-01 10:00"}, {"longitude": "51.4", "latitude": "-0.9"},
    {"longitude": "20.0"}, {"knife_flag": "perhaps"}, {"victim_age_band": "teen"},
    {"outcome_type": "0"}, {"crime_ref": ""}, {"committed_to": "2014-12-31 00:00"},
    {"latitude": "north"},
]

valid_rows = st.fixed_dictionaries({
    "ho_offence_code": st.sampled_from(["8N", "105A", "34B", "44", "58C", "92D", "10D", "46"]),
    "committed_from": st.datetimes(datetime(2015, 1, 1), datetime(2020, 5, 1)).map(
        lambda d: d.strftime(["%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"][d.minute % 2])),
    "longitude": st.floats(-1.6, -0.5).map(lambda x: f"{x:.5f}"),
    "latitude": st.floats(51.3, 52.1).map(lambda x: f"{x:.5f}"),
    "knife_flag": st.sampled_from(["Y", "N", "", "yes"]),
    "victim_age_band": st.sampled_from(list(AGE_BANDS) + [""]),
    "location_description": st.text(st.characters(blacklist_categories=("Cs",),
                                                  blacklist_characters="\x00"), max_size=15),
    "outcome_type": st.sampled_from(["", "1", "18"]),
    "outcome_date": st.just(""),
})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(valid_rows, st.one_of(st.none(), st.sampled_from(CORRUPTIONS))),
                min_size=1, max_size=40))
def test_generated_files_accept_exactly_the_valid_rows(tmp_path, rows):
    data, want = [], []
    for i, (fields, corruption) in enumerate(rows):
        row = force_row(f"43/{i}/19", **fields)
        if corruption:
            row.update(corruption)
        else:
            want.append(f"43/{i}/19")
        data.append(row)
    p = read(tmp_path, data, name="gen.csv")
    assert p.table["source_ref"].to_pylist() == want
    assert len(p.problems) == len(rows) - len(want)
    assert pa.compute.all(pa.compute.is_valid(p.table["category"])).as_py() in (True, None)
