"""Partner data contracts: a TOML file declaring a dataset's columns, types, owner and retention."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from vru.sources.csvfile import normalise_header

TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
    "boolean": pa.bool_(),
}
RESERVED = ("source_file", "source_line")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_TOP_KEYS = {"name", "owner", "description", "retention_days", "date_column", "columns"}
_COLUMN_KEYS = {"name", "type", "required", "identifier", "allowed", "description"}
#: Kinds of identifier a column may declare (``identifier = "surname"``); each kind is
#: pseudonymised under its own key (`vru.governance.pseudonymise.KINDS`, kept equal by a test).
IDENTIFIER_KINDS = ("identifier", "name", "first_name", "surname", "date", "postcode")
_KIND_ALIASES = {"text": "identifier"}  # the kind's name before kinds had their own keys
_SURNAME_WORDS = ("surname", "last_name", "lastname", "family_name", "familyname")
_FIRST_NAME_WORDS = ("first_name", "firstname", "forename", "given_name", "givenname",
                     "christian_name")


class ContractError(ValueError):
    """A contract file is not valid; the message names the file and the key to fix."""

    def __init__(self, file: str | Path, message: str) -> None:
        self.file = str(file)
        self.message = message
        super().__init__(f"{self.file}: {message}")


@dataclass(frozen=True)
class ColumnSpec:
    """One declared column of a partner dataset."""

    name: str
    type: str  # one of TYPES
    required: bool = False
    identifier: bool = False  # personal identifier: pseudonymised by the lake at ingest
    allowed: tuple[str, ...] | None = None  # string columns only
    description: str = ""
    identifier_kind: str | None = None  # one of IDENTIFIER_KINDS when ``identifier``

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type of the column's values."""
        return TYPES[self.type]


