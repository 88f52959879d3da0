"""Bulk filing writes its big tables through the driver (values in the driver's form):
what is stored must be exactly what a Core insert stores, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DataError, IntegrityError

from fanzha.store import db, seed
from fanzha.store.db import insert_rows
from fanzha.store.db import transaction
from fanzha.store.models import Case, CaseEvent, Institution, Order, OrderEvent, Report

AT = datetime(2024, 5, 1, 2, 0, 7, tzinfo=timezone(timedelta(hours=8)))  # whole seconds: no microseconds


def _raw(session, table, ids) -> list[tuple]:
    """The stored values as the database hands them back, without the type's conversions."""
    cols = ", ".join(c.name for c in table.c if c.name != "id")
    rows = session.connection().exec_driver_sql(f"SELECT id, {cols} FROM {table.name} ORDER BY id").all()
    return [r[1:] for r in rows if r[0] in ids]


def _both(session, table, rows, again=None) -> tuple[list, list]:
    """The rows written by a Core insert and (``again``, or the same) by the driver path;
    their raw stored values."""
    core = {i for (i,) in session.execute(insert(table).returning(table.c.id), rows)}
    ours = insert_rows(session, table, again or rows, returning=("id", "id"))
    return _raw(session, table, core), _raw(session, table, {i for i, _ in ours})


def test_driver_rows_are_stored_as_core_rows(sessions):
    with transaction(sessions) as s:
        seed.seed_reference(s)
    with transaction(sessions) as s:
        case_rows = [{"case_no": f"FZ-{n}", "status": "open", "scam_type": None if n else "impersonation",
                      "unit_id": None, "summary": "被冒充客服诈骗" * n, "escalated_to_id": None,
                      "opened_at": AT + timedelta(microseconds=n * 123), "loss_fen": n * 10**9, "emergency": bool(n)}
                     for n in range(3)]
        core, ours = _both(s, Case.__table__, case_rows, [{**r, "case_no": r["case_no"] + "b"} for r in case_rows])
        assert [r[1:] for r in core] == [r[1:] for r in ours]  # case_no is unique: compared without it
        cid = s.execute(select(Case.id).limit(1)).scalar_one()
        report_rows = [{"source": "110", "external_id": None, "received_at": AT, "district": "思明区", "address": "",
                        "scam_type": None, "loss_fen": 0, "text": "转账5万元", "caller": "", "paid_at": p,
                        "fingerprint": f"fp{n}", "case_id": cid, "created_by": "desk"}
                       for n, p in enumerate([None, AT - timedelta(minutes=20, microseconds=5)])]
        core, ours = _both(s, Report.__table__, report_rows)
        assert core == ours
        event_rows = [{"case_id": cid, "at": AT, "kind": "classified", "actor": "intake",
                       "detail": {"scam_type": "刷单", "evidence": ["返利", "QQ"], "loss": 12, "none": None}},
                      {"case_id": cid, "at": AT, "kind": "filed", "actor": "desk", "detail": {}}]
        core, ours = _both(s, CaseEvent.__table__, event_rows)
        assert core == ours
        # Orders leave columns to their defaults, as the outbox's rows do.
        iid = s.execute(select(Institution.id).limit(1)).scalar_one()
        order_rows = [{"case_id": cid, "institution_id": iid, "kind": "stop_payment", "target": "6212", "amount_fen": a,
                       "legal_basis": "第十八条", "idempotency_key": f"k{a}", "created_by": "intake",
                       "request": {"amount_fen": a}} for a in (None, 5)]
        core = {i for (i,) in s.execute(insert(Order.__table__).returning(Order.id), order_rows)}
        ours = {i for _, i in insert_rows(s, Order.__table__, [{**r, "idempotency_key": r["idempotency_key"] + "b"}
                                                                 for r in order_rows],
                                           returning=("idempotency_key", "id"))}
        clock = {"created_at", "updated_at"}
        keep = [n for n, c in enumerate(c for c in Order.__table__.c if c.name != "id")
                if c.name not in clock | {"idempotency_key"}]
        assert [[r[n] for n in keep] for r in _raw(s, Order.__table__, core)] == \
            [[r[n] for n in keep] for r in _raw(s, Order.__table__, ours)]
        oid = min(core)
        event = [{"order_id": oid, "at": AT, "from_state": None, "to_state": "pending", "actor": "intake", "note": ""}]
        core, ours = _both(s, OrderEvent.__table__, event)
        assert core == ours
        # and the model reads them back as it reads its own
        got = s.execute(select(Report.paid_at).where(Report.fingerprint == "fp1")).scalars().all()
        assert got == [AT - timedelta(minutes=20, microseconds=5)] * 2


