"""Reading inputs ahead: the facts and rows of files, made while the process starts up.

A command that ingests files spends its first second loading the lake, the governance
database and the checks, on one core. `Readahead` uses another: from the moment a face knows
the paths, one thread hashes the plain files named (or found in folders named), in the
order the ingest takes them, and parses those its ``parse`` function takes, holding at most
``budget`` bytes of parsed input that the ingest has not claimed yet. The ingest claims each
file's facts and rows when it reaches it; a file it reaches first is left to it, and one
changed since it was read (size or modification time) is read again.

Nothing is written and nothing of the lake is read, so reading ahead needs no
authorisation: the files are the user's own, and if the ingest is refused what was read is
dropped.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vru.sources.base import SourceError
from vru.sources.csvfile import FileFacts, inspect_bytes

BUDGET = 256 << 20  # bytes of input held parsed and unclaimed (~1.2M street rows)

#: ``parse(path, facts)``: the rows of a file it takes, None for a file it does not
Parse = Callable[[Path, FileFacts], Any]

_WAITING, _RUNNING, _DONE, _MINE = range(4)  # a step's state; _MINE: the ingest does it


@dataclass
class _File:
    path: Path
    stamp: tuple[int, int]  # size, modification time when listed
    facts_state: int = _WAITING
    rows_state: int = _WAITING
    facts: FileFacts | SourceError | None = None
    rows: Any = None
    held: int = 0  # bytes counted against the budget until the rows are claimed


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _plain_files(paths: Sequence[str | Path], suffixes: tuple[str, ...]) -> list[Path]:
    """The plain files among ``paths`` and in folders among them, in `expand`'s order
    (zips and .gz are extracted by the ingest itself and are not read ahead)."""
    out: list[Path] = []
    for p in map(Path, paths):
        try:
            if p.is_dir():
                out.extend(sorted(f for f in p.rglob("*") if f.is_file()
                                  and f.name.lower().endswith(suffixes)))
            elif p.is_file() and p.name.lower().endswith(suffixes):
                out.append(p)
        except OSError:
            continue  # the ingest reports it
    return out


class Readahead:
    """Facts and parsed rows of input files, made by a background thread (see module).

    The thread hashes and parses the files in order; what the ingest reaches first (the
    facts or the rows of a file the thread has not got to), the ingest does itself.
    """

    def __init__(self, paths: Sequence[str | Path], parse: Parse | None = None, *,
                 suffixes: tuple[str, ...] = (".csv",), budget: int = BUDGET) -> None:
        self._files: dict[Path, _File] = {}
        self._order: list[_File] = []
        self._parse = parse
        self._budget = budget
        self._held = 0
        self._closed = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.add(_plain_files(paths, suffixes))

    def add(self, paths: Sequence[Path]) -> None:
        """Read these files too, after those listed (a file listed already is kept)."""
        with self._cond:
            if self._closed:
                return
            for p in paths:
                key = Path(p).absolute()
                if key not in self._files:
                    with contextlib.suppress(OSError):
                        self._files[key] = _File(Path(p), _stamp(Path(p)))
                        self._order.append(self._files[key])
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="vru-readahead",
                                                daemon=True)
                self._thread.start()

    # -- the background thread ----------------------------------------------------------
    def _take(self, f: _File, step: str) -> bool:
        """Start ``step`` ("facts" or "rows") of ``f`` unless the ingest took it or we are
        closed; rows wait for room in the budget."""
        with self._cond:
            while (step == "rows" and self._held >= self._budget and not self._closed
                   and f.rows_state == _WAITING):
                self._cond.wait()
            if self._closed or getattr(f, f"{step}_state") != _WAITING:
                return False
            setattr(f, f"{step}_state", _RUNNING)
            return True

    def _work(self) -> None:
        i = 0
        while True:
            with self._cond:
                if i >= len(self._order) or self._closed:
                    self._thread = None  # the next add starts another
                    return
                f = self._order[i]
            i += 1
            if self._take(f, "facts"):
                facts: FileFacts | SourceError | None
                try:
                    facts = inspect_bytes(f.path)
                except SourceError as e:  # the ingest reports it
                    facts = e
                except Exception:  # noqa: BLE001 - anything else: the ingest reads it itself
                    facts = None
                with self._cond:
                    f.facts, f.facts_state = facts, _DONE
                    self._cond.notify_all()
            if (self._parse is None or f.facts_state != _DONE
                    or not isinstance(f.facts, FileFacts) or not self._take(f, "rows")):
                continue  # the ingest has this file's facts, or it cannot be parsed
            try:
                rows = self._parse(f.path, f.facts)
            except SourceError as e:  # read_files reports it for the file
                rows = e
            except Exception:  # noqa: BLE001 - anything else: the ingest reads it itself
                rows = None
            with self._cond:
                # closed meanwhile (a refused ingest): what was parsed is dropped, not kept
                f.rows, f.rows_state = (None if self._closed else rows), _DONE
                if rows is not None and not self._closed:
                    f.held = f.stamp[0]
                    self._held += f.held
                self._cond.notify_all()

    # -- the ingest's side ----------------------------------------------------------------
    def _claim(self, path: Path, step: str) -> _File | None:
        """The file once ``step`` of it is done here; None when the ingest must do it
        itself (never listed, not reached yet, or changed since)."""
        f = self._files.get(Path(path).absolute())
        if f is None:
            return None
        state = f"{step}_state"
        with self._cond:
            if getattr(f, state) == _WAITING:
                setattr(f, state, _MINE)  # not reached yet: quicker done than waited for
                self._cond.notify_all()
                return None
            while getattr(f, state) == _RUNNING:
                self._cond.wait()
            if getattr(f, state) != _DONE:
                return None
        try:
            if _stamp(f.path) != f.stamp:
                return None
        except OSError:
            return None
        return f

    def facts(self, path: Path) -> FileFacts | None:
        """The file's byte facts, if read ahead (raises what reading it raised)."""
        f = self._claim(path, "facts")
        if f is None or f.facts is None:
            return None
        if isinstance(f.facts, SourceError):
            raise f.facts
        return f.facts

    def rows(self, path: Path) -> Any:
        """The file's parsed rows (or the `SourceError` parsing raised), once; None if it
        was not read ahead. Claiming frees their place in the budget."""
        f = self._claim(path, "rows")
        if f is None:
            return None
        with self._cond:
            rows, f.rows = f.rows, None
            f.rows_state = _MINE  # claimed once
            self._held -= f.held
            f.held = 0
            self._cond.notify_all()
        return rows

    def close(self) -> None:
        """Stop reading ahead and drop what was not claimed."""
        with self._cond:
            self._closed = True
            for f in self._files.values():
                f.rows = None
                f.held = 0
            self._held = 0
            self._cond.notify_all()

    def __enter__(self) -> Readahead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
