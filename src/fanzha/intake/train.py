"""Train the scam-type classifier from the corpus the repository carries.

``python -m fanzha.intake.train`` (``make model``) reads ``corpus/train.jsonl``, fits
the model, writes ``src/fanzha/intake/data/classifier.npz`` and prints macro-F1 and
the confusion matrix on ``corpus/heldout.jsonl`` — texts written separately from the
training part, in wording the model has never seen, so the figure says how it will do
on new reports rather than how well it remembers its lessons.

Fitting is full-batch softmax regression with Adam and L2, in numpy, over binary
character n-gram features scaled by 1/sqrt(number of features) per text. Training is
deterministic: the same corpus gives the same model file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from fanzha.intake.classify import MODEL_FILE, SCAM_TYPES, Classifier, ngrams, normalise

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_TRAIN = ROOT / "corpus" / "train.jsonl"
DEFAULT_HELDOUT = ROOT / "corpus" / "heldout.jsonl"
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / MODEL_FILE


def read_corpus(path: Path) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row["scam_type"] not in SCAM_TYPES:
                raise SystemExit(f"{path}: line {n}: unknown scam_type {row['scam_type']!r}")
            texts.append(row["text"])
            labels.append(row["scam_type"])
    return texts, labels


def build_vocab(texts: list[str], min_df: int) -> list[str]:
    df: Counter[str] = Counter()
    for t in texts:
        df.update({g for g, _ in ngrams(normalise(t))})
    return sorted(g for g, c in df.items() if c >= min_df)


def featurise(texts: list[str], index: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR parts (row of each entry, column, value) of the binary, length-scaled matrix."""
    rows, cols, vals = [], [], []
    for r, t in enumerate(texts):
        feats = sorted({index[g] for g, _ in ngrams(normalise(t)) if g in index})
        if not feats:
            continue
        v = 1.0 / np.sqrt(len(feats))
        rows.extend([r] * len(feats))
        cols.extend(feats)
        vals.extend([v] * len(feats))
    return np.asarray(rows, np.int64), np.asarray(cols, np.int64), np.asarray(vals, np.float32)


