"""KPIs through the door on the seed-1 demo: the planted headline figures with their tests,
partial and unavailable measures, and what restricted readers can and cannot get."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.service.demo_home import PW, demo_home

from vru.analysis.kpi import pct_change
from vru.service import BadRequest, Denied, admin, open_session
from vru.service.ingest import ingest

MANIFEST_POSITIVE = [1, 2, 3, 4, 6, 7, 8]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_home(tmp_path_factory)


@pytest.fixture(scope="module")
def analyst(demo) -> Iterator:
    s = open_session(demo[0], user="ann", password=PW)
    yield s
    s.close()


@pytest.fixture(scope="module")
def viewer(demo) -> Iterator:
    s = open_session(demo[0], user="vic", password=PW)
    yield s
    s.close()


@pytest.fixture(scope="module")
def member(demo) -> Iterator:
    s = open_session(demo[0], user="tia", password=PW)
    yield s
    s.close()


@pytest.fixture(scope="module")
def kpis_2020(analyst):
    return analyst.kpis("2020", positive_outcome_types=MANIFEST_POSITIVE)


def test_planted_headlines_with_exact_counts(demo, kpis_2020):
    _, manifest = demo
    planted = manifest["kpis"]
    knife = kpis_2020.get("knife_crime")
    assert (knife.previous, knife.current) == (planted["knife_crime"]["2019"],
                                               planted["knife_crime"]["2020"]) == (1300, 1222)
    assert knife.change_pct == planted["knife_crime_change_2020_vs_2019_pct"]["rounded"] == -6
    assert knife.lowest_since == planted["knife_crime_2020_lowest_since"] == 2016
    robbery = kpis_2020.get("personal_robbery")
    assert (robbery.previous, robbery.current) == (planted["personal_robbery"]["2019"],
                                                   planted["personal_robbery"]["2020"])
    assert round(robbery.change_pct) == -23 and robbery.significant
    assert robbery.wording.startswith("Personal robbery is down 23% (1,456 → 1,121; p < 0.001)")
    vwi = kpis_2020.get("violence_with_injury")
    want = planted["vwi_positive_outcomes"]
    assert (vwi.previous, vwi.current) == (want["2019"]["crimes"], want["2020"]["crimes"])
    assert (vwi.previous_positive_outcomes, vwi.positive_outcomes) == (
        want["2019"]["positive"], want["2020"]["positive"])
    assert round(vwi.positive_outcome_rate_change_pct) == 23
    assert vwi.positive_outcome_p_value < 0.001
    assert vwi.positive_outcome_wording.startswith(
        "The positive outcome rate for violence with injury is up 23% (9.5% → 11.7%")


def test_knife_crimes_fall_is_within_noise_and_said_so(kpis_2020):
    """1,300 → 1,222 is -6%, but the exact Poisson test gives p = 0.11: the wording keeps
    the counts, the percent and "lowest since 2016", and does not call it a fall."""
    knife = kpis_2020.get("knife_crime")
    assert knife.p_value == pytest.approx(0.1068, abs=1e-4)
    assert knife.significant is False
    assert knife.wording.startswith("Knife crime: no significant change (1,300 → 1,222, −6%")
    assert "lowest since 2016" in knife.wording and " down" not in knife.wording


def test_counts_equal_the_lake(analyst, kpis_2020):
    """Every KPI count is the lake's own count (SQL written independently here)."""
    def n(where: str) -> int:
        return analyst.sql(f"SELECT count(*) FROM incidents WHERE source = 'force_extract' "
                           f"AND {where}").column(0)[0].as_py()

    homicide = kpis_2020.get("homicide")
    assert homicide.current == n("month LIKE '2020-%' AND offence_code IN ('1','4.1','4.2',"
                                 "'4.10')")
    weapons = kpis_2020.get("possession_of_weapons")
    assert weapons.current == n("month LIKE '2020-%' AND offence_group = "
                                "'Possession of weapons offences'")
    under25 = kpis_2020.get("serious_violence_under_25")
    assert under25.current == n(
        "month LIKE '2020-%' AND victim_age_band IN ('0-9','10-17','18-24') AND ("
        "offence_code IN ('1','4.1','4.2','4.10','2','4.4','4.6','4.8','5D','5E','8N','8P',"
        "'8S','34A','34B') OR knife)")
    sharp = kpis_2020.get("ed_sharp_instrument")
    assert sharp.current == analyst.sql(
        "SELECT count(*) FROM ed_assaults WHERE month LIKE '2020-%' AND weapon = "
        "'knife or sharp object'").column(0)[0].as_py()
    assert sharp.source == "ed_assaults" and sharp.rate_per_1000 is not None
    assert kpis_2020.get("ed_assaults").wording.startswith("ED assault attendances are down")


