"""The generated files carry exactly the planted truth the manifest states."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import shapely
from tests.synth.conftest import read_all_strings

from vru.geo.boundaries import load_lsoa
from vru.synth import Manifest, generate
from vru.synth.istv import ISTV_COLUMNS, LOCATION_TYPES, METHODS
from vru.synth.records import EXTRACT_COLUMNS


def _years(crimes: pa.Table) -> np.ndarray:
    return pc.utf8_slice_codeunits(crimes["committed_from"], 0, 4).to_numpy(
        zero_copy_only=False).astype(int)


def _pct(before: float, after: float) -> float:
    return 100.0 * (after - before) / before


def _rounds_to(value: float, target: int) -> bool:
    return abs(value - target) < 0.5


def test_manifest_totals_equal_files(world: Manifest, crimes: pa.Table) -> None:
    years = _years(crimes)
    codes = crimes["ho_offence_code"].to_numpy(zero_copy_only=False)
    offence = world["definitions"]["offence_codes"]
    for y in world["period"]["years"]:
        stated = world["counts"][str(y)]
        in_year = years == y
        assert in_year.sum() == stated["total"]
        assert dict(Counter(codes[in_year].tolist())) == stated["by_code"]
        groups = Counter(offence[c]["group"] for c in codes[in_year])
        assert dict(groups) == stated["by_group"]
    files = {f["path"]: f["rows"] for f in world["files"]["force_extract"]}
    assert sum(files.values()) == crimes.num_rows
    for path in world.files("force_extract"):
        year = int(path.stem[-4:])
        assert files[path.relative_to(world.root).as_posix()] == world["counts"][str(year)][
            "total"]


def test_volume_and_mix_look_like_thames_valley(world: Manifest) -> None:
    # Scale 0.1 of about 150,000 a year; the real 2017/18 mix by group within a few points.
    c2018 = world["counts"]["2018"]
    assert 14_000 < c2018["total"] < 18_500
    share = {g: n / c2018["total"] for g, n in c2018["by_group"].items()}
    assert 0.45 < share["Theft offences"] < 0.55
    assert 0.20 < share["Violence against the person"] < 0.32
    assert share["Robbery"] < 0.02


def test_knife_crime_down_6_percent_and_lowest_since_2016(world: Manifest,
                                                          crimes: pa.Table) -> None:
    years = _years(crimes)
    knife = crimes["knife_flag"].to_numpy(zero_copy_only=False) == "Y"
    eligible = set(world["definitions"]["knife_eligible_codes"])
    codes = crimes["ho_offence_code"].to_numpy(zero_copy_only=False)
    assert all(c in eligible for c in codes[knife])
    k = {y: int((knife & (years == y)).sum()) for y in range(2015, 2022)}
    assert k == {int(y): n for y, n in world["kpis"]["knife_crime"].items()}
    assert _rounds_to(_pct(k[2019], k[2020]), -6)
    assert k[2020] < min(k[2017], k[2018], k[2019])
    assert k[2016] <= k[2020]
    assert world["kpis"]["knife_crime_2020_lowest_since"] == 2016


def test_personal_robbery_down_23_percent(world: Manifest, crimes: pa.Table) -> None:
    years = _years(crimes)
    rob = crimes["ho_offence_code"].to_numpy(zero_copy_only=False) == "34B"
    r19, r20 = int((rob & (years == 2019)).sum()), int((rob & (years == 2020)).sum())
    assert _rounds_to(_pct(r19, r20), -23)
    assert world["kpis"]["personal_robbery"]["2020"] == r20


def test_positive_outcome_rate_for_violence_with_injury_up_23_percent(
        world: Manifest, crimes: pa.Table) -> None:
    years = _years(crimes)
    vwi = np.isin(crimes["ho_offence_code"].to_numpy(zero_copy_only=False),
                  world["definitions"]["violence_with_injury_codes"])
    positive_types = {str(t) for t in world["definitions"]["positive_outcome_types"]}
    outcome = crimes["outcome_type"].to_numpy(zero_copy_only=False)
    positive = np.array([o in positive_types for o in outcome])
    rate = {y: (positive & vwi & (years == y)).sum() / (vwi & (years == y)).sum()
            for y in (2019, 2020)}
    assert _rounds_to(_pct(rate[2019], rate[2020]), 23)
    assert world["kpis"]["vwi_positive_outcomes"]["2020"]["positive"] == int(
        (positive & vwi & (years == 2020)).sum())


def test_violence_peaks_on_friday_and_saturday_nights(world: Manifest, crimes: pa.Table) -> None:
    violence = np.isin(crimes["ho_offence_code"].to_numpy(zero_copy_only=False),
                       world["definitions"]["violence_codes"])
    times = crimes["committed_from"].to_numpy(zero_copy_only=False)[violence]
    grid = Counter()
    for t in times:
        d = datetime.strptime(t, "%Y-%m-%d %H:%M")
        grid[(d.weekday(), d.hour)] += 1
    (wd, hour), _ = grid.most_common(1)[0]
    cells = {(c["weekday_index"], c["hour"]) for c in world["night_time_economy"]["cells"]}
    assert (wd, hour) in cells
    top = world["night_time_economy"]["violence_top_cell"]
    assert (top["weekday_index"], top["hour"]) == (wd, hour)
    # Summer peak: July has more violence than January in every full year.
    months = np.array([t[5:7] for t in times])
    assert (months == "07").sum() > 1.1 * (months == "01").sum()


def test_events_lie_inside_real_lsoas(crimes: pa.Table) -> None:
    lsoa = load_lsoa()
    rng = np.random.default_rng(0)
    pick = rng.choice(crimes.num_rows, 2000, replace=False)
    e = np.asarray(crimes["easting"].take(pa.array(pick)).to_pylist(), dtype=float)
    n = np.asarray(crimes["northing"].take(pa.array(pick)).to_pylist(), dtype=float)
    tree = shapely.STRtree(np.asarray(lsoa.geometry.values))
    # Coordinates are rounded to whole metres: allow a metre and a half from the polygon.
    hits = tree.query(shapely.points(e, n), predicate="dwithin", distance=1.5)
    assert len(np.unique(hits[0])) == len(pick)


def test_town_centre_hotspots_are_dense(world: Manifest, crimes: pa.Table) -> None:
    e = np.asarray(crimes["easting"].to_pylist(), dtype=float)
    n = np.asarray(crimes["northing"].to_pylist(), dtype=float)
    codes = crimes["ho_offence_code"].to_numpy(zero_copy_only=False)
    for h in world["hotspots"]:
        subs = set(h["subgroups"])
        mine = np.array([world["definitions"]["offence_codes"][c]["subgroup"] in subs
                         for c in codes])
        inside = np.hypot(e - h["easting"], n - h["northing"]) <= h["radius_m"]
        density_in = (mine & inside).sum() / (np.pi * h["radius_m"] ** 2)
        box = (e.max() - e.min()) * (n.max() - n.min())
        assert density_in > 5 * mine.sum() / box, h["id"]
        assert h["lsoa11cd"], h["id"]
        assert -1.5 < h["lon"] < 0.0 and 51.0 < h["lat"] < 52.3


def test_emerging_hotspot_intensifies(world: Manifest, crimes: pa.Table) -> None:
    h = world["emerging_hotspot"]
    m = h["strength_multiplier"]
    assert [m[str(y)] for y in range(2015, 2022)] == sorted(m[str(y)] for y in range(2015, 2022))
    planted = [world["counts"][str(y)]["hotspot_events"][h["id"]] for y in range(2015, 2022)]
    assert planted[0] == 0 and planted[-1] > planted[3] > 0
    e = np.asarray(crimes["easting"].to_pylist(), dtype=float)
    n = np.asarray(crimes["northing"].to_pylist(), dtype=float)
    inside = np.hypot(e - h["easting"], n - h["northing"]) <= h["radius_m"]
    vwi = np.isin(crimes["ho_offence_code"].to_numpy(zero_copy_only=False),
                  world["definitions"]["violence_with_injury_codes"])
    years = _years(crimes)
    early = (inside & vwi & (years <= 2016)).sum()
    late = (inside & vwi & (years >= 2020)).sum()
    assert late > 2 * early


def test_near_repeat_offspring_follow_their_parents(world: Manifest, crimes: pa.Table) -> None:
    refs = crimes["crime_ref"].to_numpy(zero_copy_only=False)
    row = {r: i for i, r in enumerate(refs)}
    e = np.asarray(crimes["easting"].to_pylist(), dtype=float)
    n = np.asarray(crimes["northing"].to_pylist(), dtype=float)
    codes = crimes["ho_offence_code"].to_numpy(zero_copy_only=False)
    t_from = crimes["committed_from"].to_numpy(zero_copy_only=False)
    for name, spec in world["near_repeat"].items():
        pairs = spec["offspring"]
        assert pairs, name
        total = sum(world["counts"][str(y)]["by_subgroup"][spec["subgroup"]]
                    for y in world["period"]["years"])
        assert abs(len(pairs) - spec["p"] * total) <= len(world["period"]["years"])
        for child, parent in pairs:
            c, p = row[child], row[parent]
            assert codes[c] == codes[p]
            assert np.hypot(e[c] - e[p], n[c] - n[p]) <= spec["d_m"] + 2
            # Recorded times carry window/rounding noise around the true times.
            gap = (datetime.strptime(t_from[c], "%Y-%m-%d %H:%M")
                   - datetime.strptime(t_from[p], "%Y-%m-%d %H:%M"))
            assert gap <= timedelta(days=spec["t_days"])


def test_force_extract_follows_the_documented_format(world: Manifest, crimes: pa.Table) -> None:
    assert tuple(crimes.column_names) == EXTRACT_COLUMNS
    refs = crimes["crime_ref"].to_numpy(zero_copy_only=False)
    assert len(set(refs)) == len(refs)
    assert all(r.startswith("43/") and len(r) == 12 for r in refs[:1000])
    assert set(crimes["force"].to_pylist()) == {"Thames Valley Police"}
    t_from = crimes["committed_from"].to_numpy(zero_copy_only=False)
    t_to = crimes["committed_to"].to_numpy(zero_copy_only=False)
    windowed = np.array([x is not None for x in t_to])
    assert 0.1 < windowed.mean() < 0.5
    assert all(a <= b for a, b in zip(t_from[windowed], t_to[windowed], strict=True))
    outcome = [o for o in crimes["outcome_type"].to_pylist() if o is not None]
    assert set(outcome) <= {str(i) for i in range(1, 23) if i != 19}
    bands = {"0-9", "10-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+", "unknown"}
    assert set(crimes["victim_age_band"].to_pylist()) <= bands
    locs = crimes["location_description"].to_pylist()[:500]
    assert all(", " in s for s in locs)
    dated = [(f, d) for f, d in zip(t_from, crimes["outcome_date"].to_pylist(), strict=True)
             if d is not None]
    assert all(d >= f[:10] for f, d in dated)


def test_istv_has_no_personal_identifiers_and_links_to_violence(world: Manifest,
                                                                crimes: pa.Table) -> None:
    tables = [read_all_strings(p) for p in world.files("istv")]
    for t in tables:
        assert tuple(t.column_names) == ISTV_COLUMNS
    ed = pa.concat_tables(tables)
    assert set(ed["assault_method"].to_pylist()) <= set(METHODS)
    assert set(ed["location_type"].to_pylist()) <= set(LOCATION_TYPES)
    full_postcode = pc.match_substring_regex(
        pc.fill_null(ed["location_description"], ""), r"[A-Z]{1,2}\d{1,2}[A-Z]? ?\d[A-Z]{2}")
    assert not pc.any(full_postcode).as_py()
    info = world["istv"]
    assert ed.num_rows == info["attendances"] == len(info["links"])
    assert abs(info["share_unreported"] - info["share_unreported_planted"]) < 0.01
    by_ref = {(s, r): c for s, r, c in info["links"]}
    row = {r: i for i, r in enumerate(crimes["crime_ref"].to_numpy(zero_copy_only=False))}
    vwi = set(world["definitions"]["violence_with_injury_codes"])
    codes = crimes["ho_offence_code"].to_numpy(zero_copy_only=False)
    t_from = crimes["committed_from"].to_numpy(zero_copy_only=False)
    linked = 0
    for s, r, arr, ass in zip(ed["site_code"].to_pylist(), ed["attendance_ref"].to_pylist(),
                              ed["arrival_datetime"].to_pylist(),
                              ed["assault_datetime"].to_pylist(), strict=True):
        arrival = datetime.strptime(arr, "%Y-%m-%d %H:%M")
        if ass is not None:
            assert datetime.strptime(ass, "%Y-%m-%d %H:%M") <= arrival
        crime = by_ref[(s, r)]
        if crime is None:
            continue
        linked += 1
        i = row[crime]
        assert codes[i] in vwi
        gap = arrival - datetime.strptime(t_from[i], "%Y-%m-%d %H:%M")
        # Arrival is 0-6 h after the true time; the recorded time may lead it by a window.
        assert timedelta(0) <= gap <= timedelta(hours=6, minutes=1) + timedelta(days=1)
    assert linked == info["linked"]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path) -> None:
    a = generate(tmp_path / "a", seed=3, start="2019-01", end="2020-12", scale=0.01)
    b = generate(tmp_path / "b", seed=3, start="2019-01", end="2020-12", scale=0.01)
    c = generate(tmp_path / "c", seed=4, start="2019-01", end="2020-12", scale=0.01)
    names = sorted(p.relative_to(a.root) for p in a.root.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(b.root) for p in b.root.rglob("*") if p.is_file())
    for name in names:
        assert (a.root / name).read_bytes() == (b.root / name).read_bytes(), name
    assert (a.root / names[0]).read_bytes() != (c.root / names[0]).read_bytes()
    # The headline plants hold at a hundredth of the volume too.
    k = a["kpis"]["knife_crime"]
    assert _rounds_to(_pct(k["2019"], k["2020"]), -6)
    assert json.loads((a.root / "manifest.json").read_text())["seed"] == 3


def test_progress_is_reported_and_partial_periods_work(tmp_path) -> None:
    seen = []
    m = generate(tmp_path / "w", seed=1, start="2020-03", end="2020-08", scale=0.01,
                 progress=lambda step, done, total: seen.append((step, done, total)))
    assert [d for _, d, _ in seen] == list(range(1, len(seen) + 1))
    assert seen[-1][1] == seen[-1][2]
    assert m["period"]["full_years"] == []
    assert "knife_crime_change_2020_vs_2019_pct" not in m["kpis"]
    t = read_all_strings(m.files("force_extract")[0])
    months = {s[:7] for s in t["committed_from"].to_pylist()}
    assert months <= {f"2020-{i:02d}" for i in range(3, 9)}


@pytest.mark.parametrize("kwargs, message", [
    ({"scale": 0.0001}, "scale"),
    ({"start": "2019-13"}, "YYYY-MM"),
    ({"start": "2020-01", "end": "2019-12"}, "before start"),
])
def test_bad_arguments_are_refused_clearly(tmp_path, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        generate(tmp_path / "w", **kwargs)


def test_manifest_loads_back(world: Manifest) -> None:
    again = Manifest.load(world.root)
    assert again.data == world.data
    assert again["period"]["start"] == "2015-01" and again["period"]["end"] == "2021-12"
    with pytest.raises(FileNotFoundError):
        Manifest.load(world.root / "nowhere")


def test_the_project_readers_accept_every_generated_row(world: Manifest) -> None:
    from vru.sources.force_extract import read_force_extract
    from vru.sources.istv import read_istv

    extract = world.files("force_extract")[-1]
    parsed = read_force_extract(extract)
    assert parsed.problems == [] and parsed.table.num_rows == parsed.rows_in
    levels = Counter()
    for path in world.files("istv"):
        parsed = read_istv(path)
        assert parsed.problems == [], path.name
        levels.update(parsed.table["geocode_level"].to_pylist())
    # Most ED location descriptions resolve to a street, postcode district or place.
    assert levels["none"] < 0.15 * sum(levels.values())
