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
from vru.sources.base import Problem, SourceError
from vru.sources.checks import Failure, blank, lonlat_failures, null_if_blank, split
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


def _month_failures(month_raw: pa.Array) -> tuple[pa.Array, list[Failure]]:
    m = pc.utf8_trim_whitespace(month_raw)
    ok = np.asarray(pc.fill_null(pc.match_substring_regex(m, _MONTH), False), dtype=bool)
    future = np.asarray(pc.fill_null(pc.greater(m, _current_month()), False), dtype=bool)
    return m, [
        Failure(~ok, "Month", "month {value!r} is not YYYY-MM", month_raw),
        Failure(ok & future, "Month", "month {value} is in the future", month_raw),
    ]


def iter_street(path: Path, facts: FileFacts, problems: list[Problem], name: str | None = None
                ) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Yield (canonical incidents rows, record numbers) per block of a street file.

    Rows that fail a check are appended to ``problems``; ``rows_in`` is the sum of rows
    yielded plus problems.
    """
    asb_seen: dict[str, int] = {}  # content key → identical rows seen so far in this file
    name = name or str(path)
    for batch in read_batches(path, STREET_COLUMNS, STREET_REQUIRED, facts, problems):
        t = batch.table
        month, fails = _month_failures(t["month"])
        lon, lat, geo_fails = lonlat_failures(t["lon"], t["lat"], "Longitude", "Latitude")
        ctype = pc.utf8_trim_whitespace(t["crime_type"])
        force = null_if_blank(t["falls_within"])
        lsoa = null_if_blank(t["lsoa_code"]) if "lsoa_code" in t.column_names else pa.nulls(
            t.num_rows, pa.string())
        fails += [
            Failure(blank(t["falls_within"]), "Falls within",
                    "no force in 'Falls within'; every data.police.uk row names its force"),
            Failure(~np.asarray(pc.is_in(ctype, value_set=pa.array(sorted(CATEGORIES))),
                                dtype=bool),
                    "Crime type", "crime type {value!r} is not a data.police.uk category",
                    t["crime_type"]),
            *geo_fails,
            Failure(~np.asarray(pc.fill_null(pc.match_substring_regex(lsoa, _LSOA), True),
                                dtype=bool),
                    "LSOA code", "LSOA code {value!r} is not an LSOA (E01…/W01… + 6 digits)",
                    t["lsoa_code"] if "lsoa_code" in t.column_names else None),
        ]
        out = pa.table({
            "source": pa.array(np.full(t.num_rows, SOURCE, dtype=object), pa.string()),
            "crime_id": null_if_blank(t["crime_id"]),
            "force": force,
            "month": month,
            "time_precision": pa.array(np.full(t.num_rows, "month", dtype=object), pa.string()),
            "category": ctype,
            "lon": lon, "lat": lat,
            "location": _col(t, "location"),
            "lsoa11cd": lsoa,
            "outcome": _col(t, "outcome"),
            "context": _col(t, "context"),
        })
        raw = [t[c] for c in t.column_names]
        out, records, probs = split(out, batch.records, fails, name, raw)
        problems.extend(probs)
        out = out.append_column("source_ref", _street_keys(out, asb_seen)).drop_columns(
            ["crime_id"])
        out = out.append_column("source_file", pa.array(np.full(out.num_rows, name, dtype=object),
                                                        pa.string()))
        out = out.append_column("source_line", pa.array(records, pa.int64()))
        yield canonical.conform(out, canonical.INCIDENTS), records


def _col(t: pa.Table, name: str) -> pa.Array:
    return null_if_blank(t[name]) if name in t.column_names else pa.nulls(t.num_rows, pa.string())


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
    h = pd.Series(content.filter(pa.array(no_id)).to_numpy(zero_copy_only=False))
    ordinal = (h.groupby(h, sort=False).cumcount().to_numpy(dtype=np.int64)
               + h.map(asb_seen).fillna(0).to_numpy(dtype=np.int64))
    for key, n in h.value_counts(sort=False).items():
        asb_seen[key] = asb_seen.get(key, 0) + int(n)
    made = pc.binary_join_element_wise(
        "h", pc.utf8_slice_codeunits(pa.array(h.to_numpy(), pa.string()), 0, 24),
        pa.array(ordinal).cast(pa.string()), ":")
    keys = np.asarray(out["crime_id"].to_numpy(zero_copy_only=False), dtype=object)
    keys[no_id] = made.to_numpy(zero_copy_only=False)
    return pa.array(keys, pa.string())


def iter_outcomes(path: Path, facts: FileFacts, problems: list[Problem], name: str | None = None
                  ) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Yield canonical OUTCOMES rows per block of an outcomes file."""
    name = name or str(path)
    for batch in read_batches(path, OUTCOME_COLUMNS, OUTCOME_REQUIRED, facts, problems):
        t = batch.table
        month, fails = _month_failures(t["month"])
        fails += [
            Failure(blank(t["crime_id"]), "Crime ID", "outcome row without a Crime ID"),
            Failure(blank(t["outcome"]), "Outcome type", "empty outcome type"),
            Failure(blank(t["falls_within"]), "Falls within", "no force in 'Falls within'"),
        ]
        ok_month = pc.if_else(pc.match_substring_regex(month, _MONTH), month,
                              pa.scalar("1900-01"))
        out = pa.table({
            "source": pa.array(np.full(t.num_rows, SOURCE, dtype=object), pa.string()),
            "source_ref": pc.utf8_trim_whitespace(t["crime_id"]),
            "force": null_if_blank(t["falls_within"]),
            "month": month,
            "outcome": pc.utf8_trim_whitespace(t["outcome"]),
            "outcome_date": pc.cast(pc.strptime(pc.binary_join_element_wise(
                ok_month, "01", "-"), format="%Y-%m-%d", unit="s"), pa.date32()),
            "source_file": pa.array(np.full(t.num_rows, name, dtype=object), pa.string()),
            "source_line": pa.array(batch.records, pa.int64()),
        })
        out, records, probs = split(out, batch.records, fails, name, [t[c] for c in t.column_names])
        problems.extend(probs)
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
        future = np.asarray(pc.fill_null(pc.greater(month, _current_month()), False), dtype=bool)
        lon, lat, fails = lonlat_failures(t["lon"], t["lat"], "Longitude", "Latitude")
        fails = [Failure(~date_ok, "Date",
                         "date {value!r} is not a real date as YYYY-MM-DDTHH:MM:SS+00:00",
                         t["date"]),
                 Failure(date_ok & future, "Date", "date {value} is in the future", t["date"]),
                 *fails]
        out = pa.table({
            "force": pa.array(np.full(t.num_rows, force, dtype=object), pa.string()),
            "month": month, "type": _col(t, "type"), "date": ts,
            "part_of_operation": _flag(_col(t, "part_of_operation")),
            "operation": _col(t, "operation"), "lon": lon, "lat": lat,
            "gender": _col(t, "gender"), "age_range": _col(t, "age_range"),
            "self_defined_ethnicity": _col(t, "self_defined_ethnicity"),
            "officer_defined_ethnicity": _col(t, "officer_defined_ethnicity"),
            "legislation": _col(t, "legislation"), "object_of_search": _col(t, "object_of_search"),
            "outcome": _col(t, "outcome"), "outcome_linked": _flag(_col(t, "outcome_linked")),
            "removal_of_clothing": _flag(_col(t, "removal_of_clothing")),
            "source_line": pa.array(batch.records, pa.int64()),
        })
        out, records, probs = split(out, batch.records, fails, name, [t[c] for c in t.column_names])
        problems.extend(probs)
        con = duckdb.connect()
        con.register("t", out.drop_columns(["source_line"]))
        h = con.sql("SELECT md5(CAST(t AS VARCHAR)) AS h FROM t").to_arrow_table()["h"]
        con.close()
        refs = []
        for x in h.to_pylist():
            k = seen.get(x, 0)
            seen[x] = k + 1
            refs.append(f"s:{x[:24]}:{k}")
        out = out.append_column("source_ref", pa.array(refs, pa.string()))
        out = out.append_column("source_file", pa.array(np.full(out.num_rows, name, dtype=object),
                                                        pa.string()))
        yield canonical.conform(out, canonical.STOP_SEARCH), records


def _flag(arr: pa.Array) -> pa.Array:
    low = pc.utf8_lower(arr)
    return pc.if_else(pc.is_in(low, value_set=pa.array(["true", "yes", "y", "1"])), True,
                      pc.if_else(pc.is_in(low, value_set=pa.array(["false", "no", "n", "0"])),
                                 False, pa.scalar(None, pa.bool_())))


READERS = {"street": iter_street, "outcomes": iter_outcomes, "stop_search": iter_stop_search}


def open_file(path: Path) -> tuple[str, FileFacts]:
    """Kind and byte facts of a data.police.uk file, or SourceError saying what it is not."""
    facts = inspect_bytes(path)
    kind = kind_of(path)
    if kind is None:
        raise SourceError(path, "not a data.police.uk street, outcomes or stop-and-search CSV "
                          "(neither its name nor its header says which)", line=1)
    return kind, facts
