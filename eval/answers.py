"""Answer quality on a labelled set: ``sharpnotes eval answers``.

Every question of a JSONL set goes through ``app.answer.answer_question`` (retrieval, refusal
gate, generator, answer check) on the index of the settings, once per generator, and is judged on
what a reader gets:

- evidence recall: the share of the labelled evidence's content terms (``ingest.text.terms``)
  that the answer holds (the best label counts; answerable questions only);
- evidence cited: a cited passage holds the labelled evidence (``Label.matches``);
- refused, for answerable and unanswerable questions (near misses counted apart);
- duplicate quotes: answer units (``ingest.text.units``) whose text repeats an earlier one;
- restates the question: an answer that adds fewer than ``RESTATE_NEW_TERMS`` content terms to
  the question's own;
- answer length (characters) and latency (retrieval + generation);
- evidence first: the answer's first quoted line (its text up to the first ``[n]``) holds at least
  ``LEAD_RECALL`` of the evidence's content terms: the reader meets the answer first.

Rates are given for the whole set and per split (``tune``/``holdout``) and language (``en``/
``zh``), so a choice made on the tuning half is read on the holdout half.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from sharpnotes.eval.harness import p95, write_run
from sharpnotes.eval.sets import EvalSet, Question
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.text import terms, units

# an answer that adds fewer content terms than this to the question only restates it
RESTATE_NEW_TERMS = 3
_MARKERS = re.compile(r"\s*\[\d+\]")
# the share of the evidence's content terms the answer's first line holds for "evidence first"
LEAD_RECALL = 0.5


@dataclass
class AnswerRow:
    """One question answered by one generator, judged."""

    query_id: str
    question: str
    config: str  # the generator
    split: str
    lang: str
    answerable: bool
    near_miss: bool
    refused: bool
    evidence_recall: float | None  # answerable and answered only
    evidence_cited: bool | None
    duplicates: int
    restates: bool
    length: int
    latency_ms: float
    unsupported: int
    answer: str
    cited: list[str]
    draft: str = ""  # an LLM's own text when the answer check mended it
    lead_recall: float | None = None  # evidence recall of the first line (``lead``)

    def to_dict(self) -> dict:
        return asdict(self)


def plain(answer: str) -> str:
    return _MARKERS.sub("", answer)


def evidence_recall(answer: str, question: Question) -> float:
    """Best share, over the labels with evidence, of the evidence's content terms in ``answer``."""
    have = terms(plain(answer))
    shares = [
        len(need & have) / len(need)
        for label in question.labels
        if label.evidence and (need := terms(label.evidence))
    ]
    return max(shares, default=0.0)


def lead(answer: str) -> str:
    """The first line an answer quotes: its text up to its first ``[n]`` marker (all of it
    when it has none)."""
    found = _MARKERS.search(answer)
    return answer[: found.start()] if found else answer


def duplicates(answer: str) -> int:
    """Units of the answer whose text (markers and spacing aside) repeats an earlier unit's."""
    seen: set[str] = set()
    count = 0
    for unit in units(plain(answer), min_terms=0):
        key = " ".join(unit.text.lower().split())
        if key in seen:
            count += 1
        seen.add(key)
    return count


def restates(answer: str, question: str) -> bool:
    """True when the answer adds almost nothing to the question's own content terms."""
    return len(terms(plain(answer)) - terms(question)) < RESTATE_NEW_TERMS


def judge(question: Question, generator: str, answer, latency_ms: float) -> AnswerRow:
    """One ``app.answer.Answer`` against its labels."""
    answered = question.answerable and not answer.refused
    cited = [c for c in answer.citations]
    return AnswerRow(
        query_id=question.id,
        question=question.text,
        config=generator,
        split=question.split,
        lang=question.lang,
        answerable=question.answerable,
        near_miss=question.near_miss,
        refused=answer.refused,
        evidence_recall=round(evidence_recall(answer.answer, question), 4) if answered else None,
        evidence_cited=(
            any(lab.matches(c.source, c.page, c.text) for c in cited for lab in question.labels)
            if answered
            else None
        ),
        duplicates=0 if answer.refused else duplicates(answer.answer),
        restates=False if answer.refused else restates(answer.answer, question.text),
        length=0 if answer.refused else len(plain(answer.answer)),
        latency_ms=round(latency_ms, 1),
        unsupported=answer.unsupported,
        answer=answer.answer,
        cited=[c.source for c in cited],
        draft=getattr(answer, "draft", ""),
        lead_recall=round(evidence_recall(lead(answer.answer), question), 4) if answered else None,
    )


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def summarize(rows: Sequence[AnswerRow]) -> dict:
    """The figures of a group of rows. Evidence recall and cited are taken over all answerable
    questions (a refused one holds no evidence: 0), so refusing more cannot raise them."""
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    near = [r for r in unanswerable if r.near_miss]
    answered = [r for r in rows if not r.refused]
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "evidence_recall": _mean([r.evidence_recall or 0.0 for r in answerable]),
        "evidence_cited": _mean([float(bool(r.evidence_cited)) for r in answerable]),
        "evidence_first": _mean([float((r.lead_recall or 0.0) >= LEAD_RECALL) for r in answerable]),
        "answerable_refused": _mean([float(r.refused) for r in answerable]),
        "unanswerable_refused": _mean([float(r.refused) for r in unanswerable]),
        "near_miss_refused": _mean([float(r.refused) for r in near]),
        "near_misses": len(near),
        "duplicate_quotes": sum(r.duplicates for r in rows),
        "restates_question": sum(r.restates for r in answered),
        "mean_length": round(_mean([r.length for r in answered]), 1),
        "mean_ms": round(_mean([r.latency_ms for r in rows]), 1),
        "p95_ms": round(p95([r.latency_ms for r in rows]), 1),
    }


