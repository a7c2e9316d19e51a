"""Time and peak memory of ingesting a note that is one long line (finding 11 of issue 17).

    python -m sharpnotes.eval.benchmarks.longline_bench [--sizes 5,10,20] [--stage chunk]
        [--scifact ../shared/data/scifact] [--out eval/benchmarks/results/longline.json]

A note of N MB (10^6 bytes, so 20 MB is under the default 20 MiB file limit) is written as a
single line of realistic prose: SciFact titles and abstracts joined by spaces, the corpus
repeated in a new shuffled order when it runs out (so repeats do not chunk alike). Each
(size, stage) runs in a fresh process, so its peak memory (VmHWM, the resident-set high-water
mark) is that run's alone:

- ``chunk``: the ingest embedder is loaded, then the note is read and chunked as ``ingest.sync``
  does (``read_file``, ``chunk_documents`` with the embedder's token counter and budget);
- ``ingest``: ``ingest.sync.ingest`` of a folder holding only the note, into a fresh index home
  (embedding every chunk and sentence: long on a small machine).

The embedder's backend choice and ONNX export are made once, in a warm-up process, before any
run is measured; the resident size after the embedder is loaded is reported beside the peak.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sharpnotes.eval.benchmarks import synthetic
from sharpnotes.eval.benchmarks.paths import REPO, write_results
from sharpnotes.eval.benchmarks.scale_bench import bench_settings, peak_rss_mib

STAGES = ("chunk", "ingest")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def long_line(scifact: Path, size: int) -> str:
    """``size`` bytes of SciFact prose on one line."""
    with (scifact / "corpus.jsonl").open(encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh if line.strip()]
    texts = [" ".join(f"{d.get('title', '')}. {d.get('text', '')}".split()) for d in docs]
    parts: list[str] = []
    total = 0
    round_ = 0
    while total < size:
        order = list(texts)
        random.Random(round_).shuffle(order)
        for text in order:
            parts.append(text)
            total += len(text.encode("utf-8")) + 1
            if total >= size:
                break
        round_ += 1
    return " ".join(parts).encode("utf-8")[:size].decode("utf-8", errors="ignore")


def child(size_mb: float, stage: str, scifact: Path, workdir: Path) -> dict:
    """One measured run, in this (fresh) process."""
    from sharpnotes.ingest.embedding import load_embedder

    note_dir = workdir / "notes"
    note_dir.mkdir(parents=True)
    note = note_dir / f"longline-{size_mb:g}mb.md"
    note.write_text(long_line(scifact, int(size_mb * 10**6)) + "\n", encoding="utf-8")
    settings = bench_settings(workdir / "home")
    embedder = load_embedder(settings, "ingest")
    loaded = {"rss_after_embedder_mib": round(rss_mib(), 1)}
    start = time.perf_counter()
    if stage == "chunk":
        from sharpnotes.ingest.chunking import chunk_documents
        from sharpnotes.ingest.readers import read_file

        docs = read_file(note, note.name, int(settings.ingest.max_file_mb * 2**20))
        budget = min(settings.ingest.chunk_tokens, embedder.max_tokens)
        chunks = chunk_documents(docs, embedder.count_tokens, budget)
        counts = {"chunks": len(chunks)}
    else:
        from sharpnotes.ingest.sync import ingest

        report = ingest([note_dir], settings)
        if report.failed:
            raise SystemExit(f"ingest failed: {report.failed}")
        counts = {"chunks": report.chunks_embedded, "sentences": report.sentences_embedded}
    return {
        "size_mb": size_mb,
        "bytes": note.stat().st_size,
        "stage": stage,
        "seconds": round(time.perf_counter() - start, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        **loaded,
        **counts,
        "backend": embedder.backend,
    }


def run_child(size_mb: float, stage: str, scifact: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="longline-") as tmp:
        command = [
            sys.executable, "-m", "sharpnotes.eval.benchmarks.longline_bench", "--child",
            f"{size_mb:g}", "--stage", stage, "--scifact", str(scifact), "--workdir", tmp,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
        if done.returncode != 0:
            raise SystemExit(f"{size_mb:g} MB {stage} failed:\n{done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])


def warm_up(scifact: Path) -> None:
    """The embedder's backend choice and ONNX export, made once outside the measured runs."""
    from sharpnotes.ingest.embedding import load_embedder

    with tempfile.TemporaryDirectory(prefix="longline-") as tmp:
        load_embedder(bench_settings(Path(tmp) / "home"), "ingest")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,10,20", help="note sizes in MB (10^6 bytes)")
    parser.add_argument("--stage", default="chunk", choices=STAGES)
    parser.add_argument("--scifact", type=Path, default=synthetic.SCIFACT)
    parser.add_argument("--out", type=Path, help="write the result JSON here")
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not (args.scifact / "corpus.jsonl").exists():
        parser.error(f"no corpus.jsonl in {args.scifact}; pass --scifact DIR")
    if args.child is not None:
        print(json.dumps(child(args.child, args.stage, args.scifact, args.workdir)))
        return 0
    warm_up(args.scifact)
    runs = []
    for size in [float(s) for s in args.sizes.split(",")]:
        row = run_child(size, args.stage, args.scifact)
        print(
            f"{row['size_mb']:>5g} MB {row['stage']:<6} {row['seconds']:>7.1f} s  "
            f"peak {row['peak_rss_mib']:>7.1f} MiB (after the embedder loaded: "
            f"{row['rss_after_embedder_mib']:.1f} MiB)  {row['chunks']} chunks",
            flush=True,
        )
        runs.append(row)
    settings = bench_settings(Path(tempfile.gettempdir()) / "longline-settings")
    if args.out:
        write_results(
            args.out,
            {"runs": runs},
            {
                "chunk_tokens": settings.ingest.chunk_tokens,
                "max_file_mb": settings.ingest.max_file_mb,
                "embed_model": settings.models.embed_model,
                "embed_backend": settings.models.embed_backend,
                "sentence_weight": settings.retrieval.sentence_weight,
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
