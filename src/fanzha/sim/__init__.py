"""A synthetic city for fanzha: reference data and a deterministic world of fraud.

:mod:`fanzha.sim.catalog` is the reference data the whole platform shares (the Xiamen
police units and the ~100 institutions the centre can query). :mod:`fanzha.sim.world`
builds, from a seed, a city's citizens, gangs, mule networks, victims, ledger and
reports, with the ground truth kept beside it so tracing and linking can be measured.

The generator is imported lazily: code that only needs the catalogue (the store's
seeding, routing) does not pay for numpy and pyarrow.
"""

from __future__ import annotations

from typing import Any

__all__ = ["World", "WorldParams", "generate_world", "write_world"]


def __getattr__(name: str) -> Any:
    if name in ("World", "WorldParams", "generate_world"):
        from fanzha.sim import world

        return getattr(world, name)
    if name == "write_world":
        from fanzha.sim.writer import write_world

        return write_world
    raise AttributeError(name)
