"""The loop's decision core, over plain data: no database, no HTTP."""

from __future__ import annotations

from datetime import timedelta

from fanzha.gateway.loop import CaseFacts, Placed, Statement, check_decision, decide, working_ledger

from gwkit import A, B, C, D, LEDGER, START, VICTIM  # noqa: E402

INST = {VICTIM: "CCB", A: "ICBC", B: "ALIPAY", C: "CMB", D: "ICBC"}
NOW = START + timedelta(minutes=5)


def rows_of(account: str, until_s: int) -> tuple[dict, ...]:
    out = []
    for txn, s, frm, to, amount in LEDGER:
        if s <= until_s and account in (frm, to):
            out.append({"txn_id": txn, "timestamp": (START + timedelta(seconds=s)).isoformat(),
                        "from_account": frm, "to_account": to, "amount": amount,
                        "from_institution": INST.get(frm, ""), "to_institution": INST.get(to, "")})
    return tuple(out)


def statement(account: str, until_s: int, balance_fen: int, layer: int = 1) -> Statement:
    return Statement(account, INST[account], balance_fen, START + timedelta(seconds=until_s),
                     rows_of(account, until_s), key=f"q-{account}", layer=layer)


def placed_of(decision, state: str = "pending") -> tuple[Placed, ...]:
    return tuple(Placed(o.kind, o.account, o.institution, state, o.amount_fen, None, o.key, o.layer)
                 for o in decision.orders)


def facts(statements=(), placed=(), victims=frozenset({VICTIM})) -> CaseFacts:
    return CaseFacts("FZ1", ((A, "ICBC"),), victims, 5_000_000, START + timedelta(seconds=10),
                     START + timedelta(seconds=60), tuple(statements), tuple(placed))


def test_the_report_starts_it_with_a_query_of_the_receiving_account():
    d = decide(facts(), now=NOW)
    assert [(o.kind, o.account, o.layer) for o in d.orders] == [("transaction_details", A, 1)]
    # intake already asked: nothing again
    assert decide(facts(placed=placed_of(d)), now=NOW).orders == []


def test_an_answer_holds_what_is_left_and_queries_the_next_layer():
    q = Placed("transaction_details", A, "ICBC", "done", key="q-A", round_no=1)
    f = facts([statement(A, 100, 1_000_000)], [q])
    d = decide(f, now=NOW)
    check_decision(f, d)
    got = {(o.kind, o.account, o.amount_fen, o.layer) for o in d.orders}
    # A: 50,000 in, 30,000 on to B, 10,000 cashed out: 10,000 left there; B got 30,000
    assert got == {("stop_payment", A, 1_000_000, 1), ("stop_payment", B, 3_000_000, 2),
                   ("transaction_details", B, None, 2)}
    assert d.cashed_out_fen == 1_000_000 and d.stolen_fen == 5_000_000
    assert d.untraced == {B: 3_000_000} and not d.done
    # the same answer again (a duplicate, a replay): the same decision, and once placed, nothing
    assert [o.key for o in decide(f, now=NOW).orders] == [o.key for o in d.orders]
    again = decide(facts([statement(A, 100, 1_000_000)], [q, *placed_of(d)]), now=NOW)
    assert again.orders == []


def test_layer_after_layer_until_nothing_is_left():
    q = Placed("transaction_details", A, "ICBC", "done", key="q-A", round_no=1)
    st = [statement(A, 100, 1_000_000)]
    d1 = decide(facts(st, [q]), now=NOW)
    # the holds done: A's held its 10,000; B's, sent when B had 10,000 left, held that
    placed = [q, *(Placed(p.kind, p.account, p.institution, "done", p.amount_fen,
                          1_000_000 if p.amount_fen else None, p.key, p.round_no) for p in placed_of(d1))]
    # B answers later: 20,000 went on to C, 10,000 still there
    st.append(statement(B, 150, 1_000_000, layer=2))
    f2 = facts(st, placed)
    d2 = decide(f2, now=NOW)
    check_decision(f2, d2)
    assert {(o.kind, o.account, o.amount_fen, o.layer) for o in d2.orders} == {
        ("stop_payment", C, 2_000_000, 3), ("transaction_details", C, None, 3)}
    placed += placed_of(d2, "done")
    st.append(statement(C, 150, 2_000_000, layer=3))
    d3 = decide(facts(st, placed), now=NOW)
    assert d3.orders == [] and d3.done
    assert d3.layers == {A: 1, B: 2, C: 3}


