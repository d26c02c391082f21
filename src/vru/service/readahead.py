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


def start(kind: str, paths: Sequence[str | Path]) -> Readahead | None:
    """A `Readahead` of ``paths`` for an ingest of ``kind``; None for other kinds.

    Only a face's process calls this, for a command that makes no pandas object: so pyarrow
    is kept from importing pandas (`vru.sources.pyarrow_pandas`) before the reader starts.
    """
    target = PARSERS.get(kind)
    if target is None:
        return None
    module, name = target.split(":")
    skip_pandas_probe()

    def parse(path: Path, facts: FileFacts) -> Any:
        # imported by the reading thread: the parser's modules load while the rest does
        return getattr(importlib.import_module(module), name)(path, facts)

    return Readahead(paths, parse)
