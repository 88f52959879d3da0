"""The console on the demo world: how long each main page takes to answer, per role.

The world is what ``fanzha demo`` builds (a city of 200,000 transactions and 1,000
reports by default, filed, routed, traced and held). Each page is asked for once to
warm it, then ``--repeat`` times; the median and the worst are reported. Beside each
page stands the JSON API call a tool would make for the same data instead of the
page (the baseline), and the ratio page ÷ API says what rendering costs. Target: every
page well under a second.

Run: ``python benchmarks/bench_console.py --out benchmarks/out [--transactions N --reports N]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HTML = {"Accept": "text/html"}


def _timed(client, path: str, repeat: int, headers: dict | None = None) -> tuple[float, float]:
    r = client.get(path, headers=headers)
    if r.status_code != 200:
        raise SystemExit(f"{path}: {r.status_code} {r.text[:300]}")
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        client.get(path, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--transactions", type=int, default=200_000)
    ap.add_argument("--reports", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--data-dir", type=Path, help="an existing demo data directory (default: a new one)")
    a = ap.parse_args()

    data = a.data_dir or Path(tempfile.mkdtemp(prefix="fanzha-bench-console-"))
    env = {**os.environ, "FANZHA_DATA_DIR": str(data)}
    env.pop("FANZHA_DATABASE_URL", None)
    if not (data / "demo-logins.json").exists():
        subprocess.run([sys.executable, "-m", "fanzha.cli", "demo", "--transactions", str(a.transactions),
                        "--reports", str(a.reports)], env=env, check=True, capture_output=True)
    os.environ.update({"FANZHA_DATA_DIR": str(data)})
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from fanzha.api.app import create_app
    from fanzha.settings import Settings
    from fanzha.store.models import Case, Order

    app = create_app(Settings(data_dir=data))
    logins = json.loads((data / "demo-logins.json").read_text())
    with app.state.sessions() as s:
        case_no = s.execute(select(Case.case_no).order_by(Case.loss_fen.desc())).scalars().first()
        cases = s.execute(select(Case.id)).all()
        orders = s.execute(select(Order.id)).all()

    def browser(user: str) -> TestClient:
        c = TestClient(app, headers=HTML, follow_redirects=True)
        r = c.post("/console/login", data={"username": user, "password": logins[user]})
        assert r.status_code == 200, r.text[:300]
        return c

    def api(user: str) -> dict:
        c = TestClient(app)
        r = c.post("/auth/login", json={"username": user, "password": logins[user]})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    api_client = TestClient(app)
    # page, who, and the API call with the same data (None: the page has no single counterpart)
    plan = [("/console/cases", "analyst", "/cases"), (f"/console/cases/{case_no}", "analyst", f"/cases/{case_no}"),
            ("/console/board", "analyst", None), ("/console/report", "officer", None),
            ("/console/query", "officer", None), ("/console/inbox", "liaison", "/orders"),
            ("/console/figures", "commander", None), ("/console/stats", "commander", "/stats/summary"),
            ("/console/intercept", "analyst", None), ("/console/audit", "admin", "/audit"),
            ("/console/users", "admin", None)]
    browsers: dict[str, TestClient] = {}
    tokens: dict[str, dict] = {}
    rows = []
    for page, who, api_path in plan:
        b = browsers.setdefault(who, browser(who))
        med, worst = _timed(b, page, a.repeat)
        api_med = None
        if api_path:
            h = tokens.setdefault(who, api(who))
            api_med, _ = _timed(api_client, api_path, a.repeat, headers=h)
        rows.append({"page": page, "role": who, "median_ms": med, "worst_ms": worst, "api": api_path,
                     "api_median_ms": api_med, "ratio": (med / api_med) if api_med else None})
    app.state.engine.dispose()

    print(f"demo world in {data}: {len(cases):,} cases, {len(orders):,} orders")
    print(f"{'page':<34}{'role':<11}{'median':>9}{'worst':>9}{'API':>9}{'page/API':>10}")
    for r in rows:
        api_s = f"{r['api_median_ms']:.0f}ms" if r["api_median_ms"] else "—"
        ratio = f"{r['ratio']:.1f}×" if r["ratio"] else "—"
        print(f"{r['page'][:33]:<34}{r['role']:<11}{r['median_ms']:>7.0f}ms{r['worst_ms']:>7.0f}ms{api_s:>9}{ratio:>10}")
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "bench_console.json").write_text(json.dumps({"cases": len(cases), "orders": len(orders), "pages": rows},
                                                         indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
