"""Tune retrieval on training data only and report the chosen setting on held-out data.

    python -m sharpnotes.eval.benchmarks.tune ../shared/data/scifact --notes [--grid quick]
        [--start JSON] [--out F]

A BEIR set is scored on its ``train`` split (chosen by nDCG@10) with ``test`` beside it; the notes
set (``--notes``) on its ``tune`` half (chosen by MRR@10) with the ``holdout`` half beside it
(``sharpnotes.eval.benchmarks.notes.split_halves``). Given both, a variant's score is the mean of
the two. Needs the index that ``python -m sharpnotes.eval.benchmarks.beir`` builds (it is cached). A
variant is the product's own knobs, ``BM25Params`` and ``RetrievalSettings`` (one definition of
each), and runs through the production pieces (``BM25Index``, ``fuse``, ``rocchio``); the dense side
scores all chunk vectors exactly (the store's HNSW search is approximate, so ``beir`` and ``notes``
re-measure the chosen setting through the real ``Searcher``).

The search is greedy, one group of settings at a time (``GRIDS``), each group picked on training
data with the groups before it fixed: BM25 build parameters, dense feedback, fusion weight and
depth, reciprocal rank fusion. Held-out scores are printed beside for the record; nothing is
chosen by them. Experiments that did not earn a default (BM25 feedback, a note bonus, a second
or multilingual dense space) were measured with earlier versions of this file (git history) and
left the product; their results stay in ``results/``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from sharpnotes.eval.benchmarks.paths import REPO, RESULTS
from sharpnotes.eval.metrics import evaluate_run
from sharpnotes.eval.sets import CACHE, cache_home, load_beir
from sharpnotes.ingest.bm25 import BM25Params
from sharpnotes.ingest.settings import RetrievalSettings, Settings

Ranked = list[tuple[str, float]]


@dataclass(frozen=True)
class Config:
    """One variant: how BM25 is built and how retrieval runs, as the product defines them."""

    bm25: BM25Params = field(default_factory=BM25Params)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)

    @classmethod
    def of(cls, **flat: object) -> Config:
        """A variant from flat names of either part (``k1=1.2, bm25_weight=0.4``)."""
        return cls().with_(**flat)

    def with_(self, **flat: object) -> Config:
        own = set(BM25Params.__dataclass_fields__)
        unknown = set(flat) - own - set(RetrievalSettings.model_fields)
        if unknown:
            raise SystemExit(f"unknown settings {sorted(unknown)}")
        bm25 = replace(self.bm25, **{k: v for k, v in flat.items() if k in own})
        retrieval = self.retrieval.model_copy(
            update={k: v for k, v in flat.items() if k not in own}
        )
        return Config(bm25, RetrievalSettings.model_validate(retrieval.model_dump()))

    def flat(self) -> dict[str, object]:
        return {**asdict(self.bm25), **self.retrieval.model_dump(mode="json")}

    def bm25_key(self) -> tuple:
        return tuple(asdict(self.bm25).values())

    def short(self, base: Config) -> str:
        mine, theirs = self.flat(), base.flat()
        return ", ".join(f"{k}={v}" for k, v in mine.items() if theirs[k] != v) or "defaults"


@dataclass
class Material:
    """Everything a variant needs, loaded once: chunks, their vectors, the queries' vectors."""

    ids: list[str]
    texts: list[str]
    source_of: dict[str, str]
    vectors: np.ndarray
    queries: dict[str, dict[str, str]]  # split -> qid -> text
    qvecs: dict[str, np.ndarray]  # qid -> unit query vector
    qrels: dict[str, dict[str, dict[str, int]]]
    doc_level: bool = True  # BEIR: a document scores as its best chunk; notes: chunks are scored
    raw: dict[str, str] = field(default_factory=dict)  # qid -> text before cross-lingual terms
    # the sentence vectors (ingest.sentences): row i belongs to chunk ids[sentence_owner[i]]
    sentence_vectors: np.ndarray | None = None
    sentence_owner: np.ndarray | None = None
    _bm25: dict[tuple, object] = field(default_factory=dict)


