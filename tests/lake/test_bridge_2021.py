"""A row with no point whose source states only a 2021 LSOA gets its 2011 LSOA from the ONS
best fit, named as such; a row with a point keeps the point's."""

from __future__ import annotations

import csv
import gzip
import io

from vru.data import police_uk_months
from vru.lake.loaders import ingest_police_uk
from vru.service import open_session

CODE21, CODE11 = "E01034474", "E01000010"  # a 2021 code whose best fit is one 2011 LSOA


def test_a_2021_code_without_a_point_is_bridged(tmp_path):
    month = next(p for p in police_uk_months() if "2018-11" in p.name)
    text = gzip.decompress(month.read_bytes()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    lon, lat, code = (header.index(c) for c in ("Longitude", "Latitude", "LSOA code"))
    changed = []
    for r in body:
        if r[0] and r[lon] and len(changed) < 3:  # three crimes: point removed, 2021 code
            r[lon] = r[lat] = ""
            r[code] = CODE21
            changed.append(r[0])
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *body])
    path = tmp_path / month.name.removesuffix(".gz")
    path.write_text(out.getvalue(), encoding="utf-8")
    home = tmp_path / "home"
    summary = ingest_police_uk(home, [path]).summary()
    assert summary["accepted"] == len(body)
    ids = ", ".join(f"'{c}'" for c in changed)
    got = open_session(home).sql(
        f"SELECT lsoa11cd, lsoa21cd, geo_status FROM incidents WHERE source_ref IN ({ids})")
    assert got.to_pylist() == [{"lsoa11cd": CODE11, "lsoa21cd": CODE21,
                                "geo_status": "lsoa_from_2021_code"}] * 3
    others = open_session(home).sql(
        "SELECT count(*) AS n FROM incidents WHERE geo_status = 'lsoa_from_2021_code'")
    assert others["n"][0].as_py() == 3
