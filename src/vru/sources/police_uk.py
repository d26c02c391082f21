"""data.police.uk street, outcomes and stop-and-search CSVs → canonical Arrow rows.

Contract (docs/formats.md): the files of a data.police.uk custom download. Identity of a
street row is its Crime ID; anti-social behaviour rows have none, so theirs is a key made
from their content and their ordinal among identical rows of the file. Month precision only;
coordinates are the anonymised map points as published.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vru.geo import lsoa_years
from vru.sources import canonical
from vru.sources import values as v
from vru.sources.base import GB_LAT, GB_LON, Problem, SourceError
from vru.sources.csvfile import (
    EngineInput,
    FileFacts,
    inspect_bytes,
    read_batches,
    read_engine,
)

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
OUTCOME_REQUIRED = ["crime_id", "month", "outcome"]

STOP_COLUMNS = {
    "type": ["Type"], "date": ["Date"], "part_of_operation": ["Part of a policing operation"],
    "operation": ["Policing operation"], "lat": ["Latitude"], "lon": ["Longitude"],
    "gender": ["Gender"], "age_range": ["Age range"],
    "self_defined_ethnicity": ["Self-defined ethnicity"],
    "officer_defined_ethnicity": ["Officer-defined ethnicity"], "legislation": ["Legislation"],
    "object_of_search": ["Object of search"], "outcome": ["Outcome"],
    "outcome_linked": ["Outcome linked to object of search"],
    "removal_of_clothing": ["Removal of more than just outer clothing"],
    # not in the published layout, but some exports carry them: the force when the name
    # does not say it
    "reported_by": ["Reported by"], "falls_within": ["Falls within"],
}
STOP_REQUIRED = ["type", "date", "lat", "lon"]

KINDS = ("street", "outcomes", "stop_search")
_NAME = re.compile(r"(\d{4}-\d{2})-(.+?)-(street|outcomes|stop-and-search)\.csv(\.gz)?$", re.I)
_LSOA = r"^[EW]01\d{6}$"
_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


def kind_of(path: Path) -> str | None:
    """File kind from its header, else from its data.police.uk name; None if neither says.

    The header decides: a renamed file is still known, and a misnamed one is read as what
    it holds rather than refused for lacking the named kind's columns.
    """
    return _kind_of_header(path) or _kind_of_name(path)


def _kind_of_name(path: Path) -> str | None:
    m = _NAME.search(path.name)
    if not m:
        return None
    return {"street": "street", "outcomes": "outcomes",
            "stop-and-search": "stop_search"}[m.group(3).lower()]


def _kind_of_header(path: Path) -> str | None:
    """The kind whose identifying columns the first line holds (any case, BOM, quotes)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if head[:2] == b"\x1f\x8b":  # gzipped: the reader will say what it is
        return None
    first = head.decode("utf-8", "replace").lstrip("\ufeff").splitlines()[:1]
    names = {c.strip().strip('"').strip().lower() for c in first[0].split(",")} if first else set()
    for kind, needed in _HEADER_KINDS:
        if needed <= names:
            return kind
    return None


# columns that tell one kind from the others (street and outcomes share the rest)
_HEADER_KINDS = (
    ("street", {"crime id", "crime type"}),
    ("outcomes", {"crime id", "outcome type"}),
    ("stop_search", {"type", "date", "object of search"}),
)


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


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _trimmed(col: str) -> str:
    """``col`` without surrounding spaces, '' for null; trim only where needed (it copies)."""
    return (f"CASE WHEN {col} IS NULL THEN '' WHEN starts_with({col}, ' ') OR "
            f"ends_with({col}, ' ') THEN trim({col}) ELSE {col} END")


