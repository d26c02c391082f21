"""A long history that looks like data.police.uk, for developing forecasts: the synthetic
Thames Valley's recorded crimes, each moved to the nearest real anonymous map point.

data.police.uk publishes every crime at one of a limited set of anonymous map points (the
centre of a street, a public place, a police station) and gives the month only. Counts at
those points are what makes naive counts strong on real data, and the synthetic world
(points uniform in LSOAs, exact times) lacks both. This module writes the world's force
extract out again as data.police.uk street files: each crime at the map point nearest to it
among the distinct points of the real shipped months (taken verbatim: longitude, latitude,
"On or near ...", the point's LSOA), its month only, its police.uk crime type from the Home
Office code. Ingested with `vru.lake.loaders.ingest_police_uk` like any real month.

Used by ``bench/bench_forecast.py --history`` to evaluate the default forecast on years of
months (the shipped real data has four).
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

STREET_COLUMNS = ("Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
                  "Location", "LSOA code", "LSOA name", "Crime type",
                  "Last outcome category", "Context")


def snap_points() -> pd.DataFrame:
    """The distinct anonymous map points of the real shipped months: ``Longitude``,
    ``Latitude`` (the published text), ``Location``, ``LSOA code``, ``LSOA name``,
    ``easting``, ``northing`` (British National Grid) and ``events`` (rows at the point)."""
    from vru.data import police_uk_months
    from vru.geo.crs import to_bng

    frames = [pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
              for p in police_uk_months()]
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[(rows["Longitude"] != "") & (rows["Latitude"] != "")]
    key = ["Longitude", "Latitude"]
    pts = (rows.groupby(key, sort=True)
           .agg(Location=("Location", "first"), lsoa=("LSOA code", "first"),
                lsoa_name=("LSOA name", "first"), events=("Month", "size"))
           .reset_index().rename(columns={"lsoa": "LSOA code", "lsoa_name": "LSOA name"}))
    e, n = to_bng(pts["Longitude"].astype(float).to_numpy(),
                  pts["Latitude"].astype(float).to_numpy())
    pts["easting"], pts["northing"] = e, n
    return pts[np.isfinite(e) & np.isfinite(n)].reset_index(drop=True)


def write_police_uk_like(extracts: list[Path], out_dir: Path,
                         points: pd.DataFrame | None = None, busy: int = 0,
                         drift: float = 0.0, seed: int = 0) -> list[Path]:
    """Write the crimes of synthetic force extracts as one data.police.uk street file per
    month (``YYYY-MM-thames-valley-street.csv.gz`` in ``out_dir``), each crime at a real
    map point near it.

    ``busy = 0``: the nearest point. ``busy = k``: one of the k nearest points (within
    500 m), drawn in proportion to the crimes the real months hold there, so points that
    are busy on real data (a town-centre street, a station) stay busy every month, as they
    are on data.police.uk: the synthetic world's places are uniform inside LSOAs.
    ``drift`` (with ``busy``): each point's pull also walks at random from month to month,
    its logarithm by a normal step of sd ``drift``, so which nearby points are busy changes
    over the months (a world that is not stationary).

    Returns
    -------
    The files written, by month.
    """
    from vru.sources.force_extract import normalise_code, offence_codes

    pts = snap_points() if points is None else points
    tree = cKDTree(np.column_stack([pts["easting"], pts["northing"]]))
    codes = offence_codes().to_pandas()
    category = dict(zip(codes["code"], codes["category"], strict=True))
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    walk: dict[str, np.ndarray] = {}

    def pull(month: str) -> np.ndarray:
        if month not in walk:
            prev = walk[max(walk)] if walk else np.zeros(len(pts))
            walk[month] = prev + drift * rng.standard_normal(len(pts))
        return walk[month]

    parts = []
    for path in extracts:
        x = pd.read_csv(path, dtype=str, keep_default_na=False,
                        usecols=["crime_ref", "ho_offence_code", "committed_from", "easting",
                                 "northing"])
        e = pd.to_numeric(x["easting"], errors="coerce").to_numpy()
        n = pd.to_numeric(x["northing"], errors="coerce").to_numpy()
        ok = np.isfinite(e) & np.isfinite(n)
        if busy:
            d, near = tree.query(np.column_stack([e[ok], n[ok]]), k=busy)
            w = np.where((d <= 500.0) | (np.arange(busy) == 0),
                         pts["events"].to_numpy()[near], 0.0)
            if drift:
                month = x["committed_from"].str[:7].to_numpy()[ok]
                for m in sorted(set(month)):
                    rows = month == m
                    w[rows] *= np.exp(pull(m)[near[rows]])
            u = rng.random(len(w))[:, None] * w.sum(axis=1, keepdims=True)
            pick = np.minimum((np.cumsum(w, axis=1) < u).sum(axis=1), busy - 1)
            at = near[np.arange(len(near)), pick]
        else:
            _, at = tree.query(np.column_stack([e[ok], n[ok]]))
        p = pts.iloc[at].reset_index(drop=True)
        x = x[ok].reset_index(drop=True)
        ct = x["ho_offence_code"].map(lambda c: category.get(normalise_code(c)))
        keep = ct.notna().to_numpy()
        at_point = {c: p[c][keep].to_numpy()
                    for c in ("Longitude", "Latitude", "Location", "LSOA code", "LSOA name")}
        parts.append(pd.DataFrame({
            "Crime ID": [hashlib.sha256(r.encode()).hexdigest() for r in x["crime_ref"][keep]],
            "Month": x["committed_from"].str[:7][keep].to_numpy(),
            "Reported by": "Thames Valley Police", "Falls within": "Thames Valley Police",
            **at_point, "Crime type": ct[keep].to_numpy(),
            "Last outcome category": "", "Context": ""}))
    allrows = pd.concat(parts, ignore_index=True)
    written = []
    for month, g in allrows.groupby("Month", sort=True):
        f = out_dir / f"{month}-thames-valley-street.csv.gz"
        with gzip.open(f, "wt", encoding="utf-8", newline="") as fh:
            g[list(STREET_COLUMNS)].to_csv(fh, index=False)
        written.append(f)
    return written


#: Term sets the evaluation compares (None: every term the ensemble offers).
VARIANTS: dict[str, tuple[str, ...] | None] = {
    "all terms": None,
    "no long memory": ("naive", "last", "smooth_250", "smooth_500", "smooth_1000", "context",
                       "context_smooth", "promap", "population", "deprivation"),
    "naive + long": ("naive", "long"),
    "naive + recent_12": ("naive", "recent_12"),
    "naive + decay_6": ("naive", "decay_6"),
    "naive + context + context_decay_6": ("naive", "context", "context_decay_6"),
}


def evaluate(home: Path, category: str, end: str, origins: list[str],
             variants: dict[str, tuple[str, ...] | None] | None = None,
             share: float = 0.01, few: tuple[int, ...] = (2, 3)) -> pd.DataFrame:
    """PAI at ``share`` of the area, per origin: naive counts, the default forecast
    (`vru.analysis.forecast`'s ensemble, exactly as ``vru hotspots forecast`` draws it, its
    weights learned on the origins before), the default weights, and the ensemble learned on
    each of ``variants``' term sets (without the point process, to keep it quick), and on
    every term but from only the last ``few`` training origins (a lake holding few months).

    Every model sees only the months up to its origin; training origins' targets end by it.
    """
    from vru.analysis.forecast import Forecaster
    from vru.analysis.forecast.ensemble import (
        DEFAULT_WEIGHTS,
        Origin,
        ensemble_score,
        learn_weights,
        pai_at,
    )

    f = Forecaster(home, category, end=end)
    cache: dict[str, dict[str, np.ndarray]] = {}

    def parts(o: str) -> dict[str, np.ndarray]:
        if o not in cache:
            cache[o] = f.parts(o, 1, with_sepp=False)
        return cache[o]

    rows = []
    for o in origins:
        y = f.target(o, 1)
        row: dict[str, object] = {"origin": o, "events": float(y.sum())}
        row["naive"] = pai_at(f.rate("naive", o, 1)[0], y, f.area_m2, share)
        score, _, fitted = f.rate("ensemble", o, 1)
        row["default"] = pai_at(score, y, f.area_m2, share)
        row["default weights"] = fitted["weights"]
        row["training origins"] = len(fitted["training_origins"])
        here = parts(o)
        row["fixed DEFAULT_WEIGHTS"] = pai_at(ensemble_score(here, DEFAULT_WEIGHTS), y,
                                              f.area_m2, share)
        train = [Origin(t, parts(t), f.target(t, 1)) for t in fitted["training_origins"]]
        for name, terms in (variants or VARIANTS).items():
            w, _, _ = learn_weights(train, f.area_m2, terms)
            row[name] = pai_at(ensemble_score(here, w), y, f.area_m2, share)
            row[f"{name} weights"] = w
        for k in few:
            w, _, _ = learn_weights(train[-k:], f.area_m2)
            row[f"all terms, {k} origins"] = pai_at(ensemble_score(here, w), y, f.area_m2,
                                                    share)
        rows.append(row)
    return pd.DataFrame(rows)
