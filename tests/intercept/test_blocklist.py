"""The compact blocklist against a plain Python set model; life cycle; prefix lists."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanzha.intercept.blocklist import Blocklist, BlocklistBuilder, expression_hash
from fanzha.intercept.entries import Entry, EntryKind
from fanzha.intercept.errors import InvalidPhone, InvalidUrl
from fanzha.intercept.phones import normalize_phone
from fanzha.intercept.prefixes import ChecksumMismatch, PrefixList, apply_diff, diff
from fanzha.intercept.urls import canonical_parts, expressions

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))
LATER = T0 + timedelta(days=30)


def url_entry(value, *, until=LATER, revoked=False, entry_id=None, source="detector", score=0.9):
    return Entry(EntryKind.url, value, source, score, T0, until, revoked, entry_id)


def phone_entry(value, *, until=LATER, revoked=False, entry_id=None):
    return Entry(EntryKind.phone, value, "carrier", 0.8, T0, until, revoked, entry_id)


# ------------------------------------------------------------------ examples

def test_whole_site_page_and_directory_entries():
    bl = Blocklist.from_entries([
        url_entry("evil.com", entry_id=1),
        url_entry("http://shop.example.cn/pay/", entry_id=2),
        url_entry("http://bank-login.example.net/login.html?id=7", entry_id=3),
    ])
    v = bl.check_url("https://WWW.Evil.com:8443/any/path?q=1#x", at=T0)
    assert v.blocked and v.matched_expression == "evil.com/" and v.entry_id == 1
    assert v.source == "detector" and v.score == pytest.approx(0.9)
    assert bl.check_url("http://shop.example.cn/pay/step2/confirm", at=T0).entry_id == 2
    assert not bl.check_url("http://shop.example.cn/other", at=T0).blocked
    assert bl.check_url("http://bank-login.example.net/login.html?id=7", at=T0).blocked
    assert not bl.check_url("http://bank-login.example.net/login.html?id=8", at=T0).blocked
    assert not bl.check_url("http://notevil.com/", at=T0).blocked
    assert bl.check_url("http://notevil.com/", at=T0).reason == "not_listed"


def test_allowlist_wins():
    bl = Blocklist.from_entries(
        [url_entry("evil.com", entry_id=1), phone_entry("95588", entry_id=2),
         phone_entry("13912345678", entry_id=3)],
        allow=[url_entry("help.evil.com", entry_id=10), phone_entry("+8695588", entry_id=11)],
    )
    v = bl.check_url("http://help.evil.com/faq", at=T0)
    assert not v.blocked and v.reason == "allowlisted" and v.entry_id == 10
    assert bl.check_url("http://pay.evil.com/", at=T0).blocked
    p = bl.check_phone("95588", at=T0)
    assert not p.blocked and p.reason == "allowlisted" and p.entry_id == 11
    assert bl.check_phone("+86 139 1234 5678", at=T0).blocked


def test_expiry_at_its_boundary_and_revocation():
    until = T0 + timedelta(hours=1)
    bl = Blocklist.from_entries([
        url_entry("expiring.com", until=until, entry_id=1),
        url_entry("revoked.com", revoked=True, entry_id=2),
        phone_entry("13800000000", until=until, entry_id=3),
    ])
    just_before = until - timedelta(microseconds=1)
    assert bl.check_url("http://expiring.com/", at=just_before).blocked
    v = bl.check_url("http://expiring.com/", at=until)
    assert not v.blocked and v.reason == "expired" and v.entry_id == 1
    assert bl.check_phone("13800000000", at=just_before).blocked
    assert bl.check_phone("13800000000", at=until).reason == "expired"
    r = bl.check_url("http://revoked.com/", at=T0)
    assert not r.blocked and r.reason == "revoked"


def test_an_active_duplicate_beats_an_expired_one():
    bl = Blocklist.from_entries([
        url_entry("dup.com", until=T0, entry_id=1),
        url_entry("http://dup.com/", entry_id=2),
    ])
    v = bl.check_url("http://dup.com/x", at=T0)
    assert v.blocked and v.entry_id == 2


def test_entry_life_cycle():
    e = url_entry("evil.com", until=T0 + timedelta(days=1))
    assert e.active_at(T0) and not e.active_at(T0 + timedelta(days=1))
    e2 = e.seen_again(T0 + timedelta(hours=12), ttl=timedelta(days=7), score=0.95)
    assert e2.valid_until == T0 + timedelta(hours=12, days=7) and e2.score == 0.95
    assert e2.last_seen == T0 + timedelta(hours=12)
    assert e2.seen_again(T0, ttl=timedelta(seconds=1)).valid_until == e2.valid_until  # never shortens
    assert not e2.revoke().active_at(T0)
    assert e2.revoke().seen_again(T0, ttl=timedelta(days=1)).revoked  # stays revoked
    with pytest.raises(ValueError):
        Entry(EntryKind.url, "x.com", "s", 0.5, datetime(2024, 1, 1), LATER)  # naive time
    with pytest.raises(ValueError):
        url_entry("x.com", score=1.5)


def test_bad_values_name_their_position():
    b = BlocklistBuilder()
    with pytest.raises(InvalidUrl) as e:
        b.add_urls(["evil.com", "http:///nohost"], valid_until=LATER)
    assert e.value.line == 2
    with pytest.raises(InvalidPhone) as e2:
        b.add_phones(["13912345678", "12"], valid_until=LATER)
    assert e2.value.line == 2


def test_batch_reports_invalid_without_failing():
    bl = Blocklist.from_entries([url_entry("evil.com"), phone_entry("13912345678")])
    vs = bl.check_urls(["http://evil.com/", "http:///x", "ok.com"], at=T0)
    assert [v.reason for v in vs] == ["listed", "invalid", "not_listed"]
    assert vs[1].detail
    ps = bl.check_phones(["13912345678", "nope", "13912345679"], at=T0)
    assert [p.reason for p in ps] == ["listed", "invalid", "not_listed"]


def test_empty_lists():
    bl = BlocklistBuilder().build()
    assert not bl.check_url("http://a.com/").blocked
    assert bl.check_urls([]) == []
    assert not bl.check_phone("13912345678").blocked
    assert len(bl.active_prefixes()) == 0


# ------------------------------------------------------------------ against a set model

labels = st.sampled_from(["a", "b", "evil", "pay", "com", "cn", "xn--fsqu00a"])
hosts = st.lists(labels, min_size=1, max_size=4).map(".".join)
paths = st.sampled_from(["", "/", "/x", "/x/", "/x/y.html", "/x/y/z/", "/y"])
queries = st.sampled_from(["", "?", "?id=1", "?id=2"])
urls = st.builds(lambda s, h, p, q: f"{s}{h}{p}{q}",
                 st.sampled_from(["http://", "https://", ""]), hosts, paths, queries)
times = st.sampled_from([T0 - timedelta(hours=1), T0, T0 + timedelta(hours=1)])
listed = st.tuples(urls, times, st.booleans())  # value, valid_until, revoked


def model_blocked(url, block, allow, at):
    exprs = set(expressions(url))

    def active(entries):
        return {canonical_parts(u).expression for u, until, revoked in entries
                if not revoked and at < until}
    return bool(exprs & active(block)) and not (exprs & active(allow))


@settings(max_examples=150, deadline=None)
@given(st.lists(listed, max_size=12), st.lists(listed, max_size=4), st.lists(urls, max_size=12),
       times)
def test_matches_a_plain_set_implementation(block, allow, probes, at):
    b = BlocklistBuilder()
    for u, until, revoked in block:
        b.add_url(u, valid_until=until, revoked=revoked)
    for u, until, revoked in allow:
        b.add_url(u, valid_until=until, revoked=revoked, allow=True)
    bl = b.build()
    probes = probes + [u for u, _, _ in block]  # every listed URL is probed too
    batch = bl.check_urls(probes, at=at)
    for url, v in zip(probes, batch):
        expected = model_blocked(url, block, allow, at)
        assert v.blocked == expected, (url, v)
        assert bl.check_url(url, at=at) == v
        if v.blocked:
            assert v.matched_expression in expressions(url)


@settings(max_examples=100, deadline=None)
@given(st.lists(urls, min_size=1, max_size=10))
def test_every_listed_url_is_found_by_its_own_canonical_form(values):
    bl = Blocklist.from_entries([url_entry(u) for u in values])
    for u in values:
        c = canonical_parts(u)
        assert bl.check_url(str(c), at=T0).blocked
        assert bl.check_url(u, at=T0).blocked


mobile = st.integers(0, 10**8 - 1).map(lambda n: f"139{n:08d}")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(mobile, times, st.booleans()), max_size=20),
       st.lists(mobile, max_size=3), st.lists(mobile, max_size=10), times)
def test_phones_match_a_plain_set_implementation(block, allow, probes, at):
    b = BlocklistBuilder()
    for n, until, revoked in block:
        b.add_phone(n, valid_until=until, revoked=revoked)
    for n in allow:
        b.add_phone(n, valid_until=LATER, allow=True)
    bl = b.build()
    active = {normalize_phone(n) for n, until, revoked in block if not revoked and at < until}
    allowed = {normalize_phone(n) for n in allow}
    probes = probes + [n for n, _, _ in block] + allow
    for n, v in zip(probes, bl.check_phones(probes, at=at)):
        e164 = normalize_phone(n)
        assert v.blocked == (e164 in active and e164 not in allowed)
        assert bl.check_phone(n, at=at) == v


# ------------------------------------------------------------------ prefix lists

def test_prefix_lists_and_full_hash_confirmation():
    bl1 = Blocklist.from_entries([url_entry("a.com"), url_entry("b.com"),
                                  url_entry("old.com", until=T0)], version=1)
    pl1 = PrefixList.of(1, bl1.active_prefixes(at=T0))
    assert len(pl1.prefixes) == 2
    h = expression_hash("a.com/")
    prefix = int.from_bytes(h[:4], "big")
    assert prefix in pl1
    assert bl1.full_hashes(prefix, at=T0) == [h]
    bl2 = Blocklist.from_entries([url_entry("b.com"), url_entry("c.com"), url_entry("d.com")],
                                 version=2)
    pl2 = PrefixList.of(2, bl2.active_prefixes(at=T0))
    d = diff(pl1, pl2)
    assert len(d.removals) == 1 and len(d.additions) == 2
    got = apply_diff(pl1, type(d).from_json(d.to_json()))
    assert np.array_equal(got.prefixes, pl2.prefixes) and got.version == 2
    assert PrefixList.from_json(pl2.to_json()).checksum == pl2.checksum
    damaged = PrefixList(1, pl1.prefixes[:1])
    with pytest.raises(ChecksumMismatch):
        apply_diff(damaged, d)
    with pytest.raises(ValueError):
        diff(pl2, pl1)


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(0, 2**32 - 1), max_size=50), st.sets(st.integers(0, 2**32 - 1), max_size=50))
def test_diff_round_trip(a, b):
    old = PrefixList.of(1, np.array(sorted(a), dtype=np.uint32))
    new = PrefixList.of(2, np.array(sorted(b), dtype=np.uint32))
    assert np.array_equal(apply_diff(old, diff(old, new)).prefixes, new.prefixes)


# ------------------------------------------------------------------ batch checks

spelled = st.one_of(
    mobile,
    mobile.map(lambda n: f"+86 {n[:3]}-{n[3:7]}-{n[7:]}"),
    st.sampled_from(["95588", "+8695588", "110", "400-812-3123", "+852 6543 2109", "010-12345678",
                     "nope", "12", "", " 13912345678 ", "１３９１２３４５６７８", "+1 650-253-0000"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(spelled, max_size=12), st.lists(spelled, max_size=12), st.lists(spelled, max_size=3))
def test_batch_phone_checks_agree_with_single_checks(block, probes, allow):
    """Every spelling (ranges, service numbers, allowlisted, invalid) gets from the batch
    the verdict a single check gives it."""
    b = BlocklistBuilder()
    for i, n in enumerate(block):
        try:
            b.add_phone(n, valid_until=LATER, entry_id=i, revoked=i % 5 == 4)
        except InvalidPhone:
            pass
    b.add_phone_range("+86139*", valid_until=T0, entry_id=100)  # expired at T0
    b.add_phone_range("+8613912340000..+8613912349999", valid_until=LATER, entry_id=101)
    for n in allow:
        try:
            b.add_phone(n, valid_until=LATER, allow=True)
        except InvalidPhone:
            pass
    bl = b.build()
    probes = probes + block + ["13912345678", "13912340001", "13800000000"]
    for n, v in zip(probes, bl.check_phones(probes, at=T0)):
        try:
            assert bl.check_phone(n, at=T0) == v
        except InvalidPhone as err:
            assert v == ("phone", str(n), False, "invalid", None, None, None, None, str(err))


def test_batch_checks_leave_the_collector_as_they_found_it():
    import gc

    bl = Blocklist.from_entries([url_entry("evil.com"), phone_entry("13912345678")])
    assert gc.isenabled()
    assert bl.check_urls(["evil.com", "http:///x"], at=T0)[0].blocked and gc.isenabled()
    assert bl.check_phones(["13912345678", "x"], at=T0)[0].blocked and gc.isenabled()
    gc.disable()
    try:
        bl.check_urls(["evil.com"])
        bl.check_phones(["13912345678"])
        assert not gc.isenabled()
    finally:
        gc.enable()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.lists(labels, max_size=7).map(".".join),
                          st.sampled_from(["", ".", "a..b", "1.2.3.4", "[::1]", "a.b.c.d.e.f.g.h"])),
                max_size=12))
def test_host_keys_are_the_last_two_and_three_labels(hosts):
    """The host filter's keys (made by ``map`` for two-label hosts, cut in Python for
    the others) against the rule written plainly."""
    from fanzha.intercept.blocklist import _host_keys

    def ending(h, k):
        parts = h.split(".")
        return h if len(parts) <= 2 else ".".join(parts[-k:])
    two, three = _host_keys(hosts)
    assert two == [hash(ending(h, 2)) for h in hosts]
    assert three == [hash(ending(h, 3)) for h in hosts]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-50, 50), max_size=40), st.lists(st.integers(-60, 60), max_size=30))
def test_sorted_keys_spans_and_membership_against_plain_searches(keys, probes):
    """One search per key, a second only for keys on several rows: the same spans as
    searching both ends, for keys once, repeated, first, last and absent."""
    from fanzha.intercept.blocklist import _SortedKeys

    sk = _SortedKeys(np.array(sorted(keys), dtype=np.int64))
    q = np.array(probes + keys[:5], dtype=np.int64)
    lo, hi = sk.spans(q)
    k = sk.keys
    assert lo[hi > lo].tolist() == np.searchsorted(k, q[hi > lo], "left").tolist()
    assert hi.tolist() == [int(np.searchsorted(k, x, "right")) if x in keys else int(lo[i])
                           for i, x in enumerate(q.tolist())]
    assert (hi - lo).tolist() == [keys.count(x) for x in q.tolist()]
    assert sk.contains(q).tolist() == [x in keys for x in q.tolist()]