def read_street(con: duckdb.DuckDBPyConnection, inputs: list[EngineInput], workdir: Path,
                force: str | None = None
                ) -> tuple[pa.Table, dict[str, int], list[Problem], dict[str, SourceError]]:
    """Read street files into canonical INCIDENTS rows (Arrow), in one DuckDB pass per header.

    Everything per row runs in the engine (parse, checks, row hash), because street files
    are the bulk of what a VRU loads; keys of rows without a Crime ID are numbered here.
    ``geo_status``, ``batch_id`` and the other-CRS coordinates are left for the lake, and so
    is a Crime ID repeated with other content: the lake sees every file of the batch and the
    rows already held. A row's force is its "Falls within", else its "Reported by", else
    ``force`` (the caller's ``--force``); a row with none is quarantined. A stated LSOA code
    goes in the column of its year (`vru.geo.lsoa_years.stated_columns`).

    Returns
    -------
    (rows with a ``_name`` column, rows in per file name, problems, files not read and why)
        Rows that fail a check are problems (first failing check, naming the field); for
        each file, rows in = its rows in the table + its problems.
    """
    cats = ", ".join(_sql_text(c) for c in sorted(CATEGORIES))
    lo, la = GB_LON, GB_LAT
    raw = ", ".join(STREET_COLUMNS)
    # rows without a Crime ID (ASB) are keyed by the MD5 of their content as released:
    # an identity must never change with a library version
    content = ("concat_ws(chr(31), fw, m, ls, coalesce(location, ''), ct, xs, ys, "
               "coalesce(outcome, ''), coalesce(context, ''))")
    # data.police.uk rows always name their force: the fallbacks are for other exports
    fw = (f"CASE WHEN {_trimmed('falls_within')} <> '' THEN {_trimmed('falls_within')} "
          f"WHEN {_trimmed('reported_by')} <> '' THEN {_trimmed('reported_by')} "
          f"ELSE {_sql_text((force or '').strip())} END")
    checks = f"""CASE
            WHEN NOT regexp_full_match(m, '{_MONTH[1:-1]}') THEN 'Month'
            WHEN m > '{_current_month()}' THEN 'Month'
            WHEN fw = '' THEN 'Falls within'
            WHEN ct NOT IN ({cats}) THEN 'Crime type'
            WHEN xs <> '' AND NOT isfinite(coalesce(x, 'nan'::DOUBLE)) THEN 'Longitude'
            WHEN ys <> '' AND NOT isfinite(coalesce(y, 'nan'::DOUBLE)) THEN 'Latitude'
            WHEN (xs = '') <> (ys = '') THEN 'Longitude/Latitude'
            WHEN x IS NOT NULL AND NOT (x BETWEEN {lo[0]} AND {lo[1]} AND y BETWEEN {la[0]}
                 AND {la[1]}) THEN 'Longitude/Latitude'
            WHEN ls <> '' AND NOT regexp_full_match(ls, '{_LSOA[1:-1]}') THEN 'LSOA code'
            END"""
    exprs = {  # only what varies: constants and empty columns are added in Arrow
        "source_ref": "coalesce(id, 'h:' || left(_h, 24) || ':0')", "force": "fw",
        "month": "m", "category": "ct", "lon": "x", "lat": "y",
        "location": f"nullif({_trimmed('location')}, '')",
        "lsoa11cd": "nullif(ls, '')", "outcome": f"nullif({_trimmed('outcome')}, '')",
        "context": f"nullif({_trimmed('context')}, '')",
        # change detection only needs a fast filter (the lake confirms a difference on the
        # stored columns), so DuckDB's 64-bit hash of the content as released: a third of
        # the cost of an MD5 over a million rows
        "row_hash": "(hash(fw, m, ls, location, ct, xs, ys, outcome, context) >> 1)::BIGINT",
    }
    query = f"""
        SELECT {', '.join(f"{e} AS {c}" for c, e in exprs.items())},
               CASE WHEN id IS NULL THEN left(_h, 24) END AS _hk,
               CASE WHEN _field IS NOT NULL THEN to_json({{'field': _field, 'm': m, 'ct': ct,
                   'xs': xs, 'ys': ys, 'ls': ls, 'x': x, 'y': y, 'raw': [{raw}]}})::VARCHAR
                   END AS _bad, _fi
        FROM (SELECT *, CASE WHEN _field IS NULL AND id IS NULL THEN md5({content}) END AS _h
              FROM (
            SELECT *, {checks} AS _field FROM (
                SELECT *, try_cast(xs AS DOUBLE) AS x, try_cast(ys AS DOUBLE) AS y FROM (
                    SELECT *, {_trimmed('month')} AS m, {fw} AS fw,
                           {_trimmed('crime_type')} AS ct, {_trimmed('lon')} AS xs,
                           {_trimmed('lat')} AS ys, {_trimmed('lsoa_code')} AS ls,
                           nullif({_trimmed('crime_id')}, '') AS id
                    FROM _csv))))"""
    table, counts, problems, errors = read_engine(con, inputs, STREET_COLUMNS, STREET_REQUIRED,
                                                 workdir, query)
    return _finish_street(table, problems), counts, problems, errors


