"""The audit log is append-only, and a tampered record shows."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from fanzha.store import audit
from fanzha.store.db import transaction


def _write(sessions, n: int) -> None:
    with transaction(sessions) as s:
        for i in range(n):
            audit.record(s, actor="analyst", actor_kind="user", role="analyst", action="case_read",
                         resource=f"/cases/FZ{i}", case_no=f"FZ{i}", detail={"i": i})


def test_chain_verifies(sessions):
    _write(sessions, 5)
    with sessions() as s:
        check = audit.verify_chain(s)
    assert check.ok and check.records == 5


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'someone else'",
                                       "DELETE FROM audit_log"])
def test_database_refuses_changes(sessions, statement):
    _write(sessions, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        with transaction(sessions) as s:
            s.execute(text(statement))
    with sessions() as s:
        assert audit.verify_chain(s).ok


def test_rolled_back_work_leaves_no_record(sessions):
    with pytest.raises(RuntimeError):
        with transaction(sessions) as s:
            audit.record(s, actor="a", actor_kind="user", role="analyst", action="x", resource="/x")
            raise RuntimeError("the work failed")
    with sessions() as s:
        check = audit.verify_chain(s)
    assert check.ok and check.records == 0


def test_tampering_is_detected(sessions, migrated_url):
    """Someone with the database owner's rights drops the guard and edits a record."""
    _write(sessions, 3)
    with transaction(sessions) as s:
        if migrated_url.startswith("sqlite"):
            s.execute(text("DROP TRIGGER audit_log_no_update"))
        else:
            s.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        s.execute(text("UPDATE audit_log SET case_no = 'FZ-other' WHERE id = 2"))
    with sessions() as s:
        check = audit.verify_chain(s)
    assert not check.ok and check.first_bad_id == 2
