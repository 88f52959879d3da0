"""Interception: blocklists of fraud phone numbers and URLs (诈骗电话打不进、诈骗网站登不上).

Carriers, DNS resolvers and browsers ask "is this number / URL fraud?" at high rate, so
the core follows the shape of Google Safe Browsing's local database: canonicalise the
identifier, expand a URL into host-suffix × path-prefix expressions, hash them, and look
the hashes up in a compact in-memory set. An allowlist (the appeal path for wrongly
blocked numbers and sites) always wins over the blocklist, and every entry carries an
explicit life cycle (source, score, valid-until, revoked).

Modules:

* :mod:`.urls` — URL canonicalisation and lookup expressions (the ``intercept canon``
  contract), IDN and homoglyph reporting.
* :mod:`.phones` — phone numbers to E.164, and the key used for domestic service
  numbers that have no E.164 form.
* :mod:`.entries` — the life cycle of one blocklist or allowlist entry, as plain data.
* :mod:`.blocklist` — the compact index and the checks (single and batch).
* :mod:`.prefixes` — versioned hash-prefix lists and their diffs, for clients that
  check locally.
* :mod:`.rpz` — DNS Response Policy Zone export for resolvers.
* :mod:`.listfile` — the plain list file the CLI reads.
* :mod:`.cli` — ``fanzha intercept …``.
"""

from __future__ import annotations

from fanzha.intercept.errors import InvalidPhone, InvalidUrl, UrlTooLong

__all__ = ["InvalidPhone", "InvalidUrl", "UrlTooLong"]
