"""From events to the rows a force records system exports: times, refs, flags, outcomes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vru.synth.behaviour import (
    AGE_BANDS,
    BEHAVIOUR,
    KNIFE_WEIGHTS,
    age_weights,
    outcome_mixes,
)
from vru.synth.calibration import OffenceCode
from vru.synth.crimes import DOMESTIC, HOTSPOT, Events
from vru.synth.names import STREETS, TOWN_CENTRE_STREETS
from vru.synth.places import Geography
from vru.synth.plan import Hotspot
from vru.synth.targets import KNIFE_RATE_OTHER_YEARS

FORCE_NAME = "Thames Valley Police"
FORCE_NUMBER = 43          # the Home Office number of Thames Valley Police
VWI = "Violence with injury"
STREETS_PER_LSOA = 4
EXTRACT_COLUMNS = (
    "crime_ref", "force", "ho_offence_code", "offence_description", "committed_from",
    "committed_to", "easting", "northing", "location_description", "knife_flag",
    "domestic_flag", "outcome_type", "outcome_date", "victim_age_band",
)


@dataclass
class Recorded:
    """One year's recorded crimes: the extract table and the arrays other parts need."""

    table: pa.Table
    refs: np.ndarray        # crime_ref strings (object)
    code: np.ndarray
    t_from: np.ndarray      # datetime64[m]
    t_true: np.ndarray
    x: np.ndarray
    y: np.ndarray
    lsoa: np.ndarray
    comp: np.ndarray
    hot: np.ndarray
    parent: np.ndarray      # index of the parent row in this table, or -1
    knife: np.ndarray
    domestic: np.ndarray
    positive: np.ndarray
    location: np.ndarray    # location_description strings (object)


def lsoa_streets(geo: Geography, rng: np.random.Generator) -> np.ndarray:
    """A few street names per LSOA (indices into STREETS), fixed for the whole world."""
    return rng.integers(0, len(STREETS), (geo.n, STREETS_PER_LSOA))


