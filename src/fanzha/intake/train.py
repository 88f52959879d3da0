"""Train the scam-type classifier from the corpus the repository carries.

``python -m fanzha.intake.train`` (``make model``) fits the model on the generated
corpus ``corpus/train.jsonl`` **and** the hand-written development batches of
``corpus/heldout.jsonl`` (:data:`TRAINED_BATCHES`, each hand-written text counting as
``--hw-weight`` generated ones), writes ``src/fanzha/intake/data/classifier.npz`` and
prints macro-F1, accuracy, the weakest classes and the confusion matrix per held-out
batch. The hand-written texts are the closest thing to real messages the project has;
the generated corpus gives every type its breadth of wording. A batch newer than
:data:`TRAINED_BATCHES` (the newest one, written separately and sealed) is never
trained on nor used for any setting: its figure is the honest one (see
``corpus/README.md``); the figures of the batches trained on are not tests of anything.
``--hide-batch N`` (or ``FANZHA_HIDE_BATCH=N``) leaves a batch out of everything —
training, settings and what is printed — to keep a new batch sealed while a model is
developed.

``--lobo`` estimates how the procedure generalises to hand-written text it has not
seen, without touching the model file: for each batch k of ``--lobo-batches`` (3–7),
the whole procedure (fit and decision settings) is run on the generated corpus and the
other development batches, and batch k is scored; the mean macro-F1 over those batches
is printed beside the same figure for the generated corpus alone (``--hw-weight 0``,
the baseline).

The model is linear over binary character n-gram features (scaled by 1/sqrt(number
of n-grams) per text) plus lexicon features (see :mod:`fanzha.intake.classify`). Its
weights are the sum of two fits over the same features: softmax regression (full-batch
Adam, L2, balanced class weights, with feature dropout so that every phrase of a text
gets weight, not only the few that separate the corpus best) and naive-Bayes log
ratios of how often each class's texts carry each feature. Two decision settings are
then fitted: the softmax temperature that makes ``confidence`` calibrated, and the
probability ``not_fraud`` needs to win over fraud signals when it has no evidence of its
own. They are fitted on hand-written text the model scoring it was not trained on:
with ``--cv-folds`` folds over the hand-written training batches (each fold's batches
scored by a model fitted without them), never on text the scoring model learnt from;
with no hand-written training text, on the development batches directly. Training is
deterministic (fixed seed): the same corpus gives the same model file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from fanzha.intake.classify import (
    LEX_VALUE,
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
#: The hand-written batches the model is trained on (development batches: read to find
#: what the generator lacked, so no longer tests). A batch numbered higher is sealed: it
#: is never trained on nor used for a setting, and the newest one gives the honest figure.
TRAINED_BATCHES = (1, 2, 3, 4, 5, 6, 7)
#: The batches ``--lobo`` scores, each left out in turn (batches 1 and 2 are small and
#: were the first ones read against the generator; they are always trained on).
LOBO_BATCHES = (3, 4, 5, 6, 7)
#: How many generated texts one hand-written text counts as (chosen by ``--lobo``).
HW_WEIGHT = 8.0


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


class Pool:
    """Every text training may use — the generated corpus (batch 0) and hand-written
    batches — featurised once: a texts × features presence matrix over every n-gram and
    lexicon feature any of them carries (columns in sorted order, so that the same texts
    always give the same matrix). Each fit picks its rows and columns from it."""

    def __init__(self, texts: list[str], labels: list[str], batch: Sequence[int]):
        self.texts = list(texts)
        self.labels = list(labels)
        self.batch = np.asarray(batch, np.int64)
        classes = list(SCAM_TYPES)
        self.y = np.asarray([classes.index(lab) for lab in labels], np.int64)
        feats = [text_features(t) for t in self.texts]
        names = sorted(set().union(*(g.union(lx) for g, lx in feats))) if feats else []
        col = {g: i for i, g in enumerate(names)}
        indptr, indices = [0], []
        for grams, lx in feats:
            ids = sorted({col[g] for g in grams}.union(col[x] for x in lx))
            indices.extend(ids)
            indptr.append(len(indices))
        self.names = names
        self.is_lex = np.asarray([g.startswith("§") for g in names], bool)
        self.presence = sp.csr_matrix((np.ones(len(indices), np.float32), np.asarray(indices, np.int64),
                                       np.asarray(indptr, np.int64)), shape=(len(feats), len(names)))

    @classmethod
    def from_files(cls, train_path: Path | None, heldout: Path | None, batches: Sequence[int] = ()) -> Pool:
        """The generated corpus (``train_path``, none when None) and the given batches of ``heldout``."""
        texts, labels, batch = [], [], []
        if train_path is not None:
            texts, labels = read_corpus(train_path)
            batch = [0] * len(texts)
        if batches and heldout is not None and heldout.exists():
            for b, (bt, bl) in read_batches(heldout).items():
                if b in set(batches):
                    texts += bt
                    labels += bl
                    batch += [b] * len(bt)
        return cls(texts, labels, batch)

    def rows(self, hw_batches: Sequence[int]) -> np.ndarray:
        """The rows of the generated corpus and of ``hw_batches``."""
        return np.flatnonzero((self.batch == 0) | np.isin(self.batch, list(hw_batches)))

    def design(self, rows: np.ndarray, min_df: int) -> tuple[sp.csr_matrix, list[str]]:
        """The matrix the model multiplies for ``rows`` (values as
        :meth:`Classifier.values` gives them) over the n-grams in at least ``min_df`` of
        those rows and every lexicon feature they fire, and those features' names."""
        P = self.presence[rows]
        df = np.asarray(P.sum(axis=0)).ravel()
        keep = np.flatnonzero(np.where(self.is_lex, df >= 1, df >= min_df))
        X = P[:, keep].tocsr()
        lex = self.is_lex[keep][X.indices]
        grams_before = np.r_[0, np.cumsum(~lex)]
        n_grams = grams_before[X.indptr[1:]] - grams_before[X.indptr[:-1]]
        per_row = np.where(n_grams > 0, 1.0 / np.sqrt(np.maximum(n_grams, 1)), 0.0).astype(np.float32)
        X.data = np.where(lex, np.float32(LEX_VALUE), np.repeat(per_row, np.diff(X.indptr))).astype(np.float32)
        return X, [self.names[i] for i in keep]


