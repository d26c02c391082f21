"""Start reading an ingest's files ahead, before the service has loaded.

Cheap to import (no lake, governance or analysis module): a face calls `start` as soon as it
knows the kind and the paths, then signs in and calls `vru.service.ingest.ingest` with what
it returned; the files are hashed and parsed meanwhile (`vru.sources.readahead`). A kind
without a parser here is simply not read ahead.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vru.sources.csvfile import FileFacts
from vru.sources.pyarrow_pandas import skip_pandas_probe
from vru.sources.readahead import Readahead

#: ingest kind → "module:function" that parses one of its files as the ingest would
PARSERS = {"police-uk": "vru.sources.police_uk_layout:read_ahead"}


#: a reader the `vru` script started before the CLI loaded (`start_early`), for `start`
_early: tuple[str, list[Path], Readahead] | None = None


def start_early(kind: str, paths: Sequence[str | Path]) -> None:
    """Start reading ``paths`` now, for the `start` that the ingest of ``kind`` will call.

    The `vru` script calls this from what it can tell of its arguments before the CLI has
    loaded: the reader works on the second core while the CLI, the service and the
    sign-in load on the first. If the CLI then asks for something else, the reader is
    dropped unused.
    """
    global _early
    ahead = start(kind, paths)
    if ahead is not None:
        _early = (kind, [Path(p) for p in paths], ahead)


def start(kind: str, paths: Sequence[str | Path]) -> Readahead | None:
    """A `Readahead` of ``paths`` for an ingest of ``kind``; None for other kinds.

    Only a face's process calls this, for a command that makes no pandas object: so pyarrow
    is kept from importing pandas (`vru.sources.pyarrow_pandas`) before the reader starts.
    A reader `start_early` made for the same kind and paths is handed over, once.
    """
    global _early
    if _early is not None:
        early_kind, early_paths, ahead = _early
        _early = None
        if early_kind == kind and early_paths == [Path(p) for p in paths]:
            return ahead
        ahead.close()  # guessed wrong: nothing it read is used
    target = PARSERS.get(kind)
    if target is None:
        return None
    module, name = target.split(":")
    skip_pandas_probe()

    def parse(path: Path, facts: FileFacts) -> Any:
        # imported by the reading thread: the parser's modules load while the rest does
        return getattr(importlib.import_module(module), name)(path, facts)

    return Readahead(paths, parse)
