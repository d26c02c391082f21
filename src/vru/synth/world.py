"""Generate a seeded synthetic Thames Valley: partner files in real formats plus planted truth."""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from vru.synth import behaviour, istv, partners, plan, targets, timing
from vru.synth.calibration import (
    OffenceCode,
    category_mapping,
    largest_remainder,
    offence_codes,
    planted_change,
)
from vru.synth.crimes import (
    COMPONENTS,
    DOMESTIC,
    HOTSPOT,
    OFFSPRING,
    PERSONAL_ROBBERY,
    plant_robbery,
    year_events,
    yearly_code_counts,
)
from vru.synth.manifest import MANIFEST_VERSION, Manifest, write_manifest
from vru.synth.places import Geography, load_geography, wgs84
from vru.synth.records import FORCE_NAME, VWI, Recorded, lsoa_streets, record_year

Progress = Callable[[str, int, int], None]
MIN_SCALE = 0.005
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
VIOLENCE_SUBGROUPS = ("Violence with injury", "Violence without injury")


def _month(text: str, what: str) -> tuple[int, int]:
    m = _MONTH.match(str(text).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"{what} must be a month written YYYY-MM, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _period(start: str, end: str) -> tuple[np.datetime64, np.datetime64]:
    sy, sm = _month(start, "start")
    ey, em = _month(end, "end")
    first = np.datetime64(f"{sy:04d}-{sm:02d}-01")
    last = np.datetime64(f"{ey:04d}-{em:02d}-{calendar.monthrange(ey, em)[1]:02d}")
    if last < first:
        raise ValueError(f"end {end} is before start {start}")
    if sy < 2003 or ey > 2035:
        raise ValueError("the synthetic world covers 2003-2035 (trend data begin in 2003)")
    return first, last


def _write_csv(table: pa.Table, path: Path) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path)
    return {"path": None, "rows": table.num_rows,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def _rel(entry: dict[str, Any], root: Path, path: Path) -> dict[str, Any]:
    entry["path"] = path.relative_to(root).as_posix()
    return entry


def _by_name(codes: tuple[OffenceCode, ...], attr: str, counts: np.ndarray) -> dict[str, int]:
    out: dict[str, int] = {}
    for c, n in zip(codes, counts, strict=True):
        key = getattr(c, attr)
        out[key] = out.get(key, 0) + int(n)
    return dict(sorted(out.items()))


def _top_cell(t: np.ndarray) -> dict[str, Any]:
    days = t.astype("datetime64[D]")
    wd = timing.weekday_of(days)
    hour = ((t - days.astype("datetime64[m]")).astype(np.int64) // 60)
    grid = np.bincount(wd * 24 + hour, minlength=168).reshape(7, 24)
    w, h = np.unravel_index(int(grid.argmax()), grid.shape)
    return {"weekday": timing.WEEKDAYS[w], "weekday_index": int(w), "hour": int(h),
            "count": int(grid[w, h])}


def generate(out_dir: Path, seed: int = 1, start: str = "2015-01", end: str = "2021-12",
             scale: float = 1.0, progress: Progress | None = None) -> Manifest:
    """Write a synthetic Thames Valley into ``out_dir`` and return its planted truth.

    Parameters
    ----------
    out_dir
        Folder to write (created). Gets ``force-extract/thames-valley-crimes-YYYY.csv``,
        ``istv/<site>-YYYY.csv``, ``partners/<name>.csv`` + ``.toml`` and ``manifest.json``.
    seed
        Same seed, period and scale give byte-identical files.
    start, end
        First and last month, ``YYYY-MM``. The headline plants (knife crime, personal
        robbery, positive outcome rate) need whole years 2016-2020 / 2019-2020 inside.
    scale
        Volume relative to the real force (1.0 is about 1.04 million crimes for 2015-2021);
        at least 0.005.
    progress
        Optional ``callable(step, done, total)`` called as the work advances.

    Returns
    -------
    Manifest
        The contents of ``manifest.json``.
    """
    if not scale >= MIN_SCALE:
        raise ValueError(f"scale must be at least {MIN_SCALE}, got {scale}")
    first, last = _period(start, end)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    years = {y: np.arange(max(first, np.datetime64(f"{y}-01-01")),
                          min(last, np.datetime64(f"{y}-12-31")) + np.timedelta64(1, "D"))
             for y in range(int(str(first)[:4]), int(str(last)[:4]) + 1)}
    full = [y for y, d in years.items() if len(d) == (366 if calendar.isleap(y) else 365)]
    total_steps = len(years) + 4
    step = 0

    def tick(name: str) -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(name, step, total_steps)

    geo = load_geography()
    codes = offence_codes()
    hotspots = plan.build_hotspots(geo)
    tick("geography")

    counts = {y: yearly_code_counts(codes, y, len(d) / (366 if calendar.isleap(y) else 365),
                                    scale) for y, d in years.items()}
    full_counts = {y: counts[y] for y in full}
    plant_robbery(codes, full_counts)
    knife = targets.knife_totals(full, scale)
    vwi_idx = np.array([i for i, c in enumerate(codes) if c.subgroup == VWI])
    vwi_totals = {y: int(counts[y][vwi_idx].sum()) for y in years}
    positives, planted_vwi = targets.positive_counts({y: vwi_totals[y] for y in full})
    for y, n in planted_vwi.items():
        if n != vwi_totals[y]:  # tiny worlds: the rate plant needed more crimes in 2020
            counts[y][vwi_idx] = largest_remainder(n, counts[y][vwi_idx])
            vwi_totals[y] = n
    for y in years:
        positives.setdefault(y, int(round(targets.VWI_POSITIVE_RATE_OTHER * vwi_totals[y])))

    streets = lsoa_streets(geo, plan.rng_for(seed, "streets"))
    files: dict[str, list[dict[str, Any]]] = {"force_extract": [], "istv": [], "partners": []}
    stats: dict[int, dict[str, Any]] = {}
    violence_times: dict[int, np.ndarray] = {}
    offspring: dict[str, list[list[str]]] = {c.name: [] for c in plan.CONTAGION}
    kept: dict[int, Recorded] = {}
    for y, days in years.items():
        ev = year_events(geo, codes, counts[y], y, days, hotspots, plan.rng_for(seed, "ev", y))
        rec = record_year(geo, codes, ev, y, days, last, knife.get(y), positives[y], hotspots,
                          streets, plan.rng_for(seed, "rec", y))
        path = out / "force-extract" / f"thames-valley-crimes-{y}.csv"
        files["force_extract"].append(_rel(_write_csv(rec.table, path), out, path))
        stats[y], violence_times[y] = _year_stats(codes, rec, hotspots)
        sub = np.array([c.subgroup for c in codes], dtype=object)[rec.code]
        for c in plan.CONTAGION:
            kids = np.flatnonzero((rec.comp == OFFSPRING) & (sub == c.subgroup))
            offspring[c.name].extend([[str(rec.refs[k]), str(rec.refs[rec.parent[k]])]
                                      for k in kids])
        kept[y] = _slim(rec, np.isin(rec.code, vwi_idx))
        tick(f"crimes {y}")

    att = istv.attendances(geo, years, kept, vwi_idx, hotspots, last,
                           plan.rng_for(seed, "istv"))
    site_codes = att.table["site_code"].to_numpy(zero_copy_only=False)
    for code in sorted(set(site_codes)):
        for y in sorted(set(att.year[site_codes == code].tolist())):
            mask = (site_codes == code) & (att.year == y)
            path = out / "istv" / f"{code}-{y}.csv"
            files["istv"].append(_rel(_write_csv(att.table.filter(pa.array(mask)), path),
                                      out, path))
    tick("istv")

    pout = partners.generate_partners(geo, scale, first, last, plan.rng_for(seed, "partners"))
    for p in partners.PARTNERS:
        path = out / "partners" / f"{p.name}.csv"
        entry = _rel(_write_csv(pout.tables[p.name], path), out, path)
        toml = partners.write_contract(p, path.parent)
        entry["contract"] = toml.relative_to(out).as_posix()
        files["partners"].append(entry)
    tick("partners")

    all_violence = np.concatenate([violence_times[y] for y in sorted(violence_times)])
    data = _manifest(seed, scale, first, last, full, geo, codes, hotspots, stats, offspring,
                     knife, positives, vwi_totals, att, pout, files, all_violence)
    manifest = write_manifest(out, data)
    tick("manifest")
    return manifest


def _slim(rec: Recorded, keep: np.ndarray) -> Recorded:
    """The rows ``keep`` of a year (parents dropped: only ED linkage needs them later)."""
    return Recorded(None, rec.refs[keep], rec.code[keep], rec.t_from[keep], rec.t_true[keep],
                    rec.x[keep], rec.y[keep], rec.lsoa[keep], rec.comp[keep], rec.hot[keep],
                    np.full(int(keep.sum()), -1), rec.knife[keep], rec.domestic[keep],
                    rec.positive[keep], rec.location[keep])


def _year_stats(codes: tuple[OffenceCode, ...], rec: Recorded, hotspots: list[plan.Hotspot]
                ) -> tuple[dict[str, Any], np.ndarray]:
    """The year's counts for the manifest, and the recorded times of its violence."""
    by_code = np.bincount(rec.code, minlength=len(codes))
    sub = np.array([c.subgroup for c in codes], dtype=object)[rec.code]
    violence = np.isin(sub, VIOLENCE_SUBGROUPS)
    hot = np.bincount(rec.hot[rec.comp == HOTSPOT], minlength=len(hotspots))
    nte_ids = [k for k, h in enumerate(hotspots) if h.profile == "nte"]
    return {
        "total": int(len(rec.code)),
        "by_code": {c.code: int(n) for c, n in zip(codes, by_code, strict=True) if n},
        "by_subgroup": _by_name(codes, "subgroup", by_code),
        "by_group": _by_name(codes, "group", by_code),
        "by_category": _by_name(codes, "category", by_code),
        "by_component": {name: int((rec.comp == k).sum()) for k, name in enumerate(COMPONENTS)},
        "domestic": int(rec.domestic.sum()),
        "knife": int(rec.knife.sum()),
        "vwi": int((sub == VWI).sum()),
        "vwi_positive": int((rec.positive & (sub == VWI)).sum()),
        "hotspot_events": {h.id: int(hot[k]) for k, h in enumerate(hotspots)},
        "nte_events": int(sum(int(hot[k]) for k in nte_ids)),
        "violence_top_cell": _top_cell(rec.t_from[violence]) if violence.any() else None,
    }, rec.t_from[violence]


def _kpis(full: list[int], stats: dict[int, dict[str, Any]], knife: dict[int, int],
          positives: dict[int, int], vwi: dict[int, int]) -> dict[str, Any]:
    k = {str(y): stats[y]["knife"] for y in stats}
    rob = {str(y): stats[y]["by_code"].get(PERSONAL_ROBBERY, 0) for y in stats}
    rates = {str(y): {"crimes": vwi[y], "positive": positives[y],
                      "rate": round(positives[y] / vwi[y], 6) if vwi[y] else None}
             for y in stats}
    out: dict[str, Any] = {
        "years_planted": sorted(y for y in full),
        "knife_crime": k, "personal_robbery": rob, "vwi_positive_outcomes": rates,
    }
    if 2019 in full and 2020 in full:
        out["knife_crime_change_2020_vs_2019_pct"] = {
            "rounded": targets.KNIFE_CHANGE_2020,
            "exact": round(targets.pct_change(knife[2019], knife[2020]), 4)}
        out["personal_robbery_change_2020_vs_2019_pct"] = {
            "rounded": targets.ROBBERY_CHANGE_2020,
            "exact": round(targets.pct_change(int(rob["2019"]), int(rob["2020"])), 4)}
        r19 = positives[2019] / vwi[2019]
        r20 = positives[2020] / vwi[2020]
        out["vwi_positive_rate_change_2020_vs_2019_pct"] = {
            "rounded": targets.VWI_RATE_CHANGE_2020,
            "exact": round(targets.pct_change(r19, r20), 4),
            "meaning": "relative change of the rate (not percentage points)"}
    if all(y in full for y in range(2016, 2021)):
        out["knife_crime_2020_lowest_since"] = 2016
    return out


def _manifest(seed: int, scale: float, first: np.datetime64, last: np.datetime64,
              full: list[int], geo: Geography, codes: tuple[OffenceCode, ...],
              hotspots: list[plan.Hotspot], stats: dict[int, dict[str, Any]],
              offspring: dict[str, list[list[str]]], knife: dict[int, int],
              positives: dict[int, int], vwi: dict[int, int], att: istv.Attendances,
              pout: partners.PartnerOutput, files: dict[str, list[dict[str, Any]]],
              all_violence: np.ndarray) -> dict[str, Any]:
    mapping = category_mapping()
    years = sorted(stats)
    nte_cells = timing.nte_cells()
    return {
        "generator": "vru.synth", "version": MANIFEST_VERSION, "seed": int(seed),
        "scale": float(scale),
        "period": {"start": str(first)[:7], "end": str(last)[:7], "first_day": str(first),
                   "last_day": str(last), "years": years, "full_years": full},
        "force": FORCE_NAME,
        "attribution": "Synthetic data calibrated on public sector information licensed under "
                       "the Open Government Licence v3.0; boundaries contain OS data (c) Crown "
                       "copyright and database right.",
        "files": files,
        "definitions": _definitions(codes, mapping),
        "counts": {str(y): stats[y] for y in years},
        "kpis": _kpis(full, stats, knife, positives, vwi),
        "yearly_changes_planted_pct": {
            str(y): {s: planted_change(s, y) for s in sorted({c.subgroup for c in codes})}
            for y in years if y > 2018},
        "realised_changes_pct": _changes(stats, full),
        "town_centres": [_town(t) for t in geo.towns],
        "hotspots": [_hotspot(h, geo, years, codes) for h in hotspots
                     if h.kind == "town_centre"],
        "emerging_hotspot": next(_hotspot(h, geo, years, codes) for h in hotspots
                                 if h.kind == "emerging"),
        "intensifying_hotspot": next(_hotspot(h, geo, years, codes) for h in hotspots
                                     if h.kind == "intensifying"),
        "night_time_economy": {
            "subgroups": list(VIOLENCE_SUBGROUPS),
            "window": "Friday and Saturday nights 22:00-03:00 (hours after midnight are "
                      "recorded on Saturday and Sunday)",
            "cells": [{"weekday": timing.WEEKDAYS[w], "weekday_index": w, "hour": h}
                      for w, h in nte_cells],
            "hour_weights": {str(h): w for h, w in timing.NTE_HOUR_WEIGHTS.items()},
            "night_weights": {timing.WEEKDAYS[d]: w for d, w in timing.NTE_NIGHTS.items()},
            "towns": [t.name for t in geo.towns],
            "hotspot_ids": [h.id for h in hotspots if h.profile == "nte"],
            "closures": [list(c) for c in timing.NTE_CLOSURES],
            "events_by_year": {str(y): stats[y]["nte_events"] for y in years},
            "violence_top_cell": _top_cell(all_violence) if len(all_violence) else None,
        },
        "near_repeat": {c.name: {
            "subgroup": c.subgroup, "p": c.p, "d_m": c.d_m, "t_days": c.t_days,
            "rule": "per year exactly round(p * N) events of the subgroup are offspring; each "
                    "lies uniformly within d_m metres of its parent (the parent's point if that "
                    "falls outside the area) and 1 to t_days-1 whole days later, strictly "
                    "within t_days; it has the parent's offence code",
            "offspring": offspring[c.name],
            "offspring_fields": ["crime_ref", "parent_crime_ref"],
        } for c in plan.CONTAGION},
        "timing_profiles": {
            name: p.describe() for name, p in timing.PROFILES.items()},
        "istv": _istv(att, years),
        "partners": _partners(pout),
    }


def _changes(stats: dict[int, dict[str, Any]], full: list[int]) -> dict[str, Any]:
    """Percent change of each subgroup and group from the previous full year."""
    out: dict[str, Any] = {}
    for y in full:
        if y - 1 not in full:
            continue
        entry: dict[str, dict[str, float]] = {}
        for level in ("by_subgroup", "by_group"):
            now, before = stats[y][level], stats[y - 1][level]
            entry[level] = {k: round(targets.pct_change(before[k], now.get(k, 0)), 4)
                            for k in sorted(before) if before[k]}
        out[str(y)] = entry
    return out


def _definitions(codes: tuple[OffenceCode, ...], mapping: dict[str, str]) -> dict[str, Any]:
    return {
        "year": "calendar year of committed_from",
        "percent_change": "100 * (after - before) / before; 'rounds to' means within half a "
                          "point (no ties occur)",
        "positive_outcome_types": list(behaviour.POSITIVE_OUTCOMES),
        "positive_outcome_rate": "crimes recorded in the year whose outcome_type is positive, "
                                 "divided by all crimes recorded in the year (pending "
                                 "outcomes count as not positive)",
        "outcome_types": {str(k): v for k, v in behaviour.OUTCOME_NAMES.items()},
        "knife_crime": "rows with knife_flag = Y; the flag is only set on the ONS selected "
                       "offences listed in knife_eligible_codes",
        "knife_eligible_codes": sorted(behaviour.KNIFE_WEIGHTS),
        "personal_robbery_codes": [PERSONAL_ROBBERY],
        "violence_with_injury_codes": sorted(c.code for c in codes if c.subgroup == VWI),
        "violence_codes": sorted(c.code for c in codes if c.subgroup in VIOLENCE_SUBGROUPS),
        "offence_codes": {c.code: {"description": c.description, "group": c.group,
                                   "subgroup": c.subgroup, "category": c.category,
                                   "count_2017_18": c.count_2017_18,
                                   "in_category_mapping": c.code in mapping}
                          for c in codes},
        "components": list(COMPONENTS),
        "background_intensity": "LSOA weight = mid-2015 population x exp(kappa x (10 - IMD "
                                "2019 decile) / 9); points uniform inside the LSOA polygon",
        "kappa_by_subgroup": {s: b.kappa for s, b in sorted(behaviour.BEHAVIOUR.items())},
        "domestic_share_by_subgroup": {s: b.domestic_share
                                       for s, b in sorted(behaviour.BEHAVIOUR.items())},
        "window_share_by_subgroup": {s: b.window_share
                                     for s, b in sorted(behaviour.BEHAVIOUR.items())},
        "timing_profile_by_subgroup": {s: b.profile
                                       for s, b in sorted(behaviour.BEHAVIOUR.items())},
        "coordinates": "easting/northing are British National Grid metres rounded to 1 m; "
                       "points lie inside real 2011 LSOA polygons",
        "domestic_component": DOMESTIC,
    }


def _town(t: Any) -> dict[str, Any]:
    lon, lat = wgs84(t.easting, t.northing)
    return {"name": t.name, "lad13cd": t.lad13cd, "lad13nm": t.lad13nm,
            "lsoa11cd": t.lsoa11cd, "lsoa11nm": t.lsoa11nm,
            "easting": t.easting, "northing": t.northing, "lon": lon, "lat": lat,
            "postcode_district": t.postcode_district,
            "method": "LSOA of the district with most data.police.uk 'Violence and sexual "
                      "offences' in the shipped months; point = mean of those map points",
            "real_police_uk_counts": t.real_counts}


def _hotspot(h: plan.Hotspot, geo: Geography, years: list[int],
             codes: tuple[OffenceCode, ...]) -> dict[str, Any]:
    lon, lat = wgs84(h.easting, h.northing)
    groups = sorted({c.group for c in codes if c.subgroup in h.subgroups})
    how = ("town centre: the real data.police.uk count of the matching category in the "
           "centre LSOA over the median count per LSOA of its district, clipped to 3-30"
           if h.kind == "town_centre" else
           f"{h.kind}: the planted yearly schedule; the centre is the most crime-deprived "
           f"LSOA (IoD2019 crime domain) at least {plan.EMERGING_MIN_DISTANCE_M:g} m from every "
           "town centre" + (" and from the emerging disc" if h.kind == "intensifying" else ""))
    return {"id": h.id, "kind": h.kind, "town": h.town, "subgroups": list(h.subgroups),
            "offence_groups": groups, "multiplier_method": how,
            "easting": h.easting, "northing": h.northing, "lon": lon, "lat": lat,
            "radius_m": h.radius_m,
            "strength_multiplier": {str(y): h.multiplier(y) for y in years},
            "profile": h.profile, "closed_when_pubs_shut": h.closures,
            "lsoa11cd": geo.lsoas_in_disc(h.easting, h.northing, h.radius_m),
            "meaning": "inside the disc the subgroup's intensity is strength_multiplier times "
                       "the background (population x deprivation) intensity; the excess "
                       "events are uniform in the disc (fewer on nights pubs were shut)"}


def _istv(att: istv.Attendances, years: list[int]) -> dict[str, Any]:
    sites = att.table["site_code"].to_numpy(zero_copy_only=False)
    refs = att.table["attendance_ref"].to_numpy(zero_copy_only=False)
    linked = np.array([r is not None for r in att.crime_ref])
    counts = {}
    for code, *_ in att.sites:
        counts[code] = {}
        for y in years:
            m = (sites == code) & (att.year == y)
            counts[code][str(y)] = {"attendances": int(m.sum()), "linked": int((m & linked).sum()),
                                    "unreported": int((m & ~linked).sum())}
    n = len(linked)
    return {
        "sites": [{"site_code": c, "name": nm, "town": t, "easting": x, "northing": y,
                   "illustrative": True} for c, nm, t, x, y in att.sites],
        "share_unreported_planted": istv.UNREPORTED_SHARE,
        "share_unreported": round(float((~linked).sum() / n), 6) if n else None,
        "attendances": int(n), "linked": int(linked.sum()), "unreported": int((~linked).sum()),
        "counts": counts,
        "link_rule": {"source": "violence with injury crimes",
                      "attend_probability": istv.ATTEND_P,
                      "arrival_delay": f"exponential, mean {istv.ARRIVAL_MEAN_MIN:g} min, cut "
                                       f"at {istv.ARRIVAL_MAX_MIN} min after the assault",
                      "assault_time_noise_sd_min": istv.ASSAULT_TIME_SD_MIN,
                      "assault_time_rounding_min": 5,
                      "assault_time_missing_share": istv.ASSAULT_TIME_MISSING,
                      "site": "nearest department (by the town it serves) to the assault",
                      "location": "the crime's location text, the town centre's postcode "
                                  f"district within {istv.POSTCODE_RADIUS_M:g} m of it (55%), "
                                  "the place name for assaults at home; 8% blank"},
        "links": [[str(s), str(r), c] for s, r, c in zip(sites, refs, att.crime_ref,
                                                          strict=True)],
        "links_fields": ["site_code", "attendance_ref", "crime_ref (null: never reported)"],
    }


def _partners(pout: partners.PartnerOutput) -> dict[str, Any]:
    persons = pout.persons
    appearing = [p for p in persons if p["partner_ids"]]
    multi = [p for p in persons if len(p["partner_ids"]) >= 2]
    return {
        "persons": len(persons), "persons_in_any_partner": len(appearing),
        "persons_in_two_or_more": len(multi),
        "persons_by_partner": {p.name: sum(1 for q in persons if p.name in q["partner_ids"])
                               for p in partners.PARTNERS},
        "records_by_partner": {k: len(v) for k, v in pout.records.items()},
        "error_rates": partners.ERROR_RATES,
        "error_fields": partners.ERROR_FIELD,
        "errors": pout.errors,
        "truth_persons": persons,
        "truth_records": pout.records,
        "meaning": "truth_records maps each partner's record id to person_truth_id; "
                   "truth_persons holds the true identifiers and each partner's own id",
    }
