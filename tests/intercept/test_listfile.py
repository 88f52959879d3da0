"""The plain list file: comments, classification, streaming in chunks, error lines."""

from __future__ import annotations

import os
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


# ------------------------------------------------------------------ two processes

@pytest.fixture
def forking(monkeypatch):
    """Every file is loaded by two processes, in chunks of three lines."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    monkeypatch.setattr(listfile, "_FORK_BYTES", 0)
    monkeypatch.setattr(listfile, "_CHUNK", 3)
    monkeypatch.setattr(listfile, "_can_fork", lambda: True)


LINES = ["# list", "evil.com", "13912345678", "http://Shop.example.cn/pay/", "", "+86 139-1234-5677",
         "5abc.com", "evil.com", "95588", "HTTP://X.com/a/./b", "1.2.3.4", "13912345678",
         "bank-login.example.net/login.html?id=7", "xn--fsqu00a.com", "139 1234 5670", "a.b.c.d.e.f.com/x/y/z"]


def _index(bl):
    u, p = bl._url_block, bl._phone_block
    return (u.prefixes.tolist(), u.full.tobytes(), u.hosts.keys.tolist(), u.cols.entry_id.tolist(),
            p.keys.tolist(), p.cols.entry_id.tolist())


@pytest.mark.parametrize("share, ahead", [((1, 2), 4), ((3, 5), 4), ((4, 7), 1), ((3, 5), 1)])
def test_two_processes_build_the_same_index(tmp_path, forking, monkeypatch, share, ahead):
    monkeypatch.setattr(listfile, "_CHILD_SHARE", share)
    monkeypatch.setattr(listfile, "_CHILD_AHEAD", ahead)  # 1: the helper waits on the parent often
    f = tmp_path / "l.txt"
    f.write_text("\n".join(LINES * 3) + "\n", encoding="utf-8")
    a = tmp_path / "a.txt"
    a.write_text("evil.com\n13912345677\n", encoding="utf-8")
    one = listfile.load_blocklist(f, a, at=AT, processes=1)
    two = listfile.load_blocklist(f, a, at=AT, processes=2)
    assert _index(one) == _index(two) and one.counts() == two.counts()
    assert one.counts()["url_block"] == 27 and one.counts()["url_allow"] == 1
    for ln in listfile.read_list(f):
        check = one.check_url if ln.kind is EntryKind.url else one.check_phone
        check2 = two.check_url if ln.kind is EntryKind.url else two.check_phone
        assert check(ln.value, at=AT) == check2(ln.value, at=AT)
    # a duplicate across chunks is reported by its first line, as by one process
    assert two.check_url("http://bank-login.example.net/login.html?id=7", at=AT).entry_id == 13


def test_the_helper_takes_its_share_of_chunks_spread_evenly(monkeypatch):
    for share, mine in [((1, 2), [1, 3, 5, 7, 9]), ((3, 5), [1, 3, 4, 6, 8, 9]),
                        ((4, 7), [1, 3, 5, 6, 8])]:
        monkeypatch.setattr(listfile, "_CHILD_SHARE", share)
        assert [k for k in range(10) if listfile._childs(k)] == mine
        a, b = share
        assert sum(map(listfile._childs, range(100 * b))) == 100 * a


@pytest.mark.parametrize("share", [(1, 2), (3, 5)])
@pytest.mark.parametrize("bad", [[5], [11], [5, 11], [11, 14], [2, 14], [14], [8, 14]])
def test_two_processes_report_the_first_bad_line(tmp_path, forking, monkeypatch, share, bad):
    """With a share of 1 of 2, lines 4-6 and 10-12 are the child's chunks, 1-3, 7-9 and
    13-15 the parent's; with 3 of 5 (the default), 4-6 and 10-15 are the child's."""
    monkeypatch.setattr(listfile, "_CHILD_SHARE", share)
    lines = LINES[:15]
    for n in bad:
        lines[n - 1] = "http:///nohost" if n % 2 else "+999 123"
    f = tmp_path / "l.txt"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    errors = []
    for processes in (1, 2):
        with pytest.raises(InputError) as e:
            listfile.load_blocklist(f, at=AT, processes=processes)
        errors.append(e.value.as_dict())
    assert errors[0] == errors[1] and errors[0]["line"] == bad[0]


@pytest.mark.parametrize("where", [2, 5, 13])
def test_two_processes_report_bytes_that_are_not_utf8(tmp_path, forking, where):
    lines = [s.encode() for s in LINES]
    lines[where - 1] = b"\xff\xfe.com"
    f = tmp_path / "l.txt"
    f.write_bytes(b"\n".join(lines) + b"\n")
    errors = []
    for processes in (1, 2):
        with pytest.raises(InputError) as e:
            listfile.load_blocklist(f, at=AT, processes=processes)
        errors.append(e.value.as_dict())
    assert errors[0] == errors[1] and "UTF-8" in errors[0]["error"]


def test_a_helper_that_dies_leaves_the_parent_to_finish(tmp_path, forking, monkeypatch):
    f = tmp_path / "l.txt"
    f.write_text("\n".join(LINES * 2) + "\n", encoding="utf-8")
    one = listfile.load_blocklist(f, at=AT, processes=1)
    real = listfile._chunk_rows
    parent = os.getpid()

    def dies_in_the_helper(path, lines, n):
        if os.getpid() != parent and n >= 6:
            os._exit(3)
        return real(path, lines, n)

    monkeypatch.setattr(listfile, "_chunk_rows", dies_in_the_helper)
    assert _index(listfile.load_blocklist(f, at=AT, processes=2)) == _index(one)
