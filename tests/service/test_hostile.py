"""Hostile use of the one door: each restricted role, signed in, tries every face for more.

Faces: the real CLI (subprocess), Python (`vru.open`), and the service's and lake's functions
called directly (`vru.service.counts.counts`, `vru.service.analyses.analyse`,
`vru.lake.governed.governed_query`). Every refusal must be a refusal, audited as ``deny`` with
the actor's name; what is allowed must stay inside the area and pass the release rule.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import h3
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from tests.service.world import AREA_A, AREA_B, PW, RESTRICTED, World, nhs

import vru
from vru.analysis import hotspots
from vru.governance import audit, disclosure
from vru.lake.governed import AccessDenied, governed_query
from vru.service import BadRequest, Denied, SignInError
from vru.service.analyses import ANALYSES, analyse
from vru.service.counts import counts as service_counts
from vru.service.formats import RESULT_WRITERS, write

SQL = ("SELECT 1", "SELECT count(*) AS n FROM incidents",
       "SELECT lsoa11cd, count(*) AS n FROM ed_assaults GROUP BY 1",
       "SELECT * FROM read_parquet('/etc/passwd')")
A_TIMED = sum(AREA_A.values())  # force-extract rows of area A: every one has a time
KEYS = ("record_key", "__key")
MAP = {"map_from": "2019-03", "map_to": "2020-03", "start": "2020-04", "end": "2020-12"}
#: small, fast parameters per analysis
PARAMS: dict[str, dict[str, Any]] = {
    "gistar": {"cell": "lsoa"}, "moran": {"cell": "lsoa", "permutations": 0},
    "emerging": {"cell": "grid:500"}, "times": {},
    "near_repeat": {"permutations": 9, "source": "force_extract"},
    "accuracy": {**MAP, "cell": "lsoa"}, "density": {"cell_size": 200.0},
    "forecast": {"end": "2020-09", "cell": "grid:250", "model": "naive"},
}


def seq(world: World) -> int:
    """The newest audit entry's number (entries after it belong to what follows)."""
    found = audit.entries(world.owner.db, limit=1)
    return found[-1].seq if found else 0


def since(world: World, actor: str, after: int) -> list[audit.AuditEntry]:
    return [e for e in world.entries(actor) if e.seq > after]


def assert_denied_audited(world: World, actor: str, after: int, resource: str | None = None
                          ) -> audit.AuditEntry:
    """The request after ``after`` left a deny of ``actor`` (and no allow of the resource)."""
    new = since(world, actor, after)
    denies = [e for e in new if e.decision == "deny"
              and (resource is None or e.resource == resource)]
    assert denies, f"no deny audited for {actor}: {[(e.decision, e.resource) for e in new]}"
    return denies[-1]


def released_ok(values: Any) -> bool:
    """Every value obeys the NHS rule as shown: null, 0, or a multiple of 5 that is >= 10."""
    for v in pd.Series(values, dtype="object"):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            continue
        if not (float(v) == 0 or (float(v) >= 10 and float(v) % 5 == 0)):
            return False
    return True


def in_area(world: World, area: str) -> pd.DataFrame:
    df = world.incidents
    return df[df["area"] == area]


# -- the CLI, run once per module: each call is a fresh interpreter, so they run side by side --