def _imported(n: int) -> list[dict]:
    """``n`` report rows as an import writes them, each with its own platform id and fingerprint."""
    return [{"source": "import", "external_id": f"x{k}", "received_at": AT, "district": "", "address": "",
             "scam_type": None, "loss_fen": k, "text": "t", "caller": "", "paid_at": None,
             "fingerprint": f"f{k:03d}", "case_id": None, "created_by": "b"} for k in range(n)]


def test_many_rows_in_several_statements(sessions):
    with transaction(sessions) as s:
        rows = _imported(300)
        ids = dict(insert_rows(s, Report.__table__, rows, returning=("fingerprint", "id")))
        assert len(ids) == 300 and len(set(ids.values())) == 300
        assert s.execute(text("SELECT count(*) FROM reports")).scalar_one() == 300


def test_copied_rows_are_stored_as_core_rows(sessions, monkeypatch):
    """The same rows again, every table written the way a big chunk is (COPY on PostgreSQL)."""
    monkeypatch.setattr(db, "COPY_FROM", 1)
    test_driver_rows_are_stored_as_core_rows(sessions)


def test_ids_come_back_in_the_rows_order(sessions):
    with transaction(sessions) as s:
        rows = _imported(40)
        first = dict(insert_rows(s, Report.__table__, rows, returning=("fingerprint", "id")))
        again = dict(insert_rows(s, Report.__table__, [{**r, "external_id": r["external_id"] + "b"} for r in rows],
                                 returning=("id", "fingerprint")))
        ids = [first[r["fingerprint"]] for r in rows]
        assert ids == sorted(ids) and len(set(ids)) == 40
        assert min(again) > max(ids) and [again[i] for i in sorted(again)] == [r["fingerprint"] for r in rows]
        stored = dict(s.connection().exec_driver_sql("SELECT id, fingerprint FROM reports").all())
        assert all(stored[i] == fp for fp, i in first.items())
        # the store goes on numbering after them
        s.add(Report(source="import", external_id="later", received_at=AT, text="t", fingerprint="later"))
        s.flush()
        assert s.execute(select(Report.id).where(Report.fingerprint == "later")).scalar_one() > max(again)


@pytest.mark.parametrize("bad, error", [("external_id", IntegrityError), ("fingerprint", DataError)])
def test_a_refused_row_raises_what_an_insert_raises(sessions, bad, error):
    """Only the store can see a repeated platform id or an over-long value: the bulk writer
    reports them as SQLAlchemy's errors, which the importer catches to name the row."""
    rows = _imported(40)
    rows[-1][bad] = rows[0][bad] if bad == "external_id" else "f" * 33
    if bad == "fingerprint" and sessions.kw["bind"].dialect.name == "sqlite":
        pytest.skip("SQLite keeps strings of any length")
    with pytest.raises(error):
        with transaction(sessions) as s:
            insert_rows(s, Report.__table__, rows, returning=("fingerprint", "id"))
    with sessions() as s:
        assert s.execute(text("SELECT count(*) FROM reports")).scalar_one() == 0


def test_one_of_selects_the_same_rows_as_an_in_list(sessions):
    """``one_of`` (one array parameter on PostgreSQL) picks exactly what ``IN`` picks:
    none, one, many, values absent from the table, text and integers."""
    with transaction(sessions) as s:
        seed.seed_reference(s)
        codes = sorted(s.execute(select(Institution.code)).scalars())
        ids = sorted(s.execute(select(Institution.id)).scalars())
        for wanted in ([], codes[:1], codes[::3] + ["NO-SUCH", "银行"], codes):
            got = sorted(s.execute(select(Institution.code).where(db.one_of(s, Institution.code, wanted))).scalars())
            assert got == sorted(set(wanted) & set(codes))
        got = sorted(s.execute(select(Institution.id).where(db.one_of(s, Institution.id, ids[1::2] + [-1]))).scalars())
        assert got == ids[1::2]
