"""Interception benchmark: the compact blocklist against a SQLite table of expressions.

The baseline is how Pi-hole keeps its lists: one SQLite table of listed names with an
index, looked up with one ``SELECT`` per name (here per lookup expression, after the
same Safe Browsing canonicalisation, so both sides answer the same question).

Measured for each engine, each in a fresh subprocess so memory figures are its own:

* load: from the plain list file (URLs and numbers) to ready-to-check, in seconds (fanzha
  loads a large file with a forked helper process on a machine with two cores or more, so
  its CPU time, this process's and the helper's, is printed beside the wall time);
* RSS growth of the process over the load, in MB (psutil); the helper's peak RSS apart;
* URL and phone checks per second in process, on a mix where 5 % of queries are listed;
* the same URL checks through the HTTP batch endpoint (``POST /intercept/check/batch``)
  over loopback: the lists are written to a SQLite store, ``uvicorn`` serves the API in
  a subprocess (``--http-workers`` processes), and a second process sends batches of
  ``--http-batch`` URLs over ``--http-connections`` keep-alive connections with a
  carrier's API key. Reported beside the in-process figure.

Usage::

    python benchmarks/bench_intercept.py                 # 2,000,000 URLs, 1,000,000 numbers
    python benchmarks/bench_intercept.py --urls 200000 --phones 100000 --queries 50000
    python benchmarks/bench_intercept.py --skip-http        # in process only

Writes ``benchmarks/out/intercept.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil

OUT = Path(__file__).resolve().parent / "out" / "intercept.json"
TLDS = ["com", "cn", "net", "top", "xyz", "vip", "cc", "com.cn", "shop", "icu"]
MOBILE_PREFIXES = ["130", "131", "132", "135", "136", "137", "138", "139", "150", "151",
                   "158", "166", "177", "186", "187", "188", "198"]
ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


# ------------------------------------------------------------------ synthetic lists

def _word(rng: random.Random, lo: int, hi: int) -> str:
    return "".join(rng.choices(ALNUM, k=rng.randint(lo, hi)))


def _url(rng: random.Random) -> str:
    host = f"{_word(rng, 5, 14)}.{rng.choice(TLDS)}"
    r = rng.random()
    if r < 0.55:
        return f"{host}"                                            # whole site
    if r < 0.8:
        return f"https://www.{host}/{_word(rng, 3, 8)}/"             # a directory
    return f"http://{host}/{_word(rng, 3, 8)}/{_word(rng, 4, 10)}.html?id={rng.randint(1, 99999)}"


def _mobile(rng: random.Random) -> str:
    return f"{rng.choice(MOBILE_PREFIXES)}{rng.randint(0, 10**8 - 1):08d}"


def _visit_of(listed: str, rng: random.Random) -> str:
    """A URL a user might actually open that the listed entry covers."""
    if "://" not in listed:
        return f"https://m.{listed}/index.php?from=sms"
    return listed.replace("http://", "HTTP://", 1) if rng.random() < 0.5 else listed


def make_data(n_urls: int, n_phones: int, n_queries: int, workdir: Path, seed: int = 7) -> dict:
    rng = random.Random(seed)
    urls = [_url(rng) for _ in range(n_urls)]
    phones = [_mobile(rng) for _ in range(n_phones)]
    listfile = workdir / "block.txt"
    with listfile.open("w", encoding="utf-8") as f:
        f.write("# synthetic fraud list\n")
        f.write("\n".join(urls))
        f.write("\n")
        f.write("\n".join(phones))
        f.write("\n")
    hit = max(1, n_queries // 20)
    url_q = [_visit_of(rng.choice(urls), rng) for _ in range(hit)]
    url_q += [f"https://{_word(rng, 4, 12)}.{rng.choice(TLDS)}/{_word(rng, 2, 8)}/{_word(rng, 3, 9)}"
              f"?u={rng.randint(1, 10**6)}" for _ in range(n_queries - hit)]
    rng.shuffle(url_q)
    phone_q = [rng.choice(phones) for _ in range(hit)] + [_mobile(rng) for _ in range(n_queries - hit)]
    rng.shuffle(phone_q)
    queries = workdir / "queries.json"
    queries.write_text(json.dumps({"urls": url_q, "phones": phone_q}), encoding="utf-8")
    return {"list": str(listfile), "queries": str(queries)}


# ------------------------------------------------------------------ engines (in a subprocess)

def _rss() -> int:
    return psutil.Process().memory_info().rss


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_fanzha(listfile: str, queries: dict) -> dict:
    from fanzha.intercept.listfile import load_blocklist

    rss0 = _rss()
    t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    bl = load_blocklist(listfile, at=datetime.now(timezone.utc))
    load_s, load_own_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    load_child_cpu_s = _children_cpu() - k0
    load_cpu_s = load_own_cpu_s + load_child_cpu_s
    rss1 = _rss()
    urls, phones = queries["urls"], queries["phones"]
    t0, c0 = time.perf_counter(), time.process_time()
    uv = bl.check_urls(urls)
    url_batch_s, url_batch_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    pv = bl.check_phones(phones)
    phone_batch_s, phone_batch_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    single = urls[: min(len(urls), 20000)]
    t0 = time.perf_counter()
    for u in single:
        bl.check_url(u)
    url_single_s = time.perf_counter() - t0
    return {
        "load_s": load_s, "rss_growth_mb": (rss1 - rss0) / 2**20, "rss_mb": rss1 / 2**20,
        "index_mb": bl.nbytes / 2**20, "counts": bl.counts(),
        # CPU time beside wall time: on a machine shared with other work the wall-clock
        # figures say as much about the neighbours as about the code
        # a large list is loaded by this process and a forked helper: both CPU times count,
        # and the helper's peak RSS (mostly pages shared with this process) is reported too
        "load_cpu_s": load_cpu_s, "load_own_cpu_s": load_own_cpu_s, "load_child_cpu_s": load_child_cpu_s,
        "load_child_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**10,
        "url_checks_per_cpu_s": len(urls) / url_batch_cpu_s,
        "load_cpu_us_per_entry": 1e6 * load_cpu_s / max(1, sum(bl.counts().values())),
        "url_check_cpu_us": 1e6 * url_batch_cpu_s / max(1, len(urls)),
        "phone_checks_per_cpu_s": len(phones) / phone_batch_cpu_s,
        "url_checks_per_s": len(urls) / url_batch_s,
        "url_single_checks_per_s": len(single) / url_single_s,
        "phone_checks_per_s": len(phones) / phone_batch_s,
        "urls_blocked": sum(v.blocked for v in uv), "phones_blocked": sum(v.blocked for v in pv),
    }


def run_sqlite(listfile: str, queries: dict) -> dict:
    """Pi-hole's way: an indexed SQLite table, one SELECT per candidate name."""
    from fanzha.intercept.entries import EntryKind
    from fanzha.intercept.listfile import classify, read_list
    from fanzha.intercept.phones import normalize_phone
    from fanzha.intercept.urls import canonical_parts, expressions

    rss0 = _rss()
    t0 = time.perf_counter()
    dbfile = Path(listfile).with_suffix(".sqlite")
    if dbfile.exists():
        dbfile.unlink()
    db = sqlite3.connect(dbfile)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("CREATE TABLE gravity (domain TEXT NOT NULL, list_line INTEGER NOT NULL, "
               "valid_until INTEGER NOT NULL)")
    db.execute("CREATE TABLE allowlist (domain TEXT NOT NULL)")
    db.execute("CREATE TABLE phones (number TEXT NOT NULL, list_line INTEGER NOT NULL, "
               "valid_until INTEGER NOT NULL)")
    until = int((datetime.now(timezone.utc) + timedelta(days=30)).timestamp())
    url_rows, phone_rows = [], []
    for ln in read_list(listfile):
        if ln.kind is EntryKind.url:
            url_rows.append((canonical_parts(ln.value).expression, ln.line, until))
        else:
            phone_rows.append((normalize_phone(ln.value), ln.line, until))
    db.executemany("INSERT INTO gravity VALUES (?, ?, ?)", url_rows)
    db.executemany("INSERT INTO phones VALUES (?, ?, ?)", phone_rows)
    db.execute("CREATE INDEX idx_gravity ON gravity (domain)")
    db.execute("CREATE INDEX idx_allow ON allowlist (domain)")
    db.execute("CREATE INDEX idx_phones ON phones (number)")
    db.commit()
    del url_rows, phone_rows
    load_s = time.perf_counter() - t0
    rss1 = _rss()
    now = int(time.time())
    urls, phones = queries["urls"], queries["phones"]
    t0 = time.perf_counter()
    blocked_urls = 0
    for u in urls:
        for e in expressions(u):
            if db.execute("SELECT 1 FROM gravity WHERE domain = ? AND valid_until > ? LIMIT 1",
                          (e, now)).fetchone():
                if not any(db.execute("SELECT 1 FROM allowlist WHERE domain = ? LIMIT 1",
                                      (a,)).fetchone() for a in expressions(u)):
                    blocked_urls += 1
                break
    url_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    blocked_phones = 0
    for p in phones:
        if classify(p) is EntryKind.phone and db.execute(
                "SELECT 1 FROM phones WHERE number = ? AND valid_until > ? LIMIT 1",
                (normalize_phone(p), now)).fetchone():
            blocked_phones += 1
    phone_s = time.perf_counter() - t0
    size = dbfile.stat().st_size
    db.close()
    dbfile.unlink()
    return {
        "load_s": load_s, "rss_growth_mb": (rss1 - rss0) / 2**20, "rss_mb": rss1 / 2**20,
        "db_file_mb": size / 2**20,
        "url_checks_per_s": len(urls) / url_s, "phone_checks_per_s": len(phones) / phone_s,
        "urls_blocked": blocked_urls, "phones_blocked": blocked_phones,
    }


