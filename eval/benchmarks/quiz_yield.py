"""How many questions a learner gets before the quizzes run dry, and of which kind, with the
share of blanks cut from single sentences (``study.sentence_share``) at each value given.

    python -m sharpnotes.eval.benchmarks.quiz_yield [--shares 0.2 1] [--n 5] [--seed 1] \\
        [--out eval/benchmarks/results/quiz-yield.json]

A learner takes mixed quizzes of ``--n`` items one after another, each leaving out the passages
already quizzed but their cards not asked yet (``quiz`` without a topic), until a quiz comes back
empty. Per corpus (the sample
notes and ``mlnotes``, both halves: this counts items, it rates none) and share: quizzes taken,
items by kind (the learner's cards, tables and lists, sentences), and how many quizzes came back
full. The corpus is chunked as ingest does and no model is loaded, like ``quiz_sample
--no-index`` (MCQ distractors without the embedding re-rank).
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from sharpnotes.app.retrieval import SearchResult
from sharpnotes.eval.benchmarks.paths import RESULTS, write_results
from sharpnotes.eval.benchmarks.quiz_quality import CORPORA
from sharpnotes.eval.benchmarks.quiz_sample import _chunks, offline_writer


def candidates(corpus: str, seed: int) -> list[tuple[SearchResult, list]]:
    """Every passage of ``corpus`` with its gated items."""
    from sharpnotes.app.quiz.generate import _as_result

    chunks = _chunks(CORPORA[corpus])
    items = offline_writer(chunks, random.Random(seed))
    return [(passage, items(passage)) for passage in map(_as_result, chunks, range(len(chunks)))]


def run_dry(passages: list[tuple[SearchResult, list]], n: int, share: float, seed: int) -> dict:
    from sharpnotes.app.quiz.generate import OVERSAMPLE, SENTENCE, choose, gather, sentence_cap
    from sharpnotes.app.quiz.handwritten import GENERATOR as CARD

    made = {p.chunk_id: items for p, items in passages}
    rng = random.Random(seed)
    quizzed: set[str] = set()
    asked: set[str] = set()
    kinds: Counter[str] = Counter()
    sizes: list[int] = []

    def offered(passage: SearchResult, written: bool = True) -> list:
        items = [i for i in made[passage.chunk_id] if i.id not in asked]
        if passage.chunk_id in quizzed:  # quizzed before: only its cards not asked yet
            items = [i for i in items if i.generator == CARD]
        return items if written else [i for i in items if i.generator != SENTENCE]

    cap = sentence_cap(n, share)
    while True:
        order = [p for p, _ in passages if p.chunk_id not in quizzed or offered(p)]
        rng.shuffle(order)
        kept = choose(gather(order, n, OVERSAMPLE * n, cap, offered), n, {}, cap=cap)
        if not kept:
            break
        sizes.append(len(kept))
        quizzed.update(i.citation.chunk_id for i in kept)
        asked.update(i.id for i in kept)
        kinds.update(i.generator for i in kept)
    return {
        "quizzes": len(sizes),
        "items": sum(sizes),
        "full_quizzes": sum(s == n for s in sizes),
        "by_kind": {
            "cards": kinds[CARD],
            "tables_and_lists": kinds["structure"],
            "sentences": kinds[SENTENCE],
        },  # fmt: skip
        "items_before_first_short_quiz": sum(
            sizes[: next((k for k, s in enumerate(sizes) if s < n), len(sizes))]
        ),  # fmt: skip
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.2, 1.0])
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "quiz-yield.json")
    args = parser.parse_args(argv)
    report: dict = {}
    for corpus in CORPORA:
        passages = candidates(corpus, args.seed)
        report[corpus] = {"passages": len(passages)}
        for share in args.shares:
            row = run_dry(passages, args.n, share, args.seed)
            report[corpus][f"share {share:g}"] = row
            print(corpus, f"share {share:g}", row)
    write_results(args.out, report, {"n": args.n, "shares": args.shares, "seed": args.seed})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
