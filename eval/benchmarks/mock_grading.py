"""How well the mock grader orders answers and names what they miss, on hand-written answers.

    python -m sharpnotes.eval.benchmarks.mock_grading [--home DIR] [--page-runs 5] [--out FILE]

``eval/mock_answers.jsonl`` holds 48 answers (16 prompts: 10 design steps of the four sample
cases, 6 rapid-fire questions; a good, a partial and a poor answer each), written before the
grader with the points each one misses. Its ``split`` field (by prompt: 8 tune / 8 holdout) was
fixed with the set; the grader's choices were made on the tune half only. ``--set
eval/mock_answers_dev.jsonl`` reads 30 later answers to 10 other prompts, written for tuning
(split ``dev``) by a helper who never saw the grader.

- **order accuracy**: over the three pairs of each prompt (good/partial, good/poor,
  partial/poor), the share where the better answer scores strictly higher;
- **missed-point precision**: over the key points the grader names as missed, the share that is
  truly missing: the point matches one of the answer's labelled missed points (it holds at least
  a third of the label's content terms and two of them, or their embedding cosine is at least
  0.55; this judge was fixed before the grader was measured). A good answer labelled with no
  missed point makes every point named for it a false one.

``--page-runs`` also times the Mock page opening warm (Streamlit's AppTest, the Searcher cached
as in a running app; the first, cold, open reported apart; the target is < 1 s warm).

The grading is the offline one (no LLM). The index is the sample notes (``notes/``), ingested into
``--home`` when it holds none.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sharpnotes.eval.benchmarks.paths import REPO, RESULTS, write_results

SET = REPO / "eval" / "mock_answers.jsonl"
NOTES = REPO / "notes"
RANK = {"good": 2, "partial": 1, "poor": 0}
JUDGE_LEXICAL = 1 / 3
JUDGE_SHARED = 2
JUDGE_COSINE = 0.55


def load_set(path: Path = SET) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def step_for(plan, label: str):  # type: ignore[no-untyped-def]
    """The plan's step a labelled step name ("requirements", "framing") stands for."""
    from sharpnotes.app.mock.plan import _stems

    for step in plan.steps:
        if _stems(label) & _stems(step.title):
            return step
    raise SystemExit(f"no step of {plan.framework} matches the labelled step {label!r}")


def truly_missing(point: str, labels: list[str], embed) -> bool:  # type: ignore[no-untyped-def]
    from sharpnotes.ingest.text import terms

    if not labels:
        return False
    said = terms(point)
    for label in labels:
        want = terms(label)
        shared = len(want & said)
        if want and shared >= JUDGE_SHARED and shared / len(want) >= JUDGE_LEXICAL:
            return True
    vectors = embed([point, *labels])
    return bool((vectors[1:] @ vectors[0]).max() >= JUDGE_COSINE)


def measure(rows: list[dict], searcher, settings) -> tuple[list[dict], dict]:  # type: ignore[no-untyped-def]
    from sharpnotes.app.embed_cache import embed_cached
    from sharpnotes.app.mock.grade import grade_step
    from sharpnotes.app.mock.plan import plan_design
    from sharpnotes.app.mock.rapid import rapid_step
    from sharpnotes.ingest.embedding import load_embedder

    embedder = load_embedder(settings, "query")

    def embed(texts: list[str]):  # type: ignore[no-untyped-def]
        return embed_cached(embedder, texts)

    plans: dict[str, object] = {}
    graded = []
    for row in rows:
        if row["kind"] == "design":
            if row["case"] not in plans:
                plans[row["case"]] = plan_design(searcher, 45, case=row["case"])
            step = step_for(plans[row["case"]], row["step"])
        else:
            step = rapid_step(searcher, row["question"])
        rapid = row["kind"] != "design"  # a rapid round's step: swaps are checked, as shipped
        result = grade_step(step, row["answer"], settings, offline=True, swaps=rapid)
        named = [
            {"point": p.text, "source": p.passage.source, "truly_missing": truly_missing(
                p.text, row["missing"], embed)}
            for p in result.missed
        ]  # fmt: skip
        graded.append(
            {
                "id": row["id"], "prompt_id": row["prompt_id"], "split": row["split"],
                "quality": row["quality"], "score": result.score, "points": len(step.points),
                "sources": sorted({p.passage.source for p in step.points}), "named_missed": named,
            }
        )  # fmt: skip
    return graded, summary(graded)


