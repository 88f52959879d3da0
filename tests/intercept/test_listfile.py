"""The plain list file: comments, classification, streaming in chunks, error lines."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from fanzha.errors import InputError
from fanzha.intercept import listfile
from fanzha.intercept.entries import EntryKind

AT = datetime(2024, 5, 1, tzinfo=timezone.utc)


def test_classify():
    assert listfile.classify("evil.com") is EntryKind.url
    assert listfile.classify("http://3279880203/") is EntryKind.url
    assert listfile.classify("1.2.3.4") is EntryKind.url
    assert listfile.classify("+86 139-1234-5678") is EntryKind.phone
    assert listfile.classify("(010) 12345678") is EntryKind.phone


def test_chunks_keep_line_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(listfile, "_CHUNK", 2)
    f = tmp_path / "l.txt"
    f.write_text("\ufeff# c\r\na.com\r\nb.com\r\n13912345678\r\n\r\nc.com\r\nd.com\r\n", encoding="utf-8")
    bl = listfile.load_blocklist(f, at=AT, ttl=timedelta(days=1))
    assert bl.counts()["url_block"] == 4 and bl.counts()["phone_block"] == 1
    assert bl.check_url("http://d.com/", at=AT).entry_id == 7
    assert bl.check_phone("13912345678", at=AT).entry_id == 4
    assert not bl.check_url("http://d.com/", at=AT + timedelta(days=1)).blocked
    f.write_text("a.com\nb.com\nc.com\nhttp:///bad\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        listfile.load_blocklist(f, at=AT)
    assert e.value.line == 4 and e.value.file == str(f)


def test_not_utf8(tmp_path):
    f = tmp_path / "l.txt"
    f.write_bytes(b"a.com\n\xff\xfe.com\n")
    with pytest.raises(InputError) as e:
        listfile.read_list(f)
    assert "UTF-8" in str(e.value)


@pytest.mark.parametrize("chunk", [3, 1 << 16])
def test_bulk_sorting_matches_classify(tmp_path, monkeypatch, chunk):
    """Lines sorted in bulk (letter first, bare digits) land where classify puts them."""
    monkeypatch.setattr(listfile, "_CHUNK", chunk)
    f = tmp_path / "l.txt"
    f.write_text("# c\n5abc.com\nabc.com\n13912345678\n\n139-1234-5677\n1.2.3.4\nHTTP://X.com/a/./b\n"
                 "+86 139 1234 5679\nxn--fsqu00a.com\n12\n95588\n  13912345670  \n", encoding="utf-8")
    bl = listfile.load_blocklist(f, at=AT)
    expected = listfile.read_list(f)
    kinds = [ln.kind for ln in expected]
    assert bl.counts()["url_block"] == kinds.count(EntryKind.url)
    assert bl.counts()["phone_block"] == kinds.count(EntryKind.phone)
    for ln in expected:
        check = bl.check_url if ln.kind is EntryKind.url else bl.check_phone
        assert check(ln.value, at=AT).entry_id == ln.line
