"""The demo home: a synthetic Thames Valley plus the real police.uk months, through the door."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vru.data import asset, police_uk_months
from vru.geo.boundaries import THAMES_VALLEY, load_lsoa
from vru.governance.agreements import active_agreement
from vru.governance.areas import define_area, list_areas
from vru.service import admin
from vru.service.ingest import ingest
from vru.service.session import Session
from vru.sources.contract import load_contract
from vru.synth import Manifest, generate
from vru.synth.manifest import scrub_person_data

Say = Callable[[str], None]
Progress = Callable[[str, int, int], None]

DEMO_AGREEMENT = """
name = "{name}"
dataset = "{dataset}"
owner = "{owner}"
parties = ["{owner}", "Thames Valley VRU"]
purposes = ["violence_reduction", "performance_reporting", "research", "administration"]
legal_basis = ["Crime and Disorder Act 1998 s115",
               "Police, Crime, Sentencing and Courts Act 2022 s16 (Serious Violence Duty)"]
identifier_fields = {identifiers}
retention_days = 3650
start_date = 2015-01-01
end_date = 2030-12-31
[levels]
analyst = "record"
task_force_member = "aggregate"
ethics_board_member = "aggregate"
viewer = "public"
"""


def _agreement(session: Session, dataset: str, owner: str, folder: Path,
               identifiers: list[str]) -> None:
    """Register the demo's agreement for ``dataset`` unless one is in force."""
    if active_agreement(session._db, dataset) is not None:
        return
    ids = "[" + ", ".join(f'"{c}"' for c in identifiers) + "]"
    text = DEMO_AGREEMENT.format(name=f"{owner}: {dataset} — synthetic demo", dataset=dataset,
                                 owner=owner, identifiers=ids)
    path = folder / f"{dataset}-agreement.toml"
    path.write_text(text, encoding="utf-8")
    admin.add_agreement(session, path)
    path.unlink()


def _areas(session: Session) -> None:
    """The demo's nine task-force areas, built from the shipped boundaries."""
    if list_areas(session._db):
        return
    session.decide("admin", "areas", purpose="administration", detail={"change": "demo areas"})
    lsoa = load_lsoa(districts=THAMES_VALLEY)  # the demo's force
    config = tomllib.loads(asset("demo", "task-force-areas.toml").read_text(encoding="utf-8"))
    for a in config["areas"]:
        codes = lsoa.loc[lsoa["lad13cd"].isin(a["districts"]), "lsoa11cd"].tolist()
        define_area(session._db, a["name"], codes, description=a.get("description", ""))


def build(session: Session, *, seed: int = 1, scale: float = 1.0, say: Say = print,
          progress: Progress | None = None,
          report: Callable[[dict[str, Any]], None] | None = None) -> Manifest:
    """Build the demo lake in the session's home; partner source files do not outlive their
    ingest (their identifiers are in the lake only as pseudonyms)."""
    synth_dir = session.home / "synth"
    if not (synth_dir / "manifest.json").exists():
        say(f"1/5 generating the synthetic Thames Valley (seed {seed})")
        generate(synth_dir, seed=seed, scale=scale)
    m = Manifest.load(synth_dir)
    steps = (
        ("2/5 ingesting the real data.police.uk months", "police-uk", police_uk_months()),
        ("3/5 ingesting the synthetic force crime extract", "force-extract",
         sorted((m.root / "force-extract").glob("*.csv"))),
    )
    for text, kind, paths in steps:
        say(text)
        summary = ingest(session, kind, paths, progress=progress, command=f"demo: ingest {kind}")
        if report:
            report(summary)
    say("4/5 ingesting the synthetic ED assault data (ISTV)")
    _agreement(session, "ed_assaults", "Thames Valley acute trusts (synthetic)", synth_dir, [])
    summary = ingest(session, "istv", sorted((m.root / "istv").glob("*.csv")),
                     progress=progress, command="demo: ingest istv")
    if report:
        report(summary)
    _areas(session)
    say("5/5 ingesting the synthetic partner datasets (pseudonymised)")
    for contract_path in sorted((m.root / "partners").glob("*.toml")):
        data = contract_path.with_suffix(".csv")
        if not data.exists():  # scrubbed by an earlier run: already in the lake
            continue
        contract = load_contract(contract_path)
        _agreement(session, contract.table_name, contract.owner, synth_dir,
                   contract.identifier_columns)
        summary = ingest(session, "partner", [data], contract=contract_path,
                         progress=progress, command="demo: ingest partner")
        if report:
            report(summary)
    removed = scrub_person_data(synth_dir)
    if removed:
        say(f"removed {len(removed)} synthetic files holding person identifiers from the home")
    return m


def synthesise(out_dir: Path, *, seed: int = 1, start: str = "2015-01", end: str = "2021-12",
               scale: float = 1.0, progress: Progress | None = None) -> Manifest:
    """Write a synthetic Thames Valley (files as partners send them, truth in manifest.json)."""
    from vru.service.errors import BadRequest

    try:
        return generate(out_dir, seed=seed, start=start, end=end, scale=scale,
                        progress=progress)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
