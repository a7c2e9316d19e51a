"""Hybrid retrieval over the index: BM25 (bm25s) and dense (Chroma) candidates, fused.

Fusion is min-max normalisation of each retriever's candidate scores and a weighted sum
(``SHARPNOTES_BM25_WEIGHT``), or reciprocal rank fusion (``SHARPNOTES_FUSION=rrf``). llama-index's
QueryFusionRetriever implements the same modes, but over its node objects and an async query
path; here fusion is a few array operations over ids we already hold, which keeps the query path
free of llama-index's import cost (a cold CLI search must answer in about 3 s).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Literal

import numpy as np

from sharpnotes.app.coverage import chinese_spellings
from sharpnotes.app.crosslingual import expand_query
from sharpnotes.ingest import bm25, multilingual, snapshot
from sharpnotes.ingest.catalog import Catalog, IndexFormatError
from sharpnotes.ingest.index import check_compatible, open_catalog, open_space
from sharpnotes.ingest.sentences import best_per_chunk
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.text import has_cjk
from sharpnotes.ingest.vectors import DenseSpace, VectorStoreError, where_filter

if TYPE_CHECKING:
    from sharpnotes.app.rerank import Reranker
    from sharpnotes.ingest.embedders import Embedder

log = logging.getLogger(__name__)
Mode = Literal["hybrid", "bm25", "dense"]
SENTENCE_DEPTH = 4  # sentences taken per dense candidate wanted (ingest.sentences)


@dataclass(frozen=True)
class Filters:
    folder: str | None = None
    tag: str | None = None
    ext: str | None = None

    def matches(self, source: str, tags: Sequence[str]) -> bool:
        if self.folder:
            folder = self.folder.strip("/")
            if not (source == folder or source.startswith(folder + "/")):
                return False
        if self.tag and self.tag.lower().lstrip("#") not in tags:
            return False
        return not (
            self.ext and PurePosixPath(source).suffix.lower() != "." + self.ext.lower().lstrip(".")
        )

    @property
    def active(self) -> bool:
        return bool(self.folder or self.tag or self.ext)


def unmatched_filters(catalog: Catalog, filters: Filters) -> str | None:
    """What is wrong with a --folder, --tag or --ext that no indexed note matches (a typo, not
    a question the notes do not cover), with the folders or tags there are; None when some
    note matches or no filter is set."""
    if not filters.active:
        return None
    folders: set[str] = set()
    tags: set[str] = set()
    for _, source, meta in catalog.chunk_filter_rows():
        note_tags = [str(t).lower() for t in json.loads(meta).get("tags") or []]
        if filters.matches(source, note_tags):
            return None
        folders.add(source.split("/", 1)[0] if "/" in source else ".")
        tags.update(note_tags)
    asked = ", ".join(
        f"--{name} {value}"
        for name, value in (("folder", filters.folder), ("tag", filters.tag), ("ext", filters.ext))
        if value
    )
    if filters.tag and not filters.folder:
        known = f"tags: {', '.join(sorted(tags)[:12])}"
    else:
        known = f"top folders: {', '.join(sorted(folders)[:12])}; folder names are case-sensitive"
    return f"no indexed note matches {asked} ({known})"


@dataclass
class SearchResult:
    """One retrieved passage: what the CLI prints as JSON, the UI renders and eval scores."""

    rank: int
    score: float
    chunk_id: str
    source: str
    heading: str
    page: int | None
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


class EmptyIndexError(RuntimeError):
    """Nothing is indexed yet; the message says what to run."""


def minmax(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi - lo < 1e-12:
        return {k: 1.0 for k in scores}
    return {k: (v - lo) / (hi - lo) for k, v in scores.items()}


def fuse(
    ranked: Sequence[list[tuple[str, float]]],
    weights: Sequence[float],
    method: Literal["minmax", "rrf"],
    rrf_k: int = 60,
) -> list[tuple[str, float]]:
    """Fuse ranked (id, score) lists, best first."""
    total: dict[str, float] = {}
    for results, weight in zip(ranked, weights, strict=True):
        if method == "rrf":
            contrib = {cid: 1.0 / (rrf_k + rank) for rank, (cid, _) in enumerate(results, start=1)}
        else:
            contrib = minmax(dict(results))
        for cid, value in contrib.items():
            total[cid] = total.get(cid, 0.0) + weight * value
    return sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))


def rocchio(query: np.ndarray, docs: np.ndarray, alpha: float) -> np.ndarray:
    """Dense pseudo-relevance feedback: the unit query vector moved towards the mean of the top
    documents' unit vectors by ``alpha``, re-normalised."""
    if alpha <= 0 or not len(docs):
        return query
    moved = query / np.linalg.norm(query) + alpha * docs.mean(axis=0)
    return (moved / np.linalg.norm(moved)).astype(np.float32)


