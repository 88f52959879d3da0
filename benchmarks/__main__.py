"""``make bench``: every benchmark, side by side with its baseline, reported as ratios.

Builds (once, cached in ``benchmarks/out/``) a synthetic world with ``fanzha sim`` and
runs each ``bench_*.py`` here as its own process, so one benchmark's memory does not
colour another's. Each prints its table and writes JSON to ``benchmarks/out/``.

Environment: ``FANZHA_BENCH_TRANSACTIONS`` (default 10,000,000) sizes the world;
``FANZHA_BENCH_ONLY=tracing,sim`` runs a subset.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def world(transactions: int) -> Path:
    path = OUT / f"world-seed1-{transactions}"
    if not (path / "ledger.parquet").exists():
        print(f"building a world of {transactions:,} transactions in {path} …", flush=True)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "fanzha.cli", "sim", "world", "--seed", "1",
                        "--transactions", str(transactions), "--out", str(path)], check=True)
        print(f"world built in {time.perf_counter() - t:.1f} s", flush=True)
    return path


def main() -> int:
    OUT.mkdir(exist_ok=True)
    transactions = int(os.environ.get("FANZHA_BENCH_TRANSACTIONS", "10000000"))
    only = {s for s in os.environ.get("FANZHA_BENCH_ONLY", "").split(",") if s}
    scripts = sorted(HERE.glob("bench_*.py"))
    needs_world = [s for s in scripts if "--world" in s.read_text()]
    world_dir = world(transactions) if any(not only or s.stem[6:] in only for s in needs_world) else None
    failed = []
    for script in scripts:
        name = script.stem[len("bench_"):]
        if only and name not in only:
            continue
        print(f"\n=== {name} ===", flush=True)
        cmd = [sys.executable, str(script)]
        if "--out" in script.read_text():
            cmd += ["--out", str(OUT)]
        if script in needs_world:
            cmd += ["--world", str(world_dir)]
        if subprocess.run(cmd).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
