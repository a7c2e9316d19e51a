"""Sentence vectors beside the chunk vectors: a passage is also scored by its best sentence.

MiniLM was trained on pairs of sentences, and a question usually asks about one sentence of a
passage; the chunk's single vector averages that sentence with its neighbours. So every chunk also
gets one MiniLM vector per sentence (its heading path in front, as the chunk's own embedded text has
it), in a Chroma collection of its own, and the dense score of a passage becomes ``(1 - w) * chunk
cosine + w * best sentence cosine`` with ``w = settings.retrieval.sentence_weight`` (measured in the
README: SciFact and the notes set both gain).

A sentence vector's id is ``CHUNK_ID:I:N``: the I-th of the chunk's N sentences. The ids alone
tell whether a chunk's sentences are all stored, so an ingest killed half-way through writing
them is found and completed (``complete_chunks``) without re-reading any note.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from sharpnotes.ingest.bm25 import split_embed_text
from sharpnotes.ingest.text import sentences

if TYPE_CHECKING:
    from sharpnotes.ingest.embedders import Embedder
    from sharpnotes.ingest.vectors import VectorStore

COLLECTION = "chunk_sentences"
# what ``sentence_texts`` makes of a chunk; a new value makes the next ingest embed every
# sentence again (the catalog's meta records the version its sentence vectors were made with).
# 2: sentences from ingest.text (blocks whole, "e.g." kept inside its sentence)
VERSION = 2
MIN_WORDS = 3  # shorter pieces ("Pros:", "1.") say too little to be scored alone


def sentence_texts(embed_text: str) -> list[str]:
    """The texts whose vectors stand for one chunk's sentences: each sentence of at least
    ``MIN_WORDS`` words after the chunk's heading path; the whole embedded text when none is that
    long (every chunk has at least one, so "complete" is decidable from the ids)."""
    heading, body = split_embed_text(embed_text)
    out = []
    for span in sentences(body):
        sentence = span.text
        if len(sentence.split()) >= MIN_WORDS:
            out.append(f"{heading}\n\n{sentence}" if heading else sentence)
    return out or [embed_text]


def sentence_ids(chunk_id: str, n: int) -> list[str]:
    return [f"{chunk_id}:{i}:{n}" for i in range(n)]


def owner(sentence_id: str) -> str:
    return sentence_id.split(":", 1)[0]


def complete_chunks(ids: Iterable[str]) -> tuple[set[str], set[str]]:
    """(chunks whose sentences are all stored, every chunk with any sentence stored)."""
    seen: dict[str, set[int]] = {}
    wanted: dict[str, int] = {}
    for sid in ids:
        cid, i, n = sid.rsplit(":", 2)
        seen.setdefault(cid, set()).add(int(i))
        wanted[cid] = int(n)
    complete = {cid for cid, got in seen.items() if len(got) == wanted[cid]}
    return complete, set(seen)


class SentenceVectors:
    """The sentence collection: written by ingest, read by the Searcher."""

    def __init__(self, store: VectorStore) -> None:
        self.store = store

    def count(self) -> int:
        return self.store.count()

    def held(self) -> tuple[set[str], set[str]]:
        """(chunks complete, chunks present): see ``complete_chunks``."""
        return complete_chunks(self.store.all_ids())

    def put(
        self,
        chunks: Sequence[tuple[str, str, dict]],
        embedder: Embedder,
        batch_size: int = 32,
    ) -> int:
        """Embed and store the sentences of (chunk id, embedded text, Chroma metadata) triples;
        returns how many sentences were embedded."""
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict] = []
        for chunk_id, embed_text, meta in chunks:
            pieces = sentence_texts(embed_text)
            ids += sentence_ids(chunk_id, len(pieces))
            texts += pieces
            metas += [{**meta, "chunk_id": chunk_id}] * len(pieces)
        if ids:
            self.store.upsert(ids, embedder.embed(texts, batch_size), None, metas)
        return len(ids)

    def clear(self) -> None:
        self.store.delete(sorted(self.store.all_ids()))

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        self.store.delete_where("chunk_id", chunk_ids)

    def best(self, vector: np.ndarray, n: int, where: dict | None) -> dict[str, float]:
        """Chunk id -> cosine of its best sentence, over the ``n`` sentences nearest ``vector``."""
        return _best_per_chunk(self.store.query(vector, n, where))


def _best_per_chunk(scored: Iterable[tuple[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for sid, score in scored:
        cid = owner(sid)
        if score > out.get(cid, -2.0):
            out[cid] = score
    return out