def _finish_street(table: pa.Table | None, problems: list[Problem]) -> pa.Table:
    """Rows that passed the checks, with keys for rows without a Crime ID; the others go
    to ``problems``."""
    if table is None:
        return canonical.INCIDENTS.empty_table().append_column("_name", pa.array([], pa.string()))
    bad = pc.is_valid(table["_bad"])
    if pc.any(bad).as_py():
        # a failing row's details come as one JSON text: a struct column would carry
        # empty children for every good row
        for name, rec, text in zip(*(table.filter(bad)[c].to_pylist()
                                     for c in ("_name", "_record", "_bad")), strict=True):
            b = json.loads(text)
            reason = _street_reason(b["field"], b["m"], b["ct"], b["xs"], b["ys"], b["ls"],
                                    b["x"], b["y"])
            problems.append(Problem(name, int(rec), b["field"], reason, v.join_row(b["raw"])))
        table = table.filter(pc.invert(bad))
    problems.sort(key=lambda p: (p.file, p.line or 0))
    n = table.num_rows
    # rows without a Crime ID come keyed 'h:<content>:0'; a repeat of the same content in
    # the same file takes the next ordinal (1, 2…) in file order
    refs = table["source_ref"]
    no_id = pc.is_valid(table["_hk"])
    if pc.any(no_id).as_py():
        files = pc.dictionary_encode(pc.filter(table["_name"], no_id)).combine_chunks()
        hashes = pc.dictionary_encode(pc.filter(table["_hk"], no_id)).combine_chunks()
        code = (np.asarray(files.indices, dtype=np.int64) * len(hashes.dictionary)
                + np.asarray(hashes.indices, dtype=np.int64))
        ordinal = _ordinals(code)
        later = ordinal > 0
        if later.any():
            keys = pc.binary_join_element_wise(
                "h:", hashes.dictionary.take(pa.array(np.asarray(hashes.indices)[later])), ":",
                pa.array(ordinal[later]).cast(pa.string()), "")
            where = np.full(n, -1, dtype=np.int64)  # row → its new key, -1: keep
            where[np.flatnonzero(np.asarray(no_id))[later]] = np.arange(int(later.sum()))
            refs = pc.coalesce(keys.take(pa.array(where, mask=where < 0)), refs)
    # a stated code goes in the column of its year: data.police.uk states 2021 LSOAs from 2023
    lsoa11, lsoa21 = lsoa_years.stated_columns(table["lsoa11cd"])
    given = {"source_ref": refs, "source_file": table["_name"], "source_line": table["_record"],
             "lsoa11cd": lsoa11, "lsoa21cd": lsoa21,
             "source": canonical.repeat(SOURCE, n),
             "time_precision": canonical.repeat("month", n)}
    cols = [given[f.name] if f.name in given else table[f.name]
            if f.name in table.column_names else pa.nulls(n, f.type)
            for f in canonical.INCIDENTS]
    return pa.Table.from_arrays([*cols, table["_name"]],
                                names=[*canonical.INCIDENTS.names, "_name"])


def _ordinals(code: np.ndarray) -> np.ndarray:
    """Each element's rank among the earlier elements with the same code (0, 1, 2…)."""
    m = len(code)
    order = np.argsort(code, kind="stable")
    ranked = code[order]
    first = np.r_[True, ranked[1:] != ranked[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(m), 0))
    out = np.empty(m, dtype=np.int64)
    out[order] = np.arange(m) - start
    return out


def _street_reason(fld: str, m: str, ct: str, xs: str, ys: str, ls: str,
                   x: float | None, y: float | None) -> str:
    """The sentence for a street row's first failing check (only bad rows reach Python)."""
    if fld == "Month":
        return (f"month {m!r} is not YYYY-MM" if not re.fullmatch(_MONTH, m)
                else f"month {m} is in the future")
    if fld == "Falls within":
        return ("no force in 'Falls within' or 'Reported by'; give one (vru ingest police-uk "
                "--force NAME)")
    if fld == "Crime type":
        return f"crime type {ct!r} is not a data.police.uk category"
    if fld in ("Longitude", "Latitude"):
        return f"{fld} {xs if fld == 'Longitude' else ys!r} is not a number"
    if fld == "LSOA code":
        return f"LSOA code {ls!r} is not an LSOA (E01…/W01… + 6 digits)"
    if (xs == "") != (ys == ""):
        return ("only one of Longitude and Latitude is given: give both, or neither when the "
                "row has no location")
    if GB_LON[0] <= y <= GB_LON[1] and GB_LAT[0] <= x <= GB_LAT[1]:
        return (f"latitude and longitude look swapped (Longitude {xs}, Latitude {ys}); swap "
                "the columns")
    return (f"coordinates outside Great Britain (Longitude {xs}, Latitude {ys}): check the "
            "degrees and the coordinate system")


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


def row_force(t: pa.Table, fallback: str | None) -> pa.Array:
    """Each row's force: its "Falls within", else its "Reported by", else ``fallback`` (the
    file name's force, else the one the user gave); null where none says."""
    given = [v.null_if_blank(v.column(t, c)) for c in ("falls_within", "reported_by")]
    return pc.coalesce(*given, pa.scalar(fallback, pa.string()))


