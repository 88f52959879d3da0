"""The life cycle of one blocklist or allowlist entry, as plain data.

Why explicit: lists that expire entries implicitly (by a cache TTL, by "last import
wins") block innocent numbers long after they were reassigned, or let a fraud site
drop off while it is still live. Here every entry says where it came from, how sure
we are, until when it holds, and whether it was revoked; being seen again extends it.

An entry is *active* at time ``t`` when it is not revoked and ``t < valid_until``
(the boundary instant itself is already expired). Times are timezone-aware; naive
datetimes are refused rather than guessed.

The store keeps these records; :class:`~fanzha.intercept.blocklist.Blocklist` holds
the same fields column-wise for millions of entries.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

__all__ = ["EntryKind", "Entry", "require_aware", "to_epoch_us", "from_epoch_us"]


class EntryKind(str, enum.Enum):
    url = "url"
    phone = "phone"


def require_aware(t: datetime, name: str = "time") -> datetime:
    """Refuse naive datetimes: a list shared with carriers must not depend on a local clock."""
    if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {t!r}")
    return t


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_epoch_us(t: datetime) -> int:
    """Microseconds since the Unix epoch (UTC), the unit the index stores."""
    return (require_aware(t) - _EPOCH) // timedelta(microseconds=1)


def from_epoch_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


@dataclass(frozen=True)
class Entry:
    """One listed identifier.

    ``value`` is the identifier as given; the index canonicalises it (URLs by Safe
    Browsing rules, numbers to E.164 or the service key). ``score`` is the detector's
    or analyst's confidence in [0, 1]. ``entry_id`` is the store's id, reported back in
    verdicts so an analyst can open the record behind a block.
    """

    kind: EntryKind
    value: str
    source: str
    score: float
    first_seen: datetime
    valid_until: datetime
    revoked: bool = False
    entry_id: int | None = None
    last_seen: datetime | None = None

    def __post_init__(self) -> None:
        require_aware(self.first_seen, "first_seen")
        require_aware(self.valid_until, "valid_until")
        if self.last_seen is not None:
            require_aware(self.last_seen, "last_seen")
        if not 0.0 <= float(self.score) <= 1.0:
            raise ValueError(f"score must be within [0, 1], got {self.score}")
        object.__setattr__(self, "kind", EntryKind(self.kind))

    def active_at(self, at: datetime) -> bool:
        """Whether the entry blocks (or allows) at ``at``: not revoked and ``at < valid_until``."""
        return not self.revoked and require_aware(at, "at") < self.valid_until

    def seen_again(self, at: datetime, ttl: timedelta, score: float | None = None) -> Entry:
        """The entry after another sighting at ``at``: valid for at least ``ttl`` more.

        Never shortens ``valid_until``; raises the score if the new sighting is surer.
        A revoked entry stays revoked: re-listing after an appeal is a person's decision.
        """
        require_aware(at, "at")
        until = max(self.valid_until, at + ttl)
        new_score = self.score if score is None else max(self.score, float(score))
        return replace(self, valid_until=until, score=new_score,
                       last_seen=max(at, self.last_seen or at))

    def revoke(self) -> Entry:
        """The entry after an appeal is upheld or the detection is withdrawn."""
        return replace(self, revoked=True)
