"""Reference data into the database: the city's units and the institutions.

Idempotent: running it again adds what is missing and changes nothing else.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fanzha.sim import catalog
from fanzha.store.models import Institution, Unit, UnitZone


def seed_reference(session: Session) -> dict[str, int]:
    units = {u.code: u for u in session.execute(select(Unit)).scalars()}
    added_units = 0
    for spec in catalog.UNITS:  # parents come before children in the catalogue
        if spec.code in units:
            continue
        unit = Unit(code=spec.code, name=spec.name, kind=spec.kind,
                    parent=units.get(spec.parent_code) if spec.parent_code else None)
        unit.zones = [UnitZone(district=d, zone=z) for d, z in catalog.unit_zones(spec)]
        session.add(unit)
        units[spec.code] = unit
        added_units += 1
    have = set(session.execute(select(Institution.code)).scalars())
    added_inst = 0
    for spec in catalog.INSTITUTIONS:
        if spec.code not in have:
            session.add(Institution(code=spec.code, name=spec.name, kind=spec.kind))
            added_inst += 1
    session.flush()
    return {"units": added_units, "institutions": added_inst}
