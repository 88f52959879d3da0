"""The money-flow graph of a stored trace, as inline SVG for the case page.

:mod:`fanzha.tracing.graph` draws a trace as a page of its own, to print into a case
file. The console draws the same picture from the trace as it was *stored* (the JSON
kept in ``TraceResult.result``), so a page view never re-runs the trace, and every
account is a link: clicking it opens that account's transactions and holds beside the
graph (the page script fetches them; without scripts the link reloads the page).

Layout is by layer: victims on the left, then one column per layer of accounts, then
where the money left (cash-outs, back to victims). Each column keeps its accounts that
carried the most victims' money and says how many it left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from urllib.parse import quote

from markupsafe import Markup

from fanzha.money import format_fen_cn, parse_yuan
from fanzha.tracing.graph import BACK, CASH, flow_layout
from fanzha.web.i18n import DEFAULT, N_, translate

COL_W, ROW_H, NODE_W, NODE_H, TOP, LEFT = 185, 32, 150, 24, 46, 10
MAX_PER_COLUMN = 30
EXITS = {CASH: N_("取现"), BACK: N_("转回受害人账户")}


@dataclass(frozen=True)
class FlowGraph:
    svg: Markup
    accounts: int
    hidden: int
    layers: int


def _fen(value: str | None) -> int:
    return parse_yuan(value, allow_zero=True) if value else 0


def _short(text: str) -> str:
    return text if len(text) <= 20 else text[:8] + "…" + text[-8:]


def flow_graph(result: dict, *, link: str, lang: str = DEFAULT) -> FlowGraph:
    """Draw ``result`` (a stored trace). ``link`` is the URL an account's node opens,
    ending in ``account=`` (the account is appended, quoted); the words are in ``lang``."""
    def tr(text: str, **values) -> str:
        return translate(text, lang, **values)


    layers: dict[str, int] = result.get("layers", {})
    stolen = {v: _fen(x) for v, x in result.get("stolen", {}).items()}
    held = {a: sum(_fen(x) for x in h.values()) for a, h in result.get("holdings", {}).items()}
    planned = {h["account"] for h in result.get("freeze_plan", {}).get("holds", [])}
    lay = flow_layout(layers, stolen,
                      ((victim, x["kind"], x["from"], x["to"], _fen(x["amount"]))
                       for victim, steps in result.get("paths", {}).items() for x in steps),
                      max_per_column=MAX_PER_COLUMN, weight=lambda a, carried: max(carried, held.get(a, 0)))
    flows, through, columns, hidden, depth = lay.flows, lay.through, lay.columns, lay.hidden, lay.depth
    heads = [tr("受害人")] + [tr("第{n}层", n=n) for n in range(1, depth + 1)] + [tr("去向")]
    pos: dict[str, tuple[int, int]] = {}
    for c, col in enumerate(columns):
        for r, node in enumerate(col):
            pos[node] = (LEFT + c * COL_W, TOP + r * ROW_H)
    width = LEFT * 2 + (len(columns) - 1) * COL_W + NODE_W
    rows = max((min(len(c), MAX_PER_COLUMN) for c in columns), default=1)
    height = TOP + rows * ROW_H + 10
    biggest = max(flows.values(), default=1) or 1
    out = [(f'<svg class="flow" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{escape(tr("资金流向图"))}">')]
    for c, head in enumerate(heads):
        x = LEFT + c * COL_W
        more = tr(" (另{n}个未画出)", n=hidden[c]) if c in hidden else ""
        out.append(f'<text class="head" x="{x}" y="{TOP - 16}">{escape(head + more)}</text>')
    for (a, b), fen in sorted(flows.items(), key=lambda kv: kv[1]):
        if a not in pos or b not in pos:
            continue
        x1, y1 = pos[a][0] + NODE_W, pos[a][1] + NODE_H / 2
        x2, y2 = pos[b][0], pos[b][1] + NODE_H / 2
        w = 1 + 11 * math.sqrt(fen / biggest)
        mid = (x1 + x2) / 2
        cls = "edge exit" if b.startswith("#") else "edge"
        out.append(f'<path class="{cls}" d="M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} '
                   f'{x2:.0f},{y2:.0f}" stroke-width="{w:.1f}"><title>{escape(_name(a, lang))} → '
                   f'{escape(_name(b, lang))}{escape(tr("："))}{format_fen_cn(fen)}</title></path>')
    accounts = 0
    for node, (x, y) in pos.items():
        if node.startswith("V:"):
            stole = format_fen_cn(stolen.get(node[2:], 0))
            cls, text, sub = "node victim", node[2:], tr("被骗 {amount}", amount=stole)
        elif node in (CASH, BACK):
            cls, text, sub = "node exit", _name(node, lang), format_fen_cn(through.get(node, 0))
        else:
            accounts += 1
            h = held.get(node, 0)
            cls = "node account held" if h else "node account"
            if node in planned:
                cls += " planned"
            text, sub = node, (tr("留存 {amount}", amount=format_fen_cn(h)) if h
                               else tr("经手 {amount}", amount=format_fen_cn(through.get(node, 0))))
        tip = _name(node, lang) + tr("；经手 {amount}", amount=format_fen_cn(through.get(node, 0)))
        box = (f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="4"/>'
               f'<text x="{x + 5}" y="{y + 10}">{escape(_short(text))}</text>'
               f'<text class="sub" x="{x + 5}" y="{y + 20}">{escape(sub)}</text><title>{escape(tip)}</title>')
        if cls.startswith("node account"):
            href = escape(link + quote(node, safe=""), quote=True)
            out.append(f'<a href="{href}" class="{cls}" data-account="{escape(node, quote=True)}">{box}</a>')
        else:
            out.append(f'<g class="{cls}">{box}</g>')
    out.append("</svg>")
    return FlowGraph(Markup("".join(out)), accounts, sum(hidden.values()), depth)


def _name(node: str, lang: str = DEFAULT) -> str:
    if node.startswith("V:"):
        return translate("受害人 {victim}", lang, victim=node[2:])
    return translate(EXITS[node], lang) if node in EXITS else node
