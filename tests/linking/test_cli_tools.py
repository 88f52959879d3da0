"""``fanzha link export`` and ``fanzha link import-stix``: files out, files back, exit 2 on bad input."""

from __future__ import annotations

import json
import zipfile

import networkx as nx
import stix2
import typer
from typer.testing import CliRunner

from fanzha.linking.cli import register

GOOD = [
    {"report_id": "R1", "received_at": "2024-05-01T10:00:00+08:00", "loss": "990000.00",
     "identifiers": [{"kind": "phone", "value": "+85265432109"},
                     {"kind": "bank_card", "value": "6222025260181590832"}]},
    {"report_id": "R7", "received_at": "2024-05-02T10:00:00+08:00", "loss": "10.00",
     "identifiers": [{"kind": "bank_card", "value": "6222 0252 6018 1590 832"}, {"kind": "phone", "value": "95588"}]},
    {"report_id": "R9", "received_at": "2024-05-03T10:00:00+08:00",
     "identifiers": [{"kind": "phone", "value": "95588"}]},
]


def write(tmp_path, rows):
    p = tmp_path / "reports.jsonl"
    p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return p


def invoke(*args):
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:
        """fanzha (test harness)."""

    return CliRunner().invoke(app, ["link", *map(str, args)])


def test_plain_link_is_unchanged(tmp_path):
    res = invoke(write(tmp_path, GOOD), "--format", "json")
    assert res.exit_code == 0 and json.loads(res.stdout)["groups"][0]["reports"] == ["R1", "R7"]


def test_export_graphml_gexf_csv(tmp_path):
    reports = write(tmp_path, GOOD)
    for fmt, reader in (("graphml", nx.read_graphml), ("gexf", nx.read_gexf)):
        out = tmp_path / f"g.{fmt}"
        res = invoke("export", reports, "--group", "G1", "--to", fmt, "-o", out)
        assert res.exit_code == 0, res.output
        g = reader(out)
        assert {"report:R1", "report:R7", "bank_card:6222025260181590832"} <= set(g.nodes)
        assert g.nodes["phone:95588;phone-context=+86"]["held_back"] == "listed"
    res = invoke("export", reports, "--report", "R7", "--to", "csv", "-o", tmp_path / "g.zip")
    assert res.exit_code == 0, res.output
    with zipfile.ZipFile(tmp_path / "g.zip") as z:
        assert sorted(z.namelist()) == ["G1-edges.csv", "G1-nodes.csv"]
    res = invoke("export", reports, "--group", "G1", "--to", "csv", "-o", tmp_path / "tables")
    assert res.exit_code == 0 and (tmp_path / "tables" / "G1-nodes.csv").is_file()


def test_export_stix_then_import_gives_the_same_indicators(tmp_path):
    reports = write(tmp_path, GOOD)
    res = invoke("export", reports, "--group", "G1", "--to", "stix")
    assert res.exit_code == 0, res.output
    stix2.parse(res.stdout, allow_custom=True)
    bundle = tmp_path / "g1.json"
    bundle.write_text(res.stdout, encoding="utf-8")
    res = invoke("import-stix", bundle, "--format", "json")
    assert res.exit_code == 0, res.output
    got = sorted((i["kind"], i["value"]) for i in json.loads(res.stdout)["identifiers"])
    # the group's identifiers, less 95588 (held back as too common: never shared as an indicator)
    assert got == [("bank_card", "6222025260181590832"), ("phone", "+85265432109")]


def test_bad_input_exits_2_naming_it(tmp_path):
    reports = write(tmp_path, GOOD)
    res = invoke("export", reports, "--group", "G99", "--to", "graphml")
    assert res.exit_code == 2 and "G99" in res.output
    res = invoke("export", reports, "--to", "graphml")
    assert res.exit_code == 2 and "--group" in res.output
    res = invoke("export", reports, "--group", "G1", "--to", "csv")
    assert res.exit_code == 2 and "-o" in res.output
    res = invoke("export", reports, "--group", "G1", "--to", "pdf")
    assert res.exit_code == 2
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
                                  "objects": [{"type": "indicator", "spec_version": "2.1",
                                               "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                                               "created": "2024-05-01T00:00:00Z",
                                               "modified": "2024-05-01T00:00:00Z",
                                               "valid_from": "2024-05-01T00:00:00Z", "pattern_type": "stix",
                                               "pattern": "[ipv4-addr:value = '300.1.1.1']"}]}))
    res = invoke("import-stix", broken)
    assert res.exit_code == 2 and "objects[0].pattern" in res.output and "broken.json" in res.output
    assert invoke("import-stix", tmp_path / "absent.json").exit_code == 2


def test_help_names_the_tools():
    res = invoke("--help")
    assert res.exit_code == 0 and "export" in res.output and "REPORTS.jsonl" in res.output
    assert invoke("export", "--help").exit_code == 0
    assert invoke("import-stix", "--help").exit_code == 0
