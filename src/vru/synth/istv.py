"""Emergency-department assault attendances to the ISTV minimum dataset (ISB 1594).

A share of police-recorded violence with injury arrives at the nearest of the five major
emergency departments within six hours; on top, a planted share of attendances are assaults
never reported to police (the Cardiff Model's measure). No personal identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vru.synth.crimes import DOMESTIC, HOTSPOT
from vru.synth.names import STREETS, TOWN_CENTRE_STREETS
from vru.synth.places import Geography
from vru.synth.plan import Hotspot, lsoa_weights
from vru.synth.records import Recorded
from vru.synth.timing import PROFILES, sample_times

# Illustrative ODS site codes of the five major Thames Valley emergency departments, with the
# town (located from data) whose centre stands for the hospital's catchment.
SITES = (
    ("RHW01", "Royal Berkshire Hospital", "Reading"),
    ("RTH08", "John Radcliffe Hospital", "Oxford"),
    ("RDU50", "Wexham Park Hospital (Frimley Health)", "Slough"),
    ("RD816", "Milton Keynes University Hospital", "Milton Keynes"),
    ("RXQ02", "Stoke Mandeville Hospital", "Aylesbury"),
)
ISTV_COLUMNS = ("site_code", "attendance_ref", "arrival_datetime", "assault_datetime",
                "assault_method", "location_type", "location_description")
UNREPORTED_SHARE = 0.45          # planted share of ED assault attendances unknown to police
ATTEND_P = {"knife": 0.60, "nte": 0.35, "domestic": 0.12, "other": 0.22}
ARRIVAL_MEAN_MIN = 90.0          # delay from assault to arrival: exponential, cut at 6 h
ARRIVAL_MAX_MIN = 360
ASSAULT_TIME_SD_MIN = 15.0       # patients' recollection of the assault time
ASSAULT_TIME_MISSING = 0.12
POSTCODE_RADIUS_M = 800.0        # within this of a town centre the postcode district is used
METHODS = ("body part", "blunt object", "knife or sharp object", "firearm", "glass or bottle",
           "other", "unknown")
_METHOD_W = {"plain": (0.62, 0.10, 0.0, 0.002, 0.05, 0.07, 0.158),
             "nte": (0.58, 0.06, 0.0, 0.0, 0.16, 0.05, 0.15)}
LOCATION_TYPES = ("street", "licensed premises", "home", "school or college", "workplace",
                  "public transport", "park or open space", "shop", "other", "unknown")
_LOCTYPE_W = {"plain": (0.50, 0.03, 0.0, 0.04, 0.08, 0.04, 0.08, 0.06, 0.07, 0.10),
              "nte": (0.55, 0.45, 0, 0, 0, 0, 0, 0, 0, 0)}


@dataclass
class Attendances:
    """All ED rows of the period and their truth."""

    table: pa.Table                  # ISTV_COLUMNS, sorted by site then arrival
    year: np.ndarray                 # arrival year of each row
    crime_ref: np.ndarray            # linked crime_ref or None (never reported)
    sites: list[tuple[str, str, str, float, float]]


def _pick(weights: tuple[float, ...], n: int, rng: np.random.Generator) -> np.ndarray:
    cum = np.cumsum(weights)
    return np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"),
                      len(weights) - 1)


def _sites(geo: Geography) -> list[tuple[str, str, str, float, float]]:
    towns = {t.name: t for t in geo.towns}
    return [(code, name, town, towns[town].easting, towns[town].northing)
            for code, name, town in SITES if town in towns]


def _unreported(geo: Geography, n: int, days: np.ndarray, hotspots: list[Hotspot],
                rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Assaults nobody reported: 35% night-time economy, 15% at home, the rest about town."""
    n_nte = int(round(0.35 * n))
    n_dom = int(round(0.15 * n))
    n_bg = n - n_nte - n_dom
    w = lsoa_weights(geo, 1.2)
    cum = np.cumsum(w)
    lsoa = np.minimum(np.searchsorted(cum, rng.random(n_dom + n_bg) * cum[-1], side="right"),
                      geo.n - 1)
    bx, by = geo.sample_points(lsoa, rng)
    nte = [h for h in hotspots if h.kind == "town_centre" and h.profile == "nte"]
    k = rng.integers(0, len(nte), n_nte) if nte else np.zeros(0, dtype=np.int64)
    rad = np.array([h.radius_m for h in nte])[k] * np.sqrt(rng.random(n_nte))
    ang = rng.random(n_nte) * 2 * np.pi
    nx = np.array([h.easting for h in nte])[k] + rad * np.cos(ang)
    ny = np.array([h.northing for h in nte])[k] + rad * np.sin(ang)
    try:
        nt = sample_times(n_nte, days, PROFILES["nte"], rng, closures=True)
    except ValueError:
        nt = sample_times(n_nte, days, PROFILES["nte"], rng)
    t = np.concatenate([nt, sample_times(n_dom, days, PROFILES["domestic"], rng),
                        sample_times(n_bg, days, PROFILES["violence"], rng)])
    kind = np.concatenate([np.full(n_nte, 1), np.full(n_dom, 2), np.zeros(n_bg, dtype=int)])
    streets = np.array(STREETS, dtype=object)[rng.integers(0, len(STREETS), n_dom + n_bg)]
    tc = np.array(TOWN_CENTRE_STREETS, dtype=object)[rng.integers(0, len(TOWN_CENTRE_STREETS),
                                                                  n_nte)]
    place = np.concatenate([np.array([h.town for h in nte], dtype=object)[k],
                            geo.place[lsoa]]).astype(object)
    street = np.concatenate([tc, streets])
    return {"t": t, "x": np.concatenate([nx, bx]), "y": np.concatenate([ny, by]),
            "kind": kind, "knife": np.zeros(n, dtype=bool),
            "loc": np.array([f"{s}, {p}" for s, p in zip(street, place, strict=True)],
                            dtype=object),
            "place": place}


