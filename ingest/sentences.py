"""Sentence vectors beside the chunk vectors: a passage is also scored by its best sentence.

MiniLM was trained on pairs of sentences, and a question usually asks about one sentence of a
passage; the chunk's single vector averages that sentence with its neighbours. So every chunk also
gets one MiniLM vector per sentence (its heading path in front, as the chunk's own embedded text has
it), in a Chroma collection of its own, and the dense score of a passage becomes ``(1 - w) * chunk
cosine + w * best sentence cosine`` with ``w = settings.retrieval.sentence_weight`` (measured in the
README: SciFact and the notes set both gain).

By default each sentence is embedded on its own (``settings.models.sentence_pooling = "alone"``).
With ``"late"`` the sentence vectors come from the chunk's own forward pass ("late chunking",
``embed_chunks``): a sentence's vector is the mean of the token states of its words, its heading
path and the special tokens, which saves the second pass over the same words but lost retrieval
quality on the notes sets (eval/benchmarks/README.md, "Sentence vectors from the chunk's pass").

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
    from sharpnotes.ingest.settings import SentencePooling
    from sharpnotes.ingest.vectors import DenseSpace, VectorStore

COLLECTION = "chunk_sentences"
# what ``sentence_texts`` makes of a chunk; a new value makes the next ingest embed every
# sentence again (the catalog's meta records the version its sentence vectors were made with,
# ``made_with``). 2: sentences from ingest.text (blocks whole, "e.g." kept inside its sentence)
VERSION = 2
MIN_WORDS = 3  # shorter pieces ("Pros:", "1.") say too little to be scored alone


def sentence_spans(embed_text: str) -> tuple[int, list[tuple[int, int]]]:
    """(length of the heading path, the character spans of the chunk's sentences of at least
    ``MIN_WORDS`` words) in a chunk's embedded text, which chunking writes as ``heading\n\ntext``
    (the heading length is 0 without a heading)."""
    heading, body = split_embed_text(embed_text)
    offset = len(embed_text) - len(body)
    spans = [
        (offset + span.start, offset + span.end)
        for span in sentences(body)  # ingest.text: stripped spans of the body
        if len(span.text.split()) >= MIN_WORDS
    ]
    return len(heading), spans


def sentence_texts(embed_text: str) -> list[str]:
    """The texts whose vectors stand for one chunk's sentences: each sentence of at least
    ``MIN_WORDS`` words after the chunk's heading path; the whole embedded text when none is that
    long (every chunk has at least one, so "complete" is decidable from the ids)."""
    heading_len, spans = sentence_spans(embed_text)
    heading = embed_text[:heading_len]
    out = [embed_text[a:b] for a, b in spans]
    return [f"{heading}\n\n{text}" if heading else text for text in out] or [embed_text]


def embed_chunks(
    embedder: Embedder, embed_texts: Sequence[str], batch_size: int = 32
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each chunk's vector (as ``embedder.embed`` gives it) and its sentences' vectors, one per
    ``sentence_texts`` piece in the same order, from one forward pass of the chunk. A sentence
    that truncation cut off from that pass, or every sentence of a model that does not mean-pool,
    is embedded on its own."""
    from sharpnotes.ingest.embedders import normalise, pool_spans

    if embedder.pooling != "mean":  # late chunking averages token states
        return embedder.embed(embed_texts, batch_size), embed_alone(
            embedder, embed_texts, batch_size
        )
    chunks = np.zeros((len(embed_texts), embedder.dim), np.float32)
    held: list[np.ndarray] = [chunks[:0]] * len(embed_texts)
    cut: list[tuple[int, int]] = []
    for i, states, offsets in embedder.token_states(embed_texts, batch_size):
        chunks[i] = states.mean(0)
        heading, spans = sentence_spans(embed_texts[i])
        if not spans:  # the chunk's own vector stands for it (sentence_texts' fallback)
            held[i] = normalise(chunks[i : i + 1])
            continue
        groups = [[(0, heading), span] if heading else [span] for span in spans]
        held[i], missing = pool_spans(states, offsets, groups)
        cut += [(i, g) for g in missing]
    if cut:
        alone = embedder.embed([sentence_texts(embed_texts[i])[g] for i, g in cut], batch_size)
        for (i, g), vector in zip(cut, alone, strict=True):
            held[i][g] = vector
    return normalise(chunks), held


def embed_alone(
    embedder: Embedder, embed_texts: Sequence[str], batch_size: int = 32
) -> list[np.ndarray]:
    """Each chunk's sentence vectors, one per ``sentence_texts`` piece, each piece embedded on
    its own (one batch run over the pieces of every chunk)."""
    pieces = [sentence_texts(text) for text in embed_texts]
    flat = iter(embedder.embed([p for group in pieces for p in group], batch_size))
    return [np.stack([next(flat) for _ in group]) for group in pieces]


def made_with(pooling: SentencePooling) -> str:
    """What the catalog records as the making of its sentence vectors: the splitter version, and
    "-late" when they are pooled from the chunk's pass (a change re-makes them all)."""
    return str(VERSION) if pooling == "alone" else f"{VERSION}-{pooling}"


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
        made: dict[str, np.ndarray] | None = None,
        pooling: SentencePooling = "alone",
    ) -> int:
        """Store the sentence vectors of (chunk id, embedded text, Chroma metadata) triples:
        those in ``made`` (chunk id -> its sentences' vectors, from ``embed_chunks``) as they
        are, the others made now the ``pooling`` way; returns how many vectors were stored."""
        made = dict(made or {})
        rest = [(cid, text) for cid, text, _ in chunks if cid not in made]
        if rest:
            texts = [text for _, text in rest]
            if pooling == "late":
                vectors = embed_chunks(embedder, texts, batch_size)[1]
            else:
                vectors = embed_alone(embedder, texts, batch_size)
            made.update(zip([cid for cid, _ in rest], vectors, strict=True))
        ids: list[str] = []
        metas: list[dict] = []
        for chunk_id, _, meta in chunks:
            ids += sentence_ids(chunk_id, len(made[chunk_id]))
            metas += [{**meta, "chunk_id": chunk_id}] * len(made[chunk_id])
        if ids:
            self.store.upsert(ids, np.concatenate([made[cid] for cid, _, _ in chunks]), None, metas)
        return len(ids)

    def clear(self) -> None:
        self.store.delete(sorted(self.store.all_ids()))

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        self.store.delete_where("chunk_id", chunk_ids)


def best_per_chunk(
    space: DenseSpace, vector: np.ndarray, n: int, where: dict | None
) -> dict[str, float]:
    """Chunk id -> cosine of its best sentence, over the ``n`` sentences of ``space`` nearest
    ``vector``."""
    out: dict[str, float] = {}
    for sid, score in space.query(vector, n, where):
        cid = owner(sid)
        if score > out.get(cid, -2.0):
            out[cid] = score
    return out
