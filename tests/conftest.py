"""Shared fixtures: real shipped data.police.uk months and fresh lake homes."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from vru.data import police_uk_months


@pytest.fixture(scope="session")
def street_month_text() -> str:
    """The real Thames Valley street file of 2018-11, as text (with its BOM)."""
    path = next(p for p in police_uk_months() if "2018-11" in p.name)
    return gzip.decompress(path.read_bytes()).decode("utf-8")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"
