"""Partner person files: conform to their contracts, carry the documented identifier errors."""

from __future__ import annotations

import re
import shutil
import tomllib
from datetime import date
from pathlib import Path

import pyarrow as pa
from tests.synth.conftest import read_all_strings

from vru.sources.contract import load_contract
from vru.sources.partner import read_partner
from vru.synth import Manifest
from vru.synth.manifest import scrub_person_data
from vru.synth.names import NICKNAMES
from vru.synth.partners import ERROR_RATES, PARTNERS

_POSTCODE = re.compile(r"^[A-Z]{1,2}\d{1,2} \d[A-Z]{2}$")


def _check_value(kind: str, value: str) -> bool:
    if kind == "date":
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)) and bool(
            date.fromisoformat(value))
    if kind == "integer":
        return bool(re.fullmatch(r"-?\d+", value))
    if kind == "boolean":
        return value in ("true", "false")
    if kind == "number":
        return bool(re.fullmatch(r"-?\d+(\.\d+)?", value))
    return True


def _tables(world: Manifest) -> dict[str, tuple[pa.Table, dict]]:
    out = {}
    for entry in world["files"]["partners"]:
        contract = tomllib.loads((world.root / entry["contract"]).read_text(encoding="utf-8"))
        out[contract["name"]] = (read_all_strings(world.root / entry["path"]), contract)
    return out


def test_partner_files_conform_to_their_contracts(world: Manifest) -> None:
    tables = _tables(world)
    assert set(tables) == {p.name for p in PARTNERS}
    for name, (table, contract) in tables.items():
        cols = contract["columns"]
        assert table.column_names == [c["name"] for c in cols], name
        assert contract["date_column"] in table.column_names
        assert contract["retention_days"] > 0
        for c in cols:
            values = table[c["name"]].to_pylist()
            if c.get("required"):
                assert all(v not in (None, "") for v in values), (name, c["name"])
            for v in values:
                if v is None:
                    continue
                assert _check_value(c["type"], v), (name, c["name"], v)
                if "allowed" in c:
                    assert v in c["allowed"], (name, c["name"], v)
        # Each identifier column names its kind: a first name and a surname are
        # pseudonymised under different keys.
        kinds = {c["name"]: c["identifier"] for c in cols if "identifier" in c}
        person_id = next(p.person_id for p in PARTNERS if p.name == name)
        assert kinds == {person_id: "identifier", "first_name": "first_name",
                         "surname": "surname", "date_of_birth": "date", "postcode": "postcode"}
        assert load_contract(world.root / f"partners/{name}.toml").identifier_kinds == kinds
        # The project's own partner reader accepts every row.
        parsed = read_partner(world.root / f"partners/{name}.csv",
                              load_contract(world.root / f"partners/{name}.toml"))
        assert parsed.problems == [] and parsed.table.num_rows == table.num_rows


def test_identifier_errors_are_planted_at_the_documented_rates(world: Manifest) -> None:
    info = world["partners"]
    persons = {p["person_truth_id"]: p for p in info["truth_persons"]}
    for partner in PARTNERS:
        table, _ = _tables(world)[partner.name]
        rows = table.to_pylist()
        truth = info["truth_records"][partner.name]
        assert len(rows) == len(truth) == info["records_by_partner"][partner.name]
        seen: dict[str, set[str]] = {e: set() for e in ERROR_RATES}
        for r in rows:
            rid = r[partner.record_id]
            p = persons[truth[rid]]
            assert r[partner.person_id] == p["partner_ids"][partner.name]
            first, sur = r["first_name"], r["surname"]
            if first != p["first_name"]:
                kind = ("first_name_nickname" if first in NICKNAMES.get(p["first_name"], ())
                        else "first_name_typo")
                seen[kind].add(rid)
            if sur != p["surname"]:
                seen["surname_case" if sur == p["surname"].upper() else "surname_typo"].add(rid)
            if r["date_of_birth"] != p["date_of_birth"]:
                y, m, d = p["date_of_birth"].split("-")
                assert r["date_of_birth"] == f"{y}-{d}-{m}"
                seen["dob_day_month_swapped"].add(rid)
            if r["postcode"] is None:
                seen["postcode_missing"].add(rid)
            else:
                assert r["postcode"] == p["postcode"] and _POSTCODE.match(r["postcode"])
        planted = info["errors"][partner.name]
        for err, rate in ERROR_RATES.items():
            assert seen[err] == set(planted[err]["record_ids"]), (partner.name, err)
            assert planted[err]["count"] == len(seen[err])
            assert planted[err]["rate"] == rate
            if err in ("first_name_typo", "surname_typo", "surname_case", "postcode_missing"):
                # Every record is eligible for these: the count is exact.
                assert len(seen[err]) == round(rate * len(rows)), (partner.name, err)


