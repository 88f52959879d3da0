"""The money flow as one self-contained HTML page (inline SVG, no scripts, no CDN).

Centres run offline, and an investigator wants to print the picture into a case file,
so the page is plain HTML and SVG: victims on the left, accounts in columns by layer,
cash-outs and payments back to victims on the right. An edge's width grows with the
victims' money it carried; an account still holding victims' money is red with the
amount (what a freeze can recover), one that cashed out has its cash total below it.
Hover text (``<title>``) gives exact figures. Very wide layers keep their largest
accounts and say how many smaller ones were left out.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from fanzha.money import format_fen_cn
from fanzha.tracing.engine import Trace

COL_W, ROW_H, NODE_W, NODE_H, TOP = 250, 34, 170, 24, 70
MAX_PER_COLUMN = 40
#: Where money leaves the accounts: cashed out, or paid back to victims' own accounts.
CASH, BACK = "#cash", "#victims"


@dataclass
class FlowLayout:
    """A trace's money laid out by layer: edges with the victims' money they carried,
    and the columns to draw (victims, one per layer, exits), each cut to its largest."""

    flows: dict[tuple[str, str], int]
    through: dict[str, int]          # money that reached each node
    columns: list[list[str]]         # the nodes drawn, column by column
    hidden: dict[int, int]           # column → accounts left out
    depth: int


def flow_layout(layers: Mapping[str, int], victims: Iterable[str],
                steps: Iterable[tuple[str, str, str, str, int]], *, max_per_column: int,
                weight: Callable[[str, int], int] | None = None) -> FlowLayout:
    """Lay out ``steps`` — ``(victim, kind, source, target, fen)`` of the victims' paths —
    by the accounts' ``layers``. Victims are ``V:<id>``; cash-outs and payments back go to
    :data:`CASH` and :data:`BACK`, from the victim when the account is not traced. A
    layer's accounts are ranked by ``weight(account, money through it)`` (default: that
    money), largest first."""
    flows: dict[tuple[str, str], int] = {}
    through: dict[str, int] = {}
    for victim, kind, source, target, fen in steps:
        if kind == "victim_payment":
            key = ("V:" + victim, target)
        elif kind == "transfer":
            key = (source, target)
        else:
            key = (source if source in layers else "V:" + victim, CASH if kind == "cash_out" else BACK)
        flows[key] = flows.get(key, 0) + fen
        through[key[1]] = through.get(key[1], 0) + fen
    weigh = weight or (lambda _account, carried: carried)
    depth = max(layers.values(), default=0)
    columns: list[list[str]] = [["V:" + v for v in sorted(victims)]]
    for layer in range(1, depth + 1):
        columns.append(sorted((a for a, n in layers.items() if n == layer),
                              key=lambda a: (-weigh(a, through.get(a, 0)), a)))
    columns.append([x for x in (CASH, BACK) if x in through])
    hidden = {c: len(col) - max_per_column for c, col in enumerate(columns) if len(col) > max_per_column}
    return FlowLayout(flows, through, [col[:max_per_column] for col in columns], hidden, depth)


def render_html(trace: Trace, *, title: str = "资金流向 · fund flow") -> str:
    lay = flow_layout(trace.layers, trace.stolen,
                      ((v, s.kind, s.source, s.target, s.fen) for v, steps in trace.paths.items() for s in steps),
                      max_per_column=MAX_PER_COLUMN)
    flows, through, columns, hidden, depth = lay.flows, lay.through, lay.columns, lay.hidden, lay.depth
    cash = {a: fen for (a, b), fen in flows.items() if b == CASH}
    pos: dict[str, tuple[float, float]] = {}
    for c, col in enumerate(columns):
        for r, node in enumerate(col):
            pos[node] = (20 + c * COL_W, TOP + r * ROW_H)
    width = 40 + len(columns) * COL_W
    height = TOP + 40 + max((min(len(c), MAX_PER_COLUMN) for c in columns), default=1) * ROW_H
    biggest = max(flows.values(), default=1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">']
    heads = ["受害人 victims"] + [f"第{n}层 layer {n}" for n in range(1, depth + 1)] + ["去向 exits"]
    for c, head in enumerate(heads):
        out.append(f'<text x="{20 + c * COL_W}" y="{TOP - 30}" font-weight="bold" font-size="13">{_e(head)}</text>')
        if c in hidden:
            out.append(f'<text x="{20 + c * COL_W}" y="{TOP - 14}" fill="#777">+{hidden[c]} smaller accounts not drawn'
                       "</text>")
    for (a, b), fen in sorted(flows.items(), key=lambda kv: kv[1]):
        if a not in pos or b not in pos:
            continue
        x1, y1 = pos[a][0] + NODE_W, pos[a][1] + NODE_H / 2
        x2, y2 = pos[b][0], pos[b][1] + NODE_H / 2
        w = 1 + 13 * math.sqrt(fen / biggest)
        mid = (x1 + x2) / 2
        colour = "#999" if b.startswith("#") else "#3b6fb6"
        out.append(f'<path d="M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}" '
                   f'stroke="{colour}" stroke-opacity="0.45" stroke-width="{w:.1f}" fill="none">'
                   f'<title>{_e(_label(a))} → {_e(_label(b))}: {format_fen_cn(fen)}</title></path>')
    for node, (x, y) in pos.items():
        held = sum(trace.holdings.get(node, {}).values())
        if node.startswith("V:"):
            fill, text = "#f2e6c9", node[2:]
            sub = f"lost {format_fen_cn(trace.stolen[node[2:]])}"
        elif node == "#cash":
            fill, text, sub = "#ddd", "取现 cash-outs", format_fen_cn(through[node])
        elif node == "#victims":
            fill, text, sub = "#ddd", "返给受害人 to victims", format_fen_cn(through[node])
        else:
            fill = "#f4b6b0" if held else "#dbe7f6"
            text = node
            sub = f"held {format_fen_cn(held)}" if held else ""
            if cash.get(node):
                sub = (sub + " · " if sub else "") + f"cash {format_fen_cn(cash[node])}"
        tip = f"{_label(node)}; carried {format_fen_cn(through.get(node, 0))}" + (
            f"; holds {format_fen_cn(held)}" if held else "")
        out.append(f'<g><title>{_e(tip)}</title><rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="4" '
                   f'fill="{fill}" stroke="#555" stroke-width="0.6"/>'
                   f'<text x="{x + 5}" y="{y + 11}">{_e(_short(text))}</text>'
                   f'<text x="{x + 5}" y="{y + 21}" fill="#a11" font-size="9">{_e(sub)}</text></g>')
    out.append("</svg>")
    summary = trace.summary()
    rows = "".join(
        f"<tr><td>{_e(v)}</td><td>{format_fen_cn(s['stolen'])}</td><td>{format_fen_cn(s['held'])}</td>"
        f"<td>{format_fen_cn(s['cashed_out'])}</td><td>{format_fen_cn(s['to_victims'])}</td></tr>"
        for v, s in sorted(summary.items()))
    warn = "".join(f"<li>{_e(w)}</li>" for w in trace.warnings)
    return (f"<!DOCTYPE html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
            "<style>body{font-family:sans-serif;margin:16px}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child{text-align:left}"
            "</style></head><body>"
            f"<h1>{_e(title)}</h1><p>rule <b>{_e(trace.rule)}</b>"
            + (f", as of {_e(trace.as_of.isoformat())}" if trace.as_of else "")
            + ". Red accounts still hold victims' money; edge width follows the money carried.</p>"
            + "".join(out)
            + "<h2>victims</h2><table><tr><th>victim</th><th>stolen</th><th>held</th><th>cashed out</th>"
            f"<th>to victims</th></tr>{rows}</table>"
            + (f"<h2>warnings</h2><ul>{warn}</ul>" if warn else "")
            + "</body></html>\n")


def _label(node: str) -> str:
    if node.startswith("V:"):
        return "victim " + node[2:]
    return {"#cash": "cash-outs", "#victims": "victims' accounts"}.get(node, node)


def _short(text: str) -> str:
    return text if len(text) <= 26 else text[:12] + "…" + text[-12:]


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
