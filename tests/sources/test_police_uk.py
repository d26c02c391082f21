"""data.police.uk reader: real quirks, bad input, and the row-count invariant."""

from __future__ import annotations

import csv
import io
import string
from pathlib import Path

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vru.sources import police_uk
from vru.sources.base import Problem, SourceError
from vru.sources.csvfile import CsvInput, inspect_bytes

HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
          "LSOA name,Crime type,Last outcome category,Context")


def read_street(path: Path) -> tuple[pa.Table, list[Problem]]:
    con = duckdb.connect()
    inp = CsvInput(path, str(path), inspect_bytes(path))
    table, counts, problems, errors = police_uk.read_street(con, [inp])
    if errors:
        raise errors[str(path)]
    lines = table["source_line"].to_pylist()
    assert lines == sorted(lines), "rows come in file order"
    assert counts[str(path)] == table.num_rows + len(problems)
    return table, problems


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_real_month_reads_every_row(tmp_path, street_month_text):
    p = write(tmp_path, "2018-11-thames-valley-street.csv", street_month_text)
    table, problems = read_street(p)
    lines = street_month_text.count("\n") - 1
    assert table.num_rows + len(problems) == lines
    assert problems == []
    refs = table["source_ref"].to_pylist()
    assert len(set(refs)) == len(refs), "every row, ASB included, has its own identity"
    asb = [r for r, c in zip(refs, table["category"].to_pylist(), strict=True)
           if c == "Anti-social behaviour"]
    assert asb and all(r.startswith("h:") for r in asb)
    no_loc = sum(1 for v in table["lon"].to_pylist() if v is None)
    assert 0.05 * lines < no_loc < 0.2 * lines, "rows without location are kept"
    assert set(table["month"].to_pylist()) == {"2018-11"}
    # identity is stable: a second read gives the same keys
    table2, _ = read_street(p)
    assert table2["source_ref"].to_pylist() == refs


def row(**kw) -> str:
    base = {"Crime ID": "a" * 64, "Month": "2018-11", "Reported by": "Thames Valley Police",
            "Falls within": "Thames Valley Police", "Longitude": "-0.971", "Latitude": "51.456",
            "Location": "On or near Broad Street", "LSOA code": "E01016466",
            "LSOA name": "Reading 011A", "Crime type": "Robbery",
            "Last outcome category": "Under investigation", "Context": ""}
    base.update(kw)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(base.values())
    return buf.getvalue()


def test_bad_rows_are_quarantined_with_line_and_field(tmp_path):
    text = HEADER + "\n" + "".join([
        row(**{"Crime ID": "1" * 64}),
        row(**{"Crime ID": "2" * 64, "Longitude": "51.456", "Latitude": "-0.971"}),  # swapped
        row(**{"Crime ID": "3" * 64, "Longitude": "2.35", "Latitude": "48.85"}),  # Paris
        row(**{"Crime ID": "4" * 64, "Crime type": "Jaywalking"}),
        row(**{"Crime ID": "5" * 64, "Month": "2099-01"}),
        row(**{"Crime ID": "6" * 64, "Month": "Nov 2018"}),
        "only,three,fields\n",
        row(**{"Crime ID": "7" * 64, "Longitude": "abc"}),
        row(**{"Crime ID": "8" * 64, "Latitude": ""}),
        row(**{"Crime ID": "9" * 64, "Longitude": "", "Latitude": ""}),  # valid, unmapped
    ])
    p = write(tmp_path, "x-street.csv", text)
    table, problems = read_street(p)
    assert table.num_rows == 2
    by_line = {pr.line: pr for pr in problems}
    assert set(by_line) == {3, 4, 5, 6, 7, 8, 9, 10}
    assert "swapped" in by_line[3].reason and by_line[3].field == "Longitude/Latitude"
    assert "outside Great Britain" in by_line[4].reason
    assert by_line[5].field == "Crime type" and "Jaywalking" in by_line[5].reason
    assert "future" in by_line[6].reason
    assert by_line[7].field == "Month"
    assert "malformed" in by_line[8].reason and by_line[8].raw == "only,three,fields"
    assert by_line[9].field == "Longitude"
    assert "only one of" in by_line[10].reason


def test_cp1252_file_is_read_and_noted(tmp_path):
    text = HEADER + "\n" + row(**{"Location": "On or near Café £ Street"})
    p = write(tmp_path, "x-street.csv", text, encoding="cp1252")
    facts = inspect_bytes(p)
    assert facts.encoding == "cp1252" and facts.notes
    table, problems = read_street(p)
    assert problems == [] and table["location"][0].as_py() == "On or near Café £ Street"


