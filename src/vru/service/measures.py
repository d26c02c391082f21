"""Measure definitions of performance reporting: the shipped TOML plus a home's own file.

A measure is data (``vru/data/measures.toml``): a label, a lake table and, per source the
table may hold, how rows are selected (offence codes, police.uk categories, the knife flag,
victim age, ED weapon), or why that source cannot give it, or how it only approximates it.
A home's ``measures.toml`` (or a file given with ``--measures``) adds measures or replaces
one whole; its ``[settings]`` replace the shipped ones key by key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vru.data import asset
from vru.service.errors import BadRequest

HOME_FILE = "measures.toml"
_SELECTORS = ("offence_codes", "categories", "knife", "also_knife", "victim_age_bands",
              "weapons")
_SOURCE_KEYS = (*_SELECTORS, "approximation", "unavailable")


@dataclass(frozen=True)
class SourceRule:
    """How one source's rows give a measure (or why they cannot)."""

    source: str
    offence_codes: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    knife: bool = False
    also_knife: bool = False  #: rows with the knife flag count too, whatever their code
    victim_age_bands: tuple[str, ...] = ()
    weapons: tuple[str, ...] = ()
    approximation: str | None = None
    unavailable: str | None = None

    def where(self, columns: set[str]) -> tuple[str, list[Any]]:
        """A SQL condition over the governed view ``e`` (with its parameters).

        Raises
        ------
        BadRequest
            When a selector needs a column the reader's view does not have.
        """
        parts, params = [], []

        def need(col: str, why: str) -> None:
            if col not in columns:
                raise BadRequest(f"the measure's {why} needs column {col!r}, which this "
                                 "table (as you may see it) does not have")

        if self.offence_codes:
            need("offence_code", "offence_codes")
            codes = "e.offence_code IN (" + ", ".join("?" * len(self.offence_codes)) + ")"
            params += list(self.offence_codes)
            if self.also_knife:
                need("knife", "also_knife")
                codes = f"({codes} OR coalesce(e.knife, false))"
            parts.append(codes)
        if self.categories:
            need("category", "categories")
            parts.append("e.category IN (" + ", ".join("?" * len(self.categories)) + ")")
            params += list(self.categories)
        if self.knife:
            need("knife", "knife flag")
            parts.append("coalesce(e.knife, false)")
        if self.victim_age_bands:
            need("victim_age_band", "victim_age_bands")
            parts.append("e.victim_age_band IN (" + ", ".join("?" * len(self.victim_age_bands))
                         + ")")
            params += list(self.victim_age_bands)
        if self.weapons:
            need("weapon", "weapons")
            parts.append("e.weapon IN (" + ", ".join("?" * len(self.weapons)) + ")")
            params += list(self.weapons)
        return (" AND ".join(parts) or "TRUE"), params


@dataclass(frozen=True)
class Measure:
    """A headline measure: what it counts, from which table, per source."""

    id: str
    label: str
    description: str
    table: str
    sources: tuple[SourceRule, ...]
    outcomes: bool = False  #: report the positive outcome rate too
    plural: bool = False  #: the label is plural (wording says "are")

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "description": self.description,
                "table": self.table, "outcomes": self.outcomes, "plural": self.plural,
                "sources": [{k: v for k, v in vars(s).items() if v not in ((), None, False)}
                            for s in self.sources]}


@dataclass(frozen=True)
class Measures:
    """Every measure, in order, and the settings they share."""

    measures: dict[str, Measure]
    positive_outcome_types: tuple[int, ...]
    significance: float
    files: tuple[str, ...] = field(default=())

    def select(self, ids: list[str] | None) -> list[Measure]:
        """The measures ``ids`` (all when None); `BadRequest` names the known ones."""
        if not ids:
            return list(self.measures.values())
        unknown = [i for i in ids if i not in self.measures]
        if unknown:
            raise BadRequest(f"no measure {', '.join(map(repr, unknown))}; measures: "
                             f"{', '.join(self.measures)}")
        return [self.measures[i] for i in ids]


def _parse(data: dict[str, Any], where: str, settings: dict[str, Any]) -> dict[str, Measure]:
    out: dict[str, Measure] = {}
    for mid, body in (data.get("measures") or {}).items():
        if not isinstance(body, dict):
            raise BadRequest(f"{where}: [measures.{mid}] must be a table")
        table = body.get("table")
        if not isinstance(table, str) or not table:
            raise BadRequest(f"{where}: measure {mid!r} needs table = \"incidents\" (or "
                             "\"ed_assaults\", a partner table...)")
        sources = []
        for name, rule in body.items():
            if not isinstance(rule, dict):
                continue
            bad = [k for k in rule if k not in _SOURCE_KEYS]
            if bad:
                raise BadRequest(f"{where}: measure {mid!r} source {name!r} has unknown keys "
                                 f"{', '.join(bad)}; keys: {', '.join(_SOURCE_KEYS)}")
            ages = rule.get("victim_age_bands", ())
            if ages == "under_25":
                ages = settings["under_25_bands"]
            sources.append(SourceRule(
                name, tuple(map(str, rule.get("offence_codes", ()))),
                tuple(rule.get("categories", ())), bool(rule.get("knife", False)),
                bool(rule.get("also_knife", False)), tuple(ages),
                tuple(rule.get("weapons", ())), rule.get("approximation"),
                rule.get("unavailable")))
        if not sources:
            raise BadRequest(f"{where}: measure {mid!r} names no source; add e.g. "
                             f"[measures.{mid}.force_extract] with offence_codes = [...]")
        out[mid] = Measure(mid, str(body.get("label", mid)), " ".join(
            str(body.get("description", "")).split()), table, tuple(sources),
            bool(body.get("outcomes", False)), bool(body.get("plural", False)))
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadRequest(f"no measures file {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadRequest(f"{path}: not valid TOML ({exc})") from None


def load_measures(home: Path | None = None, extra: Path | str | None = None,
                  positive_outcome_types: list[int] | None = None) -> Measures:
    """The shipped measures, then ``<home>/measures.toml``, then ``extra`` (each may add
    measures, replace one whole, or change settings).

    Parameters
    ----------
    home
        A lake home whose own ``measures.toml`` applies when present.
    extra
        Another measures file (``vru kpi --measures FILE``).
    positive_outcome_types
        Overrides the setting of the same name.
    """
    files = [asset(HOME_FILE)]
    if home is not None and (home / HOME_FILE).is_file():
        files.append(home / HOME_FILE)
    if extra is not None:
        files.append(Path(extra))
    settings: dict[str, Any] = {}
    measures: dict[str, Measure] = {}
    for path in files:
        data = _read(path)
        settings.update(data.get("settings") or {})
        measures.update(_parse(data, str(path), settings))
    types = positive_outcome_types or settings.get("positive_outcome_types") or []
    try:
        types = tuple(sorted({int(t) for t in types}))
        alpha = float(settings.get("significance", 0.05))
    except (TypeError, ValueError):
        raise BadRequest("positive_outcome_types are Home Office outcome numbers (1-22) and "
                         "significance a number such as 0.05") from None
    if not 0 < alpha < 1:
        raise BadRequest(f"significance {alpha} must lie between 0 and 1 (e.g. 0.05)")
    return Measures(measures, types, alpha, tuple(str(f) for f in files))
