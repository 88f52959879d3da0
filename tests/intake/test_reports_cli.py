"""``fanzha reports import`` and ``fanzha reports watch`` end to end on a SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

CSV = ("接警编号,报警时间,辖区,地址,报警人电话,损失金额,转账时间,简要案情\n"
       "110-1,2024-05-01 10:00,思明区,中华街道,+8613912345678,50000,2024-05-01 09:40,"
       "被冒充客服诈骗，向6222021001115555556转账5万元\n"
       "110-1,2024-05-01 10:00,思明区,中华街道,+8613912345678,50000,2024-05-01 09:40,"
       "被冒充客服诈骗，向6222021001115555556转账5万元\n"
       "110-2,,湖里区,,,100,,缺时间\n")


def fanzha(args, env):
    return subprocess.run([sys.executable, "-m", "fanzha.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


@pytest.fixture
def env(tmp_path):
    e = {"FANZHA_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}", "FANZHA_DATA_DIR": str(tmp_path)}
    assert fanzha(["db", "upgrade"], e).returncode == 0
    assert fanzha(["db", "seed"], e).returncode == 0
    return e


def test_import_files_good_rows_and_names_bad_ones(tmp_path, env):
    sheet = tmp_path / "day.csv"
    sheet.write_text(CSV, encoding="utf-8")
    r = fanzha(["reports", "import", str(sheet), "--format", "json"], env)
    assert r.returncode == 2  # some rows were bad
    out = json.loads(r.stdout)
    assert out["opened"] == 1 and out["duplicate"] == 1
    assert [(e["line"], e["field"]) for e in out["errors"]] == [(4, "received_at")]
    assert out["orders_queued"] == 2  # the payment was 20 minutes before the call


def test_watched_folder(tmp_path, env):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text(CSV, encoding="utf-8")
    (inbox / "b.csv").write_bytes(b"\xff\xfe garbage")
    r = fanzha(["reports", "watch", str(inbox), "--once"], env)
    assert r.returncode == 0, r.stderr
    assert (inbox / "done" / "a.csv").exists() and (inbox / "done" / "a.csv.errors.txt").exists()
    assert (inbox / "failed" / "b.csv").exists()
    assert "line 4" in (inbox / "done" / "a.csv.errors.txt").read_text(encoding="utf-8")
