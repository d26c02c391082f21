"""The registry of ingest kinds: each authorised per table written, then audited with its batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vru.governance import audit
from vru.governance.errors import GovernanceError
from vru.lake import loaders
from vru.service import readahead
from vru.service.errors import BadRequest, Denied
from vru.service.session import Session
from vru.sources.base import SourceError
from vru.sources.contract import ContractError, load_contract
from vru.sources.readahead import Readahead

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class IngestKind:
    """A kind of input: its loader and the lake tables it writes."""

    name: str
    loader: Callable[..., Any]
    tables: tuple[str, ...]
    summary: str


KINDS: dict[str, IngestKind] = {k.name: k for k in (
    IngestKind("police-uk", loaders.ingest_police_uk, ("incidents", "outcomes", "stop_search"),
               "data.police.uk street, outcomes and stop-and-search files"),
    IngestKind("force-extract", loaders.ingest_force_extract, ("incidents",),
               "a police force's crime extract"),
    IngestKind("istv", loaders.ingest_istv, ("ed_assaults",),
               "emergency-department assaults, NHS ISTV (ISB 1594)"),
    IngestKind("partner", loaders.ingest_partner, (), "a partner dataset under its contract"),
)}


def ingest(session: Session, kind: str, paths: Sequence[Path], *,
           progress: Progress | None = None, contract: Path | None = None,
           purpose: str | None = None, command: str | None = None,
           force: str | None = None, ahead: Readahead | None = None) -> dict[str, Any]:
    """Load files of ``kind`` into the lake as the session's user; return the batch summary.

    Every table the kind writes is authorised first (an agreement in force for governed
    data); the batch's outcome is audited with the table versions it wrote. ``ahead`` (from
    `vru.service.readahead.start` with the same kind and paths) holds files already being
    read; it is closed here, whatever happens.
    """
    try:
        return _ingest(session, kind, paths, progress=progress, contract=contract,
                       purpose=purpose, command=command, force=force, ahead=ahead)
    finally:
        if ahead is not None:
            ahead.close()


def _ingest(session: Session, kind: str, paths: Sequence[Path], *,
            progress: Progress | None, contract: Path | None, purpose: str | None,
            command: str | None, force: str | None, ahead: Readahead | None
            ) -> dict[str, Any]:
    spec = KINDS.get(kind)
    if spec is None:
        raise BadRequest(f"no ingest kind {kind!r}; kinds: {', '.join(KINDS)}")
    tables = spec.tables
    extra: dict[str, Any] = {}
    if kind == "partner":
        if contract is None:
            raise BadRequest("a partner dataset needs its contract (--contract FILE.toml)")
        try:
            tables = (load_contract(contract).table_name,)
        except (ContractError, OSError) as exc:
            raise BadRequest(str(exc)) from None
        extra["contract_path"] = contract
    if force:
        if kind != "police-uk":
            raise BadRequest("--force names the force of data.police.uk files only")
        extra["force"] = force
    if ahead is not None and kind in readahead.PARSERS:  # its loader takes files read ahead
        extra["ahead"] = ahead
    for t in tables:
        session.decide("write", t, purpose=purpose,
                       detail={"via": f"ingest {kind}", "files": [str(p) for p in paths]})
    try:
        result = spec.loader(session.home, list(paths), progress=progress, actor=session.name,
                             command=command or f"ingest {kind}", **extra)
    except GovernanceError as exc:
        raise Denied(str(exc)) from None
    except (ContractError, SourceError, OSError) as exc:
        raise BadRequest(str(exc)) from None
    summary = result.summary()
    audit.record(session._db, actor=session.name, action="write", resource=",".join(tables),
                 purpose=purpose or session.purpose, decision="allow",
                 reason=f"ingest batch {summary['batch_id']}",
                 table_versions=summary["tables"],
                 detail={k: summary[k] for k in ("rows_in", "accepted", "quarantined",
                                                 "duplicates")})
    return summary
