"""The simulated gangs keep sweeping after a victim reports: what is not held moves on
layer by layer and is cashed out at the last, on a schedule no chaser changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from fanzha.gateway.simulator import AccountState, Row, Sweeps, World

T0 = datetime(2024, 4, 29, 9, 0, tzinfo=timezone(timedelta(hours=8)))
ALARM = T0 + timedelta(minutes=30)
VICTIM, A, B1, B2, C, OTHER = "V0", "A1", "B1", "B2", "C1", "X9"
EXTRA = {"from_institution": "", "to_institution": "", "channel": "online_banking", "currency": "CNY", "memo": ""}
STOLEN = 120_000_00
OWN = 3_000_00   # the first-layer mule's own money, not the gang's


def world(*, alarm: datetime | None = ALARM, sweeps: Sweeps | None = None) -> World:
    """A victim pays A (layer 1) 120,000; the ledger plans a hop A → B1 an hour after the
    alarm and a cash-out at C. Layers: A → B1|B2 → C."""
    accounts = {a: AccountState(a, inst, "某") for a, inst in
                ((VICTIM, "CCB"), (A, "ICBC"), (B1, "CMB"), (B2, "ALIPAY"), (C, "ABC"), (OTHER, "BOC"))}
    accounts[VICTIM].balance_fen = STOLEN
    accounts[A].balance_fen = OWN
    rows = [Row("P1", T0 + timedelta(minutes=5), VICTIM, A, STOLEN, dict(EXTRA)),
            Row("H1", T0 + timedelta(minutes=90), A, B1, 100_000_00, dict(EXTRA)),
            Row("O1", T0 + timedelta(minutes=95), A, OTHER, 1_000_00, dict(EXTRA)),   # the mule's own spending
            Row("K1", T0 + timedelta(minutes=120), C, "", 50_000_00, dict(EXTRA))]
    w = World(rows, accounts)
    fraud = {"P1": ("victim_payment", "G1"), "H1": ("hop", "G1"), "K1": ("cash_out", "G1")}
    w.enable_sweeps({"G1": [[A], [B1, B2], [C]]}, {"G1": alarm} if alarm else {}, fraud, sweeps or Sweeps(seed=7))
    return w


def test_without_a_chase_the_gang_cashes_everything_out_within_the_hour():
    w = world()
    w.advance(ALARM + timedelta(hours=1))
    assert w.cashed_out_fen() == STOLEN - STOLEN % 100_00
    w.advance(ALARM + timedelta(hours=2))
    assert w.accounts[A].balance_fen == OWN - 1_000_00           # the mule's own money stays his
    assert w.accounts[B1].balance_fen == w.accounts[B2].balance_fen == 0
    assert w.cashed_out_fen() == STOLEN - STOLEN % 100_00          # in hundreds of yuan, at C only
    outs = [e for e in w.swept if not e.row.to_account]
    assert outs and {e.row.from_account for e in outs} == {C}
    assert all(e.amount_fen <= Sweeps().cash_out_max_fen for e in outs)
    # the ledger's own plan for the gang after its alarm was taken over by the sweeps
    assert [r.txn_id for r in w.replaced] == ["H1", "K1"]
    # hops go layer to layer, minutes apart, and only after the alarm
    hops = [e.row for e in w.swept if e.row.to_account]
    assert {(h.from_account, h.to_account in (B1, B2) or h.to_account == C) for h in hops} <= \
        {(A, True), (B1, True), (B2, True)}
    assert min(h.at for h in hops) > ALARM
    # what the institutions show: the sweeps are in the statements
    assert any(r.txn_id.startswith("SW") for r in w.rows_of(A))


def test_a_hold_before_the_first_sweep_keeps_the_money():
    w = world()
    w.advance(ALARM)
    w.hold(A, STOLEN, case_no="FZ1", request_id="r1", at=ALARM)
    w.advance(ALARM + timedelta(hours=3))
    assert w.accounts[A].held_fen == STOLEN and w.accounts[A].balance_fen >= STOLEN
    assert w.cashed_out_fen() == 0


def test_a_late_hold_finds_the_money_moved_on():
    w = world()
    w.advance(ALARM + timedelta(minutes=40))
    h = w.hold(A, STOLEN, case_no="FZ1", request_id="r1", at=ALARM + timedelta(minutes=40))
    assert h.held_fen < STOLEN


def test_the_schedule_is_the_same_whoever_chases():
    """Holds change what the sweeps find, never when they come or where they go."""
    free, chased = world(), world()
    end = ALARM + timedelta(hours=2)
    for minute in range(0, 121, 3):
        at = ALARM + timedelta(minutes=minute)
        chased.advance(at)
        if minute in (6, 12):   # a chaser holding at the second layer
            for acct in (B1, B2):
                chased.hold(acct, 60_000_00, case_no="FZ1", request_id=f"{acct}{minute}", at=at)
    free.advance(end)
    chased.advance(end)
    assert free.schedule and free.schedule == chased.schedule
    assert chased.cashed_out_fen() < free.cashed_out_fen()
    # and another seed is another schedule
    other = world(sweeps=Sweeps(seed=8))
    other.advance(end)
    assert other.schedule != free.schedule


def test_before_its_alarm_or_without_one_a_gang_follows_the_ledger():
    w = world(alarm=None)
    w.advance(ALARM + timedelta(hours=3))
    assert not w.swept and not w.replaced and not w.schedule
    assert w.accounts[B1].balance_fen == 100_000_00       # the planned hop moved, nothing else
    early = world()
    early.advance(ALARM - timedelta(seconds=1))
    assert not early.swept and early.accounts[A].balance_fen == OWN + STOLEN


def test_enabling_after_the_replay_started_is_refused():
    w = world(alarm=None)
    w.advance(T0 + timedelta(minutes=10))
    with pytest.raises(RuntimeError):
        w.enable_sweeps({}, {}, {}, Sweeps())


def test_a_sim_world_directory_sweeps_by_default(tmp_path):
    from fanzha.sim.world import WorldParams, build
    from fanzha.sim.writer import write_world

    write_world(build(WorldParams(seed=3, transactions=4000)), tmp_path)
    plain = World.from_dir(tmp_path, sweeps=None)
    swept = World.from_dir(tmp_path)
    assert swept.sweeps is not None and swept.alarm and plain.sweeps is None
    later = max(r.at for r in plain.rows) + timedelta(days=3)
    plain.advance(later)
    swept.advance(later)
    left_plain = sum(plain.accounts[a].balance_fen for a in swept.dirty)
    left_swept = sum(swept.accounts[a].balance_fen for a in swept.dirty)
    # the ledger alone leaves stolen money sitting in mule accounts; sweeping gangs do not
    assert left_swept < left_plain
    assert sum(swept.dirty.values()) < 100 * len(swept.dirty) * 100   # under 100 yuan an account
