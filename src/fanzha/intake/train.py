"""Train the scam-type classifier from the corpus the repository carries.

``python -m fanzha.intake.train`` (``make model``) reads ``corpus/train.jsonl``, fits
the model, writes ``src/fanzha/intake/data/classifier.npz`` and prints macro-F1,
accuracy, the weakest classes and the confusion matrix on ``corpus/heldout.jsonl`` —
texts written separately from the training part, in wording the model has never seen —
for each batch of it and overall. The newest batch was written before the current
model and was never used to change it: its figure is the honest one (see
``corpus/README.md``). ``--hide-batch N`` (or ``FANZHA_HIDE_BATCH=N``) leaves a batch
out of everything printed, to keep a new batch sealed while a model is developed.

The model is linear over binary character n-gram features (scaled by 1/sqrt(number
of n-grams) per text) plus lexicon features (see :mod:`fanzha.intake.classify`). Its
weights are the sum of two fits over the same features: softmax regression (full-batch
Adam, L2, balanced class weights, with feature dropout so that every phrase of a text
gets weight, not only the few that separate the corpus best) and naive-Bayes log
ratios of how often each class's texts carry each feature. Two decision settings are
then fitted on the held-out **development batches** (:data:`CALIBRATION_BATCHES`, never
the newest, sealed batch): the softmax temperature that makes ``confidence``
calibrated, and the probability ``not_fraud`` needs to win over fraud signals when it
has no evidence of its own. Training is deterministic (fixed seed):
the same corpus gives the same model file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from fanzha.intake.classify import (
    MODEL_FILE,
    SCAM_TYPES,
    Classifier,
    lexicon_features,
    lexicon_hits,
    ngrams,
    normalise,
)

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_TRAIN = ROOT / "corpus" / "train.jsonl"
DEFAULT_HELDOUT = ROOT / "corpus" / "heldout.jsonl"
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / MODEL_FILE
#: The held-out batches the two decision settings are fitted on: the development
#: batches (read to find what the generator lacked), never the newest, sealed one.
#: Fitting the temperature on them rather than on batch 1 alone makes ``confidence``
#: reflect text in scenarios the corpus lacks, not only text close to it.
CALIBRATION_BATCHES = (1, 2, 3, 4, 5, 6)


def read_corpus(path: Path, *, batch: int | tuple[int, ...] | None = None) -> tuple[list[str], list[str]]:
    """Texts and labels of a corpus file (only those of ``batch`` — one number or
    several — when given; a row without a ``batch`` field is batch 1)."""
    wanted = None if batch is None else ({batch} if isinstance(batch, int) else set(batch))
    texts, labels = [], []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row["scam_type"] not in SCAM_TYPES:
                raise SystemExit(f"{path}: line {n}: unknown scam_type {row['scam_type']!r}")
            if wanted is not None and int(row.get("batch", 1)) not in wanted:
                continue
            texts.append(row["text"])
            labels.append(row["scam_type"])
    return texts, labels


def read_batches(path: Path) -> dict[int, tuple[list[str], list[str]]]:
    batches: dict[int, tuple[list[str], list[str]]] = {}
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            bt, bl = batches.setdefault(int(row.get("batch", 1)), ([], []))
            bt.append(row["text"])
            bl.append(row["scam_type"])
    return dict(sorted(batches.items()))


def text_features(text: str) -> tuple[set[str], list[str]]:
    norm = normalise(text)
    return {g for g, _ in ngrams(norm)}, lexicon_features(lexicon_hits(norm), norm)


def build_vocab(feats: list[tuple[set[str], list[str]]], min_df: int) -> list[str]:
    df: Counter[str] = Counter()
    lex: set[str] = set()
    for grams, lx in feats:
        df.update(grams)
        lex.update(lx)
    return sorted(g for g, c in df.items() if c >= min_df) + sorted(lex)


def featurise(feats: list[tuple[set[str], list[str]]], index: dict[str, int], lex_value: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COO parts (row of each entry, column, value), rows in order."""
    from fanzha.intake.classify import LEX_VALUE
    lex_value = LEX_VALUE if lex_value is None else lex_value
    rows, cols, vals = [], [], []
    for r, (grams, lx) in enumerate(feats):
        g = sorted(index[x] for x in grams if x in index)
        lcols = [index[x] for x in lx if x in index]
        v = 1.0 / np.sqrt(len(g)) if g else 0.0
        rows.extend([r] * (len(g) + len(lcols)))
        cols.extend(g + lcols)
        vals.extend([v] * len(g) + [lex_value] * len(lcols))
    return np.asarray(rows, np.int64), np.asarray(cols, np.int64), np.asarray(vals, np.float32)


