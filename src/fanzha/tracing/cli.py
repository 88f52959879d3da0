"""``fanzha trace`` and ``fanzha restitution`` (FORMATS.md).

JSON on stdout for tools, a rich table for people; exit 2 with file, line and field
when an input is wrong.
"""

from __future__ import annotations

import enum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from fanzha.cliutil import OutputFormat, emit_json, fail
from fanzha.errors import InputError
from fanzha.money import format_fen_cn


class Rule(str, enum.Enum):
    fifo = "fifo"
    lifo = "lifo"
    pro_rata = "pro-rata"
    libr = "libr"


class Mode(str, enum.Enum):
    traced = "traced"
    pooled = "pooled"


class HoldKind(str, enum.Enum):
    stop_payment = "stop_payment"
    freeze = "freeze"


def trace_command(
    ledger: Path = typer.Argument(..., help="ledger.csv (or ledger.parquet), FORMATS.md columns."),
    victims: Path = typer.Option(..., "--victims", help="victims.csv: victim_id,txn_id."),
    accounts: Path = typer.Option(None, "--accounts", help="accounts.csv: account,opening_balance[,institution,holder]."),
    rule: Rule = typer.Option(Rule.fifo, "--rule", help="How a debit draws lots."),
    as_of: str = typer.Option(None, "--as-of", help="Stop the replay at this time (ISO 8601 with offset)."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="json for tools, table for people."),
    graph: Path = typer.Option(None, "--graph", help="Also write the money flow as a self-contained HTML page."),
    freeze_plan: bool = typer.Option(False, "--freeze-plan", help="Add the freeze plan: holds, in priority order."),
    hold_kind: HoldKind = typer.Option(HoldKind.stop_payment, "--hold-kind", help="Holds as stop-payments or freezes."),
    stop_payment_hours: int = typer.Option(48, "--stop-payment-hours", min=1, help="How long a stop-payment lasts."),
    freeze_days: int = typer.Option(183, "--freeze-days", min=1, help="How long a freeze lasts."),
    issued_at: str = typer.Option(None, "--issued-at", help="When the holds start (default: now)."),
    no_paths: bool = typer.Option(False, "--no-paths", help="Leave each victim's path out of the JSON."),
) -> None:
    """Trace victims' money through the ledger: where it sits, where it was cashed out."""
    from fanzha.tracing import service
    from fanzha.tracing.freeze import HoldPolicy

    try:
        when = service.parse_as_of(as_of)
        start = service.parse_as_of(issued_at) if issued_at else None
        if start is None and issued_at:
            raise InputError("empty time", field="--issued-at")
        loaded = service.load(ledger, victims, accounts)
        t = service.run(loaded, rule.value, when)
        policy = HoldPolicy(kind=hold_kind.value, stop_payment_hours=stop_payment_hours, freeze_days=freeze_days)
        doc = service.trace_document(loaded, t, freeze_plan=freeze_plan, issued_at=start, policy=policy,
                                     paths=not no_paths)
    except InputError as err:
        if err.field == "--as-of" and issued_at and as_of is None:
            err.field = "--issued-at"
        fail(err)
    if graph is not None:
        from fanzha.tracing.graph import render_html

        try:
            graph.write_text(render_html(t), encoding="utf-8")
        except OSError as err:
            fail(InputError(f"cannot write: {err.strerror}", file=str(graph), field="--graph"))
    if fmt == OutputFormat.json:
        emit_json(doc)
    else:
        _trace_tables(doc, t)


