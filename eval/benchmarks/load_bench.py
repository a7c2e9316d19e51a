"""Load on the retrieval layer: many queries from many threads through one shared Searcher.

    python -m sharpnotes.eval.benchmarks.load_bench [--chunks 50000] [--queries 10000]
        [--threads 16] [--mode hybrid]
                              [--out eval/benchmarks/results/load.json]

The index is a synthetic scale-up of SciFact (``sharpnotes.eval.benchmarks.synthetic``, built in its
own process on first use and then reused), so the peak memory reported is this process's: the one
that queries. The query stream is every SciFact query, cycled. Threads take the next query from a
shared counter until the total is reached; every exception is counted by type and message, and the
exit status is 1 if there was any.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

from sharpnotes.eval.benchmarks import synthetic
from sharpnotes.eval.benchmarks.scale_bench import (
    bench_settings,
    command,
    ensure_home,
    latency_summary,
    load_queries,
    machine,
    peak_rss_mib,
    searcher_settings,
)


def run_load(home: Path, queries: list[str], total: int, threads: int, mode: str) -> dict:
    from sharpnotes.app.retrieval import Searcher

    searcher = Searcher(bench_settings(home))
    for query in queries[:3]:  # load the models and indexes before the clock starts
        searcher.search(query, k=10, mode=mode)  # type: ignore[arg-type]
    ready_rss = peak_rss_mib()
    counter = itertools.count()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    first_trace: list[str] = []
    empties: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = []
        empty = 0
        while (i := next(counter)) < total:
            query = queries[i % len(queries)]
            t0 = time.perf_counter()
            try:
                results = searcher.search(query, k=10, mode=mode)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                with lock:
                    errors[f"{type(exc).__name__}: {exc}"] += 1
                    if not first_trace:
                        first_trace.append(traceback.format_exc())
                continue
            mine.append((time.perf_counter() - t0) * 1000)
            empty += not results
        with lock:
            latencies.extend(mine)
            empties.append(empty)

    pool = [threading.Thread(target=worker, name=f"load-{n}") for n in range(threads)]
    started, cpu = time.perf_counter(), time.process_time()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    wall = time.perf_counter() - started
    cpu_s = time.process_time() - cpu
    return {
        "mode": mode,
        "threads": threads,
        "queries": total,
        "completed": len(latencies),
        "empty_results": sum(empties),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "first_traceback": first_trace[0] if first_trace else None,
        "wall_s": round(wall, 2),
        "queries_per_s": round(len(latencies) / wall, 1),
        "cpu_s": round(cpu_s, 1),
        "cpu_ms_per_query": round(cpu_s * 1000 / max(1, len(latencies)), 2),
        **latency_summary(latencies or [0.0]),
        "rss_before_load_mib": round(ready_rss, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def render(result: dict) -> str:
    r = result["load"]
    lines = [
        f"{r['queries']} {r['mode']} queries from {r['threads']} threads on {result['chunks']} "
        f"chunks: {r['queries_per_s']} queries/s, p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, "
        f"p99 {r['p99_ms']} ms, peak RSS {r['peak_rss_mib']} MiB, errors {r['errors']}"
    ]
    for kind, count in r["error_kinds"].items():
        lines.append(f"  {count} x {kind}")
    if r["first_traceback"]:
        lines.append(r["first_traceback"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--mode", default="hybrid", choices=("hybrid", "bm25", "dense"))
    parser.add_argument("--scifact", type=Path, default=synthetic.SCIFACT)
    parser.add_argument("--source", type=Path, help="ingested home to scale (default: SciFact)")
    parser.add_argument("--root", type=Path, default=synthetic.CACHE, help="synthetic homes")
    parser.add_argument("--out", type=Path, help="write the result JSON here")
    args = parser.parse_args(argv)
    if not (args.scifact / "queries.jsonl").exists():
        parser.error(f"no queries.jsonl in {args.scifact}; pass --scifact DIR")
    source = args.source or synthetic.default_source()
    home, built = ensure_home(args.chunks, source, args.root)
    queries = load_queries(args.scifact, split=None)
    load = run_load(home, queries, args.queries, args.threads, args.mode)
    result = {
        "machine": machine(),
        "command": command("load_bench"),
        "settings": searcher_settings(),
        "chunks": args.chunks,
        "sentences": built.get("sentences", 0),
        "home": str(home),
        "index_bytes": synthetic.index_sizes(home),
        "distinct_queries": len(queries),
        "load": load,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(render(result))
    return 1 if load["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
