"""What the quality gate keeps of rated items, and their rubric scores.

    python -m sharpnotes.eval.benchmarks.quiz_gate_check SAMPLE.jsonl [--ratings FILE]

``SAMPLE.jsonl`` is a ``quiz_sample --ungated`` file (full items, so the gate can be re-run);
the ratings (default ``eval/quiz_ratings.jsonl``) are matched by item id. The gate runs with
each corpus half's lexicon (``Lexicon.emphasised``), as generation does.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from sharpnotes.eval.benchmarks.paths import REPO


def main(argv: list[str] | None = None) -> int:
    from sharpnotes.app.quiz import gate
    from sharpnotes.app.quiz.items import QuizItem
    from sharpnotes.app.quiz.terms import Lexicon
    from sharpnotes.eval.benchmarks.quiz_sample import CORPORA, _chunks
    from sharpnotes.eval.quiz import load_ratings, split_of, summarise

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sample", type=Path)
    parser.add_argument("--ratings", type=Path, default=REPO / "eval" / "quiz_ratings.jsonl")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.sample.read_text(encoding="utf-8").splitlines()]
    rated = {r["id"]: r for r in load_ratings(args.ratings) if "id" in r}
    lexicons: dict[tuple[str, str], set[str]] = {}
    kept: list[dict] = []
    rated_dropped: list[dict] = []
    dropped: Counter[str] = Counter()
    for row in rows:
        key = (row["corpus"], row["split"])
        if key not in lexicons:
            chunks = [c for c in _chunks(CORPORA[key[0]]) if split_of(c.source) == key[1]]
            lexicons[key] = Lexicon.from_rows(chunks).emphasised()
        why = gate.reason(QuizItem.from_record(row), lexicons[key])
        rating = rated.get(row["id"])
        if why:
            dropped[why] += 1
            if rating:
                rated_dropped.append(rating)
        elif rating:
            kept.append(rating)
    print(json.dumps({
        "items": len(rows),
        "all_rated": summarise([rated[r["id"]] for r in rows if r["id"] in rated]),
        "kept_by_gate": summarise(kept),
        "dropped_by_gate": summarise(rated_dropped),
        "drop_reasons": dict(dropped.most_common()),
    }, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
