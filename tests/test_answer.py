"""Answers with citations on a small ingested corpus (real model, Chroma and SQLite): the
extractive generator's quotes, the refusal gate, the check of every answer, the ``ask --json``
contract and the recorded gaps."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import write_notes
from sharpnotes.app.answer import answer_question, split_claims
from sharpnotes.app.cli import cli
from sharpnotes.app.gaps import list_gaps
from sharpnotes.app.generators import REFUSAL, REFUSAL_ZH, Generator, get_generator, register
from sharpnotes.app.retrieval import Searcher, SearchResult
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest
from sharpnotes.ingest.text import units

pytestmark = pytest.mark.slow

COVERED = "What algorithm matches DETR predictions one-to-one with ground-truth boxes?"
UNCOVERED = "How do I renew my passport?"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Settings:
    """The sample notes, ingested once for the module. The backend is fixed: with ``auto`` a
    machine's calibration may choose int8 for ingest (queries stay fp32), and the gate test's
    scores would then depend on a timing measured under whatever load the suite puts on it."""
    root = tmp_path_factory.mktemp("answer")
    settings = Settings(home=root / "home", models_dir=models_dir, embed_backend="onnx-fp32")
    assert ingest([write_notes(root / "notes")], settings).ok
    return settings


@pytest.fixture(scope="module")
def searcher(corpus: Settings) -> Searcher:
    return Searcher(corpus)


def test_units_keep_code_formulas_and_list_items_whole() -> None:
    text = (
        "# Title\nAnchors cover every scale. Sure. Second one follows\nover two lines.\n\n"
        "The loss is:\n$$\na = b. c\n$$\n\n```python\nx = 1. y = 2\n```\n"
        "- item one. still item\n  continued\n- item two\n"
    )
    found = units(text)  # "Sure." says nothing: not a unit
    assert [u.kind for u in found] == ["sentence", "sentence", "formula", "code", "list", "list"]
    assert [u.text for u in found[:2]] == [
        "Anchors cover every scale.",
        "Second one follows\nover two lines.",
    ]
    assert all(text[u.start : u.end] == u.text for u in found)
    assert found[2].text.startswith("The loss is:\n$$") and found[2].text.endswith("$$")
    assert found[4].text == "- item one. still item\n  continued"


def test_claims_take_the_markers_that_follow_them() -> None:
    claims = split_claims("A is so [1]. B is too. [2][3] C has none.\n\n```\nx. y\n```\n[2]")
    assert claims == [
        ("A is so.", [1]),
        ("B is too.", [2, 3]),
        ("C has none.", []),
        ("```\nx. y\n```", [2]),
    ]


def test_follow_up_folds_in_the_previous_questions_key_terms(corpus: Settings) -> None:
    offline = get_generator(corpus, "extractive")
    assert offline.condense("And its loss?", []) == "And its loss?"
    assert offline.condense("And its loss?", ["How does DETR match boxes?"]) == (
        "And its loss? DETR match boxes"
    )
    new_topic = "How do I renew my passport at the embassy?"
    assert offline.condense(new_topic, ["How does DETR match boxes?"]) == new_topic


def test_extractive_answer_cites_passages_that_hold_its_quotes(
    corpus: Settings, searcher: Searcher
) -> None:
    tokens: list[str] = []
    answer = answer_question(COVERED, searcher, corpus, on_token=tokens.append)
    assert not answer.refused and answer.generator == "extractive"
    assert "".join(tokens) == answer.answer  # streamed
    assert "Hungarian" in answer.answer
    assert answer.unsupported == 0 and answer.citations
    assert 1 <= len(answer.sentences) <= 4
    for citation in answer.citations:
        assert citation.quote and citation.quote in citation.text
        assert f"[{citation.n}]" in answer.answer
    assert any(c.source == "detection/detr.md" for c in answer.citations)


def test_uncovered_question_is_refused_with_closest_notes_and_recorded(
    corpus: Settings, searcher: Searcher
) -> None:
    answer = answer_question(UNCOVERED, searcher, corpus)
    assert answer.refused and answer.answer == REFUSAL
    assert not answer.citations and answer.closest
    # a question near the notes is a gap to write; a passport or a recipe is not
    near = "How does label smoothing change the classification loss of DETR?"
    for question in (near, near, "紅燒肉要燉多久才會入味？", "How long should I boil an egg?"):
        assert answer_question(question, searcher, corpus).refused
    gaps = list_gaps(corpus)
    assert [(g.question, g.asked) for g in gaps] == [(near, 2)]


def test_a_near_miss_on_a_method_the_notes_never_name_is_refused(
    corpus: Settings, searcher: Searcher
) -> None:
    # DETR, training and boxes are all in the notes; gradient clipping is not
    near_miss = "How does gradient clipping keep DETR training stable?"
    answer = answer_question(near_miss, searcher, corpus, record=False)
    assert answer.refused and not answer.citations
    assert not list_gaps(corpus) or near_miss not in [g.question for g in list_gaps(corpus)]
    # the same question about what the notes do name is answered
    covered = answer_question(
        "Why does DETR need no non-maximum suppression?", searcher, corpus, record=False
    )
    assert not covered.refused and "Hungarian" in covered.answer


def test_the_gate_stops_encoding_once_the_threshold_is_passed_and_decides_alike(
    corpus: Settings, searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sharpnotes.app import embed_cache
    from sharpnotes.app.answer import evidence_for, refusal_reason, refusal_threshold

    encoded: list[str] = []
    embed = type(searcher.embedder()).embed

    def counting(self, texts, batch_size=32):
        encoded.extend(texts)
        return embed(self, texts, batch_size)

    monkeypatch.setattr(type(searcher.embedder()), "embed", counting)
    questions = [
        COVERED, UNCOVERED, "How does gradient clipping keep DETR training stable?",
        "Why does focal loss down-weight easy examples?", "What is a moving average?",
        "What does the Hungarian matching loss compare?", "How do anchors cover object scales?",
    ]  # fmt: skip
    threshold = refusal_threshold(corpus)
    saved = 0
    for question in questions:
        results = searcher.search(question, k=corpus.answers.answer_k)
        embed_cache._CACHE.clear()
        encoded.clear()
        full = evidence_for(question, results, searcher)
        n_full = len(encoded)
        embed_cache._CACHE.clear()
        encoded.clear()
        lazy = evidence_for(question, results, searcher, enough=threshold)
        assert len(encoded) <= n_full
        # a maximum over fewer units: never above the full score, and on the same side of it
        assert lazy.score <= full.score + 1e-6
        assert (lazy.score >= threshold) == (full.score >= threshold), question
        assert (refusal_reason(question, results, full, corpus) is None) == (
            refusal_reason(question, results, lambda bound=lazy: bound, corpus) is None
        )
        saved += n_full - len(encoded)
    assert saved > 0  # some question passed on the passages the answer quotes from
    # passages the answer would quote from that hold none of the evidence: the gate must go on
    # to the passages closest to the question, and pass it as the full gate does
    elsewhere = [SearchResult(1, 0.1, "elsewhere", "other.md", "", None, "Bananas are yellow.")]
    full = evidence_for(COVERED, elsewhere, searcher)
    assert full.score >= threshold
    assert evidence_for(COVERED, elsewhere, searcher, enough=threshold).score == full.score
    # a question the term checks refuse computes no evidence at all
    results = searcher.search(UNCOVERED, k=corpus.answers.answer_k)
    called: list[int] = []
    rmsprop = "How does RMSProp scale the step?"
    why = refusal_reason(rmsprop, results, lambda: called.append(1), corpus)
    assert why and "rmsprop" in why.lower() and not called


def test_short_new_topic_after_a_question_is_not_folded_into_it(
    corpus: Settings, searcher: Searcher
) -> None:
    answer = answer_question("What is the capital of France?", searcher, corpus, history=[COVERED])
    assert answer.refused and not answer.citations


class _ScriptedGenerator(Generator):
    """Cites one true sentence, one the passage does not say, and one with a bad marker."""

    name = "scripted-test"

    def generate(self, question: str, passages: Sequence[SearchResult], on_token=None) -> str:  # type: ignore[no-untyped-def]
        true = units(passages[0].text)[0].text
        text = (
            f"{' '.join(true.split())} [1] "
            "Sourdough starters need feeding with rye flour every morning. [1] "
            f"{' '.join(true.split())} [{len(passages) + 5}]"
        )
        if on_token:
            on_token(text)
        return text


register("scripted-test")(_ScriptedGenerator)


def test_check_flags_unsupported_sentences_and_bad_markers(
    corpus: Settings, searcher: Searcher
) -> None:
    unmended = corpus.replace(repair=False)  # the model's text as written, failures flagged
    answer = answer_question(COVERED, searcher, unmended, generator="scripted-test")
    assert not answer.draft and not answer.repair
    assert not answer.refused
    assert [c.supported for c in answer.sentences] == [True, False, False]
    assert answer.unsupported == 2
    assert [c.n for c in answer.citations] == [1]
    assert answer.citations[0].quote in answer.citations[0].text
    assert "Sourdough" not in answer.citations[0].quote


class _ParaphrasingGenerator(Generator):
    """An LLM's habits: a passage's sentence retold without a marker, an invented claim, and a
    true sentence cited by a number that was never given."""

    name = "paraphrasing-test"

    def generate(self, question: str, passages: Sequence[SearchResult], on_token=None) -> str:  # type: ignore[no-untyped-def]
        first, second = (" ".join(u.clean.split()) for u in units(passages[0].text)[:2])
        return (
            f"In short, {first[0].lower()}{first[1:].rstrip('.')}. "
            "Sourdough starters need feeding with rye flour every morning. [1] "
            f"{second} [{len(passages) + 5}]"
        )


class _InventingGenerator(Generator):
    """Nothing it says is in the notes."""

    name = "inventing-test"

    def generate(self, question: str, passages: Sequence[SearchResult], on_token=None) -> str:  # type: ignore[no-untyped-def]
        return "Sourdough starters need feeding with rye flour every morning. [1]"


register("paraphrasing-test")(_ParaphrasingGenerator)
register("inventing-test")(_InventingGenerator)


def test_llm_draft_is_mended_supported_sentences_moved_inventions_dropped(
    corpus: Settings, searcher: Searcher
) -> None:
    answer = answer_question(COVERED, searcher, corpus, generator="paraphrasing-test")
    assert not answer.refused and answer.draft.startswith("In short,")
    assert answer.repair == {"replaced": 2, "dropped": 1, "fell_back": 0}
    assert "Sourdough" not in answer.answer and "In short" not in answer.answer
    assert answer.unsupported == 0 and all(s.supported for s in answer.sentences)
    passages = searcher.search(COVERED, k=corpus.answers.answer_k)
    quoted = [" ".join(u.clean.split()) for u in units(passages[0].text)[:2]]
    assert all(q in " ".join(answer.answer.split()) for q in quoted)
    assert {c.n for c in answer.citations} == {1}
    data = answer.to_dict()
    assert data["draft"] == answer.draft and data["repair"]["dropped"] == 1


def test_a_draft_with_nothing_supported_falls_back_to_the_notes_own_words(
    corpus: Settings, searcher: Searcher
) -> None:
    answer = answer_question(COVERED, searcher, corpus, generator="inventing-test")
    assert answer.repair == {"replaced": 0, "dropped": 1, "fell_back": 1}
    offline = answer_question(COVERED, searcher, corpus)  # the extractive composer's quotes
    assert answer.answer == offline.answer and answer.citations
    assert answer.unsupported == 0 and "Sourdough" in answer.draft


def test_ask_json_contract(corpus: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARPNOTES_HOME", str(corpus.paths.home))
    runner = CliRunner()
    result = runner.invoke(cli, ["ask", COVERED, "--json", "--k", "4"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {
        "question",
        "answer",
        "refused",
        "citations",
        "unsupported",
        "generator",
        "retrieval_ms",
        "generation_ms",
    } <= data.keys()
    assert data["question"] == COVERED and data["refused"] is False
    assert data["generator"] == "extractive" and data["unsupported"] == 0
    citation = data["citations"][0]
    assert set(citation) == {"n", "chunk_id", "source", "heading", "page", "text", "quote"}
    assert citation["quote"] in citation["text"] and f"[{citation['n']}]" in data["answer"]

    refused = runner.invoke(cli, ["ask", UNCOVERED])
    assert refused.exit_code == 0
    assert REFUSAL in refused.output and "closest notes" in refused.output
    assert REFUSAL_ZH not in refused.output
    assert UNCOVERED not in [g.question for g in list_gaps(corpus)]  # off-topic: no gap
    # a question asked in Chinese is told so in Chinese too
    zh = json.loads(runner.invoke(cli, ["ask", "紅燒肉要燉多久？", "--json"]).output)
    assert zh["refused"] and zh["answer"] == f"{REFUSAL} {REFUSAL_ZH}"


def test_eval_answers_command_judges_answers_and_compares_runs(
    corpus: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SHARPNOTES_HOME", str(corpus.paths.home))
    rows = [
        {
            "id": "a1",
            "question": COVERED,
            "split": "holdout",
            "lang": "en",
            "relevant": [{"source": "detection/detr.md", "evidence": "Hungarian algorithm"}],
        },
        {"id": "u1", "question": UNCOVERED, "answerable": False, "split": "holdout"},
        {"id": "u2", "question": "Bake rye bread?", "answerable": False, "split": "tune"},
    ]
    set_path = tmp_path / "set.jsonl"
    set_path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    runner = CliRunner()
    first = tmp_path / "first"
    result = runner.invoke(
        cli,
        ["eval", "answers", "--set", str(set_path), "--split", "holdout", "--out", str(first)],
    )
    assert result.exit_code == 0, result.output
    assert "ev.recall" in result.output and "holdout" in result.output
    per_question = [json.loads(line) for line in (first / "results.jsonl").read_text().splitlines()]
    assert [r["query_id"] for r in per_question] == ["a1", "u1"]  # the holdout half only
    answered, refused = per_question
    assert answered["evidence_cited"] is True and answered["evidence_recall"] == 1.0
    assert refused["refused"] is True and answered["duplicates"] == 0
    summary = json.loads((first / "summary.json").read_text())["configs"]["extractive"]
    assert summary["unanswerable_refused"] == 1.0 and summary["answerable_refused"] == 0.0

    again = runner.invoke(
        cli,
        ["eval", "answers", "--set", str(set_path), "--json", "--compare", str(first)],
    )
    assert again.exit_code == 0, again.output
    data = json.loads(again.output)
    assert data["configs"]["extractive"]["questions"] == 3
    assert "extractive" in data["compare"]["configs"]

    missing = runner.invoke(
        cli, ["eval", "answers", "--set", str(set_path), "--generators", "nope"]
    )
    assert missing.exit_code != 0