def fit(X: sp.csr_matrix, y: np.ndarray, n_classes: int, *, sample_weight: np.ndarray | None = None,
        epochs: int = 100, lr: float = 0.05, l2: float = 1e-4, dropout: float = 0.0,
        seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression by full-batch Adam with L2 and balanced class weights.

    ``sample_weight``: how much each text counts (every class still weighs the same in
    total). ``dropout``: at every step each (text, feature) entry is dropped with this
    probability (the rest scaled up to keep the expectation), so that no text is
    learnt from a few phrases alone and every cue it carries gets weight: a report in
    new words shares only some of its phrases with the corpus."""
    X = X.tocsr().astype(np.float32)
    n_rows, n_feats = X.shape
    rng = np.random.default_rng(seed)
    W = np.zeros((n_feats, n_classes), np.float32)
    b = np.zeros(n_classes, np.float32)
    mW, vW = np.zeros_like(W), np.zeros_like(W)
    mb, vb = np.zeros_like(b), np.zeros_like(b)
    Y = np.zeros((n_rows, n_classes), np.float32)
    Y[np.arange(n_rows), y] = 1.0
    # class weights: every category counts the same whatever its share of the corpus
    rw = np.ones(n_rows, np.float64) if sample_weight is None else np.asarray(sample_weight, np.float64)
    counts = np.bincount(y, weights=rw, minlength=n_classes)
    present = counts > 0
    cw = np.zeros(n_classes)
    cw[present] = 1.0 / (present.sum() * counts[present])
    sample_w = (rw * cw[y]).astype(np.float32)[:, None]
    # the transpose as a matrix of its own (multiplying by it is several times faster),
    # with where each of its entries sits in X, so one dropout mask serves both
    order = sp.csr_matrix((np.arange(1, X.nnz + 1, dtype=np.float64), X.indices, X.indptr), shape=X.shape).T.tocsr()
    perm = order.data.astype(np.int64) - 1
    XT = sp.csr_matrix((X.data[perm], order.indices, order.indptr), shape=(n_feats, n_rows))
    A, AT = X.copy(), XT.copy()
    b1, b2, eps = 0.9, 0.999, 1e-8
    for step in range(1, epochs + 1):
        if dropout:
            keep = (rng.random(X.nnz, dtype=np.float32) >= dropout).astype(np.float32) / np.float32(1.0 - dropout)
            A.data = X.data * keep
            AT.data = XT.data * keep[perm]
        logits = A @ W + b
        logits -= logits.max(axis=1, keepdims=True)
        P = np.exp(logits)
        P /= P.sum(axis=1, keepdims=True)
        G = ((P - Y) * sample_w).astype(np.float32)
        gW = np.asarray(AT @ G, dtype=np.float32) + l2 * W
        gb = G.sum(axis=0)
        mW *= b1
        mW += (1 - b1) * gW
        vW *= b2
        vW += (1 - b2) * gW * gW
        mb = b1 * mb + (1 - b1) * gb
        vb = b2 * vb + (1 - b2) * gb * gb
        corr1, corr2 = 1 - b1 ** step, 1 - b2 ** step
        W -= (lr / corr1) * mW / (np.sqrt(vW / corr2) + eps)
        b -= lr * (mb / corr1) / (np.sqrt(vb / corr2) + eps)
    return W, b


def presence_log_ratios(X: sp.csr_matrix, y: np.ndarray, n_classes: int, *, smoothing: float = 1.0,
                        sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Naive-Bayes weights: for each feature and class, the log of the (smoothed) share
    of the class's texts that carry the feature (texts counted by ``sample_weight``),
    centred over the classes; and each feature's document frequency (texts counted
    once). Unlike the regression, which can rest a class on the few phrases that
    separate it best in the corpus, these count every phrase a class uses, each by how
    typical it is."""
    present = X.copy()
    present.data[:] = 1.0
    rw = np.ones(len(y), np.float32) if sample_weight is None else np.asarray(sample_weight, np.float32)
    onehot = sp.csr_matrix((rw, (np.arange(len(y)), y)), shape=(len(y), n_classes))
    counts = np.asarray((present.T @ onehot).todense(), dtype=np.float64)
    docs = np.bincount(y, weights=rw, minlength=n_classes).astype(np.float64)
    logp = np.log((counts + smoothing) / (docs + 2 * smoothing))
    df = np.asarray(present.sum(axis=0)).ravel()
    return (logp - logp.mean(axis=1, keepdims=True)).astype(np.float32), df


def _f1_scores(cm: np.ndarray) -> np.ndarray:
    tp = np.diag(cm).astype(np.float64)
    pred, gold = cm.sum(axis=0), cm.sum(axis=1)
    prec = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    rec = np.divide(tp, gold, out=np.zeros_like(tp), where=gold > 0)
    return np.divide(2 * prec * rec, prec + rec, out=np.zeros_like(tp), where=prec + rec > 0)


def _confusion(gold: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    return np.bincount(gold * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _macro_f1(cm: np.ndarray) -> float:
    present = cm.sum(axis=1) > 0
    return float(_f1_scores(cm)[present].mean())


def evaluate(model: Classifier, texts: list[str], labels: list[str]) -> dict[str, object]:
    """Macro-F1 (over the classes present), accuracy, per-class F1 and the confusion
    matrix of the model's decisions (``Classifier.predict``'s, not a bare argmax)."""
    classes = model.classes
    pos = {c: i for i, c in enumerate(classes)}
    gold = np.asarray([pos[c] for c in labels], np.int64)
    pred = np.asarray([model.predict_index(t) for t in texts], np.int64)
    cm = _confusion(gold, pred, len(classes))
    f1s = dict(zip(classes, _f1_scores(cm).tolist()))
    present = [c for c in classes if cm[pos[c], :].sum()]
    accuracy = float(np.trace(cm) / cm.sum())
    return {"macro_f1": _macro_f1(cm), "accuracy": accuracy, "f1": f1s, "confusion": cm, "classes": classes, "present": present}


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


@dataclass
class Scored:
    """Texts as one model saw them: logits, lexicon hits (what :meth:`Classifier.decide`
    needs besides probabilities) and the gold class indices."""

    logits: np.ndarray
    hits: list[dict[str, list[tuple[int, int]]]]
    gold: np.ndarray

    @classmethod
    def of(cls, model: Classifier, texts: list[str], labels: list[str]) -> Scored:
        pos = {c: i for i, c in enumerate(model.classes)}
        parts = [model._features(t) for t in texts]
        logits = np.stack([model.scores(idx) for idx, _, _ in parts]) if parts else np.zeros((0, len(model.classes)))
        return cls(logits, [hits for _, _, hits in parts], np.asarray([pos[c] for c in labels], np.int64))

    @classmethod
    def join(cls, parts: list[Scored]) -> Scored:
        parts = [p for p in parts if len(p.gold)]
        if not parts:
            return cls(np.zeros((0, len(SCAM_TYPES))), [], np.zeros(0, np.int64))
        return cls(np.concatenate([p.logits for p in parts]), [h for p in parts for h in p.hits],
                   np.concatenate([p.gold for p in parts]))

    def decisions(self, model: Classifier) -> np.ndarray:
        probs = model.probabilities(self.logits)
        return np.asarray([model.decide(p, h) for p, h in zip(probs, self.hits)], np.int64)


def fit_settings(model: Classifier, scored: Scored) -> tuple[float, float]:
    """Set the model's temperature (minimising the negative log-likelihood of the gold
    labels) and ``not_fraud`` threshold (from a few round values, the best macro-F1) on
    ``scored``: hand-written texts as scored by models not trained on them."""
    if not len(scored.gold):
        model.temperature, model.nf_threshold = 1.0, 0.0
        return 1.0, 0.0
    L, gold = scored.logits, scored.gold
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
        f1 = _macro_f1(_confusion(gold, scored.decisions(model), len(model.classes)))
        if f1 > best_f1 + 1e-9:
            best_th, best_f1 = th, f1
    model.nf_threshold = best_th
    return model.temperature, model.nf_threshold


def calibrate(model: Classifier, texts: list[str], labels: list[str]) -> tuple[float, float]:
    """:func:`fit_settings` on ``texts`` as ``model`` scores them (texts it was not trained on)."""
    return fit_settings(model, Scored.of(model, texts, labels))


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


@dataclass(frozen=True)
class Params:
    """How a model is fitted. ``min_df``: the least number of training texts an n-gram
    must appear in to be a feature while fitting, ``keep_df``: to be kept in the model
    file; ``nb_weight``: the share of the naive-Bayes weights added to the regression's;
    ``hw_weight``: how many generated texts a hand-written one counts as (0: hand-written
    text is not trained on); ``cv_folds``: the folds over the hand-written training
    batches that the decision settings are fitted by."""

    min_df: int = 3
    keep_df: int = 8
    epochs: int = 100
    l2: float = 3e-5
    dropout: float = 0.8
    nb_weight: float = 0.2
    hw_weight: float = HW_WEIGHT
    cv_folds: int = 2
    seed: int = 0


def fit_model(pool: Pool, hw_batches: Sequence[int], params: Params, *, cache: dict | None = None) -> Classifier:
    """A model (decision settings not yet fitted) on the generated part of ``pool`` and,
    when ``params.hw_weight`` is above 0, its ``hw_batches``. ``cache``: fits already made
    (the same training texts give the same fit), kept by what they were trained on."""
    hw = sorted(hw_batches) if params.hw_weight > 0 else []
    key = (tuple(hw), params)
    if cache is not None and key in cache:
        vocab, W, b = cache[key]
        return Classifier(vocab, W, b, list(SCAM_TYPES))
    rows = pool.rows(hw)
    classes = list(SCAM_TYPES)
    X, vocab = pool.design(rows, params.min_df)
    y = pool.y[rows]
    rw = np.where(pool.batch[rows] == 0, 1.0, params.hw_weight)
    W, b = fit(X, y, len(classes), sample_weight=rw, epochs=params.epochs, l2=params.l2,
               dropout=params.dropout, seed=params.seed)
    nb, df = presence_log_ratios(X, y, len(classes), sample_weight=rw)
    W = W + params.nb_weight * nb
    # Rare n-grams go (a smaller file, hardly other answers); lexicon features stay.
    keep = (df >= params.keep_df) | np.asarray([g.startswith("§") for g in vocab])
    vocab, W = [g for g, k in zip(vocab, keep) if k], W[keep]
    if cache is not None:
        cache[key] = (vocab, W, b)
    return Classifier(vocab, W, b, classes)


def _batch_part(pool: Pool, batches: Sequence[int]) -> tuple[list[str], list[str]]:
    rows = np.flatnonzero(np.isin(pool.batch, list(batches)))
    return [pool.texts[i] for i in rows], [pool.labels[i] for i in rows]


def cv_folds(batches: Sequence[int], n_folds: int) -> list[list[int]]:
    """``batches`` dealt into ``n_folds`` folds in turn (1, 3, 5… and 2, 4, 6… for two)."""
    batches = sorted(batches)
    n = max(1, min(n_folds, len(batches)))
    return [f for f in (batches[i::n] for i in range(n)) if f]


def train_on(pool: Pool, hw_batches: Sequence[int], params: Params, *, log=None,
             cache: dict | None = None) -> Classifier:
    """The whole procedure: a model fitted on the generated corpus and ``hw_batches``, its
    decision settings fitted on hand-written text scored by models not trained on it —
    with hand-written training text, each fold of :func:`cv_folds` scored by a model
    fitted on the generated corpus and the other folds; without, ``hw_batches``
    scored by the model itself."""
    hw_batches = sorted(hw_batches)
    model = fit_model(pool, hw_batches, params, cache=cache)
    if params.hw_weight > 0 and len(hw_batches) > 1:
        scored = []
        for fold in cv_folds(hw_batches, params.cv_folds):
            inner = fit_model(pool, [b for b in hw_batches if b not in fold], params, cache=cache)
            scored.append(Scored.of(inner, *_batch_part(pool, fold)))
            if log:
                log(f"  settings fold {fold}: scored by a model fitted without it")
        fit_settings(model, Scored.join(scored))
    elif params.hw_weight > 0:
        fit_settings(model, Scored.join([]))  # one batch: nothing it was not trained on
    else:
        fit_settings(model, Scored.of(model, *_batch_part(pool, hw_batches)))
    return model


def train(train_path: Path = DEFAULT_TRAIN, *, heldout: Path | None = DEFAULT_HELDOUT,
          hw_batches: Sequence[int] = TRAINED_BATCHES, params: Params = Params(), log=None) -> Classifier:
    """Fit the model on ``train_path`` and the ``hw_batches`` of ``heldout`` (see
    :func:`train_on`)."""
    pool = Pool.from_files(train_path, heldout, hw_batches)
    present = sorted(set(pool.batch.tolist()) - {0})
    return train_on(pool, present, params, log=log)


def lobo(pool: Pool, batches: Sequence[int], params: Params, *, log=None) -> dict[int, dict[str, object]]:
    """Leave-one-batch-out: for each batch k of ``batches``, :func:`train_on` the generated
    corpus and every other hand-written batch of ``pool``, then :func:`evaluate` batch k."""
    hw_all = sorted(set(pool.batch.tolist()) - {0})
    out: dict[int, dict[str, object]] = {}
    cache: dict = {}
    for k in batches:
        t0 = time.perf_counter()
        model = train_on(pool, [b for b in hw_all if b != k], params, cache=cache)
        out[k] = evaluate(model, *_batch_part(pool, [k]))
        if log:
            log(f"  batch {k} left out: macro-F1 {out[k]['macro_f1']:.3f} ({time.perf_counter() - t0:.0f}s)")
    return out


def _hidden_from_env() -> list[int]:
    raw = os.environ.get("FANZHA_HIDE_BATCH", "")
    try:
        return [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"FANZHA_HIDE_BATCH: expected comma-separated batch numbers, got {raw!r}") from None


def _print_lobo(params: Params, pool: Pool, batches: list[int]) -> None:
    configs = [("generated corpus only", Params(**{**params.__dict__, "hw_weight": 0.0}))]
    if params.hw_weight > 0:
        configs.append((f"+ hand-written batches x{params.hw_weight:g}", params))
    results = {}
    for name, p in configs:
        print(f"leave-one-batch-out, {name}:", flush=True)
        results[name] = lobo(pool, batches, p, log=lambda s: print(s, flush=True))
    print("\nmacro-F1 of each batch when left out (" + ", ".join(f"{k}" for k in batches) + "):")
    print("training".ljust(36) + "".join(f"batch {k}".rjust(9) for k in batches) + "     mean")
    for name, res in results.items():
        f1 = [res[k]["macro_f1"] for k in batches]
        print(name.ljust(36) + "".join(f"{v:9.3f}" for v in f1) + f"{np.mean(f1):9.3f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fanzha.intake.train", description=__doc__.split("\n\n")[0])
    d = Params()
    ap.add_argument("--train", type=Path, default=DEFAULT_TRAIN)
    ap.add_argument("--heldout", type=Path, default=DEFAULT_HELDOUT)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--epochs", type=int, default=d.epochs)
    ap.add_argument("--min-df", type=int, default=d.min_df)
    ap.add_argument("--l2", type=float, default=d.l2)
    ap.add_argument("--dropout", type=float, default=d.dropout)
    ap.add_argument("--nb-weight", type=float, default=d.nb_weight)
    ap.add_argument("--keep-df", type=int, default=d.keep_df)
    ap.add_argument("--hw-weight", type=float, default=d.hw_weight,
                    help="how many generated texts one hand-written training text counts as (0: none trained on)")
    ap.add_argument("--cv-folds", type=int, default=d.cv_folds,
                    help="folds over the hand-written training batches that fit the decision settings")
    ap.add_argument("--hide-batch", type=int, action="append", default=_hidden_from_env(),
                    help="leave this held-out batch out of everything, training included (repeatable; default "
                         "from FANZHA_HIDE_BATCH, comma-separated): a batch kept sealed while the model is developed")
    ap.add_argument("--lobo", action="store_true",
                    help="estimate generalisation by leave-one-batch-out (baseline: generated corpus only) "
                         "instead of writing the model")
    ap.add_argument("--lobo-batches", type=lambda s: [int(x) for x in s.split(",")], default=list(LOBO_BATCHES),
                    help="the batches --lobo leaves out in turn (comma-separated)")
    args = ap.parse_args(argv)
    params = Params(min_df=args.min_df, keep_df=args.keep_df, epochs=args.epochs, l2=args.l2, dropout=args.dropout,
                    nb_weight=args.nb_weight, hw_weight=args.hw_weight, cv_folds=args.cv_folds)
    hidden = set(args.hide_batch)
    batches = {b: v for b, v in (read_batches(args.heldout).items() if args.heldout.exists() else [])
               if b not in hidden}
    if hidden:
        print(f"held-out batches hidden: {', '.join(map(str, sorted(hidden)))}")
    trained = [b for b in TRAINED_BATCHES if b in batches]
    sealed = [b for b in batches if b not in TRAINED_BATCHES]
    t0 = time.perf_counter()
    if args.lobo:
        pool = Pool.from_files(args.train, args.heldout, trained)
        left_out = [k for k in args.lobo_batches if k in trained]
        _print_lobo(params, pool, left_out)
        print(f"\n({time.perf_counter() - t0:.0f}s)")
        return 0
    model = train(args.train, heldout=args.heldout, hw_batches=trained, params=params,
                  log=lambda s: print(s, flush=True))
    model.save(args.out)
    took = time.perf_counter() - t0
    print(f"trained on {args.train} and held-out batches {', '.join(map(str, trained)) or 'none'} "
          f"(each text x{params.hw_weight:g}) in {took:.1f}s: {len(model.index):,} features, "
          f"model {args.out.stat().st_size / 1024:.0f} KiB -> {args.out}")
    how = (f"by {params.cv_folds}-fold cross-validation over batches {', '.join(map(str, trained))}"
           if params.hw_weight > 0 and len(trained) > 1 else f"on batches {', '.join(map(str, trained))}")
    print(f"decision settings (fitted {how}): temperature {model.temperature:.2f}, "
          f"not_fraud threshold {model.nf_threshold:.2f}")
    if not batches:
        return 0
    for b, (bt, bl) in batches.items():
        note = ("trained on: not a test" if b in trained and params.hw_weight > 0 else
                "fits the decision settings" if b in trained else
                "the newest batch, written before this model: the honest figure" if b == max(sealed) else
                "not trained on")
        print(summary(f"held-out batch {b} [{note}]", evaluate(model, bt, bl), len(bt)))
    if sealed:
        newest = max(sealed)
        print(f"expected calibration error of confidence on batch {newest}: "
              f"{expected_calibration_error(model, *batches[newest]):.3f}")
        print(f"\nconfusion, held-out batch {newest}:")
        print(format_confusion(evaluate(model, *batches[newest])))
    else:
        print("no sealed batch yet (every batch present is trained on): figures of generalisation come from --lobo")
    return 0


if __name__ == "__main__":
    sys.exit(main())