# ------------------------------------------------------------------ over HTTP

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fill_store(url: str, listfile: str) -> dict:
    """Migrate a fresh store, write the list into ``intercept_entries``, make a carrier key.

    Rows go in through the driver's ``executemany`` (times in the store's own text
    form): the ORM's per-value conversions would make filling three million rows take
    longer than everything measured.
    """
    from fanzha.intercept import store as istore
    from fanzha.intercept.entries import EntryKind
    from fanzha.intercept.listfile import read_list
    from fanzha.intercept.phones import normalize_phone
    from fanzha.intercept.urls import canonical_parts
    from fanzha.store import db
    from fanzha.store.models import InterceptEntry
    from fanzha.store.users import create_client

    t0 = time.perf_counter()
    db.upgrade(url)
    engine = db.make_engine(url)
    now = datetime.now(timezone.utc)
    as_text = "%Y-%m-%d %H:%M:%S.%f"
    stamp = now.replace(tzinfo=None).strftime(as_text)
    until = (now + timedelta(days=30)).replace(tzinfo=None).strftime(as_text)
    seen: set[tuple[str, str]] = set()
    rows = []
    for ln in read_list(listfile):
        if ln.kind is EntryKind.url:
            value, kind = canonical_parts(ln.value).expression, "url"
        else:
            value, kind = normalize_phone(ln.value), "phone"
        if (kind, value) in seen:
            continue
        seen.add((kind, value))
        rows.append(("block", kind, value, istore.value_hash(value),
                     istore.expression_prefix(value) if kind == "url" else None, "feed", "bench", "", 1.0,
                     stamp, stamp, until, "active", 1, 0, "bench", stamp))
    columns = ("listing, kind, value, value_hash, prefix, source_kind, source, reason, score, first_seen, "
               "last_seen, valid_until, state, sightings, hits, created_by, updated_at")
    sql = f"INSERT INTO {InterceptEntry.__tablename__} ({columns}) VALUES ({', '.join(['?'] * 17)})"
    raw = engine.raw_connection()
    try:
        raw.cursor().executemany(sql, rows)
        raw.commit()
    finally:
        raw.close()
    with db.transaction(db.session_factory(engine)) as session:
        key = create_client(session, name="bench-carrier", role="carrier")[1]
    engine.dispose()
    return {"key": key, "entries": len(rows), "fill_s": time.perf_counter() - t0}


