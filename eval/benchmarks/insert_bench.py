"""Chroma insert throughput: vectors per second into an embedded collection as it grows, for a
few write batch sizes and HNSW settings.

    python -m sharpnotes.eval.benchmarks.insert_bench [--n 200000] [--source HOME]
        [--configs default,batch5000,...] [--out eval/benchmarks/results/insert.json]

Each configuration writes ``n`` vectors into a new collection of its own (a new folder): the
source home's sentence vectors, perturbed as ``sharpnotes.eval.benchmarks.synthetic`` perturbs
them, with the metadata ingest gives a sentence (source, heading, folders, chunk id), in write
batches of the configuration's size, and reports the rate of every tenth of the run, the disk
used and this process's peak memory. The configurations run one after another in the same
process; the peak memory is the largest of them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from sharpnotes.eval.benchmarks import synthetic
from sharpnotes.eval.benchmarks.paths import write_results
from sharpnotes.eval.benchmarks.scale_bench import peak_rss_mib

# name -> (write batch, HNSW configuration beyond the cosine space, documents stored)
CONFIGS: dict[str, tuple[int, dict, bool]] = {
    "default": (1000, {}, False),  # what ingest does today (ingest.vectors._BATCH)
    "documents": (1000, {}, True),  # the chunk collection also stores each chunk's text
    "batch5000": (5000, {}, False),
    "sync": (5000, {"batch_size": 1000, "sync_threshold": 20000}, False),
    "sync-ef50": (
        5000,
        {"batch_size": 1000, "sync_threshold": 20000, "ef_construction": 50},
        False,
    ),
}


def vectors_from(source: Path, n: int, seed: int = 0) -> tuple[np.ndarray, list[dict]]:
    """``n`` perturbed copies of the source's sentence vectors (its chunk vectors when it has
    none) with metadata shaped like ingest's."""
    from sharpnotes.ingest.vectors import chroma_metadata

    base = synthetic.load_base(source)
    pool = np.concatenate(base.sentences) if base.sentences else base.vectors
    owners = (
        [i for i, s in enumerate(base.sentences) for _ in range(len(s))]
        if base.sentences
        else list(range(len(base)))
    )
    rng = np.random.default_rng(seed)
    picks = np.arange(n) % len(pool)
    vectors = synthetic.perturb(pool[picks], 0.02, rng)
    metas = []
    for j, p in enumerate(picks):
        i = owners[p]
        source_name = f"copy{j // len(pool):03d}/{base.sources[i]}"
        meta = chroma_metadata(source_name, base.headings[i], base.pages[i], [])
        metas.append(meta | {"chunk_id": f"{base.chunk_ids[i]}-{j // len(pool)}"})
    return vectors, metas


def insert(
    folder: Path, vectors: np.ndarray, metas: list[dict], batch: int, hnsw: dict, texts: bool
) -> dict:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(folder), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection(
        "bench", configuration={"hnsw": {"space": "cosine", **hnsw}}, embedding_function=None
    )
    n = len(vectors)
    tenth = max(batch, n // 10)
    marks, last, started = [], time.perf_counter(), time.perf_counter()
    for start in range(0, n, batch):
        stop = min(n, start + batch)
        collection.upsert(
            ids=[f"v{i}" for i in range(start, stop)],
            embeddings=vectors[start:stop],
            metadatas=metas[start:stop],
            documents=[f"text of vector {i} " * 20 for i in range(start, stop)] if texts else None,
        )
        if stop % tenth < batch or stop == n:
            now = time.perf_counter()
            done = marks[-1]["vectors"] if marks else 0
            marks.append({"vectors": stop, "per_s": round((stop - done) / (now - last), 1)})
            last = now
            print(f"  {stop} vectors, {marks[-1]['per_s']}/s", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started
    probe = vectors[:20]
    found = collection.query(query_embeddings=probe, n_results=1, include=[])["ids"]
    return {
        "seconds": round(seconds, 1),
        "per_s": round(n / seconds, 1),
        "marks": marks,
        "self_found": sum(ids[0] == f"v{i}" for i, ids in enumerate(found)) / len(found),
        "disk_bytes": synthetic.dir_size(folder),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--source", type=Path, help="an ingested home (default: cached SciFact)")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--workdir", type=Path, default=synthetic.CACHE / "insert-bench")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    source = args.source or synthetic.default_source()
    vectors, metas = vectors_from(source, args.n)
    rows = []
    for name in args.configs.split(","):
        batch, hnsw, texts = CONFIGS[name]
        folder = args.workdir / name
        shutil.rmtree(folder, ignore_errors=True)
        print(f"{name}: write batch {batch}, hnsw {hnsw}, documents {texts}", file=sys.stderr)
        row = {"config": name, "write_batch": batch, "hnsw": hnsw, "documents": texts}
        rows.append(row | insert(folder, vectors, metas, batch, hnsw, texts))
        shutil.rmtree(folder, ignore_errors=True)
    result = {"n": args.n, "rows": rows, "peak_rss_mib": round(peak_rss_mib(), 1)}
    if args.out:
        write_results(args.out, result, {"configs": args.configs, "n": args.n})
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
