"""Police force crime extracts (Home Office offence codes, times, outcomes) → INCIDENTS rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vru.sources import values as v
from vru.sources.base import Parsed, Problem, SourceError
from vru.sources.canonical import INCIDENTS, conform
from vru.sources.csvfile import (
    BLOCK_SIZE,
    FileFacts,
    inspect_bytes,
    normalise_header,
    read_batches,
    read_header,
)

KIND = "force_extract"

# data.police.uk crime types, spelled exactly as its CSVs spell them.
POLICE_UK_CATEGORIES = (
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson", "Drugs",
    "Other crime", "Other theft", "Possession of weapons", "Public order", "Robbery",
    "Shoplifting", "Theft from the person", "Vehicle crime", "Violence and sexual offences",
)

# Home Office crime outcomes framework (outcome types 1-22), short names. Checked against the
# Home Office "Crime outcomes in England and Wales" technical annex and force FOI answers.
HO_OUTCOMES: dict[int, str] = {
    1: "Charged/summonsed",
    2: "Caution – youths",
    3: "Caution – adults",
    4: "Taken into consideration",
    5: "The offender has died",
    6: "Penalty notice for disorder",
    7: "Cannabis/khat warning",
    8: "Community resolution",
    9: "Prosecution not in the public interest (CPS)",
    10: "Formal action not in the public interest (police)",
    11: "Prosecution prevented – suspect under age",
    12: "Prosecution prevented – suspect too ill",
    13: "Prosecution prevented – victim or key witness dead or too ill",
    14: "Evidential difficulties: suspect not identified; victim does not support further action",
    15: "Evidential difficulties: suspect identified; victim supports action",
    16: "Evidential difficulties: victim does not support action",
    17: "Prosecution time limit expired",
    18: "Investigation complete – no suspect identified",
    19: "National Fraud Intelligence Bureau filed",
    20: "Further action by another body or agency",
    21: "Further investigation not in the public interest (police decision)",
    22: "Diversionary, educational or intervention activity",
}

AGE_BANDS = ("0-9", "10-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+", "unknown")

# canonical column → header spellings accepted (case and surrounding spaces ignored)
COLUMNS: dict[str, list[str]] = {
    c: [c, c.replace("_", " ")] for c in (
        "crime_ref", "force", "ho_offence_code", "offence_description", "committed_from",
        "committed_to", "easting", "northing", "longitude", "latitude",
        "location_description", "knife_flag", "domestic_flag", "outcome_type",
        "outcome_date", "victim_age_band",
    )
}
COLUMNS["crime_ref"] += ["crime reference", "crime_reference", "crime number"]
COLUMNS["ho_offence_code"] += ["ho offence code", "home office offence code", "ho_code"]
COLUMNS["longitude"] += ["lon", "long"]
COLUMNS["latitude"] += ["lat"]
REQUIRED = ["crime_ref", "force", "ho_offence_code", "committed_from"]


@lru_cache(maxsize=1)
def offence_codes() -> pa.Table:
    """Home Office offence code → police.uk category and offence group.

    Read from ``crime_sim_toolkit/src/CrimeCatMappings.csv`` (Home Office open data,
    republished by the crime-sim-toolkit package); categories are respelled as data.police.uk
    spells them, and combined codes (``1/4.1/4.10/4.2``, homicide) are split.
    """
    text = files("crime_sim_toolkit").joinpath("src", "CrimeCatMappings.csv").read_text("utf-8")
    spelled = {c.casefold(): c for c in POLICE_UK_CATEGORIES}
    codes, cats, groups, descs = [], [], [], []
    for row in csv.DictReader(io.StringIO(text)):
        cat = spelled.get(row["Police.uk_Cat"].strip().casefold())
        if cat is None:
            raise ValueError(f"CrimeCatMappings.csv: unknown police.uk category "
                             f"{row['Police.uk_Cat']!r}")
        for code in row["Offence_Code"].split("/"):
            codes.append(normalise_code(code))
            cats.append(cat)
            groups.append(row["Offence_Group"].strip())
            descs.append(row["Offence_Description"].strip())
    return pa.table({"code": codes, "category": cats, "offence_group": groups,
                     "description": descs})


def normalise_code(code: str) -> str:
    """Offence code comparison key: upper case, no spaces, no leading zeros (``08n`` → ``8N``)."""
    c = "".join(code.split()).upper()
    stripped = c.lstrip("0")
    return stripped if stripped and stripped[0].isdigit() else c


def _per_distinct(a: pa.Array, fn) -> pa.Array:
    """Apply a string function once per distinct value (codes repeat a lot)."""
    d = pc.dictionary_encode(a)
    return pc.take(fn(d.dictionary), d.indices)


def _normalise_codes(codes: pa.Array) -> pa.Array:
    def norm(c: pa.Array) -> pa.Array:
        c = pc.utf8_upper(pc.replace_substring_regex(c, r"\s+", ""))
        return pc.replace_substring_regex(c, r"^0+(\d)", r"\1")
    return _per_distinct(codes, norm)


def _age_key(bands: pa.Array) -> pa.Array:
    return _per_distinct(bands, lambda b: pc.utf8_lower(pc.replace_substring_regex(b, r"\s+",
                                                                                   "")))


class _Repeats:
    """Crime references already seen in the file, with a hash of their row's content."""

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.uint64)  # sorted
        self.content = np.zeros(0, dtype=np.uint64)
        self.lines = np.zeros(0, dtype=np.int64)

    def conflicts(self, refs: pa.Array, content: pa.Array, lines: np.ndarray,
                  use: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows (among ``use``) whose reference was seen before with other content.

        Returns the mask and, for each row, the line of the first occurrence.
        """
        import pandas as pd  # its stable array hash; only an extract needs it, not start-up

        n = len(refs)
        conflict = np.zeros(n, dtype=bool)
        first_line = np.zeros(n, dtype=np.int64)
        idx = np.flatnonzero(use)
        if not len(idx):
            return conflict, first_line
        keys = pd.util.hash_array(refs.take(pa.array(idx)).to_numpy(zero_copy_only=False))
        body = pd.util.hash_array(content.take(pa.array(idx)).to_numpy(zero_copy_only=False))
        sub_lines = lines[idx]
        # earlier batches
        pos = np.searchsorted(self.keys, keys)
        pos_c = np.minimum(pos, max(len(self.keys) - 1, 0))
        seen = (pos < len(self.keys)) & (self.keys[pos_c] == keys) if len(self.keys) else (
            np.zeros(len(keys), dtype=bool))
        want = np.where(seen, self.content[pos_c] if len(self.keys) else 0, 0).astype(np.uint64)
        want_line = np.where(seen, self.lines[pos_c] if len(self.keys) else 0, 0)
        # within this batch: compare with the first row holding the same reference
        codes, uniques = pd.factorize(keys)
        _, first = np.unique(codes, return_index=True)
        first_of = first[codes]
        want = np.where(seen, want, body[first_of])
        want_line = np.where(seen, want_line, sub_lines[first_of])
        conflict[idx] = want != body
        first_line[idx] = want_line
        # remember references new to the file
        new = ~seen & (np.arange(len(keys)) == first_of)
        if new.any():
            nk, nc, nl = keys[new], body[new], sub_lines[new]
            order = np.argsort(nk, kind="stable")
            nk, nc, nl = nk[order], nc[order], nl[order]
            at = np.searchsorted(self.keys, nk)
            self.keys = np.insert(self.keys, at, nk)
            self.content = np.insert(self.content, at, nc)
            self.lines = np.insert(self.lines, at, nl)
        return conflict, first_line


def iter_force_extract(path: str | Path, *, facts: FileFacts | None = None,
                       now: datetime | None = None,
                       block_size: int = BLOCK_SIZE) -> Iterator[tuple[pa.Table, list[Problem]]]:
    """Stream a force crime extract as canonical INCIDENTS batches.

    Parameters
    ----------
    path
        The CSV (columns in docs/formats.md, "Police force crime extract").
    facts
        From `vru.sources.csvfile.inspect_bytes`, if already computed.
    now
        The clock for the "date in the future" check (default: the system clock).
    block_size
        Bytes per parsed block.

    Yields
    ------
    (table, problems)
        Accepted rows in the INCIDENTS schema, and the rows of the same block that were
        quarantined (malformed lines included). Their counts add up to the block's rows.

    Raises
    ------
    SourceError
        Empty, binary or unreadable files, missing required columns, or a file with neither
        easting/northing nor longitude/latitude columns.
    """
    path = Path(path)
    facts = facts or inspect_bytes(path)
    header = {normalise_header(h) for h in read_header(path, facts.encoding)}

    def has(name: str) -> bool:
        return any(normalise_header(s) in header for s in COLUMNS[name])

    if all(has(r) for r in REQUIRED) and not ((has("easting") and has("northing"))
                       or (has("longitude") and has("latitude"))):
        raise SourceError(path, "no coordinate columns: give 'easting' and 'northing' "
                          "(British National Grid) or 'longitude' and 'latitude' (WGS84); "
                          "leave the cells empty where a crime has no location", line=1)
    problems: list[Problem] = []
    codes = offence_codes()
    repeats = _Repeats()
    for batch in read_batches(path, COLUMNS, REQUIRED, facts=facts, problems=problems,
                              block_size=block_size):
        table = _convert(path, batch.table, batch.records, codes, repeats, now, problems)
        out, problems[:] = list(problems), []
        yield table, out
    if problems:  # malformed rows after the last good block
        yield INCIDENTS.empty_table(), list(problems)


def read_force_extract(path: str | Path, *, now: datetime | None = None) -> Parsed:
    """Read a whole force crime extract into one `Parsed` (kind ``"force_extract"``).

    See `iter_force_extract`; this gathers its batches and counts the rows.
    """
    path = Path(path)
    facts = inspect_bytes(path)
    tables, problems = [], []
    for table, probs in iter_force_extract(path, facts=facts, now=now):
        tables.append(table)
        problems.extend(probs)
    table = pa.concat_tables(tables) if tables else INCIDENTS.empty_table()
    notes = list(facts.notes)
    rows_in = table.num_rows + len(problems)
    if rows_in == 0:
        notes.append(f"{path.name}: header only, no data rows")
    return Parsed(kind=KIND, file=str(path), sha256=facts.sha256, rows_in=rows_in,
                  table=table, problems=problems, notes=notes)


def _convert(path: Path, t: pa.Table, lines: np.ndarray, codes: pa.Table, repeats: _Repeats,
             now: datetime | None, problems: list[Problem]) -> pa.Table:
    n = t.num_rows
    f, col, quote = v.begin_checks(t, COLUMNS, REQUIRED)

    code_key = _normalise_codes(col["ho_offence_code"])
    code_at = pc.index_in(code_key, value_set=codes["code"])
    f.add(v.mask(pc.is_null(code_at)) & ~v.is_blank(col["ho_offence_code"]), "ho_offence_code",
          lambda i: f"unknown Home Office offence code {quote('ho_offence_code')(i)}: use a "
                    "classification code of the Home Office counting rules, e.g. 8N, 105A, 34B")

    start = v.parse_datetime(col["committed_from"])
    end = v.parse_datetime(col["committed_to"])
    for name, parsed in (("committed_from", start), ("committed_to", end)):
        _date_checks(f, name, parsed.values, parsed.bad, quote(name), now, v.DATETIME_FORMATS)
    f.add(v.mask(pc.less(end.values, start.values)), "committed_to",
          lambda i: f"committed_to {quote('committed_to')(i)} is before committed_from "
                    f"{quote('committed_from')(i)}")

    lon, lat, east, north = _coordinates(f, col)

    knife = v.parse_flag(col["knife_flag"])
    domestic = v.parse_flag(col["domestic_flag"])
    for name, parsed in (("knife_flag", knife), ("domestic_flag", domestic)):
        f.add(parsed.bad, name, lambda i, name=name: f"{name} {quote(name)(i)} is not a yes/no "
              "flag: use Y or N (yes/no, true/false, 1/0 are read too)")

    outcome_no = v.parse_integer(col["outcome_type"])
    known = v.mask(pc.and_(pc.greater_equal(outcome_no.values, 1),
                          pc.less_equal(outcome_no.values, 22)))
    has_outcome = ~v.is_blank(col["outcome_type"])
    f.add(has_outcome & ~known, "outcome_type",
          lambda i: f"outcome_type {quote('outcome_type')(i)} is not a Home Office outcome "
                    "type: use a whole number from 1 to 22")
    out_date = v.parse_date(col["outcome_date"])
    _date_checks(f, "outcome_date", out_date.values, out_date.bad, quote("outcome_date"), now,
                 v.DATE_FORMATS)
    f.add(v.mask(pc.less(out_date.values, pc.cast(pc.floor_temporal(start.values, unit="day"),
                                                 pa.date32()))),
          "outcome_date", lambda i: f"outcome_date {quote('outcome_date')(i)} is before the "
                                    f"crime (committed_from {quote('committed_from')(i)})")

    age_key = _age_key(col["victim_age_band"])
    age_at = pc.index_in(age_key, value_set=pa.array(AGE_BANDS))
    f.add(v.mask(pc.is_null(age_at)) & ~v.is_blank(col["victim_age_band"]), "victim_age_band",
          lambda i: f"unknown victim_age_band {quote('victim_age_band')(i)}: use one of "
                    f"{', '.join(AGE_BANDS)}")

    # a reference seen earlier in the file with different content: the second one is held
    content = pc.binary_join_element_wise(*[col[c] for c in COLUMNS], "\x1f")
    clash, first_line = repeats.conflicts(col["crime_ref"], content, lines, ~f.bad)
    f.add(clash, "crime_ref",
          lambda i: f"crime_ref {quote('crime_ref')(i)} already appears on line "
                    f"{first_line[i]} with different content; send one row per crime")

    problems.extend(f.problems(str(path), lines, t))
    keep = pa.array(~f.bad)

    same_end = pc.or_kleene(pc.is_null(end.values), pc.equal(end.values, start.values))
    exact_end = v.mask(pc.fill_null(same_end, True))
    precision = np.where(exact_end, np.where(start.has_time, "minute", "day"), "window")
    month = v.month_of(start.values)
    cat = pc.take(codes["category"], code_at)
    group = pc.take(codes["offence_group"], code_at)
    outcome_text = pa.array([HO_OUTCOMES[k] for k in range(1, 23)])
    outcome_idx = pc.if_else(pa.array(known), pc.subtract(outcome_no.values, 1),
                             pa.scalar(None, pa.int64()))
    outcome_code = pc.if_else(pa.array(known), pc.cast(outcome_no.values, pa.string()),
                              pa.scalar(None, pa.string()))
    band = pc.take(pa.array(AGE_BANDS), age_at)
    name = path.name
    out = pa.table({
        "source": pa.array([KIND] * n, pa.string()),
        "source_ref": col["crime_ref"],
        "force": col["force"],
        "month": month,
        "occurred_from": start.values,
        "occurred_to": pc.if_else(pa.array(exact_end), pa.scalar(None, v.TS), end.values),
        "time_precision": pa.array(precision, pa.string()),
        "category": cat,
        "offence_code": code_key,
        "offence_group": group,
        "lon": lon, "lat": lat, "easting": east, "northing": north,
        "location": v.null_if_blank(col["location_description"]),
        "knife": knife.values,
        "domestic": domestic.values,
        "outcome": pc.take(outcome_text, outcome_idx),
        "outcome_code": outcome_code,
        "outcome_date": out_date.values,
        "victim_age_band": band,
        "source_file": pa.array([name] * n, pa.string()),
        "source_line": pa.array(lines, pa.int64()),
    })
    return conform(out.filter(keep), INCIDENTS)


def _coordinates(f: v.Faults, col: dict[str, pa.Array]) -> tuple[pa.Array, ...]:
    """Parse and check both coordinate pairs; returns lon, lat, easting, northing."""
    lon, lat = v.coordinate_pair(f, col["longitude"], col["latitude"], "longitude", "latitude")
    e, n = v.coordinate_pair(f, col["easting"], col["northing"], "easting", "northing", "bng")
    return lon, lat, e, n


def _date_checks(f: v.Faults, name: str, values: pa.Array, bad: np.ndarray, quote,
                 now: datetime | None, formats: str) -> None:
    f.add(bad, name, lambda i: f"{name} {quote(i)} is not a valid date (expected {formats})")
    f.add(v.too_early_mask(values), name,
          lambda i: f"{name} {quote(i)} is before {v.EARLIEST_YEAR}: a typing slip?")
    f.add(v.future_mask(values, now), name, lambda i: f"{name} {quote(i)} is in the future")
