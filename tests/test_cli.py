"""The ``fanzha`` command line: set-up commands, exit codes, help."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

FANZHA = [sys.executable, "-m", "fanzha.cli"]


def run(args, env_extra=None, **kw):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(FANZHA + args, capture_output=True, text=True, env=env, timeout=120, **kw)


@pytest.fixture
def env(tmp_path):
    return {"FANZHA_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}", "FANZHA_DATA_DIR": str(tmp_path)}


def test_help_lists_the_commands():
    out = run(["--help"]).stdout
    for command in ("serve", "demo", "db", "users", "clients", "sim", "trace"):
        assert command in out


def test_db_upgrade_seed_and_users(env):
    assert run(["db", "upgrade"], env).returncode == 0
    seeded = run(["db", "seed"], env)
    assert seeded.returncode == 0, seeded.stderr
    assert run(["db", "seed"], env).stdout.startswith("units 0, institutions 0")  # idempotent
    ok = run(["users", "add", "lin", "--role", "analyst"], {**env, "FANZHA_NEW_PASSWORD": "a long password"})
    assert ok.returncode == 0, ok.stderr
    dup = run(["users", "add", "lin", "--role", "analyst"], {**env, "FANZHA_NEW_PASSWORD": "a long password"})
    assert dup.returncode == 2 and "exists" in dup.stderr
    bad = run(["users", "add", "wu", "--role", "sheriff"], {**env, "FANZHA_NEW_PASSWORD": "a long password"})
    assert bad.returncode == 2 and "unknown role 'sheriff'" in bad.stderr
    key = run(["clients", "add", "110-platform", "--role", "platform"], env)
    assert key.returncode == 0 and json.loads(key.stdout)["api_key"].startswith("fz_")


def test_db_downgrade(env):
    assert run(["db", "upgrade"], env).returncode == 0
    assert run(["db", "downgrade", "base"], env).returncode == 0