def attach_sentences(material: Material, settings: Settings, cache: Path | None = None) -> None:
    """Add the sentence vectors the index holds (``ingest.sentences``; ingest with
    ``SHARPNOTES_SENTENCE_WEIGHT`` above 0 first), cached in ``cache`` beside the chunk vectors."""
    from sharpnotes.ingest.index import open_space
    from sharpnotes.ingest.sentences import complete_chunks, owner

    if cache is not None and cache.exists():
        stored = np.load(cache, allow_pickle=False)
        if list(stored["ids"]) == material.ids:
            material.sentence_vectors, material.sentence_owner = stored["vectors"], stored["owner"]
            return
    store = open_space(settings, "sentences")
    sids = sorted(store.all_ids())
    complete, _ = complete_chunks(sids)
    if complete != set(material.ids):
        raise SystemExit(
            f"{len(set(material.ids) - complete)} of {len(material.ids)} chunks lack sentence "
            f"vectors in {settings.index_dir}; ingest it with SHARPNOTES_SENTENCE_WEIGHT above 0"
        )
    got = store.embeddings(sids)
    row = {cid: i for i, cid in enumerate(material.ids)}
    vectors = np.stack([got[sid] for sid in sids]).astype(np.float32)
    material.sentence_vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    material.sentence_owner = np.array([row[owner(sid)] for sid in sids])
    if cache is not None:
        np.savez(
            cache,
            ids=np.array(material.ids),
            vectors=material.sentence_vectors,
            owner=material.sentence_owner,
        )


def load_material(folder: Path, splits: Iterable[str]) -> Material:
    from sharpnotes.ingest.embedding import load_embedder
    from sharpnotes.ingest.index import open_catalog
    from sharpnotes.ingest.settings import Settings
    from sharpnotes.ingest.vectors import VectorStore

    settings = Settings(home=cache_home(folder))
    catalog = open_catalog(settings)
    pairs = list(catalog.iter_embed_texts())
    ids = [cid for cid, _ in pairs]
    rows = catalog.get_chunks(ids)
    catalog.close()
    source_of = {cid: Path(row.source).stem for cid, row in rows.items()}
    queries, qrels = {}, {}
    for split in splits:
        _, queries[split], qrels[split] = load_beir(folder, split)
    cache = CACHE / f"tune-{cache_home(folder).parent.name}.npz"
    all_q = sorted({q for qs in queries.values() for q in qs})
    stored = np.load(cache, allow_pickle=False) if cache.exists() else None
    if stored is not None and list(stored["ids"]) == ids and set(all_q) <= set(stored["qids"]):
        vectors = stored["vectors"]
        qvecs = dict(zip(stored["qids"].tolist(), stored["qvecs"], strict=True))
    else:
        got = VectorStore(settings).embeddings(ids)
        vectors = np.stack([got[cid] for cid in ids]).astype(np.float32)
        texts = {q: t for qs in queries.values() for q, t in qs.items()}
        embedded = load_embedder(settings, purpose="query").embed([texts[q] for q in all_q])
        qvecs = dict(zip(all_q, embedded, strict=True))
        np.savez(cache, ids=np.array(ids), vectors=vectors, qids=np.array(all_q), qvecs=embedded)
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    raw = {q: t for qs in queries.values() for q, t in qs.items()}  # English: nothing to expand
    material = Material(ids, [t for _, t in pairs], source_of, vectors, queries, qvecs, qrels)
    material.raw = raw
    attach_sentences(material, settings, CACHE / f"tune-{cache_home(folder).parent.name}-sent.npz")
    return material


