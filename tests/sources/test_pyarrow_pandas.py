"""pyarrow kept from importing pandas where nothing needs it, and pandas still there for
what does. Each case runs in a fresh interpreter: this one has pandas loaded already."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _run(code: str, *args: str) -> str:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": SRC}).stdout.strip()


def test_pyarrow_imports_pandas_unless_the_probe_is_skipped():
    # the cost this module exists for: without it, any pa.array loads pandas
    code = ("import sys, pyarrow as pa; pa.array([1]); print('pandas' in sys.modules)")
    assert _run(code) == "True"
    code = ("import sys, numpy as np, pyarrow as pa; "
            "from vru.sources.pyarrow_pandas import skip_pandas_probe; "
            "print(skip_pandas_probe()); pa.array([1]); pa.array(np.arange(3)); "
            "pa.table({'a': [1]}).to_pylist(); print('pandas' in sys.modules)")
    assert _run(code).split() == ["True", "False"]


def test_pandas_still_works_where_pyarrow_needs_it():
    code = ("import pyarrow as pa; from vru.sources.pyarrow_pandas import skip_pandas_probe; "
            "skip_pandas_probe(); df = pa.table({'a': [1.0, None]}).to_pandas(); "
            "import pandas as pd; "
            "print(type(df).__name__, pa.array(pd.Series([1.0, None])).null_count, "
            "pa.types.is_dictionary(pa.array(pd.Categorical(['x'])).type))")
    assert _run(code) == "DataFrame 1 True"


def test_nothing_is_changed_when_pandas_is_loaded():
    code = ("import pandas as pd, pyarrow as pa; "
            "from vru.sources.pyarrow_pandas import skip_pandas_probe; "
            "print(skip_pandas_probe(), pa.array(pd.Series([1.0, None])).null_count)")
    assert _run(code) == "False 1"


def test_vru_ingest_of_street_files_loads_no_pandas(tmp_path):
    # the CLI's ingest builds no pandas object, so pandas (0.4-0.6 s of CPU) is not loaded
    code = ("import sys, runpy; sys.argv = ['vru', '--home', sys.argv[1], 'ingest', "
            "'police-uk', sys.argv[2], '--json']\n"
            "try:\n    runpy.run_module('vru.cli', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print(json.dumps(['pandas' in sys.modules, 'geopandas' in sys.modules]))")
    months = Path(SRC) / "vru" / "data" / "police-uk"
    out = _run("import json\n" + code, str(tmp_path / "home"), str(months)).splitlines()
    summary = json.loads(out[-2])
    assert summary["rows_in"] == summary["accepted"] > 10_000
    assert json.loads(out[-1]) == [False, False]