def test_default_positive_outcomes_are_types_1_to_8(analyst):
    r = analyst.kpis("2020", measures=["violence_with_injury"]).get("violence_with_injury")
    want = analyst.sql("SELECT count(*) FROM incidents WHERE source = 'force_extract' AND "
                       "month LIKE '2020-%' AND offence_code IN ('2','4.4','4.6','4.8','5D',"
                       "'5E','8N','8P','8S') AND outcome_code IN ('1','2','3','4','5','6','7',"
                       "'8')").column(0)[0].as_py()
    assert r.positive_outcomes == want
    assert "outcome types 1, 2, 3, 4, 5, 6, 7, 8" in r.positive_outcome_wording


@pytest.mark.parametrize(("period", "first", "last", "prev_first", "prev_last"), [
    ("2020/21", "2020-04", "2021-03", "2019-04", "2020-03"),
    ("rolling:2020-06", "2019-07", "2020-06", "2018-07", "2019-06"),
    ("2020-01..2020-06", "2020-01", "2020-06", "2019-07", "2019-12"),
])
def test_other_periods(analyst, period, first, last, prev_first, prev_last):
    r = analyst.kpis(period, measures=["personal_robbery"]).get("personal_robbery")

    def n(lo: str, hi: str) -> int:
        return analyst.sql(f"SELECT count(*) FROM incidents WHERE source = 'force_extract' "
                           f"AND offence_code = '34B' AND month BETWEEN '{lo}' AND '{hi}'"
                           ).column(0)[0].as_py()

    assert (r.current, r.previous) == (n(first, last), n(prev_first, prev_last))
    assert r.change_pct == round(pct_change(r.previous, r.current), 1)


def test_last_28_days_against_the_28_before(analyst):
    r = analyst.kpis("28d", measures=["violence_with_injury"]).get("violence_with_injury")
    assert r.period == "28 days 2021-12-04 to 2021-12-31"

    def n(lo: str, hi: str) -> int:
        return analyst.sql(
            "SELECT count(*) FROM incidents WHERE source = 'force_extract' AND offence_code IN "
            "('2','4.4','4.6','4.8','5D','5E','8N','8P','8S') AND CAST(occurred_from AS DATE) "
            f"BETWEEN DATE '{lo}' AND DATE '{hi}'").column(0)[0].as_py()

    assert (r.current, r.previous) == (n("2021-12-04", "2021-12-31"),
                                       n("2021-11-06", "2021-12-03"))
    assert r.lowest_since is None and r.history == []


def test_a_period_not_wholly_held_is_partial_and_not_compared(analyst):
    r = analyst.kpis("2021/22", measures=["knife_crime"]).get("knife_crime")
    assert r.partial and r.missing_months == ["2022-01", "2022-02", "2022-03"]
    assert r.change_pct is None and r.p_value is None
    assert "not compared" in r.wording and "2022-01..2022-03" in r.wording