def http_client(base: str, key: str, queryfile: str, batch: int, connections: int) -> dict:
    """Send every query URL in batches over ``connections`` threads; checks per second."""
    import httpx

    urls = json.loads(Path(queryfile).read_text(encoding="utf-8"))["urls"]
    batches = [urls[i:i + batch] for i in range(0, len(urls), batch)]
    bodies = [json.dumps({"urls": b}).encode() for b in batches]
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    blocked = [0] * connections
    errors: list[str] = []

    def run(k: int) -> None:
        try:
            with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
                for body in bodies[k::connections]:
                    r = client.post("/intercept/check/batch", content=body)
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:200]}")
                        return
                    blocked[k] += sum(1 for v in r.json()["urls"] if v["blocked"])
        except Exception as err:  # a thread that dies must fail the run, not shorten it
            errors.append(repr(err))

    # Every worker builds its lists in the background as it starts and answers 503 with
    # Retry-After until they are built: wait until the workers answer, each request on a
    # new connection so the server's workers share them out.
    answered = 0
    deadline = time.monotonic() + 600
    while answered < 8 * connections:
        r = httpx.post(base + "/intercept/check/batch", content=bodies[0], headers=headers, timeout=600)
        if r.status_code == 200:
            answered += 1
        elif r.status_code == 503 and time.monotonic() < deadline:
            time.sleep(min(float(r.headers.get("Retry-After", "1")), 5.0))
        else:
            raise RuntimeError(f"warm-up failed: {r.status_code} {r.text[:200]}")
    threads = [threading.Thread(target=run, args=(k,)) for k in range(connections)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"HTTP batch failed: {errors[0]}")
    return {"http_url_checks_per_s": len(urls) / elapsed, "http_seconds": elapsed, "http_batches": len(bodies),
            "http_urls_blocked": sum(blocked)}


