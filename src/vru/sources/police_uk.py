"""data.police.uk street, outcomes and stop-and-search CSVs → canonical Arrow rows.

Contract (docs/formats.md): the files of a data.police.uk custom download. Identity of a
street row is its Crime ID; anti-social behaviour rows have none, so theirs is a key made
from their content and their ordinal among identical rows of the file. Month precision only;
coordinates are the anonymised map points as published.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vru.sources import canonical
from vru.sources import values as v
from vru.sources.base import Problem, SourceError
from vru.sources.csvfile import FileFacts, inspect_bytes, read_batches

SOURCE = "police_uk"

# Crime types data.police.uk publishes (the last two were merged away in 2013).
CATEGORIES = frozenset({
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs",
    "Other crime", "Other theft", "Possession of weapons", "Public order", "Robbery",
    "Shoplifting", "Theft from the person", "Vehicle crime", "Violence and sexual offences",
    "Violent crime", "Public disorder and weapons",
})

STREET_COLUMNS = {
    "crime_id": ["Crime ID"], "month": ["Month"], "reported_by": ["Reported by"],
    "falls_within": ["Falls within"], "lon": ["Longitude"], "lat": ["Latitude"],
    "location": ["Location"], "lsoa_code": ["LSOA code"], "lsoa_name": ["LSOA name"],
    "crime_type": ["Crime type"], "outcome": ["Last outcome category"], "context": ["Context"],
}
STREET_REQUIRED = ["crime_id", "month", "falls_within", "lon", "lat", "crime_type"]

OUTCOME_COLUMNS = {
    "crime_id": ["Crime ID"], "month": ["Month"], "reported_by": ["Reported by"],
    "falls_within": ["Falls within"], "lon": ["Longitude"], "lat": ["Latitude"],
    "location": ["Location"], "lsoa_code": ["LSOA code"], "lsoa_name": ["LSOA name"],
    "outcome": ["Outcome type"],
}
OUTCOME_REQUIRED = ["crime_id", "month", "falls_within", "outcome"]

STOP_COLUMNS = {
    "type": ["Type"], "date": ["Date"], "part_of_operation": ["Part of a policing operation"],
    "operation": ["Policing operation"], "lat": ["Latitude"], "lon": ["Longitude"],
    "gender": ["Gender"], "age_range": ["Age range"],
    "self_defined_ethnicity": ["Self-defined ethnicity"],
    "officer_defined_ethnicity": ["Officer-defined ethnicity"], "legislation": ["Legislation"],
    "object_of_search": ["Object of search"], "outcome": ["Outcome"],
    "outcome_linked": ["Outcome linked to object of search"],
    "removal_of_clothing": ["Removal of more than just outer clothing"],
}
STOP_REQUIRED = ["type", "date", "lat", "lon"]

KINDS = ("street", "outcomes", "stop_search")
_NAME = re.compile(r"(\d{4}-\d{2})-(.+?)-(street|outcomes|stop-and-search)\.csv(\.gz)?$", re.I)
_LSOA = r"^[EW]01\d{6}$"
_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


def kind_of(path: Path) -> str | None:
    """File kind from its data.police.uk name, else from its header; None if neither fits."""
    m = _NAME.search(path.name)
    if m:
        return {"street": "street", "outcomes": "outcomes",
                "stop-and-search": "stop_search"}[m.group(3).lower()]
    try:
        with open(path, "rb") as f:
            head = f.read(4096).decode("utf-8", "replace").lower()
    except OSError:
        return None
    first = head.splitlines()[0] if head else ""
    if "crime type" in first and "crime id" in first:
        return "street"
    if "outcome type" in first and "crime id" in first:
        return "outcomes"
    if "object of search" in first:
        return "stop_search"
    return None


def force_from_name(path: Path) -> str | None:
    """'2018-11-thames-valley-stop-and-search.csv' → 'Thames Valley Police'."""
    m = _NAME.search(path.name)
    if not m:
        return None
    slug = m.group(2)
    special = {"metropolitan": "Metropolitan Police Service", "btp": "British Transport Police",
               "city-of-london": "City of London Police", "police-service-of-northern-ireland":
               "Police Service of Northern Ireland"}
    if slug in special:
        return special[slug]
    words = [w if w in ("and", "of") else w.capitalize() for w in slug.split("-")]
    name = " ".join(words)
    return name if name.endswith(("Police", "Constabulary")) else f"{name} Police"


def _current_month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def _month(f: v.Faults, t: pa.Table) -> pa.Array:
    """The Month column, checked: YYYY-MM and not in the future."""
    m = v.column(t, "month")
    ok = v.mask(pc.match_substring_regex(m, _MONTH))
    f.add(~ok, "Month", lambda i: f"month {v.text_at(m, i)!r} is not YYYY-MM")
    f.add(ok & v.mask(pc.greater(m, _current_month())), "Month",
          lambda i: f"month {v.text_at(m, i)} is in the future")
    return m


def _accept(f: v.Faults, out: pa.Table, t: pa.Table, records: np.ndarray, name: str,
            problems: list[Problem]) -> tuple[pa.Table, np.ndarray]:
    """Rows that passed every check; the others become problems quoting the raw row."""
    problems.extend(f.problems(name, records, t))
    if not f.bad.any():
        return out, records
    keep = ~f.bad
    return out.filter(pa.array(keep)), records[keep]


def _constant(value: str, n: int) -> pa.Array:
    return pa.array(np.full(n, value, dtype=object), pa.string())


def iter_street(path: Path, facts: FileFacts, problems: list[Problem], name: str | None = None
                ) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Yield (canonical incidents rows, record numbers) per block of a street file.

    Rows that fail a check are appended to ``problems``; ``rows_in`` is the sum of rows
    yielded plus problems. A Crime ID repeated with other content is left to the lake,
    which sees every file of the batch and the rows it already holds.
    """
    asb_seen: dict[str, int] = {}  # content key → identical rows seen so far in this file
    name = name or str(path)
    for batch in read_batches(path, STREET_COLUMNS, STREET_REQUIRED, facts, problems):
        t = batch.table
        n = t.num_rows
        f = v.Faults(n)
        month = _month(f, t)
        ctype = v.column(t, "crime_type")
        f.add(v.is_blank(t["falls_within"]), "Falls within",
              "no force in 'Falls within'; every data.police.uk row names its force")
        f.add(~v.mask(pc.is_in(ctype, value_set=pa.array(sorted(CATEGORIES)))), "Crime type",
              lambda i, c=ctype: f"crime type {v.text_at(c, i)!r} is not a data.police.uk category")
        lon, lat = v.coordinate_pair(f, v.column(t, "lon"), v.column(t, "lat"),
                                     "Longitude", "Latitude")
        lsoa = v.null_if_blank(v.column(t, "lsoa_code"))
        f.add(~v.mask(pc.fill_null(pc.match_substring_regex(lsoa, _LSOA), True)), "LSOA code",
              lambda i, c=lsoa: f"LSOA code {v.text_at(c, i)!r} is not an LSOA (E01…/W01… + 6 "
                        "digits)")
        out = pa.table({
            "source": _constant(SOURCE, n),
            "crime_id": v.null_if_blank(t["crime_id"]),
            "force": v.null_if_blank(t["falls_within"]),
            "month": month,
            "time_precision": _constant("month", n),
            "category": ctype,
            "lon": lon, "lat": lat,
            "location": v.null_if_blank(v.column(t, "location")),
            "lsoa11cd": lsoa,
            "outcome": v.null_if_blank(v.column(t, "outcome")),
            "context": v.null_if_blank(v.column(t, "context")),
        })
        out, records = _accept(f, out, t, batch.records, name, problems)
        out = out.append_column("source_ref", _street_keys(out, asb_seen)).drop_columns(
            ["crime_id"])
        out = out.append_column("source_file", _constant(name, out.num_rows))
        out = out.append_column("source_line", pa.array(records, pa.int64()))
        yield canonical.conform(out, canonical.INCIDENTS), records


