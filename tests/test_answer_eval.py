"""The answer evaluation's figures on hand-made answers (``sharpnotes.eval.answers``)."""

from __future__ import annotations

from sharpnotes.app.answer import Answer, Citation
from sharpnotes.eval.answers import (
    duplicates,
    evidence_recall,
    judge,
    lead,
    restates,
    summarize,
)
from sharpnotes.eval.sets import Label, Question
from sharpnotes.ingest.settings import Settings

QUESTION = Question(
    "q1",
    "Why does DETR not need non-maximum suppression?",
    labels=[Label("detr.md", "bipartite matching assigns one prediction to each object")],
    split="holdout",
    lang="en",
)


def answer(text: str, cited: str | None = None, refused: bool = False) -> Answer:
    citations = (
        [Citation(1, "c1", "detr.md", "DETR", None, cited, cited)] if cited is not None else []
    )
    return Answer(QUESTION.text, text, refused, citations, 0, "extractive", 1.0, 2.0)


def test_evidence_recall_is_the_share_of_the_evidence_terms_the_answer_holds() -> None:
    # evidence terms: bipartite, matching, assign, prediction, object (5); the answer holds 3
    text = "Bipartite matching gives every object its own query. [1]"
    assert evidence_recall(text, QUESTION) == 3 / 5
    assert evidence_recall("Nothing relevant here. [1]", QUESTION) == 0.0


def test_duplicate_quotes_are_counted_once_per_repeat() -> None:
    assert duplicates("- Index text by embeddings [1]\n- Index text by embeddings [2]") == 1
    assert duplicates("Matching is one-to-one. [1] Each object gets one query. [2]") == 0


def test_an_answer_that_adds_nothing_to_the_question_restates_it() -> None:
    assert restates("Why does DETR not need non-maximum suppression? [1]", QUESTION.text)
    assert not restates(
        "Bipartite matching assigns one prediction per object, so no duplicates remain. [1]",
        QUESTION.text,
    )


def test_cited_needs_a_citation_that_holds_the_evidence() -> None:
    holds = "Here bipartite matching assigns one prediction to each object, always."
    row = judge(QUESTION, "extractive", answer("Matching. [1]", cited=holds), 12.0)
    assert row.evidence_cited is True
    row = judge(QUESTION, "extractive", answer("Matching. [1]", cited="Unrelated."), 12.0)
    assert row.evidence_cited is False


def test_evidence_first_reads_the_answers_first_line_only() -> None:
    opening = "Bipartite matching assigns one prediction to each object. [1] DETR is slow. [1]"
    later = "DETR trains for 500 epochs. [1] " + opening.split(" [1]")[0] + " [1]"
    assert lead(later) == "DETR trains for 500 epochs."
    assert lead("\n\n- a list item\n[2]\n\nmore") == "\n\n- a list item"
    rows = [judge(QUESTION, "extractive", answer(t, cited="x"), 1.0) for t in (opening, later)]
    assert [r.lead_recall for r in rows] == [1.0, 0.0]
    assert [r.evidence_recall for r in rows] == [1.0, 1.0]  # both hold it; one opens with it
    assert summarize(rows)["evidence_first"] == 0.5


def test_refused_answerable_questions_count_as_zero_recall_and_not_cited() -> None:
    unanswerable = Question("q2", "How do I bake rye bread?", answerable=False, near_miss=False)
    rows = [
        judge(QUESTION, "extractive", answer("My notes don't cover this.", refused=True), 5.0),
        judge(
            QUESTION,
            "extractive",
            answer(
                "Bipartite matching assigns one prediction to each object. [1]",
                cited="bipartite matching assigns one prediction to each object",
            ),
            7.0,
        ),
        judge(unanswerable, "extractive", answer("Rye needs sourdough. [1]", cited="x"), 9.0),
    ]
    figures = summarize(rows)
    assert figures["evidence_recall"] == 0.5
    assert figures["evidence_cited"] == 0.5
    assert figures["answerable_refused"] == 0.5
    assert figures["unanswerable_refused"] == 0.0
    assert figures["p95_ms"] == 9.0


def test_the_llm_benchmark_judges_recorded_drafts_again_without_a_model(
    review_env: Settings,
) -> None:
    # ``answers_llm --rows``: a recorded draft is checked, mended and grounded by today's rules
    from sharpnotes.eval.answers import AnswerRow
    from sharpnotes.eval.benchmarks.answers_llm import mended_rows

    question = Question(
        "q1", "Why does DETR not need non-maximum suppression?",
        labels=[Label("detection/detr.md", "Hungarian algorithm")],
    )  # fmt: skip
    draft = "DETR matches each prediction to one box [1]. The moon is made of cheese [1]."
    row = AnswerRow(
        "q1", question.text, "llamacpp", "tune", "en", True, False, False, 0.0, False, 0, False,
        len(draft), 0.0, 1, draft, [], draft=draft,
    )  # fmt: skip
    out = {r.config: r for r in mended_rows([row], [question], review_env, ["llamacpp"])}
    assert "moon" in out["llamacpp-unchecked"].answer
    product = out["llamacpp@1.0/0.0+ground"]
    assert not product.refused and "moon" not in product.answer
    assert product.evidence_cited
