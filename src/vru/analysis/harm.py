"""Harm weights per Home Office offence code, with a police.uk-category fallback (approximate).

What these numbers are — read before quoting a harm-weighted figure
------------------------------------------------------------------
The Office for National Statistics' Crime Severity Score (CSS, first published November 2016)
weights each Home Office offence code by the sentences courts give for it: the average
"equivalent days in custody" of the offence.  The Cambridge Crime Harm Index does the same
with the starting point of the Sentencing Council guideline.  vru ships **no official weight
file** (none is in the repository and nothing may download), so:

* Three anchors are the published ONS values of that first release, as reported at the time:
  homicide (code 1) 7,979; attempted murder (code 2) 4,663; possession of cannabis (92E) 3.
* Every other code weight below is an **approximation written for vru**: an order-of-magnitude
  value placed between those anchors so that the ranking follows the CSS ordering (homicide >
  attempted murder > rape > serious wounding and robbery > burglary > assault with injury >
  theft > criminal damage > drug possession).  They are *not* ONS figures.  Use them to ask
  "where is the harm concentrated", never to publish a CSS.
* data.police.uk rows carry no offence code, only a category.  A category's weight is the mean
  of its codes' weights weighted by a typical force's 2017/18 volume mix (Thames Valley's, from
  the Home Office table by force and offence code); it is a further approximation, because the
  mix inside a category varies between places and years.

For real use load the official table (ONS "Crime Severity Score: offence weights", one row
per code) with :func:`load_weights` and pass it as ``weights=`` to the aggregation.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import pyarrow as pa

__all__ = [
    "CATEGORY_WEIGHTS",
    "CODE_WEIGHTS",
    "HarmWeights",
    "PUBLISHED_ANCHORS",
    "default_weights",
    "load_weights",
]

#: Published ONS CSS weights (2016 release) used as anchors; everything else is approximate.
PUBLISHED_ANCHORS: dict[str, float] = {"1": 7979.0, "2": 4663.0, "92E": 3.0}

#: Approximate harm weight per Home Office offence code (see the module docstring).
CODE_WEIGHTS: dict[str, float] = {
    **PUBLISHED_ANCHORS,
    # violence with injury
    "4.4": 1500.0, "4.6": 1500.0, "4.8": 700.0, "5D": 1400.0, "5E": 900.0, "8N": 120.0,
    "8P": 150.0, "8S": 130.0,
    # violence without injury
    "3A": 2500.0, "3B": 250.0, "11A": 150.0, "13": 400.0, "36": 600.0, "104": 15.0,
    "105A": 12.0, "105B": 20.0, "106": 500.0,
    # stalking and harassment
    "8L": 25.0, "8M": 35.0, "8Q": 60.0, "8R": 15.0,
    # sexual offences
    "19C": 1900.0, "19D": 1900.0, "19E": 2200.0, "19F": 1900.0, "19G": 1900.0, "19H": 2200.0,
    "17A": 250.0, "17B": 450.0, "20A": 250.0, "20B": 450.0, "21": 700.0, "22A": 500.0,
    "22B": 300.0, "23": 600.0, "70": 300.0, "71": 500.0, "73": 100.0, "88A": 250.0,
    "88C": 100.0, "88D": 50.0, "88E": 30.0,
    # robbery
    "34A": 500.0, "34B": 400.0,
    # burglary
    "28E": 300.0, "28F": 150.0, "28G": 300.0, "28H": 150.0, "29A": 1200.0, "30C": 80.0,
    "30D": 40.0, "31A": 900.0,
    # theft
    "35": 150.0, "37.2": 150.0, "39": 40.0, "40": 30.0, "41": 35.0, "42": 20.0, "43": 5.0,
    "44": 10.0, "45": 15.0, "46": 8.0, "47": 15.0, "48": 60.0, "49": 12.0, "49A": 6.0,
    "126": 10.0,
    # criminal damage and arson
    "56A": 700.0, "56B": 40.0, "58A": 15.0, "58B": 8.0, "58C": 12.0, "58D": 10.0,
    "58J": 25.0, "59": 20.0,
    # drugs, weapons, public order, other
    "92A": 250.0, "92C": 5.0, "92D": 6.0, "10A": 800.0, "10B": 200.0, "10C": 40.0,
    "10D": 45.0, "81": 100.0, "62A": 200.0, "66": 15.0, "9A": 8.0, "9B": 12.0, "24": 80.0,
    "26": 10.0, "27": 3.0, "33": 25.0, "33A": 25.0, "38": 150.0, "54": 30.0, "60": 20.0,
    "61": 40.0, "61A": 60.0, "67": 400.0, "69": 30.0, "76": 1500.0, "79": 300.0,
    "80": 100.0, "802": 60.0, "814": 20.0, "83": 10.0, "86": 150.0, "95": 20.0, "96": 10.0,
    "99": 20.0,
}

#: Approximate weight per data.police.uk category: the mean code weight of the category under
#: a 2017/18 force volume mix (see the module docstring).  "Anti-social behaviour" is not a
#: notifiable crime and has no CSS weight; vru gives it 1 so it is counted, not weighted.
CATEGORY_WEIGHTS: dict[str, float] = {
    "Violence and sexual offences": 120.0,
    "Robbery": 415.0,
    "Burglary": 190.0,
    "Criminal damage and arson": 20.0,
    "Drugs": 85.0,
    "Possession of weapons": 110.0,
    "Public order": 10.0,
    "Theft from the person": 40.0,
    "Shoplifting": 8.0,
    "Bicycle theft": 10.0,
    "Vehicle crime": 25.0,
    "Other theft": 15.0,
    "Other crime": 60.0,
    "Anti-social behaviour": 1.0,
}


@dataclass(frozen=True)
class HarmWeights:
    """A weight per offence code and per police.uk category, with where they came from."""

    by_code: dict[str, float] = field(default_factory=dict)
    by_category: dict[str, float] = field(default_factory=dict)
    source: str = ""
    default: float = 1.0  #: weight of rows with neither a known code nor a known category

    def tables(self) -> tuple[pa.Table, pa.Table]:
        """Arrow tables ``(offence_code, weight)`` and ``(category, weight)`` for SQL joins."""
        codes = pa.table({"offence_code": pa.array(list(self.by_code), pa.string()),
                          "weight": pa.array(list(self.by_code.values()), pa.float64())})
        cats = pa.table({"category": pa.array(list(self.by_category), pa.string()),
                         "weight": pa.array(list(self.by_category.values()), pa.float64())})
        return codes, cats

    def weight(self, offence_code: str | None, category: str | None) -> float:
        """Weight of one row: its code's, else its category's, else ``default``."""
        if offence_code is not None and offence_code in self.by_code:
            return self.by_code[offence_code]
        if category is not None and category in self.by_category:
            return self.by_category[category]
        return self.default


def default_weights() -> HarmWeights:
    """vru's approximate CSS-style weights (three published anchors; the rest approximate)."""
    return HarmWeights(
        dict(CODE_WEIGHTS),
        dict(CATEGORY_WEIGHTS),
        "vru approximate CSS-style weights: ONS CSS 2016 anchors for codes 1, 2 and 92E; all "
        "other code and category weights are approximations (see vru.analysis.harm)",
    )