def mix_sentences(
    ranked: list[tuple[str, float]],
    sentences: DenseSpace,
    asked: np.ndarray,
    n: int,
    where: dict | None,
    weight: float,
) -> list[tuple[str, float]]:
    """Dense candidates scored ``(1 - weight) x chunk cosine + weight x best sentence cosine``
    (``ingest.sentences``). The candidates are the chunks ``ranked`` found with the feedback
    vector and the chunks owning the ``SENTENCE_DEPTH x n`` sentences nearest the ``asked``
    vector. Each side bounds what it did not see: a candidate none of whose sentences is among
    those gets the lowest sentence cosine seen, and one found by its sentences alone the lowest
    chunk cosine seen (when ``ranked`` is all there is, such a chunk was deleted meanwhile and is
    left out). Reading the missing values from the store instead cost about 13 ms a query at
    50,000 chunks and changed neither SciFact nDCG@10 nor notes MRR@10 (eval/benchmarks/README.md).
    """
    chunk = dict(ranked)
    best = best_per_chunk(sentences, asked, SENTENCE_DEPTH * n, where)
    lacking = [cid for cid in best if cid not in chunk]
    if lacking and len(ranked) < n:
        best = {cid: score for cid, score in best.items() if cid in chunk}
    elif lacking:
        chunk_floor = min(chunk.values())
        chunk.update(dict.fromkeys(lacking, chunk_floor))
    floor = min(best.values(), default=0.0)
    mixed = {cid: (1 - weight) * c + weight * best.get(cid, floor) for cid, c in chunk.items()}
    return sorted(mixed.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def rerank(
    reranker: Reranker, query: str, results: list[SearchResult], depth: int
) -> list[SearchResult]:
    """The first ``depth`` results re-ordered by the reranker (``score`` becomes its score), the
    rest after them in fused order; ranks renumbered."""
    from sharpnotes.app.rerank import rerank_order

    head, tail = results[:depth], results[depth:]
    passages = [f"{r.heading}\n\n{r.text}" if r.heading else r.text for r in head]
    order = rerank_order(reranker, query, passages)
    head = [replace(head[i], score=round(score, 6)) for i, score in order]
    return [replace(r, rank=rank) for rank, r in enumerate(head + tail, start=1)]


class _Written:
    """The notes' vocabulary as ``app.spelling`` reads it: BM25 stems and the passages' text."""

    PASSAGES = 20  # passages holding a stem that are read for a word's written form

    def __init__(self, searcher: Searcher) -> None:
        self.index = searcher._bm25_index()
        self.catalog = searcher.catalog

    def frequency(self, token: str) -> int:
        return self.index.frequency(token)

    def written(self, word: str, token: str) -> bool:
        form = re.compile(rf"(?<![a-z]){re.escape(word)}(?![a-z])", re.IGNORECASE)
        ids = self.index.holders(token, self.PASSAGES)
        return any(form.search(text) for _, text in self.catalog.embed_texts(ids))


class Searcher:
    """Loads the index once; ``search`` is thread-safe and picks up a newer BM25 build."""

    def __init__(self, settings: Settings) -> None:
        from sharpnotes.ingest.embedding import resolve_model

        self.settings = settings
        self._local = threading.local()  # one catalog connection per thread
        self.model_id, self._model_folder = resolve_model(settings.models.embed_model)
        check_compatible(self.catalog, settings, self.model_id, "searched")
        if not self.catalog.get_meta("embed_model"):
            raise EmptyIndexError(
                f"no index at {settings.index_dir} yet; run: sharpnotes ingest PATH-TO-NOTES"
            )
        self._lock = threading.Lock()
        self._bm25: bm25.BM25Index | None = None
        self._bm25_pointer: dict | None = None
        self._masks: dict[Filters, tuple[bm25.BM25Index, np.ndarray]] = {}
        self._vectors: dict[str, tuple[DenseSpace, dict | None]] = {}
        # (BM25 pointer, its build's dense snapshot or None): read once a build
        self._snapshot: tuple[dict | None, dict[str, snapshot.FlatSpace] | None] | None = None
        self._embedder: Embedder | None = None
        # ((BM25 pointer, its file's stamp), the multilingual space or None): read once a file
        self._zh: tuple[tuple, multilingual.ZhSpace | None] | None = None
        self._warned_sentences = False
        self._sentence_count: tuple[DenseSpace, int] | None = None

    # lazily loaded parts ------------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        """This thread's connection to the catalog: a sqlite3 connection used by several
        threads at once mixes their cursors, so each thread gets its own (WAL lets them all read
        while an ingest writes)."""
        catalog = getattr(self._local, "catalog", None)
        if catalog is None:
            catalog = self._local.catalog = open_catalog(self.settings)
        return catalog

    def _bm25_index(self) -> bm25.BM25Index:
        """The current BM25 build. When an ingest has switched the pointer, the new build is
        loaded and swapped in whole; queries already running keep the build they hold."""
        with self._lock:
            for _ in range(3):
                pointer = bm25.read_pointer(self.settings.index_dir)
                if pointer is None:
                    raise IndexFormatError(
                        f"the BM25 index under {self.settings.index_dir} is missing; "
                        "run: sharpnotes ingest PATH-TO-NOTES"
                    )
                if self._bm25 is not None and pointer == self._bm25_pointer:
                    break
                try:
                    index = bm25.BM25Index.load(self.settings.index_dir, pointer)
                except FileNotFoundError:  # two builds landed while we read; read the pointer again
                    continue
                self._bm25, self._bm25_pointer = index, pointer
                self._masks = {}
                break
            if self._bm25 is None:
                raise IndexFormatError(
                    f"cannot load the BM25 index under {self.settings.index_dir}; "
                    "run: sharpnotes ingest PATH-TO-NOTES"
                )
            return self._bm25

    def _store(self, space: str = "chunks", reopen: bool = False) -> DenseSpace:
        """The vectors of the chunks or of their sentences: the build's exact snapshot when it
        has one (``ingest.snapshot``: no chromadb import, no HNSW load), else its Chroma
        collection. An embedded Chroma client keeps its own view of the collection and does not
        see what another process (a `sharpnotes ingest`) writes, so it is opened afresh when a new
        build is in place (the BM25 pointer changed) and when ``reopen`` is asked."""
        pointer = bm25.read_pointer(self.settings.index_dir)
        with self._lock:
            held = self._vectors.get(space)
            if held is None or reopen or pointer != held[1]:
                if self._snapshot is None or self._snapshot[0] != pointer:  # once a build
                    self._snapshot = (pointer, snapshot.load(self.settings, pointer))
                flat = self._snapshot[1]
                store: DenseSpace
                if flat is not None and space in flat:
                    store = flat[space]
                else:
                    store = open_space(self.settings, space, fresh=held is not None)
                held = self._vectors[space] = (store, pointer)
            return held[0]

    def embedder(self) -> Embedder:
        """The query embedder, loaded once."""
        from sharpnotes.ingest.embedding import load_embedder

        with self._lock:
            if self._embedder is None:
                self._embedder = load_embedder(self.settings, "query")
            return self._embedder

    def _mask(self, index: bm25.BM25Index, filters: Filters) -> np.ndarray:
        cached = self._masks.get(filters)
        if cached is not None and cached[0] is index:  # a mask is only valid for its own build
            return cached[1]
        allowed = {
            cid
            for cid, source, meta in self.catalog.chunk_filter_rows()
            if filters.matches(source, json.loads(meta).get("tags", []))
        }
        mask = np.fromiter((cid in allowed for cid in index.ids), dtype=bool, count=len(index.ids))
        self._masks[filters] = (index, mask)
        return mask

    # retrieval --------------------------------------------------------------------------------
    def bm25_candidates(self, query: str, n: int, filters: Filters) -> list[tuple[str, float]]:
        index = self._bm25_index()
        scores = index.scores(query)
        if not len(scores):
            return []
        if filters.active:
            scores = np.where(self._mask(index, filters), scores, 0.0)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(index.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def dense_candidates(
        self,
        query: str,
        n: int,
        filters: Filters,
        feedback: bool = True,
        sentences: bool = True,
    ) -> list[tuple[str, float]]:
        """Dense candidates, with the feedback step unless ``feedback`` is False, scored with
        their best sentence unless ``sentences`` is False.
        A local Chroma read can fail while another process writes the collection: it is retried
        on a fresh client, then left out (BM25 still answers)."""
        for attempt in range(3):
            try:
                return self._dense_candidates(
                    query, n, filters, feedback, sentences, reopen=attempt > 0
                )
            except VectorStoreError as exc:
                if attempt == 2 and self.settings.chroma.chroma_host:  # a server that went away
                    raise
                failure = exc
            time.sleep(0.05 * attempt)
        log.info("dense retrieval skipped for one query: %s", failure)
        self._notice(f"dense search failed, these results come from BM25 alone: {failure}")
        return []

    def notices(self) -> list[str]:
        """What the last search in this thread could not do (a retriever that failed), for
        the CLI and the app to show beside its results."""
        return list(getattr(self._local, "notices", []))

    def _notice(self, text: str) -> None:
        held = getattr(self._local, "notices", None)
        if held is None:
            held = self._local.notices = []
        if text not in held:
            held.append(text)

    def _dense_candidates(
        self,
        query: str,
        n: int,
        filters: Filters,
        feedback: bool,
        sentences: bool,
        reopen: bool,
    ) -> list[tuple[str, float]]:
        asked = vector = self.embedder().embed([query])[0]
        where = where_filter(filters.folder, filters.tag, filters.ext)
        depth, alpha = (
            self.settings.retrieval.dense_prf_docs,
            self.settings.retrieval.dense_prf_alpha,
        )
        store = self._store("chunks", reopen)
        if feedback and depth and alpha > 0:  # pseudo-relevance feedback: one Rocchio step
            top = store.query_with_vectors(vector, depth, where)
            if top:
                vector = rocchio(vector, np.stack([vec for _, _, vec in top]), alpha)
        ranked = store.query(vector, n, where)
        weight = self.settings.retrieval.sentence_weight
        held = self._sentences(reopen) if sentences and weight > 0 else None
        if held is None:
            return ranked
        return mix_sentences(ranked, held, asked, n, where, weight)

    def _sentences(self, reopen: bool) -> DenseSpace | None:
        """The sentence vectors, or None (with a warning, once) for an index built before them:
        its passages are scored by their chunk vector alone until the next ingest adds them."""
        store = self._store("sentences", reopen)
        with self._lock:  # counted once per opened store, not once per query
            if self._sentence_count is None or self._sentence_count[0] is not store:
                self._sentence_count = (store, store.count())
            empty = self._sentence_count[1] == 0
        if empty:
            if not self._warned_sentences and self.catalog.counts()[1]:
                self._warned_sentences = True
                log.warning(
                    "the index at %s has no sentence vectors yet; run: sharpnotes ingest "
                    "PATH-TO-NOTES (until then passages are scored by their chunk vector alone)",
                    self.settings.index_dir,
                )
            return None
        return store

    def spelled(self, query: str) -> str:
        """``query`` with the words the notes do not hold and one edit makes into one they do
        corrected (``app.spelling``); unchanged when ``retrieval.spelling`` is off."""
        if not self.settings.retrieval.spelling:
            return query
        from sharpnotes.app.spelling import correct, known_words

        return correct(query, _Written(self), known_words(self._model_folder))

    def search(
        self,
        query: str,
        k: int = 10,
        filters: Filters | None = None,
        mode: Mode = "hybrid",
        spell: bool = True,
    ) -> list[SearchResult]:
        """The ``k`` best passages for ``query``; ``spell`` False when the caller has read its
        typos already (``spelled``)."""
        filters = filters or Filters()
        self._local.notices = []
        cfg = self.settings.retrieval
        if spell:
            query = self.spelled(query)
        asked = lexical = query
        if cfg.crosslingual:  # BM25, MiniLM and the reranker see a Chinese query's English terms
            query = lexical = expand_query(query)
            # and BM25 an English query's Chinese terms, for the notes written in Chinese (none
            # holds them in English-only notes, where they weigh nothing)
            lexical = " ".join([query, *chinese_spellings(query)])
        n = max(k, cfg.candidates)
        if mode == "bm25":
            ranked = self.bm25_candidates(lexical, n, filters)
        elif mode == "dense":
            ranked = self.dense_candidates(query, n, filters)
        else:
            lists = [
                self.bm25_candidates(lexical, n, filters),
                self.dense_candidates(query, n, filters),
            ]
            if cfg.multilingual_weight > 0 and not has_cjk(asked):
                lists[1] = self._read_in_chinese(asked, lists)
            weights = [cfg.bm25_weight, 1.0 - cfg.bm25_weight]
            ranked = fuse(lists, weights, cfg.fusion, cfg.rrf_k)
            if cfg.multilingual_weight > 0 and has_cjk(asked):
                ranked = self._multilingual(asked, ranked)
        reranker = self._reranker()
        if reranker is None:
            return self._results(ranked[: k * 2], k)
        depth = max(k, self.settings.retrieval.rerank_depth)
        results = self._results(ranked[: depth * 2], depth)
        return rerank(reranker, query, results, self.settings.retrieval.rerank_depth)[:k]

    def _zh_space(self) -> multilingual.ZhSpace | None:
        """The multilingual space of the current build (``ingest.multilingual``), read again when
        the build or its file changes (an ingest of unchanged notes completes an older file in
        place); None when the index has none."""
        pointer = bm25.read_pointer(self.settings.index_dir)
        key = (pointer, multilingual.stamp(self.settings, pointer))
        with self._lock:
            if self._zh is None or self._zh[0] != key:
                self._zh = (key, multilingual.load(self.settings, pointer))
            return self._zh[1]

    def _multilingual(
        self, question: str, ranked: list[tuple[str, float]]
    ) -> list[tuple[str, float]]:
        """A question holding Chinese: the fused candidates re-scored with their cosine in the
        multilingual space at ``multilingual_weight``; unchanged without a space."""
        space = self._zh_space()
        if space is None or not ranked:
            return ranked
        cosines = space.scores(multilingual.embed([question])[0], [c for c, _ in ranked])
        cfg = self.settings.retrieval
        weight = cfg.multilingual_weight
        return fuse([ranked, cosines], [1.0 - weight, weight], cfg.fusion, cfg.rrf_k)

    def _read_in_chinese(
        self, question: str, lists: list[list[tuple[str, float]]]
    ) -> list[tuple[str, float]]:
        """An English question's MiniLM candidates (``lists[1]``), where each candidate of either
        list that is written in Chinese scores the better of its MiniLM and its multilingual
        cosine, both min-max scaled over the candidates: MiniLM reads Chinese as noise, so "Why
        did company A turn me down?" never reached "A 沒過 (feedback: system design lacked
        depth)". A chunk far from the question in the multilingual model too
        (``multilingual.ENGLISH_FLOOR``) is not lifted: the best of a question on boiling eggs is
        no answer. Unchanged without a space, or in notes with no chunk written in Chinese."""
        space = self._zh_space()
        dense = lists[1]
        if space is None or not space.chinese:
            return dense
        found = {cid for ranked in lists for cid, _ in ranked}
        if not found & space.chinese:
            return dense
        cosines = dict(space.scores(multilingual.embed([question])[0], list(found)))
        read = minmax(cosines)
        scores = minmax(dict(dense))
        for cid in found & space.chinese:  # the space holds every chunk it marks
            if cosines[cid] >= multilingual.ENGLISH_FLOOR:
                scores[cid] = max(scores.get(cid, 0.0), read[cid])
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))

    def warm_multilingual(self) -> None:
        """Load the multilingual space and its model now (about 1 s) when the index has one, so
        that the first question in Chinese does not wait for them."""
        if self.settings.retrieval.multilingual_weight > 0 and self._zh_space() is not None:
            multilingual.embed(["預熱"])

    def _reranker(self) -> Reranker | None:
        if self.settings.retrieval.rerank_model is None:
            return None
        from sharpnotes.app.rerank import load_reranker

        return load_reranker(self.settings)

    def _results(self, ranked: list[tuple[str, float]], k: int) -> list[SearchResult]:
        rows = self.catalog.get_chunks([cid for cid, _ in ranked])
        results: list[SearchResult] = []
        for cid, score in ranked:
            row = rows.get(cid)
            if row is None:  # removed by an ingest since the candidates were taken
                continue
            results.append(
                SearchResult(
                    rank=len(results) + 1,
                    score=round(float(score), 6),
                    chunk_id=cid,
                    source=row.source,
                    heading=row.heading,
                    page=row.page,
                    text=row.text,
                )
            )
            if len(results) == k:
                break
        return results