def _trace_tables(doc: dict, t) -> None:
    from fanzha.money import parse_yuan

    console = Console()
    y = lambda s: format_fen_cn(parse_yuan(s, allow_zero=True))  # noqa: E731
    head = f"rule {doc['rule']}" + (f", as of {doc['as_of']}" if doc.get("as_of") else "")
    tv = Table(title=f"victims ({head})")
    for col in ("victim", "stolen", "held", "cashed out", "to victims", "rebated"):
        tv.add_column(col, justify="left" if col == "victim" else "right")
    for v, s in doc["victims"].items():
        tv.add_row(v, y(s["stolen"]), y(s["held"]), y(s["cashed_out"]), y(s["to_victims"]), y(s["rebated"]))
    tot = doc["totals"]
    tv.add_row("total", y(tot["stolen"]), y(tot["held"]), y(tot["cashed_out"]), y(tot["to_victims"]), "",
               style="bold")
    console.print(tv)
    th = Table(title="holdings: victims' money still in accounts (what a freeze can recover)")
    for col in ("account", "layer", "victims' money", "balance", "victims"):
        th.add_column(col, justify="right" if col in ("layer", "victims' money", "balance") else "left")
    for acct, h in doc["holdings"].items():
        total = sum(parse_yuan(x) for x in h.values())
        th.add_row(acct, str(doc["layers"].get(acct, "")), format_fen_cn(total), y(doc["balances"][acct]),
                   ", ".join(f"{v} {y(x)}" for v, x in h.items()))
    console.print(th)
    if doc["cash_outs"] or doc["to_victims"]:
        tc = Table(title="money that left the trace")
        for col in ("txn", "from account", "to", "victims"):
            tc.add_column(col)
        for m in doc["cash_outs"]:
            tc.add_row(m["txn_id"], m["account"], "cash", ", ".join(f"{v} {y(x)}" for v, x in m["victims"].items()))
        for m in doc["to_victims"]:
            tc.add_row(m["txn_id"], m["account"], m["to_account"],
                       ", ".join(f"{v} {y(x)}" for v, x in m["victims"].items()))
        console.print(tc)
    if "freeze_plan" in doc:
        tf = Table(title=f"freeze plan: {doc['freeze_plan']['accounts']} holds, {y(doc['freeze_plan']['total'])}")
        for col in ("#", "account", "institution", "amount", "moving", "kind", "expires"):
            tf.add_column(col)
        for h in doc["freeze_plan"]["holds"]:
            tf.add_row(str(h["priority"]), h["account"], h["institution"], y(h["amount"]),
                       "yes" if h["about_to_move"] else "", h["kind"], h["expires_at"])
        console.print(tf)
    for w in doc["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {w}")


def restitution_command(
    ledger: Path = typer.Argument(..., help="ledger.csv (or ledger.parquet)."),
    victims: Path = typer.Option(..., "--victims", help="victims.csv: victim_id,txn_id."),
    accounts: Path = typer.Option(None, "--accounts", help="accounts.csv (optional)."),
    frozen: Path = typer.Option(..., "--frozen", help="frozen.csv: account,amount actually frozen."),
    mode: Mode = typer.Option(Mode.traced, "--mode", help="traced: to whose money it is; pooled: by loss."),
    rule: Rule = typer.Option(Rule.fifo, "--rule", help="The tracing rule that says whose money is where."),
    as_of: str = typer.Option(None, "--as-of", help="Trace up to this time (ISO 8601 with offset)."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="json for tools, table for people."),
) -> None:
    """Return frozen money to the victims' own accounts (原路返还), with explanations."""
    from fanzha.tracing import service
    from fanzha.tracing.restitution import plan_restitution, restitution_json

    try:
        when = service.parse_as_of(as_of)
        loaded = service.load(ledger, victims, accounts)
        got = service.read_frozen(frozen)
        t = service.run(loaded, rule.value, when)
        doc = restitution_json(plan_restitution(t, got, mode=mode.value))
    except InputError as err:
        fail(err)
    if fmt == OutputFormat.json:
        emit_json(doc)
        return
    from fanzha.money import parse_yuan

    y = lambda s: format_fen_cn(parse_yuan(s, allow_zero=True))  # noqa: E731
    console = Console()
    to = Table(title=f"return orders ({doc['mode']}): {y(doc['total_returned'])} of {y(doc['total_frozen'])} frozen")
    for col in ("victim", "from (frozen)", "to (victim's account)", "amount"):
        to.add_column(col, justify="right" if col == "amount" else "left")
    for o in doc["orders"]:
        to.add_row(o["victim"], o["from_account"], o["to_account"], y(o["amount"]))
    console.print(to)
    if doc["unallocated"]:
        tu = Table(title=f"unallocated: {y(doc['total_unallocated'])}")
        for col in ("account", "amount", "reason"):
            tu.add_column(col)
        for u in doc["unallocated"]:
            tu.add_row(u["account"], y(u["amount"]), u["reason"])
        console.print(tu)
    for v, s in doc["victims"].items():
        console.print(f"[bold]{v}[/bold]: {s['explanation']}")


def register(app: typer.Typer) -> None:
    """Add ``fanzha trace`` and ``fanzha restitution`` to the main command line."""
    app.command("trace")(trace_command)
    app.command("restitution")(restitution_command)


__all__ = ["register", "trace_command", "restitution_command"]