def file_force(path: Path, name: str | None, force: str | None) -> str | None:
    """The force a file's rows fall back on: from data.police.uk's name, else ``force``."""
    return force_from_name(Path(name or str(path))) or (force.strip() or None if force
                                                        else None)


def iter_outcomes(path: Path, facts: FileFacts, problems: list[Problem], name: str | None = None,
                  force: str | None = None) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Yield canonical OUTCOMES rows per block of an outcomes file.

    A row's force is its "Falls within", else "Reported by", else the file name's force,
    else ``force``; a row none of these names is quarantined.
    """
    fallback = file_force(path, name, force)
    name = name or str(path)
    for batch in read_batches(path, OUTCOME_COLUMNS, OUTCOME_REQUIRED, facts, problems):
        t = batch.table
        f = v.Faults(t.num_rows)
        month = _month(f, t)
        forces = row_force(t, fallback)
        f.add(v.is_blank(t["crime_id"]), "Crime ID", "outcome row without a Crime ID")
        f.add(v.is_blank(t["outcome"]), "Outcome type", "empty outcome type")
        f.add(v.mask(pc.is_null(forces)), "Falls within",
              "no force in 'Falls within' or 'Reported by', nor in the file name; give one "
              "(vru ingest police-uk --force NAME)")
        ok_month = pc.if_else(pc.match_substring_regex(month, _MONTH), month,
                              pa.scalar("1900-01"))
        out = pa.table({
            "source": canonical.repeat(SOURCE, t.num_rows),
            "source_ref": v.column(t, "crime_id"),
            "force": forces,
            "month": month,
            "outcome": v.column(t, "outcome"),
            "outcome_date": pc.cast(pc.strptime(pc.binary_join_element_wise(
                ok_month, "01", "-"), format="%Y-%m-%d", unit="s"), pa.date32()),
            "source_file": canonical.repeat(name, t.num_rows),
            "source_line": pa.array(batch.records, pa.int64()),
        })
        out, records = _accept(f, out, t, batch.records, name, problems)
        yield canonical.conform(out, canonical.OUTCOMES), records


_STOP_DATE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)?$"


def iter_stop_search(path: Path, facts: FileFacts, problems: list[Problem],
                     name: str | None = None, force: str | None = None
                     ) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Yield canonical STOP_SEARCH rows per block of a stop-and-search file.

    The published layout names no force: it comes from data.police.uk's file name
    (``2018-11-thames-valley-stop-and-search.csv``), else from a "Falls within"/"Reported
    by" column when the file has one, else from ``force``. A file none of these names is
    refused; with the column, a row it leaves blank is quarantined.
    """
    named = force_from_name(Path(name or str(path)))
    given = force.strip() or None if force else None
    name = name or str(path)
    seen: dict[str, int] = {}
    for batch in read_batches(path, STOP_COLUMNS, STOP_REQUIRED, facts, problems):
        t = batch.table
        has_column = any(c in t.column_names for c in ("falls_within", "reported_by"))
        if named is None and given is None and not has_column:
            raise SourceError(path, "cannot tell the force of this stop-and-search file: its "
                              "name is not data.police.uk's (e.g. "
                              "2018-11-thames-valley-stop-and-search.csv) and it has no "
                              "'Falls within' column; give it (vru ingest police-uk --force "
                              "NAME)")
        # the name first (data.police.uk's own word for the whole file), then the rows
        forces = (canonical.repeat(named, t.num_rows) if named else row_force(t, given))
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
        if not named:
            f.add(v.mask(pc.is_null(forces)), "Falls within",
                  "no force in 'Falls within' or 'Reported by', nor in the file name; give "
                  "one (vru ingest police-uk --force NAME)")
        lon, lat = v.coordinate_pair(f, v.column(t, "lon"), v.column(t, "lat"),
                                     "Longitude", "Latitude")
        out = pa.table({
            "force": forces,
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
        out = out.append_column("source_file", canonical.repeat(name, out.num_rows))
        yield canonical.conform(out, canonical.STOP_SEARCH), records


def _text(t: pa.Table, name: str) -> pa.Array:
    return v.null_if_blank(v.column(t, name))


READERS = {"outcomes": iter_outcomes, "stop_search": iter_stop_search}


def open_file(path: Path, facts: FileFacts | None = None) -> tuple[str, FileFacts]:
    """Kind and byte facts of a data.police.uk file, or SourceError saying what it is not."""
    facts = facts or inspect_bytes(path)
    kind = kind_of(path)
    if kind is None:
        raise SourceError(path, "not a data.police.uk street, outcomes or stop-and-search CSV "
                          "(neither its name nor its header says which)", line=1)
    return kind, facts
