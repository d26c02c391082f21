"""data.police.uk street, outcomes and stop-and-search CSVs → canonical Arrow rows.

Contract (docs/formats.md): the files of a data.police.uk custom download. Identity of a
street row is its Crime ID; anti-social behaviour rows have none, so theirs is a key made
from their content and their ordinal among identical rows of the file. Month precision only;
coordinates are the anonymised map points as published.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vru.geo import lsoa_years
from vru.sources import canonical, rowhash
from vru.sources import values as v
from vru.sources.base import GB_LAT, GB_LON, Problem, SourceError
from vru.sources.csvfile import (
    CsvInput,
    FileFacts,
    inspect_bytes,
    read_batches,
    read_files,
)
from vru.sources.police_uk_layout import (  # noqa: F401 - the layouts, also as police_uk.*
    _NAME,
    KINDS,
    OUTCOME_COLUMNS,
    OUTCOME_REQUIRED,
    STOP_COLUMNS,
    STOP_REQUIRED,
    STREET_COLUMNS,
    STREET_DICTIONARY,
    STREET_REQUIRED,
    kind_of,
    read_ahead,
)

SOURCE = "police_uk"

# Crime types data.police.uk publishes (the last two were merged away in 2013).
CATEGORIES = frozenset({
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs",
    "Other crime", "Other theft", "Possession of weapons", "Public order", "Robbery",
    "Shoplifting", "Theft from the person", "Vehicle crime", "Violence and sexual offences",
    "Violent crime", "Public disorder and weapons",
})

_LSOA = r"^[EW]01\d{6}$"
_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


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


_FIELDS = ("", "Month", "Month", "Falls within", "Crime type", "Longitude", "Latitude",
           "Longitude/Latitude", "Longitude/Latitude", "LSOA code")  # by check, in order


def read_street(con: duckdb.DuckDBPyConnection, inputs: list[CsvInput],
                force: str | None = None, ready: Callable[[Path], Any] | None = None
                ) -> tuple[pa.Table, dict[str, int], list[Problem], dict[str, SourceError]]:
    """Read street files into canonical INCIDENTS rows (Arrow), several files at once.

    Street files are the bulk of what a VRU loads, and most of their columns hold a few
    thousand distinct values among a million rows (months, forces, crime types, the
    snapped map points, LSOAs, locations). They are parsed with those columns
    dictionary-encoded, so every check, trim and number cast runs once per distinct value
    and is taken back per row; only the Crime ID and the hashes are per row.
    ``geo_status``, ``batch_id`` and the other-CRS coordinates are left for the lake, and so
    is a Crime ID repeated with other content: the lake sees every file of the batch and the
    rows already held. A row's force is its "Falls within", else its "Reported by", else
    ``force`` (the caller's ``--force``); a row with none is quarantined. Values are
    compared without surrounding spaces. A stated LSOA code goes in the column of its year
    (`vru.geo.lsoa_years.stated_columns`). ``ready`` gives files already parsed by
    `vru.sources.police_uk_layout.read_ahead` (`vru.sources.csvfile.read_files`).

    Returns
    -------
    (rows with a ``_name`` column, rows in per file name, problems, files not read and why)
        Rows that fail a check are problems (first failing check, naming the field); for
        each file, rows in = its rows in the table + its problems.
    """
    table, counts, problems, errors = read_files(inputs, STREET_COLUMNS, STREET_REQUIRED,
                                                 dictionary=STREET_DICTIONARY, ready=ready)
    rows = _street_rows(con, table, problems, force)
    problems.sort(key=lambda p: (p.file, p.line or 0))
    return rows, counts, problems, errors


def _trim(texts: pa.Array) -> pa.Array:
    """Without surrounding spaces (as a reader compares values); no copy when none has any.

    ASCII trimming is safe on UTF-8: a space byte is never part of another character."""
    if pc.any(pc.or_(pc.starts_with(texts, " "), pc.ends_with(texts, " "))).as_py():
        return pc.ascii_trim(texts, characters=" ")
    return texts


class _Distinct:
    """A dictionary-encoded column: each row's position among the distinct values."""

    def __init__(self, column: pa.ChunkedArray | pa.Array) -> None:
        arr = canonical.single(column)
        self.rows = np.asarray(arr.indices, dtype=np.int32)
        self.raw = arr.dictionary
        self.values = _trim(self.raw)
        self.empty = np.asarray(pc.equal(self.values, ""), dtype=bool)

    def per_row(self, values: np.ndarray) -> np.ndarray:
        return values[self.rows]

    def column(self, keep: np.ndarray | None, raw: bool = False, blank_null: bool = True
               ) -> pa.DictionaryArray:
        """The values (trimmed unless ``raw``) of the rows at ``keep`` (None: all), null
        where blank."""
        idx = self.rows if keep is None else self.rows[keep]
        values = self.raw if raw else self.values
        mask = None
        if blank_null:
            blank = np.asarray(pc.equal(values, ""), dtype=bool) if raw else self.empty
            if blank.any():
                mask = blank[idx]
        return pa.DictionaryArray.from_arrays(pa.array(idx, mask=mask), values)


def _doubles(con: duckdb.DuckDBPyConnection, texts: pa.Array) -> np.ndarray:
    """``texts`` cast to numbers as the SQL engine casts them (NaN where not a number).

    Arrow's parser first: where it accepts every text (published files), the engine would
    give the same numbers; otherwise the engine's own lenient cast decides each one."""
    given = pc.if_else(pc.equal(texts, ""), pa.scalar(None, pa.string()), texts)
    try:
        return np.asarray(pc.cast(given, pa.float64()).fill_null(np.nan), dtype=float)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # one list in, one list out: the answers keep the texts' order whatever the engine's
    # settings on row order
    got = con.execute("SELECT list_transform(?::VARCHAR[], lambda v: try_cast(v AS DOUBLE))",
                      [texts.to_pylist()]).fetchall()[0][0]
    return np.array([np.nan if x is None else x for x in got], dtype=float)


def _street_rows(con: duckdb.DuckDBPyConnection, table: pa.Table | None,
                 problems: list[Problem], force: str | None) -> pa.Table:
    """Check the rows `read_files` read, quarantine the failing ones (into ``problems``)
    and make the rest canonical INCIDENTS rows with ``_name``."""
    if table is None or table.num_rows == 0:
        return canonical.INCIDENTS.empty_table().append_column("_name", pa.array([], pa.string()))
    col = {c: _Distinct(table[c]) for c in STREET_DICTIONARY}
    month, ctype, xs, ys, ls = (col[c] for c in ("month", "crime_type", "lon", "lat",
                                                 "lsoa_code"))
    fw = _force_column(col["falls_within"], col["reported_by"], force)
    x, y = _doubles(con, xs.values), _doubles(con, ys.values)
    m_ok = np.asarray(pc.match_substring_regex(month.values, _MONTH), dtype=bool)
    m_future = np.asarray(pc.greater(month.values, _current_month()), dtype=bool)
    ct_ok = np.asarray(pc.is_in(ctype.values, value_set=pa.array(sorted(CATEGORIES))),
                       dtype=bool)
    ls_ok = ls.empty | np.asarray(pc.match_substring_regex(ls.values, _LSOA), dtype=bool)
    rx, ry = xs.per_row(x), ys.per_row(y)
    x_blank, y_blank = xs.per_row(xs.empty), ys.per_row(ys.empty)
    located = ~x_blank & ~y_blank
    with np.errstate(invalid="ignore"):
        in_gb = ((rx >= GB_LON[0]) & (rx <= GB_LON[1]) & (ry >= GB_LAT[0]) & (ry <= GB_LAT[1]))
    checks = [  # in the order of _FIELDS: a row is reported by its first failing check
        ~month.per_row(m_ok), month.per_row(m_future), fw.per_row(fw.empty),
        ~ctype.per_row(ct_ok), ~x_blank & ~np.isfinite(rx), ~y_blank & ~np.isfinite(ry),
        x_blank != y_blank, located & ~in_gb, ~ls.per_row(ls_ok)]
    code = np.zeros(table.num_rows, dtype=np.int8)
    for k in range(len(checks), 0, -1):
        code[checks[k - 1]] = k
    ids = _trim(canonical.single(table["crime_id"]))
    if code.any():
        _quarantine(table, code, problems, month, ctype, xs, ys, ls, x, y)
    keep = np.flatnonzero(code == 0) if code.any() else None
    names, records = canonical.single(table["_name"]), canonical.single(table["_record"])
    if keep is not None:
        ids, names, records = (a.take(pa.array(keep)) for a in (ids, names, records))
    n = len(ids)
    no_id = np.asarray(pc.equal(ids, ""), dtype=bool)
    # the content as released, for change detection (DuckDB's 64-bit hash of the columns: a
    # fast filter, the lake confirms a difference on the stored columns) and, for rows
    # without a Crime ID (ASB), their key: the MD5 of the content, which must never change
    # with a library version. Dictionary columns: each distinct text is hashed once.
    hashed = {
        "fw": fw.column(keep, blank_null=False), "m": month.column(keep, blank_null=False),
        "ls": ls.column(keep, blank_null=False),
        "location": col["location"].column(keep, raw=True),
        "ct": ctype.column(keep, blank_null=False), "xs": xs.column(keep, blank_null=False),
        "ys": ys.column(keep, blank_null=False),
        "outcome": col["outcome"].column(keep, raw=True),
        "context": col["context"].column(keep, raw=True)}
    row_hash = (rowhash.row_hashes(con, list(hashed.values())) >> np.uint64(1)).view(np.int64)
    sel = pa.array(no_id)
    hk = (rowhash.digests(con, pa.table({k: a.filter(sel) for k, a in hashed.items()}))
          if no_id.any() else None)
    refs = _street_refs(ids, no_id, hk, names)
    lsoa11, lsoa21 = lsoa_years.stated_columns(ls.column(keep))
    rx, ry, located = ((a if keep is None else a[keep]) for a in (rx, ry, located))
    given = {"source_ref": refs, "source_file": names, "source_line": records,
             "force": fw.column(keep), "month": month.column(keep),
             "category": ctype.column(keep),
             "lon": pa.array(rx, mask=~located), "lat": pa.array(ry, mask=~located),
             "location": col["location"].column(keep), "lsoa11cd": lsoa11,
             "lsoa21cd": lsoa21, "outcome": col["outcome"].column(keep),
             "context": col["context"].column(keep),
             "row_hash": pa.array(row_hash),
             "source": canonical.repeat(SOURCE, n),
             "time_precision": canonical.repeat("month", n)}
    cols = [given[f.name] if f.name in given else pa.nulls(n, f.type)
            for f in canonical.INCIDENTS]
    return pa.Table.from_arrays([*cols, names], names=[*canonical.INCIDENTS.names, "_name"])


class _Composed(_Distinct):
    """A column whose rows choose among the values of others (already trimmed)."""

    def __init__(self, rows: np.ndarray, values: pa.Array) -> None:  # noqa: D107
        uniq = pc.unique(values)
        self.rows = np.asarray(pc.index_in(values, value_set=uniq), dtype=np.int32)[rows]
        self.raw = self.values = uniq
        self.empty = np.asarray(pc.equal(uniq, ""), dtype=bool)


def _force_column(falls: _Distinct, reported: _Distinct, force: str | None) -> _Distinct:
    """Each row's force: its "Falls within", else its "Reported by", else ``force``
    (data.police.uk rows always name it: the fallbacks are for other exports)."""
    a, b = len(falls.values), len(reported.values)
    rows = np.where(falls.per_row(~falls.empty), falls.rows,
                    np.where(reported.per_row(~reported.empty), a + reported.rows, a + b))
    return _Composed(rows, pa.concat_arrays([falls.values, reported.values,
                                             pa.array([(force or "").strip()])]))


def _quarantine(table: pa.Table, code: np.ndarray, problems: list[Problem], month: _Distinct,
                ctype: _Distinct, xs: _Distinct, ys: _Distinct, ls: _Distinct,
                x: np.ndarray, y: np.ndarray) -> None:
    """Problems for the rows failing a check, each quoting the row as it was written."""
    bad = np.flatnonzero(code)
    take = pa.array(bad)
    raw = [table[c].take(take).to_pylist() for c in STREET_COLUMNS]
    names = table["_name"].take(take).to_pylist()
    records = table["_record"].take(take).to_pylist()

    def text(c: _Distinct, i: int) -> str:
        return c.values[int(c.rows[i])].as_py()

    for j, i in enumerate(bad.tolist()):
        fld = _FIELDS[code[i]]
        xv, yv = x[xs.rows[i]], y[ys.rows[i]]
        reason = _street_reason(fld, text(month, i), text(ctype, i), text(xs, i), text(ys, i),
                                text(ls, i), None if np.isnan(xv) else float(xv),
                                None if np.isnan(yv) else float(yv))
        problems.append(Problem(names[j], int(records[j]), fld, reason,
                                v.join_row([r[j] for r in raw])))


def _street_refs(ids: pa.Array, no_id: np.ndarray, hk: pa.Array | None,
                 names: pa.DictionaryArray) -> pa.Array:
    """Each row's key: its Crime ID, else ``h:<content>:<ordinal>``, where the ordinal
    numbers the repeats of the same content in the same file (0, 1, 2… in file order).
    ``hk`` holds the content digests of the rows without an ID, in row order."""
    if hk is None:
        return ids
    sel = pa.array(no_id)
    files = np.asarray(names.filter(sel).indices, dtype=np.int64)  # each row's file
    hashes = pc.dictionary_encode(hk)
    code = files * len(hashes.dictionary) + np.asarray(hashes.indices, dtype=np.int64)
    keys = pc.binary_join_element_wise(
        "h:", hashes.dictionary.take(hashes.indices), ":",
        pa.array(_ordinals(code)).cast(pa.string()), "")
    return pc.replace_with_mask(ids, sel, keys)  # one copy of the ids, keys in row order


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
    enc = pc.dictionary_encode(pa.chunked_array([hashes]).combine_chunks())
    code = np.asarray(enc.indices, dtype=np.int64)
    uniq = enc.dictionary.to_pylist()
    before = np.array([seen.get(h, 0) for h in uniq], dtype=np.int64)
    ordinal = _ordinals(code) + (before[code] if len(uniq) else 0)
    for h, k in zip(uniq, np.bincount(code, minlength=len(uniq)).tolist(), strict=True):
        seen[h] = seen.get(h, 0) + k
    return pc.binary_join_element_wise(
        prefix, pc.utf8_slice_codeunits(enc.dictionary.take(enc.indices), 0, 24),
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
