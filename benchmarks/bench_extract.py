"""Extraction and classification throughput, against what a user would otherwise write.

The baseline is the handful of plain regular expressions an analyst writes in an
afternoon (11-digit mobiles, 16–19 digit runs, ``http…`` URLs, ``QQ`` + digits,
digits + 元). It is fast and wrong in the ways that matter — it misses spaced numbers,
foreign numbers, written-out URLs and Chinese-numeral amounts, and it calls ID numbers
and order numbers cards — so both speed and quality on the labelled set are reported.

Run: ``python -m benchmarks.bench_extract`` (or ``python benchmarks/bench_extract.py``).
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fanzha.intake.classify import default_classifier  # noqa: E402
from fanzha.intake.extract import extract  # noqa: E402

GOLD = ROOT / "tests" / "intake" / "data" / "extract_gold.jsonl"
FIELDS = ("phones", "bank_cards", "urls", "qq", "amounts", "id_numbers")

_NAIVE = {
    "phones": re.compile(r"1[3-9]\d{9}"),
    "bank_cards": re.compile(r"\d{16,19}"),
    "urls": re.compile(r"https?://[^\s，。]+"),
    "qq": re.compile(r"QQ[:：]?\s*(\d{5,11})", re.I),
    "amounts": re.compile(r"(\d+(?:\.\d+)?)元"),
    "id_numbers": re.compile(r"\d{17}[\dXx]"),
}


def naive_extract(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for field, rx in _NAIVE.items():
        vals = rx.findall(text)
        if field == "phones":
            vals = ["+86" + v for v in vals]
        elif field == "amounts":
            vals = [f"{float(v):.2f}" for v in vals]
        out[field] = vals
    return out


def quality(fn, rows: list[dict]) -> dict[str, dict[str, float]]:
    res = {}
    for field in FIELDS:
        tp = fp = fn_ = 0
        for row in rows:
            want, have = set(row[field]), set(fn(row["text"])[field])
            tp += len(want & have)
            fp += len(have - want)
            fn_ += len(want - have)
        res[field] = {"precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
                      "recall": round(tp / (tp + fn_), 3) if tp + fn_ else 1.0}
    return res


def rate(fn, texts: list[str], min_seconds: float = 1.5) -> float:
    n, t0 = 0, time.perf_counter()
    while True:
        for t in texts:
            fn(t)
        n += len(texts)
        took = time.perf_counter() - t0
        if took >= min_seconds:
            return n / took


def main() -> dict:
    rows = [json.loads(x) for x in GOLD.read_text("utf-8").splitlines() if x.strip()]
    corpus = [json.loads(x)["text"] for x in (ROOT / "corpus" / "heldout.jsonl").read_text("utf-8").splitlines()]
    texts = [r["text"] for r in rows] + corpus
    avg_len = sum(map(len, texts)) / len(texts)
    ours = rate(lambda t: extract(t), texts)
    naive = rate(naive_extract, texts)
    model = default_classifier()
    cls = rate(model.predict, texts)
    n, t0 = 0, time.perf_counter()
    while (took := time.perf_counter() - t0) < 1.5:  # in batches of 64, as a bulk import reads
        for i in range(0, len(texts), 64):
            model.predict_many(texts[i:i + 64])
        n += len(texts)
    cls_batch = n / took
    result = {
        "reports": len(texts), "avg_chars": round(avg_len),
        "extract_reports_per_s": round(ours), "naive_regex_reports_per_s": round(naive),
        "speed_ratio_vs_naive": round(ours / naive, 3),
        "classify_reports_per_s": round(cls), "classify_many_reports_per_s": round(cls_batch),
        "quality_fanzha": quality(lambda t: extract(t).as_dict(), rows),
        "quality_naive": quality(naive_extract, rows),
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return result


if __name__ == "__main__":
    main()
