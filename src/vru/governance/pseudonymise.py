"""Keyed pseudonyms: HMAC-SHA256 of a normalised identifier, the key never in the lake."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from vru.governance.keys import load_key

KINDS = ("text", "date", "postcode")
_SPACES = re.compile(r"\s+")
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y%m%d", "%Y/%m/%d",
                 "%d/%m/%y")


def load_pseudonym_key(home: Path) -> bytes:
    """The pseudonymisation key: ``VRU_PSEUDONYM_KEY`` or ``<home>/keys/pseudonym.key``."""
    return load_key(home, "pseudonym")


def normalise(value: object, kind: str = "text") -> str | None:
    """Return the normal form of an identifier, or None when nothing is left of it.

    text: Unicode NFKC, casefold, trimmed, runs of whitespace collapsed to one space.
    date: ISO ``YYYY-MM-DD`` (dates, datetimes, and strings in common UK and ISO forms;
    an unrecognised string is normalised as text). postcode: NFKC, upper case, no spaces.
    """
    if value is None:
        return None
    if kind == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        text = unicodedata.normalize("NFKC", str(value)).strip()
        head = text.split("T")[0].split(" ")[0]
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(head, fmt).date().isoformat()
            except ValueError:
                continue
        kind = "text"
    text = unicodedata.normalize("NFKC", str(value))
    if kind == "postcode":
        text = _SPACES.sub("", text).upper()
    elif kind == "text":
        text = _SPACES.sub(" ", text.casefold()).strip()
    else:
        raise ValueError(f"unknown identifier kind {kind!r}; kinds are {', '.join(KINDS)}")
    return text or None


def token(value: object, key: bytes, kind: str = "text") -> str | None:
    """Return the pseudonym of one value (64 hex characters), or None for an empty value."""
    norm = normalise(value, kind)
    if norm is None:
        return None
    return hmac.digest(key, norm.encode("utf-8"), hashlib.sha256).hex()


def _kind_of(name: str, type_: pa.DataType) -> str:
    if pa.types.is_date(type_) or pa.types.is_timestamp(type_):
        return "date"
    if "postcode" in name.lower():
        return "postcode"
    return "text"


def pseudonymise_array(values: pa.Array | pa.ChunkedArray, key: bytes,
                       kind: str = "text") -> pa.Array:
    """Pseudonymise every value of an Arrow array; nulls and empty values stay null.

    Each distinct value is normalised and hashed once (dictionary encoding), then the
    tokens are gathered back by index, so repeated identifiers cost nothing extra.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_timestamp(values.type):
        values = pc.strftime(values, format="%Y-%m-%d")
    elif not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.string())  # dates cast to ISO text, numbers to digits
    encoded = pc.dictionary_encode(values)
    tokens = pa.array([token(v, key, kind) for v in encoded.dictionary.to_pylist()],
                      type=pa.string())
    return pc.take(tokens, encoded.indices)


def pseudonymise_table(table: pa.Table, identifier_columns: Iterable[str] | Mapping[str, str],
                       key: bytes) -> pa.Table:
    """Replace each identifier column of ``table`` by its pseudonyms (string tokens).

    Parameters
    ----------
    table
        The partner table.
    identifier_columns
        Column names, or a mapping name -> kind ("text", "date", "postcode"). Without a
        kind, date and timestamp columns are dates, a name containing "postcode" is a
        postcode, and anything else is text.
    key
        The pseudonymisation key (`load_pseudonym_key`).

    Returns
    -------
    pyarrow.Table
        The same columns in the same order, identifiers replaced.
    """
    kinds = (dict(identifier_columns) if isinstance(identifier_columns, Mapping)
             else {name: None for name in identifier_columns})
    missing = [name for name in kinds if name not in table.column_names]
    if missing:
        raise KeyError(f"identifier column(s) not in the table: {', '.join(missing)}; "
                       f"columns are {', '.join(table.column_names)}")
    for name, kind in kinds.items():
        index = table.column_names.index(name)
        column = table.column(index)
        chosen = kind or _kind_of(name, column.type)
        table = table.set_column(index, pa.field(name, pa.string()),
                                 pseudonymise_array(column, key, chosen))
    return table
