"""Metrics on a tiny run computed by hand."""

from __future__ import annotations

import math

import pytest

from sharpnotes.eval.metrics import evaluate_run


def test_metrics_on_a_hand_computed_run() -> None:
    qrels = {"q1": {"d1": 1}, "q2": {"d3": 1, "d4": 1}, "q3": {"d9": 1}}
    run = {
        "q1": {"d1": 3.0, "d2": 2.0},  # relevant at rank 1
        "q2": {"d2": 3.0, "d3": 2.0, "d5": 1.0},  # one of two relevant, at rank 2
        "q3": {},  # nothing retrieved
    }
    m = evaluate_run(qrels, run)
    ndcg_q2 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert m["ndcg@10"] == pytest.approx((1 + ndcg_q2 + 0) / 3, abs=1e-4)
    assert m["mrr@10"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-4)
    assert m["recall@100"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-4)
    assert m["hit@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["hit@5"] == pytest.approx(2 / 3, abs=1e-4)


def test_mrr_is_cut_at_ten() -> None:
    qrels = {"q": {"rel": 1}}
    run = {"q": {f"d{i:02d}": 100.0 - i for i in range(11)} | {"rel": 50.0}}
    assert evaluate_run(qrels, run)["mrr@10"] == 0.0