def fit(X: tuple[np.ndarray, np.ndarray, np.ndarray], y: np.ndarray, n_rows: int, n_feats: int,
        n_classes: int, *, epochs: int = 300, lr: float = 0.05, l2: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    rows, cols, vals = X
    W = np.zeros((n_feats, n_classes), np.float32)
    b = np.zeros(n_classes, np.float32)
    mW, vW = np.zeros_like(W), np.zeros_like(W)
    mb, vb = np.zeros_like(b), np.zeros_like(b)
    Y = np.zeros((n_rows, n_classes), np.float32)
    Y[np.arange(n_rows), y] = 1.0
    # class weights: every category counts the same whatever its share of the corpus
    counts = np.bincount(y, minlength=n_classes).astype(np.float32)
    sample_w = (n_rows / (n_classes * counts))[y][:, None]
    b1, b2, eps = 0.9, 0.999, 1e-8
    for step in range(1, epochs + 1):
        logits = np.zeros((n_rows, n_classes), np.float32)
        for c in range(n_classes):
            logits[:, c] = np.bincount(rows, weights=vals * W[cols, c], minlength=n_rows)
        logits += b
        logits -= logits.max(axis=1, keepdims=True)
        P = np.exp(logits)
        P /= P.sum(axis=1, keepdims=True)
        G = (P - Y) * sample_w / n_rows
        gW = np.empty_like(W)
        for c in range(n_classes):
            gW[:, c] = np.bincount(cols, weights=vals * G[rows, c], minlength=n_feats)
        gW += l2 * W
        gb = G.sum(axis=0)
        mW = b1 * mW + (1 - b1) * gW
        vW = b2 * vW + (1 - b2) * gW * gW
        mb = b1 * mb + (1 - b1) * gb
        vb = b2 * vb + (1 - b2) * gb * gb
        corr1, corr2 = 1 - b1 ** step, 1 - b2 ** step
        W -= lr * (mW / corr1) / (np.sqrt(vW / corr2) + eps)
        b -= lr * (mb / corr1) / (np.sqrt(vb / corr2) + eps)
    return W, b


def evaluate(model: Classifier, texts: list[str], labels: list[str]) -> dict[str, object]:
    classes = model.classes
    pos = {c: i for i, c in enumerate(classes)}
    cm = np.zeros((len(classes), len(classes)), np.int64)
    for t, gold in zip(texts, labels):
        idx, _ = model.features(t)
        pred = int(model.scores(idx).argmax())
        cm[pos[gold], pred] += 1
    f1s = {}
    for i, c in enumerate(classes):
        tp = cm[i, i]
        prec = tp / cm[:, i].sum() if cm[:, i].sum() else 0.0
        rec = tp / cm[i, :].sum() if cm[i, :].sum() else 0.0
        f1s[c] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    present = [c for c in classes if cm[pos[c], :].sum()]
    macro = float(np.mean([f1s[c] for c in present]))
    accuracy = float(np.trace(cm) / cm.sum())
    return {"macro_f1": macro, "accuracy": accuracy, "f1": f1s, "confusion": cm, "classes": classes}


def format_confusion(result: dict[str, object]) -> str:
    classes: list[str] = result["classes"]  # type: ignore[assignment]
    cm: np.ndarray = result["confusion"]  # type: ignore[assignment]
    short = [c[:6] for c in classes]
    lines = ["gold \\ predicted".ljust(28) + " ".join(s.rjust(6) for s in short) + "     F1"]
    f1: dict[str, float] = result["f1"]  # type: ignore[assignment]
    for i, c in enumerate(classes):
        lines.append(c.ljust(28) + " ".join(str(v).rjust(6) for v in cm[i]) + f"  {f1[c]:.3f}")
    return "\n".join(lines)


def train(train_path: Path = DEFAULT_TRAIN, *, min_df: int = 2, epochs: int = 300, l2: float = 1e-3) -> Classifier:
    texts, labels = read_corpus(train_path)
    classes = list(SCAM_TYPES)
    vocab = build_vocab(texts, min_df)
    index = {g: i for i, g in enumerate(vocab)}
    y = np.asarray([classes.index(label) for label in labels], np.int64)
    X = featurise(texts, index)
    W, b = fit(X, y, len(texts), len(vocab), len(classes), epochs=epochs, l2=l2)
    # Drop n-grams whose weights all round to nothing: a smaller file, the same answers.
    keep = np.abs(W).max(axis=1) >= 0.02
    vocab = [g for g, k in zip(vocab, keep) if k]
    return Classifier(vocab, W[keep], b, classes)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fanzha.intake.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=Path, default=DEFAULT_TRAIN)
    ap.add_argument("--heldout", type=Path, default=DEFAULT_HELDOUT)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--min-df", type=int, default=2)
    ap.add_argument("--l2", type=float, default=1e-3)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    model = train(args.train, min_df=args.min_df, epochs=args.epochs, l2=args.l2)
    model.save(args.out)
    took = time.perf_counter() - t0
    print(f"trained on {args.train} in {took:.1f}s: {len(model.index):,} n-grams, "
          f"model {args.out.stat().st_size / 1024:.0f} KiB -> {args.out}")
    texts, labels = read_corpus(args.heldout)
    result = evaluate(model, texts, labels)
    print(f"held-out ({args.heldout}, {len(texts)} texts): macro-F1 {result['macro_f1']:.3f}, "
          f"accuracy {result['accuracy']:.3f}")
    # Batch 2 of the held-out part was written last and never used to shape the
    # training corpus: its figure is the least optimistic one.
    batches: dict[int, tuple[list[str], list[str]]] = {}
    for line in args.heldout.read_text("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            bt, bl = batches.setdefault(int(row.get("batch", 1)), ([], []))
            bt.append(row["text"])
            bl.append(row["scam_type"])
    if len(batches) > 1:
        for b in sorted(batches):
            r = evaluate(model, *batches[b])
            print(f"  batch {b} ({len(batches[b][0])} texts): macro-F1 {r['macro_f1']:.3f}, accuracy {r['accuracy']:.3f}")
    print(format_confusion(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