def load_notes_material(set_path: Path, notes: Path) -> Material:
    """The sample notes and their answerable questions, split into the two halves of
    ``sharpnotes.eval.benchmarks.notes.split_halves`` (``tune`` as train, ``holdout`` as test);
    chunks are scored. BM25 and MiniLM see a Chinese question with its English terms appended, as in
    the Searcher
    (``settings.retrieval.crosslingual``)."""
    from sharpnotes.app.crosslingual import expand_query
    from sharpnotes.eval.benchmarks.notes import (
        load_set,
        notes_index,
        qrels_from_evidence,
        split_halves,
    )
    from sharpnotes.ingest.embedding import load_embedder
    from sharpnotes.ingest.index import open_catalog
    from sharpnotes.ingest.vectors import VectorStore

    settings = notes_index(notes)
    catalog = open_catalog(settings)
    pairs = list(catalog.iter_embed_texts())
    ids = [cid for cid, _ in pairs]
    rows = catalog.get_chunks(ids)
    items = [i for i in load_set(set_path) if i["answerable"]]
    qrels_all, _ = qrels_from_evidence(items, catalog)
    catalog.close()
    got = VectorStore(settings).embeddings(ids)
    vectors = np.stack([got[cid] for cid in ids]).astype(np.float32)
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    question = {i["id"]: expand_query(i["question"]) for i in items}
    embedded = load_embedder(settings, purpose="query").embed([question[i["id"]] for i in items])
    qvecs = {i["id"]: v for i, v in zip(items, embedded, strict=True)}
    halves = split_halves(items)
    queries = {
        "train": {q: question[q] for q in halves["tune"]},
        "test": {q: question[q] for q in halves["holdout"]},
    }
    qrels = {split: {q: qrels_all[q] for q in qs} for split, qs in queries.items()}
    source_of = {cid: row.source for cid, row in rows.items()}
    material = Material(
        ids, [t for _, t in pairs], source_of, vectors, queries, qvecs, qrels, doc_level=False
    )
    material.raw = {i["id"]: i["question"] for i in items}
    attach_sentences(material, settings)
    return material


def _top(scores: np.ndarray, ids: list[str], n: int) -> Ranked:
    n = min(n, len(scores))
    top = np.argpartition(-scores, n - 1)[:n]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(ids[i], float(scores[i])) for i in top if scores[i] > 0]


