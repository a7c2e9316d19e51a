"""Ways to make the sentence vectors (``ingest.sentences``), compared on retrieval quality.

    python -m sharpnotes.eval.benchmarks.sentence_bench --home HOME \
        --scifact ../shared/data/scifact
        [--methods late,late-plain,late-body] [--workdir DIR] [--out results/sentences-X.json]
    python -m sharpnotes.eval.benchmarks.sentence_bench --home HOME \
        --notes-set eval/notes_eval.jsonl [--out ...]

HOME is an index ingested with sentence vectors made the way they are made today (each sentence
embedded on its own, after the chunk's heading path): method ``separate``. Each other method
re-makes every sentence vector of HOME from the token states of one forward pass of its chunk
("late chunking": ``ingest.embedders.pool_spans``), in a copy of HOME whose chunk vectors, BM25
and catalog are left as they are, so that only the sentence vectors differ:

- ``late``: a sentence's vector is the mean of the states of its tokens, of the heading path's
  tokens and of [CLS] and [SEP] (the tokens it would have if embedded alone, seen in context);
- ``late-plain``: the same without [CLS] and [SEP];
- ``late-body``: its own tokens and [CLS] and [SEP], no heading;
- ``late-cN``: ``late`` less N/100 of the chunk's own vector (renormalised), which takes out part
  of what all the sentences of a chunk share through its context.

A sentence that truncation cut off from its chunk's forward pass is embedded on its own. Every
method is then scored through the Searcher, in one run: SciFact nDCG@10 on the train split (to
choose on) and the test split (to report), or the notes set's MRR@10 and hit@5 on its tune and
holdout halves (``sharpnotes.eval.benchmarks.notes.split_halves``). It also reports how close each
method's vectors are to ``separate``'s, and the seconds of the forward pass.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sharpnotes.ingest.settings import Settings

if TYPE_CHECKING:
    from sharpnotes.ingest.embedders import Embedder

METHODS = {  # name -> (heading tokens in a sentence's mean, special tokens in it, chunk share out)
    "late": (True, True, 0.0),
    "late-plain": (True, False, 0.0),
    "late-body": (False, True, 0.0),
    "late-c25": (True, True, 0.25),
    "late-c50": (True, True, 0.5),
}


def load_chunks(settings: Settings) -> tuple[list[str], list[str], list[dict]]:
    """(chunk ids, embedded texts, Chroma metadata) of every chunk of an index."""
    from sharpnotes.ingest.index import open_catalog
    from sharpnotes.ingest.vectors import chroma_metadata

    catalog = open_catalog(settings)
    try:
        rows = catalog.get_chunks(catalog.chunk_ids())
        texts = dict(catalog.embed_texts(list(rows)))
    finally:
        catalog.close()
    ids = sorted(rows)
    metas = [
        chroma_metadata(r.source, r.heading, r.page, r.meta.get("tags", []))
        for r in (rows[cid] for cid in ids)
    ]
    return ids, [texts[cid] for cid in ids], metas


def late_vectors(
    embedder: Embedder, texts: list[str], batch_size: int
) -> tuple[dict[str, list[np.ndarray]], dict]:
    """Each method's sentence vectors for each text, from one forward pass per text."""
    from sharpnotes.ingest.embedders import pool_spans
    from sharpnotes.ingest.sentences import sentence_spans, sentence_texts

    spans = [sentence_spans(text) for text in texts]
    out: dict[str, list] = {name: [None] * len(texts) for name in METHODS}
    cut: list[tuple[int, int]] = []  # (text, sentence) that truncation cut off
    wall, cpu = time.perf_counter(), time.process_time()
    for i, states, offsets in embedder.token_states(texts, batch_size):
        heading_len, sentences = spans[i]
        whole = states.mean(0)
        whole /= np.linalg.norm(whole)
        for name, (heading, special, share) in METHODS.items():
            if not sentences:  # the chunk's own vector, as sentence_texts falls back to it
                out[name][i] = whole[None, :]
                continue
            groups = [[(0, heading_len), span] if heading else [span] for span in sentences]
            vectors, missing = pool_spans(states, offsets, groups, special)
            if share:
                vectors = vectors - share * whole
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            out[name][i] = vectors
            if name == "late":
                cut += [(i, g) for g in missing]
    forward = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
    if cut:  # embedded alone, as ingest would
        alone = embedder.embed([sentence_texts(texts[i])[g] for i, g in cut], batch_size)
        for (i, g), vector in zip(cut, alone, strict=True):
            for name in METHODS:
                out[name][i][g] = vector
    return out, forward | {"cut_off_sentences": len(cut)}


def copy_home(source: Path, target: Path) -> Settings:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.lock", "*.pid"))
    return Settings(home=target)


