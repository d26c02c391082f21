"""Tests of the generic partner CSV reader."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.sources.helpers_readers import NOW, assert_counts, good_contract, write_csv

from vru.sources.base import SourceError
from vru.sources.contract import contract_from_dict
from vru.sources.partner import read_partner

HEADER = ["pupil_id", "exclusion_type", "exclusion_date", "days", "score", "sen", "recorded_at"]


@pytest.fixture(scope="module")
def contract():
    return contract_from_dict(good_contract(), "c.toml")


def row(pid="P1", **over):
    r = {"pupil_id": pid, "exclusion_type": "fixed-term", "exclusion_date": "2019-01-05",
         "days": "3", "score": "1,234.5", "sen": "Y", "recorded_at": "05/01/2019 09:30"}
    r.update(over)
    return r


def read(tmp_path, contract, rows, header=HEADER, name="p.csv", **kw):
    path = write_csv(tmp_path / name, header, rows, **kw)
    p = read_partner(path, contract, now=NOW)
    assert_counts(p)
    return p


def test_good_file(tmp_path, contract):
    p = read(tmp_path, contract, [row(), row("P2", exclusion_type="Permanent", days="", sen="",
                                             score="", recorded_at="")])
    assert p.kind == "partner:school_exclusions" and not p.problems
    assert p.table.schema == contract.arrow_schema()
    a, b = p.table.to_pylist()
    assert a == {"pupil_id": "P1", "exclusion_type": "fixed-term",
                 "exclusion_date": date(2019, 1, 5), "days": 3, "score": 1234.5, "sen": True,
                 "recorded_at": datetime(2019, 1, 5, 9, 30), "source_file": "p.csv",
                 "source_line": 2}
    assert b["exclusion_type"] == "permanent"  # the contract's spelling
    assert b["days"] is None and b["sen"] is None


@pytest.mark.parametrize("over, field, words", [
    ({"pupil_id": ""}, "pupil_id", "required"),
    ({"exclusion_type": "expelled"}, "exclusion_type", "not an allowed value"),
    ({"exclusion_date": "31/02/2019"}, "exclusion_date", "is not a date"),
    ({"exclusion_date": "2030-01-01"}, "exclusion_date", "in the future"),
    ({"exclusion_date": "1819-01-01"}, "exclusion_date", "before 1900"),
    ({"days": "two"}, "days", "not a whole number"),
    ({"days": "2.5"}, "days", "not a whole number"),
    ({"score": "1,23"}, "score", "not a number"),
    ({"sen": "sometimes"}, "sen", "yes/no"),
    ({"recorded_at": "9:30"}, "recorded_at", "not a date-time"),
])
def test_bad_rows(tmp_path, contract, over, field, words):
    p = read(tmp_path, contract, [row("P1"), row("P2", **over)])
    assert p.table["pupil_id"].to_pylist() == ["P1"]
    (q,) = p.problems
    assert (q.line, q.field) == (3, field) and words in q.reason


def test_undeclared_columns_are_dropped_with_a_note(tmp_path, contract):
    header = ["Pupil ID", "home_address", *HEADER[1:]]
    p = read(tmp_path, contract, [{**row(), "Pupil ID": "P1", "home_address": "1 High St"}],
             header=header)
    assert "home_address" not in p.table.column_names
    assert p.table["pupil_id"].to_pylist() == ["P1"]
    assert any("'home_address'" in n and "dropped" in n for n in p.notes)


def test_optional_column_absent(tmp_path, contract):
    header = [h for h in HEADER if h != "score"]
    p = read(tmp_path, contract, [row()], header=header)
    assert p.table["score"].to_pylist() == [None]
    assert any("score" in n and "absent" in n for n in p.notes)


def test_required_column_missing(tmp_path, contract):
    path = write_csv(tmp_path / "p.csv", HEADER[1:], [row()])
    with pytest.raises(SourceError, match="pupil_id"):
        read_partner(path, contract)


def test_cp1252_and_header_only(tmp_path, contract):
    p = read(tmp_path, contract, [row("Zoë £5")], encoding="cp1252")
    assert p.table["pupil_id"].to_pylist() == ["Zoë £5"]
    assert p.notes and "cp1252" in p.notes[0]
    p = read(tmp_path, contract, [], name="h.csv")
    assert p.rows_in == 0 and any("header only" in n for n in p.notes)


def test_empty_and_binary(tmp_path, contract):
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(SourceError, match="empty"):
        read_partner(tmp_path / "e.csv", contract)
    (tmp_path / "b.csv").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(SourceError, match="binary"):
        read_partner(tmp_path / "b.csv", contract)


CORRUPT = [{"pupil_id": " "}, {"exclusion_type": "expelled"}, {"exclusion_date": "2019-02-29"},
           {"days": "1.5"}, {"sen": "x"}, {"score": "1..2"}, {"recorded_at": "2019-13-01 10:00"}]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["fixed-term", "PERMANENT"]),
                          st.dates(date(2000, 1, 1), date(2020, 5, 1)),
                          st.one_of(st.none(), st.sampled_from(CORRUPT))),
                min_size=1, max_size=30))
def test_generated_files(tmp_path, contract, rows):
    data, want = [], []
    for i, (days, kind, d, corruption) in enumerate(rows):
        r = row(f"P{i}", days=f"{days:,}", exclusion_type=kind,
                exclusion_date=d.strftime("%d/%m/%Y"))
        if corruption:
            r.update(corruption)
        else:
            want.append(f"P{i}")
        data.append(r)
    p = read(tmp_path, contract, data, name="gen.csv")
    assert p.table["pupil_id"].to_pylist() == want
