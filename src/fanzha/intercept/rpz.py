"""DNS Response Policy Zone (RPZ) export, for resolvers that intercept by name.

Why: most phones never run a URL check, but every one of them asks a resolver for the
host name first. A carrier's or campus resolver loading this zone answers NXDOMAIN
(``CNAME .``) for listed hosts and their subdomains — 诈骗网站登不上 without touching
the handset. BIND, Unbound, Knot Resolver and PowerDNS Recursor all read RPZ.

What DNS can express is narrower than a URL list:

* only whole-host entries (canonical path ``/``, no query) become rules; an entry for
  one page (``evil.com/pay/login``) cannot be blocked by name without blocking the
  whole host, so it is left out and counted;
* entries whose host is an IP address are left out (resolvers never see those);
* a rule blocks the host and every subdomain (``evil.com`` and ``*.evil.com``).

The allowlist wins here too: an allowlisted host gets ``rpz-passthru.`` rules, and
block rules under an allowlisted whole host are dropped (so a more specific block rule
cannot beat the allowlist by DNS precedence). An allowlisted page keeps its exact host
resolvable; over-blocking a legitimate site is worse than letting one listed page of
it through at DNS, where URL-aware clients still catch it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from fanzha.intercept.urls import CanonicalUrl, canonical_parts, is_ip_host

__all__ = ["RpzZone", "render_rpz"]

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?")


def _dns_name_ok(host: str) -> bool:
    return len(host) <= 253 and all(_LABEL.fullmatch(lab) for lab in host.split("."))


def _parents(host: str) -> list[str]:
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


@dataclass
class RpzZone:
    text: str
    serial: int
    blocked_hosts: int = 0
    allowed_hosts: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (value, why)

    def as_dict(self) -> dict:
        return {"serial": self.serial, "blocked_hosts": self.blocked_hosts,
                "allowed_hosts": self.allowed_hosts,
                "skipped": [{"value": v, "reason": r} for v, r in self.skipped],
                "zone": self.text}


def _parts(value: str | CanonicalUrl) -> CanonicalUrl:
    return value if isinstance(value, CanonicalUrl) else canonical_parts(value)


def render_rpz(block: Iterable[str | CanonicalUrl], allow: Iterable[str | CanonicalUrl] = (), *,
               serial: int | None = None, ttl: int = 300, mname: str = "localhost.",
               rname: str = "hostmaster.localhost.", refresh: int = 3600, retry: int = 600,
               expire: int = 86400, minimum: int = 300, origin: str | None = None,
               generated_at: datetime | None = None) -> RpzZone:
    """Render an RPZ zone file from the active block and allow values (URLs or domains).

    Values are canonicalised here; pass only active entries (the caller applies the
    life cycle). ``serial`` defaults to the generation time in Unix seconds, which
    increases with every export as RFC 1982 serial arithmetic needs.
    """
    generated_at = generated_at or datetime.now(timezone.utc)
    if serial is None:
        serial = int(generated_at.timestamp()) % (1 << 32)
    if not 0 <= serial < 1 << 32:
        raise ValueError("SOA serial must fit in 32 bits")
    zone = RpzZone(text="", serial=serial)

    allow_whole: set[str] = set()
    allow_exact: set[str] = set()
    for v in allow:
        p = _parts(v)
        if is_ip_host(p.host) or not _dns_name_ok(p.host):
            continue
        (allow_whole if (p.path == "/" and p.query is None) else allow_exact).add(p.host)

    block_hosts: set[str] = set()
    for v in block:
        p = _parts(v)
        shown = str(p)
        if is_ip_host(p.host):
            zone.skipped.append((shown, "IP host: resolvers never look it up"))
        elif not (p.path == "/" and p.query is None):
            zone.skipped.append((shown, "page entry: DNS can only block whole hosts"))
        elif not _dns_name_ok(p.host):
            zone.skipped.append((shown, "host is not a valid DNS name"))
        elif any(h in allow_whole for h in _parents(p.host)):
            zone.skipped.append((shown, "host is under an allowlisted host"))
        else:
            block_hosts.add(p.host)

    records: list[str] = []
    for h in sorted(block_hosts):
        if h not in allow_exact:
            records.append(f"{h} CNAME .")
        records.append(f"*.{h} CNAME .")
    for h in sorted(allow_whole):
        records.append(f"{h} CNAME rpz-passthru.")
        records.append(f"*.{h} CNAME rpz-passthru.")
    for h in sorted(allow_exact - allow_whole):
        records.append(f"{h} CNAME rpz-passthru.")
    zone.blocked_hosts = len(block_hosts)
    zone.allowed_hosts = len(allow_whole | allow_exact)

    stamp = generated_at.astimezone(timezone.utc).isoformat(timespec="seconds")
    head = [
        "; fanzha interception: DNS response policy zone",
        f"; generated {stamp}; {zone.blocked_hosts} hosts blocked, "
        f"{zone.allowed_hosts} allowed, {len(zone.skipped)} entries not expressible in DNS",
    ]
    if origin:
        head.append(f"$ORIGIN {origin if origin.endswith('.') else origin + '.'}")
    head += [
        f"$TTL {ttl}",
        f"@ IN SOA {mname} {rname} ( {serial} {refresh} {retry} {expire} {minimum} )",
        f"@ IN NS {mname}",
    ]
    zone.text = "\n".join(head + records) + "\n"
    return zone
