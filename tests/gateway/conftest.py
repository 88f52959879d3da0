"""Gateway fixtures: simulated institutions on loopback and the centre's API (for
callbacks), over the migrated database of each kind."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gwkit import CODES, START, ManualClock, SimHandle, write_world  # noqa: E402

from fanzha.gateway.signing import Keyring  # noqa: E402
from fanzha.gateway.simulator import Faults, ServerThread, Simulator, World, build_app  # noqa: E402


@pytest.fixture
def keys() -> Keyring:
    return Keyring.generate(CODES)


@pytest.fixture
def world_dir(tmp_path) -> Path:
    return write_world(tmp_path / "world")


@pytest.fixture
def make_sim(keys, world_dir):
    """Start simulated institutions; stopped at the end of the test."""
    started: list[SimHandle] = []

    def make(faults: Faults | None = None, *, clock: Any = None, by: dict[str, Faults] | None = None,
             seed: int = 0, sim_keys: Keyring | None = None) -> SimHandle:
        world = World.from_dir(world_dir)
        sim = Simulator(world, sim_keys or keys, institutions=CODES, seed=seed,
                        clock=clock or ManualClock(START + timedelta(seconds=30)),
                        faults=faults or Faults(latency_s=(1, 5)), faults_by_institution=by)
        h = SimHandle(sim, ServerThread(build_app(sim)).start())
        started.append(h)
        return h

    yield make
    for h in started:
        h.server.stop()


@pytest.fixture
def centre(migrated_url, keys, tmp_path):
    """The centre's API on loopback (where institutions call back)."""
    from fanzha.api.app import create_app
    from fanzha.settings import Settings

    app = create_app(Settings(database_url=migrated_url, secret_key="test-secret-not-for-use-" + "x" * 16,
                              data_dir=tmp_path))
    app.state.gateway_keys = keys
    server = ServerThread(app).start()
    yield server
    server.stop()
    app.state.engine.dispose()
