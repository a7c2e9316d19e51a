"""A whole ingest as a user waits for it, next to plain sentence-transformers fp32 encoding.

    python -m sharpnotes.eval.benchmarks.ingest_bench [--docs 300] [--scifact DIR]
        [--notes DIR] [--first-run] [--no-plain] [--out eval/benchmarks/results/ingest.json]

The corpus is the first N SciFact abstracts written as Markdown notes (``--docs``; 0 for all
5,183), or a folder of notes (``--notes``). Every step runs in a process of its own, so that its
wall time, CPU time and peak resident memory (``wait4``'s rusage) are that step's alone:

1. with ``--first-run``: ``sharpnotes ingest`` into a new home on a machine that has never
   calibrated (an empty user cache folder): the ONNX export and the "auto" calibration happen
   here; its record says how long each took;
2. ``sharpnotes ingest`` into a new home with the machine's cache as it is (calibrated before:
   no calibration) and the default settings, sentence vectors included: every stage, the process
   start and model load too;
3. plain sentence-transformers fp32 ``encode`` of the chunk texts the pipeline embedded (read
   from step 2's catalog; the model load is not counted);
4. steps 2 and 3 again (``--rounds``, into another new home each time), so that load from other
   processes hits both alike; the means are compared;
5. ``sharpnotes ingest`` again into the last home, nothing changed.

The ratio is plain encode seconds over whole-ingest seconds (above 1: the whole ingest is faster
than encoding its chunks plainly), in wall time and in CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sharpnotes.eval.benchmarks.paths import REPO, SCIFACT, machine
from sharpnotes.eval.sets import write_notes


def load_corpus(scifact: Path, docs: int | None) -> dict[str, dict]:
    corpus: dict[str, dict] = {}
    with (scifact / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            corpus[str(doc["_id"])] = doc
            if docs and len(corpus) == docs:
                break
    return corpus


def timed(cmd: list[str], env: dict[str, str]) -> dict:
    """Run a child process; its wall and CPU seconds, peak RSS and stdout."""
    started = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True)
    out = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if child.returncode not in (0, 3):  # 3: some files skipped
        raise SystemExit(f"{' '.join(cmd)} failed with status {child.returncode}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "stdout": out,
    }


def ingest(notes: Path, home: Path, env: dict[str, str]) -> dict:
    cmd = [sys.executable, "-m", "sharpnotes.app.cli", "ingest", str(notes), "--json"]
    run = timed(cmd, env | {"SHARPNOTES_HOME": str(home)})
    report = json.loads(run.pop("stdout"))
    return run | {
        k: report[k]
        for k in (
            "chunks_embedded",
            "sentences_embedded",
            "sentences_shared",
            "unchanged",
            "seconds",
        )
    }


def chunk_texts(home: Path, out: Path) -> int:
    from sharpnotes.ingest.index import open_catalog
    from sharpnotes.ingest.settings import Settings

    catalog = open_catalog(Settings(home=home))
    try:
        texts = [text for _, text in catalog.iter_embed_texts()]
    finally:
        catalog.close()
    out.write_text(json.dumps(texts))
    return len(texts)


def plain_encode(texts_file: Path, env: dict[str, str]) -> dict:
    cmd = [sys.executable, "-m", "sharpnotes.eval.benchmarks.ingest_bench"]
    run = timed([*cmd, "--plain-encode", str(texts_file)], env)
    return run | json.loads(run.pop("stdout"))


def encode_plainly(texts_file: Path) -> dict:
    """In the child: sentence-transformers' ``encode`` as a user would call it, fp32, default
    batch size, as many threads as the pipeline uses."""
    import torch
    from sentence_transformers import SentenceTransformer

    from sharpnotes.ingest.embedding import resolve_model
    from sharpnotes.ingest.machine import thread_count
    from sharpnotes.ingest.settings import Settings

    settings = Settings()
    texts = json.loads(texts_file.read_text())
    torch.set_num_threads(thread_count(settings))
    _, folder = resolve_model(settings.models.embed_model)
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    wall, cpu = time.perf_counter(), time.process_time()
    model.encode(texts, batch_size=settings.models.embed_batch_size, normalize_embeddings=True)
    return {
        "texts": len(texts),
        "encode_s": round(time.perf_counter() - wall, 2),
        "encode_cpu_s": round(time.process_time() - cpu, 2),
    }


def run(notes: Path, work: Path, first_run: bool, rounds: int = 2, plain: bool = True) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "SHARPNOTES_HOME"}
    result: dict = {}
    if first_run:  # a machine that never calibrated: an empty user cache folder
        fresh = env | {"XDG_CACHE_HOME": str(work / "fresh-cache")}
        fresh.pop("SHARPNOTES_MODELS_DIR", None)
        result["first_run"] = ingest(notes, work / "first-home", fresh)
        choices = work / "fresh-cache" / "sharpnotes" / "models" / "auto_backend.json"
        result["first_run"]["choice"] = next(iter(json.loads(choices.read_text()).values()))
    # Interleaved, so that load from other processes hits both alike: ingest into a new home,
    # encode its chunk texts plainly, and again (`rounds` times); then the unchanged re-ingest.
    # Without ``plain`` (a memory run on a large corpus) the ingests run alone.
    texts = work / "texts.json"
    full, encoded = [], []
    for round_ in range(1, rounds + 1):
        full.append(ingest(notes, work / f"home-{round_}", env))
        if round_ == 1:
            chunks = chunk_texts(work / "home-1", texts)
        if plain:
            encoded.append(plain_encode(texts, env))
    again = ingest(notes, work / f"home-{rounds}", env)
    mean = {key: sum(r[key] for r in full) / rounds for key in ("wall_s", "cpu_s")}
    result |= {"chunks": chunks, "ingest": full}
    if encoded:
        plain_mean = {k: sum(r[k] for r in encoded) / rounds for k in ("encode_s", "encode_cpu_s")}
        result |= {
            "plain_fp32_encode": encoded,
            "ratio_wall": round(plain_mean["encode_s"] / mean["wall_s"], 3),
            "ratio_cpu": round(plain_mean["encode_cpu_s"] / mean["cpu_s"], 3),
        }
    return result | {
        "reingest": again,
        "reingest_fraction": round(again["wall_s"] / mean["wall_s"], 4),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in full),
    }


def settings_used() -> dict:
    from sharpnotes.ingest.embedding import backend_choice
    from sharpnotes.ingest.machine import thread_count
    from sharpnotes.ingest.settings import Settings

    settings = Settings()
    choice = backend_choice(settings) if settings.models.embed_backend == "auto" else None
    return {
        "embed_backend": settings.models.embed_backend,
        "auto_choice": (choice or {}).get("backend"),
        "threads": thread_count(settings),
        "embed_batch_size": settings.models.embed_batch_size,
        "sentence_weight": settings.retrieval.sentence_weight,
        "models_dir": str(settings.model_cache),
    }


def command(argv: list[str] | None) -> str:
    """The command line that produced a result (for its results file)."""
    args = sys.argv[1:] if argv is None else argv
    return " ".join(["python -m sharpnotes.eval.benchmarks.ingest_bench", *args])


def render(result: dict) -> str:
    r = result["run"]
    full = r["ingest"]
    lines = [
        f"{result['corpus']}: {r['chunks']} chunks, {full[0]['sentences_embedded']} sentences",
        "whole ingest: "
        + " / ".join(f"{x['wall_s']} s wall, {x['cpu_s']} s CPU" for x in full)
        + f"; peak {r['peak_rss_mib']} MiB",
    ]
    if "plain_fp32_encode" in r:
        lines += [
            "plain sentence-transformers fp32 encode: "
            + " / ".join(
                f"{x['encode_s']} s wall, {x['encode_cpu_s']} s CPU" for x in r["plain_fp32_encode"]
            ),
            f"whole ingest vs plain encode: {r['ratio_wall']}x wall, {r['ratio_cpu']}x CPU",
        ]
    lines.append(
        f"re-ingest unchanged: {r['reingest']['wall_s']} s "
        f"({100 * r['reingest_fraction']:.2f}% of the full ingest)"
    )
    if "first_run" in r:
        first = r["first_run"]
        choice = first["choice"]
        lines.append(
            f"first ingest on a machine that never calibrated: {first['wall_s']} s wall, peak "
            f"{first['peak_rss_mib']} MiB; export and load {choice['load_s']} s, calibration "
            f"{choice['calibration_s']} s, chose {choice['backend']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300, help="first N abstracts (0: all)")
    parser.add_argument("--scifact", type=Path, default=SCIFACT)
    parser.add_argument("--notes", type=Path, help="a notes folder instead of SciFact")
    parser.add_argument("--first-run", action="store_true", help="also a never-calibrated run")
    parser.add_argument("--rounds", type=int, default=2, help="ingest + encode pairs (mean)")
    parser.add_argument(
        "--no-plain", action="store_true", help="ingests only (memory on a large corpus)"
    )
    parser.add_argument("--workdir", type=Path, help="keep notes and homes here (default: temp)")
    parser.add_argument("--out", type=Path, help="write the result JSON here")
    parser.add_argument("--plain-encode", type=Path, help=argparse.SUPPRESS)  # in a child
    args = parser.parse_args(argv)
    if args.plain_encode:
        print(json.dumps(encode_plainly(args.plain_encode)))
        return 0
    if not args.notes and not (args.scifact / "corpus.jsonl").exists():
        parser.error(f"no corpus.jsonl in {args.scifact}; pass --scifact DIR")
    if args.workdir and args.workdir.exists() and any(args.workdir.iterdir()):
        parser.error(f"{args.workdir} is not empty; pass a new folder")
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.notes:
            notes, corpus = args.notes.resolve(), f"notes folder {args.notes}"
        else:
            notes = work / "notes"
            docs = load_corpus(args.scifact, args.docs or None)
            write_notes(docs, notes)
            corpus = f"{len(docs)} SciFact abstracts"
        result = {
            "machine": machine(),
            "command": command(argv),
            "settings": settings_used(),
            "corpus": corpus,
            "run": run(notes, work, args.first_run, args.rounds, not args.no_plain),
        }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
