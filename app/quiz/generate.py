"""Quiz generation: choose passages, make items from each, verify, deduplicate.

With a topic, the passages are the ones retrieval finds for it; without one, they come from the
index in a seeded random order, leaving out the chunks already quizzed (``exclude_chunks``) and
putting ``prefer_chunks`` first (the weakest topic's chunks, say). Items are taken one passage
at a time, round-robin, so a quiz spreads over its passages; "mixed" rotates mcq, cloze, recall.

The offline writer is ``app.quiz.offline``; with ``SHARPNOTES_GENERATOR`` set to an LLM backend
``app.quiz.llm_quiz`` writes the items, and a passage the LLM gives no valid item for falls back
to the offline writer. Every item passes ``app.quiz.verify`` whoever wrote it. The cards the
learner wrote in a passage (``app.quiz.handwritten``) come before any generated item from it.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from sharpnotes.app.quiz import gate, verify
from sharpnotes.app.quiz.handwritten import GENERATOR, card_items
from sharpnotes.app.quiz.items import ITEM_TYPES, QuizItem
from sharpnotes.app.quiz.offline import items_from_passage
from sharpnotes.app.quiz.terms import DistractorPool, Lexicon
from sharpnotes.app.retrieval import EmptyIndexError, Filters, Searcher, SearchResult
from sharpnotes.ingest.catalog import Catalog, ChunkRow
from sharpnotes.ingest.settings import Settings

__all__ = ["QuizBatch", "generate_quiz", "items_from_passage", "corpus_pool"]

log = logging.getLogger(__name__)

KINDS = ("mcq", "cloze", "recall", "mixed")


@dataclass
class QuizBatch:
    items: list[QuizItem]
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count
    flagged: dict[str, str] = field(default_factory=dict)  # item id -> gate reason (ungated)

    def to_dict(self) -> dict:
        return {"items": [i.to_dict() for i in self.items], "dropped": dict(self.dropped)}


_POOLS: dict[tuple[str, int], tuple[DistractorPool, dict[str, ChunkRow]]] = {}
_POOLS_LOCK = threading.Lock()


def corpus_pool(catalog: Catalog) -> tuple[DistractorPool, dict[str, ChunkRow]]:
    """The index's terms and chunk rows, built once per catalog state (chunk ids change with
    every content change, so they key the cache)."""
    ids = catalog.chunk_ids()
    key = (str(catalog.path), hash(tuple(ids)))
    with _POOLS_LOCK:
        if key in _POOLS:
            return _POOLS[key]
    rows = catalog.get_chunks(ids)
    ordered = {cid: rows[cid] for cid in ids if cid in rows}
    pool = DistractorPool(Lexicon.from_rows(ordered.values()))
    with _POOLS_LOCK:
        _POOLS.clear()  # one index per process in practice; keep memory flat
        _POOLS[key] = (pool, ordered)
    return pool, ordered


def _embedding(settings: Settings):
    """texts -> unit vectors with the index's query embedder, loaded on first use."""
    from sharpnotes.app.embed_cache import embed_cached

    def embed(texts):
        from sharpnotes.ingest.embedding import load_embedder

        return embed_cached(load_embedder(settings, "query"), texts)

    return embed


def _as_result(row: ChunkRow, rank: int = 0) -> SearchResult:
    return SearchResult(rank, 0.0, row.chunk_id, row.source, row.heading, row.page, row.text)


def _passages(
    settings: Settings,
    rows: dict[str, ChunkRow],
    topic: str | None,
    filters: Filters,
    n: int,
    exclude: Collection[str],
    prefer: Sequence[str] | None,
    searcher: Searcher | None,
    rng: random.Random,
) -> list[SearchResult]:
    excluded = set(exclude)
    if topic:
        searcher = searcher or Searcher(settings)
        found = searcher.search(topic, k=max(4 * n, 12), filters=filters)
        return [r for r in found if r.chunk_id not in excluded and r.chunk_id in rows]
    allowed = [
        row
        for cid, row in rows.items()
        if cid not in excluded and filters.matches(row.source, row.meta.get("tags", []))
    ]
    rng.shuffle(allowed)
    if prefer:
        rank = {cid: i for i, cid in enumerate(prefer)}
        allowed.sort(key=lambda row: rank.get(row.chunk_id, len(rank)))
    return [_as_result(row, i + 1) for i, row in enumerate(allowed)]


