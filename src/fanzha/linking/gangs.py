"""Inside a linked group: the gangs, their key members, their dens and their mules.

A group is every report reachable through shared identifiers, so two gangs that bought
accounts from the same card dealer end up in one group. :func:`split_gangs` separates
them at the *middlemen*: identifiers whose removal cuts the report–identifier graph into
parts of several reports each. A gang's own identifiers are many and criss-cross its
reports, so no single one of them cuts it into large parts; a dealer's account that
shows up in a few reports of each of two gangs does. (Modularity communities — Louvain —
were tried and rejected: they cut dense gangs into pieces for a small gain in modularity,
and "this account is the only tie" is an explanation an analyst can check, a modularity
score is not.)

The rest is ranking and grouping that an analyst can check by eye:

* key members: identifiers by victims touched, then money touched, then betweenness in
  the report–identifier graph (exact on small groups, sampled with a fixed seed above
  :data:`EXACT_BETWEENNESS_NODES`);
* dens: the group's IPs by /24 (IPv4) or /48 (IPv6), located by an offline table when
  one is given (:mod:`fanzha.linking.geo`) — never by a network call;
* mule accounts: bank cards and Alipay accounts, by victims and money; with the
  gateway's holder answers, accounts are joined to the people behind them by ID number
  and phone (身份还原), and people who hold several mule accounts are cash-out suspects.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx

from fanzha.linking.geo import GeoTable
from fanzha.linking.reports import Report
from fanzha.money import format_fen

EXACT_BETWEENNESS_NODES = 2000
MULE_KINDS = ("bank_card", "alipay")


@dataclass(frozen=True, slots=True)
class Gang:
    reports: list[str]
    middlemen: list[tuple[str, str]]   # identifiers tying this gang to another one in the group


@dataclass(frozen=True, slots=True)
class Holder:
    """The gateway's answer to an account-holder query (one account)."""

    account: str
    name: str | None = None
    id_number: str | None = None
    phone: str | None = None


@dataclass
class GangReport:
    """What a gang page shows for one group."""

    gangs: list[Gang]
    key_members: list[dict]
    dens: list[dict]
    mules: list[dict]
    people: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"gangs": [{"reports": g.reports, "middlemen": [{"kind": k, "value": v} for k, v in g.middlemen]}
                          for g in self.gangs],
                "key_members": self.key_members, "dens": self.dens, "mules": self.mules, "people": self.people}


def _graph(reports: Sequence[Report], linking: set[tuple[str, str]] | None) -> nx.Graph:
    g = nx.Graph()
    for r in reports:
        g.add_node(("r", r.report_id))
        for key in r.identifiers:
            if linking is None or key in linking:
                g.add_edge(("r", r.report_id), ("v",) + key)
    return g


def split_gangs(reports: Sequence[Report], linking: set[tuple[str, str]], *, min_gang: int = 3) -> list[Gang]:
    """The gangs inside one group (see the module docstring).

    ``linking``: the values that link (not held back), so common values never hold gangs
    together. A value is a middleman when taking it out leaves two or more parts of at
    least ``min_gang`` reports each; middlemen are taken out one at a time, in a fixed
    order (fewest reports first, then kind and value), and the parts left are the gangs."""
    ordered = sorted(reports, key=lambda r: r.sort_key)
    position = {r.report_id: i for i, r in enumerate(ordered)}
    if len(ordered) < 2 * min_gang:
        return [Gang([r.report_id for r in ordered], [])]
    g = _graph(ordered, linking)
    candidates = sorted((n for n in nx.articulation_points(g) if n[0] == "v"),
                        key=lambda n: (g.degree(n), n[1], n[2]))
    cut: list[tuple[str, str]] = []
    for node in candidates:
        if node not in g:
            continue
        neighbours = list(g.neighbors(node))
        g.remove_node(node)
        seen: set = set()
        big = 0
        for nb in neighbours:
            if nb in seen:
                continue
            part = nx.node_connected_component(g, nb)
            seen |= part
            if sum(1 for x in part if x[0] == "r") >= min_gang:
                big += 1
        if big >= 2:
            cut.append(node[1:])
        else:
            g.add_node(node)
            g.add_edges_from((node, nb) for nb in neighbours)
    gangs = []
    for part in nx.connected_components(g):
        rids = sorted((x[1] for x in part if x[0] == "r"), key=position.__getitem__)
        if rids:
            ties = sorted({v for r in rids for v in ordered[position[r]].identifiers if v in cut})
            gangs.append(Gang(rids, ties))
    gangs.sort(key=lambda x: position[x.reports[0]])
    return gangs


