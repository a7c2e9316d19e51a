"""The tuned retrieval pieces on small hand-checkable cases: heading-weighted BM25, weighted
query scoring and dense feedback."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sharpnotes.app.retrieval import rocchio
from sharpnotes.ingest.bm25 import (
    BM25Index,
    BM25Params,
    bm25_text,
    ids_digest,
    split_embed_text,
    tokenize,
)

CORPUS = ["cat feline whiskers", "cat feline purr", "dog bark", "feline purr whiskers"]
# fixed parameters, so the hand-checked cases do not move when the tuned defaults do
LUCENE = BM25Params(k1=1.2, b=0.75, method="lucene", heading_weight=1)


# embed texts as chunking writes them: heading path, blank line, text
HEADING_MATCH = "Dropout\n\nRandomly zero activations while training a network."
BODY_MATCH = (
    "Training tricks\n\nDropout, dropout rates and where dropout goes in a transformer block."
)


def test_heading_weight_repeats_only_the_heading() -> None:
    assert split_embed_text(HEADING_MATCH) == ("Dropout", HEADING_MATCH.split("\n\n", 1)[1])
    assert bm25_text(HEADING_MATCH, 1) == HEADING_MATCH
    assert tokenize(bm25_text(HEADING_MATCH, 3)).count("dropout") == 3
    assert split_embed_text("no heading here") == ("", "no heading here")


def test_heading_weighted_bm25_ranks_the_heading_match_first() -> None:
    ids, texts = ["heading", "body"], [HEADING_MATCH, BODY_MATCH]
    flat = BM25Index.build(ids, texts, replace(LUCENE, heading_weight=1)).scores("dropout")
    weighted = BM25Index.build(ids, texts, replace(LUCENE, heading_weight=3)).scores("dropout")
    assert flat[1] > flat[0]  # three mentions in the body win without field weighting
    assert weighted[0] > weighted[1]  # the note *about* dropout wins with it


def test_weighted_scores_equal_bm25s_own_scores_for_plain_queries() -> None:
    index = BM25Index.build(list("abcd"), CORPUS, LUCENE)
    for query in ("cat", "feline purr", "cat cat dog"):
        tokens = [t for t in tokenize(query) if t in index.retriever.vocab_dict]
        expected = index.retriever.get_scores(tokens)
        assert np.allclose(index.scores(query), expected, atol=1e-6)


def test_rocchio_moves_the_query_towards_the_feedback_documents() -> None:
    query = np.array([1.0, 0.0], dtype=np.float32)
    docs = np.array([[0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    moved = rocchio(query, docs, alpha=1.0)
    assert np.allclose(moved, [np.sqrt(0.5), np.sqrt(0.5)])
    assert rocchio(query, docs, alpha=0.0) is query


def test_the_bm25_fingerprint_changes_with_how_bm25_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An ingest compares this fingerprint with the one stored beside the BM25 build, so new
    BM25 parameters rebuild BM25 on the next ingest (without re-embedding anything)."""
    ids = ["a", "b"]
    before = ids_digest(ids)
    assert ids_digest(list(reversed(ids))) == before
    monkeypatch.setattr(BM25Params, "signature", lambda self: "k1=2.0")
    assert ids_digest(ids) != before
