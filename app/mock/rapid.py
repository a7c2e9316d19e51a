"""Planning a rapid-fire round: N questions (a minute each) from the cards of your notes on
syllabus topics outside system design (or on one topic); each is graded against the answer you
wrote beside it (``card_step``). A question typed in, or a topic asked as "Explain ...", is
graded against the passage units that answer it (retrieval, then the extractive generator's unit
scores: ``rapid_step``)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from sharpnotes.app.mock.plan import MockError, MockPlan, Point, Step, is_point, passage_of
from sharpnotes.ingest.cards import find_cards, real_answer
from sharpnotes.ingest.text import clean_heading, list_parents

if TYPE_CHECKING:
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.app.syllabus import Topic
    from sharpnotes.ingest.catalog import ChunkRow

RAPID_SECONDS = 60
# a rapid-fire question: passages retrieved, key points kept (its best units within RAPID_KEEP of
# the best one). These three were chosen on the tune half of eval/mock_answers.jsonl
# (eval/benchmarks/mock_grading.py): order accuracy 0.83 -> 0.96 there.
RAPID_PASSAGES = 2
RAPID_POINTS = 5
RAPID_KEEP = 0.75


def rapid_step(searcher: Searcher, question: str, key: str = "q1") -> Step:
    """One rapid-fire question with the units of the notes that answer it as key points."""
    from sharpnotes.app.extractive import above, score_units

    results = searcher.search(question, k=RAPID_PASSAGES)
    scored = score_units(searcher.embedder(), question, results)
    scored = [s for s in scored if is_point(s.unit.clean)]
    nested = [list_parents(r.text) for r in results]
    points: list[Point] = []
    if scored:
        best = max(s.score for s in scored)
        kept = sorted((s for s in scored if s.score >= RAPID_KEEP * best), key=lambda s: -s.score)[
            :RAPID_POINTS
        ]
        seen: set[str] = set()
        for s in kept:
            if s.unit.clean not in seen:
                seen.add(s.unit.clean)
                up = above(s.unit, nested[s.passage])
                points.append(Point(s.unit.clean, passage_of(results[s.passage]), up))
    return Step(key, question, question, points, RAPID_SECONDS)


def card_step(question: str, answer: str, row: ChunkRow, key: str = "q1") -> Step:
    """A rapid-fire question that is one of the learner's Q/A lines, graded against the answer
    written beside it: its clauses are the key points (the whole answer when none states
    enough to be a point on its own)."""
    from sharpnotes.app.quiz.handwritten import key_points, topic_of

    answer = answer.strip()
    said = [p for p in key_points(answer) if is_point(p) and p in row.text] or [answer]
    points = [Point(p, passage_of(row)) for p in said]
    topic = topic_of(question, row.heading)  # a card asks "Why not MSE?" under its topic
    asked = f"{question} ({topic})" if topic else question
    return Step(key, asked, asked, points, RAPID_SECONDS)


def rapid_questions(
    searcher: Searcher, n: int, seed: int, topic: Topic | None = None
) -> list[tuple[str, str, ChunkRow | None]]:
    """N questions from the cards (``ingest.cards``: "Q: ... A: ...", a bold question over its
    answer) of the notes linked to syllabus topics outside system
    design (or to ``topic``), taken across the notes (``round_robin``), each with the answer
    written beside it and its chunk (no chunk when that answer is a placeholder); topics
    without one are asked as "Explain ..." (no answer, no chunk)."""
    from sharpnotes.app.quiz.generate import round_robin
    from sharpnotes.app.topics import syllabus_links

    syllabus, links = syllabus_links(searcher)
    topics = [topic] if topic else [t for t in syllabus.topics if t.area != "system-design"]
    ids = sorted({link.chunk_id for t in topics for link in links.get(t.id, [])})
    rows = searcher.catalog.get_chunks(ids)
    asked: dict[str, tuple[str, str, ChunkRow | None]] = {}
    for t in topics:
        for link in links.get(t.id, []):
            row = rows.get(link.chunk_id)
            for card in find_cards(row.text) if row is not None else []:
                q = clean_heading(card.question).strip()
                if card.kind != "qa" or card.reverse or not q.endswith(("?", "？")) or q in asked:
                    continue
                # an answer still to write ("TODO") is graded against the notes instead
                asked[q] = (q, card.answer, row if real_answer(card.answer) else None)
    rng = random.Random(seed)
    # one note's card in turn: six questions were all of the one note with most Q/A lines
    found = round_robin(list(asked.values()), lambda one: one[2].source if one[2] else "", rng)
    if len(found) < n:
        covered = [t for t in topics if links.get(t.id)]
        rng.shuffle(covered)
        found += [(f"Explain {t.title} as you would in an interview.", "", None) for t in covered]
    if not found:
        raise MockError("no notes on the syllabus topics yet; run: sharpnotes ingest PATH")
    return found[:n]


def plan_rapid(searcher: Searcher, n: int, seed: int, topic: Topic | None = None) -> MockPlan:
    asked = rapid_questions(searcher, n, seed, topic)
    steps = [
        card_step(q, a, row, f"q{i}") if row is not None else rapid_step(searcher, q, f"q{i}")
        for i, (q, a, row) in enumerate(asked, start=1)
    ]
    what = f" on {topic.title}" if topic else ""
    return MockPlan(
        "rapid", f"Rapid fire: {len(steps)} questions{what}",
        f"{len(steps)} fundamentals questions, a minute each.",
        len(steps) * RAPID_SECONDS / 60, steps,
    )  # fmt: skip
