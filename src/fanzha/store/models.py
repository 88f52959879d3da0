"""The core of the domain as tables.

Names follow the glossary in MISSION.md. Money columns are integer fen (``*_fen``);
times are timezone-aware and stored in UTC (:class:`UTCDateTime`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from fanzha.store.types import OutsideText, UTCDateTime, utcnow


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


# --- organisation -------------------------------------------------------------------

class Unit(Base):
    """A police unit: the city bureau, a district branch, or a station (派出所)."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # city | district | station
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    parent: Mapped["Unit | None"] = relationship(remote_side="Unit.id", back_populates="children")
    children: Mapped[list["Unit"]] = relationship(back_populates="parent")
    zones: Mapped[list["UnitZone"]] = relationship(back_populates="unit", cascade="all, delete-orphan")


class UnitZone(Base):
    """A district (and optionally a street or community in it) a unit is responsible for (分片包干)."""

    __tablename__ = "unit_zones"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    district: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(128), default="")
    unit: Mapped[Unit] = relationship(back_populates="zones")
    __table_args__ = (UniqueConstraint("unit_id", "district", "zone"),)


class Institution(Base):
    """A bank, payment company, or basic / virtual operator the centre sends orders to."""

    __tablename__ = "institutions"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    api_url: Mapped[str | None] = mapped_column(String(512))  # None: answers through the liaison's inbox
    # gateway: per-institution dispatch limits; None takes the dispatcher's defaults
    max_in_flight: Mapped[int | None] = mapped_column(Integer)
    rate_per_minute: Mapped[int | None] = mapped_column(Integer)
    timeout_ms: Mapped[int | None] = mapped_column(Integer)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    unit: Mapped[Unit | None] = relationship()
    institution: Mapped[Institution | None] = relationship()


class ApiClient(Base):
    """Another system (the 110 platform, an institution, a carrier) with an API key.

    Only a hash of the key is kept; the key itself is shown once when it is made.
    """

    __tablename__ = "api_clients"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    institution: Mapped[Institution | None] = relationship()


# --- reports and cases --------------------------------------------------------------

class Case(Base):
    """A case (案件): one or more reports about the same fraud, owned by a unit."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(32), unique=True)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    scam_type: Mapped[str | None] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    loss_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[str] = mapped_column(Text, default="")
    escalated_to_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # 上抓一级
    unit: Mapped[Unit | None] = relationship(foreign_keys=[unit_id])
    escalated_to: Mapped[Unit | None] = relationship(foreign_keys=[escalated_to_id])
    reports: Mapped[list["Report"]] = relationship(back_populates="case")
    victims: Mapped[list["Victim"]] = relationship(back_populates="case", cascade="all, delete-orphan")
    events: Mapped[list["CaseEvent"]] = relationship(back_populates="case", order_by="CaseEvent.id",
                                                     cascade="all, delete-orphan")


class Report(Base):
    """A report (警情) as it arrived, with its source."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))  # 110 | national_platform | station | victim | import
    external_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column()
    district: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(String(256), default="")
    scam_type: Mapped[str | None] = mapped_column(String(32))
    loss_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    text: Mapped[str] = mapped_column(Text, default="")
    caller: Mapped[str] = mapped_column(String(32), default="", index=True)  # E.164 where known
    paid_at: Mapped[datetime | None] = mapped_column()  # the last payment the report mentions
    fingerprint: Mapped[str | None] = mapped_column(String(32), index=True)  # same call twice
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(128), default="")
    case: Mapped[Case | None] = relationship(back_populates="reports")
    identifiers: Mapped[list["Identifier"]] = relationship(back_populates="report", cascade="all, delete-orphan")
    __table_args__ = (UniqueConstraint("source", "external_id"),)


class ReportAlias(Base):
    """Another platform's id for a call already on file: the call sent again under that
    id was a duplicate and wrote no report, so the id is kept here, with the report it
    names, for a later report under the same id to be known as that call too."""

    __tablename__ = "report_aliases"
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    __table_args__ = (UniqueConstraint("source", "external_id"),)


class CaseEvent(Base):
    """One step on a case's timeline: filed, routed, escalated, emergency, order sent…"""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    case: Mapped[Case] = relationship(back_populates="events")


class Victim(Base):
    __tablename__ = "victims"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    id_number: Mapped[str] = mapped_column(String(32), default="")
    account: Mapped[str] = mapped_column(String(64), default="")  # where restitution goes back to
    loss_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    case: Mapped[Case] = relationship(back_populates="victims")


class Identifier(Base):
    """A phone, card, URL, QQ, WeChat, IP… named in a report: what links reports."""

    __tablename__ = "identifiers"
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(512))
    report: Mapped[Report] = relationship(back_populates="identifiers")
    __table_args__ = (Index("ix_identifiers_kind_value", "kind", "value"),)


