"""Planning a rapid-fire round: N questions (a minute each) from the Q/A lines of your notes on
syllabus topics outside system design (or on one topic); each is graded against the passage units
that answer it (retrieval, then the extractive generator's unit scores)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from sharpnotes.app.mock.plan import MockError, MockPlan, Point, Step, is_point, passage_of
from sharpnotes.app.today import QA_LINE
from sharpnotes.ingest.text import clean_heading, list_parents

if TYPE_CHECKING:
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.app.syllabus import Topic

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


def rapid_questions(searcher: Searcher, n: int, seed: int, topic: Topic | None = None) -> list[str]:
    """N questions from the Q/A lines of the notes linked to syllabus topics outside system
    design (or to ``topic``); topics without one are asked as "Explain ..."."""
    from sharpnotes.app.topics import syllabus_links

    syllabus, links = syllabus_links(searcher)
    topics = [topic] if topic else [t for t in syllabus.topics if t.area != "system-design"]
    ids = sorted({link.chunk_id for t in topics for link in links.get(t.id, [])})
    rows = searcher.catalog.get_chunks(ids)
    asked: list[str] = []
    for t in topics:
        for link in links.get(t.id, []):
            row = rows.get(link.chunk_id)
            for m in QA_LINE.finditer(row.text if row else ""):
                q = clean_heading(m.group("q")).strip()
                if q.endswith(("?", "？")) and q not in asked:
                    asked.append(q)
    rng = random.Random(seed)
    rng.shuffle(asked)
    if len(asked) < n:
        covered = [t for t in topics if links.get(t.id)]
        rng.shuffle(covered)
        asked += [f"Explain {t.title} as you would in an interview." for t in covered]
    if not asked:
        raise MockError("no notes on the syllabus topics yet; run: sharpnotes ingest PATH")
    return asked[:n]


def plan_rapid(searcher: Searcher, n: int, seed: int, topic: Topic | None = None) -> MockPlan:
    questions = rapid_questions(searcher, n, seed, topic)
    steps = [rapid_step(searcher, q, f"q{i}") for i, q in enumerate(questions, start=1)]
    what = f" on {topic.title}" if topic else ""
    return MockPlan(
        "rapid", f"Rapid fire: {len(steps)} questions{what}",
        f"{len(steps)} fundamentals questions, a minute each.",
        len(steps) * RAPID_SECONDS / 60, steps,
    )  # fmt: skip
