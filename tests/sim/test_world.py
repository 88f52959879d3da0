"""A small world and its files: the FORMATS.md contracts and the ground truth."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import datetime

import pyarrow.parquet as pq
import pytest

from fanzha.errors import InputError
from fanzha.money import parse_cn_amount, parse_yuan
from fanzha.sim import catalog
from fanzha.sim.check import check_world
from fanzha.sim.world import generate_world
from fanzha.sim.writer import write_world

from .conftest import REPORTS, SEED, TRANSACTIONS

LEDGER_COLUMNS = ["txn_id", "timestamp", "from_account", "to_account", "amount",
                  "from_institution", "to_institution", "channel", "currency", "memo"]
SCAM_TYPES = {"order_brushing", "investment", "loan", "customer_service", "police_impersonation",
              "credit_report", "acquaintance_impersonation", "game_trade", "romance", "shopping",
              "other_fraud", "not_fraud"}
KINDS = {"phone", "bank_card", "url", "domain", "qq", "wechat", "ip", "email", "device", "app", "alipay"}


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def digests(path):
    return {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(world_dir, tmp_path):
    again = generate_world(SEED, TRANSACTIONS, REPORTS)
    write_world(again, tmp_path)
    assert digests(tmp_path) == digests(world_dir)


def test_other_seed_other_world(world):
    other = generate_world(SEED + 1, 5_000, 10)
    assert other.accounts.number[:5] != world.accounts.number[:5]


def test_check_world_finds_nothing(world_dir):
    assert check_world(world_dir) == []


def test_ledger_contract(world_dir):
    with open(world_dir / "ledger.csv", encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split(",")
    assert header == LEDGER_COLUMNS
    rows = read_csv(world_dir / "ledger.csv")
    assert len(rows) == TRANSACTIONS
    assert len({r["txn_id"] for r in rows}) == len(rows)
    stamps = [datetime.fromisoformat(r["timestamp"]) for r in rows]
    assert all(t.utcoffset() is not None and t.utcoffset().total_seconds() == 8 * 3600 for t in stamps)
    assert stamps == sorted(stamps)
    for r in rows:
        amount = r["amount"]
        assert parse_yuan(amount) > 0 and amount == f"{parse_yuan(amount) // 100}.{parse_yuan(amount) % 100:02d}"
        assert r["from_account"] or r["to_account"]
        assert r["from_account"] != r["to_account"]
        assert r["currency"] == "CNY"
        assert bool(r["from_account"]) == bool(r["from_institution"])
        assert bool(r["to_account"]) == bool(r["to_institution"])
    table = pq.read_table(world_dir / "ledger.parquet")
    assert table.column_names == LEDGER_COLUMNS + ["amount_fen"]
    assert table.column("txn_id").to_pylist() == [r["txn_id"] for r in rows]
    assert [parse_yuan(a) for a in table.column("amount").to_pylist()] == table.column("amount_fen").to_pylist()


def test_accounts_file(world_dir, world):
    rows = read_csv(world_dir / "accounts.csv")
    assert list(rows[0]) == ["account", "opening_balance", "institution", "holder"]
    assert len(rows) == len(world.accounts) == len({r["account"] for r in rows})
    codes = set(catalog.INSTITUTIONS_BY_CODE)
    assert all(r["institution"] in codes and r["holder"] for r in rows)
    assert all(parse_yuan(r["opening_balance"], allow_zero=True) >= 0 for r in rows)


def test_cards_are_luhn_valid_and_match_their_bank(world_dir):
    kinds = {r["account"]: r["kind"] for r in read_csv(world_dir / "truth" / "accounts.csv")}
    cards = 0
    for r in read_csv(world_dir / "accounts.csv"):
        inst = catalog.INSTITUTIONS_BY_CODE[r["institution"]]
        if kinds[r["account"]] == "card":
            cards += 1
            assert len(r["account"]) in (16, 19) and catalog.luhn_ok(r["account"]), r
            assert catalog.bin_lookup(r["account"]) == inst.code
        elif kinds[r["account"]] == "payment":
            assert inst.kind == "payment" and r["account"].startswith(inst.account_prefix)
            assert catalog.account_institution(r["account"]) == inst.code
    assert cards > 100


def test_ledger_institutions_follow_the_accounts(world_dir):
    inst = {r["account"]: r["institution"] for r in read_csv(world_dir / "accounts.csv")}
    for r in read_csv(world_dir / "ledger.csv")[:5000]:
        if r["from_account"]:
            assert inst[r["from_account"]] == r["from_institution"]
        if r["to_account"]:
            assert inst[r["to_account"]] == r["to_institution"]


def test_reports_contract(world_dir):
    lines = (world_dir / "reports.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == REPORTS
    reports = [json.loads(line) for line in lines]
    assert len({r["report_id"] for r in reports}) == REPORTS
    received = [datetime.fromisoformat(r["received_at"]) for r in reports]
    assert received == sorted(received) and all(t.tzinfo for t in received)
    districts = set(catalog.DISTRICTS)
    for r in reports:
        assert list(r)[:7] == ["report_id", "received_at", "district", "scam_type", "loss", "identifiers", "text"]
        assert {"victim_id", "address", "source"} <= set(r)
        assert r["scam_type"] in SCAM_TYPES and r["district"] in districts
        assert r["address"].startswith("厦门市" + r["district"])
        assert r["source"] in {"110", "station", "platform"}
        assert r["text"] and parse_yuan(r["loss"], allow_zero=True) >= 0
        for ident in r["identifiers"]:
            assert ident["kind"] in KINDS and ident["value"]
    assert sum(r["scam_type"] == "not_fraud" for r in reports) >= 1


def test_identifiers_are_written_in_the_text(world):
    for r in world.reports:
        compact = r["text"].replace(" ", "").replace("-", "")
        for ident in r["identifiers"]:
            value = ident["value"]
            if ident["kind"] == "phone" and value.startswith("+"):
                national = value[3:] if value.startswith("+86") else value[1:]
                assert national[-7:] in compact, (value, r["text"])
            else:
                assert value in compact or value in r["text"], (value, r["text"])


def test_report_identifiers_belong_to_the_gang_or_are_noise(world_dir, world):
    gangs = {g["gang_id"]: g for g in json.loads((world_dir / "truth" / "gangs.json").read_text("utf-8"))}
    truth = {t["report_id"]: t for t in read_csv(world_dir / "truth" / "reports.csv")}
    noise = {(n["kind"], n["value"]) for n in json.loads((world_dir / "truth" / "common_noise.json").read_text())}
    phones = {c["phone"] for c in read_csv(world_dir / "truth" / "citizens.csv")}
    for r in world.reports:
        gang_id = truth[r["report_id"]]["gang_id"]
        for ident in r["identifiers"]:
            pair = (ident["kind"], ident["value"])
            if pair in noise:
                continue
            if not gang_id:  # not fraud: only a citizen's own number
                assert pair[0] == "phone" and pair[1] in phones
                continue
            g = gangs[gang_id]
            own = {(i["kind"], i["value"]) for i in g["identifiers"]}
            accounts = {m["account"] for m in g["mule_accounts"] if m["layer"] == 1}
            assert pair in own or (pair[0] in ("bank_card", "alipay") and pair[1] in accounts), (pair, gang_id)


def test_victim_rows_are_payments_to_the_gang(world_dir, world):
    ledger = {r["txn_id"]: r for r in read_csv(world_dir / "ledger.csv")}
    victims = read_csv(world_dir / "victims.csv")
    assert victims and list(victims[0]) == ["victim_id", "txn_id"]
    people = {v["victim_id"]: v for v in read_csv(world_dir / "truth" / "victim_people.csv")}
    report_victims = read_csv(world_dir / "truth" / "report_victims.csv")
    truth = {t["report_id"]: t for t in read_csv(world_dir / "truth" / "reports.csv")}
    gang_of_victim = {rv["victim_id"]: truth[rv["report_id"]]["gang_id"] for rv in report_victims}
    gangs = {g["gang_id"]: g for g in json.loads((world_dir / "truth" / "gangs.json").read_text("utf-8"))}
    stolen: dict[str, int] = {}
    for v in victims:
        row = ledger[v["txn_id"]]
        assert row["from_account"] == people[v["victim_id"]]["account"]
        layer1 = {m["account"] for m in gangs[gang_of_victim[v["victim_id"]]]["mule_accounts"] if m["layer"] == 1}
        assert row["to_account"] in layer1
        stolen[v["victim_id"]] = stolen.get(v["victim_id"], 0) + parse_yuan(row["amount"])
    for vid, p in people.items():
        assert stolen[vid] == parse_yuan(p["stolen"])
    reports = {r["report_id"]: r for r in world.reports}
    for rv in report_victims:
        assert parse_yuan(reports[rv["report_id"]]["loss"]) == stolen[rv["victim_id"]]
        assert reports[rv["report_id"]]["victim_id"] == rv["victim_id"]


def test_reports_come_after_the_money(world):
    last: dict[str, int] = {}
    for case in world.fraud.cases:
        last[case.victim_id] = max(p.ts for p in case.payments)
    for r in world.reports:
        if r["victim_id"]:
            assert datetime.fromisoformat(r["received_at"]).timestamp() >= last[r["victim_id"]] + 300


def test_reports_route_to_the_victims_station(world_dir, world):
    truth = {t["report_id"]: t for t in read_csv(world_dir / "truth" / "reports.csv")}
    for r in world.reports:
        unit = catalog.station_for(r["district"], r["address"])
        assert unit is not None and unit.code == truth[r["report_id"]]["unit_code"]


def test_cash_outs_and_holdings(world_dir):
    ledger = {r["txn_id"]: r for r in read_csv(world_dir / "ledger.csv")}
    cash = read_csv(world_dir / "truth" / "cash_outs.csv")
    assert cash
    for c in cash:
        assert ledger[c["txn_id"]]["to_account"] == ""
        assert ledger[c["txn_id"]]["channel"] in ("atm", "counter")
        assert parse_yuan(c["amount"]) % 10000 == 0  # whole hundreds of yuan
    held = read_csv(world_dir / "truth" / "held.csv")
    assert sum(parse_yuan(h["amount"]) for h in held) > 0


def test_mules_are_layered_and_some_are_shared(world_dir):
    gangs = json.loads((world_dir / "truth" / "gangs.json").read_text("utf-8"))
    for g in gangs:
        layers = {m["layer"] for m in g["mule_accounts"]}
        assert layers == set(range(1, g["depth"] + 1)) and 2 <= g["depth"] <= 5
        assert len(g["reports"]) >= 2
    mules = read_csv(world_dir / "truth" / "mules.csv")
    middlemen = {m["account"] for m in mules if m["middleman"] == "true"}
    assert middlemen
    assert not middlemen & {m["account"] for m in mules if m["middleman"] == "false"}


def test_rebates_are_paid_to_victims(world_dir):
    fraud = read_csv(world_dir / "truth" / "fraud_txns.csv")
    people = {v["victim_id"]: v["account"] for v in read_csv(world_dir / "truth" / "victim_people.csv")}
    rebates = [f for f in fraud if f["kind"] == "rebate"]
    for f in rebates:
        assert f["to_account"] == people[f["victim_id"]]
        first = min(x["timestamp"] for x in fraud if x["kind"] == "victim_payment" and x["victim_id"] == f["victim_id"])
        assert f["timestamp"] > first


def test_amounts_in_text_are_readable(world):
    # Every report states money in a form intake can parse; spot-check the officer's total.
    seen = 0
    for r in world.reports:
        if "共计被骗" in r["text"]:
            written = r["text"].split("共计被骗", 1)[1].split("。", 1)[0]
            assert parse_cn_amount(written) == parse_yuan(r["loss"]), written
            seen += 1
    assert seen


def test_xiamen_case(world):
    big = [c for c in world.fraud.cases if sum(p.amount for p in c.payments) == 990_000_00]
    assert big and big[0].scam_type == "customer_service"


@pytest.mark.parametrize("kwargs, field", [
    ({"transactions": 0}, "transactions"),
    ({"transactions": 50, "reports": 40}, "transactions"),
    ({"days": 0}, "days"),
    ({"seed": -1}, "seed"),
    ({"start": datetime(2024, 1, 1)}, "start"),
])
def test_bad_parameters(kwargs, field):
    args = {"seed": 1, "transactions": 1000, "reports": 4, **kwargs}
    with pytest.raises(InputError) as err:
        generate_world(**args)
    assert err.value.field == field
