"""Residents per LSOA (IoD 2019 File 6, mid-2015): the denominators of rates."""

from __future__ import annotations

import csv
import gzip
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vru.data import asset
from vru.geo.errors import BoundaryError

# File 6 column headers (matched by prefix, case-insensitive) -> vru names.
_POPULATION_COLUMNS = {
    "lsoa code (2011)": "lsoa11cd",
    "total population: mid 2015": "population",
    "dependent children aged 0-15: mid 2015": "population_0_15",
    "population aged 16-59: mid 2015": "population_16_59",
    "older population aged 60 and over: mid 2015": "population_60_plus",
}


@lru_cache(maxsize=2)
def _population(path: str) -> pd.DataFrame:
    import pyarrow.csv as pacsv  # Arrow's reader: ten times pandas' on this 33k-row file

    p = Path(path)
    try:
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8-sig", newline="") as f:
            names = next(csv.reader([f.readline()]), [])
        raw = pacsv.read_csv(p, convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False))
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise BoundaryError(f"{p}: not a readable CSV ({exc})") from None
    rename: dict[str, str] = {}
    for prefix, name in _POPULATION_COLUMNS.items():
        hit = [c for c in names if str(c).strip().lower().startswith(prefix)]
        if not hit:
            raise BoundaryError(f"{p}: no column starting {prefix!r}")
        rename[hit[0]] = name
    out = pd.DataFrame({"lsoa11cd": pc.utf8_trim_whitespace(raw[next(iter(rename))])
                        .to_numpy(zero_copy_only=False)})
    for src, col in list(rename.items())[1:]:
        # stated as text: "1,296" keeps its separator until here, so a bad cell can be named
        text = pc.utf8_trim_whitespace(pc.replace_substring(raw[src], ",", ""))
        values = pc.cast(text, pa.int64(), safe=False) if pc.all(
            pc.match_substring_regex(text, r"^-?\d+$")).as_py() else None
        if values is None:
            bad = np.flatnonzero(~np.asarray(pc.match_substring_regex(text, r"^-?\d+$")))
            raise BoundaryError(f"{p}: line {int(bad[0]) + 2}, column {col}: not a whole "
                                "number")  # the header is line 1
        out[col] = values.to_numpy()
    return out


def lsoa_population(path: str | None = None) -> pd.DataFrame:
    """Mid-2015 LSOA population (IoD2019 File 6), for rates per resident.

    Parameters
    ----------
    path
        A CSV with the columns of IoD2019 File 6; default the shipped copy (all of England).

    Returns
    -------
    pandas.DataFrame
        ``lsoa11cd``, ``population`` (total, excluding prisoners), ``population_0_15``,
        ``population_16_59``, ``population_60_plus``. A 10-24 population is NOT derivable
        from this file (its bands are 0-15, 16-59, 60+), so none is given.
    """
    src = (
        str(Path(path).resolve())
        if path
        else str(asset("deprivation", "File_6_-_IoD2019_Population_Denominators.csv.gz"))
    )
    return _population(src).copy()