def test_by_area_and_district(analyst, kpis_2020):
    r = analyst.kpis("2020", measures=["personal_robbery"], by="area")
    areas = [k for k in r.records if k.measure == "personal_robbery"]
    assert len(areas) == 9 and all(k.population and k.rate_per_1000 for k in areas)
    d = analyst.kpis("2020", measures=["personal_robbery"], by="district")
    assert sum(k.current for k in d.records) == kpis_2020.get("personal_robbery").current
    # the demo's Reading area is the Reading district, people and all
    reading, district = r.get("personal_robbery", "reading"), d.get("personal_robbery",
                                                                    "E06000038")
    assert (reading.current, reading.previous, reading.population) == (
        district.current, district.previous, district.population)
    # the nine areas leave five districts out: they add up to less than the force
    assert sum(k.current for k in areas) < kpis_2020.get("personal_robbery").current


def test_meta_names_versions_release_and_audit(analyst, kpis_2020, demo):
    meta = kpis_2020.meta
    assert meta["table_versions"] == {"incidents": analyst.tables()["incidents"],
                                      "ed_assaults": analyst.tables()["ed_assaults"]}
    assert meta["release"]["profile"] == "none"
    owner = open_session(demo[0])
    try:
        entries = admin.audit_entries(owner, limit=200, actor="ann")
    finally:
        owner.close()
    mine = [e for e in entries if '"kpi"' in str(e.detail) or "kpi" in str(e.detail)]
    assert mine, "a KPI request leaves an audit entry naming it"


def test_bad_requests(analyst):
    with pytest.raises(BadRequest, match="financial year"):
        analyst.kpis("2020/22")
    with pytest.raises(BadRequest, match="measures: knife_crime"):
        analyst.kpis("2020", measures=["knife"])
    with pytest.raises(BadRequest, match="area or district"):
        analyst.kpis("2020", by="lsoa")
    with pytest.raises(BadRequest, match="28-day"):
        analyst.kpis("28d:2020-12-31", against="2019-12")
    with pytest.raises(BadRequest, match="28-day"):
        analyst.kpis("2020-12", against="28d:2019-12-31")


def test_a_homes_measures_file_adds_and_overrides(analyst, tmp_path):
    f = tmp_path / "m.toml"
    f.write_text('[settings]\npositive_outcome_types = [1]\n'
                 '[measures.robbery_all]\nlabel = "All robbery"\ntable = "incidents"\n'
                 'outcomes = true\n[measures.robbery_all.force_extract]\n'
                 'offence_codes = ["34A", "34B"]\n')
    r = analyst.kpis("2020", measures=["robbery_all", "personal_robbery"],
                     measures_file=str(f))
    both = r.get("robbery_all")
    assert both.current == r.get("personal_robbery").current + analyst.kpis(
        "2020", measures=["business_robbery"]).get("business_robbery").current
    assert r.meta["positive_outcome_types"] == [1]
    assert "outcome types 1)" in both.positive_outcome_wording


# -- restricted readers --------------------------------------------------------------------


def test_viewer_gets_perturbed_figures_equal_to_the_table_builders(viewer, kpis_2020):
    """Same cell, same answer: the viewer's possession-of-weapons count is what the governed
    table builder releases for the same records; changes come from released figures."""
    r = viewer.kpis("2020")
    assert r.meta["release"]["profile"] == "cellkey"
    w = r.get("possession_of_weapons")
    c = viewer.counts("incidents", by=["year"], where={
        "category": "Possession of weapons", "source": "force_extract",
        "year": ["2019", "2020"]}).table.to_pylist()
    assert {row["year"]: row["n"] for row in c} == {"2019": w.previous, "2020": w.current}
    differs = 0
    for k in r.records:
        exact = kpis_2020.get(k.measure)
        if k.current is not None and k.previous:
            assert k.change_pct == round(pct_change(k.previous, k.current), 1)
        differs += (k.current != exact.current) + (k.previous != exact.previous)
    assert differs > 0, "perturbation changes some counts"


