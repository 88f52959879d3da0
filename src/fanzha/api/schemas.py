"""Request and response bodies. Money crosses the wire as yuan strings ("990000.00")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from fanzha.errors import nul_refusal
from fanzha.money import AmountError, format_fen, parse_yuan


def yuan_to_fen(value: str | None, *, allow_zero: bool = False) -> int | None:
    if value is None:
        return None
    try:
        return parse_yuan(value, allow_zero=allow_zero)
    except AmountError as err:
        raise ValueError(str(err)) from None


def _nul_refusal(value: Any) -> str | None:
    """:func:`~fanzha.errors.nul_refusal` of a value: a string, or the strings of the
    lists and dicts in it."""
    if isinstance(value, str):
        return nul_refusal(value)
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple, set, frozenset)):
        return "holds a NUL character" if any(_nul_refusal(v) for v in value) else None
    return None


class Body(BaseModel):
    """A request body. A NUL character in any of its text is refused (422 naming the
    field) on either database: PostgreSQL's text cannot hold one, SQLite's would keep it."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        why = _nul_refusal(value)
        if why:
            raise ValueError(why)
        return value


class Strict(Body):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    expires_in: int


class IdentifierIn(Strict):
    kind: str = Field(pattern="^(phone|bank_card|url|domain|qq|wechat|ip|email|device|app|alipay)$")
    value: str = Field(min_length=1, max_length=512)


class VictimIn(Strict):
    name: str = Field(default="", max_length=64)
    phone: str = Field(default="", max_length=32)
    id_number: str = Field(default="", max_length=32)
    account: str = Field(default="", max_length=64)


class ReportIn(Strict):
    """A report as a station officer's form or a platform feed sends it."""

    external_id: str | None = Field(default=None, max_length=64)
    received_at: AwareDatetime
    district: str = Field(default="", max_length=64)
    address: str = Field(default="", max_length=256)
    scam_type: str | None = Field(default=None, max_length=32)
    loss: str | None = Field(default=None, description="yuan; absent: read from the text")
    paid_at: AwareDatetime | None = Field(default=None, description="the last payment; recent → emergency")
    caller: str = Field(default="", max_length=32)
    text: str = Field(min_length=1, max_length=100_000)
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=1000)
    victim: VictimIn | None = None

    @field_validator("loss")
    @classmethod
    def _loss(cls, v: str | None) -> str | None:
        yuan_to_fen(v, allow_zero=True)
        return v


class CaseOut(BaseModel):
    case_no: str
    opened_at: datetime
    status: str
    scam_type: str | None
    unit: str | None
    loss: str
    emergency: bool
    summary: str


class CaseDetail(CaseOut):
    escalated_to: str | None
    timeline: list[dict[str, Any]]
    reports: list[dict[str, Any]]
    victims: list[dict[str, Any]]
    orders: list[dict[str, Any]]


class OrderIn(Strict):
    case_no: str = Field(min_length=1, max_length=32)
    kind: str
    institution: str = Field(min_length=1, max_length=32)
    target: str = Field(min_length=1, max_length=512)
    amount: str | None = None
    legal_basis: str = Field(min_length=1, max_length=256)
    idempotency_key: str | None = Field(default=None, min_length=8, max_length=64)
    expires_at: AwareDatetime | None = None

    @field_validator("amount")
    @classmethod
    def _amount(cls, v: str | None) -> str | None:
        yuan_to_fen(v)
        return v


class OrderAnswerIn(Strict):
    state: str = Field(pattern="^(acknowledged|done|rejected)$")
    note: str = Field(default="", max_length=2000)
    answer: dict[str, Any] = Field(default_factory=dict)


class OrderOut(BaseModel):
    id: int
    case_no: str
    kind: str
    institution: str
    target: str
    amount: str | None
    legal_basis: str
    idempotency_key: str
    state: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    answer: dict[str, Any] | None
    events: list[dict[str, Any]]


class UserIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: str
    display_name: str = ""
    unit: str | None = None
    institution: str | None = None


class ClientIn(Strict):
    name: str = Field(min_length=1, max_length=128)
    role: str
    institution: str | None = None


def fen_str(fen: int | None) -> str | None:
    return None if fen is None else format_fen(fen)