@dataclass(frozen=True)
class Contract:
    """What a partner promises to send: see docs/formats.md, "Generic partner datasets"."""

    name: str
    owner: str
    columns: tuple[ColumnSpec, ...]
    description: str = ""
    retention_days: int | None = None
    date_column: str | None = None
    path: str = ""

    @property
    def table_name(self) -> str:
        """The lake table the dataset goes to: ``partner_<name>``."""
        return f"partner_{self.name}"

    @property
    def identifier_columns(self) -> list[str]:
        """Columns holding personal identifiers (the lake pseudonymises them before writing)."""
        return [c.name for c in self.columns if c.identifier]

    @property
    def identifier_kinds(self) -> dict[str, str]:
        """Identifier column -> its kind (`IDENTIFIER_KINDS`), in declaration order."""
        return {c.name: c.identifier_kind or infer_identifier_kind(c.name, c.type)
                for c in self.columns if c.identifier}

    @property
    def required_columns(self) -> list[str]:
        """Columns whose value every row must give."""
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> ColumnSpec:
        """The declared column ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def arrow_schema(self) -> pa.Schema:
        """Arrow schema of what `vru.sources.partner.read_partner` returns."""
        return pa.schema([(c.name, c.arrow_type) for c in self.columns]
                         + [("source_file", pa.string()), ("source_line", pa.int64())])


def load_contract(path: str | Path) -> Contract:
    """Read and validate a contract TOML file.

    Raises
    ------
    ContractError
        The file is missing, not TOML, or breaks a rule (unknown type or key, ``allowed`` on a
        non-string column, missing name, duplicate column, bad ``date_column``...).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(path, "contract file not found") from None
    except UnicodeDecodeError:
        raise ContractError(path, "not a UTF-8 text file; a contract is TOML text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ContractError(path, f"not valid TOML: {e}") from None
    return contract_from_dict(data, path)


def contract_from_dict(data: dict[str, Any], path: str | Path = "<contract>") -> Contract:
    """Validate a contract given as a dict (the parsed TOML); see `load_contract`."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ContractError(path, f"unknown key(s) {unknown}; a contract has "
                            f"{sorted(_TOP_KEYS)}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ContractError(path, "missing 'name' (the dataset name, e.g. "
                            "name = \"school_exclusions\")")
    if not _NAME.match(name):
        raise ContractError(path, f"name {name!r} must be lower-case letters, digits and "
                            "underscores, starting with a letter (it names a lake table)")
    owner = data.get("owner")
    if not isinstance(owner, str) or not owner.strip():
        raise ContractError(path, "missing 'owner' (the organisation that shares the data)")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ContractError(path, "'description' must be text")
    retention = data.get("retention_days")
    if retention is not None and (isinstance(retention, bool) or not isinstance(retention, int)
                                  or retention <= 0):
        raise ContractError(path, f"retention_days must be a positive whole number of days, "
                            f"not {retention!r}")
    raw_cols = data.get("columns")
    if not isinstance(raw_cols, list) or not raw_cols:
        raise ContractError(path, "no columns: declare each with a [[columns]] table "
                            "(name, type, and optionally required, identifier, allowed)")
    columns = tuple(_column(c, i, path) for i, c in enumerate(raw_cols, start=1))
    seen: dict[str, str] = {}
    for c in columns:
        key = normalise_header(c.name)
        if key in seen:
            raise ContractError(path, f"column {c.name!r} is declared twice"
                                + ("" if seen[key] == c.name else f" (as {seen[key]!r})"))
        seen[key] = c.name
    date_column = data.get("date_column")
    if date_column is not None:
        if not isinstance(date_column, str):
            raise ContractError(path, "'date_column' must be a column name")
        match = [c for c in columns if c.name == date_column]
        if not match:
            raise ContractError(path, f"date_column {date_column!r} is not a declared column")
        if match[0].type not in ("date", "datetime"):
            raise ContractError(path, f"date_column {date_column!r} has type "
                                f"{match[0].type!r}; it must be a date or datetime column")
    if retention is not None and date_column is None:
        raise ContractError(path, "retention_days needs a date_column: the date that says how "
                            "old a row is")
    return Contract(name=name, owner=owner.strip(), columns=columns,
                    description=description.strip(), retention_days=retention,
                    date_column=date_column, path=str(path))


def _column(c: Any, i: int, path: str | Path) -> ColumnSpec:
    where = f"column {i}"
    if not isinstance(c, dict):
        raise ContractError(path, f"{where} must be a [[columns]] table")
    name = c.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ContractError(path, f"{where} has no 'name'")
    name = name.strip()
    where = f"column {name!r}"
    unknown = sorted(set(c) - _COLUMN_KEYS)
    if unknown:
        raise ContractError(path, f"{where}: unknown key(s) {unknown}; a column has "
                            f"{sorted(_COLUMN_KEYS)}")
    if name in RESERVED:
        raise ContractError(path, f"{where}: the name is reserved for vru's own columns")
    typ = c.get("type")
    if typ not in TYPES:
        raise ContractError(path, f"{where}: unknown type {typ!r}; use one of "
                            f"{', '.join(TYPES)}")
    if "required" in c and not isinstance(c["required"], bool):
        raise ContractError(path, f"{where}: required must be true or false")
    identifier, kind = _identifier(c.get("identifier", False), name, typ, where, path)
    allowed = c.get("allowed")
    if allowed is not None:
        if typ != "string":
            raise ContractError(path, f"{where}: 'allowed' lists values of string columns; "
                                f"this column is {typ!r}")
        if (not isinstance(allowed, list) or not allowed
                or not all(isinstance(a, str) and a.strip() for a in allowed)):
            raise ContractError(path, f"{where}: 'allowed' must be a non-empty list of text "
                                "values")
        allowed = tuple(a.strip() for a in allowed)
    description = c.get("description", "")
    if not isinstance(description, str):
        raise ContractError(path, f"{where}: 'description' must be text")
    return ColumnSpec(name=name, type=typ, required=c.get("required", False),
                      identifier=identifier, allowed=allowed, description=description,
                      identifier_kind=kind)


def infer_identifier_kind(name: str, type_: str) -> str:
    """The kind of a column declared ``identifier = true``.

    A date or datetime column is a date; a name containing "postcode" is a postcode; a
    surname or first-name column (surname, last_name, family_name / first_name, forename,
    given_name) is that kind; any other name containing "name" is a name; anything else is an
    identifier (a person or record id). The only place this rule is written: the loader
    hands `Contract.identifier_kinds` to `vru.governance.pseudonymise.pseudonymise_table`.
    """
    lower = name.lower()
    if type_ in ("date", "datetime"):
        return "date"
    if "postcode" in lower:
        return "postcode"
    if any(w in lower for w in _SURNAME_WORDS):
        return "surname"
    if any(w in lower for w in _FIRST_NAME_WORDS):
        return "first_name"
    if "name" in lower:
        return "name"
    return "identifier"


def _identifier(value: Any, name: str, typ: str, where: str,
                path: str | Path) -> tuple[bool, str | None]:
    """Read a column's ``identifier`` key: false, true (kind inferred) or a kind's name."""
    if value is False:
        return False, None
    if value is True:
        return True, infer_identifier_kind(name, typ)
    if isinstance(value, str):
        kind = _KIND_ALIASES.get(value.strip(), value.strip())
        if kind in IDENTIFIER_KINDS:
            return True, kind
    raise ContractError(path, f"{where}: unknown identifier kind {value!r}; write "
                        f"identifier = true, false or one of "
                        f"{', '.join(repr(k) for k in IDENTIFIER_KINDS)}")
