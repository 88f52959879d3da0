"""Snapshots of the store: built in bulk, in the background, and never by a waiting check."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from fanzha.intercept import live
from fanzha.intercept import store as istore
from fanzha.intercept.blocklist import BlocklistBuilder, _SortedKeys
from fanzha.intercept.live import ListsLoading, LiveLists
from fanzha.intercept.urls import host_suffixes
from fanzha.store.db import transaction
from fanzha.store.models import InterceptEntry

NOW = datetime.now(timezone.utc)

# ------------------------------------------------------------------ the key column and the host filter

keys64 = st.integers(-(2**63), 2**63 - 1)


@settings(max_examples=60, deadline=None)
@given(listed=st.lists(keys64, max_size=300), asked=st.lists(keys64, max_size=100))
def test_sorted_keys_answer_exactly_membership(listed, asked):
    arr = np.sort(np.array(listed, dtype=np.int64))
    keys = _SortedKeys(arr)
    q = np.array(listed[:50] + asked, dtype=np.int64)
    lo, hi = keys.spans(q)
    for k, a, b in zip(q.tolist(), lo.tolist(), hi.tolist()):
        assert b - a == listed.count(k)  # every row holding the key, and only those
        assert keys.has(k) == (k in listed)


# labels start with a letter: a host suffix such as "0.0.00" would be an IP address, which
# canonicalises to another spelling and is never a suffix expression
label = st.text("abcdefgh0123-", min_size=1, max_size=6).filter(lambda s: s[0].isalpha() and s[-1] != "-")
hosts = st.lists(label, min_size=1, max_size=7).map(".".join)


@settings(max_examples=80, deadline=None)
@given(query=hosts, others=st.lists(hosts, max_size=40), pick=st.integers(0, 10), crowd=st.integers(0, 12))
def test_the_host_filter_never_hides_a_listed_host_suffix(query, others, pick, crowd):
    """Whatever else is listed (including many hosts under one ending), a URL whose host
    has a listed suffix passes the filter and is blocked."""
    suffixes = host_suffixes(query)
    listed = suffixes[pick % len(suffixes)]
    ending = ".".join(query.split(".")[-2:])
    crowded = [f"h{i}.{ending}" for i in range(crowd)]  # makes the ending key by three labels
    b = BlocklistBuilder()
    until = NOW + timedelta(days=1)
    for h in [*others, *crowded]:
        b.add_url(f"http://{h}/other-page", valid_until=until)
    b.add_url(f"http://{listed}/", valid_until=until)
    bl = b.build()
    url = f"http://{query}/a/b.html?x=1"
    assert bl.check_url(url).blocked
    assert bl.check_urls([url, "http://unrelated.invalid/"])[0].blocked


# ------------------------------------------------------------------ bulk load from the store

def _fill(sessions):
    with transaction(sessions) as s:
        for v in ["evil.com", "http://www.phish.cn/pay/", "http://a.b.c.d.example.org/x/y.html?id=3",
                  "http://3279880203/", "13912345678", "+44 20 7946 0958", "95588", "+86 170*"]:
            istore.list_entry(s, value=v, source_kind="feed", source="partner", score=0.7, actor="t")
        istore.list_entry(s, value="old.com", source_kind="detector", source="d1", actor="t",
                          seen_at=NOW - timedelta(days=3), valid_until=NOW - timedelta(days=1))
        gone = istore.list_entry(s, value="gone.com", source_kind="analyst", source="a1", actor="t").entry
        istore.list_entry(s, value="http://evil.com/help/", listing="allow", source_kind="analyst",
                          source="a1", actor="t")
        istore.list_entry(s, value="17012345678", listing="allow", source_kind="analyst", source="a1", actor="t")
        s.flush()
        istore.revoke_entry(s, gone.id, actor="t", reason="owner took it back")


def test_the_bulk_snapshot_answers_as_entries_added_one_by_one(sessions):
    """The snapshot reads raw rows and trusts the stored hashes; the answers must be those
    of an index built by canonicalising every stored entry again."""
    _fill(sessions)
    with sessions() as s:
        snap = istore.load_snapshot(s)
        entries = s.execute(select(InterceptEntry).order_by(InterceptEntry.id)).scalars().all()
        b = BlocklistBuilder()
        for e in entries:
            life = dict(valid_until=e.valid_until, source=f"{e.source_kind}:{e.source}", score=e.score,
                        revoked=e.state == "revoked", entry_id=e.id, allow=e.listing == "allow")
            if e.kind == "url":
                b.add_url("http://" + e.value, **life)
            elif e.kind == "phone":
                b.add_phone(e.value, **life)
            else:
                b.add_phone_range(e.value, **life)
        expected = b.build(snap.version)
        version = istore.current_version(s)
    assert snap.version == version and snap.blocklist.counts() == expected.counts()
    urls = ["http://evil.com/", "https://m.evil.com/help/faq", "http://evil.com/pay", "http://www.phish.cn/pay/x",
            "http://a.b.c.d.example.org/x/y.html?id=3", "http://195.127.0.11/", "http://old.com/",
            "http://gone.com/", "http://fine.org/"]
    phones = ["13912345678", "+442079460958", "95588", "17099998888", "17012345678", "13800000000"]
    got = snap.blocklist.check_urls(urls, at=NOW) + snap.blocklist.check_phones(phones, at=NOW)
    want = expected.check_urls(urls, at=NOW) + expected.check_phones(phones, at=NOW)
    assert got == want
    assert {v.reason for v in got} >= {"listed", "allowlisted", "expired", "revoked", "not_listed"}
    # the local-check list holds the active block URL entries' prefixes
    with sessions() as s:
        active = sorted({e.prefix for e in s.execute(select(InterceptEntry)).scalars()
                         if e.kind == "url" and e.listing == "block" and e.state == "active"})
    assert snap.prefixes.prefixes.tolist() == active


# ------------------------------------------------------------------ the builder thread

@pytest.fixture
def slow_builds(monkeypatch):
    """Make every snapshot build wait until the test lets it go."""
    gate = threading.Event()
    real = live.load_snapshot

    def load(session):
        assert gate.wait(10), "the test never let the build finish"
        return real(session)

    monkeypatch.setattr(live, "load_snapshot", load)
    return gate


def test_checks_before_the_first_build_get_retry_after(sessions, slow_builds):
    lists = LiveLists(sessions, first_wait=0.05)
    try:
        with pytest.raises(ListsLoading) as err:
            lists.snapshot()
        assert err.value.retry_after >= 1 and not lists.ready
        slow_builds.set()
        lists.first_wait = 10
        assert lists.snapshot().version == 0 and lists.ready
    finally:
        lists.close()


def test_a_slow_rebuild_never_holds_up_a_check(sessions, slow_builds):
    slow_builds.set()
    lists = LiveLists(sessions, fresh_wait=0.5)
    try:
        first = lists.snapshot()
        lists._build_s = 30.0  # as if the lists took half a minute to build
        slow_builds.clear()
        with transaction(sessions) as s:
            istore.list_entry(s, value="later.com", source="t", actor="t")
        lists.invalidate()
        assert lists.snapshot() is first  # answered at once, from the previous version
        slow_builds.set()
        for _ in range(200):
            if lists.snapshot().version > first.version:
                break
            threading.Event().wait(0.05)
        assert lists.snapshot().blocklist.check_url("http://later.com/").blocked
    finally:
        lists.close()


def test_small_lists_read_their_own_writes(sessions):
    lists = LiveLists(sessions)
    try:
        lists.snapshot()
        with transaction(sessions) as s:
            istore.list_entry(s, value="mine.com", source="t", actor="t")
        lists.invalidate()
        assert lists.snapshot().blocklist.check_url("http://mine.com/").blocked
    finally:
        lists.close()


# ------------------------------------------------------------------ the prefix change log's retention

def test_the_prefix_log_keeps_its_last_versions_and_older_clients_get_the_full_list(sessions):
    from fanzha.intercept.prefixes import apply_diff, diff
    from fanzha.store.models import InterceptPrefixChange

    versions = []
    for i in range(6):
        with transaction(sessions) as s:
            istore.list_entry(s, value=f"site{i}.cn", source="t", actor="t")
        with sessions() as s:
            versions.append(istore.load_snapshot(s).prefixes)
    head = versions[-1]
    with transaction(sessions) as s:
        dropped = istore.trim_prefix_log(s, keep=3)
    assert dropped > 0
    with sessions() as s:
        assert min(s.execute(select(InterceptPrefixChange.version)).scalars()) > head.version - 3
        for old in versions[:-1]:
            at = istore.prefixes_at(s, head, old.version, keep=3)
            if old.version <= head.version - 3:
                assert at is None  # too old: the full list
            else:
                assert at is not None and at.prefixes.tolist() == old.prefixes.tolist()
                assert apply_diff(old, diff(at, head)).prefixes.tolist() == head.prefixes.tolist()
