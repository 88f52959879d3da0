"""Case linking (串并案): reports that share an identifier belong together.

The pure core, without I/O: :mod:`~fanzha.linking.identifiers` (one spelling per value),
:mod:`~fanzha.linking.reports` (reading ``reports.jsonl`` strictly),
:mod:`~fanzha.linking.common` (the warning list of values too common to link),
:mod:`~fanzha.linking.batch` (all reports at once, vectorised),
:mod:`~fanzha.linking.incremental` (one new report in milliseconds, same groups),
:mod:`~fanzha.linking.decisions` (analysts' confirmed and rejected links, as views),
:mod:`~fanzha.linking.gangs` (gangs, key members, dens, mules) and
:mod:`~fanzha.linking.geo` (offline IP locations), :mod:`~fanzha.linking.exports` (GraphML,
GEXF, CSV) and :mod:`~fanzha.linking.stix` (STIX 2.1 bundles out and in). The edges are
:mod:`~fanzha.linking.cli` and :mod:`~fanzha.linking.store` (groups over the store, on demand).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: Name → the module it comes from, imported on first use: the vectorised linking pulls in
#: SciPy, which whoever needs only identifiers' spelling (intake, on every start) should not load.
_EXPORTS = {"Linking": "batch", "ReportTable": "batch", "link": "batch",
            "CommonPolicy": "common", "CommonValue": "common",
            "Decisions": "decisions", "LinkDecision": "decisions", "Verdict": "decisions",
            "Linker": "incremental", "Placement": "incremental",
            "Report": "reports", "ReportError": "reports", "read_reports": "reports"}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from fanzha.linking.batch import Linking, ReportTable, link
    from fanzha.linking.common import CommonPolicy, CommonValue
    from fanzha.linking.decisions import Decisions, LinkDecision, Verdict
    from fanzha.linking.incremental import Linker, Placement
    from fanzha.linking.reports import Report, ReportError, read_reports


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
