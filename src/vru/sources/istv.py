"""Emergency-department assault data to the NHS ISTV standard (ISB 1594) → ED_ASSAULTS rows."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vru.sources import gazetteer
from vru.sources import values as v
from vru.sources.base import Parsed, Problem, SourceError
from vru.sources.canonical import ED_ASSAULTS, conform
from vru.sources.csvfile import inspect_bytes, normalise_header, read_batches, read_header

KIND = "istv"
MAX_ASSAULT_BEFORE_ARRIVAL = timedelta(days=30)

COLUMNS: dict[str, list[str]] = {
    c: [c, c.replace("_", " ")] for c in (
        "site_code", "attendance_ref", "arrival_datetime", "assault_datetime",
        "assault_method", "location_type", "location_description",
    )
}
COLUMNS["site_code"] += ["ods code", "ods_code", "site"]
COLUMNS["attendance_ref"] += ["attendance reference", "attendance_id", "attendance id"]
COLUMNS["arrival_datetime"] += ["arrival date time", "arrival", "arrival_date_time"]
COLUMNS["assault_datetime"] += ["assault date time", "assault", "assault_date_time",
                                "incident_datetime"]
COLUMNS["assault_method"] += ["weapon", "method", "weapon_or_method", "method of assault"]
COLUMNS["location_description"] += ["location", "location_details"]
REQUIRED = ["site_code", "arrival_datetime", "assault_method", "location_type"]

# ISTV vocabularies: canonical value → other spellings met in department exports
METHODS: dict[str, tuple[str, ...]] = {
    "body part": ("body part", "body parts", "bodypart", "hands", "feet", "fist", "fists",
                  "punch", "punched", "kick", "kicked", "hit", "hands feet",
                  "hit kick punch", "head butt", "headbutt"),
    "blunt object": ("blunt object", "blunt", "blunt instrument", "bat", "club", "stick"),
    "knife or sharp object": ("knife or sharp object", "knife", "knife sharp object", "sharp",
                              "sharp object", "sharp instrument", "blade", "bladed article",
                              "knife or sharp", "knife sharp", "stabbed", "stabbing"),
    "firearm": ("firearm", "firearms", "gun", "shot", "gunshot"),
    "glass or bottle": ("glass or bottle", "glass", "bottle", "glass bottle", "glassed"),
    "other": ("other",),
    "unknown": ("unknown", "not known", "not recorded", "unk", "nk", "n k"),
}
LOCATION_TYPES: dict[str, tuple[str, ...]] = {
    "street": ("street", "road", "street road", "public highway", "public place",
               "in the street", "outside"),
    "licensed premises": ("licensed premises", "licenced premises", "licensed premise",
                          "pub", "bar", "club", "nightclub", "night club", "pub club",
                          "pub or club", "pub bar club"),
    "home": ("home", "own home", "house", "residence", "dwelling", "private dwelling",
             "private residence"),
    "school or college": ("school or college", "school", "college", "school college"),
    "workplace": ("workplace", "work", "work place", "place of work"),
    "public transport": ("public transport", "transport", "bus", "train", "bus station",
                         "train station", "railway station", "station"),
    "park or open space": ("park or open space", "park", "open space", "park open space",
                           "field", "playing field"),
    "shop": ("shop", "shops", "store", "retail", "supermarket"),
    "other": ("other",),
    "unknown": ("unknown", "not known", "not recorded", "unk", "nk", "n k"),
}

# Column names that mean personal identifiers. ISTV data must carry none (ISB 1594).
_PERSONAL = re.compile(
    r"\b(nhs|chi number|forenames?|first ?names?|given names?|surnames?|last ?names?|"
    r"family names?|full ?names?|patient names?|dob|date of birth|birth ?date|"
    r"post ?codes?|address(es)?|phone|telephone|mobile|email|hospital number|mrn)\b")
_NAME_WORD = re.compile(r"\bnames?\b")
_NOT_PERSONAL = re.compile(r"^(site|hospital|department|trust|location|place|street|"
                           r"weapon|method)\b|postcode district")
_SITE = re.compile(r"^[A-Z][A-Z0-9]{2,5}$")


def personal_columns(header: list[str]) -> list[str]:
    """The header cells that name personal identifiers (NHS number, names, birth date,
    postcode, address, contact details). A ``postcode district`` column is allowed."""
    bad = []
    for h in header:
        k = normalise_header(h).replace("_", " ").replace("-", " ")
        if _NOT_PERSONAL.search(k):
            continue
        if _PERSONAL.search(k) or _NAME_WORD.search(k):
            bad.append(h)
    return bad


def _vocab_key(a: pa.Array) -> pa.Array:
    lowered = pc.utf8_lower(pc.replace_substring_regex(a, r"[^A-Za-z]+", " "))
    return pc.utf8_trim_whitespace(lowered)


def _vocab(table: dict[str, tuple[str, ...]]) -> tuple[pa.Array, pa.Array]:
    keys, values = [], []
    for canon, spellings in table.items():
        for s in spellings:
            keys.append(" ".join(re.sub(r"[^a-z]+", " ", s.lower()).split()))
            values.append(canon)
    return pa.array(keys), pa.array(values)


def read_istv(path: str | Path, *, now: datetime | None = None) -> Parsed:
    """Read an ISTV (ISB 1594) emergency-department assault file.

    Parameters
    ----------
    path
        The CSV (columns in docs/formats.md, "Emergency-department assaults").
    now
        Clock for the "date in the future" check (default: the system clock).

    Returns
    -------
    Parsed
        Kind ``"istv"``, rows in the ED_ASSAULTS schema with ``lon``/``lat`` (WGS84) and
        ``geocode_level`` from the shipped gazetteer (`vru.sources.gazetteer`); easting,
        northing and LSOA are left for the lake to derive.

    Raises
    ------
    SourceError
        A column that looks like a personal identifier (the file is refused whole), missing
        required columns, an empty, binary or unreadable file.
    """
    path = Path(path)
    facts = inspect_bytes(path)
    header = read_header(path, facts.encoding)
    bad = personal_columns(header)
    if bad:
        raise SourceError(
            path, f"column(s) {', '.join(repr(b) for b in bad)} look like personal "
            "identifiers. ISTV data must carry no personal identifiers (ISB 1594): remove "
            "these columns and send the file again; nothing was read.", line=1,
            field=bad[0])
    problems: list[Problem] = []
    tables = []
    state = _State()
    for batch in read_batches(path, COLUMNS, REQUIRED, facts=facts, problems=problems):
        tables.append(_convert(path, batch.table, batch.records, now, state, problems))
    table = pa.concat_tables(tables) if tables else ED_ASSAULTS.empty_table()
    notes = list(facts.notes)
    rows_in = table.num_rows + len(problems)
    if rows_in == 0:
        notes.append(f"{path.name}: header only, no data rows")
    elif table.num_rows:
        levels = Counter(table["geocode_level"].to_pylist())
        notes.append(f"{path.name}: geocoded " + ", ".join(
            f"{levels.get(k, 0)} to {k}" for k in ("street", "postcode_district", "place"))
            + f", {levels.get('none', 0)} without a point")
    return Parsed(kind=KIND, file=str(path), sha256=facts.sha256, rows_in=rows_in,
                  table=table, problems=problems, notes=notes)


class _State:
    """What later rows of a file are checked against: references and content keys seen."""

    def __init__(self) -> None:
        self.refs: dict[str, tuple[str, int]] = {}  # source_ref → (content, line)
        self.ordinals: Counter[str] = Counter()


def _convert(path: Path, t: pa.Table, lines: np.ndarray, now: datetime | None,
             state: _State, problems: list[Problem]) -> pa.Table:
    n = t.num_rows
    f, col, quote = v.begin_checks(t, COLUMNS, REQUIRED)
    site = pc.utf8_upper(col["site_code"])
    f.add(~np.asarray(pc.match_substring_regex(site, _SITE.pattern).to_numpy(
        zero_copy_only=False), dtype=bool) & ~v.is_blank(site), "site_code",
        lambda i: f"site_code {quote('site_code')(i)} is not an ODS site code (a letter and "
                  "2-5 letters or digits, e.g. RHW01)")
    arrival = v.parse_datetime(col["arrival_datetime"])
    assault = v.parse_datetime(col["assault_datetime"])
    for name, parsed in (("arrival_datetime", arrival), ("assault_datetime", assault)):
        q = quote(name)
        f.add(parsed.bad, name, lambda i, name=name, q=q: f"{name} {q(i)} is not a valid "
              f"date-time (expected {v.DATETIME_FORMATS})")
        f.add(v.too_early_mask(parsed.values), name,
              lambda i, name=name, q=q: f"{name} {q(i)} is before {v.EARLIEST_YEAR}")
        f.add(v.future_mask(parsed.values, now), name,
              lambda i, name=name, q=q: f"{name} {q(i)} is in the future")
    after = v.mask(pc.greater(assault.values, arrival.values))
    f.add(after, "assault_datetime",
          lambda i: f"assault_datetime {quote('assault_datetime')(i)} is after arrival "
                    f"{quote('arrival_datetime')(i)}: an assault precedes the attendance")
    gap = pa.scalar(int(MAX_ASSAULT_BEFORE_ARRIVAL / timedelta(microseconds=1)),
                    pa.duration("us"))
    early = v.mask(pc.less(assault.values, pc.subtract(arrival.values, gap)))
    f.add(early, "assault_datetime",
          lambda i: f"assault_datetime {quote('assault_datetime')(i)} is more than "
                    f"{MAX_ASSAULT_BEFORE_ARRIVAL.days} days before arrival "
                    f"{quote('arrival_datetime')(i)}: check both dates")
    weapon = _lookup(f, col, "assault_method", METHODS)
    loc_type = _lookup(f, col, "location_type", LOCATION_TYPES)

    ok = ~f.bad
    refs, clash, first_line = _references(col, site, arrival, assault, weapon, loc_type, lines,
                                          ok, state)
    f.add(clash, "attendance_ref",
          lambda i: f"attendance_ref {quote('attendance_ref')(i)} already appears on line "
                    f"{first_line[i]} with different content; send one row per attendance")
    problems.extend(f.problems(str(path), lines, t))
    keep = pa.array(~f.bad)

    lon, lat, level = _geocode(col["location_description"])
    month_from = pc.coalesce(assault.values, arrival.values)
    desc = col["location_description"]
    out = pa.table({
        "source_ref": refs,
        "site_code": site,
        "arrival": arrival.values,
        "assault": assault.values,
        "month": v.month_of(month_from),
        "weapon": weapon,
        "location_type": loc_type,
        "location_description": pc.if_else(pc.equal(desc, ""), pa.scalar(None, pa.string()),
                                           desc),
        "lon": lon, "lat": lat, "geocode_level": level,
        "source_file": pa.array([path.name] * n, pa.string()),
        "source_line": pa.array(lines, pa.int64()),
    })
    return conform(out.filter(keep), ED_ASSAULTS)


def _lookup(f: v.Faults, col: dict[str, pa.Array], name: str,
            table: dict[str, tuple[str, ...]]) -> pa.Array:
    keys, values = _vocab(table)
    at = pc.index_in(_vocab_key(col[name]), value_set=keys)
    unknown = v.mask(pc.is_null(at)) & ~v.is_blank(col[name])
    f.add(unknown, name, lambda i: f"{name} {v.text_at(col[name], i)!r} is not an ISTV "
          f"category: use one of {', '.join(table)}")
    return pc.take(values, at)


def _references(col: dict[str, pa.Array], site: pa.Array, arrival: v.TimeColumn,
                assault: v.TimeColumn, weapon: pa.Array, loc_type: pa.Array,
                lines: np.ndarray, ok: np.ndarray,
                state: _State) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """source_ref per row (site:attendance_ref, else a content key + ordinal among identical
    rows), and rows whose reference was already used with other content."""
    n = len(site)
    content = pc.binary_join_element_wise(
        site, pc.cast(arrival.values, pa.string()),
        pc.fill_null(pc.cast(assault.values, pa.string()), ""),
        pc.fill_null(weapon, ""), pc.fill_null(loc_type, ""),
        pc.utf8_lower(col["location_description"]), "\x1f").to_pylist()
    sites = site.to_pylist()
    given = col["attendance_ref"].to_pylist()
    refs: list[str | None] = [None] * n
    clash = np.zeros(n, dtype=bool)
    first_line = np.zeros(n, dtype=np.int64)
    for i in np.flatnonzero(ok):  # Python per row: ISTV files are small (thousands a year)
        body = content[i] or ""
        if given[i]:
            ref = f"{sites[i]}:{given[i]}"
            seen = state.refs.get(ref)
            if seen is None:
                state.refs[ref] = (body, int(lines[i]))
            elif seen[0] != body:
                clash[i] = True
                first_line[i] = seen[1]
        else:
            digest = hashlib.sha1(body.encode("utf-8")).hexdigest()[:20]
            state.ordinals[digest] += 1
            ref = f"{sites[i]}:~{digest}.{state.ordinals[digest]}"
        refs[i] = ref
    return pa.array(refs, pa.string()), clash, first_line


def _geocode(desc: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Place each distinct description once with the shipped gazetteer."""
    gaz = gazetteer.load()
    uniq = pc.unique(desc)
    hits = [gaz.locate(s) for s in uniq.to_pylist()]
    at = pc.index_in(desc, value_set=uniq)
    lon = pc.take(pa.array([h.lon for h in hits], pa.float64()), at)
    lat = pc.take(pa.array([h.lat for h in hits], pa.float64()), at)
    level = pc.take(pa.array([h.level for h in hits], pa.string()), at)
    return lon, lat, level
