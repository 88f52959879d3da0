"""Fund tracing at city scale, against what an analyst would otherwise do.

fanzha loads the ledger once into a columnar index, then traces each case on its
reachable sub-ledger. The baselines are the tools an analyst reaches for:

* **pandas** — the ledger in a DataFrame; per case, expand the frontier from the
  victims' payments, filtering the rows each newly reached account paid after it was
  reached, until nothing new is reached (the reachable sub-ledger only — not yet a
  trace by any rule);
* **networkx** — the ledger as a directed graph (edges keep their times); per case, a
  time-respecting breadth-first traversal from the victims' payments.

Baselines run in their own processes (their memory is theirs) on the same sample of
cases; fanzha traces every case. The table gives load time, peak RSS, per-case median,
p95 and max, all cases, and the baselines' per-case time as a multiple of fanzha's.

    python benchmarks/bench_tracing.py --world DIR [--out benchmarks/out] [--rules fifo,lifo,pro-rata,libr]
    python benchmarks/bench_tracing.py --transactions 1000000      (builds a world with ``fanzha sim`` first)

The world is what ``fanzha sim world`` writes: ledger.parquet (or ledger.csv),
accounts, victims.csv and truth/report_victims.csv (a case = one victim's reports).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20   # KiB on Linux


def _rss_gb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**30


def _first(world: Path, *names: str) -> Path | None:
    for n in names:
        if (world / n).exists():
            return world / n
    return None


def cases_of(world: Path, victims: set[str]) -> list[str]:
    """Case ids = victims with a report (truth/report_victims.csv), else every victim."""
    path = world / "truth" / "report_victims.csv"
    if path.exists():
        with open(path, encoding="utf-8") as fh:
            ids = sorted({r["victim_id"] for r in csv.DictReader(fh)} & victims)
        if ids:
            return ids
    return sorted(victims)


# ---------------------------------------------------------------------------
# fanzha
# ---------------------------------------------------------------------------

def run_fanzha(world: Path, rules: list[str], sample: list[str]) -> dict:
    from fanzha.tracing.engine import resolve_victims, trace_indexed
    from fanzha.tracing.index import build_index
    from fanzha.tracing.ledger import read_accounts_fast, read_ledger, read_victims

    stages = {}
    t0 = time.perf_counter()
    t = time.perf_counter()
    ledger = read_ledger(_first(world, "ledger.parquet", "ledger.csv"))
    stages["read ledger"] = time.perf_counter() - t
    t = time.perf_counter()
    accounts = read_accounts_fast(_first(world, "accounts.parquet", "accounts.csv"))
    stages["read accounts"] = time.perf_counter() - t
    t = time.perf_counter()
    index = build_index(ledger, accounts)
    del accounts
    stages["build index"] = time.perf_counter() - t
    t = time.perf_counter()
    payments = resolve_victims(ledger, read_victims(world / "victims.csv"))
    stages["resolve victims"] = time.perf_counter() - t
    t = time.perf_counter()
    for rule in rules:
        if rule in ("pro-rata", "libr"):
            index.skip_keys(rule)
    stages["skip keys"] = time.perf_counter() - t
    load = time.perf_counter() - t0
    rss_loaded = _rss_gb()
    by_victim = payments.by_victim()
    cases = cases_of(world, set(by_victim))
    out = {"rows": len(ledger), "accounts": len(ledger.accounts), "cases": len(cases), "load_s": load,
           "stages_s": stages, "rss_after_load_gb": rss_loaded, "rules": {}}
    for rule in rules:
        times = {}
        held = 0
        t_all = time.perf_counter()
        for case in cases:
            pay = payments.only({case})
            t = time.perf_counter()
            tr = trace_indexed(index, pay, rule)
            times[case] = time.perf_counter() - t
            held += sum(sum(h.values()) for h in tr.holdings.values())
        total = time.perf_counter() - t_all
        ordered = sorted(times.values())
        out["rules"][rule] = {
            "median_ms": statistics.median(ordered) * 1e3,
            "p95_ms": ordered[int(0.95 * (len(ordered) - 1))] * 1e3,
            "max_ms": ordered[-1] * 1e3,
            "all_cases_s": total,
            "sample_median_ms": statistics.median(times[c] for c in sample) * 1e3 if sample else None,
            "held_fen": held,
        }
    out["peak_rss_gb"] = _peak_rss_gb()
    return out


# ---------------------------------------------------------------------------
# Baselines (each in its own process)
# ---------------------------------------------------------------------------

def _victim_payments(world: Path, ledger_txn_ids, sample: list[str]) -> dict[str, list[str]]:
    with open(world / "victims.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    want = set(sample)
    out: dict[str, list[str]] = {}
    for r in rows:
        if r["victim_id"] in want:
            out.setdefault(r["victim_id"], []).append(r["txn_id"])
    return out


def baseline_pandas(world: Path, sample: list[str]) -> dict:
    import pandas as pd

    t = time.perf_counter()
    path = _first(world, "ledger.parquet", "ledger.csv")
    cols = ["txn_id", "timestamp", "from_account", "to_account", "amount"]
    df = pd.read_parquet(path, columns=cols) if path.suffix == ".parquet" else pd.read_csv(path, usecols=cols,
                                                                                        dtype=str)
    df["ts"] = pd.to_datetime(df["timestamp"], utc=True, format="ISO8601")
    df["amount"] = df["amount"].astype(float)
    df = df.drop(columns=["timestamp"]).sort_values("ts", kind="stable").reset_index(drop=True)
    load = time.perf_counter() - t
    pays = _victim_payments(world, None, sample)
    by_id = df.set_index("txn_id")
    times, reached = [], []
    for case in sample:
        t = time.perf_counter()
        first = by_id.loc[pays[case]]
        reach = first.groupby("to_account")["ts"].min().to_dict()
        reach.pop("", None)
        frontier = dict(reach)
        while frontier:
            rows = df[df["from_account"].isin(frontier.keys())]
            rows = rows[rows["ts"] >= rows["from_account"].map(frontier)]
            rows = rows[rows["to_account"] != ""]
            new = rows.groupby("to_account")["ts"].min()
            frontier = {}
            for acct, ts in new.items():
                if acct not in reach or ts < reach[acct]:
                    reach[acct] = ts
                    frontier[acct] = ts
        times.append(time.perf_counter() - t)
        reached.append(len(reach))
    return {"load_s": load, "median_ms": statistics.median(times) * 1e3, "per_case_ms": [x * 1e3 for x in times],
            "reached_median": statistics.median(reached), "peak_rss_gb": _peak_rss_gb()}


def baseline_networkx(world: Path, sample: list[str]) -> dict:
    import networkx as nx
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = time.perf_counter()
    path = _first(world, "ledger.parquet", "ledger.csv")
    if path.suffix == ".parquet":
        table = pq.read_table(path, columns=["txn_id", "timestamp", "from_account", "to_account"])
    else:
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(path).select(["txn_id", "timestamp", "from_account", "to_account"])
    import pyarrow as pa

    ts = pc.cast(table["timestamp"], pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()
    src = table["from_account"].to_pylist()
    dst = table["to_account"].to_pylist()
    tid = table["txn_id"].to_pylist()
    del table
    g = nx.DiGraph()
    ts_of = {}
    for s, d, x, i in zip(src, dst, ts.tolist(), tid):
        ts_of[i] = (s, d, x)
        if s and d:
            data = g.get_edge_data(s, d)
            if data is None:
                g.add_edge(s, d, ts=[x])
            else:
                data["ts"].append(x)
    del src, dst, ts
    load = time.perf_counter() - t
    pays = _victim_payments(world, None, sample)
    times, reached = [], []
    for case in sample:
        t = time.perf_counter()
        reach: dict[str, int] = {}
        for i in pays[case]:
            _, d, x = ts_of[i]
            if d and (d not in reach or x < reach[d]):
                reach[d] = x
        queue = sorted(reach, key=reach.get)
        while queue:
            a = queue.pop(0)
            for b in g.successors(a):
                later = [x for x in g.edges[a, b]["ts"] if x >= reach[a]]
                if later and (b not in reach or min(later) < reach[b]):
                    reach[b] = min(later)
                    queue.append(b)
        times.append(time.perf_counter() - t)
        reached.append(len(reach))
    return {"load_s": load, "median_ms": statistics.median(times) * 1e3, "per_case_ms": [x * 1e3 for x in times],
            "reached_median": statistics.median(reached), "peak_rss_gb": _peak_rss_gb()}


def _child(kind: str, world: Path, sample: list[str], timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--world", str(world), "--baseline", kind, "--sample", ",".join(sample)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else f"exit {res.returncode}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------

def build_world(transactions: int, out: Path) -> Path:
    path = out / f"world-seed1-{transactions}"
    if not (path / "ledger.parquet").exists():
        subprocess.run([sys.executable, "-m", "fanzha.sim", "world", "--seed", "1", "--transactions",
                        str(transactions), "--out", str(path), "--quiet"], check=True)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--world", type=Path)
    ap.add_argument("--transactions", type=int, default=int(os.environ.get("FANZHA_BENCH_TRANSACTIONS", "10000000")))
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--rules", default="fifo,lifo,pro-rata,libr")
    ap.add_argument("--sample-size", type=int, default=20, help="cases the baselines trace")
    ap.add_argument("--baselines", default="pandas,networkx")
    ap.add_argument("--baseline-timeout", type=float, default=1800)
    ap.add_argument("--baseline", help=argparse.SUPPRESS)
    ap.add_argument("--sample", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline:
        sample = args.sample.split(",") if args.sample else []
        fn = {"pandas": baseline_pandas, "networkx": baseline_networkx}[args.baseline]
        print(json.dumps(fn(args.world, sample)))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    world = args.world or build_world(args.transactions, args.out)
    rules = [r for r in args.rules.split(",") if r]
    with open(world / "victims.csv", encoding="utf-8") as fh:
        all_victims = {r["victim_id"] for r in csv.DictReader(fh)}
    cases = cases_of(world, all_victims)
    sample = sorted(random.Random(1).sample(cases, min(args.sample_size, len(cases))))
    ours = run_fanzha(world, rules, sample)
    base = {k: _child(k, world, sample, args.baseline_timeout) for k in args.baselines.split(",") if k}
    ref = ours["rules"][rules[0]]["sample_median_ms"]
    for k, b in base.items():
        if "median_ms" in b and ref:
            b["ratio_vs_fanzha"] = b["median_ms"] / ref
    result = {"world": str(world), "rows": ours["rows"], "accounts": ours["accounts"], "cases": ours["cases"],
              "sample": len(sample), "fanzha": ours, "baselines": base,
              "targets": {"load_s": 30, "peak_rss_gb": 3, "median_ms": 20, "all_cases_s": 120}}
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"tracing: {ours['rows']:,} rows, {ours['accounts']:,} accounts, {ours['cases']:,} cases")
    for col in ("engine", "load s", "peak RSS GB", "median ms/case", "p95 ms", "max ms", "all cases s", "× fanzha"):
        table.add_column(col, justify="left" if col == "engine" else "right")
    for rule, r in ours["rules"].items():
        table.add_row(f"fanzha {rule}", f"{ours['load_s']:.1f}", f"{ours['peak_rss_gb']:.2f}", f"{r['median_ms']:.2f}",
                      f"{r['p95_ms']:.1f}", f"{r['max_ms']:.0f}", f"{r['all_cases_s']:.1f}", "1")
    for k, b in base.items():
        if "error" in b:
            table.add_row(k, "", "", b["error"], "", "", "", "")
            continue
        table.add_row(f"{k} (sample of {len(sample)})", f"{b['load_s']:.1f}", f"{b['peak_rss_gb']:.2f}",
                      f"{b['median_ms']:.1f}", "", f"{max(b['per_case_ms']):.0f}",
                      f"≈{b['median_ms'] * ours['cases'] / 1e3:.0f} (est.)", f"{b.get('ratio_vs_fanzha', 0):.0f}")
    Console(width=150).print(table)
    name = f"tracing-{ours['rows']}.json"
    (args.out / name).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    (args.out / "tracing.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"written {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