def test_whole_file_errors_name_the_file(tmp_path):
    cases = {
        "empty-street.csv": b"",
        "bin-street.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00",
        "cols-street.csv": b"Month,Crime type\n2018-11,Robbery\n",
    }
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        try:
            read_street(p)
        except SourceError as e:
            assert name in str(e)
        else:
            raise AssertionError(f"{name} should be refused")


def test_repeated_crime_id_is_decided_by_the_lake(tmp_path):
    from vru.lake.loaders import ingest_police_uk

    text = HEADER + "\n" + row() + row() + row(**{"Crime type": "Burglary"})
    s = ingest_police_uk(tmp_path / "home", [write(tmp_path, "x-street.csv", text)]).summary()
    # the identical repeat is a duplicate; the one with other content is quarantined
    assert (s["added"], s["duplicates"], s["quarantined"]) == (1, 1, 1)


def test_kind_and_force_from_name(tmp_path):
    assert police_uk.kind_of(Path("2018-11-thames-valley-street.csv")) == "street"
    assert police_uk.kind_of(Path("2018-11-thames-valley-outcomes.csv")) == "outcomes"
    assert police_uk.kind_of(Path("2018-11-thames-valley-stop-and-search.csv")) == "stop_search"
    assert police_uk.force_from_name(Path("2018-11-thames-valley-stop-and-search.csv")) == \
        "Thames Valley Police"
    p = write(tmp_path, "renamed.csv", HEADER + "\n")
    assert police_uk.kind_of(p) == "street"


