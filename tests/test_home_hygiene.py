"""A home keeps to itself: owner-only modes, no raw identifier in the lake or left after ingest."""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import vru
from vru.governance import db as gdb
from vru.governance.agreements import agreement_from_mapping, register_agreement
from vru.governance.pseudonymise import load_pseudonym_key
from vru.lake.loaders import ingest_partner
from vru.lake.store import Store, identifier_columns
from vru.lake.tables import SPECS
from vru.sources.contract import load_contract
from vru.synth import Manifest, generate
from vru.synth.manifest import scrub_person_data
from vru.synth.partners import PARTNERS

OWNER_ONLY = {"home": 0o700, "lake": 0o700, "keys": 0o700, "vru.db": 0o600}


def _agreement(dataset: str, owner: str) -> dict:
    return {"name": f"{dataset} (test)", "dataset": dataset, "owner": owner,
            "parties": [owner, "Thames Valley VRU"], "purposes": ["violence_reduction"],
            "legal_basis": "Crime and Disorder Act 1998 s115", "retention_days": 2190,
            "start_date": "2010-01-01", "end_date": "2040-12-31",
            "levels": {"analyst": "record"}}


def _modes(home: Path) -> dict[str, int]:
    paths = {"home": home, "lake": home / "lake", "keys": home / "keys",
             "vru.db": home / "vru.db"}
    return {name: stat.S_IMODE(p.stat().st_mode) for name, p in paths.items()}


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """A umask that lets others read new files, as many systems default to."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture(scope="module")
def synth_home(tmp_path_factory: pytest.TempPathFactory
               ) -> tuple[Path, Manifest, list[Path], dict[str, set[bytes]]]:
    """A home with a small synthetic world and its three partner datasets ingested, and the
    raw identifiers of the partner files (read before any test may scrub them)."""
    home = tmp_path_factory.mktemp("hygiene") / "home"
    world = generate(home / "synth", seed=3, scale=0.02)
    db = gdb.connect(home)
    contracts = sorted((world.root / "partners").glob("*.toml"))
    for path in contracts:
        c = load_contract(path)
        register_agreement(db, agreement_from_mapping(_agreement(c.table_name, c.owner)))
        result = ingest_partner(home, [path.with_suffix(".csv")], path)
        assert result.summary()["accepted"] > 0
    db.dispose()
    return home, world, contracts, _raw_identifiers(world)


def _raw_identifiers(world: Manifest) -> dict[str, set[bytes]]:
    """Every identifier value in the partner CSVs, by column, as the partner wrote it."""
    found: dict[str, set[bytes]] = {}
    for partner in PARTNERS:
        with (world.root / "partners" / f"{partner.name}.csv").open(encoding="utf-8") as f:
            for row in csv.DictReader(f):
                for column in (c for c in partner.columns if c.identifier):
                    if row[column.name]:
                        found.setdefault(column.identifier or "", set()).add(
                            row[column.name].encode())
    return found


def test_no_raw_identifier_in_any_lake_file(synth_home) -> None:
    home, _, _, raw = synth_home
    assert set(raw) == {"identifier", "first_name", "surname", "date", "postcode"}
    files = [p for p in (home / "lake").rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files)
    blob = b"".join(p.read_bytes() for p in files)
    # Short names could turn up by chance inside compressed bytes; six letters cannot.
    values = {v for vs in raw.values() for v in vs if len(v) >= 6}
    values |= {v.replace(b" ", b"") for v in raw["postcode"]}  # the normal form too
    assert len(values) > 100
    assert sorted(v for v in values if v in blob) == []
    assert b"permanent" in blob and b"youth caution" in blob  # the scan sees plain values
    # Snappy may store a repeated prefix as a back-reference, so read the values too.
    decoded: set[bytes] = set()
    for partner in PARTNERS:
        table = Store(home).read(f"partner_{partner.name}")
        assert table.num_rows > 0
        for column in table.columns:
            decoded |= {str(v).encode() for v in column.to_pylist() if v is not None}
    every = {v for vs in raw.values() for v in vs}
    assert sorted(every & decoded) == []
    for partner in PARTNERS:
        assert identifier_columns(Store(home), f"partner_{partner.name}") == {
            c.name: c.identifier for c in partner.columns if c.identifier}


def test_fresh_home_is_owner_only(tmp_path: Path, loose_umask: None) -> None:
    home = tmp_path / "fresh"
    gdb.connect(home).dispose()
    load_pseudonym_key(home)  # creates <home>/keys
    Store(home).ensure(SPECS["quarantine"])  # creates <home>/lake
    assert _modes(home) == OWNER_ONLY
    made_loose = tmp_path / "loose-file"
    made_loose.write_text("x")  # the umask is loose: modes above were set, not inherited
    assert stat.S_IMODE(made_loose.stat().st_mode) == 0o644


@pytest.mark.parametrize("opener", ["store", "database", "lake"])
def test_a_loose_existing_home_is_tightened_when_opened(tmp_path: Path, loose_umask: None,
                                                        opener: str) -> None:
    home = tmp_path / "old"
    gdb.connect(home).dispose()
    load_pseudonym_key(home)
    Store(home).ensure(SPECS["quarantine"])
    for p in (home, home / "lake", home / "keys"):
        os.chmod(p, 0o755)
    os.chmod(home / "vru.db", 0o644)
    assert set(_modes(home).values()) == {0o755, 0o644}
    if opener == "store":
        Store(home)
    elif opener == "database":
        gdb.connect(home).dispose()
    else:
        vru.open(home)
    assert _modes(home) == OWNER_ONLY


def test_scrub_leaves_no_synthetic_identifier_in_the_home(synth_home) -> None:
    home, world, contracts, raw = synth_home
    manifest = (world.root / "manifest.json").read_text(encoding="utf-8")
    quoted = [f'"{v.decode()}"' for k in ("first_name", "surname", "date", "postcode")
              for v in raw[k]]
    assert sum(q in manifest for q in quoted) > 100

    removed = scrub_person_data(world.root)

    assert sorted(removed) == [p.with_suffix(".csv") for p in contracts]
    assert list((world.root / "partners").glob("*.csv")) == []
    manifest = (world.root / "manifest.json").read_text(encoding="utf-8")
    assert [q for q in quoted if q in manifest] == []
    # Ids, postcodes and dates of birth are distinctive: none is in any file of the home.
    distinctive = raw["identifier"] | raw["postcode"] | raw["date"]
    blob = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert sorted(v for v in distinctive if v in blob) == []
    assert Manifest.load(home / "synth").person_data_removed
