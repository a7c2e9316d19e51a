"""Hybrid retrieval over the index: BM25 (bm25s) and dense (Chroma) candidates, fused.

Fusion is min-max normalisation of each retriever's candidate scores and a weighted sum
(``SHARPNOTES_BM25_WEIGHT``), or reciprocal rank fusion (``SHARPNOTES_FUSION=rrf``). llama-index's
QueryFusionRetriever implements the same modes, but over its node objects and an async query
path; here fusion is a few array operations over ids we already hold, which keeps the query path
free of llama-index's import cost (a cold CLI search must answer in about 3 s).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath
from typing import Literal

import numpy as np

from ingest import bm25
from ingest.catalog import IndexFormatError
from ingest.index import check_compatible, open_catalog
from ingest.settings import Settings
from ingest.vectors import VectorStore, where_filter

Mode = Literal["hybrid", "bm25", "dense"]


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


class Searcher:
    """Loads the index once; ``search`` is thread-safe and picks up a newer BM25 build."""

    def __init__(self, settings: Settings) -> None:
        from ingest.embedding import resolve_model

        self.settings = settings
        self.catalog = open_catalog(settings)
        self.model_id, _ = resolve_model(settings.embed_model)
        check_compatible(self.catalog, settings, self.model_id, "searched")
        if not self.catalog.get_meta("embed_model"):
            raise EmptyIndexError(
                f"no index at {settings.index_dir} yet; run: sharpnotes ingest PATH-TO-NOTES"
            )
        self._lock = threading.Lock()
        self._bm25: bm25.BM25Index | None = None
        self._bm25_generation: int | None = None
        self._masks: dict[Filters, np.ndarray] = {}
        self._vectors: VectorStore | None = None
        self._embedder = None

    # lazily loaded parts ------------------------------------------------------------------------
    def _bm25_index(self) -> bm25.BM25Index:
        pointer = bm25.read_pointer(self.settings.index_dir) or {}
        with self._lock:
            if self._bm25 is None or pointer.get("generation") != self._bm25_generation:
                index = bm25.BM25Index.load(self.settings.index_dir)
                if index is None:
                    raise IndexFormatError(
                        f"the BM25 index under {self.settings.index_dir} is missing; "
                        "run: sharpnotes ingest PATH-TO-NOTES"
                    )
                self._bm25, self._bm25_generation = index, pointer.get("generation")
                self._masks = {}
            return self._bm25

    def _store(self) -> VectorStore:
        with self._lock:
            if self._vectors is None:
                self._vectors = VectorStore(self.settings)
            return self._vectors

    def embedder(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._embedder is None:
                from ingest.embedding import load_embedder

                self._embedder = load_embedder(self.settings, purpose="query")
            return self._embedder

    def _mask(self, index: bm25.BM25Index, filters: Filters) -> np.ndarray:
        mask = self._masks.get(filters)
        if mask is None:
            allowed = {
                cid
                for cid, source, meta in self.catalog.chunk_filter_rows()
                if filters.matches(source, json.loads(meta).get("tags", []))
            }
            mask = np.fromiter(
                (cid in allowed for cid in index.ids), dtype=bool, count=len(index.ids)
            )
            self._masks[filters] = mask
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

    def dense_candidates(self, query: str, n: int, filters: Filters) -> list[tuple[str, float]]:
        vector = self.embedder().embed([query])[0]
        where = where_filter(filters.folder, filters.tag, filters.ext)
        return self._store().query(vector, n, where)

    def search(
        self, query: str, k: int = 10, filters: Filters | None = None, mode: Mode = "hybrid"
    ) -> list[SearchResult]:
        filters = filters or Filters()
        n = max(k, self.settings.candidates)
        if mode == "bm25":
            ranked = self.bm25_candidates(query, n, filters)
        elif mode == "dense":
            ranked = self.dense_candidates(query, n, filters)
        else:
            w = self.settings.bm25_weight
            ranked = fuse(
                [self.bm25_candidates(query, n, filters), self.dense_candidates(query, n, filters)],
                [w, 1.0 - w],
                self.settings.fusion,
                self.settings.rrf_k,
            )
        return self._results(ranked[: k * 2], k)

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