def replace_sentences(
    settings: Settings, ids: list[str], metas: list[dict], vectors: list[np.ndarray]
) -> None:
    from sharpnotes.ingest.index import open_sentences
    from sharpnotes.ingest.sentences import sentence_ids

    store = open_sentences(settings)
    assert store is not None
    store.clear()
    sids: list[str] = []
    smetas: list[dict] = []
    for cid, meta, v in zip(ids, metas, vectors, strict=True):
        sids += sentence_ids(cid, len(v))
        smetas += [{**meta, "chunk_id": cid}] * len(v)
    store.store.upsert(sids, np.concatenate(vectors), None, smetas)


def stored_sentences(settings: Settings, ids: list[str]) -> list[np.ndarray]:
    from sharpnotes.eval.benchmarks.synthetic import _load_sentences

    got = _load_sentences(settings, ids)
    assert got is not None, f"{settings.index_dir} has no sentence vectors"
    return got


def agreement(a: list[np.ndarray], b: list[np.ndarray]) -> dict:
    cos = np.concatenate([(x * y).sum(1) for x, y in zip(a, b, strict=True) if len(x) == len(y)])
    return {
        "cos_mean": round(float(cos.mean()), 4),
        "cos_p5": round(float(np.percentile(cos, 5)), 4),
        "cos_min": round(float(cos.min()), 4),
    }


def score_scifact(settings: Settings, scifact: Path, modes: list[str]) -> dict:
    from sharpnotes.eval.benchmarks.beir import run_retrieval
    from sharpnotes.eval.metrics import evaluate_run
    from sharpnotes.eval.sets import load_beir

    out = {}
    for split in ("train", "test"):
        _, queries, qrels = load_beir(scifact, split)
        runs = run_retrieval(settings, queries, modes)
        out[split] = {
            mode: round(evaluate_run(qrels, runs[mode]["run"])["ndcg@10"], 4) for mode in modes
        }
    return out


HALVES = ("tune", "holdout")
NOTES_METRICS = ("mrr@10", "hit@5")


def score_notes(settings: Settings, set_path: Path, modes: list[str]) -> dict:
    from sharpnotes.eval.benchmarks.notes import evaluate, load_set

    result = evaluate(settings, load_set(set_path), modes)
    rows = {"all": result["retrieval"]} | {
        half: {mode: result["halves"][mode][half] for mode in modes} for half in HALVES
    }
    return {
        part: {mode: {m: round(row[mode][m], 4) for m in NOTES_METRICS} for mode in modes}
        for part, row in rows.items()
    }


def run_settings(settings: Settings) -> dict:
    """The settings the scores depend on: retrieval, and the embedding model and threads."""
    models = settings.models
    return settings.retrieval.model_dump(mode="json") | {
        "embed_model": models.embed_model,
        "threads": models.threads,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="an index with sentence vectors")
    parser.add_argument("--scifact", type=Path, help="score on SciFact (train and test)")
    parser.add_argument("--notes-set", type=Path, help="score on a notes set (tune and holdout)")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--modes", default="dense,hybrid")
    parser.add_argument("--backend", default="onnx-fp32", help="embedding backend of the pass")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sentence-bench"))
    parser.add_argument("--out", type=Path, help="write the result JSON here")
    args = parser.parse_args(argv)
    if bool(args.scifact) == bool(args.notes_set):
        parser.error("give one of --scifact DIR or --notes-set FILE")
    from sharpnotes.eval.benchmarks.paths import write_results
    from sharpnotes.ingest.embedding import load_embedder

    base = Settings(home=args.home)
    modes = args.modes.split(",")
    ids, texts, metas = load_chunks(base)
    separate = stored_sentences(base, ids)

    def score(settings: Settings) -> dict:
        if args.scifact:
            return score_scifact(settings, args.scifact, modes)
        return score_notes(settings, args.notes_set, modes)

    rows = [{"method": "separate", "sentences": sum(map(len, separate)), **score(base)}]
    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    embedder = load_embedder(base.replace(embed_backend=args.backend), "ingest")
    made, forward = late_vectors(embedder, texts, base.models.embed_batch_size)
    for name in args.methods.split(","):
        settings = copy_home(args.home, args.workdir / name / "home")
        replace_sentences(settings, ids, metas, made[name])
        rows.append(
            {
                "method": name,
                "sentences": sum(map(len, made[name])),
                **agreement(made[name], separate),
                **score(settings),
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        shutil.rmtree(args.workdir / name)
    result = {
        "home": str(args.home),
        "chunks": len(ids),
        "backend": embedder.backend,
        "forward_pass": {k: round(v, 1) for k, v in forward.items()},
        "rows": rows,
    }
    if args.out:
        write_results(args.out, result, run_settings(base))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
