"""Query latency, index size on disk and peak memory as the index grows.

    python -m sharpnotes.eval.benchmarks.scale_bench [--sizes scifact,100000,1000000]
        [--modes bm25,dense,hybrid] [--clients 1,16] [--queries 300]
        [--out eval/benchmarks/results/scale.json]

For each size, the index is SciFact as ingested (``scifact``) or a synthetic scale-up of it made by
``sharpnotes.eval.benchmarks.synthetic`` (built in its own process on first use, then reused from
the cache). Each retriever configuration is then measured in a fresh process, so that its peak
memory (the process's RSS high-water mark, VmHWM) is the query side's alone: one shared
``Searcher``, a few untimed warm-up queries, then the SciFact test queries, top 10, asked by one
client thread one after another (``--clients 1``), or by N client threads at once, each asking
its next query when the last one is answered (the latency of each query is then measured under
that load).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from sharpnotes.eval.benchmarks import synthetic
from sharpnotes.eval.benchmarks.paths import REPO, machine
from sharpnotes.ingest.settings import Settings

MODES = ("bm25", "dense", "hybrid")
WARMUP = 5


def vmhwm_mib(pid: int | str = "self") -> float | None:
    """A process's resident-set high-water mark (VmHWM) in MiB; None off Linux or when the
    process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def peak_rss_mib() -> float:
    """This process's resident-set high-water mark (VmHWM), in MiB."""
    if (own := vmhwm_mib()) is not None:
        return own
    import resource  # not Linux: ru_maxrss is KiB on Linux and BSD, bytes on macOS

    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def latency_summary(ms: list[float]) -> dict[str, float]:
    values = np.asarray(ms)
    return {
        "mean_ms": round(float(values.mean()), 2),
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
    }


