"""Signatures and the protocol's models, without a network or a database."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, strategies as st

from fanzha.gateway import protocol as p
from fanzha.gateway.orders import OrderKind
from fanzha.gateway.signing import (H_TIMESTAMP, PROTOCOL, Keyring, SignatureError, signed_headers,
                                    verify)

NOW = 1_714_000_000.0
KEYS = Keyring.generate(["ICBC", "ALIPAY"])


def test_a_signed_message_verifies_and_names_its_institution():
    h = signed_headers(KEYS.get("ICBC"), "ICBC", "POST", "/v1/stop-payment", b'{"a":1}', now=NOW)
    assert verify(KEYS, h, "POST", "/v1/stop-payment", b'{"a":1}', now=NOW + 10) == "ICBC"


@pytest.mark.parametrize("change, why", [
    (dict(body=b'{"a":2}'), "does not match"),
    (dict(path="/v1/freeze"), "does not match"),
    (dict(method="ANSWER"), "does not match"),
    (dict(now=NOW + 301), "window"),
    (dict(now=NOW - 301), "window"),
])
def test_any_change_is_refused_with_the_reason(change, why):
    h = signed_headers(KEYS.get("ICBC"), "ICBC", "POST", "/v1/stop-payment", b'{"a":1}', now=NOW)
    args = dict(headers=h, method="POST", path="/v1/stop-payment", body=b'{"a":1}', now=NOW)
    args.update(change)
    with pytest.raises(SignatureError, match=why):
        verify(KEYS, **args)


def test_wrong_key_unknown_institution_missing_headers():
    other = Keyring.generate(["ICBC"])
    h = signed_headers(other.get("ICBC"), "ICBC", "POST", "/p", b"", now=NOW)
    with pytest.raises(SignatureError, match="does not match"):
        verify(KEYS, h, "POST", "/p", b"", now=NOW)
    h = signed_headers(other.get("ICBC"), "NOBANK", "POST", "/p", b"", now=NOW)
    with pytest.raises(SignatureError, match="no key"):
        verify(KEYS, h, "POST", "/p", b"", now=NOW)
    with pytest.raises(SignatureError, match="missing"):
        verify(KEYS, {H_TIMESTAMP: "1"}, "POST", "/p", b"", now=NOW)
    h = signed_headers(KEYS.get("ALIPAY"), "ALIPAY", "POST", "/p", b"", now=NOW)
    with pytest.raises(SignatureError, match="expected"):
        verify(KEYS, h, "POST", "/p", b"", now=NOW, expect_institution="ICBC")


@given(st.binary(max_size=200), st.binary(min_size=1, max_size=200))
def test_no_other_body_passes(body, other):
    h = signed_headers(KEYS.get("ICBC"), "ICBC", "POST", "/p", body, now=NOW)
    if other != body:
        with pytest.raises(SignatureError):
            verify(KEYS, h, "POST", "/p", other, now=NOW)


def test_keys_from_file_and_environment(tmp_path):
    path = KEYS.save(tmp_path / "k.json")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    ring = Keyring.load(path, env={"FANZHA_GATEWAY_KEY_CMB": "ab" * 32})
    assert ring.get("ICBC") == KEYS.get("ICBC") and ring.get("CMB") == bytes.fromhex("ab" * 32)
    assert Keyring.load(tmp_path / "absent.json", env={}).keys == {}


def test_request_bodies_follow_the_models():
    at = datetime(2024, 4, 29, 1, tzinfo=timezone.utc)
    body = json.loads(p.request_body(kind="stop_payment", request_id="k" * 32, case_no="FZ1", legal_basis="law",
                                     target="6222", amount="990000.00", sent_at=at, callback_url=None))
    assert body["protocol"] == PROTOCOL and body["kind"] == "stop_payment" and body["amount"] == "990000.00"
    with pytest.raises(ValueError):
        p.request_body(kind="stop_payment", request_id="k" * 32, case_no="FZ1", legal_basis="law", target="6222",
                       amount=None, sent_at=at, callback_url=None)
    with pytest.raises(ValueError):  # never floats or three places
        p.request_body(kind="freeze", request_id="k" * 32, case_no="FZ1", legal_basis="law", target="6222",
                       amount="1.005", sent_at=at, callback_url=None)
    body = json.loads(p.request_body(kind="number_owner", request_id="k" * 32, case_no="FZ1", legal_basis="law",
                                     target="+8613912345678", amount="5.00", sent_at=at, callback_url=None))
    assert "amount" not in body


def test_paths_round_trip():
    for kind in OrderKind:
        assert p.kind_of_path("/institutions/X" + p.path_for(kind)) == kind
    assert p.path_for("url_takedown") == "/v1/url-takedown"


def _answer(**over) -> bytes:
    a = dict(protocol=PROTOCOL, request_id="r" * 16, institution="ICBC", kind="stop_payment", status="done",
             answered_at="2024-04-29T09:00:00+08:00",
             result=dict(account="1", hold_id="H1", requested="5.00", held="5.00", balance="9.00"))
    a.update(over)
    return json.dumps(a).encode()


@pytest.mark.parametrize("body, why", [
    (b"<html>", "not a protocol answer"),
    (_answer(result=None), "without a result"),
    (_answer(result={"account": "1"}), "not a stop_payment result"),
    (_answer(request_id="x" * 16), "is for request"),
    (_answer(kind="freeze"), "is for a freeze"),
    (_answer(status="maybe"), "not a protocol answer"),
])
def test_malformed_answers_are_named(body, why):
    with pytest.raises(p.MalformedAnswer, match=why):
        p.parse_answer(body, kind="stop_payment", request_id="r" * 16)


def test_a_good_answer_parses():
    a = p.parse_answer(_answer(), kind="stop_payment", request_id="r" * 16)
    assert a.status == "done" and a.result["held"] == "5.00"


def test_openapi_document_has_every_request_and_the_callback(tmp_path):
    from typer.testing import CliRunner

    from fanzha.gateway.cli import gateway_app

    out = tmp_path / "protocol.json"
    r = CliRunner().invoke(gateway_app, ["protocol", "--out", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert doc["info"]["version"] == PROTOCOL
    assert {path.rsplit("/", 1)[-1] for path in doc["paths"]} == {p.path_for(k)[4:] for k in OrderKind}
    assert "answer-callback" in doc["webhooks"]
    assert {"HoldResult", "TransactionsResult", "LedgerRow", "Callback"} <= set(doc["components"]["schemas"])
