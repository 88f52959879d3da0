"""URL canonicalisation and expressions, against the Safe Browsing spec's own examples."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fanzha.errors import InputError
from fanzha.intercept.errors import InvalidUrl, UrlTooLong
from fanzha.intercept.urls import (
    MAX_URL_BYTES,
    _fast_match,
    _checked_slow_parts,
    _slow_parts,
    canonical_host_and_url,
    canonical_hosts_and_expressions,
    canonical_hosts_and_urls,
    canonical_parts,
    canonicalize,
    expressions,
    host_report,
    host_suffixes,
)

# The canonicalisation examples published with the Safe Browsing v4 "URLs and Hashing"
# documentation.
SPEC_VECTORS = [
    ("http://host/%25%32%35", "http://host/%25"),
    ("http://host/%25%32%35%25%32%35", "http://host/%25%25"),
    ("http://host/%2525252525252525", "http://host/%25"),
    ("http://host/asdf%25%32%35asd", "http://host/asdf%25asd"),
    ("http://host/%%%25%32%35asd%%", "http://host/%25%25%25asd%25%25"),
    ("http://www.google.com/", "http://www.google.com/"),
    ("http://%31%36%38%2e%31%38%38%2e%39%39%2e%32%36/%2E%73%65%63%75%72%65/%77%77%77%2E%65%62%61%79%2E%63%6F%6D/",
     "http://168.188.99.26/.secure/www.ebay.com/"),
    ("http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/",
     "http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/"),
    ("http://host%23.com/%257Ea%2521b%2540c%2523d%2524e%25f%255E00%252611%252A22%252833%252944_55%252B",
     "http://host%23.com/~a!b@c%23d$e%25f^00&11*22(33)44_55+"),
    ("http://3279880203/blah", "http://195.127.0.11/blah"),
    ("http://www.google.com/blah/..", "http://www.google.com/"),
    ("www.google.com/", "http://www.google.com/"),
    ("www.google.com", "http://www.google.com/"),
    ("http://www.evil.com/blah#frag", "http://www.evil.com/blah"),
    ("http://www.GOOgle.com/", "http://www.google.com/"),
    ("http://www.google.com.../", "http://www.google.com/"),
    ("http://www.google.com/foo\tbar\rbaz\n2", "http://www.google.com/foobarbaz2"),
    ("http://www.google.com/q?", "http://www.google.com/q?"),
    ("http://www.google.com/q?r?", "http://www.google.com/q?r?"),
    ("http://www.google.com/q?r?s", "http://www.google.com/q?r?s"),
    ("http://evil.com/foo#bar#baz", "http://evil.com/foo"),
    ("http://evil.com/foo;", "http://evil.com/foo;"),
    ("http://evil.com/foo?bar;", "http://evil.com/foo?bar;"),
    (b"http://\x01\x80.com/", "http://%01%80.com/"),
    ("http://notrailingslash.com", "http://notrailingslash.com/"),
    ("http://www.gotaport.com:1234/", "http://www.gotaport.com/"),
    ("  http://www.google.com/  ", "http://www.google.com/"),
    ("http:// leadingspace.com/", "http://%20leadingspace.com/"),
    ("http://%20leadingspace.com/", "http://%20leadingspace.com/"),
    ("%20leadingspace.com/", "http://%20leadingspace.com/"),
    ("https://www.securesite.com/", "https://www.securesite.com/"),
    ("http://host.com/ab%23cd", "http://host.com/ab%23cd"),
    ("http://host.com//twoslashes?more//slashes", "http://host.com/twoslashes?more//slashes"),
]


@pytest.mark.parametrize(("url", "expected"), SPEC_VECTORS)
def test_spec_vectors(url, expected):
    assert canonicalize(url) == expected
    assert str(_slow_parts(url)) == expected  # the fast path is only a shortcut


@pytest.mark.parametrize(("url", "expected"), [
    ("http://0x12.0x43.0x44.0x01/", "http://18.67.68.1/"),          # hex parts
    ("http://0300.0250.0.01/", "http://192.168.0.1/"),              # octal parts
    ("http://0xC0A80001/", "http://192.168.0.1/"),                  # one hex number
    ("http://10.1/", "http://10.0.0.1/"),                           # two parts
    ("http://10.1.2/", "http://10.1.0.2/"),                         # three parts
    ("http://127.0.0.1./x", "http://127.0.0.1/x"),                  # trailing dot
    ("http://[2001:0DB8:0000::1]/", "http://[2001:db8::1]/"),
    ("http://[::ffff:1.2.3.4]:8080/", "http://1.2.3.4/"),           # IPv4-mapped
    ("http://[64:ff9b::1.2.3.4]/", "http://1.2.3.4/"),              # NAT64
    ("http://256.1.1.1/", "http://256.1.1.1/"),                     # not an address: a name
    ("http://1.2.3.4.5/", "http://1.2.3.4.5/"),
    ("http://09.1.1.1/", "http://09.1.1.1/"),                       # 09 is not octal
])
def test_ip_forms(url, expected):
    assert canonicalize(url) == expected


@pytest.mark.parametrize(("url", "expected"), [
    ("http://user:pw@www.icbc.com.cn@evil.com/", "http://evil.com/"),  # user-info trick
    ("HTTPS://Evil.COM:443/a/./b/../c", "https://evil.com/a/c"),
    ("//evil.com/x", "http://evil.com/x"),
    ("http://evil.com?x=1", "http://evil.com/?x=1"),
    ("http://evil.com/a%2Fb%3Fc", "http://evil.com/a/b?c"),            # escapes act as what they stand for
    ("http://evil.com/%E4%BD%A0", "http://evil.com/%E4%BD%A0"),
    ("http://evil.com/你好", "http://evil.com/%E4%BD%A0%E5%A5%BD"),
])
def test_more_canonical_forms(url, expected):
    assert canonicalize(url) == expected


def test_expressions_in_spec_order():
    assert expressions("http://a.b.c/1/2.html?param=1") == [
        "a.b.c/1/2.html?param=1", "a.b.c/1/2.html", "a.b.c/", "a.b.c/1/",
        "b.c/1/2.html?param=1", "b.c/1/2.html", "b.c/", "b.c/1/",
    ]
    assert expressions("http://a.b.c.d.e.f.g/1.html") == [
        "a.b.c.d.e.f.g/1.html", "a.b.c.d.e.f.g/", "c.d.e.f.g/1.html", "c.d.e.f.g/",
        "d.e.f.g/1.html", "d.e.f.g/", "e.f.g/1.html", "e.f.g/", "f.g/1.html", "f.g/",
    ]
    assert expressions("http://1.2.3.4/1/") == ["1.2.3.4/1/", "1.2.3.4/"]
    assert expressions("http://a.b/saw-cgi/eBayISAPI.dll/") == [
        "a.b/saw-cgi/eBayISAPI.dll/", "a.b/", "a.b/saw-cgi/",
    ]


def test_expressions_limits():
    exprs = expressions("http://a.b.c.d.e.f.g/1/2/3/4/5/6.html?x")
    hosts = {e.split("/", 1)[0] for e in exprs}
    assert hosts == {"a.b.c.d.e.f.g", "c.d.e.f.g", "d.e.f.g", "e.f.g", "f.g"}
    paths = {e.split("/", 1)[1] for e in exprs}
    assert paths == {"1/2/3/4/5/6.html?x", "1/2/3/4/5/6.html", "", "1/", "1/2/", "1/2/3/"}
    assert len(exprs) == 5 * 6
    assert host_suffixes("com") == ["com"] and host_suffixes("evil.com") == ["evil.com"]
    assert host_suffixes("[2001:db8::1]") == ["[2001:db8::1]"]


def test_idn_to_punycode_and_report():
    assert canonicalize("http://例子.测试/") == "http://xn--fsqu00a.xn--0zwm56d/"
    assert canonicalize("http://BÜCHER.de/") == "http://xn--bcher-kva.de/"
    plain = host_report("http://中国银行.com/")
    assert plain.idn and not plain.suspicious and plain.scripts == ("Han", "Latin")
    mixed = host_report("http://pаypal.com/")  # Cyrillic 'а'
    assert mixed.mixed_script and mixed.suspicious
    whole = host_report("http://аррӏе.com/")  # all Cyrillic look-alikes
    assert whole.lookalike and whole.skeleton == "apple.com"
    assert not host_report("http://www.icbc.com.cn/").suspicious


def test_bad_input_is_a_clear_error():
    for bad in ["", "   ", "http:///x", "http://.../", "http://user@/x", "#frag"]:
        with pytest.raises(InvalidUrl) as e:
            canonicalize(bad)
        assert isinstance(e.value, InputError) and isinstance(e.value, ValueError)
    with pytest.raises(InvalidUrl):
        canonicalize(12345)  # type: ignore[arg-type]


def test_overlong_is_refused():
    ok = "http://evil.com/" + "a" * (MAX_URL_BYTES - len("http://evil.com/"))
    assert canonicalize(ok) == ok
    with pytest.raises(UrlTooLong):
        canonicalize(ok + "a")
    # short enough to read, too long once escaped
    with pytest.raises(UrlTooLong):
        canonicalize("http://evil.com/" + "a b" * (MAX_URL_BYTES // 4))


@pytest.mark.parametrize("url", [b".[]!", "http://[]/", "http://[]!/", "http://[zz]/x",
                                 "http://a[b].com/", "http://%5B%5D/", "http://evil].com/"])
def test_brackets_outside_an_ipv6_address_are_refused(url):
    with pytest.raises(InvalidUrl, match="IPv6"):
        canonicalize(url)


# ------------------------------------------------------------------ properties

_piece = st.sampled_from([
    "http://", "https://", "HTTP://", "ftp://", "//", "www.", "evil", "EVIL", "com", ".", "..",
    "/", "//", "/./", "/../", "?", "#", "@", ":", ":80", "[", "]", "%", "%2", "%25", "%2e",
    "%2E", "%2F", "%3F", "%23", "%00", "%7f", "%80", "%C3%A4", "%E4%BD%A0", "0x7f", "017",
    "3279880203", "1.2.3.4", "255", "::1", "a", "Z", " ", "\t", "\n", "你好", "ａ", "。",
    "xn--", "xn--fsqu00a", "-", "_", "~", "\\", "\x00", "\x7f", "\u0430",
])
url_like = st.lists(_piece, max_size=14).map("".join)


@settings(max_examples=600, deadline=None)
@given(st.one_of(url_like, st.text(max_size=60), st.binary(max_size=60)))
@example(b".[]!")  # once canonicalised to 'http://[]!/', then to 'http://[]/'
def test_never_crashes_and_is_idempotent(url):
    try:
        c = canonicalize(url)
    except InvalidUrl:
        return
    assert c.isascii()
    assert canonicalize(c) == c
    # its own expression is always one of its expressions
    assert canonical_parts(c).expression in expressions(c)


ascii_url = st.lists(st.sampled_from(
    ["http://", "https://", "a", "b", "Z", "0", "9", ".", "-", "_", "/", "?", "=", "&", "~",
     "//", "/.", "..", ":", "@", "com", "xn--a"]), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(ascii_url)
def test_fast_path_agrees_with_full_rules(url):
    if _fast_match(url) is None:
        return
    try:
        slow = str(_slow_parts(url))
    except InvalidUrl:
        with pytest.raises(InvalidUrl):
            canonicalize(url)
        return
    assert canonicalize(url) == slow
    host, canon = canonical_host_and_url(url)
    assert canon == slow and host == canonical_parts(url).host


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(ascii_url, url_like), max_size=6))
@example(["a.com", "http://a.com/x?y", "HTTP://A.com/./b", "%41.com", "", "a.com/b//c"])
@example(["a" * (MAX_URL_BYTES - 2), "http://a.com/" + "b" * (MAX_URL_BYTES - 14)])  # too long once canonical
# already canonical but for a path to resolve, or a query the batch sends the long way
@example(["http://a.com/x?u=http://b.com/", "https://a.com/./b", "http://a.com/b/.c", "https://a.com//",
          "http://a.com/b/..", "https://a_b.com/~x/?", "http://a.com/x", "https://A.com/x", "http://a.1/"])
@example(["http://a.com/x", b"http://A.com/y", "https://b.com/"])  # bytes: no batch-wide pattern
def test_batches_agree_with_full_rules(urls):
    """The batch loop's shortcuts (fast pattern, text kept as it is) change no answer."""
    hosts, canon, errors = canonical_hosts_and_urls(urls)
    e_hosts, exprs, e_errors = canonical_hosts_and_expressions(urls)
    assert e_hosts == hosts and e_errors.keys() == errors.keys()
    assert len(hosts) == len(canon) == len(exprs) == len(urls)
    for i, url in enumerate(urls):
        try:
            full = _checked_slow_parts(url)
        except InvalidUrl as err:
            assert type(errors[i]) is type(err) and type(e_errors[i]) is type(err)
            assert (hosts[i], canon[i], exprs[i]) == ("", None, None)
            continue
        assert (hosts[i], canon[i], exprs[i]) == (full.host, str(full), full.expression)
