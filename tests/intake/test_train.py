"""Training options: hand-written batches in training, leave-one-batch-out, sealed batches (on a tiny corpus)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fanzha.intake import train as T
from fanzha.intake.classify import SCAM_TYPES, Classifier

ROOT = Path(__file__).resolve().parents[2]
FAST = T.Params(epochs=5, min_df=1, keep_df=1, cv_folds=2, hw_weight=4.0)


def _rows(n_per_class: int, skip: int) -> list[dict[str, str]]:
    """``n_per_class`` texts of each type from the generated corpus, after the first ``skip`` of each."""
    seen: dict[str, int] = {c: 0 for c in SCAM_TYPES}
    out = []
    with (ROOT / "corpus" / "train.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            k = seen[row["scam_type"]]
            seen[row["scam_type"]] = k + 1
            if skip <= k < skip + n_per_class:
                out.append(row)
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    """A generated part (6 texts a type) and hand-written batches 1-4 and a sealed batch 8 (1-2 a type each)."""
    d = tmp_path_factory.mktemp("tiny")
    gen = d / "train.jsonl"
    gen.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _rows(6, 0)), "utf-8")
    held = []
    for i, b in enumerate((1, 2, 3, 4, 8)):
        for r in _rows(1 if b != 8 else 2, 6 + 2 * i):
            held.append({**r, "batch": b} if b != 1 else r)  # batch 1 rows carry no batch field
    ho = d / "heldout.jsonl"
    ho.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in held), "utf-8")
    return gen, ho


def test_sample_weight_counts_like_repeating_a_text() -> None:
    """A text of weight 3 is fitted as if it were there three times (up to rounding: with balanced classes the
    bias's gradient is zero but for rounding, which Adam's per-coordinate scaling magnifies a little)."""
    import scipy.sparse as sp
    rng = np.random.default_rng(0)
    X = sp.csr_matrix(rng.random((12, 7)).astype(np.float32) * (rng.random((12, 7)) < 0.5))
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    w = np.ones(12)
    w[0] = 3.0
    Xr = sp.vstack([X, X[0], X[0]]).tocsr()
    yr = np.r_[y, y[0], y[0]]
    W1, _ = T.fit(X, y, 3, sample_weight=w, epochs=20, l2=0.0)
    W2, _ = T.fit(Xr, yr, 3, epochs=20, l2=0.0)
    W0, _ = T.fit(X, y, 3, epochs=20, l2=0.0)
    assert np.abs(W1 - W2).max() < 0.05 < np.abs(W1 - W0).max()
    nb1, df1 = T.presence_log_ratios(X, y, 3, sample_weight=w)
    nb2, _ = T.presence_log_ratios(Xr, yr, 3)
    assert np.allclose(nb1, nb2, atol=1e-6) and df1.max() <= 12


def test_pool_design_gives_the_values_the_model_uses(tiny) -> None:
    gen, _ = tiny
    pool = T.Pool.from_files(gen, None)
    X, vocab = pool.design(np.arange(len(pool.texts)), 1)
    model = Classifier(vocab, np.zeros((len(vocab), len(SCAM_TYPES)), np.float32), np.zeros(len(SCAM_TYPES)), list(SCAM_TYPES))
    for r in (0, 5, 17):
        idx, _ = model.features(pool.texts[r])
        row = X.getrow(r)
        assert sorted(idx.tolist()) == sorted(row.indices.tolist())
        assert np.allclose(model.values(idx), [row[0, i] for i in idx])


def test_cv_folds_deal_batches_in_turn() -> None:
    assert T.cv_folds([1, 2, 3, 4, 5, 6, 7], 2) == [[1, 3, 5, 7], [2, 4, 6]]
    assert T.cv_folds([2, 5], 3) == [[2], [5]]


def test_settings_come_from_batches_the_scoring_model_was_not_trained_on(tiny, monkeypatch) -> None:
    gen, ho = tiny
    pool = T.Pool.from_files(gen, ho, (1, 2, 3, 4))
    fits, scored = [], []
    real_fit, real_of = T.fit_model, T.Scored.of

    def fit_model(pool, hw, params, cache=None):
        model = real_fit(pool, hw, params, cache=cache)
        model._trained_on = set(hw)
        fits.append(set(hw))
        return model

    def of(model, texts, labels):
        used = {int(pool.batch[pool.texts.index(t)]) for t in texts}
        scored.append((used, getattr(model, "_trained_on", set())))
        return real_of(model, texts, labels)

    monkeypatch.setattr(T, "fit_model", fit_model)
    monkeypatch.setattr(T.Scored, "of", staticmethod(of))
    T.train_on(pool, [1, 2, 3, 4], FAST)
    assert fits[0] == {1, 2, 3, 4} and {1, 3} in fits and {2, 4} in fits
    assert scored and all(not (used & trained) for used, trained in scored)
    assert set().union(*(used for used, _ in scored)) == {1, 2, 3, 4}


def test_lobo_never_trains_on_the_batch_it_scores(tiny, monkeypatch) -> None:
    gen, ho = tiny
    pool = T.Pool.from_files(gen, ho, (1, 2, 3, 4))
    trained_on: list[set[int]] = []
    real = T.fit_model
    monkeypatch.setattr(T, "fit_model", lambda pool, hw, params, cache=None: (trained_on.append(set(hw)),
                                                                                real(pool, hw, params, cache=cache))[1])
    marks = []
    monkeypatch.setattr(T, "evaluate", lambda model, texts, labels: (marks.append(len(trained_on)), {"macro_f1": 0.5})[1])
    out = T.lobo(pool, [3, 4], FAST)
    assert set(out) == {3, 4}
    assert all(3 not in s for s in trained_on[:marks[0]]) and all(4 not in s for s in trained_on[marks[0]:marks[1]])


def test_lobo_baseline_trains_on_the_generated_corpus_alone(tiny) -> None:
    gen, ho = tiny
    pool = T.Pool.from_files(gen, ho, (1, 2, 3, 4))
    base = T.Params(**{**FAST.__dict__, "hw_weight": 0.0})
    cache: dict = {}
    T.train_on(pool, [1, 2, 4], base, cache=cache)
    assert list(cache) == [((), base)]


def test_main_trains_on_development_batches_and_keeps_the_newest_sealed(tiny, tmp_path, capsys, monkeypatch) -> None:
    gen, ho = tiny
    seen: list[tuple[int, ...]] = []
    real = T.Pool.from_files
    monkeypatch.setattr(T.Pool, "from_files", classmethod(lambda cls, t, h, batches=(): (seen.append(tuple(batches)),
                                                                                           real(t, h, batches))[1]))
    out = tmp_path / "m.npz"
    args = ["--train", str(gen), "--heldout", str(ho), "--out", str(out), "--epochs", "3", "--min-df", "1",
            "--keep-df", "1"]
    assert T.main(args) == 0
    printed = capsys.readouterr().out
    assert seen == [(1, 2, 3, 4)]
    assert "held-out batch 8 [the newest batch, written before this model: the honest figure]" in printed
    assert Classifier.load(out).classes == list(SCAM_TYPES)
    seen.clear()
    assert T.main(args + ["--hide-batch", "3", "--hide-batch", "8"]) == 0
    printed = capsys.readouterr().out
    assert seen == [(1, 2, 4)] and "batch 3" not in printed.replace("hidden: 3", "") and "batch 8" not in printed


def test_training_is_deterministic(tiny, tmp_path) -> None:
    gen, ho = tiny
    a = T.train(gen, heldout=ho, hw_batches=(1, 2, 3), params=FAST)
    b = T.train(gen, heldout=ho, hw_batches=(1, 2, 3), params=FAST)
    assert a.index == b.index and np.array_equal(a.weights, b.weights)
    assert (a.temperature, a.nf_threshold) == (b.temperature, b.nf_threshold)


def test_lobo_option_prints_both_procedures(tiny, capsys) -> None:
    gen, ho = tiny
    assert T.main(["--train", str(gen), "--heldout", str(ho), "--lobo", "--lobo-batches", "3,4", "--epochs", "3",
                   "--min-df", "1", "--keep-df", "1", "--hw-weight", "4"]) == 0
    printed = capsys.readouterr().out
    assert "generated corpus only" in printed and "+ hand-written batches x4" in printed and "mean" in printed
