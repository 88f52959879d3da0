"""The ``fanzha link`` document (FORMATS.md), plus the keys that explain it.

Contract keys: ``groups`` with ``group_id``, ``reports`` and ``shared`` (``kind`` and
``value``). Added keys, which readers of the contract may ignore: each shared value's
``reports`` (the links it makes), each group's ``size``, ``loss``, ``scam_types``,
``confirmed`` pairs and, with gang analysis, ``gang``; and at the top ``common_values``
(the warning list actually met in the data), ``errors`` (reports not linked, by line),
``conflicts`` (confirmed links a rejection overrode) and ``summary``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from fanzha.linking.batch import Linking
from fanzha.linking.reports import SCAM_INDEX, ReportError
from fanzha.money import format_fen

_SCAM_CODES = list(SCAM_INDEX)


def linking_document(lk: Linking, errors: Sequence[ReportError] = (), *,
                     gang: Callable[[int, list[str], list[dict]], dict | None] | None = None) -> dict:
    """The JSON document for one run. ``gang(g, report_ids, shared)`` may add a group's
    gang analysis (it is called for groups of two or more reports)."""
    t = lk.table
    ids_sorted = t.report_ids[lk.order].tolist()
    starts = lk.starts.tolist()
    loss_sorted = t.loss_fen[lk.order]
    scam_sorted = t.scam[lk.order].tolist()
    loss = np.add.reduceat(loss_sorted, lk.starts[:-1]).tolist() if lk.n_groups else []
    shared = lk.shared_by_group()
    confirmed: dict[int, list[list[str]]] = {}
    if lk.confirmed:
        where = {rid: g for g in range(lk.n_groups) for rid in ids_sorted[starts[g]:starts[g + 1]]}
        for a, b in lk.confirmed:
            confirmed.setdefault(where[a], []).append([a, b])
    groups = []
    for g in range(lk.n_groups):
        lo, hi = starts[g], starts[g + 1]
        types: dict[str, int] = {}
        for s in scam_sorted[lo:hi]:
            if s >= 0:
                types[_SCAM_CODES[s]] = types.get(_SCAM_CODES[s], 0) + 1
        sh = [{"kind": s.kind, "value": s.value, "reports": s.report_ids} for s in shared[g]]
        doc = {"group_id": lk.group_id(g), "reports": ids_sorted[lo:hi], "shared": sh,
               "size": hi - lo, "loss": format_fen(int(loss[g])),
               "scam_types": dict(sorted(types.items(), key=lambda kv: (-kv[1], kv[0])))}
        if g in confirmed:
            doc["confirmed"] = confirmed[g]
        if gang is not None and hi - lo >= 2:
            extra = gang(g, doc["reports"], sh)
            if extra is not None:
                doc["gang"] = extra
        groups.append(doc)
    linked = sum(1 for d in groups if d["size"] >= 2)
    return {
        "groups": groups,
        "common_values": [c.as_dict() for c in lk.common],
        "errors": [e.as_dict() for e in errors],
        "conflicts": [list(p) for p in lk.conflicts],
        "summary": {"reports": t.n_reports, "groups": lk.n_groups, "linked_groups": linked,
                    "reports_in_linked_groups": sum(d["size"] for d in groups if d["size"] >= 2),
                    "common_values": len(lk.common), "errors": len(errors)},
    }
