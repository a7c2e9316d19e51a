"""Choose the fusion of BM25 and dense retrieval by measurement, on a BEIR set's training split.

    python -m eval.fusion ../shared/data/scifact [--splits train,test]

Needs the index that ``python -m eval.beir`` builds (it is cached). Candidates are retrieved once
per query; every fusion method, BM25 weight and candidate depth is then scored on each split, so
the setting picked on ``train`` can be reported on ``test``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from eval.beir import cache_home, load_beir
from eval.metrics import evaluate_run

GRID = [("minmax", w) for w in (0.3, 0.4, 0.5, 0.6)] + [("rrf", 0.5)]
DEPTHS = (50, 100, 200)


def main(argv: list[str] | None = None) -> None:
    from app.retrieval import Filters, Searcher, fuse
    from ingest.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--splits", default="train,test")
    args = parser.parse_args(argv)

    settings = Settings(home=cache_home(args.folder))
    searcher = Searcher(settings)
    print(f"{'split':<6} {'method':<7} {'w_bm25':>6} {'depth':>5} {'nDCG@10':>8} {'R@100':>7}")
    for split in args.splits.split(","):
        _, queries, qrels = load_beir(args.folder, split)
        candidates = {
            qid: (
                searcher.bm25_candidates(text, max(DEPTHS), Filters()),
                searcher.dense_candidates(text, max(DEPTHS), Filters()),
            )
            for qid, text in queries.items()
        }
        ids = {cid for pair in candidates.values() for ranked in pair for cid, _ in ranked}
        doc_of = {
            cid: Path(row.source).stem
            for cid, row in searcher.catalog.get_chunks(list(ids)).items()
        }
        for method, weight in GRID:
            for depth in DEPTHS:
                run = {}
                for qid, (bm25, dense) in candidates.items():
                    fused = fuse([bm25[:depth], dense[:depth]], [weight, 1 - weight], method)
                    docs: dict[str, float] = {}
                    for cid, score in fused:
                        docs.setdefault(doc_of[cid], score)
                    run[qid] = docs
                m = evaluate_run(qrels, run)
                print(
                    f"{split:<6} {method:<7} {weight:>6.1f} {depth:>5} "
                    f"{m['ndcg@10']:>8.4f} {m['recall@100']:>7.4f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
