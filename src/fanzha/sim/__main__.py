"""``python -m fanzha.sim world …``: the simulator's commands on their own.

The same commands as ``fanzha sim …``, without loading the rest of the platform — for
benchmarks and for building worlds on a machine that only needs the generator.
"""

from __future__ import annotations

import typer

from fanzha.sim.cli import sim_app


def main() -> None:
    typer.main.get_command(sim_app)(prog_name="python -m fanzha.sim")


if __name__ == "__main__":
    main()
