"""Units and institutions: who the centre works with."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select

from fanzha.api.deps import Principal, SessionDep, require
from fanzha.roles import Permission
from fanzha.store.models import Institution, Unit

router = APIRouter(tags=["reference"])

Reader = Annotated[Principal, Depends(require(Permission.reference_read))]


@router.get("/units")
def list_units(principal: Reader, session: SessionDep) -> list[dict]:
    units = session.execute(select(Unit).order_by(Unit.code)).scalars().all()
    return [{"code": u.code, "name": u.name, "kind": u.kind, "parent": u.parent.code if u.parent else None,
             "zones": [{"district": z.district, "zone": z.zone} for z in u.zones]} for u in units]


@router.get("/institutions")
def list_institutions(principal: Reader, session: SessionDep) -> list[dict]:
    rows = session.execute(select(Institution).order_by(Institution.code)).scalars().all()
    return [{"code": i.code, "name": i.name, "kind": i.kind, "api": i.api_url is not None} for i in rows]
