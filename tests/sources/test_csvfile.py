"""Byte facts of an input file: the streamed UTF-8 check agrees with Python's decoder."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from vru.sources.csvfile import _Utf8, inspect_bytes

pieces = st.one_of(st.text(max_size=6).map(str.encode),
                   st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf0\x9f",
                                    # ASCII blocks take a short cut; a BOM may open one
                                    b"\xef\xbb\xbf", b"\xef\xbb", b"a,b\n", b"\x7f"]))


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(pieces, max_size=8), cuts=st.lists(st.integers(0, 60), max_size=5))
def test_streamed_check_equals_decoding_whole(parts, cuts):
    data = b"".join(parts)
    bounds = sorted({min(c, len(data)) for c in cuts})
    check = _Utf8()
    for a, b in zip([0, *bounds], [*bounds, len(data)], strict=True):
        if check.ok:
            check.feed(memoryview(data[a:b]))
    try:
        data.decode("utf-8")
        whole = True
    except UnicodeDecodeError:
        whole = False
    assert check.finish() == whole


def test_a_cut_character_is_not_completed_across_an_ascii_block():
    # "\xc3" + "ab" + "\xa9" is not UTF-8, though "\xc3\xa9" (é) would be: the ASCII block
    # between the halves must not be skipped as plain ASCII
    check = _Utf8()
    for block in (b"x\xc3", b"ab", b"\xa9"):
        check.feed(memoryview(block))
    assert not check.finish()
    ok = _Utf8()
    for block in (b"\xef\xbb\xbfab", b"c\xc3", b"\xa9d"):
        ok.feed(memoryview(block))
    assert ok.finish()


def test_facts_of_a_large_file(tmp_path, monkeypatch):
    import vru.sources.csvfile as csvfile

    monkeypatch.setattr(csvfile, "INSPECT_BLOCK", 7)  # every character cut somewhere
    text = "Crime ID,Location\n" + "".join(f"{i},On or near Café Street £{i}\n" for i in range(50))
    p = tmp_path / "a.csv"
    p.write_bytes(text.encode())
    facts = inspect_bytes(p)
    assert facts.encoding == "utf-8" and facts.size == len(text.encode())
    assert facts.sha256 == hashlib.sha256(text.encode()).hexdigest()
    p.write_bytes(text.encode("cp1252"))
    assert inspect_bytes(p).encoding == "cp1252"