CLI_CALLS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    **{f"sql-{u}": (u, ("sql", "SELECT 1")) for u in RESTRICTED},
    "sql-tia-table": ("tia", ("sql", "SELECT count(*) AS n FROM incidents", "--format", "csv")),
    "area-b": ("tia", ("counts", "incidents", "--by", "lsoa", "--area", "B")),
    "where-b": ("tia", ("counts", "incidents", "--by", "lsoa", "--where", "area=B",
                        "--format", "json")),
    "by-lsoa": ("tia", ("counts", "incidents", "--by", "lsoa", "--format", "json")),
    "by-id": ("tia", ("counts", "incidents", "--by", "source_ref")),
    "by-pupil": ("vic", ("counts", "partner_schools", "--by", "pupil")),
    "grid-1": ("tia", ("counts", "incidents", "--by", "grid:1")),
    "fine": ("tia", ("counts", "incidents", "--by", "hour,weekday,lsoa,month", "--format",
                     "csv")),
    "gistar": ("tia", ("hotspots", "gistar", "--cell", "h3:9", "--out", "{tmp}/tia.parquet")),
    "density": ("tia", ("hotspots", "density", "--out", "{tmp}/d.parquet")),
    "viewer-gistar": ("vic", ("hotspots", "gistar", "--cell", "lsoa", "--out",
                              "{tmp}/vic.parquet")),
    "disabled": ("dan", ("counts", "incidents", "--by", "month")),
}


