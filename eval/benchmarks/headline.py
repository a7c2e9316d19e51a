"""The headline retrieval and load figures (eval/benchmarks/README.md) re-measured in one run,
beside the figures of the round's start (before the clean-up of issue 18).

    python -m sharpnotes.eval.benchmarks.headline [--scifact DIR] [--out results/headline.json]

Each benchmark runs as its own process, one after the other, and writes its own results file:
BEIR SciFact (``beir``: ``scifact.json``; its index is cached, so a second run embeds nothing),
the sample-notes set (``notes``: ``notes.json``, and its first 130 questions, the set of the
round's start, as ``notes-first130.json``) and the load on the retrieval layer (``load_bench``:
``load.json``, a 50,000-chunk synthetic scale-up of the SciFact index). The summary names each
figure with its value now and before, and the results file each comes from.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sharpnotes.eval.benchmarks.paths import REPO, RESULTS, SCIFACT, write_results

NOTES_SET = REPO / "eval" / "notes_eval.jsonl"
FIRST = 130  # the notes set held 130 questions (108 answerable) at the round's start

# the round's start (commit d10d184): README and eval/results/load.json of that commit
BEFORE = {
    "scifact_hybrid_ndcg@10": (0.734, "README at d10d184: 0.7340 with the same defaults"),
    "notes108_hybrid_hit@5": (0.972, "README at d10d184, 108 answerable questions"),
    "notes108_hybrid_mrr@10": (0.856, "README at d10d184, 108 answerable questions"),
    "load_queries_per_s": (36.3, "eval/results/load.json at d10d184 (an AMD Zen 4, 2 vCPU)"),
    "load_p95_ms": (690.8, "eval/results/load.json at d10d184"),
    "load_peak_rss_mib": (491.9, "eval/results/load.json at d10d184"),
    "load_errors": (0, "eval/results/load.json at d10d184"),
}


def run(module: str, *args: str) -> float:
    """Run one benchmark module; its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", module, *args], check=True, cwd=REPO)
    return round(time.perf_counter() - start, 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scifact", type=Path, default=SCIFACT)
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of results files")
    parser.add_argument("--out", type=Path, default=RESULTS / "headline.json")
    args = parser.parse_args(argv)
    files = {
        name: args.results / f"{name}.json"
        for name in ("scifact", "notes", "notes-first130", "load")
    }
    walls = {}
    walls["scifact"] = run(
        "sharpnotes.eval.benchmarks.beir", str(args.scifact), "--out", str(files["scifact"])
    )
    walls["notes"] = run("sharpnotes.eval.benchmarks.notes", "--out", str(files["notes"]))
    with tempfile.TemporaryDirectory() as tmp:
        first = Path(tmp) / "notes_eval_first130.jsonl"
        lines = NOTES_SET.read_text(encoding="utf-8").splitlines()[:FIRST]
        first.write_text("\n".join(lines) + "\n", encoding="utf-8")
        walls["notes-first130"] = run(
            "sharpnotes.eval.benchmarks.notes", "--set", str(first), "--out",
            str(files["notes-first130"]),
        )  # fmt: skip
    walls["load"] = run("sharpnotes.eval.benchmarks.load_bench", "--out", str(files["load"]))

    got = {name: json.loads(path.read_text()) for name, path in files.items()}
    notes, first130, load = got["notes"], got["notes-first130"], got["load"]["load"]
    now = {
        "scifact_hybrid_ndcg@10": got["scifact"]["retrieval"]["hybrid"]["ndcg@10"],
        "notes_hybrid_hit@5": notes["retrieval"]["hybrid"]["hit@5"],
        "notes_hybrid_mrr@10": notes["retrieval"]["hybrid"]["mrr@10"],
        "notes_hybrid_mrr@10_tune": notes["halves"]["hybrid"]["tune"]["mrr@10"],
        "notes_hybrid_mrr@10_holdout": notes["halves"]["hybrid"]["holdout"]["mrr@10"],
        "notes108_hybrid_hit@5": first130["retrieval"]["hybrid"]["hit@5"],
        "notes108_hybrid_mrr@10": first130["retrieval"]["hybrid"]["mrr@10"],
        "load_queries_per_s": load["queries_per_s"],
        "load_p95_ms": load["p95_ms"],
        "load_peak_rss_mib": load["peak_rss_mib"],
        "load_errors": load["errors"],
    }
    figures = {
        name: {"now": value}
        | ({"before": BEFORE[name][0], "before_from": BEFORE[name][1]} if name in BEFORE else {})
        for name, value in now.items()
    }
    report = {
        "figures": figures,
        "files": {name: str(path.relative_to(REPO)) for name, path in files.items()},
        "wall_s": walls,
    }
    write_results(args.out, report, {"scifact": str(args.scifact), "notes_set": str(NOTES_SET)})
    width = max(map(len, figures))
    for name, row in figures.items():
        print(f"{name:<{width}}  now {row['now']!s:<8} before {row.get('before', '-')}")


if __name__ == "__main__":
    main()
