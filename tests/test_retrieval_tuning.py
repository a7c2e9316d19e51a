"""The tuned retrieval pieces on small hand-checkable cases: heading-weighted BM25, weighted
query scoring, RM3-style feedback, dense feedback and the note bonus."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from app.retrieval import note_bonus, rocchio
from ingest.bm25 import (
    PRF,
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


def test_prf_adds_terms_of_the_top_documents_and_keeps_the_original_ones() -> None:
    index = BM25Index.build(list("abcd"), CORPUS, LUCENE)
    vocab = index.retriever.vocab_dict
    weights = index.query_weights("cat")
    scores = index.weighted_scores(weights)
    expanded = index.expand(weights, scores, PRF(docs=2, terms=3, weight=0.5))
    names = {token: expanded[i] for token, i in vocab.items() if i in expanded}
    # original term kept with at least 1 - weight of the mass
    assert names["cat"] >= 0.5
    # expansion terms come from the two "cat" documents only ("dog", "bark" never appear)
    assert "felin" in names and not {"dog", "bark"} & names.keys()
    assert sum(expanded.values()) == pytest.approx(1.0)
    # the feline note without the word "cat" is now found; the dog note still is not
    with_prf = index.scores("cat", PRF(docs=2, terms=3, weight=0.5))
    assert scores[3] == 0 and with_prf[3] > 0 and with_prf[2] == 0
    assert with_prf[0] > with_prf[3] and with_prf[1] > with_prf[3]


def test_prf_never_drops_a_query_term_even_at_full_weight() -> None:
    index = BM25Index.build(list("abcd"), CORPUS, LUCENE)
    weights = index.query_weights("dog whiskers")
    expanded = index.expand(weights, index.weighted_scores(weights), PRF(docs=1, terms=1, weight=1))
    assert set(weights) <= set(expanded)


def test_prf_without_any_match_leaves_the_query_alone() -> None:
    index = BM25Index.build(list("abcd"), CORPUS, LUCENE)
    assert index.expand({}, np.zeros(4, dtype=np.float32), PRF()) == {}


def test_rocchio_moves_the_query_towards_the_feedback_documents() -> None:
    query = np.array([1.0, 0.0], dtype=np.float32)
    docs = np.array([[0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    moved = rocchio(query, docs, alpha=1.0)
    assert np.allclose(moved, [np.sqrt(0.5), np.sqrt(0.5)])
    assert rocchio(query, docs, alpha=0.0) is query


def test_note_bonus_adds_the_best_other_chunk_of_the_same_note() -> None:
    ranked = [("a1", 1.0), ("b1", 0.95), ("a2", 0.5), ("b2", 0.1), ("c1", 0.9)]
    source = {"a1": "a.md", "a2": "a.md", "b1": "b.md", "b2": "b.md", "c1": "c.md"}
    boosted = dict(note_bonus(ranked, source, 0.2))
    assert boosted["a1"] == pytest.approx(1.0 + 0.2 * 0.5)
    assert boosted["a2"] == pytest.approx(0.5 + 0.2 * 1.0)
    assert boosted["b1"] == pytest.approx(0.95 + 0.2 * 0.1)
    assert boosted["c1"] == pytest.approx(0.9)  # a note with one matching chunk gets nothing
    assert note_bonus(ranked, source, 0.0) == ranked


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
