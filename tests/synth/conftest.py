"""A small synthetic world shared by the vru.synth tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from vru.synth import Manifest, generate

SCALE = 0.1
SEED = 7


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    """2015-2021 at a tenth of the real volume (about 100,000 crimes)."""
    return generate(tmp_path_factory.mktemp("world"), seed=SEED, scale=SCALE)


def read_all_strings(path: Path) -> pa.Table:
    """A generated CSV with every column read as text, as a partner's file would be."""
    header = path.open(encoding="utf-8").readline().strip().split(",")
    names = [h.strip('"') for h in header]
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=True))


@pytest.fixture(scope="session")
def crimes(world: Manifest) -> pa.Table:
    """All force-extract rows of the shared world, as text."""
    return pa.concat_tables([read_all_strings(p) for p in world.files("force_extract")])
