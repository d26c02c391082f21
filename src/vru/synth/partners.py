"""Partner person records (school exclusions, youth justice, social care) with linkage truth.

One synthetic population of young people; each partner holds records of some of them under
its own identifier, with the identifier errors real linkage meets: typos, nicknames,
day/month swapped in the date of birth, upper-case surnames, missing postcodes. Each error
type is planted at an exact count (``round(rate * records)``) on disjoint records per field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from vru.synth.names import FIRST_NAMES_FEMALE, FIRST_NAMES_MALE, NICKNAMES, SURNAMES
from vru.synth.places import Geography

PERSONS_AT_SCALE_1 = 4000
MIN_PERSONS = 80
ERROR_RATES: dict[str, float] = {
    "first_name_nickname": 0.05,
    "first_name_typo": 0.03,
    "surname_typo": 0.04,
    "surname_case": 0.06,
    "dob_day_month_swapped": 0.02,
    "postcode_missing": 0.08,
}
ERROR_FIELD = {"first_name_nickname": "first_name", "first_name_typo": "first_name",
               "surname_typo": "surname", "surname_case": "surname",
               "dob_day_month_swapped": "date_of_birth", "postcode_missing": "postcode"}
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # letters used in the inward code of a postcode
_POSTCODE_DISTRICTS = {"RG": 45, "OX": 49, "SL": 9, "MK": 46, "HP": 27}

EXCLUSION_REASONS = (
    "physical assault against a pupil", "physical assault against an adult",
    "verbal abuse or threatening behaviour against a pupil",
    "verbal abuse or threatening behaviour against an adult", "bullying", "racist abuse",
    "sexual misconduct", "drug and alcohol related", "damage", "theft",
    "persistent disruptive behaviour", "use or threat of use of an offensive weapon", "other",
)
YJ_OFFENCES = ("violence against the person", "robbery", "drugs", "theft and handling",
               "criminal damage", "public order", "possession of weapons", "motoring", "other")
YJ_DISPOSALS = ("community resolution", "youth caution", "youth conditional caution",
                "referral order", "youth rehabilitation order", "detention and training order")
SC_SOURCES = ("police", "school", "health", "self or family", "local authority", "other")
SC_NEEDS = ("abuse or neglect", "child's disability", "parental illness",
            "family in acute stress", "family dysfunction", "socially unacceptable behaviour",
            "low income", "absent parenting", "not stated")


@dataclass
class Column:
    """A contract column."""

    name: str
    type: str
    required: bool
    identifier: str | None = None  # the identifier's kind (contract ``identifier = "..."``)
    allowed: tuple[str, ...] | None = None


@dataclass
class Partner:
    """A partner dataset: its contract and how often people appear in it."""

    name: str
    owner: str
    description: str
    retention_days: int
    date_column: str
    person_id: str              # the partner's own person identifier column
    record_id: str
    columns: list[Column]
    base_p: float               # P(person appears) = base_p + risk_p * risk ** risk_pow
    risk_p: float
    risk_pow: float
    extra_mean: float           # records per person: 1 + Poisson(extra_mean)
    id_prefix: str
    id_digits: int


def _identity_columns(person_id: str) -> list[Column]:
    # Each kind is pseudonymised under its own key: a first name and a surname that are the
    # same word must not give the same token.
    return [Column(person_id, "string", True, "identifier"),
            Column("first_name", "string", True, "first_name"),
            Column("surname", "string", True, "surname"),
            Column("date_of_birth", "date", True, "date"),
            Column("postcode", "string", False, "postcode")]


PARTNERS: tuple[Partner, ...] = (
    Partner("school_exclusions", "Thames Valley schools and local authorities (synthetic)",
            "Fixed-term and permanent exclusions, pupils aged 10-17 (synthetic data)", 2190,
            "exclusion_date", "pupil_id", "exclusion_id",
            [Column("exclusion_id", "string", True)] + _identity_columns("pupil_id") + [
                Column("exclusion_date", "date", True),
                Column("exclusion_type", "string", True, allowed=("fixed-term", "permanent")),
                Column("reason", "string", True, allowed=EXCLUSION_REASONS),
                Column("days_excluded", "integer", False)],
            0.30, 0.55, 1.0, 0.6, "", 12),
    Partner("youth_justice", "Thames Valley youth justice services (synthetic)",
            "Proven offences and disposals of young people aged 10-17 (synthetic data)", 2190,
            "offence_date", "yjs_id", "offence_ref",
            [Column("offence_ref", "string", True)] + _identity_columns("yjs_id") + [
                Column("offence_date", "date", True),
                Column("offence_type", "string", True, allowed=YJ_OFFENCES),
                Column("disposal", "string", True, allowed=YJ_DISPOSALS),
                Column("knife_involved", "boolean", False)],
            0.02, 0.65, 2.0, 0.4, "YJ", 6),
    Partner("social_care_referrals", "Children's social care, Thames Valley councils "
            "(synthetic)", "Referrals to children's social care, ages 10-17 (synthetic data)",
            2190, "referral_date", "child_id", "referral_id",
            [Column("referral_id", "string", True)] + _identity_columns("child_id") + [
                Column("referral_date", "date", True),
                Column("referral_source", "string", True, allowed=SC_SOURCES),
                Column("primary_need", "string", True, allowed=SC_NEEDS)],
            0.15, 0.55, 1.0, 0.3, "SC", 7),
)


@dataclass
class PartnerOutput:
    """The tables written and the truth for the manifest."""

    tables: dict[str, pa.Table] = field(default_factory=dict)
    persons: list[dict[str, object]] = field(default_factory=list)
    records: dict[str, dict[str, list[object]]] = field(default_factory=dict)
    errors: dict[str, dict[str, dict[str, object]]] = field(default_factory=dict)


def _postcode(area: str, rng: np.random.Generator) -> str:
    district = int(rng.integers(1, _POSTCODE_DISTRICTS.get(area, 20) + 1))
    inward = (f"{int(rng.integers(1, 10))}{_INWARD_LETTERS[int(rng.integers(0, 20))]}"
              f"{_INWARD_LETTERS[int(rng.integers(0, 20))]}")
    return f"{area}{district} {inward}"


def _typo(word: str, rng: np.random.Generator) -> str:
    """One keying error: substitution, deletion, adjacent transposition or doubled letter.

    Never yields a nickname of the word, nor the word in another case.
    """
    avoid = {n.lower() for n in NICKNAMES.get(word, ())}
    for _ in range(20):
        kind = int(rng.integers(0, 4))
        i = int(rng.integers(1, len(word)))  # the first letter is rarely mistyped
        if kind == 0:
            c = "abcdefghijklmnopqrstuvwxyz"[int(rng.integers(0, 26))]
            out = word[:i] + c + word[i + 1:]
        elif kind == 1 and len(word) > 3:
            out = word[:i] + word[i + 1:]
        elif kind == 2 and i + 1 < len(word):
            out = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        else:
            out = word[:i] + word[i] + word[i:]
        if out.lower() != word.lower() and out.lower() not in avoid:
            return out
    return word + "e"


def _people(geo: Geography, n: int, first_year: int, last_year: int,
            rng: np.random.Generator) -> list[dict[str, object]]:
    w = geo.population_0_15 * np.exp(1.0 * (10 - geo.imd_decile) / 9.0)
    cum = np.cumsum(w)
    lsoa = np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), geo.n - 1)
    lo = np.datetime64(f"{first_year - 17}-01-01")
    hi = np.datetime64(f"{last_year - 10}-12-31")
    dob = lo + rng.integers(0, int((hi - lo).astype(int)) + 1, n).astype("timedelta64[D]")
    areas = [t.postcode_district.rstrip("0123456789") for t in geo.towns]
    risk = rng.beta(1.2, 3.0, n) * (1 + 0.5 * (10 - geo.imd_decile[lsoa]) / 9) / 1.5
    out = []
    for i in range(n):
        male = bool(rng.random() < 0.55)
        pool = FIRST_NAMES_MALE if male else FIRST_NAMES_FEMALE
        out.append({
            "person_truth_id": f"P{i + 1:06d}",
            "sex": "M" if male else "F",
            "first_name": pool[int(rng.integers(0, len(pool)))],
            "surname": SURNAMES[int(rng.integers(0, len(SURNAMES)))],
            "date_of_birth": str(dob[i]),
            "postcode": _postcode(areas[int(geo.nearest_town[lsoa[i]])], rng),
            "lsoa11cd": str(geo.codes[lsoa[i]]),
            "risk": round(float(min(risk[i], 1.0)), 4),
        })
    return out


def _event_dates(dob: str, k: int, start: np.datetime64, end: np.datetime64,
                 rng: np.random.Generator) -> list[str]:
    """``k`` dates in the period while the person is 10-17 (the period if that is empty)."""
    b = np.datetime64(dob)
    lo = max(start, b + np.timedelta64(3653, "D"))
    hi = min(end, b + np.timedelta64(6574, "D"))
    if hi < lo:
        lo, hi = start, end
    span = int((hi - lo).astype(int)) + 1
    return sorted(str(lo + np.timedelta64(int(d), "D")) for d in rng.integers(0, span, k))


def _details(partner: str, rng: np.random.Generator) -> dict[str, object]:
    if partner == "school_exclusions":
        permanent = bool(rng.random() < 0.06)
        return {"exclusion_type": "permanent" if permanent else "fixed-term",
                "reason": EXCLUSION_REASONS[int(rng.integers(0, len(EXCLUSION_REASONS)))],
                "days_excluded": None if permanent else int(rng.integers(1, 6))}
    if partner == "youth_justice":
        offence = YJ_OFFENCES[int(rng.integers(0, len(YJ_OFFENCES)))]
        knife = offence in ("violence against the person", "robbery",
                            "possession of weapons") and bool(rng.random() < 0.3)
        return {"offence_type": offence,
                "disposal": YJ_DISPOSALS[int(rng.integers(0, len(YJ_DISPOSALS)))],
                "knife_involved": knife}
    return {"referral_source": SC_SOURCES[int(rng.integers(0, len(SC_SOURCES)))],
            "primary_need": SC_NEEDS[int(rng.integers(0, len(SC_NEEDS)))]}


def _swap_day_month(dob: str) -> str:
    y, m, d = dob.split("-")
    return f"{y}-{d}-{m}"


def _apply_errors(rows: list[dict[str, object]], id_col: str, partner: str,
                  rng: np.random.Generator) -> dict[str, dict[str, object]]:
    """Plant each error type on exactly round(rate * n) records, disjoint within a field."""
    n = len(rows)
    taken: dict[str, set[int]] = {}
    planted: dict[str, dict[str, object]] = {}
    for err, rate in ERROR_RATES.items():
        fld = ERROR_FIELD[err]
        busy = taken.setdefault(fld, set())
        if err == "first_name_nickname":
            ok = [i for i in range(n) if rows[i]["first_name"] in NICKNAMES]
        elif err == "dob_day_month_swapped":
            ok = [i for i in range(n) if int(str(rows[i]["date_of_birth"])[8:]) <= 12
                  and str(rows[i]["date_of_birth"])[8:] != str(rows[i]["date_of_birth"])[5:7]]
        else:
            ok = list(range(n))
        ok = [i for i in ok if i not in busy]
        k = min(int(round(rate * n)), len(ok))
        chosen = sorted(int(i) for i in rng.choice(ok, size=k, replace=False)) if k else []
        for i in chosen:
            r = rows[i]
            if err == "first_name_nickname":
                opts = NICKNAMES[str(r["first_name"])]
                r["first_name"] = opts[int(rng.integers(0, len(opts)))]
            elif err == "first_name_typo":
                r["first_name"] = _typo(str(r["first_name"]), rng)
            elif err == "surname_typo":
                r["surname"] = _typo(str(r["surname"]), rng)
            elif err == "surname_case":
                r["surname"] = str(r["surname"]).upper()
            elif err == "dob_day_month_swapped":
                r["date_of_birth"] = _swap_day_month(str(r["date_of_birth"]))
            else:
                r["postcode"] = None
        busy.update(chosen)
        planted[err] = {"rate": rate, "count": k,
                        "record_ids": [str(rows[i][id_col]) for i in chosen]}
    return planted


def _table(partner: Partner, rows: list[dict[str, object]]) -> pa.Table:
    types = {"string": pa.string(), "date": pa.string(), "integer": pa.int64(),
             "boolean": pa.bool_(), "number": pa.float64(), "datetime": pa.string()}
    return pa.table({c.name: pa.array([r.get(c.name) for r in rows], types[c.type])
                     for c in partner.columns})


def generate_partners(geo: Geography, scale: float, start: np.datetime64, end: np.datetime64,
                      rng: np.random.Generator) -> PartnerOutput:
    """Persons and the three partner tables with planted identifier errors."""
    first_year = int(str(start)[:4])
    last_year = int(str(end)[:4])
    n = max(MIN_PERSONS, int(round(PERSONS_AT_SCALE_1 * scale)))
    people = _people(geo, n, first_year, last_year, rng)
    out = PartnerOutput(persons=people)
    for partner in PARTNERS:
        rows: list[dict[str, object]] = []
        used_ids: set[str] = set()
        for person in people:
            risk = float(person["risk"])
            if rng.random() >= partner.base_p + partner.risk_p * risk ** partner.risk_pow:
                continue
            while True:
                pid = partner.id_prefix + "".join(
                    str(d) for d in rng.integers(0, 10, partner.id_digits))
                if partner.name == "school_exclusions":  # UPN: a check letter + 12 digits
                    pid = "ABCDEFGHJKLMNPQRTUVWXYZ"[int(rng.integers(0, 23))] + pid
                if pid not in used_ids:
                    used_ids.add(pid)
                    break
            person.setdefault("partner_ids", {})[partner.name] = pid
            k = 1 + int(rng.poisson(partner.extra_mean))
            for d in _event_dates(str(person["date_of_birth"]), k, start, end, rng):
                rows.append({partner.person_id: pid, "first_name": person["first_name"],
                             "surname": person["surname"],
                             "date_of_birth": person["date_of_birth"],
                             "postcode": person["postcode"], partner.date_column: d,
                             "_truth": person["person_truth_id"],
                             **_details(partner.name, rng)})
        rows.sort(key=lambda r: (str(r[partner.date_column]), str(r[partner.person_id])))
        prefix = {"exclusion_id": "EX", "offence_ref": "YO", "referral_id": "RF"}
        for i, r in enumerate(rows):
            r[partner.record_id] = f"{prefix[partner.record_id]}{i + 1:07d}"
        out.errors[partner.name] = _apply_errors(rows, partner.record_id, partner.name, rng)
        out.records[partner.name] = {str(r[partner.record_id]): str(r["_truth"])
                                     for r in rows}
        out.tables[partner.name] = _table(partner, rows)
    for p in people:
        p.setdefault("partner_ids", {})
    return out


def _toml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def contract_toml(partner: Partner) -> str:
    """The partner's contract in the TOML shape of docs/formats.md."""
    lines = [f"name = {_toml_str(partner.name)}", f"owner = {_toml_str(partner.owner)}",
             f"description = {_toml_str(partner.description)}",
             f"retention_days = {partner.retention_days}",
             f"date_column = {_toml_str(partner.date_column)}"]
    for c in partner.columns:
        lines += ["", "[[columns]]", f"name = {_toml_str(c.name)}",
                  f"type = {_toml_str(c.type)}", f"required = {str(c.required).lower()}"]
        if c.identifier:
            lines.append(f"identifier = {_toml_str(c.identifier)}")
        if c.allowed:
            lines.append("allowed = [" + ", ".join(_toml_str(a) for a in c.allowed) + "]")
    return "\n".join(lines) + "\n"


def write_contract(partner: Partner, folder: Path) -> Path:
    """Write ``<name>.toml`` into ``folder``."""
    path = folder / f"{partner.name}.toml"
    path.write_text(contract_toml(partner), encoding="utf-8")
    return path
