"""Tests of partner data contracts (TOML) and their validation."""

from __future__ import annotations

import pyarrow as pa
import pytest
from tests.sources.helpers_readers import GOOD_CONTRACT, good_contract

from vru.sources.contract import Contract, ContractError, contract_from_dict, load_contract


def test_load_good(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(GOOD_CONTRACT)
    c = load_contract(path)
    assert isinstance(c, Contract)
    assert (c.name, c.owner, c.retention_days, c.date_column) == (
        "school_exclusions", "Reading Borough Council", 2190, "exclusion_date")
    assert c.table_name == "partner_school_exclusions"
    assert c.identifier_columns == ["pupil_id"]
    assert c.identifier_kinds == {"pupil_id": "identifier"}
    assert c.required_columns == ["pupil_id", "exclusion_type", "exclusion_date"]
    assert c.column("exclusion_type").allowed == ("fixed-term", "permanent")
    assert c.arrow_schema() == pa.schema([
        ("pupil_id", pa.string()), ("exclusion_type", pa.string()),
        ("exclusion_date", pa.date32()), ("days", pa.int64()), ("score", pa.float64()),
        ("sen", pa.bool_()), ("recorded_at", pa.timestamp("us")),
        ("source_file", pa.string()), ("source_line", pa.int64())])


def _break(edit):
    d = good_contract()
    edit(d)
    return d


@pytest.mark.parametrize("edit, words", [
    (lambda d: d.pop("name"), "missing 'name'"),
    (lambda d: d.update(name="School Exclusions"), "lower-case"),
    (lambda d: d.pop("owner"), "missing 'owner'"),
    (lambda d: d.update(retention_days=-1), "retention_days"),
    (lambda d: d.update(retention_days="6 years"), "retention_days"),
    (lambda d: d.pop("date_column"), "needs a date_column"),
    (lambda d: d.update(date_column="days"), "must be a date or datetime"),
    (lambda d: d.update(date_column="nope"), "not a declared column"),
    (lambda d: d.update(colums=[]), "unknown key"),
    (lambda d: d.update(columns=[]), "no columns"),
    (lambda d: d["columns"][0].pop("name"), "column 1 has no 'name'"),
    (lambda d: d["columns"][1].update(type="text"), "unknown type 'text'"),
    (lambda d: d["columns"][3].update(allowed=["1", "2"]), "'allowed' lists values of string"),
    (lambda d: d["columns"][1].update(allowed=[]), "non-empty list"),
    (lambda d: d["columns"][1].update(allowed=[1, 2]), "non-empty list"),
    (lambda d: d["columns"][0].update(requried=True), "unknown key(s) ['requried']"),
    (lambda d: d["columns"][0].update(required="yes"), "required must be true or false"),
    (lambda d: d["columns"].append({"name": "Pupil_ID", "type": "string"}), "declared twice"),
    (lambda d: d["columns"].append({"name": "source_line", "type": "integer"}), "reserved"),
    (lambda d: d["columns"].append("pupil"), "must be a [[columns]] table"),
])
def test_invalid_contracts(edit, words):
    with pytest.raises(ContractError) as e:
        contract_from_dict(_break(edit), "c.toml")
    assert words in str(e.value) and str(e.value).startswith("c.toml: ")


def test_not_toml_and_missing(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("name = \n[[columns]")
    with pytest.raises(ContractError, match="not valid TOML"):
        load_contract(path)
    with pytest.raises(ContractError, match="not found"):
        load_contract(tmp_path / "none.toml")
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ContractError, match="UTF-8"):
        load_contract(path)


def test_identifier_kinds_declared_or_inferred():
    d = good_contract()
    d["columns"] += [
        {"name": "forename", "type": "string", "identifier": True},
        {"name": "surname", "type": "string", "identifier": "surname"},
        {"name": "carer_name", "type": "string", "identifier": True},
        {"name": "dob", "type": "date", "identifier": True},
        {"name": "home_postcode", "type": "string", "identifier": True},
        {"name": "birth_day", "type": "string", "identifier": "date"},  # a date kept as text
        {"name": "case_ref", "type": "string", "identifier": "text"},  # the kind's old name
        {"name": "school", "type": "string", "identifier": False},
    ]
    c = contract_from_dict(d, "c.toml")
    assert c.identifier_kinds == {
        "pupil_id": "identifier", "forename": "first_name", "surname": "surname",
        "carer_name": "name", "dob": "date", "home_postcode": "postcode", "birth_day": "date",
        "case_ref": "identifier"}
    assert c.identifier_columns == list(c.identifier_kinds)
    assert c.column("school").identifier is False


@pytest.mark.parametrize("kind", ["shoe_size", "", 1, ["name"]])
def test_an_unknown_identifier_kind_is_refused_naming_file_and_column(tmp_path, kind):
    d = good_contract()
    d["columns"].append({"name": "mother_maiden", "type": "string", "identifier": kind})
    with pytest.raises(ContractError) as e:
        contract_from_dict(d, tmp_path / "exclusions.toml")
    message = str(e.value)
    assert message.startswith(f"{tmp_path / 'exclusions.toml'}: column 'mother_maiden': ")
    assert f"unknown identifier kind {kind!r}" in message and "'postcode'" in message
    path = tmp_path / "bad.toml"
    path.write_text(GOOD_CONTRACT.replace("identifier = true", 'identifier = "nmae"'))
    with pytest.raises(ContractError, match=r"bad\.toml: column 'pupil_id': unknown identifier "
                       r"kind 'nmae'"):
        load_contract(path)
