"""Hand-computed traces: each rule, the whole-fen rule, opening balances, as_of, rebates."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from fanzha.tracing.engine import split_fen

from .helpers import files, t, trace_doc

CST = timezone(timedelta(hours=8))


def formats_example(tmp_path):
    return files(tmp_path, [
        f"T1,{t(0)},v1,B,500.00",
        f"T2,{t(1)},v2,A,300.00",
        f"T3,{t(2)},,A,50.00",
        f"T4,{t(3)},A,,200.00",
    ], ["V1,T1", "V2,T2"])


def test_formats_md_example(tmp_path):
    doc = trace_doc(formats_example(tmp_path), "fifo")
    assert {k: doc[k] for k in ("rule", "stolen", "holdings", "cash_outs", "to_victims", "warnings")} == {
        "rule": "fifo",
        "stolen": {"V1": "500.00", "V2": "300.00"},
        "holdings": {"B": {"V1": "500.00"}, "A": {"V2": "100.00"}},
        "cash_outs": [{"txn_id": "T4", "account": "A", "victims": {"V2": "200.00"}}],
        "to_victims": [],
        "warnings": [],
    }
    assert list(doc)[:6] == ["rule", "stolen", "holdings", "cash_outs", "to_victims", "warnings"]


@pytest.mark.parametrize("rule,held,cashed", [
    # A: V2 300 then clean 50, pays 200 cash.
    ("fifo", "100.00", "200.00"),        # oldest first: all from V2
    ("lifo", "150.00", "150.00"),        # newest first: clean 50, then V2 150
    ("pro-rata", "128.57", "171.43"),    # 200*300/350 = 171.428…: floor 171.42, +1 fen (remainder .8 > clean's .2)
    ("libr", "150.00", "150.00"),        # own money first: 50 clean, then 150 V2
])
def test_each_rule_by_hand(tmp_path, rule, held, cashed):
    doc = trace_doc(formats_example(tmp_path), rule)
    assert doc["holdings"]["A"] == {"V2": held}
    assert doc["cash_outs"][0]["victims"] == {"V2": cashed}


def test_fifo_partly_drawn_lot_keeps_its_place(tmp_path):
    # M gets V1 100 then V2 100; pays 50 to N (from V1), then 100 to N: V1 50 then V2 50.
    # N now holds lots [V1 50][V1 50, V2 50] -> pays 120 cash: V1 100, V2 20.
    doc = trace_doc(files(tmp_path, [
        f"T1,{t(0)},a,M,100.00", f"T2,{t(1)},b,M,100.00",
        f"T3,{t(2)},M,N,50.00", f"T4,{t(3)},M,N,100.00", f"T5,{t(4)},N,,120.00",
    ], ["V1,T1", "V2,T2"]), "fifo")
    assert doc["cash_outs"] == [{"txn_id": "T5", "account": "N", "victims": {"V1": "100.00", "V2": "20.00"}}]
    assert doc["holdings"] == {"N": {"V2": "30.00"}, "M": {"V2": "50.00"}}


def test_lifo_drawn_lots_arrive_in_drawn_order(tmp_path):
    # M: V1 100, V2 100. Pays 150 to N: lifo draws V2 100 then V1 50, arriving in that order,
    # so N's newest lot is V1 50; N pays 60: V1 50, V2 10.
    doc = trace_doc(files(tmp_path, [
        f"T1,{t(0)},a,M,100.00", f"T2,{t(1)},b,M,100.00",
        f"T3,{t(2)},M,N,150.00", f"T4,{t(3)},N,,60.00",
    ], ["V1,T1", "V2,T2"]), "lifo")
    assert doc["cash_outs"][0]["victims"] == {"V1": "50.00", "V2": "10.00"}


def test_whole_fen_split_ties_go_by_holder_id():
    # 1 fen over three equal holders: remainders tie, the smallest id wins; clean is "".
    assert split_fen(1, {"V2": 1, "V1": 1, "": 1}) == {"V2": 0, "V1": 0, "": 1}
    assert split_fen(2, {"V2": 1, "V1": 1, "": 1}) == {"V2": 0, "V1": 1, "": 1}
    assert split_fen(10, {"a": 1, "b": 2}) == {"a": 3, "b": 7}          # 3.33, 6.67: b has the larger remainder
    assert split_fen(5, {"x": 7, "y": 3}) == {"x": 4, "y": 1}           # 3.5, 1.5: tie .5, x first


def test_pro_rata_tie_break_in_a_trace(tmp_path):
    # M holds V1 1 fen, V2 1 fen, clean 1 fen; pays 1 fen cash: the tie goes to clean ("").
    doc = trace_doc(files(tmp_path, [
        f"T0,{t(0)},,M,0.01", f"T1,{t(1)},a,M,0.01", f"T2,{t(2)},b,M,0.01", f"T3,{t(3)},M,,0.01",
    ], ["V1,T1", "V2,T2"]), "pro-rata")
    assert doc["cash_outs"] == []
    assert doc["holdings"] == {"M": {"V1": "0.01", "V2": "0.01"}}
    # With 2 fen out, clean and V1 (ties by id) pay.
    doc = trace_doc(files(tmp_path / "b", [
        f"T0,{t(0)},,M,0.01", f"T1,{t(1)},a,M,0.01", f"T2,{t(2)},b,M,0.01", f"T3,{t(3)},M,,0.02",
    ], ["V1,T1", "V2,T2"]), "pro-rata")
    assert doc["cash_outs"][0]["victims"] == {"V1": "0.01"}


def test_libr_victims_in_proportion_after_clean(tmp_path):
    doc = trace_doc(files(tmp_path, [
        f"T1,{t(0)},a,M,300.00", f"T2,{t(1)},b,M,100.00", f"T3,{t(2)},,M,40.00", f"T4,{t(3)},M,,240.00",
        f"T5,{t(4)},,M,1000.00", f"T6,{t(5)},M,,1000.00",
    ], ["V1,T1", "V2,T2"]), "libr")
    # T4: 40 clean, 200 from victims 3:1 -> V1 150, V2 50. Later clean in and out: claims do not grow back.
    assert doc["cash_outs"][0]["victims"] == {"V1": "150.00", "V2": "50.00"}
    assert doc["holdings"] == {"M": {"V1": "150.00", "V2": "50.00"}}


def test_opening_balance_raised_and_warned(tmp_path):
    # M pays 100 before anything arrives: the opening balance must have been at least 100.
    doc = trace_doc(files(tmp_path, [
        f"T1,{t(0)},M,X,100.00", f"T2,{t(1)},a,M,300.00", f"T3,{t(2)},M,,350.00",
    ], ["V1,T2"], ["M,30.00"]), "fifo")
    # Given 30: 30 - 100 = -70, +300 = 230, -350 = -120 at T3 -> raised by 120 to 150, one clean lot, the
    # oldest. fifo: T1 takes 100 of it, T3 takes the other 50 and V1's 300.
    assert doc["warnings"] == [
        "opening balance of M raised from 30.00 to 150.00 so it never goes below zero "
        "(the ledger takes it below zero by T3)"]
    assert doc["cash_outs"][0]["victims"] == {"V1": "300.00"}
    assert doc["holdings"] == {}


def test_given_opening_balance_is_the_oldest_clean_lot(tmp_path):
    doc = trace_doc(files(tmp_path, [f"T1,{t(0)},a,M,100.00", f"T2,{t(1)},M,,80.00"], ["V1,T1"], ["M,50.00"]),
                    "fifo")
    assert doc["warnings"] == []
    assert doc["cash_outs"][0]["victims"] == {"V1": "30.00"}
    assert doc["holdings"] == {"M": {"V1": "70.00"}}


def test_no_warning_for_accounts_the_money_never_reached(tmp_path):
    doc = trace_doc(files(tmp_path, [f"T1,{t(0)},Z,Y,100.00", f"T2,{t(1)},a,M,10.00"], ["V1,T2"]), "fifo")
    assert doc["warnings"] == []


def test_as_of_stops_the_replay(tmp_path):
    p = formats_example(tmp_path)
    doc = trace_doc(p, "fifo", as_of=datetime(2024, 4, 29, 10, 2, 30, tzinfo=CST))
    assert doc["holdings"] == {"B": {"V1": "500.00"}, "A": {"V2": "300.00"}}
    assert doc["cash_outs"] == []
    doc = trace_doc(p, "fifo", as_of=datetime(2024, 4, 29, 10, 0, 30, tzinfo=CST))
    assert doc["stolen"] == {"V1": "500.00"}
    # as_of is inclusive: a row at exactly that time is replayed.
    doc = trace_doc(p, "fifo", as_of=datetime(2024, 4, 29, 10, 3, 0, tzinfo=CST))
    assert doc["cash_outs"]


def test_rebate_to_a_victim_leaves_as_to_victims(tmp_path):
    # Order brushing: V1 pays 100; the gang pays V2 a 20 rebate out of it; V2 then pays 500.
    doc = trace_doc(files(tmp_path, [
        f"T1,{t(0)},v1,M,100.00", f"T2,{t(1)},M,v2,20.00", f"T3,{t(2)},v2,M,500.00", f"T4,{t(3)},v2,shop,9.00",
    ], ["V1,T1", "V2,T3"]), "fifo")
    assert doc["to_victims"] == [{"txn_id": "T2", "account": "M", "to_account": "v2", "victims": {"V1": "20.00"}}]
    assert doc["holdings"] == {"M": {"V2": "500.00", "V1": "80.00"}}
    assert doc["victims"]["V2"]["rebated"] == "20.00"
    assert "shop" not in doc["holdings"]                 # a victim's own spending is not followed


def test_victim_paying_into_another_victims_account(tmp_path):
    doc = trace_doc(files(tmp_path, [f"T1,{t(0)},v2,M,50.00", f"T2,{t(1)},v1,v2,100.00"], ["V2,T1", "V1,T2"]))
    assert doc["to_victims"] == [{"txn_id": "T2", "account": "v1", "to_account": "v2", "victims": {"V1": "100.00"}}]
    assert doc["stolen"] == {"V1": "100.00", "V2": "50.00"}


def test_victim_handing_over_cash(tmp_path):
    doc = trace_doc(files(tmp_path, [f"T1,{t(0)},v1,,20000.00"], ["V1,T1"]))
    assert doc["cash_outs"] == [{"txn_id": "T1", "account": "v1", "victims": {"V1": "20000.00"}}]
    assert doc["holdings"] == {}


def test_account_both_victim_and_mule_is_a_victims(tmp_path):
    # v1 pays as a victim, and also receives V2's money: that leaves the trace as to_victims.
    doc = trace_doc(files(tmp_path, [f"T1,{t(0)},v1,M,10.00", f"T2,{t(1)},v2,v1,30.00", f"T3,{t(2)},v1,N,30.00"],
                          ["V1,T1", "V2,T2"]))
    assert doc["to_victims"][0]["victims"] == {"V2": "30.00"}
    assert "N" not in doc["holdings"]


def test_self_transfer_moves_nothing(tmp_path):
    doc = trace_doc(files(tmp_path, [f"T1,{t(0)},a,M,10.00", f"T2,{t(1)},M,M,10.00", f"T3,{t(2)},,M,5.00",
                                     f"T4,{t(3)},M,,5.00"], ["V1,T1"]), "lifo")
    assert doc["cash_outs"] == []            # lifo takes the newer clean 5 …
    assert doc["holdings"] == {"M": {"V1": "10.00"}}   # … because the self-transfer did not reorder V1's lot


def test_equal_times_keep_file_order(tmp_path):
    doc = trace_doc(files(tmp_path, [f"T2,{t(1)},M,,10.00", f"T1,{t(0)},a,M,10.00", f"T3,{t(1)},,M,10.00"],
                          ["V1,T1"]), "fifo")
    assert doc["cash_outs"][0]["victims"] == {"V1": "10.00"}   # T2 before T3 although both at 10:01


def test_layers_paths_and_reach(tmp_path):
    doc = trace_doc(files(tmp_path, [
        f"T1,{t(0)},v1,A,100.00", f"T2,{t(1)},A,B,60.00", f"T3,{t(2)},B,C,60.00", f"T4,{t(3)},v1,C,5.00",
        f"T5,{t(4)},C,,65.00",
    ], ["V1,T1", "V1,T4"]))
    assert doc["layers"] == {"A": 1, "C": 1, "B": 2}
    assert doc["reach"] == {"V1": ["A", "B", "C"]}
    assert [(s["txn_id"], s["kind"], s["amount"]) for s in doc["paths"]["V1"]] == [
        ("T1", "victim_payment", "100.00"), ("T2", "transfer", "60.00"), ("T3", "transfer", "60.00"),
        ("T4", "victim_payment", "5.00"), ("T5", "cash_out", "65.00")]
    assert doc["victims"]["V1"]["accounts"] == {"v1": "105.00"}
