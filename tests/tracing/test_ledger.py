"""Reading files strictly: every bad value named by file, line and field; both readers agree."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fanzha.errors import InputError
from fanzha.tracing import ledger as L
from fanzha.tracing import service

from .gen import mule_world
from .helpers import HEADER, files, t

GOOD = [f"T1,{t(0)},v1,M,100.00", f"T2,{t(1)},M,,40.00"]


def load(tmp_path, ledger, victims=("V1,T1",), accounts=None):
    p = files(tmp_path, ledger, list(victims), accounts)
    return service.load(p["ledger"], p["victims"], p.get("accounts"))


@pytest.mark.parametrize("row,field,words", [
    (f"T2,{t(1)},M,,-40.00", "amount", "positive"),
    (f"T2,{t(1)},M,,abc", "amount", "yuan"),
    (f"T2,{t(1)},M,,0.00", "amount", "positive"),
    (f"T2,{t(1)},M,,1.234", "amount", "two decimal"),
    (f"T2,{t(1)},M,,", "amount", ""),
    ("T2,2024-04-29T10:01:00,M,,40.00", "timestamp", "offset"),
    ("T2,yesterday,M,,40.00", "timestamp", "ISO"),
    (f"T1,{t(1)},M,,40.00", "txn_id", "duplicate"),
    (f"T2,{t(1)},,,40.00", "from_account", "both empty"),
    (f",{t(1)},M,,40.00", "txn_id", "empty"),
])
@pytest.mark.parametrize("engine", ["exact", "arrow"])
def test_bad_ledger_rows(tmp_path, row, field, words, engine):
    p = files(tmp_path, [GOOD[0], row], ["V1,T1"])
    with pytest.raises(InputError) as e:
        L.read_ledger(p["ledger"], engine=engine)
    err = e.value
    assert (err.file, err.line, err.field) == (str(p["ledger"]), 3, field)
    assert words in err.message
    assert f"line 3, field '{field}'" in str(err)


def test_missing_column(tmp_path):
    (tmp_path / "ledger.csv").write_text("txn_id,timestamp,from_account,amount\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        L.read_ledger(tmp_path / "ledger.csv")
    assert (e.value.line, e.value.field) == (1, "to_account")


def test_wrong_number_of_fields(tmp_path):
    p = files(tmp_path, [GOOD[0], f"T2,{t(1)},M,40.00"], ["V1,T1"])
    with pytest.raises(InputError) as e:
        L.read_ledger(p["ledger"], engine="arrow")
    assert e.value.line == 3


def test_victims_file_errors(tmp_path):
    with pytest.raises(InputError) as e:
        load(tmp_path / "a", GOOD, ["V1,T1", "V2,T9"])
    assert (e.value.file.endswith("victims.csv"), e.value.line, e.value.field) == (True, 3, "txn_id")
    assert "not in the ledger" in e.value.message
    with pytest.raises(InputError) as e:
        load(tmp_path / "b", [f"T1,{t(0)},,M,100.00"], ["V1,T1"])
    assert (e.value.line, e.value.field) == (2, "txn_id") and "no payer" in e.value.message
    with pytest.raises(InputError) as e:
        load(tmp_path / "c", GOOD, ["V1,T1", "V2,T1"])
    assert e.value.line == 3 and "twice" in e.value.message
    with pytest.raises(InputError) as e:
        load(tmp_path / "d", GOOD, [",T1"])
    assert e.value.field == "victim_id"


def test_accounts_file_errors(tmp_path):
    with pytest.raises(InputError) as e:
        load(tmp_path / "a", GOOD, accounts=["M,-5.00"])
    assert (e.value.file.endswith("accounts.csv"), e.value.line, e.value.field) == (True, 2, "opening_balance")
    with pytest.raises(InputError) as e:
        load(tmp_path / "b", GOOD, accounts=["M,5.00", "M,6.00"])
    assert e.value.line == 3
    assert load(tmp_path / "c", GOOD, accounts=["M,0.00"]).rows == 2     # zero is a balance


def test_blank_lines_and_bom_and_spaces(tmp_path):
    text = "\ufeff" + HEADER + "\n" + GOOD[0] + "\n\n" + f"T2,{t(1)}, M ,,40.00\n" + f"T3,{t(2)},M,,bad\n"
    (tmp_path / "ledger.csv").write_text(text, encoding="utf-8")
    for engine in ("exact", "arrow"):
        with pytest.raises(InputError) as e:
            L.read_ledger(tmp_path / "ledger.csv", engine=engine)
        assert e.value.line == 5          # physical line, the blank one counted


def test_fast_and_exact_readers_agree(tmp_path):
    w = mule_world(5, rows=300)
    p = w.write(tmp_path)
    a = L.read_ledger(p["ledger"], engine="exact")
    b = L.read_ledger(p["ledger"], engine="arrow")
    assert a.txn_id.to_pylist() == b.txn_id.to_pylist()
    assert (a.ts == b.ts).all() and (a.amount == b.amount).all()
    names_a = [a.accounts[i] if i >= 0 else "" for i in a.payer] + [a.accounts[i] if i >= 0 else "" for i in a.payee]
    names_b = [b.accounts[i] if i >= 0 else "" for i in b.payer] + [b.accounts[i] if i >= 0 else "" for i in b.payee]
    assert names_a == names_b
    assert [a.line_of(i) for i in range(len(a))] == [b.line_of(i) for i in range(len(b))]


def test_parquet_ledger(tmp_path):
    rows = [("T1", t(0), "v1", "M", "100.00"), ("T2", t(1), "M", "", "40.00")]
    table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(L.LEDGER_REQUIRED)})
    pq.write_table(table, tmp_path / "ledger.parquet")
    led = L.read_ledger(tmp_path / "ledger.parquet")
    assert led.txn_id.to_pylist() == ["T1", "T2"] and led.amount.tolist() == [10000, 4000]
    bad = table.set_column(4, "amount", pa.array(["100.00", "-4"]))
    pq.write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(InputError) as e:
        L.read_ledger(tmp_path / "bad.parquet")
    assert (e.value.line, e.value.field) == (2, "amount")


def test_a_2_gb_file_without_line_breaks_is_refused_at_once(tmp_path):
    """A dump with no line breaks (here 2 GiB of NUL bytes, sparse on disk) is refused
    on its first line instead of being read into memory."""
    big = tmp_path / "ledger.csv"
    with open(big, "wb") as fh:
        fh.truncate(2 * 2**30)
    (tmp_path / "victims.csv").write_text("victim_id,txn_id\nV1,T1\n", encoding="utf-8")
    for engine in ("auto", "exact"):
        with pytest.raises(InputError) as e:
            L.read_ledger(big, engine=engine)
        assert (e.value.file, e.value.line) == (str(big), 1) and "longer than" in str(e.value)
