"""How long the Today and Topics pages take to open warm (the index, model and topic links
already loaded), the plan itself without Streamlit, and the Review page from opening to its
first card (issue 20's target: under 1 s warm).

    python -m sharpnotes.eval.benchmarks.study_open [--home DIR] [--runs 5] [--out FILE]

Warm means what a user sees on the second visit in a running app: the Searcher is cached by
``st.cache_resource`` and the topic links by ``HOME/topic_links.json``. The first (cold) run is
reported apart. The target of issue 23 is < 1 s warm.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from sharpnotes.eval.benchmarks.paths import REPO
from sharpnotes.eval.benchmarks.scale_bench import machine
from sharpnotes.eval.benchmarks.topic_links import CACHE

MAIN = str(REPO / "app" / "ui" / "main.py")


def time_plan(home: Path, runs: int) -> dict:
    from sharpnotes.app.quiz.session import daily_limits
    from sharpnotes.app.quiz.store import open_store
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.app.today import plan_today
    from sharpnotes.app.topics import syllabus_links
    from sharpnotes.ingest.settings import Settings

    settings = Settings(home=home, notes_dir=REPO / "notes")
    searcher = Searcher(settings)
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        syllabus, links = syllabus_links(searcher)
        ids = sorted({link.chunk_id for linked in links.values() for link in linked})
        texts = {cid: row.text for cid, row in searcher.catalog.get_chunks(ids).items()}
        with open_store(settings) as store:
            plan_today(syllabus, links, store, texts, daily_limits(settings, store))
        times.append(time.perf_counter() - start)
    return summary(times)


def time_pages(home: Path, runs: int) -> dict:
    from streamlit.testing.v1 import AppTest

    os.environ.update(
        SHARPNOTES_HOME=str(home),
        SHARPNOTES_NOTES_DIR=str(REPO / "notes"),
        SHARPNOTES_LIVE_SYNC="0",
        SHARPNOTES_CONFIG="none",
    )
    out = {}
    at = AppTest.from_file(MAIN, default_timeout=300).run()
    for page in ("today", "topics"):
        times = []
        for _ in range(runs + 1):
            start = time.perf_counter()
            at.switch_page(f"views/{page}.py").run()
            times.append(time.perf_counter() - start)
            if at.exception:
                raise SystemExit(f"the {page} page failed: {at.exception}")
        out[page] = summary(times)
    return out


def time_review(home: Path, runs: int) -> dict:
    """Opening the Review page and pressing "Start review" until the first card shows, then
    "End session" (nothing is rated, so every run sees the same queue). Quiz items are made
    first when the home has none to review."""
    from streamlit.testing.v1 import AppTest

    from sharpnotes.app.quiz.session import make_quiz
    from sharpnotes.app.quiz.store import open_store
    from sharpnotes.ingest.settings import Settings

    settings = Settings(home=home, notes_dir=REPO / "notes")
    with open_store(settings) as store:
        counts = store.counts()
        if not counts["due"] and not counts["new"]:
            make_quiz(settings, store, n=10)
    at = AppTest.from_file(MAIN, default_timeout=300).run()
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        at.switch_page("views/review.py").run()
        next(b for b in at.button if b.label == "Start review").click().run()
        shown = [b for b in at.button if b.label in ("Show answer", "Check")]
        times.append(time.perf_counter() - start)
        if at.exception or not shown:
            raise SystemExit(f"the review page showed no card: {at.exception}")
        at.button(key="review_end").click().run()
    return summary(times)


def summary(times: list[float]) -> dict:
    warm = times[1:]
    return {
        "cold_s": round(times[0], 3),
        "warm_median_s": round(statistics.median(warm), 3),
        "warm_max_s": round(max(warm), 3),
        "runs": len(warm),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=CACHE / "home", help="index of notes/")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write the result JSON here")
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)
    result = {
        "machine": machine(),
        "command": " ".join(["python -m sharpnotes.eval.benchmarks.study_open", *raw]),
        "plan": time_plan(args.home, args.runs),
        "pages": time_pages(args.home, args.runs),
        "review_first_card": time_review(args.home, args.runs),
    }
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
