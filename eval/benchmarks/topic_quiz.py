"""Quizzes on a topic: how many items ask from a passage that names the topic.

For every topic of the default syllabus whose title is made of names (``quiz.generate.
topic_names``), a quiz of N items on the title, with and without the rule that asks only from
the retrieved passages that write one of those names and the cards that name them
(``quiz.generate.naming``, ``on_topic``; off: ``topic_names`` patched to find none), same seed and
index. An item counts as on the topic when its passage (heading and text) writes every word of
one of the names: a proxy that a reader would call on the topic, not a judgement of quality.

    python -m sharpnotes.eval.benchmarks.topic_quiz --home HOME [--n 6] [--seed 1] \
        [--out eval/benchmarks/results/topic-quiz.json]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sharpnotes.eval.benchmarks.paths import REPO, RESULTS, write_results


def run(home: Path, n: int, seed: int) -> list[dict]:
    import yaml

    from sharpnotes.app.quiz import generate
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.ingest.settings import Settings

    settings = Settings(home=home)
    searcher = Searcher(settings)
    syllabus = yaml.safe_load((REPO / "notes" / "syllabus.yaml").read_text())
    rule, writes = generate.topic_names, generate.writes_name
    rows = []
    try:
        for topic in syllabus["topics"]:
            title = topic["title"]
            names = generate.topic_names(title)
            if not names:
                continue
            row: dict = {"topic": title}
            for mode, named in (("without", lambda _topic: []), ("with", rule)):
                generate.topic_names = named
                batch = generate.generate_quiz(
                    settings, topic=title, n=n, searcher=searcher, seed=seed
                )
                on = sum(
                    writes(names, f"{item.citation.heading}\n{item.passage}")
                    for item in batch.items
                )
                row[mode] = {"items": len(batch.items), "on_topic": on}
            rows.append(row)
            print(row, flush=True)
    finally:
        generate.topic_names = rule
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="an index of the sample notes")
    parser.add_argument("--n", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS / "topic-quiz.json")
    args = parser.parse_args(argv)
    rows = run(args.home, args.n, args.seed)
    totals = {
        mode: {
            "items": sum(r[mode]["items"] for r in rows),
            "on_topic": sum(r[mode]["on_topic"] for r in rows),
        }
        for mode in ("without", "with")
    }
    write_results(
        args.out,
        {"topics": len(rows), "totals": totals, "rows": rows},
        {"n": args.n, "seed": args.seed, "home": str(args.home)},
    )
    print(totals)


if __name__ == "__main__":
    main()
