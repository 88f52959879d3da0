"""The demo's steps, each a thin call into a capability; printed as it goes."""

from __future__ import annotations

import csv
import json
import time
from collections import Counter, defaultdict
from datetime import datetime
from itertools import combinations
from pathlib import Path

from rich.console import Console
from rich.table import Table

from fanzha.money import parse_yuan
from fanzha.settings import Settings


def _world(console: Console, root: Path, seed: int, transactions: int, reports: int) -> Path:
    out = root / f"demo-world-seed{seed}-{transactions}-{reports}"
    if (out / "world.json").exists():
        console.print(f"[dim]reusing the synthetic city in {out}[/dim]")
        return out
    from rich.progress import Progress

    from fanzha.sim import generate_world, write_world

    t = time.perf_counter()
    with Progress(console=console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(task, total=total)
            bar.update(tasks[task], completed=done, total=total)

        world = generate_world(seed=seed, transactions=transactions, reports=reports, progress=progress)
        write_world(world, out)
    console.print(f"built a synthetic city ({transactions:,} transactions) in {time.perf_counter() - t:.1f} s: {out}")
    return out


def _payment_times(world: Path) -> dict[str, datetime]:
    """When each victim last paid (the victim tells the officer): a recent payment is an emergency."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    victims = pq.read_table(world / "victims.parquet", columns=["victim_id", "txn_id"])
    ledger = pq.read_table(world / "ledger.parquet", columns=["txn_id", "timestamp"])
    ledger = ledger.filter(pc.is_in(ledger["txn_id"], value_set=victims["txn_id"]))
    when = dict(zip(ledger["txn_id"].to_pylist(), ledger["timestamp"].to_pylist()))
    last: dict[str, datetime] = {}
    for victim, txn in zip(victims["victim_id"].to_pylist(), victims["txn_id"].to_pylist()):
        if txn in when:
            t = datetime.fromisoformat(when[txn])
            last[victim] = max(last.get(victim, t), t)
    return last


def _file_reports(console: Console, sessions, world: Path) -> dict[str, str]:
    """File every report of the world as the 110 platform would send it; report id → case number."""
    from fanzha.intake.service import Incoming, file_report
    from fanzha.store.db import transaction

    paid_at = _payment_times(world)
    orders = emergencies = 0
    outcomes: Counter[str] = Counter()
    case_of: dict[str, str] = {}
    truth = {r["report_id"]: r for r in csv.DictReader(open(world / "truth" / "reports.csv", encoding="utf-8"))}
    right = total = 0
    t = time.perf_counter()
    with transaction(sessions) as s:
        for line in open(world / "reports.jsonl", encoding="utf-8"):
            r = json.loads(line)
            filed = file_report(s, Incoming(
                received_at=datetime.fromisoformat(r["received_at"]), text=r["text"], source=r.get("source", "110"),
                external_id=r["report_id"], district=r.get("district", ""), address=r.get("address", ""),
                loss_fen=parse_yuan(r["loss"], allow_zero=True), scam_type=None,
                paid_at=paid_at.get(r.get("victim_id") or ""),
                identifiers=[(i["kind"], i["value"]) for i in r.get("identifiers", [])]), actor="110")
            outcomes[filed.outcome] += 1
            orders += filed.orders
            emergencies += bool(filed.orders)
            case_of[r["report_id"]] = filed.case.case_no
            if filed.outcome == "opened":
                total += 1
                right += filed.case.scam_type == truth[r["report_id"]]["scam_type"]
    dt = time.perf_counter() - t
    n = sum(outcomes.values())
    console.print(f"filed {n:,} reports in {dt:.1f} s ({n / dt:,.0f}/s): {outcomes['opened']:,} cases opened, "
                  f"{outcomes['duplicate']:,} duplicates, {outcomes['follow_up']:,} follow-ups, "
                  f"{emergencies:,} emergencies with {orders:,} orders queued at once"
                  + (f"; scam type read from the text matches the truth for {right / total:.0%} of new cases"
                     if total else " (the same reports again: nothing filed twice)"))
    return case_of


def _link(console: Console, world: Path) -> None:
    """Link the reports, split the linked groups into gangs, and score the gangs against the world's truth."""
    from fanzha.linking.batch import ReportTable, link
    from fanzha.linking.gangs import split_gangs
    from fanzha.linking.reports import read_reports

    t = time.perf_counter()
    read = read_reports(world / "reports.jsonl")
    lk = link(ReportTable.from_reports(read.reports))
    by_id = {r.report_id: r for r in read.reports}
    groups = gangs = 0
    found: set[frozenset[str]] = set()
    for group, shared in zip(lk.partition(), lk.shared_by_group()):
        groups += len(group) > 1
        for gang in split_gangs([by_id[r] for r in group], {(x.kind, x.value) for x in shared}):
            gangs += len(gang.reports) > 1
            found |= {frozenset(p) for p in combinations(sorted(gang.reports), 2)}
    dt = time.perf_counter() - t
    truth = {r["report_id"]: r["gang_id"] for r in csv.DictReader(open(world / "truth" / "reports.csv",
                                                                       encoding="utf-8")) if r["gang_id"]}
    members = defaultdict(list)
    for rid, gang in truth.items():
        members[gang].append(rid)
    true = {frozenset(p) for rids in members.values() for p in combinations(sorted(rids), 2)}
    tp = len(found & true)
    precision = tp / len(found) if found else 1.0
    recall = tp / len(true) if true else 1.0
    console.print(f"linked {len(read.reports):,} reports into {groups:,} groups and {gangs:,} gangs in {dt:.1f} s; "
                  f"same-gang pairs against the truth: precision {precision:.3f}, recall {recall:.3f}")


def run_demo(settings: Settings, *, seed: int, transactions: int, reports: int, top_cases: int,
             console: Console) -> None:
    from fanzha.demo import demo_logins
    from fanzha.sim import catalog
    from fanzha.store import db, seed as seed_mod
    from fanzha.store.db import transaction

    root = Path(settings.data_dir)
    root.mkdir(parents=True, exist_ok=True)
    console.rule("fanzha demo")
    world = _world(console, root, seed, transactions, reports)
    db.upgrade(settings.database_url)
    sessions = db.session_factory(db.make_engine(settings.database_url))
    with transaction(sessions) as s:
        counts = seed_mod.seed_reference(s)
        station = next(u.code for u in catalog.UNITS if u.kind == "station")
        logins = demo_logins(s, root, station)
    console.print(f"database {settings.database_url}: +{counts['units']} units, +{counts['institutions']} institutions")
    case_of = _file_reports(console, sessions, world)
    _trace_cases(console, sessions, world, case_of, top_cases)
    _link(console, world)
    table = Table(title="demo logins (also in " + str(root / "demo-logins.json") + ")")
    table.add_column("user")
    table.add_column("password")
    for user, password in logins.items():
        table.add_row(user, password)
    console.print(table)
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"start the centre with [bold]make serve[/bold], then open the console at {base}/console "
                  f"(API and its OpenAPI at {base}/docs)")


