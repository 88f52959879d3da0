"""Exports of a linked group: GraphML and GEXF parse back with networkx, CSV tables, STIX bundles
that the STIX library accepts and that read back to the same identifiers."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime, timezone

import networkx as nx
import pytest
import stix2

from fanzha.errors import InputError
from fanzha.linking import exports, stix
from fanzha.linking.reports import Report

T = datetime(2024, 5, 1, 2, 0, tzinfo=timezone.utc)
REPORTS = [
    Report("R1", (("phone", "+85265432109"), ("bank_card", "6222025260181590832"), ("phone", "95588;phone-context=+86")),
           T, "customer_service", 99_000_000, "思明区"),
    Report("R7", (("bank_card", "6222025260181590832"), ("url", "http://pay.example.cn/o?id=1"),
                  ("ip", "103.215.44.12")), T.replace(hour=3), None, 1_000, None),
]
HELD = {("phone", "95588;phone-context=+86"): "listed"}
ALL_KINDS = [("phone", "+8613912345678"), ("phone", "95588;phone-context=+86"), ("bank_card", "6222025260181590832"),
             ("url", "http://www.example.cn/task?id=8831"), ("domain", "example.cn"), ("qq", "2890145567"),
             ("wechat", "wxid_k8s9d0fj2"), ("ip", "103.215.44.12"), ("ip", "2001:db8::1"),
             ("email", "scam@example.cn"), ("device", "35-209900-176148-1"), ("app", "com.fake.loan"),
             ("app", "安全守护"), ("alipay", "2088123412341234"), ("url", "http://a.cn/it's\\x")]


def graph():
    return exports.group_graph("G1", REPORTS, HELD)


def test_graph_shape():
    g = graph()
    assert g.number_of_nodes() == 2 + 5 and g.number_of_edges() == 6
    card = g.nodes["bank_card:6222025260181590832"]
    assert card["reports"] == 2 and card["held_back"] == "" and card["type"] == "identifier"
    assert g.nodes["phone:95588;phone-context=+86"]["held_back"] == "listed"
    assert g.nodes["report:R1"]["loss"] == "990000.00" and g.nodes["report:R1"]["scam_type"] == "customer_service"


@pytest.mark.parametrize("write,read", [(exports.to_graphml, nx.read_graphml), (exports.to_gexf, nx.read_gexf)])
def test_graphml_and_gexf_parse_back(write, read):
    data = write(graph())
    back = read(io.BytesIO(data))
    assert set(back.nodes) == set(graph().nodes)
    assert back.number_of_edges() == graph().number_of_edges()
    assert back.nodes["report:R1"]["district"] == "思明区"
    assert int(back.nodes["bank_card:6222025260181590832"]["reports"]) == 2


def test_csv_tables_and_zip():
    nodes, edges = exports.to_csv(graph())
    n = list(csv.DictReader(io.StringIO(nodes)))
    e = list(csv.DictReader(io.StringIO(edges)))
    assert tuple(n[0]) == exports.NODE_COLUMNS and len(n) == 7 and len(e) == 6
    assert all(row["source"].startswith("report:") for row in e)
    with zipfile.ZipFile(io.BytesIO(exports.to_csv_zip(graph(), "G1"))) as z:
        assert sorted(z.namelist()) == ["G1-edges.csv", "G1-nodes.csv"]
        assert z.read("G1-nodes.csv").decode() == nodes


def test_stix_bundle_is_valid_and_round_trips():
    bundle = stix.indicators_bundle("G1", ALL_KINDS, created=T)
    parsed = stix2.parse(json.dumps(bundle), allow_custom=True)  # the library's own validation
    types = [o.type for o in parsed.objects]
    assert types.count("indicator") == len(ALL_KINDS) and "grouping" in types and "identity" in types
    back = stix.read_bundle(json.dumps(bundle))
    assert sorted((i.kind, i.value) for i in back.identifiers) == sorted(ALL_KINDS)
    assert {i.source for i in back.identifiers} == {"fanzha"}
    assert back.skipped == []
    assert stix.read_bundle(bundle, source="厦门").identifiers[0].source == "厦门"


def test_stix_ids_are_stable():
    a = stix.indicators_bundle("G1", ALL_KINDS[:3], created=T)
    b = stix.indicators_bundle("G9", list(reversed(ALL_KINDS[:3])), created=T)
    ids = lambda bun: sorted(o["id"] for o in bun["objects"] if o["type"] == "indicator")  # noqa: E731
    assert ids(a) == ids(b)


def test_stix_export_rejects_bad_identifiers():
    with pytest.raises(InputError) as err:
        stix.indicators_bundle("G1", [("phone", "+8613912345678"), ("fax", "123")])
    assert err.value.field == "identifiers[1].kind"
    with pytest.raises(InputError) as err:
        stix.indicators_bundle("G1", [("ip", "999.1.1.1")])
    assert err.value.field == "identifiers[0].value"


def _bundle(*objects):
    return {"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": list(objects)}


IND = {"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
       "created": "2024-05-01T00:00:00Z", "modified": "2024-05-01T00:00:00Z", "valid_from": "2024-05-01T00:00:00Z",
       "pattern_type": "stix"}


def test_reads_foreign_bundles_and_skips_what_is_not_an_identifier():
    doc = _bundle(
        {**IND, "pattern": "[url:value = 'HTTP://Example.CN/a' OR domain-name:value = 'Example.cn']",
         "labels": ["phishing"], "confidence": 80},
        {**IND, "id": "indicator--0f2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
         "pattern": "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']"},
        {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
         "value": "198.51.100.3"},
        {"type": "malware", "spec_version": "2.1", "id": "malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
         "created": "2024-05-01T00:00:00Z", "modified": "2024-05-01T00:00:00Z", "name": "x", "is_family": False})
    got = stix.read_bundle(json.dumps(doc), file="misp.json")
    assert [(i.kind, i.value) for i in got.identifiers] == [
        ("url", got.identifiers[0].value), ("domain", "example.cn"), ("ip", "198.51.100.3")]
    assert got.identifiers[0].value.startswith("http://example.cn/")
    assert got.identifiers[0].labels == ("phishing",) and got.identifiers[0].confidence == 80
    assert got.identifiers[0].source == "misp.json"
    assert [s["type"] for s in got.skipped] == ["indicator", "malware"]


@pytest.mark.parametrize("data,field,words", [
    ("{not json", None, "not JSON"),
    (json.dumps({"type": "report"}), "type", "not a STIX bundle"),
    (json.dumps(_bundle({**IND, "pattern": "[ipv4-addr:value = '1.2.3.4'"})), "objects[0]", "STIX 2.1 parser"),
    (json.dumps(_bundle({**IND, "pattern": "[ipv4-addr:value = 'not-an-ip']"})), "objects[0].pattern",
     "malformed ip"),
    (json.dumps(_bundle({**IND, "pattern": "[phone-number:value = '+8613912345678']", "x_fanzha_kind": "fax"})),
     "objects[0].x_fanzha_kind", "unknown identifier kind"),
])
def test_broken_bundles_name_what_and_where(data, field, words):
    with pytest.raises(InputError) as err:
        stix.read_bundle(data, file="in.json")
    assert err.value.field == field and words in err.value.message and err.value.file == "in.json"


def test_empty_bundle_reads_to_nothing():
    assert stix.read_bundle(json.dumps(_bundle())).identifiers == []