def _windows(codes: tuple[OffenceCode, ...], ev: Events, days: np.ndarray,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """committed_from / committed_to (NaT when exact) around each true time."""
    share = np.array([BEHAVIOUR[c.subgroup].window_share for c in codes])[ev.code]
    median = np.array([BEHAVIOUR[c.subgroup].window_median_h for c in codes])[ev.code]
    n = len(ev)
    windowed = rng.random(n) < share
    dur = np.clip(median * np.exp(0.8 * rng.standard_normal(n)), 0.5, 168.0)
    dur_m = np.round(dur * 60).astype(np.int64)
    first = days[0].astype("datetime64[m]")
    # The window opens before the true time but never before the period: no pile-up at
    # midnight on 1 January.
    room = (ev.t - first).astype(np.int64)
    before = np.floor(rng.random(n) * np.minimum(dur_m, room)).astype(np.int64)
    last = (days[-1] + np.timedelta64(1, "D")).astype("datetime64[m]") - np.timedelta64(1, "m")
    t_from = np.where(windowed, ev.t - before.astype("timedelta64[m]"), ev.t)
    t_from = np.maximum(t_from, first)
    t_to = np.minimum(t_from + dur_m.astype("timedelta64[m]"), last)
    # Exact times are often typed to the nearest five minutes (rounded down: same day).
    five = (~windowed) & (rng.random(n) < 0.4)
    mins = t_from.astype(np.int64)
    t_from = np.where(five, (mins - mins % 5).astype("datetime64[m]"), t_from)
    t_to = np.where(windowed & (t_to > t_from), t_to, np.datetime64("NaT"))
    return t_from, t_to


def _knife(codes: tuple[OffenceCode, ...], code: np.ndarray, total: int | None,
           rng: np.random.Generator) -> np.ndarray:
    """Exactly ``total`` knife flags among eligible offences (weighted, without replacement)."""
    w = np.array([KNIFE_WEIGHTS.get(c.code, 0.0) for c in codes])[code]
    eligible = np.flatnonzero(w > 0)
    k = int(round(KNIFE_RATE_OTHER_YEARS * len(eligible))) if total is None else int(total)
    if k > len(eligible):
        raise ValueError(f"cannot flag {k} knife crimes among {len(eligible)} eligible: "
                         "raise scale")
    # Gumbel top-k: an exact weighted sample without replacement, vectorised.
    key = np.log(w[eligible]) - np.log(-np.log(rng.random(len(eligible))))
    out = np.zeros(len(code), dtype=bool)
    out[eligible[np.argsort(-key, kind="stable")[:k]]] = True
    return out


def _outcomes(codes: tuple[OffenceCode, ...], code: np.ndarray, t_from: np.ndarray,
              vwi_positive: int | None, period_end: np.datetime64,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(outcome type or 0 when pending, outcome date or NaT, positive flag)."""
    n = len(code)
    otype = np.zeros(n, dtype=np.int64)
    positive = np.zeros(n, dtype=bool)
    sub_of = np.array([c.subgroup for c in codes], dtype=object)[code]
    for s in sorted(set(sub_of)):
        idx = np.flatnonzero(sub_of == s)
        if s == VWI and vwi_positive is not None:
            pos = np.zeros(len(idx), dtype=bool)
            pos[rng.choice(len(idx), size=int(vwi_positive), replace=False)] = True
        else:
            pos = rng.random(len(idx)) < BEHAVIOUR[s].positive_rate
        pk, pw, nk, nw = outcome_mixes(s)
        types = np.where(pos, pk[_pick(pw, len(idx), rng)], nk[_pick(nw, len(idx), rng)])
        otype[idx] = types
        positive[idx] = pos
    median = np.where(positive, 60.0, np.where(otype == 18, 10.0, 35.0))
    lag = np.clip(np.round(median * np.exp(0.9 * rng.standard_normal(n))), 0, 720)
    odate = t_from.astype("datetime64[D]") + lag.astype("timedelta64[D]")
    late = odate > period_end
    # A positive outcome is never lost to the extract's end (it keeps the planted rates
    # exact); other late outcomes are still pending: no type, no date.
    odate = np.where(late & positive, period_end, odate)
    pending = late & ~positive
    otype[pending] = 0
    odate = np.where(pending, np.datetime64("NaT"), odate)
    return otype, odate, positive


def _pick(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    cum = np.cumsum(weights)
    return np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"),
                      len(weights) - 1)


def _ages(codes: tuple[OffenceCode, ...], code: np.ndarray, rng: np.random.Generator
          ) -> np.ndarray:
    cum = np.cumsum(np.array([age_weights(c.subgroup, c.description) for c in codes]), axis=1)
    u = rng.random(len(code))
    return np.minimum((cum[code] < u[:, None]).sum(axis=1), len(AGE_BANDS) - 1)


def _locations(geo: Geography, ev_lsoa: np.ndarray, comp: np.ndarray, hot: np.ndarray,
               hotspots: list[Hotspot], streets: np.ndarray, rng: np.random.Generator
               ) -> pa.Array:
    n = len(ev_lsoa)
    street_names = pa.array(list(STREETS) + list(TOWN_CENTRE_STREETS))
    sidx = streets[ev_lsoa, rng.integers(0, STREETS_PER_LSOA, n)]
    place = geo.place[ev_lsoa].copy()
    town_hot = np.zeros(n, dtype=bool)
    if n:
        kinds = np.array([h.kind == "town_centre" for h in hotspots] + [False])
        town_hot = (comp == HOTSPOT) & kinds[np.where(hot >= 0, hot, len(hotspots))]
    sidx = np.where(town_hot, len(STREETS) + rng.integers(0, len(TOWN_CENTRE_STREETS), n),
                    sidx)
    if town_hot.any():
        towns = np.array([h.town for h in hotspots], dtype=object)
        place[town_hot] = towns[hot[town_hot]]
    return pc.binary_join_element_wise(street_names.take(pa.array(sidx)),
                                       pa.array(place, pa.string()), ", ")


def _strftime(t: np.ndarray) -> pa.Array:
    arr = pa.array(t.astype("datetime64[s]"), pa.timestamp("s"))
    return pc.strftime(arr, format="%Y-%m-%d %H:%M")


def record_year(geo: Geography, codes: tuple[OffenceCode, ...], ev: Events, year: int,
                days: np.ndarray, period_end: np.datetime64, knife_total: int | None,
                vwi_positive: int | None, hotspots: list[Hotspot], streets: np.ndarray,
                rng: np.random.Generator) -> Recorded:
    """Turn one year's events into extract rows, in crime reference (recording) order."""
    t_from, t_to = _windows(codes, ev, days, rng)
    order = np.lexsort((np.arange(len(ev)), t_from))
    inv = np.empty(len(ev), dtype=np.int64)
    inv[order] = np.arange(len(ev))
    parent = ev.parent[order]
    parent = np.where(parent >= 0, inv[np.maximum(parent, 0)], -1)
    code = ev.code[order]
    t_from, t_to, t_true = t_from[order], t_to[order], ev.t[order]
    x, y, lsoa = ev.x[order], ev.y[order], ev.lsoa[order]
    comp, hot = ev.comp[order], ev.hot[order]

    knife = _knife(codes, code, knife_total, rng)
    otype, odate, positive = _outcomes(codes, code, t_from, vwi_positive, period_end, rng)
    ages = _ages(codes, code, rng)
    location = _locations(geo, lsoa, comp, hot, hotspots, streets, rng)
    domestic = comp == DOMESTIC

    n = len(code)
    seq = pc.utf8_lpad(pa.array(np.arange(1, n + 1)).cast(pa.string()), 6, "0")
    refs = pc.binary_join_element_wise(f"{FORCE_NUMBER}", seq, f"{year % 100:02d}", "/")
    yn = pa.array(["N", "Y"])
    table = pa.table({
        "crime_ref": refs,
        "force": pa.array(np.full(n, FORCE_NAME, dtype=object), pa.string()),
        "ho_offence_code": pa.array([c.code for c in codes]).take(pa.array(code)),
        "offence_description": pa.array([c.description for c in codes]).take(pa.array(code)),
        "committed_from": _strftime(t_from),
        "committed_to": _strftime(t_to),
        "easting": pa.array(np.round(x).astype(np.int64)),
        "northing": pa.array(np.round(y).astype(np.int64)),
        "location_description": location,
        "knife_flag": yn.take(pa.array(knife.astype(np.int64))),
        "domestic_flag": yn.take(pa.array(domestic.astype(np.int64))),
        "outcome_type": pa.array(otype, mask=otype == 0),
        "outcome_date": pa.array(odate, pa.date32()),
        "victim_age_band": pa.array(AGE_BANDS).take(pa.array(ages)),
    })
    return Recorded(table, np.asarray(refs.to_numpy(zero_copy_only=False), dtype=object), code,
                    t_from, t_true, x, y, lsoa, comp, hot, parent, knife, domestic,
                    positive, np.asarray(location.to_numpy(zero_copy_only=False),
                                         dtype=object))