def test_holds_are_topped_up_never_beyond_the_victims_money():
    q = Placed("transaction_details", A, "ICBC", "done", key="q-A", round_no=1)
    # intake stopped 5,000 at A; the plan says 10,000: a top-up of 5,000
    pre = Placed("stop_payment", A, "ICBC", "done", 500_000, 500_000, key="intake", round_no=0)
    f = facts([statement(A, 100, 1_000_000)], [q, pre])
    d = decide(f, now=NOW)
    check_decision(f, d)
    assert [o.amount_fen for o in d.orders if o.account == A] == [500_000]
    # a refused hold counts for nothing; a hold that found less counts for what it held
    short = Placed("stop_payment", A, "ICBC", "done", 1_000_000, 300_000, key="k2", round_no=1)
    d = decide(facts([statement(A, 100, 1_000_000)], [q, short]), now=NOW)
    assert [o.amount_fen for o in d.orders if o.account == A] == [700_000]


def test_without_the_victims_accounts_the_reported_payments_are_found():
    q = Placed("transaction_details", A, "ICBC", "done", key="q-A", round_no=1)
    d = decide(facts([statement(A, 100, 1_000_000)], [q], victims=frozenset()), now=NOW)
    assert d.stolen_fen == 5_000_000
    assert {o.account for o in d.orders} == {A, B}


def test_the_working_ledger_counts_a_transfer_once():
    rows, inst, opening = working_ledger([statement(A, 100, 1_000_000), statement(B, 150, 1_000_000)])
    assert [r["txn_id"] for r in rows] == ["T1", "T2", "T3", "T4"]
    assert opening == {A: 0, B: 0} and inst[C] == "CMB"


def test_money_held_upstream_is_not_chased_downstream():
    """The emergency stop at the receiving account, for the report's 50,000, reached it
    after the victim's money had moved on and other money had come in, and held 50,000:
    the case holds 50,000 already, so nothing more is asked downstream — the holds never
    add up to more than was stolen."""
    q = Placed("transaction_details", A, "ICBC", "done", key="q-A", round_no=1)
    stop = Placed("stop_payment", A, "ICBC", "done", 5_000_000, 5_000_000, key="intake", round_no=1)
    f = facts([statement(A, 100, 1_000_000)], [q, stop])
    d = decide(f, now=NOW)
    check_decision(f, d)
    assert [o for o in d.orders if o.kind == "stop_payment"] == [] and d.done
    assert any("held already" in why for _, why in d.skipped)
    # while that stop is still on its way it counts for what it asked: the rest only is chased
    pending = Placed("stop_payment", A, "ICBC", "sent", 2_000_000, key="intake", round_no=1)
    f = facts([statement(A, 100, 1_000_000)], [q, pending])
    d = decide(f, now=NOW)
    check_decision(f, d)
    holds = {o.account: o.amount_fen for o in d.orders if o.kind == "stop_payment"}
    assert sum(holds.values()) + 2_000_000 <= 5_000_000 and holds == {B: 3_000_000}
    # it comes back having found only 10,000: the room it leaves is chased again
    short = Placed("stop_payment", A, "ICBC", "done", 2_000_000, 1_000_000, key="intake", round_no=1)
    f = facts([statement(A, 100, 1_000_000)], [q, short, *placed_of(d)])
    d = decide(f, now=NOW)
    check_decision(f, d)
    assert sum(o.amount_fen for o in d.orders if o.kind == "stop_payment") == 0   # B's 30,000 asked already