def attendances(geo: Geography, years: dict[int, np.ndarray], recorded: dict[int, Recorded],
                vwi_codes: np.ndarray, hotspots: list[Hotspot], period_end: np.datetime64,
                rng: np.random.Generator) -> Attendances:
    """ED assault attendances for every year of the period.

    Parameters
    ----------
    geo, hotspots
        The world's geography and planted hotspots.
    years
        Year -> its days (``datetime64[D]``) inside the period.
    recorded
        Year -> recorded crimes.
    vwi_codes
        Indices of the violence-with-injury offence codes.
    period_end
        Last day of the period: later arrivals are left out.
    rng
        Random generator.
    """
    sites = _sites(geo)
    sx = np.array([s[3] for s in sites])
    sy = np.array([s[4] for s in sites])
    parts: list[dict[str, np.ndarray]] = []
    for year in sorted(years):
        r = recorded[year]
        vwi = np.flatnonzero(np.isin(r.code, vwi_codes))
        nte = (r.comp[vwi] == HOTSPOT) & np.isin(r.hot[vwi], [
            k for k, h in enumerate(hotspots) if h.profile == "nte"])
        dom = r.comp[vwi] == DOMESTIC
        p = np.where(r.knife[vwi], ATTEND_P["knife"],
                     np.where(nte, ATTEND_P["nte"],
                              np.where(dom, ATTEND_P["domestic"], ATTEND_P["other"])))
        attend = rng.random(len(vwi)) < p
        go = vwi[attend]
        kind = np.where(nte[attend], 1, np.where(dom[attend], 2, 0))
        linked = {"t": r.t_true[go], "x": r.x[go], "y": r.y[go], "kind": kind,
                  "knife": r.knife[go], "loc": r.location[go],
                  "place": np.array([s.split(", ", 1)[-1] for s in r.location[go]],
                                    dtype=object),
                  "ref": r.refs[go]}
        n_un = int(round(len(go) * UNREPORTED_SHARE / (1.0 - UNREPORTED_SHARE)))
        un = _unreported(geo, n_un, years[year], hotspots, rng)
        un["ref"] = np.full(n_un, None, dtype=object)
        parts.extend([linked, un])
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n = len(cat["t"])
    delay = -ARRIVAL_MEAN_MIN * np.log1p(
        -rng.random(n) * (1 - np.exp(-ARRIVAL_MAX_MIN / ARRIVAL_MEAN_MIN)))
    arrival = cat["t"] + np.round(delay).astype("timedelta64[m]")
    told = cat["t"] + np.round(rng.normal(0, ASSAULT_TIME_SD_MIN, n)).astype("timedelta64[m]")
    told = (told.astype(np.int64) // 5 * 5).astype("datetime64[m]")
    told = np.minimum(told, arrival)
    told = np.where(rng.random(n) < ASSAULT_TIME_MISSING, np.datetime64("NaT"), told)
    site = np.hypot(cat["x"][:, None] - sx[None, :], cat["y"][:, None] - sy[None, :]
                    ).argmin(axis=1)
    kind = cat["kind"]
    method = np.where(kind == 1, _pick(_METHOD_W["nte"], n, rng),
                      _pick(_METHOD_W["plain"], n, rng))
    method = np.where(cat["knife"], METHODS.index("knife or sharp object"), method)
    loctype = np.where(kind == 1, _pick(_LOCTYPE_W["nte"], n, rng),
                       _pick(_LOCTYPE_W["plain"], n, rng))
    loctype = np.where(kind == 2, LOCATION_TYPES.index("home"), loctype)
    desc = _descriptions(geo, cat, kind, rng)
    keep = arrival.astype("datetime64[D]") <= period_end
    order = np.lexsort((np.arange(n), arrival, site))
    order = order[keep[order]]
    codes = np.array([s[0] for s in sites], dtype=object)[site[order]]
    year = arrival[order].astype("datetime64[Y]").astype(np.int64) + 1970
    # Each department numbers its attendances per year: AE + yy + six digits.
    refs = np.empty(len(order), dtype=object)
    key = np.char.add(codes.astype(str), year.astype(str))
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    rank = np.arange(len(order)) - first[inverse]
    for i in range(len(order)):
        refs[i] = f"AE{year[i] % 100:02d}{rank[i] + 1:06d}"
    table = pa.table({
        "site_code": pa.array(codes, pa.string()),
        "attendance_ref": pa.array(refs, pa.string()),
        "arrival_datetime": _fmt(arrival[order]),
        "assault_datetime": _fmt(told[order]),
        "assault_method": pa.array(METHODS).take(pa.array(method[order])),
        "location_type": pa.array(LOCATION_TYPES).take(pa.array(loctype[order])),
        "location_description": pa.array(desc[order], pa.string()),
    })
    return Attendances(table, year, cat["ref"][order], sites)


def _descriptions(geo: Geography, cat: dict[str, np.ndarray], kind: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """Postcode district near a town centre, a place name for home, else street and place."""
    n = len(kind)
    out = cat["loc"].copy()
    home = kind == 2
    out[home] = cat["place"][home]
    tx = np.array([t.easting for t in geo.towns])
    ty = np.array([t.northing for t in geo.towns])
    d = np.hypot(cat["x"][:, None] - tx[None, :], cat["y"][:, None] - ty[None, :])
    near = d.argmin(axis=1)
    central = (d.min(axis=1) <= POSTCODE_RADIUS_M) & ~home & (rng.random(n) < 0.55)
    pcd = np.array([t.postcode_district for t in geo.towns], dtype=object)
    out[central] = pcd[near[central]]
    out[rng.random(n) < 0.08] = None  # not recorded
    return out


def _fmt(t: np.ndarray) -> pa.Array:
    return pc.strftime(pa.array(t.astype("datetime64[s]"), pa.timestamp("s")),
                       format="%Y-%m-%d %H:%M")