def generate_quiz(
    settings: Settings,
    *,
    topic: str | None = None,
    filters: Filters = Filters(),  # noqa: B008 - frozen dataclass, safe as a default
    n: int = 5,
    kind: str = "mixed",
    exclude_chunks: Collection[str] = (),
    prefer_chunks: Sequence[str] | None = None,
    searcher: Searcher | None = None,
    seed: int | None = None,
    gated: bool = True,
) -> QuizBatch:
    """Up to ``n`` verified, deduplicated items of ``kind`` ("mcq", "cloze", "recall", "mixed").
    With ``gated=False`` the items the quality gate would drop are kept and listed in
    ``flagged`` with the reason (for evaluating the gate).
    Raises ``EmptyIndexError`` when nothing is indexed, ``GeneratorError`` when a configured LLM
    cannot be reached, ``ValueError`` for an unknown kind."""
    from sharpnotes.ingest.index import open_catalog

    if kind not in KINDS:
        raise ValueError(f"unknown quiz type {kind!r}; choose one of {', '.join(KINDS)}")
    catalog = searcher.catalog if searcher else open_catalog(settings)
    try:
        pool, rows = corpus_pool(catalog)
    finally:
        if searcher is None:
            catalog.close()
    if not rows:
        raise EmptyIndexError(
            f"nothing indexed at {settings.index_dir} yet; run: sharpnotes ingest PATH-TO-NOTES"
        )
    pool.embed = _embedding(settings)
    rng = random.Random(seed)
    passages = _passages(
        settings, rows, topic, filters, n, exclude_chunks, prefer_chunks, searcher, rng
    )
    from sharpnotes.app.generators import get_generator

    use_llm = get_generator(settings).is_llm
    dropped: dict[str, int] = {}
    flagged: dict[str, str] = {}
    dedupe = verify.Deduper()
    emphasised = pool.lexicon.emphasised()
    chosen: list[QuizItem] = []
    leftovers: list[list[QuizItem]] = []
    for passage in passages:
        if len(chosen) >= n:
            break
        row = rows[passage.chunk_id]
        candidates = _candidates(settings, passage, row, kind, pool, rng, use_llm, dropped)
        candidates = _gate(candidates, dropped, flagged if not gated else None, emphasised)
        # mixed: the type made least so far among those this passage offers
        made = [sum(i.type == t for i in chosen) for t in ITEM_TYPES]
        rank = {t: (made[j], (j - len(chosen)) % 3) for j, t in enumerate(ITEM_TYPES)}
        # the learner's own cards first, then the type made least so far
        candidates.sort(key=lambda item: (item.generator != GENERATOR, rank[item.type]))
        while candidates:
            item = candidates.pop(0)
            if not dedupe.seen(item):
                chosen.append(item)
                break
            verify.count(dropped, verify.DUPLICATE)
        leftovers.append(candidates)
    # a small corpus or a narrow topic: take second items from the passages already used
    for candidates in leftovers:
        for item in candidates:
            if len(chosen) >= n:
                break
            if dedupe.seen(item):
                verify.count(dropped, verify.DUPLICATE)
                continue
            chosen.append(item)
            break
    kept = chosen[:n]
    ids = {i.id for i in kept}
    return QuizBatch(kept, dropped, {k: v for k, v in flagged.items() if k in ids})


def _candidates(
    settings: Settings,
    passage: SearchResult,
    row: ChunkRow,
    kind: str,
    pool: DistractorPool,
    rng: random.Random,
    use_llm: bool,
    dropped: dict[str, int],
) -> list[QuizItem]:
    cards, why = card_items(passage, row.content_hash)
    for reason, count in why.items():
        verify.count(dropped, reason, count)
    wanted = {"mixed": ("recall", "cloze"), "recall": ("recall",), "cloze": ("cloze",)}
    cards = [c for c in cards if c.type in wanted.get(kind, ())]
    found: list[QuizItem] = []
    if use_llm:
        from sharpnotes.app.quiz.llm_quiz import llm_items

        found, why = llm_items(settings, passage, row.content_hash, kind, pool)
        for reason, count in why.items():
            verify.count(dropped, f"llm: {reason}", count)
    if not found:
        found, why = items_from_passage(passage, row.content_hash, kind, pool, rng=rng)
        for reason, count in why.items():
            verify.count(dropped, reason, count)
    return cards + found  # the learner's own cards first


def _gate(
    items: list[QuizItem],
    dropped: dict[str, int],
    flagged: dict[str, str] | None,
    defined: Collection[str],
) -> list[QuizItem]:
    """The items the quality gate passes (each drop counted as "gate: reason"); with
    ``flagged`` given, every item, and the gate's reasons recorded there instead."""
    kept: list[QuizItem] = []
    for item in items:
        why = gate.reason(item, defined)
        if why and flagged is None:
            verify.count(dropped, f"gate: {why}")
            continue
        if why and flagged is not None:
            flagged[item.id] = why
        kept.append(item)
    return kept