_CONTENT_SQL = """
SELECT md5(concat_ws('|', coalesce(force,''), month, coalesce(CAST(lon AS VARCHAR),''),
       coalesce(CAST(lat AS VARCHAR),''), coalesce(location,''), coalesce(lsoa11cd,''), category,
       coalesce(outcome,''), coalesce(context,''))) AS h
FROM t
"""


def _street_keys(out: pa.Table, asb_seen: dict[str, int]) -> pa.Array:
    """source_ref for each row: the Crime ID, or 'h:' + content hash + ordinal among
    identical rows of the file for rows without one (anti-social behaviour)."""
    con = duckdb.connect()
    con.register("t", out.select(["force", "month", "lon", "lat", "location", "lsoa11cd",
                                  "category", "outcome", "context"]))
    content = con.sql(_CONTENT_SQL).to_arrow_table()["h"].combine_chunks()
    con.close()
    no_id = np.asarray(pc.is_null(out["crime_id"]), dtype=bool)
    if not no_id.any():
        return out["crime_id"].combine_chunks()
    made = _content_keys("h", content.filter(pa.array(no_id)), asb_seen)
    keys = np.asarray(out["crime_id"].to_numpy(zero_copy_only=False), dtype=object)
    keys[no_id] = made.to_numpy(zero_copy_only=False)
    return pa.array(keys, pa.string())


