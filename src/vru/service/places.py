"""Places a reader's map is named with: towns from the shipped gazetteer (public data).

The shipped gazetteer locates each post town at its district's centre, so one label is
given per centre: the town the district is named after (Aylesbury for Aylesbury Vale),
else the district's own name (Reading, Slough...). Labels are public facts, not lake data:
no decision is needed to read them.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd


@lru_cache(maxsize=1)
def towns() -> pd.DataFrame:
    """One labelled point per place of the shipped gazetteer.

    Returns
    -------
    pandas.DataFrame
        ``name``, ``district``, ``lad11cd``, ``easting``, ``northing`` (British National
        Grid), ``lon``, ``lat``.
    """
    from vru.data import asset
    from vru.geo.crs import to_bng

    df = pd.read_csv(asset("gazetteer", "places.csv.gz"))
    out = []
    for (lon, lat), g in df.groupby(["lon", "lat"], sort=True):
        district = str(g["district"].iloc[0])
        named = [n for n in g.loc[g["kind"] == "post_town", "name"]
                 if district.lower().startswith(str(n).lower())]
        out.append({"name": named[0] if named else district, "district": district,
                    "lad11cd": g["lad11cd"].iloc[0], "lon": lon, "lat": lat})
    frame = pd.DataFrame(out)
    e, n = to_bng(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    frame["easting"], frame["northing"] = e, n
    return frame
