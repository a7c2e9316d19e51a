"""Precision and recall of the syllabus topic links on the sample notes, and the choice of the
linker's weights and threshold on the tuning half.

    python -m sharpnotes.eval.benchmarks.topic_links [--home DIR] [--tune] [--out FILE]

``eval/topics_eval.jsonl`` labels, per topic, the passages of ``notes/`` that cover it, as
(source, heading path) or (source, page) units; its ``split`` field (tune / holdout) was fixed
before the linker was written. A unit counts as linked when any chunk of it is linked. Scores are
micro-averaged over (topic, unit) pairs of each half. ``--tune`` searches a small grid of weights
on the tuning half only and reports the best one on both halves; without it the shipped weights
(``app.topics.DEFAULT_WEIGHTS``) are measured.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from sharpnotes.app.syllabus import load_syllabus
from sharpnotes.app.topics import DEFAULT_WEIGHTS, Weights, combine, compute_signals
from sharpnotes.eval.benchmarks.paths import REPO
from sharpnotes.eval.benchmarks.scale_bench import machine
from sharpnotes.ingest.settings import Settings

SET = REPO / "eval" / "topics_eval.jsonl"
CACHE = Path.home() / ".cache" / "sharpnotes" / "topics-bench"


def unit_of(source: str, heading: str, page: int | None) -> tuple[str, str]:
    return (source, f"page {page}" if source.endswith(".pdf") and page else heading)


def gold_units(row: dict) -> set[tuple[str, str]]:
    return {unit_of(r["source"], r.get("heading", ""), r.get("page")) for r in row["relevant"]}


def score(rows: list[dict], predicted: dict[str, set[tuple[str, str]]]) -> dict:
    tp = fp = fn = 0
    for row in rows:
        gold, got = gold_units(row), predicted.get(row["topic"], set())
        tp, fp, fn = tp + len(gold & got), fp + len(got - gold), fn + len(gold - got)
    return {
        "topics": len(rows),
        "precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
        "recall": round(tp / (tp + fn), 4) if tp + fn else 1.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def predictions(topic_ids, passages, parts, weights: Weights) -> dict[str, set[tuple[str, str]]]:
    scores = combine(parts, weights)
    out = {}
    for i, topic_id in enumerate(topic_ids):
        out[topic_id] = {
            unit_of(p.source, p.heading, p.page)
            for j, p in enumerate(passages)
            if scores[i, j] >= weights.threshold
        }
    return out


GRID = {
    "note": (0.3, 0.5, 0.7),
    "heading": (0.3, 0.5, 0.7),
    "text": (0.0, 0.1, 0.2, 0.3, 0.4),
    "tag": (0.0, 0.1),
    "other": (0.0, 0.3, 0.6),
    "dense": (1.0,),
    "threshold": tuple(round(0.6 + 0.05 * k, 2) for k in range(13)),
}


def tune(rows, topic_ids, passages, parts) -> tuple[Weights, dict]:  # type: ignore[no-untyped-def]
    """The grid point with the best F1 on the tuning half (ties: higher precision). Scores are
    taken per unit (the best chunk of a section), over arrays, so the grid runs in seconds."""
    units = sorted({unit_of(p.source, p.heading, p.page) for p in passages})
    where = {u: n for n, u in enumerate(units)}
    owner = np.array([where[unit_of(p.source, p.heading, p.page)] for p in passages])
    tuning = [r for r in rows if r["split"] == "tune"]
    index = {t: i for i, t in enumerate(topic_ids)}
    chosen = [index[r["topic"]] for r in tuning]
    gold = np.zeros((len(tuning), len(units)), bool)
    unknown = 0  # gold units no chunk has: always missed
    for k, row in enumerate(tuning):
        for u in gold_units(row):
            if u in where:
                gold[k, where[u]] = True
            else:
                unknown += 1
    best: tuple[tuple[float, float], Weights, dict] | None = None
    for values in itertools.product(*GRID.values()):
        weights = Weights(**dict(zip(GRID, values, strict=True)))
        scores = combine({k: v[chosen] for k, v in parts.items()}, weights)
        per_unit = np.full((len(tuning), len(units)), -np.inf, np.float32)
        np.maximum.at(per_unit.T, owner, scores.T)
        got = per_unit >= weights.threshold
        tp = int((got & gold).sum())
        fp = int((got & ~gold).sum())
        fn = int((~got & gold).sum()) + unknown
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        key = (2 * p * r / (p + r) if p + r else 0.0, p)
        if best is None or key > best[0]:
            best = (key, weights, {"precision": round(p, 4), "recall": round(r, 4)})
    assert best is not None
    return best[1], best[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=CACHE / "home", help="index of notes/")
    parser.add_argument("--notes", type=Path, default=REPO / "notes")
    parser.add_argument("--set", type=Path, default=SET)
    parser.add_argument("--tune", action="store_true", help="search the grid on the tune half")
    parser.add_argument("--out", type=Path, help="write the result JSON here")
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(raw)

    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.ingest.sync import ingest

    settings = Settings(home=args.home)
    report = ingest([args.notes], settings)
    if report.failed:
        raise SystemExit(f"ingest of {args.notes} failed for: {report.failed}")
    rows = [json.loads(line) for line in args.set.read_text(encoding="utf-8").splitlines() if line]
    syllabus = load_syllabus(args.notes)
    searcher = Searcher(settings)
    passages, parts = compute_signals(searcher, syllabus)
    ids = [t.id for t in syllabus.topics]
    weights, chosen_on = tune(rows, ids, passages, parts) if args.tune else (DEFAULT_WEIGHTS, {})
    got = predictions(ids, passages, parts, weights)
    halves = {h: score([r for r in rows if r["split"] == h], got) for h in ("tune", "holdout")}
    known = {unit_of(p.source, p.heading, p.page) for p in passages}
    unmatched = sorted({u for r in rows for u in gold_units(r)} - known)
    result = {
        "machine": machine(),
        "command": "python -m sharpnotes.eval.benchmarks.topic_links"
        + " ".join([""] + (argv or sys.argv[1:])),
        "set": str(args.set.relative_to(REPO)) if args.set.is_relative_to(REPO) else str(args.set),
        "passages": len(passages),
        "weights": weights.__dict__,
        "tuned": bool(args.tune),
        "tune_score_when_chosen": chosen_on,
        "halves": halves,
        "all": score(rows, got),
        "unmatched_labels": [list(u) for u in unmatched],
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"weights: {weights}")
    for half, row in halves.items():
        print(f"{half:>8}: precision {row['precision']:.3f} recall {row['recall']:.3f} ({row})")
    if unmatched:
        print(f"labels no chunk has: {unmatched}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
