"""The commander's figures as charts over time, each month beside the same month a year before.

What the sources report, counted from the records themselves (no figures typed in):

* accounts handled — distinct accounts an order (query, stop-payment, freeze…) was sent about;
* money stopped / frozen — what institutions said they held on answered stop-payments
  and freezes (the answer's ``held``, else the amount asked);
* money returned — answered unfreezes (the release of held money back to a victim);
* numbers shut — answered number shutdowns; sites taken down — answered URL takedowns;
* interceptions — the interception service's blocking answers (``listed``), per day;
* cases filed and cleared — cases opened, and cases closed (a ``closed`` timeline step).

Warnings (the dissuasion queue) have no store yet; the chart says so rather than show zeros.
Charts are server-drawn SVG: no script, no library, nothing fetched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from fanzha.api.deps import SessionDep, write_audit
from fanzha.money import AmountError, format_fen_cn, parse_yuan
from fanzha.store.models import Case, CaseEvent, InterceptHitCount, Order
from fanzha.store.types import utcnow
from fanzha.web.i18n import DEFAULT, N_, lang_of, translate
from fanzha.web.pages import StatsReader, router
from fanzha.web.render import SHANGHAI, page

Month = tuple[int, int]
QUERY_KINDS = ("account_holder", "transaction_details", "stop_payment", "freeze", "unfreeze")
CLOSED_EVENTS = ("closed", "cleared")


def months_back(now: datetime, n: int) -> list[Month]:
    """The last ``n`` months to ``now`` (Shanghai), oldest first."""
    local = now.astimezone(SHANGHAI)
    y, m = local.year, local.month
    out = []
    for _ in range(n):
        out.append((y, m))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def _month(t: datetime) -> Month:
    local = t.astimezone(SHANGHAI)
    return local.year, local.month


def _held(o: Order) -> int:
    held = (o.answer or {}).get("held")
    if held:
        try:
            return parse_yuan(str(held), allow_zero=True)
        except AmountError:
            pass
    return o.amount_fen or 0


@dataclass
class Series:
    key: str
    title: str
    money: bool
    values: dict[Month, int]
    note: str = ""
    available: bool = True


def collect(session: Session, now: datetime) -> list[Series]:
    months = months_back(now, 24)
    start = datetime(months[0][0], months[0][1], 1, tzinfo=SHANGHAI)
    s: dict[str, dict[Month, int]] = {k: {} for k in ("accounts", "stopped", "frozen", "returned", "shut",
                                                      "takedowns", "intercepted", "filed", "cleared")}

    def add(key: str, when: datetime, n: int = 1) -> None:
        m = _month(when)
        s[key][m] = s[key].get(m, 0) + n

    for (at,) in session.execute(select(Case.opened_at).where(Case.opened_at >= start)):
        add("filed", at)
    for (at,) in session.execute(select(CaseEvent.at).where(CaseEvent.at >= start, CaseEvent.kind.in_(CLOSED_EVENTS))):
        add("cleared", at)
    seen: set[tuple[Month, str]] = set()
    for at, target in session.execute(select(Order.created_at, Order.target)
                                      .where(Order.created_at >= start, Order.kind.in_(QUERY_KINDS))):
        if (_month(at), target) not in seen:
            seen.add((_month(at), target))
            add("accounts", at)
    key_of = {"stop_payment": "stopped", "freeze": "frozen", "unfreeze": "returned", "number_shutdown": "shut",
              "url_takedown": "takedowns"}
    for o in session.execute(select(Order).where(Order.updated_at >= start, Order.state == "done",
                                                 Order.kind.in_(list(key_of)))).scalars():
        key = key_of[o.kind]
        add(key, o.updated_at, _held(o) if key in ("stopped", "frozen", "returned") else 1)
    intercept = inspect(session.get_bind()).has_table(InterceptHitCount.__tablename__)
    if intercept:
        first = f"{months[0][0]}-{months[0][1]:02d}-01"
        for day, n in session.execute(select(InterceptHitCount.day, InterceptHitCount.count)
                                      .where(InterceptHitCount.day >= first, InterceptHitCount.outcome == "listed")):
            m = (int(day[:4]), int(day[5:7]))
            s["intercepted"][m] = s["intercepted"].get(m, 0) + int(n)
    return [
        Series("accounts", N_("处置账户"), False, s["accounts"], N_("发出查询、止付、冻结的不同账户数")),
        Series("stopped", N_("止付金额"), True, s["stopped"], N_("机构答复已止付的金额")),
        Series("frozen", N_("冻结金额"), True, s["frozen"], N_("机构答复已冻结的金额")),
        Series("returned", N_("返还金额"), True, s["returned"], N_("解冻返还受害人的金额")),
        Series("shut", N_("关停号码"), False, s["shut"], N_("运营商答复已关停")),
        Series("takedowns", N_("封堵网址"), False, s["takedowns"], N_("答复已封堵")),
        Series("warnings", N_("预警劝阻"), False, {}, N_("预警劝阻尚未接入数据"), available=False),
        Series("intercepted", N_("拦截次数"), False, s["intercepted"], N_("号码、网址查询命中黑名单"),
               available=intercept),
        Series("filed", N_("立案"), False, s["filed"], N_("新立案件")),
        Series("cleared", N_("破案/结案"), False, s["cleared"], N_("案件办结")),
    ]


W, H, PAD_L, PAD_B, PAD_T = 380, 150, 8, 22, 10


def chart(series: Series, months: list[Month], lang: str = DEFAULT) -> Markup:
    """Twelve months as bars, each with the same month a year before as a paler bar behind."""
    fmt: Callable[[int], str] = (lambda x: format_fen_cn(x)) if series.money else (lambda x: f"{x:,}")
    now = [series.values.get(m, 0) for m in months]
    last = [series.values.get((y - 1, m), 0) for y, m in months]
    peak = max(now + last + [1])
    slot = (W - PAD_L * 2) / len(months)
    bar = slot * 0.36
    plot = H - PAD_B - PAD_T
    out = [(f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" '
            f'role="img" aria-label="{escape(translate(series.title, lang))}">'),
           f'<line class="axis" x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_L}" y2="{H - PAD_B}"/>']
    for i, ((y, m), a, b) in enumerate(zip(months, now, last)):
        x = PAD_L + i * slot + slot * 0.12
        hb, ha = plot * b / peak, plot * a / peak
        out.append(f'<rect class="last" x="{x:.1f}" y="{H - PAD_B - hb:.1f}" width="{bar:.1f}" height="{hb:.1f}">'
                   f'<title>{escape(translate(N_("{when}：{value}"), lang, when=f"{y - 1}-{m:02d}", value=fmt(b)))}'
                   '</title></rect>')
        out.append(f'<rect class="now" x="{x + bar:.1f}" y="{H - PAD_B - ha:.1f}" width="{bar:.1f}" height="{ha:.1f}">'
                   f'<title>{escape(translate(N_("{when}：{value}"), lang, when=f"{y}-{m:02d}", value=fmt(a)))}'
                   '</title></rect>')
        out.append(f'<text x="{x + bar:.1f}" y="{H - 6}" text-anchor="middle">'
                   f'{escape(translate(N_("{m}月"), lang, m=m))}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def yoy(this: int, before: int, lang: str = DEFAULT) -> str:
    if before == 0:
        return "—" if this == 0 else translate(N_("新增"), lang)
    pct = (this - before) * 100 / before
    return f"{pct:+.0f}%"


@router.get("/figures", response_class=HTMLResponse)
def figures_page(request: Request, principal: StatsReader, session: SessionDep) -> HTMLResponse:
    """成效趋势: each figure over the last twelve months, beside the twelve before."""
    now = utcnow()
    lang = lang_of(request)
    months = months_back(now, 12)
    cards = []
    for s in collect(session, now):
        this = sum(s.values.get(m, 0) for m in months)
        before = sum(s.values.get((y - 1, m), 0) for y, m in months)
        month_now = s.values.get(months[-1], 0)
        month_before = s.values.get((months[-1][0] - 1, months[-1][1]), 0)
        fmt = format_fen_cn if s.money else (lambda x: f"{x:,}")
        cards.append({"s": s, "total": fmt(this), "before": fmt(before), "yoy": yoy(this, before, lang),
                      "month": fmt(month_now), "month_yoy": yoy(month_now, month_before, lang),
                      "svg": chart(s, months, lang) if s.available else None})
    write_audit(session, principal, "figures_read", "/console/figures")
    return page(request, session, principal, "figures.html", active="figures", cards=cards,
                first=f"{months[0][0]}-{months[0][1]:02d}", last=f"{months[-1][0]}-{months[-1][1]:02d}")
