"""Dashboard sign-ins in the metadata database, on SQLite and PostgreSQL."""

from __future__ import annotations

from vru.governance import signins
from vru.governance.db import Database


def test_sign_ins_round_trip_and_expire(db: Database) -> None:
    a = signins.SignIn("a" * 64, "ann", "violence_reduction", "csrf-a", 100.0, 100.0)
    b = signins.SignIn("b" * 64, "bob", "research", "csrf-b", 100.0, 150.0)
    signins.add(db, a)
    signins.add(db, b)
    assert signins.get(db, a.token_hash) == a
    assert signins.get(db, "c" * 64) is None
    assert signins.get(db, "ann") is None  # a name is not a token
    signins.touch(db, a.token_hash, 120.0)
    signins.set_purpose(db, a.token_hash, "research")
    got = signins.get(db, a.token_hash)
    assert got is not None and (got.seen, got.purpose) == (120.0, "research")
    # idle since before 130, or made before 50: only a goes
    assert signins.sweep(db, idle_before=130.0, created_before=50.0) == 1
    assert signins.get(db, a.token_hash) is None and signins.get(db, b.token_hash) == b
    assert signins.remove_user(db, "bob") == 1 and signins.get(db, b.token_hash) is None
    signins.remove(db, b.token_hash)  # removing what is gone is no error
