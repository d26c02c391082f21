"""Task-force areas: defined from files, validated, one per task-force member."""

from __future__ import annotations

from pathlib import Path

import pytest

from vru.governance.areas import get_area, list_areas, load_areas_file, read_areas_file, remove_area
from vru.governance.db import Database
from vru.governance.errors import AreaError
from vru.governance.identity import add_user


def test_load_csv_and_toml(db: Database, tmp_path: Path) -> None:
    csv_file = tmp_path / "areas.csv"
    csv_file.write_text("\ufeffArea,LSOA11CD\nReading,E01016374\nReading, e01016375 \n"
                        "Slough,E01016500\n", encoding="utf-8")
    toml_file = tmp_path / "areas.toml"
    toml_file.write_text('[[area]]\nname = "Oxford"\ndescription = "City"\n'
                         'lsoa11cd = ["E01028522", "E01028523"]\n', encoding="utf-8")
    load_areas_file(db, csv_file)
    load_areas_file(db, toml_file)
    assert [a.name for a in list_areas(db)] == ["Oxford", "Reading", "Slough"]
    reading = get_area(db, "Reading")
    assert reading is not None and reading.lsoa11cd == {"E01016374", "E01016375"}
    # Loading again replaces an area's LSOAs rather than adding to them.
    csv_file.write_text("area,lsoa11cd\nReading,E01016376\n", encoding="utf-8")
    load_areas_file(db, csv_file)
    assert get_area(db, "Reading").lsoa11cd == {"E01016376"}  # type: ignore[union-attr]
    assert get_area(db, "Atlantis") is None


@pytest.mark.parametrize(("content", "message"), [
    ("area,code\nReading,E01016374\n", "line 1: expected columns 'area' and 'lsoa11cd'"),
    ("area,lsoa11cd\nReading,E01016374\nReading,RG1 1AA\n", "line 3: area 'Reading': 'RG1 1AA'"),
    ("area,lsoa11cd\n,E01016374\n", "line 2: an area needs a name"),
    ("area,lsoa11cd\n", "no areas"),
])
def test_bad_csv_names_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "areas.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AreaError, match=message):
        read_areas_file(path)


def test_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "areas.toml"
    path.write_text('[[area]]\nname = "X"\nlsoa11cd = "E01016374"\n', encoding="utf-8")
    with pytest.raises(AreaError, match=r"\[\[area\]\] #1: field 'lsoa11cd'"):
        read_areas_file(path)


def test_area_in_use_cannot_be_removed(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "areas.csv"
    path.write_text("area,lsoa11cd\nReading,E01016374\n", encoding="utf-8")
    load_areas_file(db, path)
    add_user(db, "tia", "task_force_member", area="Reading")
    with pytest.raises(AreaError, match="tia"):
        remove_area(db, "Reading")