def _content_keys(prefix: str, hashes: pa.Array | pa.ChunkedArray,
                  seen: dict[str, int]) -> pa.Array:
    """Keys for rows without an identifier: prefix, content hash, and the row's ordinal
    among identical rows of the file so far (``seen`` carries the counts across blocks)."""
    h = pd.Series(pa.chunked_array([hashes]).combine_chunks().to_numpy(zero_copy_only=False))
    ordinal = (h.groupby(h, sort=False).cumcount().to_numpy(dtype=np.int64)
               + h.map(seen).fillna(0).to_numpy(dtype=np.int64))
    for key, n in h.value_counts(sort=False).items():
        seen[key] = seen.get(key, 0) + int(n)
    return pc.binary_join_element_wise(
        prefix, pc.utf8_slice_codeunits(pa.array(h.to_numpy(), pa.string()), 0, 24),
        pa.array(ordinal).cast(pa.string()), ":")


def iter_outcomes(path: Path, facts: FileFacts, problems: list[Problem], name: str | None = None
                  ) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Yield canonical OUTCOMES rows per block of an outcomes file."""
    name = name or str(path)
    for batch in read_batches(path, OUTCOME_COLUMNS, OUTCOME_REQUIRED, facts, problems):
        t = batch.table
        f = v.Faults(t.num_rows)
        month = _month(f, t)
        f.add(v.is_blank(t["crime_id"]), "Crime ID", "outcome row without a Crime ID")
        f.add(v.is_blank(t["outcome"]), "Outcome type", "empty outcome type")
        f.add(v.is_blank(t["falls_within"]), "Falls within", "no force in 'Falls within'")
        ok_month = pc.if_else(pc.match_substring_regex(month, _MONTH), month,
                              pa.scalar("1900-01"))
        out = pa.table({
            "source": _constant(SOURCE, t.num_rows),
            "source_ref": v.column(t, "crime_id"),
            "force": v.null_if_blank(t["falls_within"]),
            "month": month,
            "outcome": v.column(t, "outcome"),
            "outcome_date": pc.cast(pc.strptime(pc.binary_join_element_wise(
                ok_month, "01", "-"), format="%Y-%m-%d", unit="s"), pa.date32()),
            "source_file": _constant(name, t.num_rows),
            "source_line": pa.array(batch.records, pa.int64()),
        })
        out, records = _accept(f, out, t, batch.records, name, problems)
        yield canonical.conform(out, canonical.OUTCOMES), records


_STOP_DATE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)?$"


def iter_stop_search(path: Path, facts: FileFacts, problems: list[Problem], name: str | None = None
                     ) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Yield canonical STOP_SEARCH rows per block of a stop-and-search file."""
    name = name or str(path)
    force = force_from_name(Path(name))
    if force is None:
        raise SourceError(path, "cannot tell the force of a stop-and-search file from its "
                          "name; keep data.police.uk's name, e.g. "
                          "2018-11-thames-valley-stop-and-search.csv")
    seen: dict[str, int] = {}
    for batch in read_batches(path, STOP_COLUMNS, STOP_REQUIRED, facts, problems):
        t = batch.table
        d = pc.utf8_trim_whitespace(t["date"])
        date_ok = np.asarray(pc.fill_null(pc.match_substring_regex(d, _STOP_DATE), False),
                             dtype=bool)
        local = pc.utf8_slice_codeunits(d, 0, 19)
        safe = pc.if_else(pa.array(date_ok), local, pa.scalar("1900-01-01T00:00:00"))
        ts = pc.strptime(safe, format="%Y-%m-%dT%H:%M:%S", unit="us", error_is_null=True)
        # strptime is lenient (31 November parses): a real date prints back the same
        printed = pc.utf8_slice_codeunits(pc.strftime(ts, format="%Y-%m-%dT%H:%M:%S"), 0, 19)
        real = np.asarray(pc.fill_null(pc.equal(printed, safe), False), dtype=bool)
        date_ok &= real
        month = pc.utf8_slice_codeunits(d, 0, 7)
        future = v.mask(pc.greater(month, _current_month()))
        f = v.Faults(t.num_rows)
        f.add(~date_ok, "Date", lambda i, c=d: f"date {v.text_at(c, i)!r} is not a real date as "
              "YYYY-MM-DDTHH:MM:SS+00:00")
        f.add(date_ok & future, "Date", lambda i, c=d: f"date {v.text_at(c, i)} is in the future")
        lon, lat = v.coordinate_pair(f, v.column(t, "lon"), v.column(t, "lat"),
                                     "Longitude", "Latitude")
        out = pa.table({
            "force": _constant(force, t.num_rows),
            "month": month, "type": _text(t, "type"), "date": ts,
            "part_of_operation": v.parse_flag(v.column(t, "part_of_operation")).values,
            "operation": _text(t, "operation"), "lon": lon, "lat": lat,
            "gender": _text(t, "gender"), "age_range": _text(t, "age_range"),
            "self_defined_ethnicity": _text(t, "self_defined_ethnicity"),
            "officer_defined_ethnicity": _text(t, "officer_defined_ethnicity"),
            "legislation": _text(t, "legislation"),
            "object_of_search": _text(t, "object_of_search"),
            "outcome": _text(t, "outcome"),
            "outcome_linked": v.parse_flag(v.column(t, "outcome_linked")).values,
            "removal_of_clothing": v.parse_flag(v.column(t, "removal_of_clothing")).values,
            "source_line": pa.array(batch.records, pa.int64()),
        })
        out, records = _accept(f, out, t, batch.records, name, problems)
        con = duckdb.connect()
        con.register("t", out.drop_columns(["source_line"]))
        h = con.sql("SELECT md5(CAST(t AS VARCHAR)) AS h FROM t").to_arrow_table()["h"]
        con.close()
        out = out.append_column("source_ref", _content_keys("s", h, seen))
        out = out.append_column("source_file", _constant(name, out.num_rows))
        yield canonical.conform(out, canonical.STOP_SEARCH), records


def _text(t: pa.Table, name: str) -> pa.Array:
    return v.null_if_blank(v.column(t, name))


READERS = {"street": iter_street, "outcomes": iter_outcomes, "stop_search": iter_stop_search}


def open_file(path: Path) -> tuple[str, FileFacts]:
    """Kind and byte facts of a data.police.uk file, or SourceError saying what it is not."""
    facts = inspect_bytes(path)
    kind = kind_of(path)
    if kind is None:
        raise SourceError(path, "not a data.police.uk street, outcomes or stop-and-search CSV "
                          "(neither its name nor its header says which)", line=1)
    return kind, facts
