"""Retrieval quality on a labelled set of questions over your own notes.

    python -m sharpnotes.eval.benchmarks.notes [--set eval/notes_eval.jsonl] [--notes notes]
        [--json]

Labels name a source file and a verbatim evidence string, not chunk ids, so they survive
re-chunking: a retrieved chunk is relevant when it comes from that file (and page) and contains
the evidence (whitespace-normalised). Unanswerable questions are left out of the scores.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sharpnotes.eval.benchmarks.beir import summarize
from sharpnotes.eval.benchmarks.paths import REPO
from sharpnotes.eval.metrics import evaluate_run
from sharpnotes.eval.sets import Label
from sharpnotes.ingest.catalog import Catalog
from sharpnotes.ingest.settings import Settings

CACHE = Path.home() / ".cache" / "sharpnotes" / "notes-eval"


def load_set(path: Path) -> list[dict]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        item = json.loads(line)
        if not {"id", "question", "answerable", "relevant"} <= item.keys():
            raise ValueError(f"{path}:{number}: needs id, question, answerable, relevant")
        items.append(item)
    return items


def qrels_from_evidence(
    items: list[dict], catalog: Catalog
) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Chunk-level qrels for the answerable items; also the ids whose evidence no chunk holds."""
    rows = catalog.get_chunks(catalog.chunk_ids())
    by_source: dict[str, list] = {}
    for row in rows.values():
        by_source.setdefault(row.source, []).append(row)
    qrels: dict[str, dict[str, int]] = {}
    unmatched = []
    for item in items:
        if not item["answerable"]:
            continue
        relevant = {}
        for rel in item["relevant"]:
            label = Label(source=rel["source"], evidence=rel["evidence"], page=rel.get("page"))
            for row in by_source.get(rel["source"], []):
                if label.matches(row.source, row.page, row.text):
                    relevant[row.chunk_id] = 1
        if relevant:
            qrels[item["id"]] = relevant
        else:
            unmatched.append(item["id"])
            qrels[item["id"]] = {"__unmatched__": 1}
    return qrels, unmatched


def evaluate(settings: Settings, items: list[dict], modes: list[str], k: int = 10) -> dict:
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.ingest.index import open_catalog

    catalog = open_catalog(settings)
    qrels, unmatched = qrels_from_evidence(items, catalog)
    catalog.close()
    searcher = Searcher(settings)
    questions = {i["id"]: i["question"] for i in items if i["answerable"]}
    halves = split_halves([i for i in items if i["answerable"]])
    table, by_half = {}, {}
    for mode in modes:
        run, latencies = {}, []
        for qid, text in questions.items():
            start = time.perf_counter()
            results = searcher.search(text, k=k, mode=mode)  # type: ignore[arg-type]
            latencies.append((time.perf_counter() - start) * 1000)
            run[qid] = {r.chunk_id: float(k - i) for i, r in enumerate(results)}
        table[mode] = evaluate_run(qrels, run) | summarize(latencies)
        by_half[mode] = {
            half: evaluate_run({q: qrels[q] for q in qids}, run) for half, qids in halves.items()
        }
    return {
        "questions": len(questions),
        "unmatched_labels": unmatched,
        "retrieval": table,
        "halves": by_half,
    }


def split_halves(items: list[dict]) -> dict[str, list[str]]:
    """The two halves that tuning uses (``sharpnotes.eval.benchmarks.tune --notes``): each
    question's ``split`` field, fixed in the set before any tuning (for the first 108 answerable
    questions it equals the older rule: alternately ``tune`` and ``holdout`` in set order)."""
    halves: dict[str, list[str]] = {"tune": [], "holdout": []}
    for item in items:
        halves[item.get("split", "tune")].append(item["id"])
    return halves


def notes_index(notes: Path) -> Settings:
    """Settings of the cached evaluation index of ``notes`` (one home per notes folder),
    brought up to date first. Files that cannot be indexed (real notes hold empty ones) are
    reported and left out, as ``sharpnotes ingest`` does."""
    import hashlib
    import sys

    from sharpnotes.ingest.sync import ingest

    folder = notes.resolve()
    key = hashlib.sha1(str(folder).encode()).hexdigest()[:8]
    settings = Settings(home=CACHE / f"{folder.name}-{key}")
    report = ingest([notes], settings)
    for source, why in report.failed:
        print(f"{notes}: {source} not indexed ({why})", file=sys.stderr)
    return settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=REPO / "eval" / "notes_eval.jsonl")
    parser.add_argument("--notes", type=Path, default=REPO / "notes")
    parser.add_argument("--modes", default="bm25,dense,hybrid")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out", type=Path, help="write the report as a results file here")
    args = parser.parse_args(argv)

    settings = notes_index(args.notes)
    result = evaluate(settings, load_set(args.set), args.modes.split(","))
    if args.out:
        from sharpnotes.eval.benchmarks.beir import retrieval_settings
        from sharpnotes.eval.benchmarks.paths import write_results

        write_results(args.out, {"set": args.set.name} | result, retrieval_settings(settings))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.set.name}: {result['questions']} answerable questions")
    header = ("mode", "hit@1", "hit@5", "MRR@10", "nDCG@10", "mean ms", "p95 ms")
    print(f"{header[0]:<8} " + " ".join(f"{h:>7}" for h in header[1:]))
    for mode, row in result["retrieval"].items():
        print(
            f"{mode:<8} {row['hit@1']:>7.3f} {row['hit@5']:>7.3f} {row['mrr@10']:>7.3f} "
            f"{row['ndcg@10']:>7.3f} {row['mean_ms']:>7.1f} {row['p95_ms']:>7.1f}"
        )
    for mode, halves in result["halves"].items():
        for half, row in halves.items():
            print(
                f"  {mode} on the {half} half: hit@1 {row['hit@1']:.3f}, hit@5 {row['hit@5']:.3f}, "
                f"MRR@10 {row['mrr@10']:.3f}, nDCG@10 {row['ndcg@10']:.3f}"
            )
    if result["unmatched_labels"]:
        print(f"labels no chunk contains (counted as misses): {result['unmatched_labels']}")


if __name__ == "__main__":
    main()