def _trace_cases(console: Console, sessions, world: Path, case_of: dict[str, str], top: int) -> None:
    """Trace the money of the largest cases and queue their freeze plans' holds as stop-payments."""
    from datetime import UTC

    from sqlalchemy import select

    from fanzha.money import format_fen
    from fanzha.store import services
    from fanzha.store.db import transaction
    from fanzha.store.models import Case, CaseEvent
    from fanzha.tracing import service as tracing

    victims_of: dict[str, set[str]] = defaultdict(set)
    for line in open(world / "reports.jsonl", encoding="utf-8"):
        r = json.loads(line)
        if r.get("victim_id") and r["report_id"] in case_of:
            victims_of[case_of[r["report_id"]]].add(r["victim_id"])
    t = time.perf_counter()
    loaded = tracing.load(world / "ledger.csv", world / "victims.csv", world / "accounts.csv")
    console.print(f"indexed the city's ledger ({loaded.rows:,} rows) in {time.perf_counter() - t:.1f} s")
    table = Table(title=f"the {top} largest cases: traced (fifo) and held")
    for col in ("case", "loss", "still traceable", "holds queued", "accounts", "trace ms"):
        table.add_column(col, justify="right" if col != "case" else "left", no_wrap=col == "case")
    with transaction(sessions) as s:
        cases = s.execute(select(Case).where(Case.case_no.in_(list(victims_of)))
                          .order_by(Case.loss_fen.desc(), Case.case_no).limit(top)).scalars().all()
        for case in cases:
            t = time.perf_counter()
            one = tracing.Loaded(loaded.index, loaded.payments.only(victims_of[case.case_no]))
            trace = tracing.run(one, "fifo")
            doc = tracing.trace_document(one, trace, freeze_plan=True, issued_at=datetime.now(UTC), paths=False)
            ms = (time.perf_counter() - t) * 1000
            plan = doc["freeze_plan"]
            holds = plan["holds"]
            queued, skipped = services.queue_holds(
                s, case=case, holds=holds, kind="stop_payment",
                legal_basis=holds[0]["legal_basis"] if holds else "", created_by="demo",
                key_prefix=f"demo-{case.case_no}")
            case.events.append(CaseEvent(kind="traced", actor="demo", detail={
                "rule": "fifo", "held_accounts": plan["accounts"], "traceable": plan["total"],
                "orders": [q["order_id"] for q in queued], "skipped": len(skipped)}))
            table.add_row(case.case_no, format_fen(case.loss_fen or 0), plan["total"], str(len(queued)),
                          str(plan["accounts"]), f"{ms:.1f}")
    console.print(table)
