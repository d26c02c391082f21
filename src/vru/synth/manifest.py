"""The planted truth of a synthetic world, as written to ``manifest.json`` and read back.

Keys of ``manifest.json`` (years are strings; coordinates BNG metres plus lon/lat):

``seed``, ``scale``, ``period``
    ``period.years`` every calendar year touched, ``period.full_years`` those wholly inside
    (the headline plants need whole years).
``files``
    ``force_extract``, ``istv``, ``partners``: path (relative), rows, sha256 (+ ``contract``).
``definitions``
    Year = calendar year of ``committed_from``; positive outcome types {1,2,3,4,6,7,8};
    knife crime = ``knife_flag = Y`` (only ever set on ``knife_eligible_codes``: homicide,
    attempted murder, threats to kill, assault with injury / intent, robbery, rape, sexual
    assault); personal robbery = ``34B``; code lists for violence with injury and violence;
    every offence code with its group, subgroup and police.uk category.
``counts``
    Per year: total, by code / subgroup / group / police.uk category / component
    (background, domestic, hotspot, offspring), knife, violence with injury and its positive
    outcomes, excess events per hotspot, night-time-economy events, violence top cell.
``kpis``
    Knife crime, personal robbery and violence-with-injury positive outcomes per year and the
    exact changes 2020 vs 2019: -6%, -23%, +23% (rate, relative), and
    ``knife_crime_2020_lowest_since`` = 2016.
``yearly_changes_planted_pct``, ``realised_changes_pct``
    Planted percent changes after 2018 by subgroup; realised changes by subgroup and group.
``town_centres``, ``hotspots``, ``emerging_hotspot``, ``intensifying_hotspot``
    Located town centres (method stated); hotspot discs with radius, strength multiplier per
    year (intensity inside / background intensity), subgroups, the LSOAs they touch.
``night_time_economy``
    Friday/Saturday 22:00-03:00 cells (weekday index Monday = 0), weights, closures, events.
``near_repeat``
    Per contagion class: subgroup, p, d_m, t_days, and ``offspring`` pairs
    [crime_ref, parent crime_ref].
``timing_profiles``
    Each profile's seasonal peak, weekday and hour shares.
``istv``
    Sites (illustrative ODS codes), planted and realised share never reported to police,
    counts per site and year, link rule, and ``links`` [site, attendance_ref, crime_ref|null].
``partners``
    Persons, per-partner counts, error rates and the planted errors (record ids per type),
    ``truth_persons`` (true identifiers, partner ids) and ``truth_records`` (record id ->
    person_truth_id). `scrub_person_data` removes the person-level parts once the partner
    files are ingested, and sets ``person_data_removed``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
#: Keys of ``partners`` naming persons or records (true identifiers, partner ids, linkage).
PERSON_KEYS = ("truth_persons", "truth_records")
#: Top-level key set once `scrub_person_data` has run.
SCRUBBED = "person_data_removed"


@dataclass(frozen=True)
class Manifest(Mapping[str, Any]):
    """A read-only view of ``manifest.json``: ``manifest["kpis"]["knife_crime"]`` etc.

    Attributes
    ----------
    path
        Where the manifest file is.
    data
        The parsed JSON (keys documented in ``docs`` of vru.synth and in the file itself,
        under ``"definitions"``).
    """

    path: Path
    data: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def person_data_removed(self) -> bool:
        """Whether `scrub_person_data` removed the partner files and the person truth."""
        return bool(self.data.get(SCRUBBED))

    @property
    def root(self) -> Path:
        """The folder holding the generated files."""
        return self.path.parent

    def files(self, kind: str) -> list[Path]:
        """Absolute paths of the generated files of ``kind`` (force_extract, istv, partners).

        After `scrub_person_data` the partner files are listed (marked ``removed``) but gone.
        """
        return [self.root / f["path"] for f in self.data["files"][kind]]

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        """Read a manifest from a file or from the folder that holds ``manifest.json``."""
        p = Path(path)
        if p.is_dir():
            p = p / MANIFEST_NAME
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"no synthetic-world manifest at {p}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{p}: not valid JSON ({exc})") from None
        if data.get("generator") != "vru.synth":
            raise ValueError(f"{p}: not a vru.synth manifest")
        return cls(p, data)


def write_manifest(folder: Path, data: dict[str, Any]) -> Manifest:
    """Write ``manifest.json`` (sorted keys, stable bytes) and return it.

    The file is replaced whole (written beside it, then renamed), so a reader never sees half
    a manifest.
    """
    path = folder / MANIFEST_NAME
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False)
    part = path.with_name(path.name + ".part")
    part.write_text(text + "\n", encoding="utf-8")
    os.replace(part, path)
    return Manifest(path, data)


def scrub_person_data(folder: Path) -> list[Path]:
    """Delete a synthetic world's partner files and the person truth of its manifest.

    The partner CSVs hold (synthetic) names, dates of birth, postcodes and partner person ids;
    the manifest's ``partners.truth_persons`` holds them again, ``truth_records`` links each
    partner record to a person, and ``partners.errors`` lists record ids per planted error.
    Once the files are ingested (pseudonymised) none of this is needed in the home, so it
    goes: the CSVs are deleted, the manifest keeps every aggregate (persons, counts by
    partner, error rates, error counts) and every other part (crimes, ISTV links, KPIs,
    hotspots...). The contracts (TOML) stay: they hold no person data. Safe to call again.

    Parameters
    ----------
    folder
        The folder holding ``manifest.json`` (what `vru.synth.generate` wrote).

    Returns
    -------
    list[pathlib.Path]
        The files deleted (empty when there was nothing left to delete).
    """
    manifest = Manifest.load(folder)
    data = manifest.data
    removed: list[Path] = []
    for entry in data.get("files", {}).get("partners", []):
        path = manifest.root / entry["path"]
        if path.exists():
            path.unlink()
            removed.append(path)
        entry["removed"] = True
    partner_dir = manifest.root / "partners"
    if partner_dir.is_dir():  # a partner CSV the manifest does not list holds the same data
        for path in sorted(partner_dir.glob("*.csv")):
            path.unlink()
            removed.append(path)
    info = data.get("partners", {})
    for key in PERSON_KEYS:
        info.pop(key, None)
    for planted in info.get("errors", {}).values():
        for error in planted.values():
            error.pop("record_ids", None)
    if "meaning" in info:
        info["meaning"] = ("person-level truth (identifiers, partner ids, record links, "
                           "the records of each planted error) removed after ingest; "
                           "aggregate counts and rates kept")
    data[SCRUBBED] = True
    write_manifest(manifest.root, data)
    return removed
