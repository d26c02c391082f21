"""Keyed pseudonyms: HMAC-SHA256 of a normalised identifier under a sub-key per kind of field."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from vru.governance.keys import load_key

#: Kinds of identifying field; each has its own key, so equal text in two kinds (the first
#: name "James", the surname "James") gives two unrelated tokens.
KINDS = ("identifier", "name", "first_name", "surname", "date", "postcode")
#: Older spellings accepted wherever a kind is named.
ALIASES = {"text": "identifier"}
#: What a kind's sub-key is derived from: HMAC-SHA256(master, KEY_LABEL + kind).
KEY_LABEL = b"vru pseudonym kind:"
_SPACES = re.compile(r"\s+")
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y%m%d", "%Y/%m/%d",
                 "%d/%m/%y")


def load_pseudonym_key(home: Path) -> bytes:
    """The pseudonymisation key: ``VRU_PSEUDONYM_KEY`` or ``<home>/keys/pseudonym.key``."""
    return load_key(home, "pseudonym")


def canonical_kind(kind: str) -> str:
    """Return the kind ``kind`` names (an alias such as "text" resolved).

    Raises
    ------
    ValueError
        ``kind`` is not one of `KINDS` or `ALIASES`.
    """
    chosen = ALIASES.get(kind, kind)
    if chosen not in KINDS:
        raise ValueError(f"unknown identifier kind {kind!r}; kinds are {', '.join(KINDS)}")
    return chosen


@lru_cache(maxsize=64)
def kind_key(master: bytes, kind: str) -> bytes:
    """Return the sub-key of ``kind`` derived from the home's pseudonym key ``master``.

    HMAC-SHA256(master, ``b"vru pseudonym kind:" + kind``): the same in every dataset, so a
    surname gives the same token in every partner table, while no mapping learnt for one kind
    says anything about another.
    """
    return hmac.digest(master, KEY_LABEL + canonical_kind(kind).encode("ascii"),
                       hashlib.sha256)


def normalise(value: object, kind: str = "identifier") -> str | None:
    """Return the normal form of an identifier, or None when nothing is left of it.

    identifier and the name kinds: Unicode NFKC, casefold, trimmed, runs of whitespace
    collapsed to one space. date: ISO ``YYYY-MM-DD`` (dates, datetimes, and strings in common
    UK and ISO forms; an unrecognised string is normalised as text). postcode: NFKC, upper
    case, no spaces.
    """
    kind = canonical_kind(kind)
    if value is None:
        return None
    if kind == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        head = unicodedata.normalize("NFKC", str(value)).strip().split("T")[0].split(" ")[0]
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(head, fmt).date().isoformat()
            except ValueError:
                continue
    text = unicodedata.normalize("NFKC", str(value))
    if kind == "postcode":
        text = _SPACES.sub("", text).upper()
    else:
        text = _SPACES.sub(" ", text.casefold()).strip()
    return text or None


def token(value: object, key: bytes, kind: str = "identifier") -> str | None:
    """Return the pseudonym of one value (64 hex characters), or None for an empty value.

    Parameters
    ----------
    value
        The identifier.
    key
        The home's pseudonym key (`load_pseudonym_key`); the kind's sub-key is derived from
        it (`kind_key`).
    kind
        One of `KINDS` (or an alias in `ALIASES`).
    """
    norm = normalise(value, kind)
    if norm is None:
        return None
    return hmac.digest(kind_key(key, kind), norm.encode("utf-8"), hashlib.sha256).hex()


def pseudonymise_array(values: pa.Array | pa.ChunkedArray, key: bytes,
                       kind: str = "identifier") -> pa.Array:
    """Pseudonymise every value of an Arrow array; nulls and empty values stay null.

    Each distinct value is normalised and hashed once (dictionary encoding), then the
    tokens are gathered back by index, so repeated identifiers cost nothing extra. ``key`` is
    the home's pseudonym key; ``kind`` picks the sub-key (see `token`).
    """
    kind = canonical_kind(kind)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_timestamp(values.type):
        values = pc.strftime(values, format="%Y-%m-%d")
    elif not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.string())  # dates cast to ISO text, numbers to digits
    encoded = pc.dictionary_encode(values)
    sub = kind_key(key, kind)
    normal = (normalise(v, kind) for v in encoded.dictionary.to_pylist())
    tokens = pa.array([None if n is None else
                       hmac.digest(sub, n.encode("utf-8"), hashlib.sha256).hex()
                       for n in normal], type=pa.string())
    return pc.take(tokens, encoded.indices)


def pseudonymise_table(table: pa.Table, identifier_columns: Mapping[str, str],
                       key: bytes) -> pa.Table:
    """Replace each identifier column of ``table`` by its pseudonyms (string tokens).

    Parameters
    ----------
    table
        The partner table.
    identifier_columns
        Column name -> kind (one of `KINDS`). The kinds are the contract's
        (`vru.sources.contract.Contract.identifier_kinds`, which infers those not stated): one
        rule, in one place.
    key
        The home's pseudonymisation key (`load_pseudonym_key`); each kind's sub-key is
        derived from it.

    Returns
    -------
    pyarrow.Table
        The same columns in the same order, identifiers replaced.
    """
    kinds = dict(identifier_columns)
    missing = [name for name in kinds if name not in table.column_names]
    if missing:
        raise KeyError(f"identifier column(s) not in the table: {', '.join(missing)}; "
                       f"columns are {', '.join(table.column_names)}")
    for name, kind in kinds.items():
        index = table.column_names.index(name)
        column = table.column(index)
        table = table.set_column(index, pa.field(name, pa.string()),
                                 pseudonymise_array(column, key, kind))
    return table
