"""Ingest throughput on SciFact: the whole pipeline next to plain sentence-transformers `encode`.

    python -m sharpnotes.eval.benchmarks.ingest_bench [--docs N] [--scifact ../shared/data/scifact]
                                [--out eval/benchmarks/results/ingest.json]

In one run: the first N SciFact abstracts (all 5,183 by default) are written as Markdown notes
and ingested by ``ingest.sync.ingest`` into a fresh index home (read, chunk, embed with the
configured backend, "auto" by default, Chroma, BM25); then plain sentence-transformers fp32
``encode`` embeds the same chunk texts that ingest embedded; then the unchanged corpus is ingested
again. Reports chunks/s of both and their ratio, and the re-ingest time as a fraction of the full
ingest. The embedders are loaded (and "auto" calibrated) before the clock starts, so the figures
are steady-state throughput; the load time is reported on its own.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from sharpnotes.eval.benchmarks import synthetic
from sharpnotes.eval.benchmarks.scale_bench import bench_settings, machine
from sharpnotes.eval.sets import write_notes


def load_corpus(scifact: Path, docs: int | None) -> dict[str, dict]:
    corpus: dict[str, dict] = {}
    with (scifact / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            corpus[str(doc["_id"])] = doc
            if docs and len(corpus) == docs:
                break
    return corpus


def run(corpus: dict[str, dict], workdir: Path, settings_overrides: dict) -> dict:
    from sentence_transformers import SentenceTransformer

    from sharpnotes.ingest.embedding import load_embedder, resolve_model
    from sharpnotes.ingest.index import open_catalog
    from sharpnotes.ingest.machine import thread_count
    from sharpnotes.ingest.sync import ingest

    notes = workdir / "notes"
    write_notes(corpus, notes)
    settings = bench_settings(workdir / "home", **settings_overrides)
    t0 = time.perf_counter()
    pipeline = load_embedder(settings, purpose="ingest")  # ingest reuses this one
    load_s = time.perf_counter() - t0

    full = ingest([notes], settings)
    if full.failed:
        raise SystemExit(f"ingest failed on {len(full.failed)} files, first: {full.failed[0]}")
    catalog = open_catalog(settings)
    try:
        texts = [text for _, text in catalog.iter_embed_texts()]
    finally:
        catalog.close()

    import torch

    torch.set_num_threads(thread_count(settings))
    _, folder = resolve_model(settings.models.embed_model)
    plain = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    t0 = time.perf_counter()
    plain.encode(texts, batch_size=settings.models.embed_batch_size, normalize_embeddings=True)
    plain_s = time.perf_counter() - t0

    again = ingest([notes], settings)
    pipeline_rate = full.chunks_embedded / full.seconds
    plain_rate = len(texts) / plain_s
    return {
        "documents": len(corpus),
        "chunks": len(texts),
        "backend": pipeline.backend,
        "threads": thread_count(settings),
        "batch_size": settings.models.embed_batch_size,
        "embedder_load_s": round(load_s, 1),
        "ingest_s": round(full.seconds, 1),
        "ingest_chunks_embedded": full.chunks_embedded,
        "sentence_weight": settings.retrieval.sentence_weight,
        "ingest_sentences_embedded": full.sentences_embedded,
        "ingest_chunks_per_s": round(pipeline_rate, 2),
        "plain_fp32_encode_s": round(plain_s, 1),
        "plain_fp32_chunks_per_s": round(plain_rate, 2),
        "ratio": round(pipeline_rate / plain_rate, 3),
        "reingest_s": round(again.seconds, 2),
        "reingest_chunks_embedded": again.chunks_embedded,
        "reingest_unchanged_files": again.unchanged,
        "reingest_fraction": round(again.seconds / full.seconds, 5),
    }


def render(result: dict) -> str:
    r = result["ingest"]
    return "\n".join(
        [
            f"{r['documents']} SciFact abstracts -> {r['chunks']} chunks, backend {r['backend']}, "
            f"{r['threads']} threads (embedder load {r['embedder_load_s']} s, not counted)",
            f"full ingest: {r['ingest_s']} s, {r['ingest_chunks_per_s']} chunks/s "
            f"({r['ingest_sentences_embedded']} sentence vectors too)",
            f"plain sentence-transformers fp32 encode: {r['plain_fp32_encode_s']} s, "
            f"{r['plain_fp32_chunks_per_s']} chunks/s",
            f"pipeline / plain encode: {r['ratio']}x",
            f"re-ingest unchanged: {r['reingest_s']} s ({100 * r['reingest_fraction']:.2f}% of "
            f"the full ingest), {r['reingest_chunks_embedded']} chunks embedded",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, help="only the first N abstracts (default: all)")
    parser.add_argument("--scifact", type=Path, default=synthetic.SCIFACT)
    parser.add_argument("--backend", default=None, help="SHARPNOTES_EMBED_BACKEND for ingest")
    parser.add_argument("--workdir", type=Path, help="keep notes and index here (default: temp)")
    parser.add_argument("--out", type=Path, help="write the result JSON here")
    args = parser.parse_args(argv)
    if not (args.scifact / "corpus.jsonl").exists():
        parser.error(f"no corpus.jsonl in {args.scifact}; pass --scifact DIR")
    corpus = load_corpus(args.scifact, args.docs)
    overrides: dict = {}
    if args.backend:
        overrides["embed_backend"] = args.backend
    if args.workdir:
        if args.workdir.exists() and any(args.workdir.iterdir()):
            parser.error(f"{args.workdir} is not empty; pass a new folder")
        ingest_result = run(corpus, args.workdir, overrides)
    else:
        with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
            ingest_result = run(corpus, Path(tmp), overrides)
    result = {"machine": machine(), "ingest": ingest_result}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