@pytest.fixture(scope="module")
def cli(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every CLI call of this module, run three at a time; name -> CompletedProcess."""
    tmp = tmp_path_factory.mktemp("cli")
    before = seq(world)

    def run(item: tuple[str, tuple[str | None, tuple[str, ...]]]) -> tuple[str, Any]:
        name, (user, args) = item
        return name, world.cli(user, *(a.replace("{tmp}", str(tmp)) for a in args))

    with ThreadPoolExecutor(3) as pool:
        done = dict(pool.map(run, CLI_CALLS.items()))
    return {"runs": done, "tmp": tmp, "before": before}


@pytest.mark.parametrize("user", RESTRICTED)
def test_cli_sql_refused_for_every_restricted_role(world, cli, user):
    run = cli["runs"][f"sql-{user}"]
    assert run.returncode == 3, run.stderr
    assert "vru counts" in run.stderr and run.stdout == ""
    assert [e for e in since(world, user, cli["before"]) if e.decision == "deny"
            and e.resource == "sql" and e.detail.get("sql") == "SELECT 1"]


def test_cli_sql_on_a_table_refused(world, cli):
    run = cli["runs"]["sql-tia-table"]
    assert run.returncode == 3 and run.stdout == ""
    denies = [e for e in since(world, "tia", cli["before"]) if e.decision == "deny"
              and e.detail.get("sql") == "SELECT count(*) AS n FROM incidents"]
    assert denies


def test_cli_counts_stay_in_the_area(world, cli):
    runs = cli["runs"]
    assert runs["area-b"].returncode == 3 and "B" in runs["area-b"].stderr
    assert runs["area-b"].stdout == ""
    assert [e for e in since(world, "tia", cli["before"])
            if e.decision == "deny" and e.detail.get("area") == "B"]
    assert runs["where-b"].returncode == 0, runs["where-b"].stderr
    assert json.loads(runs["where-b"].stdout) == []
    shown = json.loads(runs["by-lsoa"].stdout)
    assert {r["lsoa"]: r["n"] for r in shown} == {c: nhs(n) for c, n in AREA_A.items()
                                                  if nhs(n)} | {"E01016353": 45}


def test_cli_identifiers_and_tiny_cells_refused(cli):
    runs = cli["runs"]
    for name, word in (("by-id", "source_ref"), ("by-pupil", "pupil"), ("grid-1", "grid:1")):
        run = runs[name]
        assert run.returncode == 2 and run.stdout == "", (name, run.stderr)
        assert word in run.stderr
    assert "dimensions" in runs["by-id"].stderr and "month" in runs["by-id"].stderr
    offered = re.split(r"dimensions(?: here)?:", runs["by-pupil"].stderr)[-1]
    assert "pupil" not in [d.strip() for d in offered.split(",")]


def test_cli_fine_breakdown_releases_only_safe_cells(world, cli):
    run = cli["runs"]["fine"]
    assert run.returncode == 0, run.stderr
    got = pd.read_csv(pd.io.common.StringIO(run.stdout), dtype=str)
    assert list(got.columns) == ["hour", "weekday", "lsoa", "month", "n"]
    assert set(got["lsoa"]) <= set(AREA_A)
    assert released_ok(pd.to_numeric(got["n"]))
    assert "withheld" in run.stderr


def test_cli_hotspots_in_the_area_and_without_keys(world, cli):
    run = cli["runs"]["gistar"]
    assert run.returncode == 0, run.stderr
    path = Path(cli["tmp"]) / "tia.parquet"
    table = pq.read_table(path)
    assert not set(KEYS) & set(table.column_names)
    assert b"record_key" not in path.read_bytes()
    frame = table.to_pandas()
    a = in_area(world, "A")
    mine = {h3.latlng_to_cell(la, lo, 9) for la, lo in zip(a["lat"], a["lon"], strict=True)}
    busy = set(frame.loc[frame["n"].fillna(0) > 0, "cell"])
    assert busy and busy <= mine
    assert released_ok(frame["n"])


def test_cli_density_and_viewer_analyses_refused(world, cli):
    runs = cli["runs"]
    for name, user, resource in (("density", "tia", "analysis:density"),
                                 ("viewer-gistar", "vic", "analysis:gistar")):
        assert runs[name].returncode == 3, runs[name].stderr
        assert_denied_audited(world, user, cli["before"], resource)
    assert not (Path(cli["tmp"]) / "d.parquet").exists()
    assert not (Path(cli["tmp"]) / "vic.parquet").exists()


def test_cli_disabled_user_cannot_sign_in(world, cli):
    run = cli["runs"]["disabled"]
    assert run.returncode == 3 and run.stdout == ""
    assert [e for e in since(world, "dan", cli["before"])
            if e.action == "login" and e.decision == "deny"]


# -- free SQL through Python and the lake's own function ------------------------------------

@pytest.mark.parametrize("query", SQL)
@pytest.mark.parametrize("user", RESTRICTED)
def test_python_sql_refused(world, user, query):
    lake = vru.open(world.home, user=user, password=PW)
    before = seq(world)
    with pytest.raises(Denied, match="vru counts"):
        lake.sql(query)
    entry = assert_denied_audited(world, user, before, "sql")
    assert entry.detail.get("sql") == query


@pytest.mark.parametrize("query", SQL)
@pytest.mark.parametrize("user", RESTRICTED)
def test_governed_query_refused(world, user, query):
    s = world.session(user)
    before = seq(world)
    with pytest.raises(AccessDenied):
        governed_query(world.owner.store, world.owner.db, s.user, query, "violence_reduction")
    assert assert_denied_audited(world, user, before, "sql").detail.get("sql") == query


# -- counts of another area ----------------------------------------------------------------

@pytest.mark.parametrize("face", ["python", "service"])
def test_counts_of_another_area(world, face):
    s = (vru.open(world.home, user="tia", password=PW) if face == "python"
         else world.session("tia"))

    def count(by: str, where: Any = None, area: str | None = None) -> Any:
        if face == "python":
            return s.counts("incidents", by, where, area=area)
        return service_counts(s, "incidents", by.split(","), where, area=area)

    before = seq(world)
    with pytest.raises(Denied, match="own area"):
        count("lsoa", area="B")
    assert_denied_audited(world, "tia", before, "incidents")
    b_code = next(iter(AREA_B))
    for where in ({"area": "B"}, {"lsoa": b_code}, [f"lsoa={b_code}|E01016353"]):
        got = count("lsoa", where).table
        assert set(got["lsoa"].to_pylist()) <= set(AREA_A)
    assert set(count("lsoa").table["lsoa"].to_pylist()) <= set(AREA_A)
    assert count("area").table["area"].to_pylist() == ["A"]
    assert count("district").table["district"].to_pylist() == ["E06000038"]  # Reading
    after = since(world, "tia", before)
    assert [e for e in after if e.decision == "allow" and e.resource == "incidents"]


# -- identifiers and hidden columns are no dimension ---------------------------------------

ID_CASES = [
    (u, "incidents", d) for u in ("tia", "eve", "vic")
    for d in ("source_ref", "row_hash", "source_file", "batch_id", "record_key", "__key",
              "easting", "lon", "location")
] + [(u, "partner_schools", d) for u in ("tia", "eve", "vic", "pat")
     for d in ("pupil", "pupil_name", "row_hash", "record_key")]


@pytest.mark.parametrize("user, table, dim", ID_CASES)
def test_counts_by_an_identifier_refused(world, user, table, dim):
    s = world.session(user)
    with pytest.raises(BadRequest) as by:
        s.counts(table, f"month,{dim}")
    text = str(by.value)
    assert dim in text and re.search(r"dimensions(?: here)?:", text) and "month" in text
    offered = re.split(r"dimensions(?: here)?:", text)[-1]
    assert dim not in [d.strip() for d in offered.split(",")]
    with pytest.raises(BadRequest):
        s.counts(table, "month", {dim: "x"})


def test_counts_by_an_identifier_audited_as_deny(world):
    s = world.session("tia")
    before = seq(world)
    with pytest.raises(BadRequest):
        s.counts("incidents", "source_ref")
    new = since(world, "tia", before)
    assert [e for e in new if e.decision == "deny"]
    assert not [e for e in new if e.decision == "allow"]


# -- counts that single out records --------------------------------------------------------

def truth_counts(df: pd.DataFrame, by: list[str]) -> dict[tuple, int]:
    """True counts of ``df`` by the builder's dimensions, computed here with pandas."""
    d = pd.DataFrame(index=df.index)
    t = df["occurred_from"]
    for b in by:
        if b == "hour":
            d[b] = t.dt.hour.astype("Int64")
        elif b == "weekday":
            d[b] = t.dt.day_name()
        elif b == "lsoa":
            d[b] = df["lsoa11cd"]
        elif b.startswith("grid:"):
            size = int(b[5:])
            d[b] = [f"{int(e // size * size)}_{int(n // size * size)}"
                    for e, n in zip(df["easting"], df["northing"], strict=True)]
        elif b.startswith("h3:"):
            d[b] = [h3.latlng_to_cell(la, lo, int(b[3:]))
                    for la, lo in zip(df["lat"], df["lon"], strict=True)]
        else:
            d[b] = df[b]
    out: dict[tuple, int] = {}
    for row in d.itertuples(index=False):
        key = tuple(None if pd.isna(v) else v for v in row)
        out[key] = out.get(key, 0) + 1
    return out


def released_rows(table: Any, by: list[str]) -> dict[tuple, int | None]:
    rows = table.to_pylist()
    return {tuple(r[b] for b in by): r["n"] for r in rows}


FINE = ["grid:100", "h3:10", "hour,weekday,lsoa,month", "lsoa,month,category", "lsoa"]


@pytest.mark.parametrize("by", FINE)
def test_fine_counts_obey_the_nhs_rule(world, by):
    dims = by.split(",")
    got = world.session("tia").counts("incidents", by)
    truth = truth_counts(in_area(world, "A"), dims)
    shown = released_rows(got.table, dims)
    assert shown == {k: nhs(n) for k, n in truth.items() if nhs(n)}
    assert got.withheld == sum(1 for n in truth.values() if not nhs(n))
    assert not set(KEYS) & set(got.table.column_names)


@pytest.mark.parametrize("by", ["grid:1", "grid:99", "h3:15", "h3:11"])
def test_cells_below_the_floor_refused(world, by):
    with pytest.raises(BadRequest):
        world.session("tia").counts("incidents", by)


@pytest.mark.parametrize("by", FINE)
def test_viewer_counts_are_perturbed_within_the_ptable(world, by):
    """Viewers get the public profile (cell-key by default): near the truth, never exact
    small counts leaking as-is beyond the pTable's reach, the same answer twice."""
    rule = disclosure.PROFILES["cellkey"].perturbation
    assert rule is not None
    s = world.session("vic")
    dims = by.split(",")
    got = s.counts("incidents", by)
    assert got.release.profile == "cellkey"
    truth = truth_counts(world.incidents, dims)
    shown = released_rows(got.table, dims)
    for key, n in shown.items():
        assert n is not None and n > 0
        assert abs(n - truth[key]) <= rule.max_abs and n % rule.step == 0
        assert n >= rule.smallest
    assert released_rows(s.counts("incidents", by).table, dims) == shown
    assert not set(KEYS) & set(got.table.column_names)


# -- analyses as a task-force member ---------------------------------------------------------

@pytest.fixture(scope="module")
def tia_results(world: World) -> dict[str, Any]:
    """Each aggregate analysis as tia through `vru.open`, run once."""
    lake = vru.open(world.home, user="tia", password=PW)
    out = {name: lake.analyse(name, **PARAMS[name]) for name in PARAMS
           if ANALYSES[name].finest.value != "record"}
    out["gistar_h3"] = lake.analyse("gistar", cell="h3:9")
    return out


def test_gistar_and_moran_cover_the_area_with_released_counts(world, tia_results):
    for name in ("gistar", "moran"):
        frame = tia_results[name].frame
        assert sorted(frame["cell"]) == sorted(AREA_A)
        n = dict(zip(frame["cell"], frame["n"], strict=True))
        truth = in_area(world, "A")["lsoa11cd"].value_counts()
        assert {c: (None if pd.isna(v) else int(v)) for c, v in n.items()} == {
            c: nhs(int(k)) for c, k in truth.items()}
        assert tia_results[name].meta["release"]["profile"] == "nhs"
        assert tia_results[name].meta["area"] == "A"


def test_gistar_h3_cells_of_other_areas_are_empty(world, tia_results):
    frame = tia_results["gistar_h3"].frame
    a = in_area(world, "A")
    mine = {h3.latlng_to_cell(la, lo, 9) for la, lo in zip(a["lat"], a["lon"], strict=True)}
    busy = set(frame.loc[frame["n"].fillna(0) > 0, "cell"])
    assert busy and busy <= mine
    assert released_ok(frame["n"])


def test_emerging_covers_only_the_area(world, tia_results):
    frame = tia_results["emerging"].frame
    a = in_area(world, "A")
    mine = {f"500m:{int(e // 500)}:{int(n // 500)}"
            for e, n in zip(a["easting"], a["northing"], strict=True)}
    busy = set(frame.loc[frame["n"].fillna(0) > 0, "cell"])
    assert busy and busy <= mine


def test_emerging_counts_released(tia_results):
    assert released_ok(tia_results["emerging"].frame["n"])


def test_times_and_near_repeat_cover_the_area_with_released_cells(tia_results):
    times = tia_results["times"]
    assert times.meta["events"] == A_TIMED and times.meta["area"] == "A"
    assert released_ok(times.matrix.to_numpy().ravel())
    knox = tia_results["near_repeat"]
    assert knox.meta["events"] == A_TIMED
    assert released_ok(knox.frame["observed"])


def test_times_leaves_no_exact_small_count(tia_results):
    times = tia_results["times"]
    assert released_ok(times.seasonality["events"])
    assert released_ok(times.trend.counts["events"])


def test_near_repeat_keeps_no_exact_table(tia_results):
    assert released_ok(np.asarray(tia_results["near_repeat"].knox.observed).ravel())


def test_accuracy_summary_released(world, tia_results):
    acc = tia_results["accuracy"]
    a = in_area(world, "A")
    later = int(((a["month"] >= "2020-04") & (a["month"] <= "2020-12")).sum())
    row = acc.frame.iloc[0]
    shown = None if pd.isna(row["events_later"]) else int(row["events_later"])
    assert shown == nhs(later)
    assert released_ok(acc.frame[["events_later", "events_in_hotspots"]].to_numpy().ravel())


def test_accuracy_keeps_no_exact_counts(tia_results):
    acc = tia_results["accuracy"]
    assert released_ok([acc.accuracy.n_total, acc.accuracy.n_hit])
    assert released_ok(acc.repeats["events"]) and released_ok(acc.repeats["locations"])


@pytest.mark.parametrize("user", ["tia", "eve", "vic"])
def test_density_refused_below_record_level(world, user):
    s = world.session(user)
    before = seq(world)
    with pytest.raises(Denied):
        analyse(s, "density", **PARAMS["density"])
    assert_denied_audited(world, user, before, "analysis:density")


@pytest.mark.parametrize("name", sorted(ANALYSES))
@pytest.mark.parametrize("face", ["python", "service"])
def test_viewers_and_data_owners_get_no_analysis(world, name, face):
    for user in ("vic", "pat"):
        s = vru.open(world.home, user=user, password=PW) if face == "python" \
            else world.session(user)
        before = seq(world)
        with pytest.raises(Denied):
            if face == "python":
                s.analyse(name, **PARAMS[name])
            else:
                analyse(s, name, **PARAMS[name])
        assert_denied_audited(world, user, before, f"analysis:{name}")


def test_task_force_member_cannot_analyse_another_area(world):
    s = world.session("tia")
    before = seq(world)
    with pytest.raises(Denied, match="own area"):
        s.analyse("gistar", area="B", cell="lsoa")
    assert_denied_audited(world, "tia", before, "analysis:gistar")
    with pytest.raises(BadRequest):  # harm-weighted sums are record-level only
        s.analyse("gistar", cell="lsoa", harm=True)


# -- signing in ------------------------------------------------------------------------------

def test_sign_in_needs_the_right_password_and_an_enabled_account(world):
    with pytest.raises(SignInError):
        vru.open(world.home, user="tia")
    before = seq(world)
    with pytest.raises(SignInError):
        vru.open(world.home, user="wes", password="not the password at all")
    with pytest.raises(SignInError):
        vru.open(world.home, user="dan", password=PW)
    for who in ("wes", "dan"):
        entry = assert_denied_audited(world, who, before)
        assert entry.action == "login"


# -- a Session is no event source --------------------------------------------------------------

@pytest.mark.parametrize("fn", ["gistar", "emerging", "moran", "times", "near_repeat",
                                "density"])
def test_a_session_handed_to_an_analysis_is_refused(world, fn):
    s = world.session("tia")
    with pytest.raises(TypeError, match="analyse"):
        getattr(hotspots, fn)(s)


def test_a_session_handed_to_accuracy_is_refused(world, tia_results):
    with pytest.raises(TypeError):
        hotspots.accuracy(tia_results["gistar"], world.session("tia"), "2020-04", "2020-12")


# -- rows -------------------------------------------------------------------------------------

@pytest.mark.parametrize("user", RESTRICTED)
def test_rows_refused_to_restricted_roles(world, user):
    with pytest.raises(Denied):
        world.session(user).table("incidents").to_arrow()
    with pytest.raises(Denied):
        vru.open(world.home, user=user, password=PW).table("ed_assaults").to_pandas()


def test_rows_refusal_audited_as_deny(world):
    before = seq(world)
    with pytest.raises(Denied):
        world.session("tia").table("incidents").to_arrow()
    new = since(world, "tia", before)
    assert [e for e in new if e.decision == "deny"]
    assert not [e for e in new if e.decision == "allow"]


# -- keys never leave ------------------------------------------------------------------------

@pytest.mark.parametrize("user", ["ann", "tia", "eve", "vic", "pat"])
def test_no_key_column_in_any_counts(world, user):
    s = world.session(user)
    table = "partner_schools" if user == "pat" else "incidents"
    for by in ("lsoa", "month,lsoa", "month" if user == "pat" else "grid:500"):
        assert not set(KEYS) & set(s.counts(table, by).table.column_names)


def test_no_key_in_analysis_frames_or_files(world, tia_results, tmp_path):
    ann = world.session("ann")
    results = {**{f"tia-{k}": v for k, v in tia_results.items()},
               **{f"ann-{k}": ann.analyse(k, **p) for k, p in PARAMS.items()}}
    for name, result in results.items():
        frame = getattr(result, "matrix", None) if hasattr(result, "matrix") else None
        if frame is None and not hasattr(result, "grid"):
            frame = result.frame
        if frame is not None:
            assert not set(KEYS) & {str(c) for c in frame.columns}, name
        assert getattr(result, "keys", None) is None or name.startswith("ann"), name
        for suffix in RESULT_WRITERS:
            path = tmp_path / f"{name}{suffix}"
            if name.endswith("density") and suffix in (".geojson", ".gpkg"):
                continue  # a raster has no such form (test_density_as_a_map_is_a_bad_request)
            try:
                write(result, path)
            except BadRequest:
                continue  # this output has no such form (a table as a map, a chart of none)
            files = [path, *tmp_path.glob(f"{name}{suffix}.*")]
            for f in files:
                data = f.read_bytes()
                assert b"record_key" not in data and b"__key" not in data, f


def test_density_as_a_map_is_a_bad_request(world, tmp_path):
    result = world.session("ann").analyse("density", **PARAMS["density"])
    with pytest.raises(BadRequest):
        write(result, tmp_path / "d.geojson")


# -- and the log still holds ----------------------------------------------------------------

def test_zz_audit_verifies_after_the_whole_suite(world):
    from vru.service import admin

    result = admin.verify_audit(world.owner)
    assert result.ok, result.problem
    run = world.cli(None, "audit", "verify")
    assert run.returncode == 0 and run.stdout.startswith("ok "), run.stdout + run.stderr


@pytest.mark.parametrize("user", RESTRICTED)
@pytest.mark.parametrize("part", ["db", "store", "settings"])
def test_the_parts_behind_the_door_are_for_admins(world, user, part):
    """A restricted session hands out no raw lake, database or keys (`lake.store` did)."""
    s = world.session(user)
    with pytest.raises(Denied, match="admins"):
        getattr(s, part)


def test_a_refused_ingest_drops_what_was_read_ahead(world, tmp_path):
    # the CLI starts reading the files before the service decides: a viewer's refused
    # ingest must leave nothing of them held, and write nothing
    from vru.service.ingest import ingest
    from vru.service.readahead import start

    header = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,"
              "LSOA code,LSOA name,Crime type,Last outcome category,Context")
    path = tmp_path / "2018-11-thames-valley-street.csv"
    path.write_text(header + "\n" + "".join(
        f"{i:064x},2018-11,Thames Valley Police,Thames Valley Police,-0.971,51.456,"
        "On or near Broad Street,E01016466,Reading 011A,Robbery,,\n" for i in range(50)))
    before = world.owner.tables()
    ahead = start("police-uk", [path])
    with pytest.raises(Denied):
        ingest(world.session("vic"), "police-uk", [path], ahead=ahead)
    assert ahead._closed and ahead._held == 0
    assert all(f.rows is None for f in ahead._files.values())
    assert world.owner.tables() == before


@pytest.mark.parametrize("user", ["vic", "tia"])
def test_cli_ingest_refused_for_a_restricted_role(world, tmp_path, user):
    # the CLI starts reading the files before the service decides: the refusal still holds,
    # says so, and no table moves
    path = tmp_path / "2018-11-thames-valley-street.csv"
    path.write_text("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,"
                    "LSOA code,LSOA name,Crime type,Last outcome category,Context\n" + "".join(
                        f"{i:064x},2018-11,Thames Valley Police,Thames Valley Police,-0.971,"
                        "51.456,On or near Broad Street,E01016466,Reading 011A,Robbery,,\n"
                        for i in range(30)))
    before = world.owner.tables()
    run = world.cli(user, "ingest", "police-uk", str(path), "--json")
    assert run.returncode == 3, run.stderr
    assert "denied" in run.stderr
    assert world.owner.tables() == before
