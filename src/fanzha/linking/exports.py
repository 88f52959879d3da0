"""A linked group for link-chart tools: GraphML and GEXF (Gephi), and CSV nodes and edges.

The graph is the one linking reasons on: a node per report, a node per identifier, an
edge where a report names an identifier. Identifiers the warning list holds back stay
in the graph, marked with ``held_back`` (their reason), so an analyst sees them but
can filter them out; nothing in the export is a merge of reports.

Node IDs are ``report:<id>`` and ``<kind>:<value>``; attributes are plain strings and
integers (GEXF and GraphML readers accept no missing values, so absent ones are ``""``).
Money is a yuan string with two places, as everywhere in fanzha's files.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping, Sequence

import networkx as nx

from fanzha.linking.reports import Report
from fanzha.money import format_fen

NODE_COLUMNS = ("id", "label", "type", "kind", "value", "received_at", "scam_type", "loss", "district",
                "reports", "held_back")
EDGE_COLUMNS = ("source", "target", "kind")
FORMATS = ("graphml", "gexf", "csv")


def report_node(report_id: str) -> str:
    return f"report:{report_id}"


def identifier_node(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def group_graph(group_id: str, reports: Sequence[Report],
                held_back: Mapping[tuple[str, str], str] | None = None) -> nx.Graph:
    """The report–identifier graph of one group (see the module docstring)."""
    held_back = held_back or {}
    g = nx.Graph(name=f"linked group {group_id}", group_id=group_id)
    degree: dict[tuple[str, str], int] = {}
    for r in reports:
        for key in r.identifiers:
            degree[key] = degree.get(key, 0) + 1
    for r in sorted(reports, key=lambda x: x.sort_key):
        g.add_node(report_node(r.report_id), label=r.report_id, type="report", kind="", value="",
                   received_at=r.received_at.isoformat() if r.received_at else "", scam_type=r.scam_type or "",
                   loss=format_fen(r.loss_fen), district=r.district or "", reports=1, held_back="")
    for (kind, value), n in sorted(degree.items()):
        g.add_node(identifier_node(kind, value), label=value, type="identifier", kind=kind, value=value,
                   received_at="", scam_type="", loss="", district="", reports=n,
                   held_back=held_back.get((kind, value), ""))
    for r in reports:
        for kind, value in r.identifiers:
            g.add_edge(report_node(r.report_id), identifier_node(kind, value), kind=kind)
    return g


def to_graphml(graph: nx.Graph) -> bytes:
    buf = io.BytesIO()
    nx.write_graphml(graph, buf, encoding="utf-8")
    return buf.getvalue()


def to_gexf(graph: nx.Graph) -> bytes:
    buf = io.BytesIO()
    nx.write_gexf(graph, buf, encoding="utf-8")
    return buf.getvalue()


def to_csv(graph: nx.Graph) -> tuple[str, str]:
    """``(nodes.csv, edges.csv)`` text: the two tables link-chart tools import."""
    nodes = io.StringIO()
    w = csv.writer(nodes, lineterminator="\n")
    w.writerow(NODE_COLUMNS)
    for node, attrs in graph.nodes(data=True):
        w.writerow([node] + [attrs.get(c, "") for c in NODE_COLUMNS[1:]])
    edges = io.StringIO()
    w = csv.writer(edges, lineterminator="\n")
    w.writerow(EDGE_COLUMNS)
    for a, b, attrs in graph.edges(data=True):
        src, dst = (a, b) if graph.nodes[a].get("type") == "report" else (b, a)
        w.writerow([src, dst, attrs.get("kind", "")])
    return nodes.getvalue(), edges.getvalue()


def to_csv_zip(graph: nx.Graph, group_id: str) -> bytes:
    """Both CSV tables in one ZIP (``<group>-nodes.csv``, ``<group>-edges.csv``), for one download."""
    nodes, edges = to_csv(graph)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{group_id}-nodes.csv", nodes)
        z.writestr(f"{group_id}-edges.csv", edges)
    return buf.getvalue()
