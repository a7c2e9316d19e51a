"""Grading typed answers to the learner's own cards, offline: does a right answer in other words,
or in the other language, pass, and does a wrong one fail?

    python -m sharpnotes.eval.benchmarks.card_grading [--variant NAME ...] \\
        [--out eval/benchmarks/results/card-grading.json]

Set: ``eval/card_answers.jsonl``, 40 question-and-answer cards of the sample notes (``notes/``,
found by ``ingest.cards.find_cards``), each with four typed answers written by a helper who never
saw the grader: a right one in other words ("good"), a right one in the other language
("good_other_language"), a partial one and a wrong one. ``split`` (by card) was fixed when the
set was made: settings are chosen on the tune half, the holdout half is read once after.

Each answer is graded as ``sharpnotes review --type-answers`` grades a card (``app.quiz.grade``,
offline; key points from ``app.quiz.handwritten.key_points``). Per half and per kind: the share
graded correct (score >= ``CORRECT_SCORE``) and the mean score; **right passed** (both right
kinds graded correct), **wrong passed** (wrong answers graded correct), **order** (the share of a
card's good > partial > wrong pairs, both right kinds against the other two, scored strictly in
that order).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from itertools import product
from pathlib import Path

from sharpnotes.eval.benchmarks.paths import REPO, RESULTS, write_results

SET = REPO / "eval" / "card_answers.jsonl"
RIGHT = ("good", "good_other_language")
RANK = {"good": 2, "good_other_language": 2, "partial": 1, "wrong": 0}


def item_of(row: dict):
    from sharpnotes.app.quiz.handwritten import key_points
    from sharpnotes.app.quiz.items import Citation, QuizItem

    return QuizItem(
        type="recall",
        question=row["question"],
        answer=row["reference"],
        evidence=row["reference"],
        passage=f"Q: {row['question']}\nA: {row['reference']}",
        citation=Citation(row["card"], row["source"], ""),
        key_points=key_points(row["reference"]),
    )


def measure(rows: list[dict]) -> dict:
    from sharpnotes.app.quiz.grade import CORRECT_SCORE, offline_recall
    from sharpnotes.ingest.settings import get_settings

    settings = get_settings()
    scores = {}
    for row in rows:
        graded = offline_recall(item_of(row), row["answer"], settings)
        scores[(row["card"], row["kind"])] = graded.score
    out: dict = {}
    for half in sorted({r["split"] for r in rows}):
        mine = [r for r in rows if r["split"] == half]
        by_kind: dict[str, list[float]] = defaultdict(list)
        for r in mine:
            by_kind[r["kind"]].append(scores[(r["card"], r["kind"])])
        pairs = ordered = 0
        for card in sorted({r["card"] for r in mine}):
            kinds = {r["kind"] for r in mine if r["card"] == card}
            for a, b in product(kinds, kinds):
                if RANK[a] > RANK[b]:
                    pairs += 1
                    ordered += scores[(card, a)] > scores[(card, b)]
        right = [s for k in RIGHT for s in by_kind[k]]
        out[half] = {
            "cards": len({r["card"] for r in mine}),
            "right_passed": round(sum(s >= CORRECT_SCORE for s in right) / len(right), 3),
            "wrong_passed": round(
                sum(s >= CORRECT_SCORE for s in by_kind["wrong"]) / len(by_kind["wrong"]), 3
            ),
            "order": round(ordered / pairs, 3) if pairs else None,
            "by_kind": {
                k: {
                    "passed": round(sum(s >= CORRECT_SCORE for s in v) / len(v), 3),
                    "mean_score": round(sum(v) / len(v), 3),
                }
                for k, v in sorted(by_kind.items())
            },
        }
    out["rows"] = [
        {"card": c, "kind": k, "score": round(s, 3)} for (c, k), s in sorted(scores.items())
    ]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", type=Path, default=SET)
    parser.add_argument("--out", type=Path, default=RESULTS / "card-grading.json")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.set.read_text(encoding="utf-8").splitlines() if line]
    from sharpnotes.app.quiz import grade

    figures = measure(rows)
    settings = {
        "set": str(args.set),
        "answers": len(rows),
        "point_overlap": grade.POINT_OVERLAP,
        "point_cosine": grade.POINT_COSINE,
        "cross_covered": grade.CROSS_COVERED,
    }
    write_results(args.out, figures, settings)
    for half in ("tune", "holdout"):
        if half in figures:
            print(half, json.dumps({k: v for k, v in figures[half].items()}))


if __name__ == "__main__":
    main()