def test_member_sees_their_area_only(member, analyst):
    mine = member.kpis("2020", measures=["personal_robbery"], by="area")
    assert [k.group for k in mine.records] == ["reading"]
    exact = analyst.kpis("2020", measures=["personal_robbery"], by="area").get(
        "personal_robbery", "reading")
    got = mine.get("personal_robbery", "reading")
    assert mine.meta["release"]["profile"] == "nhs"
    for v, e in ((got.current, exact.current), (got.previous, exact.previous)):
        assert (v is None and 1 <= e <= 7) or v == int((e + 2.5) // 5 * 5)
    with pytest.raises(Denied):
        member.kpis("2020", area="slough")
    districts = member.kpis("2020", measures=["personal_robbery"], by="district")
    assert [k.group for k in districts.records] == ["E06000038"]  # Reading only


def test_partner_data_owner_gets_their_own_dataset_only(demo):
    s = open_session(demo[0], user="pat", password=PW)
    try:
        r = s.kpis("2020")
        with pytest.raises(Denied, match="own datasets"):
            s.kpis("2020", measures=["knife_crime", "homicide"])
    finally:
        s.close()
    for k in r.records:
        if k.table == "ed_assaults":
            assert k.available and k.current is not None
        else:
            assert not k.available and k.current is None and k.previous is None
            assert k.note.startswith("not available to you: partner data owners")
    assert r.meta["table_versions"]["incidents"] is not None


def test_member_cannot_get_exact_small_counts_with_a_measures_file(member, tmp_path):
    """A signed-in attacker narrows a measure to a handful of crimes, and tries to make the
    measure file a SQL injection: the counts are still released, the text stays a value."""
    f = tmp_path / "attack.toml"
    f.write_text('[measures.tiny]\nlabel = "tiny"\ntable = "incidents"\n'
                 '[measures.tiny.force_extract]\noffence_codes = ["1"]\n'
                 '[measures.inject]\nlabel = "inject"\ntable = "incidents"\n'
                 '[measures.inject.force_extract]\n'
                 'offence_codes = ["1\') OR TRUE OR (\'1"]\n')
    r = member.kpis("2020", measures=["tiny", "inject"], measures_file=str(f))
    tiny = r.get("tiny")
    assert tiny.current is None or tiny.current % 5 == 0
    assert tiny.previous is None or tiny.previous % 5 == 0
    assert r.get("inject").current == 0


# -- a lake of data.police.uk only, and a planted noise -------------------------------------


@pytest.fixture(scope="module")
def police_only(tmp_path_factory):
    from vru.data import police_uk_months

    home = tmp_path_factory.mktemp("police-only") / "home"
    s = open_session(home)
    ingest(s, "police-uk", police_uk_months())
    yield s
    s.close()


def test_police_uk_cannot_give_knife_crime_and_says_so(police_only):
    r = police_only.kpis("2018-11..2018-12", against="2018-10")
    knife = r.get("knife_crime")
    assert not knife.available and knife.current is None
    assert "knife" in knife.note and "force-extract" in knife.note
    robbery = r.get("personal_robbery")
    assert robbery.available and robbery.source == "police_uk"
    assert "personal and business robbery together" in robbery.approximation
    assert "[approximation:" in robbery.wording
    assert "no Home Office outcome types" in robbery.positive_outcome_wording
    weapons = r.get("possession_of_weapons")
    assert weapons.available and weapons.approximation is None
    assert r.get("ed_assaults").available is False
    # two months against one: the test weighs each by its days
    assert robbery.p_value is not None
    # a period of missing months is partial
    p = police_only.kpis("2018-07..2018-09", against="2018-06",
                         measures=["possession_of_weapons"]).get("possession_of_weapons")
    assert p.partial and p.missing_months == ["2018-07", "2018-08", "2018-09"]


def _extract(path: Path, counts: dict[int, int], first_ref: int = 0) -> Path:
    """A force extract of knife-flagged assaults with injury in Reading: ``counts`` per year,
    spread over the year's days (crime references from ``first_ref`` + 1)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_MINIMAL)
        w.writerow(["crime_ref", "force", "ho_offence_code", "offence_description",
                    "committed_from", "committed_to", "easting", "northing",
                    "location_description", "knife_flag", "domestic_flag", "outcome_type",
                    "outcome_date", "victim_age_band"])
        ref = first_ref
        for year, n in counts.items():
            for i in range(n):
                ref += 1
                day = 1 + (i * 365) // n
                month = min(12, 1 + (day - 1) // 31)
                d = min(28, 1 + (day - 1) % 31)
                w.writerow([f"43/{ref:06d}/{year % 100}", "Thames Valley Police", "8N",
                            "Assault with injury", f"{year}-{month:02d}-{d:02d} 22:{i % 60:02d}",
                            "", 471500 + i % 300, 173300 + i % 200, "High Street, Reading",
                            "Y", "N", 18, f"{year}-12-31", "18-24"])
    return path


def test_a_change_planted_as_noise_is_not_called_a_fall(tmp_path):
    """1,300 knife crimes, then 1,262: -3%, well within chance (the issue's own example).
    Then a later load changes 2020; a re-run at the first version gives the first numbers."""
    home = tmp_path / "home"
    s = open_session(home)
    try:
        ingest(s, "force-extract", [_extract(tmp_path / "x.csv", {2019: 1300, 2020: 1262})])
        k = s.kpis("2020", measures=["knife_crime"]).get("knife_crime")
        first = s.tables()["incidents"]
        ingest(s, "force-extract", [_extract(tmp_path / "y.csv", {2020: 400}, 10_000)])
        assert s.tables()["incidents"] > first
        later = s.kpis("2020", measures=["knife_crime"]).get("knife_crime")
        again = s.kpis("2020", measures=["knife_crime"], versions={"incidents": first})
        with pytest.raises(BadRequest, match="versions"):
            s.kpis("2020", versions={"incidents": 99})
    finally:
        s.close()
    assert later.current == 1662 and later.significant and "up 28%" in later.wording
    assert again.get("knife_crime").as_dict() | {"table_version": None} == k.as_dict() | {
        "table_version": None}
    assert again.meta["table_versions"]["incidents"] == first
    assert (k.previous, k.current) == (1300, 1262)
    assert k.significant is False and k.p_value > 0.3
    assert k.wording.startswith("Knife crime: no significant change (1,300 → 1,262")
    assert "down" not in k.wording


def test_the_cli_face_gives_a_member_what_the_service_releases_them(demo, member):
    """Signed in through `vru --user`, a task-force member gets their area's released figures
    (the same as the service gives them), never the force's exact ones, and cannot ask for
    another area or for SQL."""
    import json
    import os
    import subprocess
    import sys

    def vru(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "vru.cli", "--home", str(demo[0]),
                               "--user", "tia", *args], capture_output=True, text=True,
                              env={**os.environ, "VRU_PASSWORD": PW})

    got = vru("kpi", "--period", "2020", "--measure", "personal_robbery", "--by", "area",
              "--format", "json")
    assert got.returncode == 0, got.stderr
    rows = json.loads(got.stdout)
    mine = member.kpis("2020", measures=["personal_robbery"], by="area").get(
        "personal_robbery", "reading")
    assert [(r["current"], r["previous"]) for r in rows] == [(mine.current, mine.previous)]
    assert all(v is None or v % 5 == 0 for r in rows for v in (r["current"], r["previous"]))
    other = vru("kpi", "--period", "2020", "--area", "slough")
    assert other.returncode == 3 and "slough" in other.stderr.lower()
    sql = vru("sql", "SELECT count(*) FROM incidents")
    assert sql.returncode == 3
