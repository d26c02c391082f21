"""Real public data shipped with vru (Open Government Licence v3.0; see ATTRIBUTION.md)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def asset(*parts: str) -> Path:
    """Path of a shipped data file.

    Example: ``asset("geography", "lsoa-2011-ew.parquet")``.
    """
    p = Path(str(files("vru.data").joinpath(*parts)))
    if not p.exists():
        raise FileNotFoundError(f"vru data asset missing: {p} (reinstall vru)")
    return p


def police_uk_months() -> list[Path]:
    """The real data.police.uk Thames Valley street files shipped for the demo and tests."""
    return sorted(asset("police-uk").glob("*-street.csv.gz"))
