"""Retrieval metrics through pytrec_eval (the reference trec_eval implementation)."""

from __future__ import annotations

import statistics


def top(run: dict[str, dict[str, float]], k: int) -> dict[str, dict[str, float]]:
    """Each query's k best documents (ties broken by id, as trec_eval does)."""
    return {
        q: dict(sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))[:k]) for q, docs in run.items()
    }


def evaluate_run(
    qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]
) -> dict[str, float]:
    """Mean nDCG@10, Recall@100, MRR@10 and hit@1/5/10 over the queries in ``qrels``.

    A query with no retrieved documents counts as zero (pytrec_eval would skip it)."""
    import pytrec_eval

    full = {q: run.get(q) or {"__none__": 0.0} for q in qrels}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut_10", "recall_100"}).evaluate(full)
    top10 = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top(full, 10))
    hits = {}
    for k in (1, 5, 10):
        best = top(full, k)
        hits[k] = [any(qrels[q].get(d, 0) > 0 for d in best[q]) for q in qrels]
    return {
        "ndcg@10": round(statistics.fmean(per_query[q]["ndcg_cut_10"] for q in qrels), 4),
        "recall@100": round(statistics.fmean(per_query[q]["recall_100"] for q in qrels), 4),
        "mrr@10": round(statistics.fmean(top10[q]["recip_rank"] for q in qrels), 4),
        **{f"hit@{k}": round(statistics.fmean(v), 4) for k, v in hits.items()},
    }