def load_queries(scifact: Path, split: str | None = "test") -> list[str]:
    """The SciFact queries of a split (all of them with ``split=None``), in file order."""
    wanted = None
    if split:
        with (scifact / "qrels" / f"{split}.tsv").open(encoding="utf-8") as fh:
            next(fh)
            wanted = {line.split("\t", 1)[0] for line in fh}
    queries = []
    with (scifact / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            q = json.loads(line)
            if wanted is None or str(q["_id"]) in wanted:
                queries.append(q["text"])
    return queries


def bench_settings(home: Path, **overrides: object) -> Settings:
    """Settings for an index home; unless SHARPNOTES_MODELS_DIR says otherwise, the model exports
    and the backend choice are shared by all benchmark homes (made once, not once per home)."""
    if (home / synthetic.DONE).exists():
        settings = synthetic.home_settings(home, **overrides)
    else:
        settings = Settings(home=home, **overrides)
    if settings.paths.models_dir is None:
        settings = settings.replace(models_dir=synthetic.CACHE / "models")
    return settings


def measure(home: Path, mode: str, queries: list[str], clients: int = 1, k: int = 10) -> dict:
    """Queries through one Searcher in this process, from ``clients`` threads."""
    from sharpnotes.app.retrieval import Searcher

    started = time.perf_counter()
    searcher = Searcher(bench_settings(home))
    first = time.perf_counter()
    searcher.search(queries[0], k=k, mode=mode)  # type: ignore[arg-type]
    first_ms = (time.perf_counter() - first) * 1000
    for query in queries[1 : 1 + WARMUP]:
        searcher.search(query, k=k, mode=mode)  # type: ignore[arg-type]
    ready_s = time.perf_counter() - started
    latencies: list[float] = []
    empty = 0
    pending = iter(queries)
    lock = threading.Lock()

    def client() -> None:
        nonlocal empty
        while True:
            with lock:
                query = next(pending, None)
            if query is None:
                return
            t0 = time.perf_counter()
            results = searcher.search(query, k=k, mode=mode)  # type: ignore[arg-type]
            elapsed = (time.perf_counter() - t0) * 1000
            with lock:
                latencies.append(elapsed)
                empty += not results

    threads = [threading.Thread(target=client) for _ in range(clients)]
    wall, cpu = time.perf_counter(), time.process_time()  # CPU: all threads of this process
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "mode": mode,
        "clients": clients,
        "queries": len(queries),
        "empty_results": empty,
        "first_query_ms": round(first_ms, 1),
        "ready_s": round(ready_s, 2),
        **latency_summary(latencies),
        "queries_per_s": round(len(queries) / wall, 1),
        "cpu_ms_per_query": round(cpu * 1000 / len(queries), 2),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


def ensure_home(n: int, source: Path, root: Path) -> tuple[Path, dict]:
    """A synthetic home of n chunks under root, built by sharpnotes.eval.benchmarks.synthetic in
    its own process."""
    home = root / f"{source.parent.name}-{n}" / "home"
    if not (home / synthetic.DONE).exists():
        if home.exists():
            shutil.rmtree(home)  # an interrupted build
        cmd = [sys.executable, "-m", "sharpnotes.eval.benchmarks.synthetic", "--n", str(n)]
        subprocess.run([*cmd, "--source", str(source), "--out", str(home)], check=True, cwd=REPO)
    elif synthetic.bm25_stale(home):  # BM25 changed since the home was built
        cmd = [
            sys.executable,
            "-m",
            "sharpnotes.eval.benchmarks.synthetic",
            "--n",
            str(n),
            "--out",
            str(home),
        ]
        subprocess.run([*cmd, "--rebuild-bm25"], check=True, cwd=REPO)
    return home, json.loads((home / synthetic.DONE).read_text())


def source_chunks(source: Path) -> int:
    from sharpnotes.ingest.index import open_catalog

    catalog = open_catalog(Settings(home=source))
    try:
        return catalog.counts()[1]
    finally:
        catalog.close()


def run(args: argparse.Namespace) -> dict:
    source = args.source or synthetic.default_source()
    queries = load_queries(args.scifact, "test")
    queries = [queries[i % len(queries)] for i in range(args.queries)]
    rows = []
    for size in args.sizes.split(","):
        n = source_chunks(source) if size == "scifact" else int(size)
        home, built = ensure_home(n, source, args.root)
        sizes = synthetic.index_sizes(home)
        for mode, clients in itertools.product(args.modes.split(","), args.clients.split(",")):
            cmd = [sys.executable, "-m", "sharpnotes.eval.benchmarks.scale_bench"]
            cmd += ["--measure", str(home), "--mode", mode, "--clients", clients]
            cmd += ["--queries", str(args.queries), "--scifact", str(args.scifact)]
            child = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
            if child.returncode:
                raise SystemExit(f"measuring {mode} on {home} failed:\n{child.stderr[-3000:]}")
            out = child.stdout
            row = {"size": size, "chunks": built.get("chunks", n), **json.loads(out), **sizes}
            row["sentences"] = built.get("sentences", 0)
            row["build_s"] = built["seconds"]
            row["build_interrupted"] = built.get("interrupted", False)
            row["load_average"] = [round(x, 2) for x in os.getloadavg()]
            rows.append(row)
            print(render_row(row), file=sys.stderr, flush=True)
    return {
        "machine": machine(),
        "command": command("scale_bench"),
        "settings": searcher_settings(),
        "source": str(source),
        "rows": rows,
    }


def command(module: str) -> str:
    """The command line of this run, for its results file."""
    return " ".join([f"python -m sharpnotes.eval.benchmarks.{module}", *sys.argv[1:]])


def searcher_settings() -> dict:
    """The settings a query's cost depends on (the defaults unless the environment says else)."""
    from sharpnotes.ingest.machine import thread_count

    settings = Settings()
    return settings.retrieval.model_dump(mode="json") | {"threads": thread_count(settings)}


def render_row(row: dict) -> str:
    mib = 2**20
    return (
        f"{row['size']:>8} {row['chunks']:>8} {row['mode']:<7} x{row.get('clients', 1):<3} "
        f"p50 {row['p50_ms']:7.1f} ms  "
        f"p95 {row['p95_ms']:7.1f} ms  cpu {row.get('cpu_ms_per_query', 0):6.1f} ms  "
        f"peak {row['peak_rss_mib']:7.0f} MiB  "
        f"disk chroma {row['chroma_bytes'] / mib:6.0f} bm25 {row['bm25_bytes'] / mib:5.0f} "
        f"catalog {row['catalog_bytes'] / mib:5.0f} MiB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="scifact,100000,1000000")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--clients", default="1,16", help="client threads, one run each")
    parser.add_argument("--queries", type=int, default=300, help="timed queries per run")
    parser.add_argument("--scifact", type=Path, default=synthetic.SCIFACT)
    parser.add_argument("--source", type=Path, help="ingested home to scale (default: SciFact)")
    parser.add_argument("--root", type=Path, default=synthetic.CACHE, help="synthetic homes")
    parser.add_argument("--out", type=Path, help="write the result JSON here")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # one run, in a child
    parser.add_argument("--mode", default="hybrid", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not (args.scifact / "queries.jsonl").exists():
        parser.error(f"no queries.jsonl in {args.scifact}; pass --scifact DIR")
    if args.measure:
        queries = load_queries(args.scifact, "test")
        queries = [queries[i % len(queries)] for i in range(args.queries)]
        print(json.dumps(measure(args.measure, args.mode, queries, int(args.clients))))
        return 0
    result = run(args)
    if args.out and args.out.exists():  # keep rows of other sizes from an earlier run

        def key(row: dict) -> tuple:
            return row["size"], row["mode"], row.get("clients", 1)

        done = {key(r) for r in result["rows"]}
        kept = [r for r in json.loads(args.out.read_text())["rows"] if key(r) not in done]
        result["rows"] = kept + result["rows"]
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
