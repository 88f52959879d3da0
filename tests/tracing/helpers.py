"""Small ledgers written from Python lists, traced both ways."""

from __future__ import annotations

from pathlib import Path

from fanzha.tracing import service
from fanzha.tracing.engine import replay, trace_json
from fanzha.tracing.ledger import read_accounts

HEADER = "txn_id,timestamp,from_account,to_account,amount"


def files(tmp: Path, ledger: list[str], victims: list[str], accounts: list[str] | None = None) -> dict[str, Path]:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "ledger.csv").write_text("\n".join([HEADER, *ledger]) + "\n", encoding="utf-8")
    (tmp / "victims.csv").write_text("\n".join(["victim_id,txn_id", *victims]) + "\n", encoding="utf-8")
    out = {"ledger": tmp / "ledger.csv", "victims": tmp / "victims.csv"}
    if accounts is not None:
        (tmp / "accounts.csv").write_text("\n".join(["account,opening_balance", *accounts]) + "\n", encoding="utf-8")
        out["accounts"] = tmp / "accounts.csv"
    return out


def trace_doc(paths: dict[str, Path], rule: str = "fifo", as_of=None) -> dict:
    """Trace with the indexed engine and check the full replay says the same."""
    loaded = service.load(paths["ledger"], paths["victims"], paths.get("accounts"))
    doc = trace_json(service.run(loaded, rule, as_of))
    full = trace_json(replay(loaded.index.ledger, loaded.payments, rule,
                             accounts=read_accounts(paths.get("accounts")), as_of=as_of))
    assert doc == full
    return doc


def t(minute: int, second: int = 0) -> str:
    return f"2024-04-29T10:{minute:02d}:{second:02d}+08:00"