def _wrk(base: str, key: str, queryfile: str, batch: int, connections: int, workdir: Path,
         seconds: int = 10) -> dict:
    """The same batches sent by ``wrk`` (Debian's package), a load generator in C that
    leaves the server the CPU a Python client would take. Skipped without wrk."""
    import shutil

    if shutil.which("wrk") is None:
        return {}
    urls = json.loads(Path(queryfile).read_text(encoding="utf-8"))["urls"]
    bodies = [json.dumps({"urls": urls[i:i + batch]}) for i in range(0, min(len(urls), 50 * batch), batch)]
    script = workdir / "batches.lua"
    lua_bodies = ",\n".join("[==[" + b + "]==]" for b in bodies)
    script.write_text(
        "local bodies = {" + lua_bodies + "}\n"
        "local i = 0\n"
        'wrk.method = "POST"\n'
        f'wrk.headers["X-API-Key"] = "{key}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n  i = i % #bodies + 1\n"
        '  return wrk.format(nil, "/intercept/check/batch", nil, bodies[i])\nend\n'
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("WRK %d %d %d %d\\n", summary.requests, summary.duration, summary.errors.status, '
        "summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))\nend\n",
        encoding="utf-8")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), base],
                         capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK "))
    requests, micros, bad_status, socket_errors = (int(x) for x in line.split()[1:])
    # wrk counts the requests cut off when its time is up as socket errors
    return {"http_wrk_url_checks_per_s": requests * batch / (micros / 1e6), "http_wrk_requests": requests,
            "http_wrk_bad_status": bad_status, "http_wrk_socket_errors": socket_errors}


def run_http(data: dict, workdir: Path, workers: int, batch: int, connections: int) -> dict:
    dburl = f"sqlite:///{workdir / 'store.db'}"
    filled = _fill_store(dburl, data["list"])
    port = _free_port()
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""),
               FANZHA_DATABASE_URL=dburl, FANZHA_DATA_DIR=str(workdir),
               FANZHA_SECRET_KEY="bench-only-secret-" + "x" * 24)
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "fanzha.api.app:create_app", "--factory",
                               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                               "--log-level", "warning", "--no-access-log"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start: " + server.stderr.read().decode()[-2000:])
            time.sleep(0.2)
        out = subprocess.run([sys.executable, __file__, "--http-client", base, filled["key"], data["queries"],
                              str(batch), str(connections)],
                             capture_output=True, text=True, env=env)
        if out.returncode != 0:
            raise RuntimeError("the HTTP client failed: " + out.stderr[-2000:])
        result = json.loads(out.stdout)
        result.update(_wrk(base, filled["key"], data["queries"], batch, connections, workdir))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    return {**result, "store_entries": filled["entries"], "store_fill_s": filled["fill_s"], "workers": workers,
            "batch": batch, "connections": connections}


def _worker(engine: str, listfile: str, queryfile: str) -> None:
    queries = json.loads(Path(queryfile).read_text(encoding="utf-8"))
    result = {"fanzha": run_fanzha, "sqlite": run_sqlite}[engine](listfile, queries)
    sys.stdout.write(json.dumps(result))


def _run_worker(engine: str, data: dict) -> dict:
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, __file__, "--worker", engine, data["list"], data["queries"]],
                         check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout)


