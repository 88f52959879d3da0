"""Benchmark: building a synthetic world, against a hand-written row-by-row generator.

Runs ``python -m fanzha.sim world`` in a child process (so its peak memory is its own),
reports wall time, peak RSS, rows per second and the size of every output, then times a
plain-Python generator (``random`` + ``csv.writer``, the way one would write it first)
on up to a million rows of the same ledger columns, for the ratio.

Environment: ``FANZHA_BENCH_TRANSACTIONS`` (default 10,000,000). ``--check`` also
verifies the world's invariants from its files (sorted, unique IDs, no negative
balance on replay, victim rows into the right gang's mules).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path


def build(transactions: int, out: Path) -> dict:
    cmd = [sys.executable, "-m", "fanzha.sim", "world", "--seed", "1", "--transactions", str(transactions),
           "--out", str(out), "--format", "json", "--quiet"]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(done.returncode)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # kilobytes on Linux
    return {"seconds": seconds, "peak_rss_mb": peak_kb / 1024, "summary": json.loads(done.stdout)}


def baseline(rows: int, out: Path) -> float:
    """Seconds for a straightforward generator to write ``rows`` ledger rows to CSV."""
    rnd = random.Random(1)
    accounts = [f"62220{rnd.randrange(10**14):014d}" for _ in range(max(1000, rows // 25))]
    start = datetime(2024, 4, 29, tzinfo=timezone(timedelta(hours=8)))
    t = time.perf_counter()
    stamps = sorted(rnd.randrange(86400) for _ in range(rows))
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["txn_id", "timestamp", "from_account", "to_account", "amount", "from_institution",
                    "to_institution", "channel", "currency", "memo"])
        for i, s in enumerate(stamps):
            fen = max(1, int(rnd.lognormvariate(0, 1.2) * 6000))
            w.writerow([f"T{i + 1:08d}", (start + timedelta(seconds=s)).isoformat(), rnd.choice(accounts),
                        rnd.choice(accounts), f"{fen // 100}.{fen % 100:02d}", "ICBC", "CCB", "mobile_banking",
                        "CNY", "转账"])
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    ap.add_argument("--transactions", type=int, default=int(os.environ.get("FANZHA_BENCH_TRANSACTIONS", "10000000")))
    ap.add_argument("--check", action="store_true", help="verify the world's invariants too")
    ap.add_argument("--keep", action="store_true", help="keep the generated world in OUT/sim-world")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="fanzha-bench-sim-"))
    world_dir = args.out / "sim-world" if args.keep else tmp / "world"
    try:
        ours = build(args.transactions, world_dir)
        sizes = {p.relative_to(world_dir).as_posix(): p.stat().st_size
                 for p in sorted(world_dir.rglob("*")) if p.is_file()}
        problems = None
        if args.check:
            from fanzha.sim.check import check_world

            t = time.perf_counter()
            problems = check_world(world_dir)
            check_seconds = time.perf_counter() - t
        base_rows = min(args.transactions, 1_000_000)
        base_seconds = baseline(base_rows, tmp / "baseline.csv")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ours_rate = args.transactions / ours["seconds"]
    base_rate = base_rows / base_seconds
    result = {
        "transactions": args.transactions,
        "seconds": round(ours["seconds"], 2),
        "peak_rss_mb": round(ours["peak_rss_mb"], 1),
        "rows_per_second": round(ours_rate),
        "baseline_rows": base_rows,
        "baseline_seconds": round(base_seconds, 2),
        "baseline_rows_per_second": round(base_rate),
        "speedup": round(ours_rate / base_rate, 1),
        "bytes": sizes,
        "world": ours["summary"],
    }
    if problems is not None:
        result["check"] = {"problems": problems, "seconds": round(check_seconds, 2)}
    print(f"sim world: {args.transactions:,} transactions in {ours['seconds']:.1f} s, "
          f"peak RSS {ours['peak_rss_mb']:.0f} MB, {ours_rate:,.0f} rows/s")
    print(f"baseline (random + csv.writer, ledger.csv only): {base_rate:,.0f} rows/s "
          f"-> fanzha.sim is {ours_rate / base_rate:.1f}x faster while writing CSV, Parquet, truth")
    for name in ("ledger.csv", "ledger.parquet", "accounts.csv", "reports.jsonl", "victims.csv"):
        if name in sizes:
            print(f"  {name:18} {sizes[name] / 1e6:10.1f} MB")
    if problems is not None:
        print(f"invariants: {'ok' if not problems else problems[:5]} ({check_seconds:.1f} s)")
    (args.out / "sim.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
