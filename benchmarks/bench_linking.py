"""Linking benchmark: fanzha's vectorised linking against what a centre would otherwise use.

Data: ``--reports`` reports (default 1,000,000) with about five identifiers each, made
here with numpy (gangs with pools of phones, cards, sites and den IPs; victims' own
numbers; hotlines, big apps, a platform's collection account and NAT addresses that
appear everywhere). With ``--world DIR`` the reports of a ``fanzha sim`` world are
linked too, and scored against its ground truth.

Engines, each in its own process so that its peak RSS is its own:

* ``fanzha``: :func:`fanzha.linking.batch.link` from columns (factorise, count degrees,
  hold back common values, sparse connected components, name groups, explain links);
* ``networkx``: ``networkx.connected_components`` on the same report–value edges, after
  the same common-value filter (so networkx only has the easy part);
* ``sqlite``: the self-join a SQL user writes — ``identifiers a JOIN identifiers b ON
  a.value = b.value`` over values of acceptable degree — then union-find over the pairs.

Baselines that do not finish within ``--timeout`` seconds are rerun on a tenth of the
data and compared with fanzha on that tenth. Also measured: reading ``reports.jsonl``
(the CLI's path), and the incremental :class:`~fanzha.linking.incremental.Linker`
(milliseconds to add one report to ``--incremental`` reports already held).

Writes ``benchmarks/out/linking.json`` (or ``--out DIR``/linking.json).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
KINDS = ("phone", "bank_card", "url", "domain", "qq", "wechat", "ip", "email", "device", "app", "alipay")
K = {k: i for i, k in enumerate(KINDS)}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- data

def _ints_to(prefix: str, x: np.ndarray, suffix: str = "") -> pa.Array:
    s = pc.cast(pa.array(x, pa.int64()), pa.string())
    return pc.binary_join_element_wise(prefix, s, suffix, "") if suffix else \
        pc.binary_join_element_wise(prefix, s, "")


def _dotted(x: np.ndarray) -> pa.Array:
    parts = [pc.cast(pa.array((x >> s) & 255), pa.string()) for s in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*parts, ".")


def synth(n: int, ids_per_report: float = 5.0, seed: int = 1) -> dict:
    """Columns of ``n`` reports with known gangs (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_gangs = max(1, n // 20)
    gang = rng.integers(0, n_gangs, n)
    gang[rng.random(n) < 0.3] = -1                                   # lone victims
    gang_type = rng.integers(0, 10, n_gangs)
    scam = np.where(gang >= 0, gang_type[np.maximum(gang, 0)], rng.integers(0, 10, n)).astype(np.int8)
    noisy = rng.random(n) < 0.05
    scam[noisy] = rng.integers(0, 10, int(noisy.sum()))
    k = np.clip(rng.poisson(ids_per_report - 1, n) + 1, 1, 15)
    rep = np.repeat(np.arange(n, dtype=np.int64), k)
    m = len(rep)
    g = gang[rep]
    u = rng.random(m)
    source = np.where((g >= 0) & (u < 0.55), 0, np.where(u > 0.93, 2, 1))   # 0 gang, 1 own, 2 common
    first = np.concatenate([[0], np.cumsum(k)[:-1]])
    source[first[gang >= 0]] = 0                      # every gang report carries one gang identifier
    kind = np.empty(m, dtype=np.int8)
    num = np.empty(m, dtype=np.int64)
    # gang pools: 8 slots per gang, two each of phone, bank card, URL, den IP
    gs = source == 0
    slot = rng.integers(0, 8, int(gs.sum()))
    pool_kind = np.array([K["phone"], K["phone"], K["bank_card"], K["bank_card"], K["url"], K["wechat"],
                          K["ip"], K["ip"]], dtype=np.int8)
    kind[gs] = pool_kind[slot]
    num[gs] = g[gs] * 8 + slot
    # a victim's own identifiers: unique
    own = source == 1
    own_kinds = np.array([K["phone"], K["qq"], K["device"], K["email"]], dtype=np.int8)
    kind[own] = own_kinds[rng.integers(0, 4, int(own.sum()))]
    num[own] = 10**9 + np.flatnonzero(own)
    # common values: hotlines and apps (listed), a platform account and NAT IPs (learned)
    cm = source == 2
    which = rng.integers(0, 6, int(cm.sum()))
    kind[cm] = np.array([K["phone"], K["app"], K["app"], K["alipay"], K["ip"], K["ip"]], dtype=np.int8)[which]
    num[cm] = -1 - which
    values = np.empty(m, dtype=object)
    order = np.argsort(kind, kind="stable")
    for kd in np.unique(kind):
        idx = order[np.searchsorted(kind[order], kd):np.searchsorted(kind[order], kd, side="right")]
        x = num[idx]
        name = KINDS[kd]
        common_mask = x < 0
        if name == "phone":
            arr = _ints_to("+86", 13_000_000_000 + np.maximum(x, 0))
        elif name == "bank_card":
            arr = _ints_to("", 6_200_000_000_000_000_000 + np.maximum(x, 0))
        elif name == "url":
            arr = _ints_to("http://g", np.maximum(x, 0), ".top/")
        elif name == "wechat":
            arr = _ints_to("wxid_", np.maximum(x, 0))
        elif name == "ip":
            arr = _dotted((103 << 24) + np.maximum(x, 0) % (1 << 24))
        elif name == "qq":
            arr = _ints_to("", 100_000 + np.maximum(x, 0))
        elif name == "device":
            arr = _ints_to("IMEI", np.maximum(x, 0))
        elif name == "email":
            arr = _ints_to("u", np.maximum(x, 0), "@example.com")
        else:
            arr = pa.array(["?"] * len(x), pa.string())
        arr = arr.to_numpy(zero_copy_only=False)
        if common_mask.any():
            commons = {-1: "95588;phone-context=+86", -2: "支付宝", -3: "微信", -4: "2088000000000001",
                       -5: "120.0.0.1", -6: "120.0.0.2"}
            arr[common_mask] = [commons[v] for v in x[common_mask].tolist()]
        values[idx] = arr
    t0 = 1_714_500_000_000_000
    return {
        "report_ids": np.array([f"R{i:07d}" for i in range(n)], dtype=object),
        "time_key": t0 + rng.integers(0, 10**13, n),
        "scam": scam, "loss_fen": rng.integers(100, 10**8, n), "gang": gang,
        "edge_report": rep, "edge_kind": kind, "edge_value": pa.array(values, pa.string()),
    }


def save(data: dict, path: Path) -> None:
    n = len(data["report_ids"])
    pq.write_table(pa.table({"report_id": pa.array(data["report_ids"], pa.string()),
                             "time_key": data["time_key"], "scam": data["scam"], "loss_fen": data["loss_fen"],
                             "gang": data["gang"]}), path.with_suffix(".reports.parquet"))
    pq.write_table(pa.table({"report": data["edge_report"], "kind": data["edge_kind"],
                             "value": data["edge_value"]}), path.with_suffix(".edges.parquet"))
    assert n


def load(path: Path, fraction: float = 1.0):
    from fanzha.linking.batch import ReportTable

    r = pq.read_table(path.with_suffix(".reports.parquet"))
    e = pq.read_table(path.with_suffix(".edges.parquet"))
    n = len(r)
    if fraction < 1.0:
        n = int(n * fraction)
        r = r.slice(0, n)
        e = e.filter(pc.less(e["report"], n))
    table = ReportTable(
        report_ids=r["report_id"].to_numpy(zero_copy_only=False).astype(object),
        time_key=r["time_key"].to_numpy(), scam=r["scam"].to_numpy(), loss_fen=r["loss_fen"].to_numpy(),
        edge_report=e["report"].to_numpy(), edge_kind=e["kind"].to_numpy(),
        edge_value=e["value"].combine_chunks())
    return table, r["gang"].to_numpy()


# ----------------------------------------------------------------------------- quality

def pairwise(group: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Pairwise precision/recall of "same gang"; truth < 0 = a lone report (own gang)."""
    def pairs(counts: np.ndarray) -> int:
        c = counts.astype(np.int64)
        return int((c * (c - 1) // 2).sum())

    pred = pairs(np.bincount(group))
    known = truth >= 0
    true = pairs(np.bincount(truth[known]))
    _, both_counts = np.unique(group[known].astype(np.int64) * (int(truth.max()) + 1) + truth[known],
                               return_counts=True)
    both = pairs(both_counts)
    return (both / pred if pred else 1.0), (both / true if true else 1.0)


# ----------------------------------------------------------------------------- engines

def engine_fanzha(path: Path, fraction: float) -> dict:
    from fanzha.linking.batch import link

    table, gang = load(path, fraction)
    base = peak_rss_mb()
    t = time.perf_counter()
    lk = link(table)
    secs = time.perf_counter() - t
    p, r = pairwise(lk.group, gang)
    t2 = time.perf_counter()
    from fanzha.linking.output import linking_document

    doc = linking_document(lk)
    out_secs = time.perf_counter() - t2
    return {"seconds": secs, "document_seconds": out_secs, "groups": lk.n_groups,
            "linked_groups": doc["summary"]["linked_groups"], "common_values": len(lk.common),
            "reports": table.n_reports, "identifiers": len(table.edge_report),
            "precision": p, "recall": r, "peak_rss_mb": peak_rss_mb(), "rss_before_mb": base,
            "n_groups_check": int(lk.n_groups)}


def _filtered_edges(table):
    """The report–value edges fanzha links on, computed the same way, for the baselines."""
    from fanzha.linking import batch
    from fanzha.linking.common import CommonPolicy

    vid, vkind, vcode, dictionary = batch._value_ids(table)
    nv = len(vkind)
    e = batch._sorted_unique(table.edge_report.astype(np.int64) * nv + vid)
    rep, vid = e // nv, e % nv
    deg = np.bincount(vid, minlength=nv)
    s = table.scam[rep].astype(np.int64)
    known = s >= 0
    ntypes = np.bincount(batch._sorted_unique(vid[known] * 16 + s[known]) // 16, minlength=nv)
    reason = batch._reasons(CommonPolicy(), deg, ntypes, vkind, vcode, dictionary)
    keep = (reason[vid] == 0) & (deg[vid] >= 2)
    return rep[keep], vid[keep], vid, rep, reason, deg


def engine_networkx(path: Path, fraction: float) -> dict:
    import networkx as nx

    table, _ = load(path, fraction)
    base = peak_rss_mb()
    t0 = time.perf_counter()
    rep, vid, *_ = _filtered_edges(table)
    filter_secs = time.perf_counter() - t0
    n = table.n_reports
    t = time.perf_counter()
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(rep.tolist(), (vid + n).tolist()))
    groups = sum(1 for c in nx.connected_components(g) if any(x < n for x in c))
    cc_secs = time.perf_counter() - t
    # "seconds" is the whole job (the same value filter fanzha runs, then networkx's part)
    return {"seconds": filter_secs + cc_secs, "networkx_only_seconds": cc_secs, "filter_seconds": filter_secs,
            "groups": groups, "peak_rss_mb": peak_rss_mb(), "rss_before_mb": base, "reports": n}


def engine_sqlite(path: Path, fraction: float) -> dict:
    import sqlite3
    import tempfile

    from fanzha.linking.common import CommonPolicy

    table, _ = load(path, fraction)
    n = table.n_reports
    policy = CommonPolicy()
    listed = sorted({v for _, v in policy.listed})
    base = peak_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(os.path.join(tmp, "ids.db"))
        t = time.perf_counter()
        db.execute("CREATE TABLE identifiers (report INTEGER, kind INTEGER, value TEXT)")
        db.executemany("INSERT INTO identifiers VALUES (?, ?, ?)",
                       zip(table.edge_report.tolist(), table.edge_kind.tolist(), table.edge_value.to_pylist()))
        db.execute("CREATE INDEX ix_value ON identifiers (kind, value)")
        db.execute("CREATE TEMP TABLE listed (value TEXT PRIMARY KEY)")
        db.executemany("INSERT INTO listed VALUES (?)", [(v,) for v in listed])
        load_secs = time.perf_counter() - t
        parent = list(range(n))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        pairs = 0
        cur = db.execute(f"""
            WITH ok AS (
              SELECT kind, value FROM identifiers
              WHERE value NOT IN (SELECT value FROM listed)
              GROUP BY kind, value HAVING COUNT(DISTINCT report) BETWEEN 2 AND {policy.max_reports})
            SELECT a.report, b.report FROM identifiers a
              JOIN ok ON ok.kind = a.kind AND ok.value = a.value
              JOIN identifiers b ON b.kind = a.kind AND b.value = a.value AND b.report > a.report""")
        while True:
            rows = cur.fetchmany(100_000)
            if not rows:
                break
            pairs += len(rows)
            for a, b in rows:
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[ra] = rb
        groups = len({find(x) for x in range(n)})
        secs = time.perf_counter() - t
        db.close()
    return {"seconds": secs, "load_seconds": load_secs, "pairs": pairs, "groups": groups,
            "peak_rss_mb": peak_rss_mb(), "rss_before_mb": base, "reports": n,
            "note": "scam-type rule not applied (needs a second join); pairs table grows with degree squared"}


def engine_read(path: Path, fraction: float) -> dict:
    """The CLI's path: write reports.jsonl, then read it back strictly and link."""
    from fanzha.linking.batch import ReportTable, link
    from fanzha.linking.reports import read_reports

    from fanzha.linking.reports import SCAM_TYPES

    codes = list(SCAM_TYPES)
    table, _ = load(path, fraction)
    jsonl = path.with_suffix(f".{table.n_reports}.jsonl")
    if not jsonl.exists():
        kinds = table.edge_kind
        values = table.edge_value.to_pylist()
        starts = np.searchsorted(table.edge_report, np.arange(table.n_reports + 1))
        with open(jsonl, "w", encoding="utf-8") as fh:
            scam = table.scam.tolist()
            for i, rid in enumerate(table.report_ids.tolist()):
                ids = [{"kind": KINDS[kinds[j]], "value": values[j]} for j in range(starts[i], starts[i + 1])]
                fh.write(json.dumps({"report_id": rid, "scam_type": codes[scam[i]], "loss": "100.00",
                                     "identifiers": ids},
                                    ensure_ascii=False) + "\n")
        del values
    base = peak_rss_mb()
    t = time.perf_counter()
    res = read_reports(jsonl)
    read_secs = time.perf_counter() - t
    t2 = time.perf_counter()
    tab = ReportTable.from_reports(res.reports)
    lk = link(tab)
    return {"read_seconds": read_secs, "link_seconds": time.perf_counter() - t2,
            "seconds": time.perf_counter() - t, "groups": lk.n_groups, "errors": len(res.errors),
            "reports": tab.n_reports, "peak_rss_mb": peak_rss_mb(), "rss_before_mb": base}


def engine_incremental(path: Path, fraction: float) -> dict:
    from fanzha.linking.incremental import Linker
    from fanzha.linking.reports import SCAM_TYPES, Report

    table, _ = load(path, fraction)
    codes = list(SCAM_TYPES)
    kinds = table.edge_kind.tolist()
    values = table.edge_value.to_pylist()
    starts = np.searchsorted(table.edge_report, np.arange(table.n_reports + 1)).tolist()
    ids = table.report_ids.tolist()
    scam = table.scam.tolist()
    loss = table.loss_fen.tolist()
    reports = [Report(ids[i], tuple((KINDS[kinds[j]], values[j]) for j in range(starts[i], starts[i + 1])),
                      None, codes[scam[i]] if scam[i] >= 0 else None, loss[i]) for i in range(table.n_reports)]
    del values, kinds
    held, probe = reports[:-1000], reports[-1000:]
    base = peak_rss_mb()
    linker = Linker()
    t = time.perf_counter()
    for r in held:
        linker.add(r)
    fill = time.perf_counter() - t
    lat = []
    for r in probe:
        t1 = time.perf_counter()
        linker.add(r)
        lat.append((time.perf_counter() - t1) * 1000)
    lat_a = np.array(lat)
    return {"reports_held": len(held), "fill_seconds": fill, "add_ms_p50": float(np.percentile(lat_a, 50)),
            "add_ms_p99": float(np.percentile(lat_a, 99)), "add_ms_max": float(lat_a.max()),
            "peak_rss_mb": peak_rss_mb(), "rss_before_mb": base}


ENGINES = {"fanzha": engine_fanzha, "networkx": engine_networkx, "sqlite": engine_sqlite,
           "read": engine_read, "incremental": engine_incremental}


def run_engine(name: str, path: Path, fraction: float, timeout: float) -> dict | None:
    cmd = [sys.executable, __file__, "--engine", name, "--data", str(path), "--fraction", str(fraction)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0:
        return {"error": out.stderr[-2000:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- world

def world_quality(world: Path) -> dict:
    """Link a ``fanzha sim`` world's reports and score them against its truth, if any."""
    import csv

    from fanzha.linking.batch import ReportTable, link
    from fanzha.linking.gangs import split_gangs
    from fanzha.linking.reports import read_reports

    t = time.perf_counter()
    res = read_reports(world / "reports.jsonl")
    lk = link(ReportTable.from_reports(res.reports))
    out: dict = {"reports": len(res.reports), "errors": len(res.errors), "groups": lk.n_groups,
                 "seconds": time.perf_counter() - t}
    truth: dict[str, str] = {}
    for f in sorted((world / "truth").glob("*.csv")) if (world / "truth").exists() else []:
        with open(f, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            cols = reader.fieldnames or []
            gang_col = next((c for c in cols if c in ("gang", "gang_id")), None)
            if "report_id" in cols and gang_col:
                truth.update({row["report_id"]: row[gang_col] for row in reader if row[gang_col]})
    if not truth:
        out["note"] = "no truth/*.csv with report_id and gang columns found"
        return out
    names = {g: i for i, g in enumerate(sorted(set(truth.values())))}
    ids = lk.table.report_ids.tolist()
    gang = np.array([names.get(truth.get(r, ""), -1) for r in ids])
    out["group_precision"], out["group_recall"] = pairwise(lk.group, gang)
    by_id = {r.report_id: r for r in res.reports}
    label = np.empty(len(ids), dtype=np.int64)
    row_of = {r: i for i, r in enumerate(ids)}
    nxt = 0
    for grp, shared in zip(lk.partition(), lk.shared_by_group()):
        for gg in split_gangs([by_id[r] for r in grp], {(s.kind, s.value) for s in shared}):
            label[[row_of[r] for r in gg.reports]] = nxt
            nxt += 1
    out["gang_precision"], out["gang_recall"] = pairwise(label, gang)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--world", type=Path)
    ap.add_argument("--reports", type=int, default=1_000_000)
    ap.add_argument("--ids-per-report", type=float, default=5.0)
    ap.add_argument("--incremental", type=int, default=200_000, help="reports held when timing incremental adds")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds before a baseline is cut to a tenth")
    ap.add_argument("--engine", choices=sorted(ENGINES), help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--fraction", type=float, default=1.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.engine:
        print(json.dumps(ENGINES[args.engine](args.data, args.fraction)))
        return 0

    args.out.mkdir(parents=True, exist_ok=True)
    data_path = args.out / f"linking-data-{args.reports}"
    if not data_path.with_suffix(".edges.parquet").exists():
        t = time.perf_counter()
        save(synth(args.reports, args.ids_per_report), data_path)
        print(f"data: {args.reports:,} reports made in {time.perf_counter() - t:.1f} s", flush=True)
    result: dict = {"reports": args.reports, "ids_per_report": args.ids_per_report, "cpus": os.cpu_count()}
    full = run_engine("fanzha", data_path, 1.0, 3600)
    result["fanzha"] = full
    print(f"fanzha: {full}", flush=True)
    for name in ("networkx", "sqlite"):
        r = run_engine(name, data_path, 1.0, args.timeout)
        fraction = 1.0
        if r is None:
            fraction = 0.1
            r = run_engine(name, data_path, fraction, args.timeout * 3) or {"error": "timed out on a tenth too"}
            r["timed_out_on_full_data_after_s"] = args.timeout
        ref = full if fraction == 1.0 else run_engine("fanzha", data_path, fraction, 3600)
        r["fraction"] = fraction
        if "seconds" in r and ref and "seconds" in ref:
            r["fanzha_seconds_same_data"] = ref["seconds"]
            r["time_ratio_vs_fanzha"] = r["seconds"] / ref["seconds"]
            r["rss_ratio_vs_fanzha"] = r["peak_rss_mb"] / ref["peak_rss_mb"]
        result[name] = r
        print(f"{name}: {r}", flush=True)
    inc_fraction = min(1.0, (args.incremental + 1000) / args.reports)
    result["incremental"] = run_engine("incremental", data_path, inc_fraction, 3600)
    print(f"incremental: {result['incremental']}", flush=True)
    result["read_and_link"] = run_engine("read", data_path, 1.0, 3600)
    print(f"read_and_link: {result['read_and_link']}", flush=True)
    if args.world:
        result["world"] = world_quality(args.world)
        print(f"world: {result['world']}", flush=True)
    (args.out / "linking.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {args.out / 'linking.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
