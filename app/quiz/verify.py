"""Checks every quiz item passes before it is shown, whoever wrote it (offline rules or an LLM).

An item is dropped, with the reason counted, when its evidence is not a verbatim span of its
passage, a cloze or MCQ answer is not in the evidence, the question gives the answer away (it
contains the answer, a plural or hyphen variant of it, or an expansion of the acronym; a recall
question that already holds every key point), MCQ options are not four distinct strings with
the answer among them, or it repeats an item already made (same question, or same passage and
answer). Whether an LLM's recall answer is supported by the passage is checked in
``app.quiz.llm_quiz`` (it needs the embedder).
"""

from __future__ import annotations

import re
from collections import Counter

from sharpnotes.app.quiz.items import QuizItem
from sharpnotes.app.quiz.terms import fold, near_equal, term_kind
from sharpnotes.ingest.text import terms

EVIDENCE_NOT_IN_PASSAGE = "evidence not in passage"
ANSWER_NOT_IN_EVIDENCE = "answer not in evidence"
SELF_ANSWERING = "self-answering"
BAD_OPTIONS = "bad options"
DUPLICATE = "duplicate"
NO_SENTENCE = "no usable sentence"
UNSUPPORTED = "answer not supported by passage"
MALFORMED = "malformed item"


def squash(text: str) -> str:
    """Lower case, whitespace collapsed: for containment tests that ignore layout."""
    return " ".join(text.lower().split())


def contains_term(text: str, answer: str) -> bool:
    """True when ``text`` holds ``answer`` up to case, whitespace, hyphens and plural."""
    needle = squash(answer)
    if needle and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", squash(text)):
        return True
    key = fold(answer)
    if not key:
        return False
    return f" {key} " in f" {fold(text)} "


def gives_away(question: str, answer: str, synonyms: set[str] = frozenset()) -> bool:  # type: ignore[assignment]
    """The question contains the answer or one of its synonyms (folded forms)."""
    if contains_term(question, answer):
        return True
    folded = f" {fold(question)} "
    return any(s and f" {s} " in folded for s in synonyms)


def recall_self_answering(item: QuizItem) -> bool:
    """A recall question whose own words cover every key point (or the whole answer)."""
    if contains_term(item.question, item.answer):
        return True
    asked = terms(item.question)
    points = [terms(p) - asked for p in item.key_points] or [terms(item.answer) - asked]
    return all(not p for p in points)


def check(item: QuizItem, synonyms: set[str] = frozenset()) -> str | None:  # type: ignore[assignment]
    """The reason to drop ``item``, or None when it may be shown."""
    if not item.question.strip() or not item.answer.strip() or not item.evidence.strip():
        return MALFORMED
    if item.evidence not in item.passage:
        return EVIDENCE_NOT_IN_PASSAGE
    if item.type == "recall":
        return SELF_ANSWERING if recall_self_answering(item) else None
    if not contains_term(item.evidence, item.answer):
        return ANSWER_NOT_IN_EVIDENCE
    if gives_away(item.question, item.answer, synonyms):
        return SELF_ANSWERING
    if item.type == "cloze" and "____" not in item.question:
        return MALFORMED
    if item.type == "mcq":
        options = item.options or []
        if len(options) != 4 or item.answer not in options:
            return BAD_OPTIONS
        if any(near_equal(a, b) for i, a in enumerate(options) for b in options[i + 1 :]):
            return BAD_OPTIONS
        kind = term_kind(item.answer)
        if any(term_kind(o) != kind for o in options):
            return BAD_OPTIONS
        if any(o != item.answer and contains_term(item.question, o) for o in options):
            return BAD_OPTIONS  # a distractor named in the question is ruled out on sight
    return None


def fact_of(item: QuizItem) -> tuple[str, str]:
    """The fact an item asks for: its passage (chunk id) and its answer, folded. The cloze and
    the MCQ of one blank share it: one quiz holds one of them (``Deduper``), and the review
    queue asks one of them a day (``app.quiz.session.Siblings``)."""
    return item.citation.chunk_id, fold(item.answer) or squash(item.answer)


class Deduper:
    """Remembers the items kept so far: the same question text, or the same passage and answer
    (``fact_of``), is a duplicate."""

    def __init__(self) -> None:
        self.questions: set[str] = set()
        self.answers: set[tuple[str, str]] = set()

    def seen(self, item: QuizItem) -> bool:
        question = re.sub(r"\W+", " ", item.question.lower()).strip()
        answer = fact_of(item)
        if question in self.questions or answer in self.answers:
            return True
        self.questions.add(question)
        self.answers.add(answer)
        return False


def count(dropped: Counter[str] | dict[str, int], reason: str, n: int = 1) -> None:
    dropped[reason] = dropped.get(reason, 0) + n


def passing(
    items: list[QuizItem], label: str, dropped: dict[str, int] | None = None
) -> tuple[list[QuizItem], dict[str, int]]:
    """The items that pass ``check``, and the others counted as "``label``: reason" (into
    ``dropped`` when given)."""
    dropped = {} if dropped is None else dropped
    kept: list[QuizItem] = []
    for item in items:
        why = check(item)
        if why:
            count(dropped, f"{label}: {why}")
        else:
            kept.append(item)
    return kept, dropped