def summary(graded: list[dict]) -> dict:
    out = {}
    for half in ("tune", "holdout", "dev", "all"):
        mine = [g for g in graded if half in ("all", g["split"])]
        if not mine:
            continue
        by_prompt: dict[str, list[dict]] = {}
        for g in mine:
            by_prompt.setdefault(g["prompt_id"], []).append(g)
        pairs = right = 0
        for answers in by_prompt.values():
            for a in answers:
                for b in answers:
                    if RANK[a["quality"]] > RANK[b["quality"]]:
                        pairs += 1
                        right += (a["score"] or 0) > (b["score"] or 0)
        named = [n for g in mine for n in g["named_missed"]]
        true = sum(n["truly_missing"] for n in named)
        out[half] = {
            "prompts": len(by_prompt),
            "answers": len(mine),
            "pairs": pairs,
            "order_accuracy": round(right / pairs, 4) if pairs else None,
            "named_missed": len(named),
            "missed_precision": round(true / len(named), 4) if named else None,
            "mean_score": {
                q: round(
                    sum(g["score"] or 0 for g in mine if g["quality"] == q)
                    / max(1, sum(g["quality"] == q for g in mine)),
                    3,
                )
                for q in RANK
            },  # fmt: skip
        }
    return out


def time_page(home: Path, runs: int) -> dict:
    import os
    import statistics
    import time

    from streamlit.testing.v1 import AppTest

    os.environ.update(
        SHARPNOTES_HOME=str(home), SHARPNOTES_NOTES_DIR=str(NOTES), SHARPNOTES_LIVE_SYNC="0",
        SHARPNOTES_CONFIG="none",
    )  # fmt: skip
    at = AppTest.from_file(str(REPO / "app" / "ui" / "main.py"), default_timeout=300).run()
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        at.switch_page("views/mock.py").run()
        times.append(time.perf_counter() - start)
        if at.exception:
            raise SystemExit(f"the Mock page failed: {at.exception}")
    return {
        "cold_s": round(times[0], 3),
        "warm_median_s": round(statistics.median(times[1:]), 3),
        "warm_max_s": round(max(times[1:]), 3),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    from sharpnotes.app.mock import grade as mock_grade
    from sharpnotes.app.mock import plan as mock_plan
    from sharpnotes.app.mock import rapid
    from sharpnotes.app.quiz import grade as quiz_grade
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.ingest.settings import Settings
    from sharpnotes.ingest.sync import ingest

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=Path.home() / ".cache/sharpnotes/mock-bench")
    parser.add_argument("--page-runs", type=int, default=0, help="time the Mock page N times")
    parser.add_argument("--out", type=Path, default=RESULTS / "mock-grading.json")
    parser.add_argument(
        "--set", type=Path, default=SET, help="eval/mock_answers_dev.jsonl: later answers (dev)"
    )
    args = parser.parse_args(argv)
    settings = Settings(home=args.home, generator="extractive")
    if not (settings.index_dir / "catalog.sqlite").exists():
        print(f"ingesting {NOTES} into {args.home} ...", file=sys.stderr)
        ingest([NOTES], settings)
    graded, report = measure(load_set(args.set), Searcher(settings), settings)
    for half, figures in report.items():
        print(f"{half:8} {json.dumps(figures)}")
    page = time_page(args.home, args.page_runs) if args.page_runs else None
    if page:
        print(f"Mock page {json.dumps(page)}")
    choices = {
        "MAX_SECTIONS": mock_plan.MAX_SECTIONS, "MARGIN": mock_plan.MARGIN,
        "NAME_WEIGHT": mock_plan.NAME_WEIGHT, "NEIGHBOUR_BONUS": mock_plan.NEIGHBOUR_BONUS,
        "NAME_COSINE": mock_plan.NAME_COSINE,
        "TITLE_BONUS": mock_plan.TITLE_BONUS, "TEXT_BONUS": mock_plan.TEXT_BONUS,
        "RAPID_PASSAGES": rapid.RAPID_PASSAGES, "RAPID_POINTS": rapid.RAPID_POINTS,
        "RAPID_KEEP": rapid.RAPID_KEEP, "MIN_POINT_TERMS": mock_plan.MIN_POINT_TERMS,
        "MISSED_OVERLAP": quiz_grade.MISSED_OVERLAP, "MISSED_COSINE": quiz_grade.MISSED_COSINE,
    }  # fmt: skip
    write_results(
        args.out,
        {"set": str(SET.relative_to(REPO)), "report": report, "page_open": page, "rows": graded},
        {"grader": "offline (app.quiz.grade.offline_recall)", "plan": choices,
         "judge": {"lexical": JUDGE_LEXICAL, "shared": JUDGE_SHARED, "cosine": JUDGE_COSINE},
         "embed_model": settings.models.embed_model, "module": mock_grade.__name__},
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
