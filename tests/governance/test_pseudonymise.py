"""Pseudonyms: deterministic, keyed, normalised, vectorised over Arrow."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vru.governance.pseudonymise import (
    KINDS,
    kind_key,
    load_pseudonym_key,
    normalise,
    pseudonymise_array,
    pseudonymise_table,
    token,
)
from vru.sources import contract

KEY = b"pseudonym-key-for-tests-0123456789abcdef"
OTHER = b"another-pseudonym-key-0123456789abcdef00"


def test_token_is_hmac_sha256_of_the_normal_form_under_the_kind_key() -> None:
    sub = hmac.new(KEY, b"vru pseudonym kind:identifier", hashlib.sha256).digest()
    expected = hmac.new(sub, b"jane smith", hashlib.sha256).hexdigest()
    assert kind_key(KEY, "identifier") == sub
    assert token("  Jane   SMITH ", KEY) == expected
    assert token("Jane Smith", KEY, "text") == expected  # the old name of the kind
    assert token("Jane Smith", KEY) != hmac.new(KEY, b"jane smith", hashlib.sha256).hexdigest()
    assert token("Jane Smith", KEY) != token("Jane Smith", OTHER)
    assert token("", KEY) is None and token(None, KEY) is None and token("   ", KEY) is None


@pytest.mark.parametrize(("value", "kind", "normal"), [
    ("ＪＡＮＥ\u00a0Smith", "identifier", "jane smith"),
    ("  O'Brien  ", "surname", "o'brien"),  # fullwidth letters, no-break space (NFKC)
    ("STRASSE", "text", "strasse"),
    ("Straße", "text", "strasse"),  # casefold, not lower
    ("rg1  1aa", "postcode", "RG11AA"),
    (" RG1 1AA ", "postcode", "RG11AA"),
    ("12/03/2001", "date", "2001-03-12"),
    ("2001-03-12", "date", "2001-03-12"),
    ("20010312", "date", "2001-03-12"),
    ("2001-03-12T10:00:00", "date", "2001-03-12"),
    (date(2001, 3, 12), "date", "2001-03-12"),
    (datetime(2001, 3, 12, 23, 59), "date", "2001-03-12"),
    ("sometime in March", "date", "sometime in march"),
])
def test_normalise(value: object, kind: str, normal: str) -> None:
    assert normalise(value, kind) == normal


@given(st.text(max_size=30))
def test_normalisation_is_idempotent_and_spacing_blind(text: str) -> None:
    once = normalise(text)
    assert once is None or normalise(once) == once
    assert token(f"  {text.upper()}  ", KEY) == token(text.upper(), KEY)


def test_table_columns_and_kinds() -> None:
    table = pa.table({
        "pupil_id": ["A1", "a1 ", None, "B2"],
        "postcode": ["RG1 1AA", "rg11aa", "", "OX1 2JD"],
        "dob": pa.array([date(2010, 1, 2), date(2010, 1, 2), None, date(2011, 5, 6)]),
        "seen": pa.array([datetime(2010, 1, 2, 5), None, None, None], pa.timestamp("us")),
        "n": [1, 2, 3, 4],
    })
    out = pseudonymise_table(table, {"pupil_id": "identifier", "postcode": "postcode",
                                     "dob": "date", "seen": "date"}, KEY)
    assert out.column_names == table.column_names
    assert out["n"].to_pylist() == [1, 2, 3, 4]
    ids = out["pupil_id"].to_pylist()
    assert ids[0] == ids[1] == token("A1", KEY) and ids[2] is None and ids[3] != ids[0]
    codes = out["postcode"].to_pylist()
    assert codes[0] == codes[1] == token("RG11AA", KEY, "postcode") and codes[2] is None
    assert codes[0] != token("RG11AA", KEY)  # a postcode is not hashed as an identifier
    assert out["dob"].to_pylist()[0] == token("2010-01-02", KEY, "date")
    assert out["seen"].to_pylist()[0] == out["dob"].to_pylist()[0]
    assert "A1" not in str(out.to_pydict())
    with pytest.raises(KeyError, match="nhs_number"):
        pseudonymise_table(table, {"nhs_number": "identifier"}, KEY)


def test_explicit_kind_and_large_column() -> None:
    values = pa.chunked_array([[f"ID {i % 5000}" for i in range(60_000)],
                               [f"id  {i % 5000}" for i in range(60_000)]])
    out = pseudonymise_array(values, KEY)
    assert len(out) == 120_000 and out.null_count == 0
    assert out[0].as_py() == out[60_000].as_py() == token("id 0", KEY)
    assert len(set(out.to_pylist())) == 5000
    table = pa.table({"when": ["12/03/2001"]})
    out_table = pseudonymise_table(table, {"when": "date"}, KEY)
    assert out_table["when"][0].as_py() == token("2001-03-12", KEY, "date")


def test_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VRU_PSEUDONYM_KEY", raising=False)
    key = load_pseudonym_key(tmp_path)
    assert load_pseudonym_key(tmp_path) == key and len(key) >= 32
    assert (tmp_path / "keys" / "pseudonym.key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("VRU_PSEUDONYM_KEY", "p" * 40)
    assert load_pseudonym_key(tmp_path) == b"p" * 40


def test_each_kind_has_its_own_key() -> None:
    # The first name "James" and the surname "James": unrelated tokens, so a pseudonymised
    # table does not tell whose first name is whose surname.
    tokens = {kind: token("James", KEY, kind) for kind in KINDS}
    assert len(set(tokens.values())) == len(KINDS)
    assert len({kind_key(KEY, kind) for kind in KINDS}) == len(KINDS)
    table = pa.table({"first_name": ["James", "Ann"], "surname": ["Smith", "James"]})
    out = pseudonymise_table(table, {"first_name": "first_name", "surname": "surname"}, KEY)
    assert out["first_name"][0].as_py() != out["surname"][1].as_py()
    with pytest.raises(ValueError, match="unknown identifier kind 'shoe_size'"):
        token("9", KEY, "shoe_size")


def test_same_value_and_kind_give_the_same_token_in_every_table() -> None:
    schools = pa.table({"pupil_surname": ["SMITH ", "Jones"]})
    youth = pa.table({"surname": ["Patel", " smith"]})
    a = pseudonymise_table(schools, {"pupil_surname": "surname"}, KEY)
    kind = contract.infer_identifier_kind("surname", "string")  # inferred from the name
    b = pseudonymise_table(youth, {"surname": kind}, KEY)
    assert a["pupil_surname"][0].as_py() == b["surname"][1].as_py() == token(
        "Smith", KEY, "surname")
    assert token("Smith", KEY, "surname") == token("smith", KEY, "surname")  # stable
    assert token("Smith", OTHER, "surname") != token("Smith", KEY, "surname")


@pytest.mark.parametrize(("name", "type_", "kind"), [
    ("pupil_id", pa.string(), "identifier"),
    ("nhs_number", pa.string(), "identifier"),
    ("date_of_birth", pa.date32(), "date"),
    ("seen_at", pa.timestamp("us"), "date"),
    ("home_postcode", pa.string(), "postcode"),
    ("surname", pa.string(), "surname"),
    ("Family_Name", pa.string(), "surname"),
    ("first_name", pa.string(), "first_name"),
    ("forename", pa.string(), "first_name"),
    ("full_name", pa.string(), "name"),
    ("mother_name", pa.string(), "name"),
])
def test_kind_inference_of_contract_columns(name: str, type_: pa.DataType,
                                          kind: str) -> None:
    contract_type = {pa.date32(): "date", pa.timestamp("us"): "datetime"}.get(type_, "string")
    assert contract.infer_identifier_kind(name, contract_type) == kind
    assert contract.IDENTIFIER_KINDS == KINDS
