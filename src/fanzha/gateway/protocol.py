"""The institution protocol, ``fanzha-institution/1``: one request shape for ~100 institutions.

A request is ``POST {institution base URL}/v1/{kind}`` (``/v1/stop-payment``…) with a
JSON body and the signature headers of :mod:`fanzha.gateway.signing`. Every request
carries the case number, the legal basis and an idempotency key (``request_id``): an
institution that sees the same key again must answer as the first time and act only
once, so the centre may resend whenever it is unsure a request arrived.

An institution answers either at once (``status: done`` or ``rejected`` with a result)
or with ``status: accepted`` and later a signed callback, ``POST`` to the
``callback_url`` the request named, carrying the same ``request_id``. Answers are
signed like requests. Amounts are yuan strings with two places, never floats.

The models here are the contract; the simulator's FastAPI app serves them as the
protocol's own OpenAPI document (``fanzha gateway protocol``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from fanzha.gateway.orders import MONEY_ORDERS, OrderKind
from fanzha.gateway.signing import PROTOCOL
from fanzha.money import AmountError, parse_yuan

__all__ = ["PROTOCOL", "REQUEST_MODELS", "RESULT_MODELS", "Answer", "Callback", "MalformedAnswer",
           "LedgerRow", "path_for", "kind_of_path", "parse_answer", "parse_callback", "request_body"]

Yuan = Annotated[str, Field(pattern=r"^\d+(\.\d{1,2})?$", examples=["990000.00"],
                            description="yuan, decimal, at most two places")]


def _check_yuan(v: str | None) -> str | None:
    if v is not None:
        try:
            parse_yuan(v, allow_zero=True)
        except AmountError as err:
            raise ValueError(str(err)) from None
    return v


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests -----------------------------------------------------------------------

class _Request(_Model):
    protocol: Literal["fanzha-institution/1"] = PROTOCOL
    request_id: str = Field(min_length=8, max_length=64,
                            description="the idempotency key: the same key again is the same request")
    case_no: str = Field(min_length=1, max_length=32, description="the centre's case number")
    legal_basis: str = Field(min_length=1, max_length=256, description="the law and article the order rests on")
    target: str = Field(min_length=1, max_length=512)
    sent_at: AwareDatetime
    callback_url: str | None = Field(default=None, description="where to POST the answer if not given at once")
    expires_at: AwareDatetime | None = Field(default=None, description="a hold's end; none: the statutory term")


class AccountHolderRequest(_Request):
    """账户持有人查询: who holds an account, at which branch, and its balance."""
    kind: Literal["account_holder"] = "account_holder"


class TransactionDetailsRequest(_Request):
    """交易明细查询: an account's transfers, in the ledger's columns."""
    kind: Literal["transaction_details"] = "transaction_details"
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class _MoneyRequest(_Request):
    amount: Yuan

    _yuan = field_validator("amount")(_check_yuan)


class StopPaymentRequest(_MoneyRequest):
    """紧急止付: hold up to ``amount`` of the account's balance at once."""
    kind: Literal["stop_payment"] = "stop_payment"


class FreezeRequest(_MoneyRequest):
    """冻结: a judicial freeze of up to ``amount``."""
    kind: Literal["freeze"] = "freeze"


class UnfreezeRequest(_MoneyRequest):
    """解冻: release up to ``amount`` of this case's holds on the account."""
    kind: Literal["unfreeze"] = "unfreeze"


class NumberOwnerRequest(_Request):
    """号码机主查询: who a phone number is registered to."""
    kind: Literal["number_owner"] = "number_owner"


class NumberShutdownRequest(_Request):
    """关停: stop service on a phone number."""
    kind: Literal["number_shutdown"] = "number_shutdown"


class UrlTakedownRequest(_Request):
    """网址封堵: take a URL (or its domain) down."""
    kind: Literal["url_takedown"] = "url_takedown"


REQUEST_MODELS: dict[OrderKind, type[_Request]] = {
    OrderKind.account_holder: AccountHolderRequest,
    OrderKind.transaction_details: TransactionDetailsRequest,
    OrderKind.stop_payment: StopPaymentRequest,
    OrderKind.freeze: FreezeRequest,
    OrderKind.unfreeze: UnfreezeRequest,
    OrderKind.number_owner: NumberOwnerRequest,
    OrderKind.number_shutdown: NumberShutdownRequest,
    OrderKind.url_takedown: UrlTakedownRequest,
}

AnyRequest = Annotated[Union[tuple(REQUEST_MODELS.values())], Field(discriminator="kind")]  # type: ignore[valid-type]


def path_for(kind: OrderKind | str) -> str:
    """``stop_payment`` → ``/v1/stop-payment``."""
    return "/v1/" + OrderKind(kind).value.replace("_", "-")


def kind_of_path(path: str) -> OrderKind:
    return OrderKind(path.rstrip("/").rsplit("/", 1)[-1].replace("-", "_"))


