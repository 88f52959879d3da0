"""The scam-type model: its size, how long it takes to load, and how fast it reads.

Load time is measured in a fresh interpreter (import of ``fanzha.intake.classify``
plus reading the shipped ``classifier.npz``), the way a server or a CLI call starts;
the target is under a second. Throughput is reported for one text at a time
(``classify``) and for a batch (``classify_many``, what a bulk import calls), over the
held-out corpus texts.

Run: ``python benchmarks/bench_classify.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fanzha.intake.classify import default_classifier

_LOAD = """
import time
t0 = time.perf_counter()
from fanzha.intake.classify import default_classifier
default_classifier().predict("接到自称公安局的电话，说我涉嫌洗钱")
print(time.perf_counter() - t0)
"""


def load_seconds(runs: int = 3) -> float:
    """The best of ``runs`` cold starts, each in its own interpreter."""
    env_path = str(ROOT / "src")
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {env_path!r})\n" + _LOAD],
                             check=True, capture_output=True, text=True)
        times.append(float(out.stdout.strip()))
    return min(times)


def main() -> dict:
    texts = [json.loads(x)["text"] for x in (ROOT / "corpus" / "heldout.jsonl").read_text("utf-8").splitlines()
             if x.strip()]
    size = len(resources.files("fanzha.intake").joinpath("data", "classifier.npz").read_bytes())
    model = default_classifier()
    t0 = time.perf_counter()
    for t in texts:
        model.predict(t)
    single = len(texts) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    model.predict_many(texts)
    batch = len(texts) / (time.perf_counter() - t0)
    result = {
        "model_bytes": size, "features": len(model.index), "texts": len(texts),
        "load_and_first_answer_s": round(load_seconds(), 3), "load_target_s": 1.0,
        "classify_texts_per_s": round(single), "classify_many_texts_per_s": round(batch),
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return result


if __name__ == "__main__":
    main()
