"""Linking a whole set of reports at once, vectorised.

Nothing pairwise is ever materialised (a report–report correlation table grows with the
square of a busy value's degree). The reports and their identifiers become a bipartite
graph — report nodes, value nodes, one edge per (report, value) — whose connected
components, once the common values are taken out, are the groups:

1. values are factorised into integer IDs (Arrow's dictionary encoding, then one sort
   over ``value_code * kinds + kind``), duplicate (report, value) edges dropped;
2. each value's degree and number of scam types are counted with ``bincount``; values
   over the limits, listed or private are held back (:mod:`fanzha.linking.common`);
3. the remaining edges with degree ≥ 2, plus analysts' confirmed pairs, go to
   ``scipy.sparse.csgraph.connected_components``;
4. components holding a rejected pair are split by
   :func:`fanzha.linking.decisions.constrained_partition` (small, in Python);
5. groups are numbered by their earliest report (time, then ID), and each value that
   joins two or more reports of a group is listed as that group's shared identifier,
   with the reports it joins — the explanation of every link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from fanzha.linking.common import DEGREE, LISTED, PRIVATE_IP, SCAM_TYPES, CommonPolicy, CommonValue, is_private_ip
from fanzha.linking.decisions import Decisions, Verdict, constrained_partition
from fanzha.linking.identifiers import KIND_CODE, KINDS
from fanzha.linking.reports import SCAM_INDEX, Report, time_key

_NK = len(KINDS)
_NS = len(SCAM_INDEX)
_REASONS = ("", LISTED, PRIVATE_IP, DEGREE, SCAM_TYPES)
_NON_GLOBAL_FIRST_OCTETS = frozenset({"0", "10", "100", "127", "169", "172", "192", "198", "203"}
                                     | {str(x) for x in range(224, 256)})


@dataclass
class ReportTable:
    """Reports as columns: what the vectorised core reads.

    ``edge_*`` arrays have one entry per (report, identifier): the report's row, the
    kind's code (:data:`fanzha.linking.identifiers.KIND_CODE`) and the normalised value.
    ``scam`` is the scam type's index (:data:`fanzha.linking.reports.SCAM_INDEX`) or -1.
    """

    report_ids: np.ndarray          # object, str
    time_key: np.ndarray            # int64 µs since epoch; int64 max when unknown
    scam: np.ndarray                # int8
    loss_fen: np.ndarray            # int64
    edge_report: np.ndarray         # int64
    edge_kind: np.ndarray           # int8
    edge_value: pa.Array            # string

    @property
    def n_reports(self) -> int:
        return len(self.report_ids)

    @classmethod
    def from_reports(cls, reports: Sequence[Report]) -> ReportTable:
        ids = np.empty(len(reports), dtype=object)
        ids[:] = [r.report_id for r in reports]
        counts = np.fromiter((len(r.identifiers) for r in reports), np.int64, len(reports))
        kinds = [KIND_CODE[k] for r in reports for k, _ in r.identifiers]
        values = [v for r in reports for _, v in r.identifiers]
        return cls(
            report_ids=ids,
            time_key=np.fromiter((time_key(r.received_at) for r in reports), np.int64, len(reports)),
            scam=np.fromiter((SCAM_INDEX[r.scam_type] if r.scam_type else -1 for r in reports), np.int8,
                             len(reports)),
            loss_fen=np.fromiter((r.loss_fen for r in reports), np.int64, len(reports)),
            edge_report=np.repeat(np.arange(len(reports), dtype=np.int64), counts),
            edge_kind=np.asarray(kinds, dtype=np.int8),
            edge_value=pa.array(values, pa.string()),
        )


@dataclass(frozen=True, slots=True)
class SharedValue:
    """A value that joins reports of one group: the explanation of those links."""

    kind: str
    value: str
    report_ids: list[str]


@dataclass
class Linking:
    """The groups of one batch run, in output order (G1 = the group of the earliest report)."""

    table: ReportTable
    group: np.ndarray               # per report: its group's number, 0-based, output order
    order: np.ndarray               # report rows, by group then time/ID
    starts: np.ndarray              # group g's rows are order[starts[g]:starts[g+1]]
    shared_group: np.ndarray        # per (group, value) pair: the group …
    shared_kind: np.ndarray         # … the kind …
    shared_value: list[str]         # … the value …
    shared_starts: np.ndarray       # … and its reports: shared_reports[shared_starts[i]:shared_starts[i+1]]
    shared_reports: np.ndarray
    common: list[CommonValue] = field(default_factory=list)
    confirmed: list[tuple[str, str]] = field(default_factory=list)   # honoured confirmed pairs
    conflicts: list[tuple[str, str]] = field(default_factory=list)   # confirmed pairs a rejection overrode

    @property
    def n_groups(self) -> int:
        return len(self.starts) - 1

    @staticmethod
    def group_id(g: int) -> str:
        return f"G{g + 1}"

    def partition(self) -> list[list[str]]:
        """Each group's report IDs, in output order."""
        if self.n_groups == 0:
            return []
        ids = self.table.report_ids[self.order]
        return [list(x) for x in np.split(ids, self.starts[1:-1])]

    def shared_by_group(self) -> list[list[SharedValue]]:
        """For each group, the values joining its reports, most reports first."""
        out: list[list[SharedValue]] = [[] for _ in range(self.n_groups)]
        ids = self.table.report_ids
        for i, g in enumerate(self.shared_group.tolist()):
            reps = ids[self.shared_reports[self.shared_starts[i]:self.shared_starts[i + 1]]].tolist()
            out[g].append(SharedValue(KINDS[self.shared_kind[i]], self.shared_value[i], reps))
        return out


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique`` without the inverse, by one sort (faster than hashing at this size)."""
    a = np.sort(a)
    keep = np.ones(len(a), dtype=bool)
    keep[1:] = a[1:] != a[:-1]
    return a[keep]


def _value_ids(table: ReportTable) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.Array]:
    """(edge value IDs, value kind per ID, value's dictionary code per ID, dictionary)."""
    import pandas as pd

    enc = pc.dictionary_encode(table.edge_value)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.combine_chunks()
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    combined = codes * _NK + table.edge_kind.astype(np.int64)
    vid, uniq = pd.factorize(combined, sort=False)
    return vid.astype(np.int64), (uniq % _NK).astype(np.int8), uniq // _NK, enc.dictionary


def _reasons(policy: CommonPolicy, deg: np.ndarray, ntypes: np.ndarray, vkind: np.ndarray,
             vcode: np.ndarray, dictionary: pa.Array) -> np.ndarray:
    """Per value: 0 if it may link, else the index of its reason in ``_REASONS``.

    Only values in two or more reports can link, so only they are examined."""
    reason = np.zeros(len(deg), dtype=np.int8)
    cand = np.flatnonzero(deg >= 2)
    if len(cand) == 0:
        return reason
    strings = dictionary.take(pa.array(vcode[cand]))
    if policy.listed:
        listed_values = pa.array(sorted({v for _, v in policy.listed}), pa.string())
        hit = pc.is_in(strings, value_set=listed_values).to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(hit):
            v = cand[i]
            if (KINDS[vkind[v]], strings[int(i)].as_py()) in policy.listed:
                reason[v] = 1
    if policy.hold_private_ips:
        ips = np.flatnonzero(vkind[cand] == KIND_CODE["ip"])
        for i, text in zip(ips.tolist(), strings.take(pa.array(ips, pa.int64())).to_pylist()):
            v = cand[i]
            # only these first octets (or IPv6) can be non-global; skip the slow check otherwise
            if reason[v] == 0 and (":" in text or text.split(".", 1)[0] in _NON_GLOBAL_FIRST_OCTETS) \
                    and is_private_ip(text):
                reason[v] = 2
    learned = reason == 0
    if policy.trusted:
        trusted_values = pa.array(sorted({v for _, v in policy.trusted}), pa.string())
        hit = pc.is_in(strings, value_set=trusted_values).to_numpy(zero_copy_only=False)
        for i in np.flatnonzero(hit):
            v = cand[i]
            if (KINDS[vkind[v]], strings[int(i)].as_py()) in policy.trusted:
                learned[v] = False
    reason[learned & (deg > policy.max_reports)] = 3
    reason[learned & (reason == 0) & (ntypes > policy.max_scam_types)] = 4
    return reason


def _report_rank(table: ReportTable) -> np.ndarray:
    """Each report's position in (time, ID) order."""
    id_rank = np.empty(table.n_reports, dtype=np.int64)
    id_rank[pc.sort_indices(pa.array(table.report_ids, pa.string())).to_numpy()] = np.arange(table.n_reports)
    order = np.lexsort((id_rank, table.time_key))
    rank = np.empty(table.n_reports, dtype=np.int64)
    rank[order] = np.arange(table.n_reports)
    return rank


def link(table: ReportTable, policy: CommonPolicy | None = None,
         decisions: Decisions | None = None) -> Linking:
    """Group every report of ``table`` (see the module docstring for how)."""
    policy = policy if policy is not None else CommonPolicy()
    n = table.n_reports
    vid, vkind, vcode, dictionary = _value_ids(table)
    nv = len(vkind)
    # one edge per (report, value)
    e = _sorted_unique(table.edge_report.astype(np.int64) * max(nv, 1) + vid)
    rep, vid = e // max(nv, 1), e % max(nv, 1)
    deg = np.bincount(vid, minlength=nv)
    s = table.scam[rep].astype(np.int64)
    known = s >= 0
    pairs = _sorted_unique(vid[known] * _NS + s[known])
    ntypes = np.bincount(pairs // _NS, minlength=nv)
    reason = _reasons(policy, deg, ntypes, vkind, vcode, dictionary)

    linking = (reason[vid] == 0) & (deg[vid] >= 2)
    lrep, lvid = rep[linking], vid[linking]
    used = _sorted_unique(lvid)
    node_of = np.full(nv, -1, dtype=np.int64)
    node_of[used] = np.arange(len(used)) + n

    confirmed, rejected, conflicts = _decision_pairs(table, decisions)
    rows = np.concatenate([lrep, confirmed[:, 0]])
    cols = np.concatenate([node_of[lvid], confirmed[:, 1]])
    size = n + len(used)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(size, size)).tocsr()
    _, labels = connected_components(graph, directed=True, connection="weak")
    label = labels[:n].astype(np.int64)

    rank = _report_rank(table)
    if len(rejected):
        label, conflicts = _split_rejected(table, label, rank, lrep, lvid, vkind, vcode, dictionary, deg,
                                           confirmed, rejected)

    # number groups by their earliest report
    by_rank = np.argsort(rank)
    lab_sorted = label[by_rank]
    # each label's first position in rank order (a reversed scatter: the first write wins)
    first_at = np.full(int(label.max()) + 1 if n else 0, n, dtype=np.int64)
    first_at[lab_sorted[::-1]] = np.arange(n - 1, -1, -1)
    first_labels = lab_sorted[np.sort(first_at[first_at < n])]
    number = np.empty(label.max() + 1 if n else 0, dtype=np.int64)
    number[first_labels] = np.arange(len(first_labels))
    group = number[label] if n else label
    order = by_rank[np.argsort(group[by_rank], kind="stable")]
    starts = np.searchsorted(group[order], np.arange(len(first_labels) + 1))

    # shared values per group: (group, value) pairs joining two or more reports
    g_of_edge = group[lrep]
    key = np.lexsort((rank[lrep], lvid, g_of_edge))
    sg, sv, sr = g_of_edge[key], lvid[key], lrep[key]
    boundary = np.ones(len(sg), dtype=bool)
    boundary[1:] = (sg[1:] != sg[:-1]) | (sv[1:] != sv[:-1])
    seg = np.flatnonzero(boundary)
    seg_len = np.diff(np.append(seg, len(sg)))
    keep = seg_len >= 2
    seg_k, len_k = seg[keep], seg_len[keep]
    # within a group, most reports first, then kind, then value
    seg_strings = dictionary.take(pa.array(vcode[sv[seg_k]]))
    string_rank = np.empty(len(seg_k), dtype=np.int64)
    string_rank[pc.sort_indices(seg_strings).to_numpy()] = np.arange(len(seg_k))
    pair_order = np.lexsort((string_rank, vkind[sv[seg_k]], -len_k, sg[seg_k]))
    seg_k, len_k = seg_k[pair_order], len_k[pair_order]
    idx = (np.repeat(seg_k - np.concatenate([[0], np.cumsum(len_k)[:-1]]), len_k)
           + np.arange(int(len_k.sum())))
    shared_starts = np.concatenate([[0], np.cumsum(len_k)]).astype(np.int64)
    shared_values = seg_strings.take(pa.array(pair_order)).to_pylist() if len(seg_k) else []

    common_idx = np.flatnonzero(reason > 0)
    common_strings = dictionary.take(pa.array(vcode[common_idx])).to_pylist() if len(common_idx) else []
    common = [CommonValue(KINDS[vkind[v]], s_, int(deg[v]), int(ntypes[v]), _REASONS[reason[v]])
              for v, s_ in zip(common_idx.tolist(), common_strings)]
    common.sort(key=lambda c: (-c.reports, c.kind, c.value))
    ids = table.report_ids
    honoured = [(ids[a], ids[b]) for a, b in confirmed.tolist() if group[a] == group[b]]
    return Linking(table, group, order, starts, sg[seg_k], vkind[sv[seg_k]], shared_values, shared_starts,
                   sr[idx], common, honoured, [(ids[a], ids[b]) for a, b in conflicts])


def _decision_pairs(table: ReportTable, decisions: Decisions | None):
    """Confirmed and rejected pairs as row indices (pairs naming unknown reports wait)."""
    empty = np.zeros((0, 2), dtype=np.int64)
    if not decisions or not len(decisions):
        return empty, empty, []
    import pandas as pd

    index = pd.Index(table.report_ids)
    out = []
    for verdict in (Verdict.confirmed, Verdict.rejected):
        pairs = decisions.pairs(verdict)
        if not pairs:
            out.append(empty)
            continue
        a = index.get_indexer([p[0] for p in pairs])
        b = index.get_indexer([p[1] for p in pairs])
        ok = (a >= 0) & (b >= 0)
        out.append(np.stack([a[ok], b[ok]], axis=1).astype(np.int64))
    return out[0], out[1], []


def _split_rejected(table, label, rank, lrep, lvid, vkind, vcode, dictionary, deg, confirmed, rejected):
    """Relabel the components holding a rejected pair by the constrained partition."""
    bad = np.unique(label[rejected[:, 0]][label[rejected[:, 0]] == label[rejected[:, 1]]])
    label = label.copy()
    next_label = int(label.max()) + 1
    conflicts: list[tuple[int, int]] = []
    for comp in bad.tolist():
        members = np.flatnonzero(label == comp).tolist()
        inside = set(members)
        sort_key = {m: (int(rank[m]),) for m in members}
        mask = label[lrep] == comp
        values: dict[int, list[int]] = {}
        for r, v in zip(lrep[mask].tolist(), lvid[mask].tolist()):
            values.setdefault(v, []).append(r)
        strings = dict(zip(values, dictionary.take(pa.array(vcode[list(values)])).to_pylist()))
        vals = [((int(deg[v]), KINDS[vkind[v]], strings[v]), reps) for v, reps in values.items()]
        conf = [(a, b) for a, b in confirmed.tolist() if a in inside]
        rej = [(a, b) for a, b in rejected.tolist() if a in inside and b in inside]
        groups, clash = constrained_partition(members, sort_key, vals, conf, rej)
        conflicts += clash
        for g in groups[1:]:
            label[g] = next_label
            next_label += 1
    return label, conflicts
