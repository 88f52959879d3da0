"""Writing a world to a directory: the files other tools read, and the truth beside them.

Tabular files are written twice, as CSV (what a bank sends and a person opens) and as
Parquet (what the engines scan); both carry the same rows in the same order. The ledger
is streamed batch by batch, so writing ten million rows holds one batch at a time.

Layout::

    DIR/ledger.csv  ledger.parquet     FORMATS.md ledger (+ amount_fen in Parquet)
    DIR/victims.csv victims.parquet    victim_id,txn_id
    DIR/accounts.csv accounts.parquet  account,opening_balance,institution,holder
    DIR/reports.jsonl                  FORMATS.md reports + victim_id, address, source
    DIR/units.json  institutions.json  the catalogue
    DIR/world.json                     parameters and counts
    DIR/truth/…                        who did what (see :func:`write_truth`)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fanzha.money import format_fen
from fanzha.sim import catalog
from fanzha.sim.fraud import CASH_OUT, REBATE, VICTIM_PAYMENT
from fanzha.sim.world import ACCOUNT_KINDS, LEDGER_CSV_COLUMNS, LEDGER_SCHEMA, ROLES, Progress, World, _iso

_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="none", batch_size=65536)


def write_world(world: World, out: str | Path, *, progress: Progress | None = None,
                rows_per_batch: int = 1_000_000) -> dict[str, Any]:
    """Write every file of ``world`` under ``out``; returns the summary also saved as world.json."""
    out = Path(out)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    _write_ledger(world, out, progress, rows_per_batch)
    write_table(_victims_table(world), out, "victims")
    write_table(_accounts_table(world), out, "accounts")
    _write_jsonl(out / "reports.jsonl", world.reports)
    _write_json(out / "units.json", units_json())
    _write_json(out / "institutions.json", institutions_json())
    write_truth(world, out / "truth")
    summary = summary_of(world)
    _write_json(out / "world.json", summary)
    return summary


def write_table(table: pa.Table, out: Path, name: str) -> None:
    """``name.csv`` and ``name.parquet`` with the same rows; CSV values are never quoted
    (none of ours contains a comma, quote or newline — pyarrow refuses if one does)."""
    pq.write_table(table, out / f"{name}.parquet", compression="zstd")
    with open(out / f"{name}.csv", "wb") as fh:
        fh.write((",".join(table.column_names) + "\n").encode())
        pacsv.write_csv(table, fh, _CSV_OPTIONS)


def _write_ledger(world: World, out: Path, progress: Progress | None, rows_per_batch: int) -> None:
    csv_schema = pa.schema([LEDGER_SCHEMA.field(n) for n in LEDGER_CSV_COLUMNS])
    with open(out / "ledger.csv", "wb") as fh, \
            pq.ParquetWriter(out / "ledger.parquet", LEDGER_SCHEMA, compression="zstd") as pw:
        fh.write((",".join(LEDGER_CSV_COLUMNS) + "\n").encode())
        writer = pacsv.CSVWriter(fh, csv_schema, write_options=_CSV_OPTIONS)
        for batch in world.ledger_batches(rows_per_batch=rows_per_batch, progress=progress):
            pw.write_batch(batch)
            writer.write_batch(batch.select(LEDGER_CSV_COLUMNS))
        writer.close()


def _victims_table(world: World) -> pa.Table:
    rows = world.victim_rows()
    return pa.table({"victim_id": [r[0] for r in rows], "txn_id": [r[1] for r in rows]})


def _accounts_table(world: World) -> pa.Table:
    a = world.accounts
    codes = np.array([i.code for i in catalog.INSTITUTIONS], dtype=object)
    return pa.table({
        "account": pa.array(a.number, pa.string()),
        "opening_balance": pa.array([format_fen(int(x)) for x in a.opening], pa.string()),
        "institution": pa.array(codes[a.institution], pa.string()),
        "holder": pa.array(a.holder, pa.string()),
    })


def units_json() -> list[dict[str, Any]]:
    return [{"code": u.code, "name": u.name, "kind": u.kind, "parent_code": u.parent_code,
             "districts": list(u.districts), "zones": list(u.zones)} for u in catalog.UNITS]


def institutions_json() -> list[dict[str, Any]]:
    out = []
    for i in catalog.INSTITUTIONS:
        d: dict[str, Any] = {"code": i.code, "name": i.name, "kind": i.kind}
        if i.bins:
            d["bins"] = list(i.bins)
            d["card_length"] = i.card_length
        if i.account_prefix:
            d["account_prefix"] = i.account_prefix
        if i.number_prefixes:
            d["number_prefixes"] = list(i.number_prefixes)
        if i.host:
            d["host"] = i.host
        if i.hotline:
            d["hotline"] = i.hotline
        out.append(d)
    return out


def write_truth(world: World, out: Path) -> None:
    """The ground truth, for tests and benchmarks of tracing and linking.

    ``gangs.json``           gang → scam types, den, report ids, identifiers, mule accounts by layer
    ``report_victims.csv``   report_id,victim_id (a case = the reports of one victim)
    ``reports.csv``          report_id,gang_id,victim_id,citizen_id,scam_type,unit_code,voice,duplicate_of
    ``fraud_txns.csv``       every fraud ledger row: txn_id,kind,gang_id,victim_id,…,amount
    ``cash_outs.csv``        the withdrawals by the last layer (to_account empty in the ledger)
    ``mules.csv``            account,gang_id,layer,middleman,holder_id,institution
    ``held.csv``             what the simulation left in each mule account, per gang
    ``victim_people.csv``    victim_id,citizen_id,account,stolen,rebated
    ``citizens.csv``, ``mule_people.csv``, ``merchants.csv``, ``accounts.csv`` (kind, role, owner)
    ``common_noise.json``    identifiers that appear across gangs and mean nothing
    """
    w = world
    fr = w.fraud
    number = w.accounts.number
    reports_of: dict[str, list[str]] = {}
    for t in w.report_truth:
        if t["gang_id"]:
            reports_of.setdefault(t["gang_id"], []).append(t["report_id"])
    gangs = []
    for g in fr.gangs:
        gangs.append({
            "gang_id": g.gang_id, "scam_types": g.scam_types, "den": g.den, "depth": g.depth,
            "reports": reports_of.get(g.gang_id, []),
            "identifiers": [{"kind": k, "value": v} for k, v in g.identifiers()],
            "mule_accounts": [{"account": fr.accounts[a].number, "institution": fr.accounts[a].institution,
                               "layer": layer + 1, "middleman": fr.accounts[a].middleman,
                               "gangs": fr.accounts[a].gangs}
                              for layer, accts in enumerate(g.layers) for a in accts],
        })
    _write_json(out / "gangs.json", gangs)
    write_table(pa.table({"report_id": [t["report_id"] for t in w.report_truth if t["victim_id"]],
                          "victim_id": [t["victim_id"] for t in w.report_truth if t["victim_id"]]}),
                out, "report_victims")
    cols = ("report_id", "gang_id", "victim_id", "citizen_id", "scam_type", "unit_code", "voice", "duplicate_of")
    write_table(pa.table({c: pa.array([t[c] or "" for t in w.report_truth], pa.string()) for c in cols}),
                out, "reports")

    gang_id = [g.gang_id for g in fr.gangs]
    rows = fr.rows
    fraud = {
        "txn_id": w.fraud_txn,
        "kind": [r.kind for r in rows],
        "gang_id": [gang_id[r.gang] for r in rows],
        "victim_id": [fr.cases[r.case].victim_id if r.case >= 0 else "" for r in rows],
        "timestamp": [_iso(r.ts) for r in rows],
        "from_account": [number[r.payer] if r.payer >= 0 else "" for r in rows],
        "to_account": [number[r.payee] if r.payee >= 0 else "" for r in rows],
        "amount": [format_fen(r.amount) for r in rows],
    }
    table = pa.table(fraud)
    write_table(table, out, "fraud_txns")
    keep = [i for i, r in enumerate(rows) if r.kind == CASH_OUT]
    write_table(table.take(pa.array(keep, pa.int64())).drop_columns(["victim_id", "to_account"]), out, "cash_outs")

    mules = {"account": [], "gang_id": [], "layer": [], "middleman": [], "holder_id": [], "institution": []}
    for a in fr.accounts:
        for g in a.gangs:
            mules["account"].append(a.number)
            mules["gang_id"].append(g)
            mules["layer"].append(a.layer[g])
            mules["middleman"].append(a.middleman)
            mules["holder_id"].append(fr.people[a.holder].person_id)
            mules["institution"].append(a.institution)
    write_table(pa.table(mules), out, "mules")
    held = sorted(fr.held.items())
    write_table(pa.table({"account": [number[a] for (a, _), _ in held],
                          "gang_id": [gang_id[g] for (_, g), _ in held],
                          "amount": [format_fen(v) for _, v in held]}), out, "held")

    vict = {"victim_id": [], "citizen_id": [], "account": [], "stolen": [], "rebated": []}
    for c in fr.cases:
        vict["victim_id"].append(c.victim_id)
        vict["citizen_id"].append(w.citizens.person_id[c.victim])
        vict["account"].append(number[c.payer])
        vict["stolen"].append(format_fen(sum(p.amount for p in c.payments)))
        vict["rebated"].append(format_fen(sum(p.amount for p in c.rebates)))
    write_table(pa.table(vict), out, "victim_people")

    c = w.citizens
    write_table(pa.table({
        "person_id": c.person_id, "name": c.name, "gender": ["男" if m else "女" for m in c.male],
        "birth_year": c.birth_year.astype(np.int64), "id_number": c.id_number, "district": c.district,
        "address": c.address, "unit_code": c.unit_code, "phone": c.phone,
    }), out, "citizens")
    write_table(pa.table({"person_id": [p.person_id for p in fr.people], "name": [p.name for p in fr.people],
                          "id_number": [p.id_number for p in fr.people], "phone": [p.phone for p in fr.people]}),
                out, "mule_people")
    write_table(pa.table({"merchant_id": [m[0] for m in w.merchants], "name": [m[1] for m in w.merchants],
                          "district": [m[2] for m in w.merchants]}), out, "merchants")
    a = w.accounts
    write_table(pa.table({
        "account": pa.array(a.number, pa.string()),
        "kind": pa.array(np.array(ACCOUNT_KINDS, dtype=object)[a.kind], pa.string()),
        "role": pa.array(np.array(ROLES, dtype=object)[a.role], pa.string()),
        "owner_id": pa.array(a.owner, pa.string()),
        "own_money": pa.array([format_fen(int(x)) for x in a.base], pa.string()),
    }), out, "accounts")
    _write_json(out / "common_noise.json", [{"kind": k, "value": v} for k, v in catalog.COMMON_NOISE])


def summary_of(world: World) -> dict[str, Any]:
    fr = world.fraud
    kinds: dict[str, int] = {}
    for r in fr.rows:
        kinds[r.kind] = kinds.get(r.kind, 0) + r.amount
    p = world.params
    return {
        "seed": p.seed, "transactions": world.n_rows, "days": p.days,
        "start": _iso(world.start), "end": _iso(world.end),
        "citizens": len(world.citizens.person_id), "merchants": len(world.merchants),
        "accounts": len(world.accounts), "reports": len(world.reports), "cases": len(fr.cases),
        "gangs": len(fr.gangs), "mule_accounts": len(fr.accounts),
        "middlemen": sum(1 for a in fr.accounts if a.middleman),
        "fraud_rows": len(fr.rows),
        "stolen": format_fen(kinds.get(VICTIM_PAYMENT, 0)),
        "rebated": format_fen(kinds.get(REBATE, 0)),
        "cashed_out": format_fen(kinds.get(CASH_OUT, 0)),
        "held_in_mule_accounts": format_fen(sum(fr.held.values())),
    }


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