class Tuner:
    def __init__(self, material: Material, max_depth: int = 200) -> None:
        self.m = material
        # BEIR: choose by nDCG@10; notes (one relevant passage a question, mostly): by MRR@10
        self.criterion = "ndcg@10" if material.doc_level else "mrr@10"
        self.extra = ("recall@100",) if material.doc_level else ("hit@1", "hit@5", "ndcg@10")
        self.max_depth = max_depth
        self._bm25_runs: dict[tuple, dict[str, Ranked]] = {}
        self._dense_runs: dict[tuple, dict[str, Ranked]] = {}
        self._best_sentence: dict[str, np.ndarray] = {}
        self.log: list[dict] = []

    def bm25_index(self, c: Config):  # type: ignore[no-untyped-def]
        from sharpnotes.ingest.bm25 import BM25Index

        key = c.bm25_key()
        if key not in self.m._bm25:
            self.m._bm25 = {key: BM25Index.build(self.m.ids, self.m.texts, c.bm25)}
        return self.m._bm25[key]

    def bm25_run(self, c: Config) -> dict[str, Ranked]:
        key = c.bm25_key()
        if key not in self._bm25_runs:
            index = self.bm25_index(c)
            self._bm25_runs[key] = {
                qid: _top(index.scores(text), self.m.ids, self.max_depth)
                for qs in self.m.queries.values()
                for qid, text in qs.items()
            }
        return self._bm25_runs[key]

    def dense_run(self, c: Config) -> dict[str, Ranked]:
        """Exact cosine over the chunk vectors, with the Searcher's Rocchio step and its mix of
        the best sentence's cosine."""
        from sharpnotes.app.retrieval import rocchio

        r = c.retrieval
        key = (r.dense_prf_docs, r.dense_prf_alpha, r.sentence_weight)
        if key not in self._dense_runs:
            run = {}
            for qid, q in self.m.qvecs.items():
                scores = self.m.vectors @ q
                if r.dense_prf_alpha > 0 and r.dense_prf_docs > 0:
                    top = np.argpartition(-scores, r.dense_prf_docs - 1)[: r.dense_prf_docs]
                    scores = self.m.vectors @ rocchio(q, self.m.vectors[top], r.dense_prf_alpha)
                if r.sentence_weight > 0:  # as app.retrieval.mix_sentences, over every chunk
                    mix = r.sentence_weight
                    scores = (1 - mix) * scores + mix * self.best_sentence(qid, q)
                run[qid] = _top(scores, self.m.ids, self.max_depth)
            self._dense_runs[key] = run
        return self._dense_runs[key]

    def best_sentence(self, qid: str, q: np.ndarray) -> np.ndarray:
        """Per chunk, the cosine of its best sentence to the query's vector (computed once per
        query: it does not depend on the settings tried)."""
        if qid not in self._best_sentence:
            if self.m.sentence_vectors is None or self.m.sentence_owner is None:
                raise SystemExit("sentence_weight needs the sentence vectors (attach_sentences)")
            best = np.full(len(self.m.ids), -1.0, np.float32)
            np.maximum.at(best, self.m.sentence_owner, self.m.sentence_vectors @ q)
            self._best_sentence[qid] = best
        return self._best_sentence[qid]

    def score(self, c: Config, mode: str = "hybrid") -> dict[str, float]:
        """nDCG@10 (and Recall@100) per split of a document-level run (a document scores as its
        best chunk)."""
        from sharpnotes.app.retrieval import fuse

        bm25, dense = self.bm25_run(c), self.dense_run(c)
        r = c.retrieval
        out = {}
        for split, queries in self.m.queries.items():
            run = {}
            for qid in queries:
                if mode == "bm25":
                    fused = bm25[qid]
                elif mode == "dense":
                    fused = dense[qid]
                else:
                    lists = [bm25[qid][: r.candidates], dense[qid][: r.candidates]]
                    weights = [r.bm25_weight, 1 - r.bm25_weight]
                    fused = fuse(lists, weights, r.fusion, r.rrf_k)
                if not self.m.doc_level:
                    run[qid] = {cid: float(len(fused) - i) for i, (cid, _) in enumerate(fused[:10])}
                    continue
                docs: dict[str, float] = {}
                for cid, s in fused:
                    docs.setdefault(self.m.source_of[cid], s)
                run[qid] = docs
            m = evaluate_run(self.m.qrels[split], run)
            out[split] = m[self.criterion]
            for metric in self.extra:
                out[f"{split}_{metric}"] = m[metric]
        return out

    def best(
        self, stage: str, base: Config, variants: Iterable[Config], mode: str = "hybrid"
    ) -> Config:
        """The variant with the best train nDCG@10 (the base wins ties)."""
        chosen, chosen_score = base, None
        for c in [base, *[v for v in variants if v != base]]:
            start = time.perf_counter()
            scores = self.score(c, mode)
            row = {"stage": stage, "mode": mode, "config": c.flat(), **scores}
            self.log.append(row)
            train, test = scores.get("train", 0.0), scores.get("test", 0.0)
            parts = " ".join(
                f"{k.split(':')[0]} {scores[k]:.4f}/{scores[k[:-5] + 'test']:.4f}"
                for k in scores
                if k.endswith(":train")
            )
            print(
                f"{stage:<10} {mode:<6} {train:>7.4f} {test:>7.4f}  {parts}"
                f"  {c.short(Config())}  ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
            if chosen_score is None or scores["train"] > chosen_score + 1e-9:
                chosen, chosen_score = c, scores["train"]
        return chosen


class JointTuner(Tuner):
    """Tunes for several sets at once: a variant's train (test) score is the mean of the sets'
    train (test) criteria, so one default serves both a public benchmark and notes."""

    def __init__(self, parts: dict[str, Tuner]) -> None:
        self.parts = parts
        self.log = []
        self.criterion = " + ".join(f"{n} {t.criterion}" for n, t in parts.items())

    def score(self, c: Config, mode: str = "hybrid") -> dict[str, float]:
        out: dict[str, float] = {}
        for name, tuner in self.parts.items():
            out |= {f"{name}:{k}": v for k, v in tuner.score(c, mode).items()}
        for split in ("train", "test"):
            out[split] = round(sum(out[f"{n}:{split}"] for n in self.parts) / len(self.parts), 4)
        return out


# each stage: (name, values per setting); "quick" is the smaller grid for a busy machine (it
# starts from --start, e.g. the k1/b the full grid chose, and keeps the BM25 variant fixed)
GRIDS: dict[str, list[tuple[str, dict[str, tuple]]]] = {
    "full": [
        ("bm25", {"k1": (0.9, 1.2, 1.5, 2.0), "b": (0.5, 0.75, 0.9), "heading_weight": (1, 2, 3)}),
        ("bm25-method", {"method": ("lucene", "robertson", "atire", "bm25l", "bm25+")}),
        ("dense-prf", {"dense_prf_docs": (3, 5, 10), "dense_prf_alpha": (0.25, 0.5, 1.0)}),
        (
            "fusion",
            {
                "bm25_weight": (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7),
                "candidates": (50, 100, 200),
            },
        ),
        ("rrf", {"fusion": ("rrf",), "rrf_k": (10, 30, 60), "candidates": (50, 100, 200)}),
    ],
    # the share of the best sentence in the MiniLM score beside BM25's weight, then the Rocchio
    # step again
    "sentences": [
        (
            "sentences",
            {
                "sentence_weight": (0.0, 0.5, 0.75, 0.85, 1.0),
                "bm25_weight": (0.4, 0.45, 0.5, 0.55, 0.6),
            },
        ),
        ("dense-prf", {"dense_prf_docs": (3, 5), "dense_prf_alpha": (0.0, 0.25, 0.5, 1.0)}),
    ],
    "quick": [
        ("bm25-heading", {"heading_weight": (1, 2, 3)}),
        ("dense-prf", {"dense_prf_docs": (3, 10), "dense_prf_alpha": (0.25, 0.5, 1.0)}),
        ("fusion", {"bm25_weight": (0.4, 0.45, 0.5, 0.55, 0.6), "candidates": (100, 200)}),
        ("rrf", {"fusion": ("rrf",), "rrf_k": (30, 60)}),
    ],
}


def search(tuner: Tuner, start: Config, grid: str = "full") -> Config:
    """Greedy: each stage keeps the best train variant of the settings before it."""
    c = start
    print(f"{'stage':<10} {'mode':<6} {'train':>7} {'test':>7}  config")
    tuner.best("baseline", c, [], "bm25")
    tuner.best("baseline", c, [], "dense")
    for stage, values in GRIDS[grid]:
        names = list(values)
        variants = (
            c.with_(**dict(zip(names, combo, strict=True)))
            for combo in itertools.product(*values.values())
        )
        c = tuner.best(stage, c, variants)
    tuner.best("chosen", c, [], "bm25")
    tuner.best("chosen", c, [], "dense")
    return c


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", help="a BEIR data set (or --notes)")
    parser.add_argument(
        "--notes", action="store_true", help="tune on half of the notes eval set (too)"
    )
    parser.add_argument("--set", type=Path, default=REPO / "eval" / "notes_eval.jsonl")
    parser.add_argument("--out", type=Path, default=RESULTS / "tune.json")
    parser.add_argument("--grid", choices=sorted(GRIDS), default="full")
    parser.add_argument(
        "--start", default="{}", help="JSON: settings to start from (default: the product's)"
    )
    args = parser.parse_args(argv)

    parts = {}
    if args.folder:
        parts[args.folder.name] = Tuner(load_material(args.folder, ("train", "test")))
    if args.notes:
        parts["notes"] = Tuner(load_notes_material(args.set, REPO / "notes"))
    if not parts:
        parser.error("give a BEIR folder, --notes, or both")
    tuner = parts.popitem()[1] if len(parts) == 1 else JointTuner(parts)
    chosen = search(tuner, Config.of(**json.loads(args.start)), args.grid)
    final = tuner.score(chosen)
    print(f"chosen on train: {chosen.short(Config())}")
    print(
        f"  train {tuner.criterion} {final['train']:.4f}, test {tuner.criterion} "
        f"{final['test']:.4f}; {json.dumps(final)}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "sets": ([args.folder.name] if args.folder else [])
                + (["notes"] if args.notes else []),
                "grid": args.grid,
                "start": json.loads(args.start),
                "chosen": chosen.flat(),
                "final": final,
                "tried": tuner.log,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
