"""Synthetic recorded crimes: yearly volumes by offence code, then events in space and time.

Per year and offence subgroup the total is exact. It splits into offspring of near-repeat
contagion (exactly ``round(p * N)``), planted hotspot excess events (``(m - 1)`` times the
background expected in each disc) and background events on LSOAs by population x
deprivation, with domestic events timed at home hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vru.synth.behaviour import BEHAVIOUR
from vru.synth.calibration import OffenceCode, largest_remainder, trend_ratio
from vru.synth.places import Geography
from vru.synth.plan import CONTAGION, Hotspot, lsoa_weights
from vru.synth.targets import ROBBERY_CHANGE_2020, plant_change
from vru.synth.timing import PROFILES, sample_times

BACKGROUND, DOMESTIC, HOTSPOT, OFFSPRING = 0, 1, 2, 3
COMPONENTS = ("background", "domestic", "hotspot", "offspring")
PERSONAL_ROBBERY = "34B"


def yearly_code_counts(codes: tuple[OffenceCode, ...], year: int, fraction: float,
                       scale: float) -> np.ndarray:
    """Crimes per offence code in ``year`` (``fraction`` of it inside the period).

    Each subgroup's total is the 2017/18 count times the trend ratio, ``scale`` and
    ``fraction``, rounded; codes share it by their 2017/18 mix (largest remainder).
    """
    out = np.zeros(len(codes), dtype=np.int64)
    subgroups = sorted({c.subgroup for c in codes})
    for s in subgroups:
        idx = [i for i, c in enumerate(codes) if c.subgroup == s]
        base = np.array([codes[i].count_2017_18 for i in idx], dtype=np.float64)
        total = int(round(base.sum() * trend_ratio(s, year) * scale * fraction))
        out[idx] = largest_remainder(total, base)
    return out


def plant_robbery(codes: tuple[OffenceCode, ...], counts: dict[int, np.ndarray]) -> None:
    """Make personal robbery 2020 exactly 23% below 2019 (as rounded), in place."""
    if 2019 not in counts or 2020 not in counts:
        return
    i = next(k for k, c in enumerate(codes) if c.code == PERSONAL_ROBBERY)
    counts[2019][i], counts[2020][i] = plant_change(int(counts[2019][i]), ROBBERY_CHANGE_2020)


@dataclass
class Events:
    """One year's events as parallel arrays (true times, before recording noise)."""

    code: np.ndarray      # index into the offence code tuple
    t: np.ndarray         # datetime64[m], the true time
    x: np.ndarray         # BNG easting, metres
    y: np.ndarray
    lsoa: np.ndarray      # LSOA index used for the place name
    comp: np.ndarray      # component (COMPONENTS)
    hot: np.ndarray       # hotspot index or -1
    parent: np.ndarray    # index of the parent event (offspring) or -1

    def __len__(self) -> int:
        return len(self.code)

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        """Concatenate, shifting parent indices."""
        offs = np.cumsum([0] + [len(p) for p in parts[:-1]])
        parent = [np.where(p.parent >= 0, p.parent + o, -1) for p, o in zip(parts, offs,
                                                                             strict=True)]
        cat = np.concatenate
        return Events(cat([p.code for p in parts]), cat([p.t for p in parts]),
                      cat([p.x for p in parts]), cat([p.y for p in parts]),
                      cat([p.lsoa for p in parts]), cat([p.comp for p in parts]),
                      cat([p.hot for p in parts]), cat(parent))


def _categorical(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    cum = np.cumsum(weights)
    return np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"),
                      len(weights) - 1)