def key_members(reports: Sequence[Report], linking: set[tuple[str, str]], top: int = 10) -> list[dict]:
    """Identifiers that touch the most victims and money, with their betweenness."""
    g = _graph(reports, linking)
    if g.number_of_nodes() <= EXACT_BETWEENNESS_NODES:
        bc = nx.betweenness_centrality(g)
    else:
        bc = nx.betweenness_centrality(g, k=200, seed=0)
    loss = {r.report_id: r.loss_fen for r in reports}
    rows = []
    for node in g.nodes:
        if node[0] != "v":
            continue
        victims = [nb[1] for nb in g.neighbors(node)]
        rows.append({"kind": node[1], "value": node[2], "reports": len(victims),
                     "loss": sum(loss[v] for v in victims), "betweenness": round(bc.get(node, 0.0), 6)})
    rows.sort(key=lambda x: (-x["reports"], -x["loss"], -x["betweenness"], x["kind"], x["value"]))
    for x in rows:
        x["loss"] = format_fen(x["loss"])
    return rows[:top]


def _prefix(ip: str) -> str:
    addr = ipaddress.ip_address(ip)
    bits = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


def dens(reports: Sequence[Report], geo: GeoTable | None = None) -> list[dict]:
    """The group's IPs, by network block (and place, with an offline table)."""
    blocks: dict[str, dict] = {}
    for r in reports:
        for kind, value in r.identifiers:
            if kind != "ip":
                continue
            b = blocks.setdefault(_prefix(value), {"ips": set(), "reports": set()})
            b["ips"].add(value)
            b["reports"].add(r.report_id)
    out = []
    for prefix, b in blocks.items():
        row = {"prefix": prefix, "ips": sorted(b["ips"]), "reports": len(b["reports"])}
        if geo is not None:
            place = geo.locate(next(iter(sorted(b["ips"]))))
            row.update({"country": place.country if place else None, "city": place.city if place else None,
                        "overseas": (place.country != geo.home) if place else None})
        out.append(row)
    out.sort(key=lambda x: (-x["reports"], x["prefix"]))
    return out


def mules(reports: Sequence[Report], holders: Mapping[str, Holder] | None = None) -> tuple[list[dict], list[dict]]:
    """Mule accounts by victims and money; and, with holder answers, the people behind them
    joined by ID number or phone, those holding two or more accounts first."""
    accounts: dict[tuple[str, str], list[Report]] = {}
    for r in reports:
        for kind, value in r.identifiers:
            if kind in MULE_KINDS:
                accounts.setdefault((kind, value), []).append(r)
    rows = []
    for (kind, value), rs in accounts.items():
        row = {"kind": kind, "account": value, "reports": len(rs), "loss": sum(r.loss_fen for r in rs)}
        h = holders.get(value) if holders else None
        if h is not None:
            row["holder"] = {"name": h.name, "id_number": h.id_number, "phone": h.phone}
        rows.append(row)
    rows.sort(key=lambda x: (-x["reports"], -x["loss"], x["account"]))
    for x in rows:
        x["loss"] = format_fen(x["loss"])
    people: list[dict] = []
    if holders:
        # union accounts whose holders share an ID number or a phone
        person: dict[str, int] = {}
        parent: list[int] = []
        keyed: dict[tuple[str, str], int] = {}

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for (_, acct) in accounts:
            h = holders.get(acct)
            if h is None:
                continue
            person[acct] = len(parent)
            parent.append(len(parent))
            for key in (("id", h.id_number), ("phone", h.phone)):
                if key[1]:
                    if key in keyed:
                        parent[find(person[acct])] = find(keyed[key])
                    else:
                        keyed[key] = person[acct]
        grouped: dict[int, list[str]] = {}
        for acct, p in person.items():
            grouped.setdefault(find(p), []).append(acct)
        group_phones = {v for r in reports for k, v in r.identifiers if k == "phone"}
        for accts in grouped.values():
            hs = [holders[a] for a in sorted(accts)]
            phones = sorted({h.phone for h in hs if h.phone})
            people.append({"accounts": sorted(accts), "names": sorted({h.name for h in hs if h.name}),
                           "id_numbers": sorted({h.id_number for h in hs if h.id_number}), "phones": phones,
                           "phone_in_reports": any(p in group_phones for p in phones),
                           "cash_out_suspect": len(accts) >= 2 or any(p in group_phones for p in phones)})
        people.sort(key=lambda p: (-len(p["accounts"]), p["accounts"]))
    return rows, people


def analyse(reports: Sequence[Report], linking: set[tuple[str, str]], *, geo: GeoTable | None = None,
            holders: Mapping[str, Holder] | None = None, top: int = 10) -> GangReport:
    """Everything a gang page needs for one linked group."""
    mule_rows, people = mules(reports, holders)
    return GangReport(split_gangs(reports, linking), key_members(reports, linking, top), dens(reports, geo),
                      mule_rows[:top], people)
