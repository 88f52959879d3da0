"""One small world, built and written once for the whole folder (it is deterministic)."""

from __future__ import annotations

import pytest

from fanzha.sim.world import generate_world
from fanzha.sim.writer import write_world

SEED, TRANSACTIONS, REPORTS = 7, 30_000, 80


@pytest.fixture(scope="session")
def world():
    return generate_world(SEED, TRANSACTIONS, REPORTS)


@pytest.fixture(scope="session")
def world_dir(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    write_world(world, out)
    return out