def _disc(cx: np.ndarray | float, cy: np.ndarray | float, r: float, n: int,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    rad = r * np.sqrt(rng.random(n))
    ang = rng.random(n) * 2 * np.pi
    return cx + rad * np.cos(ang), cy + rad * np.sin(ang)


def _hour_of_day(profile: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Minutes after midnight drawn from a profile's hour marginal."""
    hours = PROFILES[profile].matrix.sum(axis=0)
    h = _categorical(hours, n, rng)
    return h * 60 + rng.integers(0, 60, n)


def subgroup_events(geo: Geography, subgroup: str, code_idx: np.ndarray,
                    code_counts: np.ndarray, year: int, days: np.ndarray,
                    hotspots: list[Hotspot], rng: np.random.Generator) -> Events:
    """All events of one subgroup in one year (exactly ``code_counts.sum()`` of them)."""
    n = int(code_counts.sum())
    beh = BEHAVIOUR[subgroup]
    w = lsoa_weights(geo, beh.kappa)
    contagion = next((c for c in CONTAGION if c.subgroup == subgroup), None)
    n_off = int(round(contagion.p * n)) if contagion else 0
    primaries = n - n_off
    hots = [(k, h) for k, h in enumerate(hotspots) if subgroup in h.subgroups]
    excess = np.array([h.effective(year, days) - 1.0 for _, h in hots])
    frac = np.array([float(w @ h.share) / float(w.sum()) for _, h in hots])
    bg_float = primaries / (1.0 + float((excess * frac).sum())) if hots else primaries
    extras = np.round(excess * frac * bg_float).astype(np.int64) if hots else np.zeros(0, int)
    n_bg = primaries - int(extras.sum())
    n_dom = min(int(round(beh.domestic_share * n)), n_bg)

    parts_x, parts_y, parts_t, parts_l, parts_c, parts_h = [], [], [], [], [], []
    lsoa = _categorical(w, n_bg, rng)
    x, y = geo.sample_points(lsoa, rng)
    dom_profile = "domestic" if beh.profile == "violence" else beh.profile
    t = np.concatenate([sample_times(n_dom, days, PROFILES[dom_profile], rng),
                        sample_times(n_bg - n_dom, days, PROFILES[beh.profile], rng)])
    comp = np.where(np.arange(n_bg) < n_dom, DOMESTIC, BACKGROUND)
    parts_x.append(x)
    parts_y.append(y)
    parts_t.append(t)
    parts_l.append(lsoa)
    parts_c.append(comp)
    parts_h.append(np.full(n_bg, -1))
    for (k, h), m in zip(hots, extras, strict=True):
        m = int(m)
        hx, hy = _disc(h.easting, h.northing, h.radius_m, m, rng)
        try:
            ht = sample_times(m, days, PROFILES[h.profile], rng, closures=h.closures)
        except ValueError:  # the whole window is closed: fall back to ordinary nights
            ht = sample_times(m, days, PROFILES[h.profile], rng)
        parts_x.append(hx)
        parts_y.append(hy)
        parts_t.append(ht)
        parts_l.append(np.full(m, h.lsoa_index))
        parts_c.append(np.full(m, HOTSPOT))
        parts_h.append(np.full(m, k))
    ev = Events(
        code=np.zeros(primaries, dtype=np.int64),
        t=np.concatenate(parts_t), x=np.concatenate(parts_x), y=np.concatenate(parts_y),
        lsoa=np.concatenate(parts_l).astype(np.int64),
        comp=np.concatenate(parts_c).astype(np.int8),
        hot=np.concatenate(parts_h).astype(np.int16),
        parent=np.full(primaries, -1, dtype=np.int64),
    )
    # Offence codes of primaries: the year's mix, exactly, in random order.
    ev.code = rng.permutation(np.repeat(code_idx, largest_remainder(primaries, code_counts)))
    if n_off:
        ev = _offspring(geo, ev, contagion.d_m, contagion.t_days, contagion.p, n_off, days,
                        beh.profile, rng)
    return ev


def _offspring(geo: Geography, ev: Events, d_m: float, t_days: int, p: float, n_off: int,
               days: np.ndarray, profile: str, rng: np.random.Generator) -> Events:
    """Grow a self-exciting cascade from ``ev`` until exactly ``n_off`` offspring exist.

    Each generation's events trigger one child with probability ``p``; if the cascade dies
    out first, the remaining parents are drawn uniformly from events not yet used. Only
    events at least ``t_days`` before the window's end can be parents, so every child falls
    in the same year.
    """
    horizon = np.timedelta64(t_days, "D")
    last_day = days[-1]
    cur = ev
    used = np.zeros(len(ev), dtype=bool)
    gen = np.arange(len(ev))
    remaining = n_off
    while remaining > 0:
        can = (~used) & ((cur.t.astype("datetime64[D]") + horizon) <= last_day)
        cand = gen[can[gen]]
        trig = cand[rng.random(len(cand)) < p]
        if len(trig) == 0:
            pool = np.flatnonzero(can)
            if len(pool) == 0:
                raise ValueError("period too short for near-repeat offspring "
                                 f"({remaining} missing)")
            trig = np.sort(rng.choice(pool, size=min(remaining, len(pool)), replace=False))
        trig = trig[:remaining]
        m = len(trig)
        used[trig] = True
        px, py = cur.x[trig], cur.y[trig]
        cx, cy = _disc(px, py, d_m, m, rng)
        outside = ~geo.inside(cx, cy)  # keep offspring on the map: fall back to the parent
        cx = np.where(outside, px, cx)
        cy = np.where(outside, py, cy)
        k = rng.integers(1, t_days, m)  # whole days later: 1 .. t-1, so strictly < t days
        ct = ((cur.t[trig].astype("datetime64[D]") + k.astype("timedelta64[D]"))
              .astype("datetime64[m]") + _hour_of_day(profile, m, rng).astype("timedelta64[m]"))
        child = Events(code=cur.code[trig], t=ct, x=cx, y=cy, lsoa=cur.lsoa[trig],
                       comp=np.full(m, OFFSPRING, dtype=np.int8),
                       hot=np.full(m, -1, dtype=np.int16), parent=trig.astype(np.int64))
        gen = np.arange(len(cur), len(cur) + m)
        cur = Events.concat([cur, Events(child.code, child.t, child.x, child.y, child.lsoa,
                                         child.comp, child.hot, np.full(m, -1))])
        cur.parent[gen] = trig
        used = np.concatenate([used, np.zeros(m, dtype=bool)])
        remaining -= m
    return cur


def year_events(geo: Geography, codes: tuple[OffenceCode, ...], counts: np.ndarray, year: int,
                days: np.ndarray, hotspots: list[Hotspot], rng: np.random.Generator
                ) -> Events:
    """Every event of ``year``: subgroups in sorted order, each exact in total."""
    parts = []
    for s in sorted({c.subgroup for c in codes}):
        idx = np.array([i for i, c in enumerate(codes) if c.subgroup == s], dtype=np.int64)
        if counts[idx].sum() == 0:
            continue
        parts.append(subgroup_events(geo, s, idx, counts[idx], year, days, hotspots, rng))
    return Events.concat(parts)