def request_body(*, kind: str, request_id: str, case_no: str, legal_basis: str, target: str,
                 amount: str | None, sent_at: datetime, callback_url: str | None,
                 expires_at: datetime | None = None) -> bytes:
    """The JSON body of a request, validated against its model before it leaves."""
    model = REQUEST_MODELS[OrderKind(kind)]
    fields: dict[str, Any] = dict(request_id=request_id, case_no=case_no, legal_basis=legal_basis,
                                  target=target, sent_at=sent_at, callback_url=callback_url,
                                  expires_at=expires_at)
    if OrderKind(kind) in MONEY_ORDERS:
        fields["amount"] = amount
    return model(**fields).model_dump_json().encode()


# --- results ------------------------------------------------------------------------

class LedgerRow(_Model):
    """One transfer, in the columns of FORMATS.md's ``ledger.csv``."""
    txn_id: str
    timestamp: AwareDatetime
    from_account: str = ""
    to_account: str = ""
    amount: Yuan
    from_institution: str = ""
    to_institution: str = ""
    channel: str = ""
    currency: str = "CNY"
    memo: str = ""


class HolderResult(_Model):
    account: str
    holder: str
    institution: str
    balance: Yuan
    held: Yuan = "0.00"
    id_number: str | None = Field(default=None, max_length=18, description="the holder's resident ID number (身份还原)")
    phone: str | None = Field(default=None, max_length=32, description="the phone the holder registered")


class TransactionsResult(_Model):
    account: str
    institution: str
    balance: Yuan
    held: Yuan = "0.00"
    as_of: AwareDatetime = Field(description="the institution's time the rows run to")
    rows: list[LedgerRow]


class HoldResult(_Model):
    account: str
    hold_id: str
    requested: Yuan
    held: Yuan = Field(description="what was actually held: at most the balance not already held")
    balance: Yuan
    expires_at: AwareDatetime | None = None


class ReleaseResult(_Model):
    account: str
    released: Yuan
    balance: Yuan


class NumberOwnerResult(_Model):
    number: str
    owner: str
    operator: str


class ShutdownResult(_Model):
    number: str
    shut_at: AwareDatetime


class TakedownResult(_Model):
    url: str
    taken_down_at: AwareDatetime


RESULT_MODELS: dict[OrderKind, type[_Model]] = {
    OrderKind.account_holder: HolderResult,
    OrderKind.transaction_details: TransactionsResult,
    OrderKind.stop_payment: HoldResult,
    OrderKind.freeze: HoldResult,
    OrderKind.unfreeze: ReleaseResult,
    OrderKind.number_owner: NumberOwnerResult,
    OrderKind.number_shutdown: ShutdownResult,
    OrderKind.url_takedown: TakedownResult,
}


# --- answers and callbacks ------------------------------------------------------------

class Answer(_Model):
    """What an institution says to a request, at once or in a callback."""
    protocol: Literal["fanzha-institution/1"] = PROTOCOL
    request_id: str
    institution: str
    kind: OrderKind
    status: Literal["accepted", "done", "rejected"]
    reason: str = Field(default="", description="why rejected, or a note")
    answered_at: AwareDatetime
    result: dict[str, Any] | None = Field(default=None, description="the kind's result model when done")


class Callback(Answer):
    """A later answer, POSTed to the centre. ``callback_id`` is unique per message sent;
    the same callback delivered twice carries the same id."""
    callback_id: str = Field(min_length=1, max_length=64)
    status: Literal["done", "rejected"]


class MalformedAnswer(ValueError):
    """An answer that is not valid protocol: kept as the reason for a retry."""


def _check_result(answer: Answer) -> Answer:
    if answer.status == "done":
        if answer.result is None:
            raise MalformedAnswer("a done answer without a result")
        try:
            RESULT_MODELS[answer.kind].model_validate(answer.result)
        except ValidationError as err:
            raise MalformedAnswer(f"result is not a {answer.kind.value} result: {_short(err)}") from None
    return answer


def _short(err: ValidationError) -> str:
    first = err.errors()[0]
    return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}" + (
        f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else "")


def parse_answer(body: bytes, *, kind: OrderKind | str, request_id: str) -> Answer:
    """Validate an institution's answer to the request ``request_id`` of kind ``kind``."""
    try:
        answer = Answer.model_validate_json(body)
    except ValidationError as err:
        raise MalformedAnswer(f"not a protocol answer: {_short(err)}") from None
    if answer.request_id != request_id:
        raise MalformedAnswer(f"answer is for request {answer.request_id!r}, not {request_id!r}")
    if answer.kind != OrderKind(kind):
        raise MalformedAnswer(f"answer is for a {answer.kind.value}, not a {OrderKind(kind).value}")
    return _check_result(answer)


def parse_callback(body: bytes) -> Callback:
    try:
        cb = Callback.model_validate_json(body)
    except ValidationError as err:
        raise MalformedAnswer(f"not a protocol callback: {_short(err)}") from None
    _check_result(cb)
    return cb
