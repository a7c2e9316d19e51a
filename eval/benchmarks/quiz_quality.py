"""Quality of generated quizzes, on the sample notes and on someone else's notes.

    python -m sharpnotes.eval.benchmarks.quiz_quality [--corpus notes|mlnotes|both] [--n 300]
        [--kind mixed] [--json]

Generates ``--n`` items (offline generator) from a cached index of the corpus and checks each:
its evidence occurs verbatim in its passage; for cloze and MCQ the evidence contains the answer;
the question does not contain the answer (case, spacing, hyphens and plural folded); MCQ options
are four distinct strings of the answer's kind; and, used as a search query (hybrid, the
default), the question retrieves its own passage in the top 5 (the issue asks for 80%: a
question specific enough to have one answer in the notes).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from sharpnotes.eval.benchmarks.notes import CACHE
from sharpnotes.eval.benchmarks.paths import MLNOTES, REPO
from sharpnotes.ingest.settings import Settings

CORPORA = {
    "notes": REPO / "notes",
    "mlnotes": MLNOTES,
}


def corpus_index(name: str) -> Settings:
    """Settings of a cached index of corpus ``name``, brought up to date first."""
    from sharpnotes.eval.benchmarks.notes import notes_index
    from sharpnotes.ingest.sync import ingest

    if name == "notes":
        return notes_index(CORPORA["notes"])
    settings = Settings(home=CACHE.parent / f"quiz-{name}" / "home")
    report = ingest([CORPORA[name]], settings)
    for source, reason in report.failed:  # mlnotes has an empty file; the rest is usable
        print(f"skipped {source}: {reason}", file=sys.stderr)
    return settings


def measure(settings: Settings, n: int, kind: str, seed: int, k: int = 5) -> dict:
    from sharpnotes.app.quiz.generate import generate_quiz
    from sharpnotes.app.quiz.terms import near_equal, term_kind
    from sharpnotes.app.quiz.verify import contains_term, squash
    from sharpnotes.app.retrieval import Searcher

    searcher = Searcher(settings)
    batch = generate_quiz(settings, n=n, kind=kind, seed=seed, searcher=searcher)
    fails: Counter[str] = Counter()
    found_by_type: Counter[str] = Counter()
    misses: list[dict] = []
    for item in batch.items:
        if item.evidence not in item.passage:
            fails["evidence not in passage"] += 1
        if item.type != "recall" and squash(item.answer) not in squash(item.evidence):
            fails["answer not in evidence"] += 1
        if contains_term(item.question, item.answer):
            fails["question contains answer"] += 1
        if item.type == "mcq":
            options = item.options or []
            distinct = len(options) == 4 and not any(
                near_equal(a, b) for i, a in enumerate(options) for b in options[i + 1 :]
            )
            if not distinct or item.answer not in options:
                fails["mcq options not 4 distinct with the answer"] += 1
            if {term_kind(o) for o in options} != {term_kind(item.answer)}:
                fails["mcq option of another kind"] += 1
        top = [r.chunk_id for r in searcher.search(item.question, k=k)]
        if item.citation.chunk_id in top:
            found_by_type[item.type] += 1
        else:
            misses.append({"type": item.type, "question": item.question})
    by_type = Counter(i.type for i in batch.items)
    total = len(batch.items)
    return {
        "items": total,
        "by_type": dict(by_type),
        "dropped": batch.dropped,
        "failed_checks": dict(fails),
        f"own_passage_top{k}": round(sum(found_by_type.values()) / max(1, total), 3),
        f"own_passage_top{k}_by_type": {
            t: round(found_by_type[t] / by_type[t], 3) for t in sorted(by_type)
        },
        "misses": misses,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=["notes", "mlnotes", "both"], default="both")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--kind", default="mixed", choices=["mcq", "cloze", "recall", "mixed"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show-misses", type=int, default=0, help="print this many misses")
    args = parser.parse_args(argv)

    names = ["notes", "mlnotes"] if args.corpus == "both" else [args.corpus]
    results = {name: measure(corpus_index(name), args.n, args.kind, args.seed) for name in names}
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return
    for name, r in results.items():
        print(f"{name}: {r['items']} items {r['by_type']}")
        print(f"  dropped: {r['dropped']}")
        print(f"  failed checks: {r['failed_checks'] or 'none'}")
        print(
            f"  own passage in top 5: {r['own_passage_top5']:.1%} "
            f"(by type {r['own_passage_top5_by_type']})"
        )
        for miss in r["misses"][: args.show_misses]:
            print(f"    miss [{miss['type']}] {miss['question']}")


if __name__ == "__main__":
    main()