# ------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", type=int, default=2_000_000)
    ap.add_argument("--phones", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200_000)
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--skip-http", action="store_true", help="Do not measure the HTTP batch endpoint.")
    ap.add_argument("--http-workers", type=int, default=2, help="uvicorn worker processes (default 2).")
    ap.add_argument("--http-batch", type=int, default=1000, help="URLs per batch request (default 1000).")
    ap.add_argument("--http-connections", type=int, default=4, help="Concurrent client connections.")
    ap.add_argument("--out", type=Path, default=None, help="Directory for intercept.json (make bench).")
    ap.add_argument("--worker", nargs=3, metavar=("ENGINE", "LIST", "QUERIES"), help=argparse.SUPPRESS)
    ap.add_argument("--http-client", nargs=5, metavar=("BASE", "KEY", "QUERIES", "BATCH", "CONNS"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(*args.worker)
        return {}
    if args.http_client:
        base, key, queries, size, conns = args.http_client
        sys.stdout.write(json.dumps(http_client(base, key, queries, int(size), int(conns))))
        return {}
    out_path = (args.out / "intercept.json") if args.out else OUT

    with tempfile.TemporaryDirectory(prefix="fanzha-bench-") as tmp:
        t0 = time.perf_counter()
        data = make_data(args.urls, args.phones, args.queries, Path(tmp))
        print(f"generated {args.urls:,} URLs, {args.phones:,} numbers, {args.queries:,} queries "
              f"of each kind in {time.perf_counter() - t0:.1f} s")
        results = {"fanzha": _run_worker("fanzha", data)}
        if not args.skip_baseline:
            results["sqlite"] = _run_worker("sqlite", data)
        if not args.skip_http:
            results["http"] = run_http(data, Path(tmp), args.http_workers, args.http_batch,
                                       args.http_connections)

    f = results["fanzha"]
    report = {
        "benchmark": "intercept",
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "sizes": {"urls": args.urls, "phones": args.phones, "queries": args.queries},
        "targets": {"load_s": 10, "rss_mb": 400, "checks_per_s": 200_000, "http_checks_per_s": 20_000},
        "results": results,
    }
    print(f"{'':24}{'fanzha':>14}{'sqlite':>14}{'gain':>10}")

    def row(label: str, key: str, fmt: str, better_low: bool) -> None:
        a = f[key]
        b = results.get("sqlite", {}).get(key)
        ratio = "" if b is None else f"{(b / a if better_low else a / b):.1f}x"
        bs = "" if b is None else format(b, fmt)
        print(f"{label:24}{format(a, fmt):>14}{bs:>14}{ratio:>10}")
    row("load (s)", "load_s", ".2f", True)
    row("RSS growth (MB)", "rss_growth_mb", ".0f", True)
    row("URL checks/s", "url_checks_per_s", ",.0f", False)
    row("phone checks/s", "phone_checks_per_s", ",.0f", False)
    print(f"fanzha single-call URL checks/s: {f['url_single_checks_per_s']:,.0f}; "
          f"index arrays {f['index_mb']:.0f} MB")
    helper = (f"{f['load_own_cpu_s']:.2f} s in the loading process, {f['load_child_cpu_s']:.2f} s in its "
              f"forked helper, whose peak RSS, mostly pages shared with it, was "
              f"{f['load_child_peak_rss_mb']:.0f} MB" if f["load_child_cpu_s"] > 0 else "one process")
    print(f"fanzha by CPU time: load {f['load_cpu_s']:.2f} s ({helper}), URL checks/s {f['url_checks_per_cpu_s']:,.0f}, "
          f"phone checks/s {f['phone_checks_per_cpu_s']:,.0f}; {f['load_cpu_us_per_entry']:.2f} µs per list "
          f"entry, {f['url_check_cpu_us']:.2f} µs per URL check")
    if "http" in results:
        h = results["http"]
        print(f"URL checks/s through HTTP batches: {h['http_url_checks_per_s']:,.0f} "
              f"(in process {f['url_checks_per_s']:,.0f}; {h['workers']} uvicorn workers, batches of "
              f"{h['batch']}, {h['connections']} connections, {os.cpu_count()} CPUs shared with the client; "
              f"blocked {h['http_urls_blocked']:,} / {f['urls_blocked']:,})")
        if "http_wrk_url_checks_per_s" in h:
            print(f"URL checks/s through HTTP batches sent by wrk: {h['http_wrk_url_checks_per_s']:,.0f} "
                  f"(one client thread in C, same batches and connections; {h['http_wrk_requests']:,} requests, "
                  f"{h['http_wrk_bad_status']} not 200, {h['http_wrk_socket_errors']} cut off at the end)")
        report["http_vs_in_process"] = h["http_url_checks_per_s"] / f["url_checks_per_s"]
    if "sqlite" in results:
        s = results["sqlite"]
        report["ratios"] = {
            "load_speedup": s["load_s"] / f["load_s"],
            "url_checks_speedup": f["url_checks_per_s"] / s["url_checks_per_s"],
            "phone_checks_speedup": f["phone_checks_per_s"] / s["phone_checks_per_s"],
            "rss_growth_ratio": f["rss_growth_mb"] / max(s["rss_growth_mb"], 1e-9),
        }
        agree = (f["urls_blocked"], f["phones_blocked"]) == (s["urls_blocked"], s["phones_blocked"])
        report["same_answers"] = agree
        print(f"blocked URLs {f['urls_blocked']:,} / {s['urls_blocked']:,}, numbers "
              f"{f['phones_blocked']:,} / {s['phones_blocked']:,}: "
              f"{'same answers' if agree else 'ANSWERS DIFFER'}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out_path}")
    return report


if __name__ == "__main__":
    main()
