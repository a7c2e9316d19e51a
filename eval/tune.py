"""Tune retrieval on training data only and report the chosen setting on held-out data.

    python -m eval.tune ../shared/data/scifact --notes [--grid quick] [--start JSON] [--out F]

A BEIR set is scored on its ``train`` split (chosen by nDCG@10) with ``test`` beside it; the notes
set (``--notes``) on its ``tune`` half (chosen by MRR@10) with the ``holdout`` half beside it
(``eval.notes.split_halves``). Given both, a variant's score is the mean of the two. Needs the
index that ``python -m eval.beir`` builds (it is cached). Every variant runs through the
production pieces (``BM25Index`` builds and PRF, ``fuse``, ``rocchio``, ``note_bonus``); the dense
side scores all chunk vectors exactly (the store's HNSW search is approximate, so
``python -m eval.beir`` and ``python -m eval.notes`` re-measure the chosen setting through the
real ``Searcher``).

The search is greedy, one group of settings at a time (``GRIDS``), each group picked on training
data with the groups before it fixed: BM25 build parameters, BM25 pseudo-relevance feedback, dense
feedback, fusion weight and depth, reciprocal rank fusion, the note bonus. Held-out scores are
printed beside for the record; nothing is chosen by them.
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

from eval.beir import CACHE, cache_home, load_beir
from eval.metrics import evaluate_run
from ingest.index import SPACE_WEIGHTS
from ingest.settings import Settings

REPO = Path(__file__).resolve().parents[1]
Ranked = list[tuple[str, float]]


@dataclass(frozen=True)
class Config:
    k1: float = 1.2
    b: float = 0.75
    method: str = "lucene"
    heading_weight: int = 1
    prf_docs: int = 0
    prf_terms: int = 20
    prf_weight: float = 0.0
    dense_prf_docs: int = 0
    dense_prf_alpha: float = 0.0
    fusion: str = "minmax"
    bm25_weight: float = 0.5
    rrf_k: int = 60
    depth: int = 200
    note_bonus: float = 0.0
    e5_weight: float = 0.0
    second_weight: float = 0.0
    sentence_weight: float = 0.0

    def bm25_key(self) -> tuple:
        return (self.k1, self.b, self.method, self.heading_weight)

    def short(self, base: Config) -> str:
        changed = {k: v for k, v in asdict(self).items() if asdict(base)[k] != v}
        return ", ".join(f"{k}={v}" for k, v in changed.items()) or "baseline"


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
    # secondary dense spaces ("e5", "second"), when attached (attach_space): name -> (chunk
    # vectors in ``ids`` order, qid -> query vector)
    spaces: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = field(default_factory=dict)
    # the sentence vectors (ingest.sentences): row i belongs to chunk ids[sentence_owner[i]]
    sentence_vectors: np.ndarray | None = None
    sentence_owner: np.ndarray | None = None
    _bm25: dict[tuple, object] = field(default_factory=dict)


def attach_space(material: Material, settings: Settings, space: str) -> None:
    """Add a secondary dense space: chunk vectors from its collection in the index (ingest with
    its weight above 0 first), queries embedded as the Searcher does (e5 reads the question as
    asked; the second model, English, reads it with its glossary terms)."""
    from ingest.index import open_space, space_embedder, turn_on_hint

    if space == "second" and not settings.second_model:
        raise SystemExit("--second needs a model: set SHARPNOTES_SECOND_MODEL")
    got = open_space(settings, space).embeddings(material.ids)
    if len(got) < len(material.ids):
        raise SystemExit(
            f"{len(material.ids) - len(got)} of {len(material.ids)} chunks have no {space} "
            f"vectors in {settings.index_dir}; ingest it with {turn_on_hint(space)} first"
        )
    vectors = np.stack([got[cid] for cid in material.ids]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    asked = {q: t for qs in material.queries.values() for q, t in qs.items()}
    texts = material.raw if space == "e5" else asked
    qids = sorted(texts)
    embedded = space_embedder(settings, space, "query").embed([texts[q] for q in qids])
    material.spaces[space] = (vectors, dict(zip(qids, embedded, strict=True)))


def attach_sentences(material: Material, settings: Settings, cache: Path | None = None) -> None:
    """Add the sentence vectors the index holds (``ingest.sentences``; ingest with
    ``SHARPNOTES_SENTENCE_WEIGHT`` above 0 first), cached in ``cache`` beside the chunk vectors."""
    from ingest.index import open_space
    from ingest.sentences import complete_chunks, owner

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


def load_material(folder: Path, splits: Iterable[str], spaces: Iterable[str] = ()) -> Material:
    from ingest.embedding import load_embedder
    from ingest.index import open_catalog
    from ingest.settings import Settings
    from ingest.vectors import VectorStore

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
    for space in spaces:
        attach_space(material, settings, space)
    attach_sentences(material, settings, CACHE / f"tune-{cache_home(folder).parent.name}-sent.npz")
    return material


def load_notes_material(set_path: Path, notes: Path, spaces: Iterable[str] = ()) -> Material:
    """The sample notes and their answerable questions, split into the two halves of
    ``eval.notes.split_halves`` (``tune`` as train, ``holdout`` as test); chunks are scored.
    BM25 and MiniLM see a Chinese question with its English terms appended, as in the Searcher
    (``settings.crosslingual``); the multilingual space sees it as asked."""
    from app.crosslingual import expand_query
    from eval.notes import load_set, notes_index, qrels_from_evidence, split_halves
    from ingest.embedding import load_embedder
    from ingest.index import open_catalog
    from ingest.vectors import VectorStore

    settings = notes_index(notes, spaces)
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
    halves = split_halves([i["id"] for i in items])
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
    for space in spaces:
        attach_space(material, settings, space)
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
        from ingest.bm25 import BM25Index, BM25Params

        key = c.bm25_key()
        if key not in self.m._bm25:
            params = BM25Params(k1=c.k1, b=c.b, method=c.method, heading_weight=c.heading_weight)
            self.m._bm25 = {key: BM25Index.build(self.m.ids, self.m.texts, params)}
        return self.m._bm25[key]

    def bm25_run(self, c: Config) -> dict[str, Ranked]:
        from ingest.bm25 import PRF

        key = (*c.bm25_key(), c.prf_docs, c.prf_terms, c.prf_weight)
        if key not in self._bm25_runs:
            index = self.bm25_index(c)
            prf = PRF(c.prf_docs, c.prf_terms, c.prf_weight) if c.prf_weight > 0 else None
            self._bm25_runs[key] = {
                qid: _top(index.scores(text, prf), self.m.ids, self.max_depth)
                for qs in self.m.queries.values()
                for qid, text in qs.items()
            }
        return self._bm25_runs[key]

    def dense_run(self, c: Config, space: str = "main") -> dict[str, Ranked]:
        """Exact cosine over one dense space, with the Rocchio step the Searcher takes in every
        space."""
        from app.retrieval import rocchio

        key = (space, c.dense_prf_docs, c.dense_prf_alpha, c.sentence_weight)
        if key not in self._dense_runs:
            if space != "main":
                if space not in self.m.spaces:
                    raise SystemExit(f"{space}_weight needs the {space} space: run with --{space}")
                vectors, qvecs = self.m.spaces[space]
            else:
                vectors, qvecs = self.m.vectors, self.m.qvecs
            mix = c.sentence_weight if space == "main" else 0.0
            run = {}
            for qid, q in qvecs.items():
                scores = vectors @ q
                if c.dense_prf_alpha > 0 and c.dense_prf_docs > 0:
                    top = np.argpartition(-scores, c.dense_prf_docs - 1)[: c.dense_prf_docs]
                    scores = vectors @ rocchio(q, vectors[top], c.dense_prf_alpha)
                if mix > 0:  # as app.retrieval.mix_sentences, over every chunk
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
        from app.retrieval import fuse, note_bonus

        bm25, dense = self.bm25_run(c), self.dense_run(c)
        out = {}
        for split, queries in self.m.queries.items():
            run = {}
            for qid in queries:
                if mode == "bm25":
                    fused = bm25[qid]
                elif mode == "dense":
                    fused = dense[qid]
                elif mode in SPACE_WEIGHTS:
                    fused = self.dense_run(c, mode)[qid]
                else:
                    lists = [bm25[qid][: c.depth], dense[qid][: c.depth]]
                    weights = [c.bm25_weight, 1 - c.bm25_weight - c.e5_weight - c.second_weight]
                    for space, (name, _) in SPACE_WEIGHTS.items():
                        if (weight := getattr(c, name)) > 0:
                            lists.append(self.dense_run(c, space)[qid][: c.depth])
                            weights.append(weight)
                    fused = fuse(lists, weights, c.fusion, c.rrf_k)  # type: ignore[arg-type]
                fused = note_bonus(fused, self.m.source_of, c.note_bonus)
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
            row = {"stage": stage, "mode": mode, "config": asdict(c), **scores}
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
        (
            "bm25-prf",
            {"prf_docs": (3, 5, 10), "prf_terms": (10, 20, 40), "prf_weight": (0.2, 0.35, 0.5)},
        ),
        ("dense-prf", {"dense_prf_docs": (3, 5, 10), "dense_prf_alpha": (0.25, 0.5, 1.0)}),
        (
            "fusion",
            {"bm25_weight": (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7), "depth": (50, 100, 200)},
        ),
        ("rrf", {"fusion": ("rrf",), "rrf_k": (10, 30, 60), "depth": (50, 100, 200)}),
        ("bonus", {"note_bonus": (0.05, 0.1, 0.2, 0.3)}),
    ],
    # from --start (the defaults the full grid chose): the share of the best sentence in the
    # MiniLM score beside BM25's weight, then the Rocchio step again
    "sentences": [
        (
            "sentences",
            {
                "sentence_weight": (0.0, 0.5, 0.75, 0.85, 1.0),
                "bm25_weight": (0.4, 0.45, 0.5, 0.55, 0.6),
            },
        ),
        ("dense-prf", {"dense_prf_docs": (3, 5), "dense_prf_alpha": (0.0, 0.25, 0.5)}),
    ],
    "quick": [
        ("bm25-heading", {"heading_weight": (1, 2, 3)}),
        ("bm25-prf", {"prf_docs": (3, 10), "prf_terms": (10, 30), "prf_weight": (0.2, 0.4)}),
        ("dense-prf", {"dense_prf_docs": (3, 10), "dense_prf_alpha": (0.25, 0.5)}),
        ("fusion", {"bm25_weight": (0.4, 0.45, 0.5, 0.55, 0.6), "depth": (100, 200)}),
        ("rrf", {"fusion": ("rrf",), "rrf_k": (30, 60)}),
        ("bonus", {"note_bonus": (0.05, 0.1, 0.2)}),
    ],
    # with --e5, from --start (the defaults the grids above chose): the multilingual space's
    # weight beside BM25's, then the Rocchio step again, now that it also moves the e5 query
    "e5": [
        (
            "e5-fusion",
            {
                "e5_weight": (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5),
                "bm25_weight": (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6),
            },
        ),
        ("dense-prf", {"dense_prf_docs": (3, 5), "dense_prf_alpha": (0.0, 0.25, 0.5)}),
    ],
    # with --second, from --start: the second English model's weight beside BM25's, then the
    # Rocchio step again (it moves the second model's query too)
    "second": [
        (
            "second-fusion",
            {
                "second_weight": (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4),
                "bm25_weight": (0.3, 0.35, 0.4, 0.45, 0.5),
            },
        ),
        ("dense-prf", {"dense_prf_docs": (3, 5), "dense_prf_alpha": (0.5, 1.0, 1.5)}),
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
            replace(c, **dict(zip(names, combo, strict=True)))
            for combo in itertools.product(*values.values())
        )
        c = tuner.best(
            stage, c, (v for v in variants if v.bm25_weight + v.e5_weight + v.second_weight <= 1)
        )
    tuner.best("chosen", c, [], "bm25")
    tuner.best("chosen", c, [], "dense")
    for space, (name, _) in SPACE_WEIGHTS.items():
        if getattr(c, name) > 0:
            tuner.best("chosen", c, [], space)
    return c


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", help="a BEIR data set (or --notes)")
    parser.add_argument(
        "--notes", action="store_true", help="tune on half of the notes eval set (too)"
    )
    parser.add_argument("--set", type=Path, default=REPO / "eval" / "notes_eval.jsonl")
    parser.add_argument("--out", type=Path, default=REPO / "eval" / "results" / "tune.json")
    parser.add_argument("--grid", choices=sorted(GRIDS), default="full")
    parser.add_argument("--start", default="{}", help="JSON: settings to start from")
    parser.add_argument(
        "--e5", action="store_true", help="add the multilingual space (its vectors must be in)"
    )
    parser.add_argument(
        "--second",
        action="store_true",
        help="add the second English model (SHARPNOTES_SECOND_MODEL; its vectors must be in)",
    )
    args = parser.parse_args(argv)

    spaces = [space for space in SPACE_WEIGHTS if getattr(args, space)]
    parts = {}
    if args.folder:
        parts[args.folder.name] = Tuner(load_material(args.folder, ("train", "test"), spaces))
    if args.notes:
        parts["notes"] = Tuner(load_notes_material(args.set, REPO / "notes", spaces))
    if not parts:
        parser.error("give a BEIR folder, --notes, or both")
    tuner = parts.popitem()[1] if len(parts) == 1 else JointTuner(parts)
    chosen = search(tuner, Config(**json.loads(args.start)), args.grid)
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
                "chosen": asdict(chosen),
                "final": final,
                "tried": tuner.log,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
