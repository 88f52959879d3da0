"""Versioned hash-prefix lists, and the diffs that carry a client from one to the next.

Why: a browser plug-in, a carrier's SMS gateway or a bank app should check URLs
locally, without telling the centre every URL its users visit. It holds the sorted
4-byte prefixes of the listed expressions; only when one of a URL's expressions hits
a prefix does it ask the centre for the full hashes under that prefix
(:meth:`~fanzha.intercept.blocklist.Blocklist.full_hashes`). Two million entries are
8 MB of prefixes; sending the whole list on every change would be wasteful, so a
client sends its version and receives a diff.

A diff, as in Safe Browsing's update protocol, has *removals* as indices into the
client's current sorted list and *additions* as raw prefixes; the client applies the
removals, merges the additions, and checks the SHA-256 of the resulting list (the
big-endian prefixes concatenated in order) against the checksum sent. A mismatch means
the client's copy was damaged and it must fetch the full list.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import numpy as np

__all__ = ["PrefixList", "PrefixDiff", "diff", "apply_diff", "ChecksumMismatch"]


class ChecksumMismatch(ValueError):
    """The list after applying a diff is not the one the server described."""


def _checksum(prefixes: np.ndarray) -> str:
    return hashlib.sha256(prefixes.astype(">u4").tobytes()).hexdigest()


def _normalise(prefixes: np.ndarray) -> np.ndarray:
    a = np.asarray(prefixes, dtype=np.uint32)
    if len(a) == 0:
        return a
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))]


@dataclass(frozen=True)
class PrefixList:
    """One version of the prefix list: sorted, distinct ``uint32`` prefixes."""

    version: int
    prefixes: np.ndarray

    @classmethod
    def of(cls, version: int, prefixes: np.ndarray) -> PrefixList:
        return cls(version, _normalise(prefixes))

    @property
    def checksum(self) -> str:
        return _checksum(self.prefixes)

    def __contains__(self, prefix: int) -> bool:
        i = int(np.searchsorted(self.prefixes, prefix))
        return i < len(self.prefixes) and int(self.prefixes[i]) == prefix

    def to_json(self) -> dict:
        """The full list, for a client with no copy (or a damaged one)."""
        return {"version": self.version, "prefix_size": 4,
                "prefixes": base64.b64encode(self.prefixes.astype(">u4").tobytes()).decode(),
                "checksum": self.checksum}

    @classmethod
    def from_json(cls, doc: dict) -> PrefixList:
        raw = base64.b64decode(doc["prefixes"])
        pl = cls(int(doc["version"]), np.frombuffer(raw, dtype=">u4").astype(np.uint32))
        if pl.checksum != doc["checksum"]:
            raise ChecksumMismatch("prefix list does not match its checksum")
        return pl


@dataclass(frozen=True)
class PrefixDiff:
    """What turns version ``from_version`` into ``to_version``."""

    from_version: int
    to_version: int
    removals: np.ndarray   # indices into the old sorted list (int64, ascending)
    additions: np.ndarray  # prefixes (uint32, sorted)
    checksum: str          # of the new list

    def to_json(self) -> dict:
        return {"from_version": self.from_version, "to_version": self.to_version,
                "prefix_size": 4,
                "removals": [int(i) for i in self.removals],
                "additions": base64.b64encode(self.additions.astype(">u4").tobytes()).decode(),
                "checksum": self.checksum}

    @classmethod
    def from_json(cls, doc: dict) -> PrefixDiff:
        adds = np.frombuffer(base64.b64decode(doc["additions"]), dtype=">u4").astype(np.uint32)
        return cls(int(doc["from_version"]), int(doc["to_version"]),
                   np.asarray(doc["removals"], dtype=np.int64), adds, str(doc["checksum"]))


def diff(old: PrefixList, new: PrefixList) -> PrefixDiff:
    """The diff from ``old`` to ``new`` (versions must increase)."""
    if new.version <= old.version:
        raise ValueError(f"new version {new.version} is not after {old.version}")
    removed = ~np.isin(old.prefixes, new.prefixes, assume_unique=True)
    added = ~np.isin(new.prefixes, old.prefixes, assume_unique=True)
    return PrefixDiff(old.version, new.version, np.flatnonzero(removed).astype(np.int64),
                      new.prefixes[added], new.checksum)


def apply_diff(current: PrefixList, d: PrefixDiff) -> PrefixList:
    """Apply ``d`` to the client's ``current`` list; verify the checksum."""
    if d.from_version != current.version:
        raise ValueError(f"diff is from version {d.from_version}, list is {current.version}")
    if len(d.removals) and (d.removals.min() < 0 or d.removals.max() >= len(current.prefixes)):
        raise ChecksumMismatch("diff removes prefixes the list does not have")
    keep = np.ones(len(current.prefixes), dtype=bool)
    keep[d.removals] = False
    merged = _normalise(np.concatenate([current.prefixes[keep], d.additions]))
    result = PrefixList(d.to_version, merged)
    if result.checksum != d.checksum:
        raise ChecksumMismatch(f"list after diff to version {d.to_version} does not match")
    return result
