"""Misspelt words of a question, corrected against the notes' own words (``app.spelling``), on a
real BM25 build and the default model's vocabulary; and through ``Searcher`` and ``ask``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sharpnotes.app.spelling import correct, edits, known_words
from sharpnotes.ingest.bm25 import BM25Index, BM25Params
from sharpnotes.ingest.embedding import resolve_model
from sharpnotes.ingest.settings import Settings


class Notes:
    """A BM25 build of ``texts`` and the texts, as ``correct`` reads notes."""

    def __init__(self, *texts: str) -> None:
        self.texts = {str(i): t for i, t in enumerate(texts)}
        self.index = BM25Index.build(list(self.texts), list(self.texts.values()), BM25Params())

    def frequency(self, token: str) -> int:
        return self.index.frequency(token)

    def written(self, word: str, token: str) -> bool:
        held = [self.texts[i] for i in self.index.holders(token, 20)]
        return any(re.search(rf"\b{word}\b", t, re.IGNORECASE) for t in held)


@pytest.fixture(scope="module")
def common() -> frozenset[str]:
    return known_words(resolve_model("all-MiniLM-L6-v2")[1])


NOTES = Notes(
    "Factorization machines model pairwise interactions with factorised weights.",
    "KTO learns from binary feedback: a thumbs up or down, no preference pairs.",
    "Treatment of related work: a short survey.",
)


def test_one_edit_away_covers_deletes_inserts_replaces_and_swaps() -> None:
    near = edits("feedbak")
    assert {"feedback", "fedbak", "feedbck", "efedbak", "feedbax"} <= near
    assert "feedbak" not in near


def test_a_typo_becomes_the_word_the_notes_write(common: frozenset[str]) -> None:
    question = "factorizaton machine: kto binary feedbak"
    assert correct(question, NOTES, common) == "factorization machine: kto binary feedback"
    assert correct("Feedbak loops", NOTES, common) == "Feedback loops"  # the capital is kept


def test_names_short_words_and_real_english_words_are_never_touched(
    common: frozenset[str],
) -> None:
    # names as written, a short word, a common English word the notes lack, a glossary word
    for question in ("How does PointPilars work?", "Is KTOO better?", "cooking pasta",
                     "gradient clipping"):  # fmt: skip
        assert correct(question, NOTES, common) == question
    # a word with the prefix a- says the opposite of the word the notes write
    notes = Notes("Symmetric quantization keeps the zero point at 0.")
    assert correct("asymmetric quantization", notes, common) == "asymmetric quantization"
    assert correct("symetric quantization", notes, common) == "symmetric quantization"


def test_a_neighbour_whose_stem_the_notes_hold_but_never_write_is_not_taken(
    common: frozenset[str],
) -> None:
    # "relatment" stems to "relat", which "related" gives the notes; "treatment" is written
    assert correct("reatment of work", NOTES, common) == "treatment of work"
    notes = Notes("Related work only.")
    assert correct("reatment of work", notes, common) == "reatment of work"


def test_without_a_vocabulary_file_nothing_is_corrected(tmp_path: Path) -> None:
    assert known_words(tmp_path) == frozenset()
    assert correct("feedbak", NOTES, known_words(tmp_path)) == "feedbak"


def test_search_and_ask_read_the_corrected_question(
    review_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sharpnotes.app.answer import answer_question
    from sharpnotes.app.retrieval import Searcher

    searcher = Searcher(review_env)
    typo = "How does hungarain matching pair predictions with boxes?"
    fixed = "How does hungarian matching pair predictions with boxes?"
    assert searcher.spelled(typo) == fixed
    assert searcher.search(typo, k=3) == searcher.search(fixed, k=3)
    answer = answer_question(typo, searcher, review_env, record=False)
    assert not answer.refused and answer.question == typo and answer.spelled == fixed
    assert answer.to_dict()["spelled"] == fixed

    monkeypatch.setenv("SHARPNOTES_SPELLING", "0")
    off = Searcher(Settings())
    assert off.spelled(typo) == typo
