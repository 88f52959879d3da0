"""Figures (成效): the counts a commander watches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import func, select

from fanzha.api.deps import Principal, SessionDep, require
from fanzha.api.schemas import fen_str
from fanzha.roles import Permission
from fanzha.store.models import Case, Order

router = APIRouter(prefix="/stats", tags=["stats"])

Reader = Annotated[Principal, Depends(require(Permission.stats_read))]


@router.get("/summary")
def summary(principal: Reader, session: SessionDep) -> dict:
    cases, loss = session.execute(select(func.count(Case.id), func.coalesce(func.sum(Case.loss_fen), 0))).one()
    by_state = dict(session.execute(select(Order.state, func.count(Order.id)).group_by(Order.state)).all())
    held = session.execute(
        select(func.coalesce(func.sum(Order.amount_fen), 0))
        .where(Order.kind.in_(["stop_payment", "freeze"]), Order.state == "done")
    ).scalar_one()
    return {"cases": cases, "reported_loss": fen_str(int(loss)), "orders": by_state, "held": fen_str(int(held))}