def load_weights(path: str | PathLike[str], code_column: str = "offence_code",
                 weight_column: str = "weight") -> HarmWeights:
    """Read official (or local) weights from a CSV with an offence code and a weight column.

    Categories keep vru's approximate fallback (official tables have no police.uk category).

    Raises
    ------
    ValueError
        Naming the file, line and field of a missing column, empty code or non-numeric weight.
    """
    p = Path(path)
    by_code: dict[str, float] = {}
    with p.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
        for want in (code_column, weight_column):
            if want.lower() not in fields:
                raise ValueError(f"{p}: no column {want!r} (columns: {', '.join(fields)})")
        ccol, wcol = fields[code_column.lower()], fields[weight_column.lower()]
        for line, row in enumerate(reader, start=2):
            code = (row.get(ccol) or "").strip()
            text = (row.get(wcol) or "").strip().replace(",", "")
            if not code:
                raise ValueError(f"{p}, line {line}, field {ccol}: empty offence code")
            try:
                w = float(text)
            except ValueError:
                raise ValueError(
                    f"{p}, line {line}, field {wcol}: weight {text!r} is not a number"
                ) from None
            if not w >= 0:
                raise ValueError(f"{p}, line {line}, field {wcol}: negative weight {w}")
            by_code[code] = w
    return HarmWeights(by_code, dict(CATEGORY_WEIGHTS), f"file {p}")