def group_summaries(rows: Sequence[AnswerRow]) -> dict[str, dict]:
    """``all`` plus every split, language and split x language present."""
    groups: dict[str, list[AnswerRow]] = {"all": list(rows)}
    for r in rows:
        for key in (r.split, r.lang, f"{r.split}/{r.lang}"):
            if key and key.strip("/") == key:
                groups.setdefault(key, []).append(r)
    return {name: summarize(group) for name, group in groups.items()}


@dataclass
class AnswerReport:
    set_info: dict
    rows: list[AnswerRow]
    settings: dict

    def summary(self) -> dict:
        configs = {}
        for name in dict.fromkeys(r.config for r in self.rows):
            groups = group_summaries([r for r in self.rows if r.config == name])
            configs[name] = groups["all"] | {"groups": groups}
        return {"kind": "answers", "set": self.set_info, "settings": self.settings} | {
            "configs": configs
        }

    def write(self, folder: Path) -> tuple[Path, Path]:
        """``results.jsonl`` (one line per question and generator) and ``summary.json``."""
        return write_run(folder, [r.to_dict() for r in self.rows], self.summary())


def run_answers(
    eval_set: EvalSet,
    settings: Settings,
    generators: Sequence[str],
    *,
    split: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> AnswerReport:
    """Answer every question of ``eval_set`` (only the ``split`` half when given) with each
    generator, on the index of ``settings``. Gaps are not recorded (this is not the user asking).
    Raises ``GeneratorError`` when a generator cannot run."""
    from sharpnotes.app.answer import answer_question
    from sharpnotes.app.retrieval import Searcher

    questions = [q for q in eval_set.questions if split is None or q.split == split]
    searcher = Searcher(settings)
    rows: list[AnswerRow] = []
    for name in generators:
        if questions:  # warm the models so the first question's latency is not a load
            answer_question(questions[0].text, searcher, settings, generator=name, record=False)
        for question in questions:
            start = time.perf_counter()
            answer = answer_question(
                question.text, searcher, settings, generator=name, record=False
            )
            rows.append(judge(question, name, answer, (time.perf_counter() - start) * 1000))
            if progress:
                progress(f"answers ({name})", len(rows), len(questions) * len(generators))
    info = eval_set.describe() | {"split_run": split}
    used = {
        "answer_k": settings.answers.answer_k,
        "refusal_threshold": settings.answers.refusal_threshold,
        "embed_model": settings.models.embed_model,
    }
    return AnswerReport(info, rows, used)


def compare_answer_runs(a: dict, rows_a: list[dict], b: dict, rows_b: list[dict]) -> dict:
    """Per generator in both runs: figure deltas (B - A) and the questions whose outcome changed
    (refused or not, evidence cited or not, evidence recall moved by 0.2 or more)."""
    by_a = {(r["config"], r["query_id"]): r for r in rows_a}
    out: dict = {"configs": {}}
    for name in [c for c in b["configs"] if c in a["configs"]]:
        deltas = {
            m: round(v - a["configs"][name][m], 4)
            for m, v in b["configs"][name].items()
            if isinstance(v, int | float) and isinstance(a["configs"][name].get(m), int | float)
        }
        changed = []
        for rb in rows_b:
            ra = by_a.get((name, rb["query_id"]))
            if rb["config"] != name or ra is None:
                continue
            moved = abs((rb["evidence_recall"] or 0) - (ra["evidence_recall"] or 0)) >= 0.2
            if (
                moved
                or ra["refused"] != rb["refused"]
                or ra["evidence_cited"] != rb["evidence_cited"]
            ):
                changed.append(
                    {
                        "query_id": rb["query_id"],
                        "question": rb["question"],
                        "answerable": rb["answerable"],
                        "a": {k: ra[k] for k in ("refused", "evidence_cited", "evidence_recall")},
                        "b": {k: rb[k] for k in ("refused", "evidence_cited", "evidence_recall")},
                    }
                )
        out["configs"][name] = {"deltas": deltas, "changed": changed}
    return out


COLUMNS = [
    ("evidence_recall", "ev.recall"),
    ("evidence_cited", "ev.cited"),
    ("evidence_first", "ev.first"),
    ("answerable_refused", "ans.refused"),
    ("unanswerable_refused", "unans.refused"),
    ("near_miss_refused", "near.refused"),
    ("duplicate_quotes", "dup"),
    ("restates_question", "restates"),
    ("mean_length", "len"),
    ("p95_ms", "p95 ms"),
]


def format_summary(summary: dict) -> str:
    """One table per generator: a row per group (all, splits, languages)."""
    lines = []
    for name, cfg in summary["configs"].items():
        lines.append(f"{name}:")
        head = f"  {'group':<14}" + "".join(f"{label:>14}" for _, label in COLUMNS)
        lines.append(head)
        for group, fig in cfg["groups"].items():
            cells = "".join(
                f"{fig[key]:>14.3f}" if isinstance(fig[key], float) else f"{fig[key]:>14}"
                for key, _ in COLUMNS
            )
            lines.append(f"  {group:<14}{cells}")
    return "\n".join(lines)
