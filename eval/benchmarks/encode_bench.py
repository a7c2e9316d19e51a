"""Encoding throughput of every embedding backend against plain sentence-transformers fp32.

    python -m sharpnotes.eval.benchmarks.encode_bench [--n 512] [--scifact ../shared/data/scifact]
        [--repeats 3]

Embeds `title + "\\n" + text` of the first n SciFact abstracts with each backend, repeating the
rounds in rotating order (median of repeats) so that load from other processes on a shared machine
hits every backend alike, then asks "auto" for its pick in a fresh home, so it measures anew.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sharpnotes.ingest import embedding, machine
from sharpnotes.ingest.settings import Settings

BASELINE = "sentence-transformers fp32 (baseline)"
BACKENDS = ("st-fp32", "st-bf16", "onnx-fp32", "onnx-int8")
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def load_texts(scifact: Path, n: int) -> list[str]:
    texts = []
    with (scifact / "corpus.jsonl").open() as corpus:
        for line in corpus:
            doc = json.loads(line)
            texts.append(f"{doc['title']}\n{doc['text']}")
            if len(texts) == n:
                break
    return texts


class PlainSentenceTransformer:
    """The baseline: sentence-transformers' `encode` as a user would call it, nothing tuned."""

    backend = BASELINE

    def __init__(self, folder: Path) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)

    def embed(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True)


def run(args: argparse.Namespace) -> dict:
    texts = load_texts(args.scifact, args.n)
    with tempfile.TemporaryDirectory(prefix="encode-bench-") as home:
        settings = Settings(home=Path(home), threads=args.threads, embed_batch_size=args.batch_size)
        return measure(texts, settings, args.repeats) | {"n": len(texts)}


def measure(texts: list[str], settings: Settings, repeats: int) -> dict:
    import torch

    batch_size = settings.models.embed_batch_size
    _, folder = embedding.resolve_model(settings.models.embed_model)
    runners: dict = {BASELINE: PlainSentenceTransformer(folder)}
    for backend in BACKENDS:
        chosen = settings.replace(embed_backend=backend)
        runner = embedding.load_embedder(chosen, "ingest")
        if runner.backend == backend:  # else it fell back (logged) and there is nothing to measure
            runners[backend] = runner
    vectors = {name: runner.embed(texts[:8], batch_size) for name, runner in runners.items()}
    rates: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    for round_ in range(repeats):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            start = time.perf_counter()
            vectors[name] = runners[name].embed(texts, batch_size)
            rates[name].append(len(texts) / (time.perf_counter() - start))
    baseline = statistics.median(rates[BASELINE])
    rows = []
    for name in names:
        cosine = (vectors[name] * vectors[BASELINE]).sum(1)
        rate = statistics.median(rates[name])
        rows.append(
            {
                "backend": name,
                "texts_per_s": rate,
                "ratio": rate / baseline,
                "cos_mean": float(cosine.mean()),
                "cos_min": float(cosine.min()),
                "runs": rates[name],
            }
        )
    del runners, vectors
    auto = embedding.load_embedder(settings, "ingest")
    decisions = json.loads((settings.paths.home / "models" / "auto_backend.json").read_text())
    return {
        "cpu": machine.cpu_model(),
        "flags": sorted(set(FLAGS) & machine.cpu_flags()),
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": machine.thread_count(settings),
        "batch_size": batch_size,
        "rows": rows,
        "auto": auto.backend,
        "auto_calibration": next(iter(decisions.values())),
    }


def render(result: dict) -> str:
    lines = [
        f"CPU: {result['cpu']}; flags: {' '.join(result['flags']) or 'none'}; "
        f"torch capability: {result['torch_capability']}; threads: {result['threads']}",
        f"{result['n']} SciFact abstracts, batch size {result['batch_size']}, "
        f"median of {len(result['rows'][0]['runs'])} rounds",
        "",
        f"{'backend':40} {'texts/s':>8} {'ratio':>6} {'cos mean':>9} {'cos min':>8}",
    ]
    for row in result["rows"]:
        lines.append(
            f"{row['backend']:40} {row['texts_per_s']:8.1f} {row['ratio']:5.2f}x "
            f"{row['cos_mean']:9.5f} {row['cos_min']:8.5f}"
        )
    calibration = result["auto_calibration"]
    measured = ", ".join(
        f"{name} {m['texts_per_s']:.1f}/s cos>={m['min_cosine']:.4f}"
        for name, m in calibration["measured"].items()
    )
    lines += [
        "",
        f"auto picks: {result['auto']} "
        f"(calibration in {calibration['calibration_s']} s: {measured})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=512, help="number of abstracts")
    parser.add_argument("--scifact", type=Path, default=Path("../shared/data/scifact"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0, help="0: the number of cores")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if not (args.scifact / "corpus.jsonl").exists():
        parser.error(f"no corpus.jsonl in {args.scifact}; pass --scifact DIR")
    result = run(args)
    print(json.dumps(result, indent=1) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
