"""Keep pyarrow from importing pandas in a process that never makes a pandas object.

pyarrow (26) asks, on the first `pa.array` of anything (a list, a NumPy array), whether
the input is a pandas object, and to answer it imports pandas: 0.4-0.6 s of CPU, a tenth of
a whole `vru ingest` of a million rows, for a question whose answer is "no" whenever
pandas is not imported yet (nothing can be a pandas object before pandas loads).

`skip_pandas_probe` lets pyarrow's first attempt fail while pandas is not loaded, so it
records "no pandas" and stops asking. pyarrow retries the import wherever it really needs
pandas (`Table.to_pandas`, `Table.from_pandas`), so these still work; what changes is that
`pa.array(a pandas Series)` made before any such call treats the Series as a plain
sequence. So only a face whose command builds no pandas object calls this (the CLI's
ingest of street files), never a library function a notebook might call.
"""

from __future__ import annotations

import sys
from importlib.machinery import ModuleSpec

import pyarrow as pa


class _NoPandas:
    """A finder that makes `import pandas` fail (a None in sys.modules would not: Cython's
    import takes whatever sys.modules holds)."""

    def find_spec(self, name: str, path: object = None, target: object = None
                  ) -> ModuleSpec | None:
        if name == "pandas":
            raise ModuleNotFoundError("pandas is not needed here", name=name)
        return None


def skip_pandas_probe() -> bool:
    """Settle pyarrow's pandas probe as "no pandas" if pandas is not loaded; True if so.

    Call it before any thread uses pyarrow: an import of pandas meanwhile would fail.
    """
    if "pandas" in sys.modules:
        return False
    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])  # pyarrow's one probe: it fails and is not made again
    finally:
        sys.meta_path.remove(finder)
    return "pandas" not in sys.modules
