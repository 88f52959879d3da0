"""URL canonicalisation and lookup expressions, by Google Safe Browsing's rules.

Why these rules: the same phishing page is reachable through many spellings
(``HTTP://Evil.COM.:8080/a/./b/../login%2Ehtml#x``, ``http://3279880203/``, …). A
blocklist only works if the centre and every client reduce a URL to one spelling
before hashing it; Safe Browsing's rules are the ones browsers and resolvers already
implement, so lists exchanged with them line up.

:func:`canonicalize` is the ``fanzha intercept canon`` contract (FORMATS.md). The steps:

1. Text is taken as UTF-8 bytes; leading and trailing C0 controls and spaces are
   trimmed; tab, CR and LF are removed anywhere (their escapes, ``%09`` …, are kept).
2. The fragment (from the first ``#``) is dropped.
3. The URL is percent-unescaped repeatedly until no ``%XX`` escape remains. Only then
   is it split into scheme, host, path and query, so an escaped ``%2F`` or ``%3F``
   acts as the character it stands for.
4. ``http://`` is added when there is no ``scheme://`` (a leading ``//`` is taken as
   scheme-relative); the scheme is lower-cased.
   User-info (``user:pass@``) and the port are dropped: neither names the site.
5. Host: an internationalised name is converted to Punycode (IDNA 2008 with UTS #46
   mapping); leading and trailing dots are removed and runs of dots collapsed; an IPv4
   address in any legal spelling (decimal, octal, hex, fewer than four parts) becomes
   four dotted decimals; a bracketed IPv6 address is compressed (IPv4-mapped and
   NAT64 ``64:ff9b::/96`` addresses become their IPv4 address); then lower-case.
6. Path: ``/./`` and ``/../`` are resolved and runs of ``/`` collapsed; an empty path
   becomes ``/``. The query is kept as written (``?`` alone included).
7. Every byte <= 0x20 or >= 0x7F, ``#`` and ``%`` is percent-escaped (upper-case hex)
   in host, path and query.

Inputs over :data:`MAX_URL_BYTES` (or whose canonical form is longer) are refused with
:class:`UrlTooLong`; text with no host, or with a bracketed host that is not an IPv6
address, raises :class:`InvalidUrl`. Nothing else is
raised, and the result is a fixed point: ``canonicalize(canonicalize(u)) ==
canonicalize(u)``.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import contains, itemgetter, not_, or_
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

import idna

from fanzha.intercept.errors import InvalidUrl, UrlTooLong

__all__ = [
    "MAX_URL_BYTES",
    "CanonicalUrl",
    "HostReport",
    "canonicalize",
    "canonical_parts",
    "canonical_host_and_url",
    "canonical_hosts_and_urls",
    "canonical_hosts_and_expressions",
    "expressions",
    "expressions_of",
    "host_suffixes",
    "path_prefixes",
    "host_report",
    "is_ip_host",
]

#: Longest URL accepted, in UTF-8 bytes, both as given and in canonical form. Browsers
#: and resolvers see nothing useful beyond this; refusing bounds the work per check.
MAX_URL_BYTES = 8192

#: Host suffixes beyond the exact host come from at most this many trailing labels.
_MAX_SUFFIX_LABELS = 5
#: Path prefixes (``/``, ``/a/``, ``/a/b/``, ``/a/b/c/``) generated per URL.
_MAX_PATH_PREFIXES = 4


class CanonicalUrl(NamedTuple):
    """A canonical URL, split. ``query`` is ``None`` when the URL has no ``?`` at all."""

    scheme: str
    host: str
    path: str
    query: str | None

    def __str__(self) -> str:
        q = "" if self.query is None else "?" + self.query
        return f"{self.scheme}://{self.host}{self.path}{q}"

    @property
    def expression(self) -> str:
        """The URL as a lookup expression: without scheme, as lists store it."""
        q = "" if self.query is None else "?" + self.query
        return f"{self.host}{self.path}{q}"


# --------------------------------------------------------------------------- escaping

def _escape_table() -> list[str]:
    table = []
    for b in range(256):
        if b <= 0x20 or b >= 0x7F or b in (0x23, 0x25):  # '#', '%'
            table.append(f"%{b:02X}")
        else:
            table.append(chr(b))
    return table


_ESCAPE = _escape_table()
_NEEDS_ESCAPE = re.compile(rb"[\x00-\x20\x7f-\xff#%]")


def _escape(data: bytes) -> str:
    if not _NEEDS_ESCAPE.search(data):
        return data.decode("ascii")
    return "".join([_ESCAPE[b] for b in data])


_ESCAPE_SEQ = re.compile(rb"%[0-9A-Fa-f]{2}")


def _unescape_fully(data: bytes) -> bytes:
    """Percent-unescape until no valid ``%XX`` remains (each pass shortens the text)."""
    while _ESCAPE_SEQ.search(data):
        data = unquote_to_bytes(data)
    return data


# --------------------------------------------------------------------------- host

def _parse_ipv4_part(part: bytes) -> int | None:
    if not part:
        return None
    try:
        if part[:2] in (b"0x", b"0X"):
            digits = part[2:]
            if not digits or not re.fullmatch(rb"[0-9A-Fa-f]+", digits):
                return None
            return int(digits, 16)
        if not part.isdigit():
            return None
        if len(part) > 1 and part[:1] == b"0":
            if not re.fullmatch(rb"[0-7]+", part):
                return None
            return int(part, 8)
        return int(part)
    except ValueError:  # pragma: no cover - guarded by the regexes above
        return None


def _parse_ipv4(host: bytes) -> str | None:
    """The dotted-decimal form of ``host`` if it is an IPv4 address in any legal spelling.

    Legal spellings are those of ``inet_aton``: one to four parts, each decimal, octal
    (leading ``0``) or hex (``0x``); the last part fills all remaining bytes
    (``3279880203`` is one 32-bit number, ``10.1`` is ``10.0.0.1``).
    """
    parts = host.split(b".")
    if len(parts) > 4:
        return None
    values = []
    for p in parts:
        v = _parse_ipv4_part(p)
        if v is None:
            return None
        values.append(v)
    *head, last = values
    if any(v > 255 for v in head):
        return None
    if last >= 1 << (8 * (4 - len(head))):
        return None
    number = 0
    for v in head:
        number = (number << 8) | v
    number = (number << (8 * (4 - len(head)))) | last
    return str(ipaddress.IPv4Address(number))


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _parse_ipv6(host: bytes) -> str | None:
    """Compressed ``[…]`` form of a bracketed IPv6 address, or its IPv4 for mapped/NAT64."""
    if not (host.startswith(b"[") and host.endswith(b"]")):
        return None
    try:
        addr = ipaddress.IPv6Address(host[1:-1].decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    if addr.scope_id:
        return None
    if addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    if addr in _NAT64:
        return str(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    return f"[{addr.compressed}]"


_DOTS = re.compile(rb"\.{2,}")


def _clean_dots(host: bytes) -> bytes:
    return _DOTS.sub(b".", host.strip(b"."))


def _to_ascii_host(host: bytes) -> bytes:
    """Punycode a non-ASCII host; leave it as bytes (to be escaped) if that fails.

    Hosts that are not valid UTF-8, or that IDNA refuses (control characters, empty
    labels, disallowed code points) are kept byte for byte and percent-escaped, as
    Safe Browsing clients do.
    """
    if host.isascii():
        return host
    try:
        text = host.decode("utf-8")
        return idna.encode(text, uts46=True, std3_rules=False, transitional=False)
    except Exception:  # idna raises several unrelated types; any failure means "keep bytes"
        return host


def _canonical_host(host: bytes) -> str:
    host = _clean_dots(_to_ascii_host(_clean_dots(host)))
    if not host:
        raise InvalidUrl("URL has no host", field="url")
    ip = _parse_ipv6(host) or _parse_ipv4(host)
    if ip is not None:
        return ip
    if b"[" in host or b"]" in host:
        # Brackets belong only around an IPv6 address. Kept, they would be read as one
        # on the next pass ("[]!" -> "[]"), so the canonical form would not be a fixed
        # point; no resolver looks such a name up either.
        raise InvalidUrl("host has '[' or ']' but is not a bracketed IPv6 address", field="url")
    return _escape(host.lower())


# --------------------------------------------------------------------------- path

def _canonical_path(path: bytes) -> bytes:
    """Resolve ``.``/``..`` segments and collapse empty ones; keep a trailing slash."""
    if not path or path == b"/":
        return b"/"
    segments = path.split(b"/")[1:]
    out: list[bytes] = []
    trailing = False
    for seg in segments:
        if seg == b"" or seg == b".":
            trailing = True
        elif seg == b"..":
            if out:
                out.pop()
            trailing = True
        else:
            out.append(seg)
            trailing = False
    if not out:
        return b"/"
    return b"/" + b"/".join(out) + (b"/" if trailing else b"")


# --------------------------------------------------------------------------- whole URL

_SCHEME = re.compile(rb"([A-Za-z][A-Za-z0-9+.\-]*)://")
_TRIM = b"".join(bytes([b]) for b in range(0x21))
_TAB_CR_LF = re.compile(rb"[\t\r\n]")

# Fast path: a URL already in canonical spelling, or a bare domain (the common cases),
# its canonical form read straight off the text. Host:
# lower/upper-case LDH labels separated by single dots, last label starting with a
# letter (so never an IPv4 spelling); no user-info or port. Path: printable ASCII
# without '%' and '#', matched as one run of characters (a repeated group of segments
# costs the regular expression engine more per character; measured, about 15 % more
# time per match on the benchmark's URLs) and then refused if it has an empty segment
# or one starting with '.' (a '//', '/./' or '/../' to resolve): see :func:`_fast_match`.
# Query: printable ASCII without '%' and '#'. Quantifiers are possessive: what follows
# each part can never be part of it, so giving characters back never finds another
# match, and not trying saves the time.
_FAST_FLAT = re.compile(
    r"(?:(https?)://)?((?:[A-Za-z0-9\-_]++\.)*+[A-Za-z][A-Za-z0-9\-_]*+)"
    r"(/[!\"$&'()*+,\-./0-9:;<=>@A-Z\[\\\]^_`a-z{|}~]*+)?"
    r"(\?[!\"$&'()*+,\-./0-9:;<=>?@A-Z\[\\\]^_`a-z{|}~]*+)?"
)
#: The part of :data:`_FAST_FLAT` whose canonical form is the text itself: scheme,
#: lower-case host and a path all written (group 1: the expression, group 2: the host).
#: A batch matches every URL against it by ``map``, with no Python code run per URL.
_CANONICAL = re.compile(
    r"https?://(((?:[a-z0-9\-_]++\.)*+[a-z][a-z0-9\-_]*+)"
    r"/[!\"$&'()*+,\-./0-9:;<=>@A-Z\[\\\]^_`a-z{|}~]*+"
    r"(?:\?[!\"$&'()*+,\-./0-9:;<=>?@A-Z\[\\\]^_`a-z{|}~]*+)?)"
)

#: Longest text the fast path takes: its canonical form adds at most ``http://`` and a
#: ``/``, so it stays within :data:`MAX_URL_BYTES` (longer text gets the full rules,
#: which measure the result).
_FAST_MAX = MAX_URL_BYTES - len("http://") - 1


def _fast_match(url: str) -> re.Match[str] | None:
    """A match of :data:`_FAST_FLAT` whose path has nothing to resolve, else ``None``."""
    m = _FAST_FLAT.fullmatch(url)
    if m is not None and (path := m.group(3)) is not None and ("//" in path or "/." in path):
        return None
    return m


def _fast_parts(url: str) -> CanonicalUrl | None:
    m = _fast_match(url)
    if m is None:
        return None
    scheme, host, path, query = m.groups()
    return CanonicalUrl(scheme or "http", host.lower(), path or "/", None if query is None else query[1:])


def _to_bytes(url: str | bytes) -> bytes:
    if isinstance(url, bytes):
        return url
    if isinstance(url, str):
        return url.encode("utf-8", "surrogatepass")
    raise InvalidUrl(f"URL must be text, not {type(url).__name__}", field="url")


def _slow_parts(url: str | bytes) -> CanonicalUrl:
    raw = _to_bytes(url)
    if len(raw) > MAX_URL_BYTES:
        raise UrlTooLong(f"URL is {len(raw)} bytes, more than the {MAX_URL_BYTES} accepted",
                         field="url")
    data = _TAB_CR_LF.sub(b"", raw.strip(_TRIM))
    data = data.split(b"#", 1)[0]
    if not data:
        raise InvalidUrl("URL is empty", field="url")
    data = _unescape_fully(data)

    m = _SCHEME.match(data)
    if m:
        scheme = m.group(1).lower().decode("ascii")
        rest = data[m.end():]
    else:
        scheme = "http"
        rest = data.lstrip(b"/")  # "//host/path" (scheme-relative) names a host too

    # authority ends at the first '/' or '?'
    cut = len(rest)
    for sep in (b"/", b"?"):
        i = rest.find(sep)
        if i != -1 and i < cut:
            cut = i
    authority, tail = rest[:cut], rest[cut:]
    authority = authority.rpartition(b"@")[2]
    if authority.startswith(b"[") and b"]" in authority:
        host = authority[: authority.index(b"]") + 1]
    else:
        host = authority.split(b":", 1)[0]

    path, qmark, query = tail.partition(b"?")
    return CanonicalUrl(
        scheme,
        _canonical_host(host),
        _escape(_canonical_path(path)),
        _escape(query) if qmark else None,
    )


def canonical_parts(url: str | bytes) -> CanonicalUrl:
    """Canonicalise ``url`` and return it split into scheme, host, path and query.

    Raises :class:`InvalidUrl` (or its subclass :class:`UrlTooLong`) and nothing else.
    """
    if isinstance(url, str) and len(url) <= _FAST_MAX:
        parts = _fast_parts(url)
        if parts is not None:
            return parts
    return _checked_slow_parts(url)


def _checked_slow_parts(url: str | bytes) -> CanonicalUrl:
    """The full canonicalisation, refusing a canonical form over the length limit."""
    parts = _slow_parts(url)
    total = len(parts.scheme) + 3 + len(parts.host) + len(parts.path) + (
        0 if parts.query is None else 1 + len(parts.query))
    if total > MAX_URL_BYTES:
        raise UrlTooLong(f"canonical URL is {total} bytes, more than the {MAX_URL_BYTES} accepted",
                         field="url")
    return parts


_STAND_IN = _CANONICAL.fullmatch("http://a/")
_group1 = itemgetter(1)
_group2 = itemgetter(2)


def _canonical_batch(urls: Sequence[object], expressions: bool
                     ) -> tuple[list[str], list[str | None], dict[int, InvalidUrl]]:
    """Hosts, and canonical URLs or (``expressions``) lookup expressions, of many URLs.

    The one loop behind :func:`canonical_hosts_and_urls` (checks) and
    :func:`canonical_hosts_and_expressions` (loading lists). A URL already in canonical
    spelling, or a bare domain, is answered from one match of the fast-path pattern:
    its canonical form is the text itself, with at most the host lower-cased and a
    ``/`` added; everything else takes the full rules. Most URLs a batch checks are
    already canonical: one ``map`` of the :data:`_CANONICAL` pattern answers those
    without Python code per URL, and only the others are looked at one by one. (A list
    being loaded is mostly bare domains, which that pattern does not take: it goes
    straight to the loop.)
    """
    n = len(urls)
    hosts: list[str]
    out: list[str | None]
    rest: Sequence[int]
    if not expressions and n and set(map(type, urls)) == {str} and max(map(len, urls)) <= _FAST_MAX:  # type: ignore[arg-type]
        matches = list(map(_CANONICAL.fullmatch, urls))  # type: ignore[arg-type]
        missed = list(compress(range(n), map(not_, matches)))
        for i in missed:
            matches[i] = _STAND_IN  # overwritten below
        exprs: list[str] = list(map(_group1, matches))
        # a path with '//' or '/.' is still to be resolved (a query with them is only
        # sent the long way too)
        rest = sorted(missed + list(compress(range(n), map(
            or_, map(contains, exprs, repeat("//")), map(contains, exprs, repeat("/."))))))
        hosts = list(map(_group2, matches))
        out = list(urls)  # type: ignore[arg-type]  # canonical as written
    else:
        rest = range(n)
        hosts, out = [""] * n, [None] * n
    errors: dict[int, InvalidUrl] = {}
    fast = _FAST_FLAT.fullmatch
    for i in rest:
        url = urls[i]
        if type(url) is str and len(url) <= _FAST_MAX:
            m = fast(url)
            if m is not None:
                scheme, host, path, query = m.groups()
                if path is not None and ("//" in path or "/." in path):  # _fast_match, inline
                    m = None
            if m is not None:
                lower = host.lower()
                hosts[i] = lower
                if path is not None and lower == host:  # already canonical
                    if expressions:
                        out[i] = url[len(scheme) + 3:] if scheme is not None else url
                    else:
                        out[i] = url if scheme is not None else "http://" + url
                elif expressions:
                    out[i] = f"{lower}{path or '/'}{query or ''}"
                else:
                    out[i] = f"{scheme or 'http'}://{lower}{path or '/'}{query or ''}"
                continue
        try:
            p = _checked_slow_parts(url)  # type: ignore[arg-type]
        except InvalidUrl as err:
            errors[i] = err
            hosts[i] = ""
            out[i] = None
            continue
        hosts[i] = p.host
        out[i] = p.expression if expressions else str(p)
    return hosts, out, errors


def canonical_hosts_and_urls(urls: Sequence[object]) -> tuple[list[str], list[str | None], dict[int, InvalidUrl]]:
    """Hosts and canonical URLs of many URLs at once: the hot path of a batch check.

    Returns ``(hosts, canonical URLs, errors)``, the first two in the order of
    ``urls``; a URL that cannot be read has host ``""``, canonical URL ``None`` and its
    :class:`InvalidUrl` in ``errors`` under its position. Checks need only these two
    for the great majority of URLs (those whose host is not listed at all).
    """
    return _canonical_batch(urls, False)


def canonical_hosts_and_expressions(urls: Sequence[object]
                                    ) -> tuple[list[str], list[str | None], dict[int, InvalidUrl]]:
    """Hosts and lookup expressions (canonical URL without scheme) of many URLs: the
    hot path of loading a list. Errors as in :func:`canonical_hosts_and_urls`."""
    return _canonical_batch(urls, True)


def canonical_host_and_url(url: str | bytes) -> tuple[str, str]:
    """``(host, canonical URL)`` of one URL (see :func:`canonical_hosts_and_urls`).

    Raises :class:`InvalidUrl` (or :class:`UrlTooLong`) like :func:`canonical_parts`.
    """
    hosts, canon, errors = canonical_hosts_and_urls((url,))
    if errors:
        raise errors[0]
    return hosts[0], canon[0]  # type: ignore[return-value]


def canonicalize(url: str | bytes) -> str:
    """The canonical form of ``url`` by Safe Browsing's rules (see the module docstring).

    >>> canonicalize("http://www.GOOgle.com/")
    'http://www.google.com/'
    >>> canonicalize("http://3279880203/blah")
    'http://195.127.0.11/blah'
    """
    return str(canonical_parts(url))


# --------------------------------------------------------------------------- expressions

_IPV4_DOTTED = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")


def is_ip_host(host: str) -> bool:
    """Whether a *canonical* host is an IP address (no suffix expressions for those)."""
    if host[:1] == "[":
        return True
    return host[-1:].isdigit() and _IPV4_DOTTED.fullmatch(host) is not None


def host_suffixes(host: str) -> list[str]:
    """The exact host, then up to four suffixes from the last five labels down to two.

    The top-level domain alone is never a suffix; IP hosts have no suffixes.
    """
    n = host.count(".") + 1
    if n <= 2 or is_ip_host(host):
        return [host]
    out = [host]
    k = min(_MAX_SUFFIX_LABELS, n - 1)
    pos = len(host)
    for _ in range(k):
        pos = host.rfind(".", 0, pos)
    for _ in range(k - 1):  # suffixes of k, k-1, …, 2 labels
        out.append(host[pos + 1:])
        pos = host.find(".", pos + 1)
    return out


def path_prefixes(path: str, query: str | None) -> list[str]:
    """Exact path with query, exact path, then ``/`` and up to three directory prefixes."""
    out = []
    if query is not None:
        out.append(f"{path}?{query}")
    out.append(path)
    prefix = "/"
    components = path.split("/")[1:-1]  # directories only: the last component is a file
    for i in range(_MAX_PATH_PREFIXES):
        if prefix not in out:
            out.append(prefix)
        if i >= len(components):
            break
        prefix = prefix + components[i] + "/"
    return out


def expressions_of(parts: CanonicalUrl) -> list[str]:
    """Lookup expressions of an already canonical URL (see :func:`expressions`)."""
    paths = path_prefixes(parts.path, parts.query)
    return [h + p for h in host_suffixes(parts.host) for p in paths]


def expressions(url: str | bytes) -> list[str]:
    """The host-suffix × path-prefix lookup expressions of ``url``, without scheme.

    In the order the Safe Browsing spec lists them: for each host (exact first, then
    shorter suffixes), the exact path with query, without query, then the prefixes
    from ``/`` down.

    >>> expressions("http://a.b.c/1/2.html?param=1")  # doctest: +NORMALIZE_WHITESPACE
    ['a.b.c/1/2.html?param=1', 'a.b.c/1/2.html', 'a.b.c/', 'a.b.c/1/',
     'b.c/1/2.html?param=1', 'b.c/1/2.html', 'b.c/', 'b.c/1/']
    """
    return expressions_of(canonical_parts(url))


# --------------------------------------------------------------------------- IDN report

@dataclass(frozen=True)
class HostReport:
    """What a person should know about a host before trusting its look.

    ``mixed_script`` follows the spirit of Unicode TS #39's "highly restrictive" level:
    a label may use one script, or Latin together with the scripts Chinese, Japanese
    and Korean are written in; anything else (Latin with Cyrillic, say) is how
    homoglyph phishing domains are made. ``lookalike`` flags a label written wholly in
    non-Latin letters that all have Latin twins (``аррӏе`` in Cyrillic), and
    ``skeleton`` is the host with such letters replaced, to compare against protected
    names (bank and payment brands).
    """

    host: str                 # canonical (ASCII / Punycode) host
    unicode_host: str         # as a person sees it
    idn: bool                 # has at least one Punycode label
    scripts: tuple[str, ...]  # scripts of the letters, sorted
    mixed_script: bool
    lookalike: bool
    skeleton: str

    @property
    def suspicious(self) -> bool:
        return self.mixed_script or self.lookalike


_ALLOWED_MIXES = (
    frozenset({"Latin", "Han", "Hiragana", "Katakana"}),
    frozenset({"Latin", "Han", "Bopomofo"}),
    frozenset({"Latin", "Han", "Hangul"}),
)

# Non-Latin letters commonly used as Latin look-alikes (Cyrillic, Greek, Armenian and a
# few Latin-extended letters), mapped to the Latin letter they imitate.
_LOOKALIKES = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j",
    "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "ԛ": "q",
    "ѕ": "s", "т": "t", "у": "y", "х": "x", "ԝ": "w", "ԁ": "d", "ɡ": "g", "ь": "b",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "ω": "w", "γ": "y",
    "օ": "o", "ս": "u", "հ": "h", "ո": "n", "ց": "g", "զ": "q",
    "ı": "i", "ł": "l", "ø": "o",
}

_SCRIPT_ALIASES = {"CJK": "Han", "IDEOGRAPHIC": "Han"}


def _script(ch: str) -> str | None:
    """The script of a letter, from its Unicode name; ``None`` for digits, '-', marks."""
    if not ch.isalpha():
        return None
    try:
        first = unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return "Unknown"
    return _SCRIPT_ALIASES.get(first, first.capitalize())


def _unicode_label(label: str) -> str:
    if label.startswith("xn--"):
        try:
            return idna.decode(label)
        except Exception:
            try:
                return label[4:].encode("ascii").decode("punycode")
            except Exception:
                return label
    return label


def host_report(url: str | bytes) -> HostReport:
    """Canonicalise ``url`` and report its host's scripts and look-alike letters."""
    host = canonical_parts(url).host
    labels = [_unicode_label(lab) for lab in host.split(".")]
    all_scripts: set[str] = set()
    mixed = False
    lookalike = False
    skeleton_labels = []
    for label in labels:
        scripts = {s for s in map(_script, label) if s is not None}
        all_scripts |= scripts
        if len(scripts) > 1 and not any(scripts <= allowed for allowed in _ALLOWED_MIXES):
            mixed = True
        letters = [c for c in label if c.isalpha()]
        if letters and "Latin" not in scripts and all(c in _LOOKALIKES for c in letters):
            lookalike = True
        skeleton_labels.append("".join(_LOOKALIKES.get(c, c) for c in label))
    return HostReport(
        host=host,
        unicode_host=".".join(labels),
        idn=any(lab.startswith("xn--") for lab in host.split(".")),
        scripts=tuple(sorted(all_scripts)),
        mixed_script=mixed,
        lookalike=lookalike,
        skeleton=".".join(skeleton_labels),
    )