def csv_line(cells: list[str]) -> str:
    """Cells as one well-quoted CSV line (stray quotes are a dialect question: see below)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


cell = st.text(alphabet=string.ascii_letters + string.digits + " ,.-\"'£é", max_size=12)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.one_of(
    st.builds(lambda i, lo, la: row(**{"Crime ID": f"{i:064d}", "Longitude": f"{lo:.6f}",
                                       "Latitude": f"{la:.6f}"}),
              st.integers(0, 10**9), st.floats(-1.5, 0.5), st.floats(51.0, 52.5)),
    st.builds(lambda cells: csv_line(cells), st.lists(cell, min_size=0, max_size=14)),
), max_size=25))
def test_every_row_is_accounted_for(tmp_path, rows):
    p = write(tmp_path, "h-street.csv", HEADER + "\n" + "".join(rows))
    try:
        table, problems = read_street(p)
    except SourceError:
        return  # e.g. an unterminated quote: the whole file is refused with a reason
    n = 0 if table is None else table.num_rows
    physical = [r for r in csv.reader(io.StringIO("".join(rows))) if r]  # blank lines are no rows
    assert n + len(problems) == len(physical)


def test_identical_rows_without_id_get_ordinals(tmp_path):
    asb = row(**{"Crime ID": "", "Crime type": "Anti-social behaviour",
                 "Last outcome category": ""})
    other = row(**{"Crime ID": "", "Crime type": "Anti-social behaviour",
                   "Last outcome category": "", "Location": "On or near Oxford Road"})
    table, problems = read_street(write(tmp_path, "a-street.csv",
                                        HEADER + "\n" + asb + other + asb + asb))
    refs = table["source_ref"].to_pylist()  # in file order
    assert problems == []
    assert [r.rsplit(":", 1)[1] for r in refs] == ["0", "0", "1", "2"]
    assert refs[0].rsplit(":", 1)[0] == refs[2].rsplit(":", 1)[0] != refs[1].rsplit(":", 1)[0]
    again, _ = read_street(write(tmp_path, "a-street.csv",
                                 HEADER + "\n" + asb + other + asb + asb))
    assert again["source_ref"].to_pylist() == refs


def test_stray_quote_swallows_nothing_silently(tmp_path):
    # parsers disagree on a quote that opens mid-field; whatever DuckDB decides, the text of
    # the next row must be in an accepted row or in the quarantine, never dropped
    good = row(**{"Crime ID": "f" * 64})
    table, problems = read_street(write(tmp_path, "q-street.csv", HEADER + '\n "\n' + good))
    kept = "f" * 64 in table["source_ref"].to_pylist()
    assert kept or any("f" * 64 in p.raw for p in problems)


def test_two_files_in_one_scan_keep_their_own_line_numbers(tmp_path):
    a = write(tmp_path, "a-street.csv", HEADER + "\n" + row(**{"Crime ID": "a" * 64})
              + row(**{"Crime ID": "b" * 64}))
    b = write(tmp_path, "b-street.csv", HEADER + "\n" + "only,three,fields\n"
              + row(**{"Crime ID": "c" * 64}) + row(**{"Crime ID": "d" * 64, "Month": "x"}))
    con = duckdb.connect()
    inputs = [CsvInput(p, p.name, inspect_bytes(p)) for p in (a, b)]
    table, counts, problems, errors = police_uk.read_street(con, inputs)
    assert errors == {} and counts == {"a-street.csv": 2, "b-street.csv": 3}
    got = {(r["source_file"], r["source_line"]) for r in
           table.select(["source_file", "source_line"]).to_pylist()}
    assert got == {("a-street.csv", 2), ("a-street.csv", 3), ("b-street.csv", 3)}
    assert {(p.file, p.line) for p in problems} == {("b-street.csv", 2), ("b-street.csv", 4)}


# -- other police.uk files: kind from the header, force from name, rows or the caller --------

STOP_HEADER = ("Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,"
               "Gender,Age range,Self-defined ethnicity,Officer-defined ethnicity,Legislation,"
               "Object of search,Outcome,Outcome linked to object of search,"
               "Removal of more than just outer clothing")
OUTCOME_HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,"
                  "LSOA code,LSOA name,Outcome type")


def located_crimes(street_month_text: str, n: int) -> list[list[str]]:
    """The first ``n`` real crimes of the month that have an id and a point."""
    rows = csv.reader(io.StringIO(street_month_text.lstrip("\ufeff").split("\n", 1)[1]))
    return [r for r in rows if r and r[0] and r[4]][:n]


def stop_file(crimes: list[list[str]], extra: str | None = None) -> str:
    """Stop-and-search rows in the published layout at real crimes' points; ``extra`` adds
    a 'Falls within' column holding it."""
    head = STOP_HEADER + (",Falls within" if extra is not None else "")
    lines = [head]
    for i, c in enumerate(crimes):
        lines.append(csv_line([
            "Person search", f"2018-11-{1 + i % 28:02d}T21:15:00+00:00", "False", "", c[5],
            c[4], "Male", "18-24", "", "White", "Misuse of Drugs Act 1971 (section 23)",
            "Controlled drugs", "A no further action disposal", "False", "False",
            *([extra] if extra is not None else [])]).rstrip("\n"))
    return "\n".join(lines) + "\n"


def outcome_file(crimes: list[list[str]], falls_within: bool = True) -> str:
    lines = [OUTCOME_HEADER]
    for c in crimes:
        force = c[3] if falls_within else ""
        lines.append(csv_line([c[0], "2019-01", force, force, c[4], c[5], c[6], c[7], c[8],
                               "Suspect charged"]).rstrip("\n"))
    return "\n".join(lines) + "\n"


def lake_rows(home: Path, table: str) -> list[dict]:
    from deltalake import DeltaTable

    return DeltaTable(str(home / "lake" / table)).to_pyarrow_table(
        columns=["force", "month", "source_file"]).to_pylist()


def test_kind_from_header_whatever_the_name(tmp_path, street_month_text):
    crimes = located_crimes(street_month_text, 3)
    cases = {"searches.csv": ("\ufeff" + stop_file(crimes), "stop_search"),
             "outcomes-jan.csv": (outcome_file(crimes), "outcomes"),
             "QUOTED.CSV": ('"Crime ID","Month","Crime type"\n', "street"),
             # data.police.uk's name for another kind: what the file holds decides
             "2018-11-thames-valley-street.csv": (stop_file(crimes), "stop_search"),
             "2018-11-thames-valley-outcomes.csv": ("not,a,police,file\n", "outcomes"),
             "notes.csv": ("a,b\n", None)}
    for name, (text, kind) in cases.items():
        assert police_uk.kind_of(write(tmp_path, name, text)) == kind, name


def test_renamed_stop_and_search_needs_a_force(tmp_path, street_month_text):
    from vru.lake.loaders import ingest_police_uk

    crimes = located_crimes(street_month_text, 20)
    p = write(tmp_path, "searches-nov.csv", stop_file(crimes))
    s = ingest_police_uk(tmp_path / "a", [p]).summary()
    assert s["accepted"] == 0 and s["files"][0]["status"] == "rejected"
    assert "--force" in s["files"][0]["message"]
    s = ingest_police_uk(tmp_path / "b", [p], force="Thames Valley Police").summary()
    assert (s["rows_in"], s["accepted"], s["quarantined"]) == (20, 20, 0)
    got = lake_rows(tmp_path / "b", "stop_search")
    assert {(r["force"], r["month"]) for r in got} == {("Thames Valley Police", "2018-11")}


def test_stop_and_search_force_from_its_column_then_name(tmp_path, street_month_text):
    from vru.lake.loaders import ingest_police_uk

    crimes = located_crimes(street_month_text, 10)
    # the file's column beats the caller's --force
    p = write(tmp_path, "searches.csv", stop_file(crimes, extra="Surrey Police"))
    s = ingest_police_uk(tmp_path / "a", [p], force="Thames Valley Police").summary()
    assert s["accepted"] == 10
    assert {r["force"] for r in lake_rows(tmp_path / "a", "stop_search")} == {"Surrey Police"}
    # a blank cell in the column falls back on the caller's force, else is quarantined
    text = stop_file(crimes, extra="").replace(",False,False,\n", ",False,False,Kent Police\n", 1)
    p = write(tmp_path, "searches-blank.csv", text)
    s = ingest_police_uk(tmp_path / "b", [p]).summary()
    assert (s["accepted"], s["quarantined"]) == (1, 9)
    reasons = vru_quarantine(tmp_path / "b")
    assert reasons == {("Falls within", "--force")}
    # data.police.uk's name says it for the whole file
    p = write(tmp_path, "2018-11-surrey-stop-and-search.csv", stop_file(crimes))
    ingest_police_uk(tmp_path / "c", [p], force="Thames Valley Police")
    assert {r["force"] for r in lake_rows(tmp_path / "c", "stop_search")} == {"Surrey Police"}


def vru_quarantine(home: Path) -> set[tuple[str, str]]:
    from deltalake import DeltaTable

    rows = DeltaTable(str(home / "lake" / "quarantine")).to_pyarrow_table().to_pylist()
    return {(r["field"], "--force" if "--force" in r["reason"] else r["reason"]) for r in rows}


def test_renamed_outcomes_file_takes_its_force_from_the_rows(tmp_path, street_month_text):
    from vru.lake.loaders import ingest_police_uk

    crimes = located_crimes(street_month_text, 12)
    home = tmp_path / "home"
    ingest_police_uk(home, [write(tmp_path, "2018-11-thames-valley-street.csv",
                                  street_month_text)])
    s = ingest_police_uk(home, [write(tmp_path, "tv-outcomes.csv", outcome_file(crimes))]
                         ).summary()
    assert (s["rows_in"], s["accepted"], s["added"]) == (12, 12, 12)
    assert {r["force"] for r in lake_rows(home, "outcomes")} == {"Thames Valley Police"}
    # rows that name no force: the caller's, else quarantined
    blank = outcome_file(crimes, falls_within=False)
    s = ingest_police_uk(tmp_path / "b", [write(tmp_path, "o.csv", blank)]).summary()
    assert (s["accepted"], s["quarantined"]) == (0, 12)
    s = ingest_police_uk(tmp_path / "c", [write(tmp_path, "o.csv", blank)],
                         force="Thames Valley Police").summary()
    assert (s["accepted"], s["quarantined"]) == (12, 0)


def test_street_rows_without_falls_within(tmp_path):
    text = HEADER + "\n" + "".join([
        row(**{"Crime ID": "1" * 64, "Falls within": "", "Reported by": "Surrey Police"}),
        row(**{"Crime ID": "2" * 64, "Falls within": "", "Reported by": ""}),
        row(**{"Crime ID": "3" * 64}),
    ])
    p = write(tmp_path, "x-street.csv", text)
    table, problems = read_street(p)
    assert table["force"].to_pylist() == ["Surrey Police", "Thames Valley Police"]
    assert [(pr.line, pr.field) for pr in problems] == [(3, "Falls within")]
    assert "--force" in problems[0].reason
    con = duckdb.connect()
    inp = CsvInput(p, p.name, inspect_bytes(p))
    table, _, problems, _ = police_uk.read_street(con, [inp], force="Kent Police")
    assert problems == []
    assert table["force"].to_pylist() == ["Surrey Police", "Kent Police", "Thames Valley Police"]