def test_people_appear_across_partners_without_their_truth_ids(world: Manifest) -> None:
    info = world["partners"]
    assert info["persons_in_two_or_more"] > 0.05 * info["persons_in_any_partner"]
    assert all(n > 0 for n in info["persons_by_partner"].values())
    for entry in world["files"]["partners"]:
        text = (world.root / entry["path"]).read_text(encoding="utf-8")
        assert "person_truth_id" not in text
        assert not re.search(r"\bP\d{6}\b", text)
    # Each person keeps one id per partner; repeated records share it.
    for partner in PARTNERS:
        table, _ = _tables(world)[partner.name]
        ids = table[partner.person_id].to_pylist()
        truth = info["truth_records"][partner.name]
        owners: dict[str, set[str]] = {}
        for rid, pid in zip(table[partner.record_id].to_pylist(), ids, strict=True):
            owners.setdefault(pid, set()).add(truth[rid])
        assert all(len(v) == 1 for v in owners.values())


def test_scrub_removes_partner_files_and_person_truth(world: Manifest, tmp_path: Path) -> None:
    folder = tmp_path / "synth"
    shutil.copytree(world.root, folder)  # the shared world stays whole for other tests
    before = (folder / "manifest.json").read_text(encoding="utf-8")
    person = next(p for p in world["partners"]["truth_persons"] if p["partner_ids"]
                  and p["postcode"])
    pid = next(iter(person["partner_ids"].values()))
    known = [person["first_name"] + '"', '"' + person["surname"] + '"',
             person["date_of_birth"], person["postcode"], pid]
    assert all(k in before for k in known)
    csvs = sorted((folder / "partners").glob("*.csv"))
    assert len(csvs) == len(PARTNERS)

    removed = scrub_person_data(folder)

    assert sorted(removed) == csvs and not any(p.exists() for p in csvs)
    assert len(list((folder / "partners").glob("*.toml"))) == len(PARTNERS)  # no person data
    after = (folder / "manifest.json").read_text(encoding="utf-8")
    assert [k for k in known if k in after] == []
    for word in ("truth_persons", "truth_records", "record_ids", "person_truth_id"):
        assert word not in after
    m = Manifest.load(folder)
    assert m.person_data_removed and not world.person_data_removed
    info, was = m["partners"], world["partners"]
    for key in ("persons", "persons_in_any_partner", "persons_in_two_or_more",
                "persons_by_partner", "records_by_partner", "error_rates"):
        assert info[key] == was[key]
    assert info["errors"]["youth_justice"]["surname_case"] == {
        k: v for k, v in was["errors"]["youth_justice"]["surname_case"].items()
        if k != "record_ids"}
    for key in ("counts", "kpis", "hotspots", "istv", "near_repeat", "town_centres"):
        assert m[key] == world[key]
    assert m.files("istv") == [folder / p.relative_to(world.root) for p in world.files("istv")]
    assert all(e["removed"] for e in m["files"]["partners"])
    assert scrub_person_data(folder) == []  # again: nothing left to remove
    assert Manifest.load(folder)["kpis"] == world["kpis"]