def design_matrix(feats: list[tuple[set[str], list[str]]], index: dict[str, int]) -> sp.csr_matrix:
    """The texts × features matrix the model multiplies (values as :func:`featurise` gives them)."""
    rows, cols, vals = featurise(feats, index, None)
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(feats), len(index)), dtype=np.float32)


def fit(X: sp.csr_matrix, y: np.ndarray, n_classes: int, *, epochs: int = 100, lr: float = 0.05,
        l2: float = 1e-4, dropout: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression by full-batch Adam with L2 and balanced class weights.

    ``dropout``: at every step each (text, feature) entry is dropped with this
    probability (the rest scaled up to keep the expectation), so that no text is
    learnt from a few phrases alone and every cue it carries gets weight: a report in
    new words shares only some of its phrases with the corpus."""
    n_rows, n_feats = X.shape
    rng = np.random.default_rng(seed)
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
        A = X
        if dropout:
            A = X.copy()
            A.data *= (rng.random(X.nnz) >= dropout).astype(np.float32) / np.float32(1.0 - dropout)
        logits = A @ W + b
        logits -= logits.max(axis=1, keepdims=True)
        P = np.exp(logits)
        P /= P.sum(axis=1, keepdims=True)
        G = ((P - Y) * sample_w / n_rows).astype(np.float32)
        gW = np.asarray(A.T @ G, dtype=np.float32) + l2 * W
        gb = G.sum(axis=0)
        mW = b1 * mW + (1 - b1) * gW
        vW = b2 * vW + (1 - b2) * gW * gW
        mb = b1 * mb + (1 - b1) * gb
        vb = b2 * vb + (1 - b2) * gb * gb
        corr1, corr2 = 1 - b1 ** step, 1 - b2 ** step
        W -= lr * (mW / corr1) / (np.sqrt(vW / corr2) + eps)
        b -= lr * (mb / corr1) / (np.sqrt(vb / corr2) + eps)
    return W, b


def presence_log_ratios(X: sp.csr_matrix, y: np.ndarray, n_classes: int, *, smoothing: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Naive-Bayes weights: for each feature and class, the log of the (smoothed) share
    of the class's texts that carry the feature, centred over the classes; and each
    feature's document frequency. Unlike the regression, which can rest a class on
    the few phrases that separate it best in the corpus, these count every phrase a
    class uses, each by how typical it is."""
    present = X.copy()
    present.data[:] = 1.0
    onehot = sp.csr_matrix((np.ones(len(y), np.float32), (np.arange(len(y)), y)), shape=(len(y), n_classes))
    counts = np.asarray((present.T @ onehot).todense(), dtype=np.float64)
    docs = np.bincount(y, minlength=n_classes).astype(np.float64)
    logp = np.log((counts + smoothing) / (docs + 2 * smoothing))
    return (logp - logp.mean(axis=1, keepdims=True)).astype(np.float32), counts.sum(axis=1)


def evaluate(model: Classifier, texts: list[str], labels: list[str]) -> dict[str, object]:
    """Macro-F1 (over the classes present), accuracy, per-class F1 and the confusion
    matrix of the model's decisions (``Classifier.predict``'s, not a bare argmax)."""
    classes = model.classes
    pos = {c: i for i, c in enumerate(classes)}
    cm = np.zeros((len(classes), len(classes)), np.int64)
    for t, gold in zip(texts, labels):
        cm[pos[gold], model.predict_index(t)] += 1
    f1s = {}
    for i, c in enumerate(classes):
        tp = cm[i, i]
        prec = tp / cm[:, i].sum() if cm[:, i].sum() else 0.0
        rec = tp / cm[i, :].sum() if cm[i, :].sum() else 0.0
        f1s[c] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    present = [c for c in classes if cm[pos[c], :].sum()]
    macro = float(np.mean([f1s[c] for c in present]))
    accuracy = float(np.trace(cm) / cm.sum())
    return {"macro_f1": macro, "accuracy": accuracy, "f1": f1s, "confusion": cm, "classes": classes, "present": present}


def format_confusion(result: dict[str, object]) -> str:
    classes: list[str] = result["classes"]  # type: ignore[assignment]
    cm: np.ndarray = result["confusion"]  # type: ignore[assignment]
    short = [c[:6] for c in classes]
    lines = ["gold \\ predicted".ljust(28) + " ".join(s.rjust(6) for s in short) + "     F1"]
    f1: dict[str, float] = result["f1"]  # type: ignore[assignment]
    for i, c in enumerate(classes):
        lines.append(c.ljust(28) + " ".join(str(v).rjust(6) for v in cm[i]) + f"  {f1[c]:.3f}")
    return "\n".join(lines)


def summary(name: str, result: dict[str, object], n: int) -> str:
    f1: dict[str, float] = result["f1"]  # type: ignore[assignment]
    weakest = sorted(result["present"], key=lambda c: f1[c])[:3]  # type: ignore[arg-type]
    return (f"{name} ({n} texts): macro-F1 {result['macro_f1']:.3f}, accuracy {result['accuracy']:.3f}; weakest: "
            + ", ".join(f"{c} {f1[c]:.2f}" for c in weakest))


def calibrate(model: Classifier, texts: list[str], labels: list[str]) -> tuple[float, float]:
    """Temperature minimising the negative log-likelihood of the gold labels, and the
    ``not_fraud`` threshold (from a few round values) giving the best macro-F1, on
    ``texts`` (the held-out batches in :data:`CALIBRATION_BATCHES`)."""
    if not texts:
        return 1.0, 0.0
    pos = {c: i for i, c in enumerate(model.classes)}
    L = np.stack([model.scores(model.features(t)[0]) for t in texts])
    gold = np.asarray([pos[c] for c in labels])
    best_t, best_nll = 1.0, np.inf
    for t in np.arange(0.05, 4.01, 0.05):
        z = L / t
        z = z - z.max(axis=1, keepdims=True)
        nll = float(-(z[np.arange(len(gold)), gold] - np.log(np.exp(z).sum(axis=1))).mean())
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    model.temperature = round(best_t, 2)
    best_th, best_f1 = 0.0, -1.0
    for th in (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01):
        model.nf_threshold = th
        f1 = evaluate(model, texts, labels)["macro_f1"]
        if f1 > best_f1 + 1e-9:
            best_th, best_f1 = th, f1
    model.nf_threshold = best_th
    return model.temperature, model.nf_threshold


def expected_calibration_error(model: Classifier, texts: list[str], labels: list[str], bins: int = 10) -> float:
    conf, right = [], []
    for t, gold in zip(texts, labels):
        c = model.predict(t)
        conf.append(c.confidence)
        right.append(c.scam_type == gold)
    conf_a, right_a = np.asarray(conf), np.asarray(right, float)
    ece = 0.0
    for lo in np.linspace(0, 1, bins, endpoint=False):
        m = (conf_a > lo) & (conf_a <= lo + 1 / bins)
        if m.any():
            ece += m.mean() * abs(conf_a[m].mean() - right_a[m].mean())
    return float(ece)


def train(train_path: Path = DEFAULT_TRAIN, *, min_df: int = 3, keep_df: int = 8, epochs: int = 100,
          l2: float = 3e-5, dropout: float = 0.8, nb_weight: float = 0.2, seed: int = 0,
          heldout: Path | None = DEFAULT_HELDOUT) -> Classifier:
    """Fit the model on ``train_path``; ``min_df``: the least number of texts an n-gram
    must appear in to be a feature while fitting, ``keep_df``: to be kept in the model
    file; ``nb_weight``: the share of the naive-Bayes weights added to the regression's."""
    texts, labels = read_corpus(train_path)
    classes = list(SCAM_TYPES)
    feats = [text_features(t) for t in texts]
    vocab = build_vocab(feats, min_df)
    index = {g: i for i, g in enumerate(vocab)}
    y = np.asarray([classes.index(label) for label in labels], np.int64)
    X = design_matrix(feats, index)
    W, b = fit(X, y, len(classes), epochs=epochs, l2=l2, dropout=dropout, seed=seed)
    nb, df = presence_log_ratios(X, y, len(classes))
    W = W + nb_weight * nb
    # Rare n-grams go (a smaller file, hardly other answers); lexicon features stay.
    keep = (df >= keep_df) | np.asarray([g.startswith("§") for g in vocab])
    model = Classifier([g for g, k in zip(vocab, keep) if k], W[keep], b, classes)
    if heldout is not None and heldout.exists():
        calibrate(model, *read_corpus(heldout, batch=CALIBRATION_BATCHES))
    return model


def _hidden_from_env() -> list[int]:
    raw = os.environ.get("FANZHA_HIDE_BATCH", "")
    try:
        return [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"FANZHA_HIDE_BATCH: expected comma-separated batch numbers, got {raw!r}") from None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fanzha.intake.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=Path, default=DEFAULT_TRAIN)
    ap.add_argument("--heldout", type=Path, default=DEFAULT_HELDOUT)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--min-df", type=int, default=3)
    ap.add_argument("--l2", type=float, default=3e-5)
    ap.add_argument("--dropout", type=float, default=0.8)
    ap.add_argument("--nb-weight", type=float, default=0.2)
    ap.add_argument("--keep-df", type=int, default=8)
    ap.add_argument("--hide-batch", type=int, action="append", default=_hidden_from_env(),
                    help="leave this held-out batch out of everything printed (repeatable; default from "
                         "FANZHA_HIDE_BATCH, comma-separated): a batch kept sealed while the model is developed")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    model = train(args.train, min_df=args.min_df, keep_df=args.keep_df, epochs=args.epochs, l2=args.l2,
                  dropout=args.dropout, nb_weight=args.nb_weight, heldout=args.heldout)
    model.save(args.out)
    took = time.perf_counter() - t0
    print(f"trained on {args.train} in {took:.1f}s: {len(model.index):,} features, "
          f"model {args.out.stat().st_size / 1024:.0f} KiB -> {args.out}")
    print(f"decision settings (fitted on held-out batches {', '.join(map(str, CALIBRATION_BATCHES))}): "
          f"temperature {model.temperature:.2f}, "
          f"not_fraud threshold {model.nf_threshold:.2f}")
    batches = {b: v for b, v in read_batches(args.heldout).items() if b not in set(args.hide_batch)}
    if args.hide_batch:
        print(f"held-out batches hidden: {', '.join(map(str, sorted(set(args.hide_batch))))}")
    all_texts = [t for bt, _ in batches.values() for t in bt]
    all_labels = [lab for _, bl in batches.values() for lab in bl]
    for b, (bt, bl) in batches.items():
        r = evaluate(model, bt, bl)
        note = {1: "a development set", 2: "a development set", 3: "written before an earlier model; a development set",
                4: "written before an earlier model; a development set",
                5: "an earlier model's honest figure; a development set since",
                6: "the previous model's honest figure; a development set since",
                7: "written before this model; the honest figure"}.get(b, "")
        if b in CALIBRATION_BATCHES:
            note += "; fits the decision settings"
        print(summary(f"held-out batch {b}" + (f" [{note}]" if note else ""), r, len(bt)))
    overall = evaluate(model, all_texts, all_labels)
    print(summary(f"held-out overall ({args.heldout})", overall, len(all_texts)))
    last = max(batches)
    print(f"expected calibration error of confidence on batch {last}: "
          f"{expected_calibration_error(model, *batches[last]):.3f}")
    for b in sorted(batches, reverse=True)[:1]:
        print(f"\nconfusion, held-out batch {b}:")
        print(format_confusion(evaluate(model, *batches[b])))
    print("\nconfusion, held-out overall:")
    print(format_confusion(overall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