class Account(Base):
    """A bank card or payment account known to the centre (涉案账户 and victims' own)."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    holder: Mapped[str] = mapped_column(String(128), default="")
    institution: Mapped[Institution | None] = relationship()


class CaseAccount(Base):
    """An account's part in a case: victim's, receiving (layer 1), mule (layer n), cash-out."""

    __tablename__ = "case_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    layer: Mapped[int | None] = mapped_column(Integer)
    account: Mapped[Account] = relationship()
    __table_args__ = (UniqueConstraint("case_id", "account_id"),)


# --- outgoing orders ----------------------------------------------------------------

class Order(Base):
    """An order to an institution, written to the outbox with the decision that made it."""

    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    target: Mapped[str] = mapped_column(String(512))  # account number, phone or URL
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    legal_basis: Mapped[str] = mapped_column(String(256))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)
    answer: Mapped[dict[str, Any] | None] = mapped_column()
    # gateway: the outbox's claim (a lease a crashed dispatcher lets lapse), the next retry
    # time, why it is still waiting, and the loop round that decided it
    lease_until: Mapped[datetime | None] = mapped_column()
    leased_by: Mapped[str | None] = mapped_column(String(64))
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(OutsideText)
    round_no: Mapped[int] = mapped_column(Integer, default=0)
    case: Mapped[Case] = relationship()
    institution: Mapped[Institution] = relationship()
    events: Mapped[list["OrderEvent"]] = relationship(back_populates="order", order_by="OrderEvent.id",
                                                      cascade="all, delete-orphan")


class OrderEvent(Base):
    """One move of an order's state, with who moved it and why."""

    __tablename__ = "order_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(OutsideText, default="")
    order: Mapped[Order] = relationship(back_populates="events")


# --- tracing ------------------------------------------------------------------------

class Ledger(Base):
    """Transaction details received for a case, kept with their source and a content hash."""

    __tablename__ = "ledgers"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, … per case
    source: Mapped[str] = mapped_column(String(256))  # file name, or institution code
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    sha256: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    ledger_csv: Mapped[str] = mapped_column(Text)
    victims_csv: Mapped[str] = mapped_column(Text)
    accounts_csv: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    __table_args__ = (UniqueConstraint("case_id", "version"),)


class TraceResult(Base):
    """A trace as it was computed: rule, as-of and the ledger version it used."""

    __tablename__ = "trace_results"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    ledger_id: Mapped[int] = mapped_column(ForeignKey("ledgers.id"))
    rule: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    result: Mapped[dict[str, Any]] = mapped_column()
    ledger: Mapped[Ledger] = relationship()


# --- audit --------------------------------------------------------------------------

