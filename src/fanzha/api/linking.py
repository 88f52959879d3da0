"""Case linking through the API: "this case links to group G (n reports, total loss,
through which identifiers)", analysts' confirmed and rejected links, the gang page,
身份还原, exports for Gephi, link-chart tools and STIX, and STIX imports.

Groups are computed on demand from the identifier index (:mod:`fanzha.linking.store`);
links are views, never merges: no endpoint here changes a case or a report. A group
shows data of every case in it, so every read writes one audit record per case shown
(the case asked about, and each other case with ``via`` naming it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import Field

from fanzha.api.deps import Principal, SessionDep, case_for, require, write_audit
from fanzha.api.schemas import Body, IdentifierIn, fen_str
from fanzha.errors import InputError
from fanzha.linking import exports, stix
from fanzha.linking import store as linking_store
from fanzha.linking.decisions import Verdict
from fanzha.linking.gangs import analyse
from fanzha.linking.identifiers import IdentifierError
from fanzha.roles import Permission
from fanzha.store.models import Victim
from fanzha.store.models import Report as ReportRow

router = APIRouter(prefix="/linking", tags=["linking"])

Reader = Annotated[Principal, Depends(require(Permission.linking_read))]
Decider = Annotated[Principal, Depends(require(Permission.linking_write))]

MAX_BUNDLE = 64 * 1024 * 1024
_MEDIA = {"graphml": "application/graphml+xml", "gexf": "application/gexf+xml", "csv": "application/zip",
          "stix": "application/stix+json;version=2.1"}
_SUFFIX = {"graphml": "graphml", "gexf": "gexf", "csv": "zip", "stix": "json"}


def _audit_group(session, principal: Principal, action: str, resource: str, grp: linking_store.StoreGroup,
                 asked: str | None, **detail) -> None:
    """One record for the case asked about (or none, for a report not yet filed) and one
    for every other case whose data the answer shows."""
    if asked is not None:
        write_audit(session, principal, action, resource, asked, group_id=grp.group_id, cases=len(grp.cases),
                    **detail)
    for no in grp.case_nos:
        if no != asked:
            write_audit(session, principal, action, resource, no, via=asked, group_id=grp.group_id)


def _group_out(session, grp: linking_store.StoreGroup) -> dict:
    reports = sum(len(c.reports) for c in grp.cases)
    keys = {(s["kind"], s["value"]) for s in grp.shared}
    return {
        "group_id": grp.group_id,
        "cases": len(grp.cases),
        "reports": reports,
        "loss": fen_str(grp.loss_fen),
        "through": grp.shared,
        "held_back": grp.held_back,
        "shared_elsewhere": linking_store.shared_hits(session, keys),
        "members": [{"case_no": c.case_no, "opened_at": c.opened_at.isoformat(), "status": c.status,
                     "scam_type": c.scam_type, "unit": c.unit.code if c.unit else None,
                     "loss": fen_str(c.loss_fen), "reports": len(c.reports)} for c in grp.cases],
        "confirmed": [list(p) for p in grp.confirmed],
        "conflicts": [list(p) for p in grp.conflicts],
        "truncated": grp.truncated,
    }


@router.get("/cases/{case_no}")
def case_group(case_no: str, principal: Reader, session: SessionDep) -> dict:
    """The group this case links to: its cases and reports, total loss, and the identifiers
    that link them (each with the cases it joins). Values too common to link are listed
    under ``held_back``; identifiers other platforms shared under ``shared_elsewhere``."""
    case = case_for(session, principal, case_no)
    grp = linking_store.group(session, case=case)
    _audit_group(session, principal, "linking_group_read", f"/linking/cases/{case_no}", grp, case_no)
    return {"case_no": case_no, **_group_out(session, grp)}


@router.get("/reports/{report_id}")
def report_group(report_id: int, principal: Reader, session: SessionDep) -> dict:
    """The group a stored report links to (through its case)."""
    row = session.get(ReportRow, report_id)
    if row is None or row.case is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no report {report_id} in a case")
    case = case_for(session, principal, row.case.case_no)
    grp = linking_store.group(session, case=case)
    _audit_group(session, principal, "linking_group_read", f"/linking/reports/{report_id}", grp, case.case_no,
                 report_id=report_id)
    return {"report_id": report_id, "case_no": case.case_no, **_group_out(session, grp)}


class CheckIn(Body):
    identifiers: list[IdentifierIn] = Field(min_length=1, max_length=1000)


@router.post("/check")
def check_new_report(body: CheckIn, principal: Reader, session: SessionDep) -> dict:
    """Would a report naming these identifiers link to a known group? Nothing is filed."""
    try:
        grp = linking_store.group(session, identifiers=[(i.kind, i.value) for i in body.identifiers])
    except IdentifierError as err:
        raise InputError(err.message, field=err.field) from None
    _audit_group(session, principal, "linking_checked", "/linking/check", grp, None)
    out = _group_out(session, grp)
    out["links"] = bool(grp.cases)
    if not grp.cases:
        out["group_id"] = None
    return out


class DecisionIn(Body):
    a: str = Field(min_length=1, max_length=32, description="a case number")
    b: str = Field(min_length=1, max_length=32, description="another case number")
    verdict: Verdict
    note: str = Field(default="", max_length=2000)


@router.post("/decisions", status_code=status.HTTP_201_CREATED)
def decide(body: DecisionIn, principal: Decider, session: SessionDep) -> dict:
    """Confirm or reject a link between two cases. Kept with who and when; the latest
    decision on a pair is in force. Neither case is changed."""
    if body.a == body.b:
        raise InputError("a link needs two different cases", field="b")
    a = case_for(session, principal, body.a)
    b = case_for(session, principal, body.b)
    row = linking_store.decide(session, a, b, body.verdict, by=principal.name, note=body.note)
    for no, other in ((a.case_no, b.case_no), (b.case_no, a.case_no)):
        write_audit(session, principal, f"link_{body.verdict.value}", "/linking/decisions", no, other=other,
                    decision_id=row.id, note=body.note)
    return {"id": row.id, "a": a.case_no, "b": b.case_no, "verdict": row.verdict, "by": row.decided_by,
            "at": row.decided_at.isoformat(), "note": row.note}


@router.get("/cases/{case_no}/decisions")
def case_decisions(case_no: str, principal: Reader, session: SessionDep) -> list[dict]:
    case = case_for(session, principal, case_no)
    rows = linking_store.decisions_of(session, case)
    write_audit(session, principal, "link_decisions_read", f"/linking/cases/{case_no}/decisions", case_no)
    return rows


def _geo(request: Request):
    from fanzha.linking.geo import GeoTable

    return GeoTable.default(Path(request.app.state.settings.data_dir) / "geo.csv")


def _identities(session, grp: linking_store.StoreGroup) -> tuple[dict, list[dict]]:
    accounts = {v for u in grp.units for k, v in u.identifiers if k in ("bank_card", "alipay")}
    return linking_store.holder_answers(session, accounts)


@router.get("/cases/{case_no}/gang")
def gang_page(case_no: str, principal: Reader, session: SessionDep, request: Request,
              top: Annotated[int, Query(ge=1, le=200)] = 20) -> dict:
    """Everything the gang page shows for the case's group: members split into gangs at
    their middlemen, key members, identifiers, dens, victims, loss, money still held,
    mule accounts and the people behind them (身份还原)."""
    case = case_for(session, principal, case_no)
    grp = linking_store.group(session, case=case)
    held = grp.held_map()
    linking_values = {k for u in grp.units for k in u.identifiers if k not in held}
    holders, used = _identities(session, grp)
    report = analyse(grp.units, linking_values, geo=_geo(request), holders=holders, top=top)
    counts: dict[tuple[str, str], int] = {}
    for u in grp.units:
        for k in u.identifiers:
            counts[k] = counts.get(k, 0) + 1
    hits: dict[tuple[str, str], list[str]] = {}
    for h in linking_store.shared_hits(session, counts):
        hits.setdefault((h["kind"], h["value"]), []).append(h["source"])
    ids = [c.id for c in grp.cases]
    victims = (session.query(Victim).filter(Victim.case_id.in_(ids)).order_by(Victim.case_id, Victim.id).all()
               if ids else [])
    case_no_of = {c.id: c.case_no for c in grp.cases}
    held_money = linking_store.money_held(session, grp.cases)
    gang_of = {rid: i for i, g in enumerate(report.gangs) for rid in g.reports}
    out = {
        "case_no": case_no, **_group_out(session, grp),
        "gangs": [{"gang": i, "cases": g.reports, "middlemen": [{"kind": k, "value": v} for k, v in g.middlemen]}
                  for i, g in enumerate(report.gangs)],
        "key_members": report.key_members,
        "identifiers": [{"kind": k, "value": v, "cases": n, "held_back": held.get((k, v)),
                         "shared_by": hits.get((k, v), [])}
                        for (k, v), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))],
        "dens": report.dens,
        "victims": [{"case_no": case_no_of[v.case_id], "name": v.name, "phone": v.phone,
                     "loss": fen_str(v.loss_fen)} for v in victims],
        "victim_count": len(victims),
        "money_held": {"total": fen_str(held_money["total_fen"]),
                       "accounts": [{"case_no": r["case_no"], "account": r["account"],
                                     "institution": r["institution"], "held": fen_str(r["held_fen"])}
                                    for r in held_money["accounts"]]},
        "mules": report.mules,
        "people": report.people,
    }
    for m in out["members"]:
        m["gang"] = gang_of.get(m["case_no"])
    _audit_group(session, principal, "gang_page_read", f"/linking/cases/{case_no}/gang", grp, case_no)
    _audit_holder_cases(session, principal, used, grp, f"/linking/cases/{case_no}/gang")
    return out


def _audit_holder_cases(session, principal: Principal, used: list[dict], grp: linking_store.StoreGroup,
                        resource: str) -> None:
    """Holder answers may come from cases outside the group: their reads are audited too."""
    inside = set(grp.case_nos)
    for no in sorted({u["case_no"] for u in used} - inside):
        write_audit(session, principal, "holder_answers_read", resource, no, group_id=grp.group_id,
                    orders=[u["order_id"] for u in used if u["case_no"] == no])


@router.get("/cases/{case_no}/identities")
def identities(case_no: str, principal: Reader, session: SessionDep) -> dict:
    """身份还原: the people behind the group's mule accounts, from the gateway's holder
    answers, joined by ID number and phone; people with several accounts, or whose phone
    is in the reports, are cash-out suspects."""
    case = case_for(session, principal, case_no)
    grp = linking_store.group(session, case=case)
    holders, used = _identities(session, grp)
    from fanzha.linking.gangs import mules

    rows, people = mules(grp.units, holders)
    _audit_group(session, principal, "identities_read", f"/linking/cases/{case_no}/identities", grp, case_no)
    _audit_holder_cases(session, principal, used, grp, f"/linking/cases/{case_no}/identities")
    return {"case_no": case_no, "group_id": grp.group_id, "accounts": rows, "people": people,
            "answers": used}


@router.get("/cases/{case_no}/export")
def export(case_no: str, principal: Reader, session: SessionDep,
           format: Annotated[str, Query(pattern="^(graphml|gexf|csv|stix)$")] = "graphml") -> Response:
    """The case's group as GraphML or GEXF (Gephi), CSV nodes and edges (a ZIP), or its
    indicators as a STIX 2.1 bundle (values held back as too common are left out)."""
    case = case_for(session, principal, case_no)
    grp = linking_store.group(session, case=case)
    held = grp.held_map()
    if format == "stix":
        keys = sorted({k for u in grp.units for k in u.identifiers if k not in held})
        data = json.dumps(stix.indicators_bundle(grp.group_id, keys), ensure_ascii=False).encode()
    else:
        graph = exports.group_graph(grp.group_id, grp.units, held)
        data = {"graphml": exports.to_graphml, "gexf": exports.to_gexf}[format](graph) if format != "csv" \
            else exports.to_csv_zip(graph, grp.group_id)
    _audit_group(session, principal, "linking_exported", f"/linking/cases/{case_no}/export", grp, case_no,
                 format=format)
    name = f"{grp.group_id}.{_SUFFIX[format]}"
    return Response(data, media_type=_MEDIA[format], headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/stix", status_code=status.HTTP_201_CREATED)
async def import_stix(request: Request, principal: Decider, session: SessionDep,
                      source: Annotated[str | None, Query(min_length=1, max_length=256)] = None) -> dict:
    """Import a STIX 2.1 bundle (the request body): its indicators are kept as shared
    identifiers with their source (the bundle's creator unless ``source`` is given).
    All or nothing: a bad object is named (``objects[3]``) and nothing is kept."""
    body = await request.body()
    if len(body) > MAX_BUNDLE:
        raise InputError(f"larger than {MAX_BUNDLE // 2**20} MiB", file="bundle")
    got = stix.read_bundle(body, source=source, file="bundle")
    counts = linking_store.keep_shared(session, got.identifiers, imported_by=principal.name)
    write_audit(session, principal, "stix_imported", "/linking/stix", None, identifiers=len(got.identifiers),
                skipped=len(got.skipped), sources=sorted({i.source for i in got.identifiers}), **counts)
    return {**counts, **got.as_dict()}
