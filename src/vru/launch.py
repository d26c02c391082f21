"""The `vru` script: start reading an ingest's files, then run the command line.

`vru ingest police-uk FILE…` spends its first half second loading the command line
(typer, rich) on one core while the other waits. Told the files before any of that loads,
a reader (`vru.service.readahead.start_early`) hashes and parses them meanwhile: 0.3-0.5 s
of a million-row ingest. The arguments are only guessed at here; the command line parses
them as ever, and a reader started for other files than it asks for is dropped unused.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence

#: options that take a value, before the command (global) and after it (ingest)
_GLOBAL_VALUES = {"--home", "--user"}
_INGEST_VALUES = {"--force"}


def ingest_files(argv: Sequence[str]) -> tuple[str, list[str]] | None:
    """``(kind, paths)`` when ``argv`` (without the program) reads as
    ``[global options] ingest KIND PATH… [options]``; None otherwise."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in _GLOBAL_VALUES else 1
    if i + 1 >= len(argv) or argv[i] != "ingest":
        return None
    kind, rest = argv[i + 1], argv[i + 2:]
    paths: list[str] = []
    j = 0
    while j < len(rest):
        arg = rest[j]
        if arg in ("--help", "-h", "--"):
            return None
        if arg.startswith("-"):
            j += 2 if arg in _INGEST_VALUES else 1
            continue
        paths.append(arg)
        j += 1
    return (kind, paths) if paths else None


def main() -> None:
    """Entry point of the `vru` script."""
    found = ingest_files(sys.argv[1:])
    if found is not None:
        # an ingest multiplies no matrices: OpenBLAS's threads, started with NumPy, would
        # only spin (0.06 s of CPU); set before NumPy loads, for this process only
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        # its reader, geography and writer threads each take the GIL back between long
        # C++ calls (parse, hash, encode): at the default 5 ms a thread ready to hand work
        # to C++ waits for one running Python, and a core idles. 1 ms: 4-6 % less time
        sys.setswitchinterval(0.001)
        from vru.service.readahead import start_early

        start_early(*found)
    from vru.cli import main as run

    if found is None:
        run()
        return
    try:
        run()  # the CLI ends by raising SystemExit, with its exit code
    except SystemExit as done:
        _leave(done.code)
    _leave(0)


def _leave(code: object) -> None:
    """End an ingest now, without the interpreter's teardown.

    By the time the CLI returns, the batch is committed, its threads joined, its scratch
    removed and its audit entries written; what is left is freeing a run's worth of Arrow,
    DuckDB and Python objects one by one, 0.15-0.3 s of a million-row ingest. Output is
    flushed first; the exit code is the one Python would give.
    """
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)