class AuditRecord(Base):
    """Append-only: who did what, when, on which case.

    Each record carries the hash of the one before, so a removed or altered record is
    visible; the database refuses UPDATE and DELETE on this table (a trigger, on both
    SQLite and PostgreSQL), and no API offers either.
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    actor_kind: Mapped[str] = mapped_column(String(16))  # user | client | system
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    resource: Mapped[str] = mapped_column(String(256))
    case_no: Mapped[str | None] = mapped_column(String(32), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The one-row head of the audit chain: taking it serialises writers on both databases."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


# --- gateway ------------------------------------------------------------------------

class OrderAttempt(Base):
    """One try at delivering an order, and how it went: the record of why an order waits.

    ``outcome`` is one of :class:`fanzha.gateway.dispatcher.Outcome`.
    """

    __tablename__ = "order_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    dispatcher: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column()
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(24))
    http_status: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(OutsideText, default="")


class GatewayCallback(Base):
    """Every callback that reached the centre, applied or not, with what became of it.

    ``outcome``: applied | duplicate | late | unknown_order | bad_signature | malformed.
    """

    __tablename__ = "gateway_callbacks"
    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    institution: Mapped[str] = mapped_column(String(32), default="")
    callback_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    status: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str] = mapped_column(OutsideText, default="")


# --- linking ---

class CaseLinkDecision(Base):
    """An analyst's word on whether two cases belong together (串并案).

    Links are views, not merges: a decision never rewrites either case. Rows are only
    added; the latest decision on a pair is the one in force, so a rejection is
    withdrawn by a later confirmation (``fanzha.linking.decisions``).
    """

    __tablename__ = "case_link_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_a_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    case_b_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    verdict: Mapped[str] = mapped_column(String(16))  # confirmed | rejected
    decided_by: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    case_a: Mapped[Case] = relationship(foreign_keys=[case_a_id])
    case_b: Mapped[Case] = relationship(foreign_keys=[case_b_id])


class SharedIndicator(Base):
    """An indicator another platform shared with the centre (a STIX 2.1 bundle from MISP,
    OpenCTI or another centre), kept with its source. One row per kind, value and source;
    importing it again refreshes the row."""

    __tablename__ = "shared_indicators"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(512))
    source: Mapped[str] = mapped_column(String(256))
    stix_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(256), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    labels: Mapped[list[Any]] = mapped_column(default=list)
    confidence: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[datetime | None] = mapped_column()
    valid_until: Mapped[datetime | None] = mapped_column()
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(128))
    __table_args__ = (UniqueConstraint("kind", "value", "source"),
                      Index("ix_shared_indicators_kind_value", "kind", "value"))


# --- interception ---

class InterceptEntry(Base):
    """One listed URL expression, number or number range, with its whole life cycle.

    ``listing`` is ``block`` or ``allow`` (the allowlist always wins). ``value`` is the
    canonical form: a URL's lookup expression (``evil.com/pay/``), a number in E.164
    (or the service key), a range as ``+86170*`` (a prefix) or ``+8617012340000..+8617012349999``.
    ``state`` is what was last written (active | expired | revoked); a check also
    compares ``valid_until`` with the time, so expiry is exact between sweeps.
    ``prefix`` is the 4-byte SHA-256 prefix of a URL expression (the local-check lists).
    """

    __tablename__ = "intercept_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    listing: Mapped[str] = mapped_column(String(8))       # block | allow
    kind: Mapped[str] = mapped_column(String(12))         # url | phone | phone_range
    value: Mapped[str] = mapped_column(Text)
    value_hash: Mapped[str] = mapped_column(String(64))   # SHA-256 of value: long URLs stay indexable
    prefix: Mapped[int | None] = mapped_column(BigInteger, index=True)
    source_kind: Mapped[str] = mapped_column(String(16))  # case | detector | feed | analyst
    source: Mapped[str] = mapped_column(String(128))      # case number, detector, feed or analyst name
    reason: Mapped[str] = mapped_column(Text, default="")
    score: Mapped[float] = mapped_column(default=1.0)
    first_seen: Mapped[datetime] = mapped_column()
    last_seen: Mapped[datetime] = mapped_column()
    valid_until: Mapped[datetime] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(String(8), default="active", index=True)
    sightings: Mapped[int] = mapped_column(Integer, default=1)
    hits: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hit_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    events: Mapped[list["InterceptEvent"]] = relationship(back_populates="entry", order_by="InterceptEvent.id",
                                                          cascade="all, delete-orphan")
    __table_args__ = (UniqueConstraint("listing", "kind", "value_hash"),)


class InterceptEvent(Base):
    """One step in an entry's history: listed, sighted, expired, revoked, reinstated, appealed…"""

    __tablename__ = "intercept_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("intercept_entries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    entry: Mapped[InterceptEntry] = relationship(back_populates="events")


class InterceptAppeal(Base):
    """A blocked person's or business's appeal, and the analyst's decision on it."""

    __tablename__ = "intercept_appeals"
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("intercept_entries.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))         # url | phone
    value: Mapped[str] = mapped_column(Text)              # what the appellant says is blocked (canonical)
    appellant: Mapped[str] = mapped_column(String(128))
    contact: Mapped[str] = mapped_column(String(128), default="")
    statement: Mapped[str] = mapped_column(Text, default="")
    filed_by: Mapped[str] = mapped_column(String(128))
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(10), default="pending", index=True)  # pending | upheld | rejected
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_note: Mapped[str] = mapped_column(Text, default="")
    entry: Mapped[InterceptEntry | None] = relationship()


class InterceptListHead(Base):
    """The one-row version of the lists: bumped by every change, taken first (a lock)."""

    __tablename__ = "intercept_list_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[datetime | None] = mapped_column()


class InterceptPrefixChange(Base):
    """A 4-byte prefix entering (``added``) or leaving the local-check list at ``version``."""

    __tablename__ = "intercept_prefix_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, index=True)
    prefix: Mapped[int] = mapped_column(BigInteger)
    added: Mapped[bool] = mapped_column(Boolean)


class InterceptHitCount(Base):
    """Checks answered per day (Asia/Shanghai), kind and outcome: the interception figures."""

    __tablename__ = "intercept_hit_counts"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[str] = mapped_column(String(10))      # 2024-05-01
    kind: Mapped[str] = mapped_column(String(8))      # url | phone
    outcome: Mapped[str] = mapped_column(String(16))  # a verdict reason: listed, allowlisted, not_listed…
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    __table_args__ = (UniqueConstraint("day", "kind", "outcome"),)
