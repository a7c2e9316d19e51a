"""Quiz generation: offline items from a real index of sample notes (real ingest, real model,
real Chroma/BM25), the verification rules, passage selection by topic, exclusion and preference,
and LLM-written items through an OpenAI-compatible stub server (the plumbing; what is tested
is that every LLM item is verified and bad ones are dropped and counted)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from pydantic import SecretStr
from test_llm import StubServer

from conftest import REPO, SAMPLE_NOTES, write_notes
from sharpnotes.app.quiz import gate, verify
from sharpnotes.app.quiz.generate import (
    SENTENCE_CAPPED,
    QuizBatch,
    _as_result,
    choose,
    corpus_pool,
    generate_quiz,
    items_from_passage,
    naming,
    sentence_cap,
    topic_names,
    writes_name,
)
from sharpnotes.app.quiz.handwritten import card_items, continued_sections
from sharpnotes.app.quiz.items import Citation, QuizItem
from sharpnotes.app.quiz.terms import DistractorPool, Lexicon, fold, near_equal, term_kind
from sharpnotes.app.retrieval import EmptyIndexError, Filters, Searcher, SearchResult
from sharpnotes.ingest.index import open_catalog
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest

REAL_NOTES = [
    "detection/anchors-and-nms.md",
    "detection/detr.md",
    "fundamentals/bias-variance.md",
    "inbox/mixed-language-bev-筆記.md",
]


@pytest.fixture(scope="module")
def quiz_index(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Settings:
    """A few real sample notes and the conftest notes, ingested once for the module."""
    root = tmp_path_factory.mktemp("quiz-notes")
    write_notes(root / "extra", SAMPLE_NOTES)
    for rel in REAL_NOTES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "notes" / rel, root / rel)
    settings = Settings(
        home=tmp_path_factory.mktemp("quiz-home"),
        models_dir=models_dir,
        embed_backend="onnx-int8",
        sentence_share=1.0,  # these tests check the items cut from sentences: all of them
    )
    report = ingest([root], settings)
    assert report.ok, report.failed
    return settings


def _with_share(settings: Settings, share: float) -> Settings:
    return settings.model_copy(
        update={"study": settings.study.model_copy(update={"sentence_share": share})}
    )


def _rows(settings: Settings) -> dict:
    catalog = open_catalog(settings)
    try:
        return catalog.get_chunks(catalog.chunk_ids())
    finally:
        catalog.close()


def assert_sound(item: QuizItem, rows: dict) -> None:
    """What every shown item must satisfy (the issue's quality rules)."""
    row = rows[item.citation.chunk_id]
    assert item.content_hash == row.content_hash
    if item.passage != row.text:  # a card whose answer the chunk's end cut: the rest follows
        nxt = next(
            r for r in rows.values()
            if (r.source, r.ordinal, r.heading) == (row.source, row.ordinal + 1, row.heading)
        )  # fmt: skip
        head, rest = item.passage[: len(row.text.rstrip())], item.passage[len(row.text.rstrip()) :]
        assert item.generator == "notes" and head == row.text.rstrip()
        assert rest.strip() and nxt.text.startswith(rest.strip())
    assert (item.citation.source, item.citation.heading) == (row.source, row.heading)
    assert item.evidence and item.evidence in item.passage
    assert not verify.contains_term(item.question, item.answer), item.question
    if item.type in ("cloze", "mcq"):
        assert verify.contains_term(item.evidence, item.answer)
    if item.type == "cloze":
        assert "____" in item.question
    if item.type == "mcq":
        options = item.options or []
        assert len(options) == 4 and item.answer in options
        assert len({fold(o) for o in options}) == 4
        for wrong in (o for o in options if o != item.answer):
            assert not near_equal(wrong, item.answer)
            assert term_kind(wrong) == term_kind(item.answer)
            assert not verify.contains_term(item.question, wrong)
    if item.type == "recall":
        assert item.key_points
        assert item.generator != "offline" or item.question.startswith("Explain")
        assert not verify.recall_self_answering(item)


@pytest.mark.slow
def test_offline_items_cite_a_passage_holding_their_answer(quiz_index: Settings) -> None:
    batch = generate_quiz(quiz_index, n=60, kind="mixed", seed=0)
    rows = _rows(quiz_index)
    assert isinstance(batch, QuizBatch) and len(batch.items) >= 15
    assert {i.type for i in batch.items} == {"mcq", "cloze", "recall"}
    for item in batch.items:
        assert_sound(item, rows)
        out = item.to_dict()
        options = ["options"] if item.type == "mcq" else []
        contract = ["id", "type", "question", *options, "answer", "evidence", "passage", "citation"]
        assert list(out) == contract
        assert set(out["citation"]) == {"chunk_id", "source", "heading", "page"}
        json.dumps(out)
    assert len({i.id for i in batch.items}) == len(batch.items)
    assert len({(i.citation.chunk_id, fold(i.answer)) for i in batch.items}) == len(batch.items)
    # passages without a usable sentence (code, a formula, a to-do line) are counted, not hidden
    assert batch.dropped.get(verify.NO_SENTENCE, 0) >= 1
    assert all(isinstance(v, int) and v > 0 for v in batch.dropped.values())


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mcq", "cloze", "recall"])
def test_one_kind(quiz_index: Settings, kind: str) -> None:
    batch = generate_quiz(quiz_index, n=6, kind=kind, seed=3)
    rows = _rows(quiz_index)
    assert len(batch.items) >= 3 and {i.type for i in batch.items} == {kind}
    for item in batch.items:
        assert_sound(item, rows)


@pytest.mark.slow
def test_a_mixed_quiz_keeps_sentence_items_to_their_share(quiz_index: Settings) -> None:
    """Blanks cut from single sentences are the weakest questions: a mixed quiz takes the
    learner's cards and the items of tables and lists first and at most a fifth of sentence
    items; past that it is shorter, not padded, and says why. One type asked for is not
    limited."""
    capped = _with_share(quiz_index, 0.2)
    full = generate_quiz(quiz_index, n=40, kind="mixed", seed=0)
    cut_full = sum(i.generator == "offline" for i in full.items)
    assert cut_full > 8 and full.shortfall(40) is None  # the share binds on this corpus
    batch = generate_quiz(capped, n=40, kind="mixed", seed=0)
    cut = [i for i in batch.items if i.generator == "offline"]
    assert 1 <= len(cut) <= 8 and len(batch.items) < 40
    assert {i.generator for i in batch.items} > {"offline"}  # cards and list items kept
    assert batch.dropped[SENTENCE_CAPPED] > 0 and SENTENCE_CAPPED not in batch.failed()
    assert (note := batch.shortfall(40)) and note.startswith(f"{len(batch.items)} of 40")
    rows = _rows(quiz_index)
    for item in batch.items:
        assert_sound(item, rows)
    cloze = generate_quiz(capped, n=6, kind="cloze", seed=3)
    assert sum(i.generator == "offline" for i in cloze.items) >= 3


def test_sentence_cap_and_choose() -> None:
    assert [sentence_cap(n, 0.2) for n in (1, 4, 5, 10, 12)] == [1, 1, 1, 2, 2]
    assert sentence_cap(10, 0.0) == 0 and sentence_cap(10, 1.0) == 10

    def item(k: int, generator: str) -> QuizItem:
        citation = Citation(f"c{k}", "a.md", "A", None)
        return QuizItem("cloze", f"Question {k} about ____.", f"term{k}", f"e{k}", f"p{k}",
                        citation, generator=generator)  # fmt: skip

    # one passage offers a card, one a list item, four only sentence items
    pools = [[item(0, "offline")], [item(1, "notes")], [item(2, "offline")],
             [item(3, "structure")], [item(4, "offline")], [item(5, "offline")]]  # fmt: skip
    dropped: dict[str, int] = {}
    kept = choose(pools, 5, dropped, cap=1)
    assert [i.generator for i in kept] == ["notes", "structure", "offline"]
    assert dropped == {SENTENCE_CAPPED: 2}  # a quiz of 5 is 2 short
    assert len(choose(pools, 5, {})) == 5  # no cap: filled with sentence items
    dropped = {}
    assert [i.generator for i in choose(pools, 5, dropped, cap=0)] == ["notes", "structure"]
    assert dropped == {SENTENCE_CAPPED: 3}
    # notes that offer nothing but sentences still get a quiz, not an empty one
    prose = [[item(k, "offline")] for k in (6, 7, 8)]
    assert [i.generator for i in choose(prose, 5, {}, cap=0)] == ["offline"] * 3


@pytest.mark.slow
def test_chinese_passages_give_no_garbage(quiz_index: Settings) -> None:
    batch = generate_quiz(quiz_index, n=20, filters=Filters(folder="inbox"), kind="mixed", seed=0)
    rows = _rows(quiz_index)
    for item in batch.items:
        assert item.citation.source.startswith("inbox/")
        assert_sound(item, rows)
        if item.generator == "notes":  # the learner's own card: their words, in any language
            continue
        if item.generator == "structure":  # a table row or named list: the note's own cells
            assert re.match(r"\s*(?:\||[-*+]\s|\d+[.)])", item.evidence), item.evidence
            continue
        # a generated blank in a Chinese sentence is an English term of the note (LSS, BEV ...)
        assert item.answer.isascii() and item.type != "recall"
    assert any(i.generator == "notes" for i in batch.items)  # the inbox's own Q&A lines


@pytest.mark.slow
def test_topic_exclusion_preference_and_filters(quiz_index: Settings) -> None:
    searcher = Searcher(quiz_index)
    topic = "non-maximum suppression of duplicate boxes"
    batch = generate_quiz(quiz_index, topic=topic, n=4, searcher=searcher, seed=1)
    found = [r.chunk_id for r in searcher.search(topic, k=16)]
    assert batch.items and all(i.citation.chunk_id in found for i in batch.items)
    assert any(i.citation.source.endswith("anchors-and-nms.md") for i in batch.items)

    first = generate_quiz(quiz_index, n=8, seed=2)
    quizzed = {i.citation.chunk_id for i in first.items}
    second = generate_quiz(quiz_index, n=8, seed=2, exclude_chunks=quizzed)
    assert second.items and not quizzed & {i.citation.chunk_id for i in second.items}
    # excluding every chunk leaves nothing to ask
    assert generate_quiz(quiz_index, n=3, exclude_chunks=set(_rows(quiz_index))).items == []
    # ... but a quizzed passage still offers the learner's cards that are not asked yet: a list of
    # Q&A pairs sits in one chunk, and each pair is a card
    rows = _rows(quiz_index)
    cards = {cid: card_items(_as_result(row), row.content_hash)[0] for cid, row in rows.items()}
    chunk, written = next((cid, c) for cid, c in cards.items() if len(c) >= 3)
    asked = {written[0].id}
    again = generate_quiz(quiz_index, n=50, seed=2, exclude_chunks={chunk}, known=asked)
    from_chunk = [i for i in again.items if i.citation.chunk_id == chunk]
    assert from_chunk and {i.id for i in from_chunk} <= {c.id for c in written[1:]}
    assert all(i.generator == "notes" for i in from_chunk)
    # a section cut into two chunks: its heading's question is answered by the first one only
    continued = continued_sections(rows.values())
    slow = sorted(
        (r for r in rows.values() if r.heading.endswith("Why does DETR converge so slowly?")),
        key=lambda r: r.ordinal,
    )
    assert len(slow) >= 2 and {r.chunk_id for r in slow} & continued == {
        r.chunk_id for r in slow[1:]
    }
    asked_slow = [i for i in again.items if i.question == "Why does DETR converge so slowly?"]
    assert all(i.answer.startswith("1.") for i in asked_slow)
    every = {c.id for c in written}
    done = generate_quiz(quiz_index, n=50, seed=2, exclude_chunks={chunk}, known=every)
    assert chunk not in {i.citation.chunk_id for i in done.items}

    weak = [cid for cid, row in _rows(quiz_index).items() if row.source.endswith("detr.md")]
    preferred = generate_quiz(quiz_index, n=3, seed=5, prefer_chunks=weak)
    assert preferred.items and all(i.citation.chunk_id in weak for i in preferred.items)

    in_folder = generate_quiz(quiz_index, n=6, filters=Filters(folder="fundamentals"), seed=1)
    assert in_folder.items and all(
        i.citation.source.startswith("fundamentals/") for i in in_folder.items
    )
    with pytest.raises(ValueError, match="unknown quiz type"):
        generate_quiz(quiz_index, kind="essay")


# ---------------------------------------------------------------- passages and verification


def _passage(text: str, chunk_id: str = "c1", heading: str = "Detection > NMS") -> SearchResult:
    return SearchResult(1, 0.0, chunk_id, "detection/nms.md", heading, None, text)


OTHERS = {
    "o1": "**Focal loss** down-weights easy negatives. The **IoU** threshold of 0.5 decides "
    "matches, and **FPN** builds a feature pyramid.",
    "o2": "**Soft-NMS** decays scores instead of deleting boxes; **GIoU** and **mAP** are "
    "standard, and **anchor boxes** are tiled over the map.",
    "o3": "**Label smoothing** regularises the classifier while **weight decay** shrinks "
    "weights; **RPN** proposes regions.",
}


def _pool(extra: dict[str, str]) -> DistractorPool:
    lexicon = Lexicon()
    for cid, text in {**OTHERS, **extra}.items():
        lexicon.add_passage(cid, f"detection/{cid}.md", "Detection", text)
    return DistractorPool(lexicon)


def test_items_from_a_passage_and_what_is_dropped() -> None:
    text = (
        "Greedy **non-maximum suppression** (NMS) keeps the highest-scoring box and removes "
        "overlapping boxes above an IoU threshold.\n\n"
        "Duplicates hurt AP because every extra box on the same object counts as a false "
        "positive under matching.\n\n"
        "```python\nkeep = nms(boxes, scores, 0.5)\n```\n"
    )
    passage = _passage(text)
    items, dropped = items_from_passage(passage, "h1", "mixed", _pool({"c1": text}))
    kinds = {i.type for i in items}
    assert {"mcq", "cloze", "recall"} <= kinds
    for item in items:
        assert item.evidence in text and item.content_hash == "h1"
        assert not verify.gives_away(item.question, item.answer)
        assert "keep = nms" not in item.evidence  # code is never a sentence
    # the expansion can be the blank: its acronym in parentheses is taken out with it
    expansion = next(i for i in items if i.answer == "non-maximum suppression")
    assert expansion.question.startswith("Greedy ____ keeps") and "NMS" not in expansion.question
    assert not any(i.answer == "NMS" for i in items)
    recall = next(i for i in items if i.type == "recall")
    assert recall.question.startswith("Explain why duplicates hurt AP")
    assert any("false positive" in p for p in recall.key_points)

    # a sentence naming a term and its expansion gives either blank away: dropped, and counted
    both = (
        "Duplicate detections are removed by NMS, also called non-maximum suppression, at the end."
    )
    _, dropped = items_from_passage(_passage(both, "c3"), "h3", "cloze", _pool({"c1": text}))
    assert dropped == {verify.SELF_ANSWERING: 2}

    code_only = _passage("```python\nprint('hello')\n```\n", "c2")
    assert items_from_passage(code_only, "h2", "mixed", _pool({}))[1] == {verify.NO_SENTENCE: 1}


def _item(**overrides: object) -> QuizItem:
    values: dict = {
        "type": "cloze",
        "question": "Greedy ____ removes overlapping boxes.",
        "answer": "NMS",
        "evidence": "Greedy NMS removes overlapping boxes.",
        "passage": "Intro. Greedy NMS removes overlapping boxes. More.",
        "citation": Citation("c1", "a.md", "A"),
    }
    return QuizItem(**{**values, **overrides})


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({}, None),
        ({"evidence": "Greedy NMS deletes boxes."}, verify.EVIDENCE_NOT_IN_PASSAGE),
        ({"evidence": "More."}, verify.ANSWER_NOT_IN_EVIDENCE),
        ({"question": "Greedy ____ (like other nms) removes boxes."}, verify.SELF_ANSWERING),
        ({"answer": "anchor box", "evidence": "Greedy NMS removes anchor boxes.",
          "passage": "Greedy NMS removes anchor boxes.",
          "question": "Greedy NMS removes ____ like other Anchor-Boxes."}, verify.SELF_ANSWERING),
        ({"type": "mcq", "options": ["NMS", "FPN", "RPN"]}, verify.BAD_OPTIONS),
        ({"type": "mcq", "options": ["NMS", "FPN", "RPN", "nms"]}, verify.BAD_OPTIONS),
        ({"type": "mcq", "options": ["NMS", "FPN", "RPN", "focal loss"]}, verify.BAD_OPTIONS),
        ({"type": "mcq", "options": ["NMS", "FPN", "RPN", "GIoU"]}, None),
        ({"type": "recall", "question": "Explain why greedy NMS removes overlapping boxes.",
          "answer": "Greedy NMS removes overlapping boxes.",
          "key_points": ["removes overlapping boxes"]}, verify.SELF_ANSWERING),
    ],
)  # fmt: skip
def test_verify_rules(overrides: dict, reason: str | None) -> None:
    assert verify.check(_item(**overrides)) == reason


def test_synonyms_give_an_answer_away_and_duplicates_are_caught() -> None:
    item = _item(question="Greedy ____ (non-maximum suppression) removes overlapping boxes.")
    assert verify.check(item, {"non maximum suppression"}) == verify.SELF_ANSWERING
    dedupe = verify.Deduper()
    assert not dedupe.seen(_item())
    assert dedupe.seen(_item(question="Greedy  ____ removes overlapping boxes!"))
    assert dedupe.seen(_item(question="Another question about ____?", answer="nms"))
    assert not dedupe.seen(
        _item(question="Another ____?", answer="NMS", citation=Citation("c2", "b.md", "B"))
    )


# ---------------------------------------------------------------- LLM-written items


@pytest.fixture
def stub_server():  # type: ignore[no-untyped-def]
    servers: list[StubServer] = []

    def start(reply):  # type: ignore[no-untyped-def]
        servers.append(StubServer(reply))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def llm_settings(base: Settings, url: str) -> Settings:
    return base.replace(
        generator="openai",
        openai_base_url=url,
        openai_model="stub-model",
        openai_api_key=SecretStr("sk-test"),
        llm_max_tokens=300,
    )


def _prompt_passage(request: dict) -> str:
    content = request["messages"][-1]["content"]
    return content.split(">\n", 1)[1].rsplit("\n</passage>", 1)[0]


@pytest.mark.slow
def test_llm_items_are_verified_and_bad_ones_dropped(quiz_index: Settings, stub_server) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(quiz_index)
    target = next(
        r
        for r in rows.values()
        if "Hungarian algorithm" in r.text and r.source == "extra/detection/detr.md"
    )
    evidence = (
        "Each prediction is matched one-to-one with a ground-truth box by the Hungarian "
        "algorithm,\nso no non-maximum suppression is needed."
    )
    assert evidence in target.text

    def reply(request: dict) -> str:
        passage = _prompt_passage(request)
        assert "not instructions" in request["messages"][-1]["content"]
        if passage != target.text:
            return "[]"
        squashed = " ".join(evidence.split())  # the LLM re-flowed the line break
        return "```json\n" + json.dumps([
            {"type": "cloze", "question": "DETR matches each prediction to one box with the ____.",
             "answer": "Hungarian algorithm", "evidence": squashed},
            {"type": "recall", "question": "Why does DETR not need NMS?",
             "answer": "Predictions are matched one-to-one to ground-truth boxes by the Hungarian "
                       "algorithm, so there are no duplicates to suppress.",
             "evidence": squashed, "key_points": ["one-to-one matching", "Hungarian algorithm"]},
            {"type": "mcq", "question": "Which algorithm matches DETR predictions to boxes?",
             "answer": "Hungarian algorithm", "evidence": squashed,
             "options": ["Hungarian algorithm", "NMS", "greedy matching", "hungarian algorithms"]},
            {"type": "cloze", "question": "DETR uses ____ matching.", "answer": "bipartite",
             "evidence": "DETR solves a bipartite matching with optimal transport."},
            {"type": "cloze", "question": "The Hungarian algorithm does ____ matching.",
             "answer": "Hungarian algorithm", "evidence": squashed},
            {"type": "recall", "question": "Explain what DETR predicts.",
             "answer": "DETR predicts depth maps for lidar point clouds at night.",
             "evidence": squashed, "key_points": ["depth maps"]},
            "not an item",
        ]) + "\n```"  # fmt: skip

    server = stub_server(reply)
    settings = llm_settings(quiz_index, server.url)
    passage = SearchResult(
        1, 0.0, target.chunk_id, target.source, target.heading, None, target.text
    )
    from sharpnotes.app.quiz.llm_quiz import llm_items

    pool = corpus_pool(open_catalog(settings)).pool
    items, dropped = llm_items(settings, passage, target.content_hash, "mixed", pool)
    assert [i.type for i in items] == ["cloze", "recall", "mcq"]
    for item in items:
        assert_sound(item, rows)
        assert item.evidence == evidence  # copied from the passage, not from the reply
        assert item.generator == "openai"
    mcq = items[2]
    # the near-duplicate and the acronym were not the answer's kind: replaced from the index
    assert "hungarian algorithms" not in mcq.options and "NMS" not in mcq.options  # type: ignore[operator]
    assert dropped == {
        verify.EVIDENCE_NOT_IN_PASSAGE: 1, verify.SELF_ANSWERING: 1,
        verify.UNSUPPORTED: 1, verify.MALFORMED: 1,
    }  # fmt: skip

    # through generate_quiz: the LLM is asked per passage, its drops are counted with a prefix,
    # and passages it gives nothing for fall back to the offline writer
    topic = "Each prediction is matched one-to-one with a ground-truth box by the Hungarian"
    batch = generate_quiz(settings, topic=topic, n=4, seed=0)
    assert any(i.generator == "openai" for i in batch.items)
    assert any(i.generator == "offline" for i in batch.items)
    assert batch.dropped.get("llm: " + verify.EVIDENCE_NOT_IN_PASSAGE, 0) >= 1
    for item in batch.items:
        assert_sound(item, rows)


def test_an_empty_index_says_what_to_run(settings: Settings) -> None:
    with pytest.raises(EmptyIndexError, match="sharpnotes ingest"):
        generate_quiz(settings, n=3)


@pytest.mark.slow
def test_quiz_yield_walks_the_sample_notes_until_dry() -> None:
    """The yield benchmark (eval/benchmarks/quiz_yield) on the sample notes: successive quizzes
    of 5 ask every card once, a quiz never holds more than its share of sentence items, and a
    share of 1 fills every quiz but perhaps the last."""
    from sharpnotes.eval.benchmarks.quiz_yield import candidates, run_dry

    passages = candidates("notes", seed=1)
    cards = {i.id for _, items in passages for i in items if i.generator == "notes"}
    capped = run_dry(passages, 5, 0.2, seed=1)
    full = run_dry(passages, 5, 1.0, seed=1)
    assert capped["by_kind"]["cards"] == full["by_kind"]["cards"] == len(cards) >= 75
    assert capped["by_kind"]["sentences"] <= capped["quizzes"]  # at most one a quiz of 5
    assert full["full_quizzes"] >= full["quizzes"] - 1  # the last is full when the items divide
    assert capped["items_before_first_short_quiz"] >= 100


@pytest.mark.slow
def test_successive_quizzes_ask_every_card_of_a_qa_list(quiz_index: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Quizzes without a topic leave out the passages already quizzed, but not the learner's
    cards there that were not asked yet: quizzing the note with the most cards one item at a
    time until nothing is left asks every card it holds."""
    from sharpnotes.app.quiz.session import make_quiz
    from sharpnotes.app.quiz.store import open_store

    settings = Settings(**{**quiz_index.flat(), "home": tmp_path / "home"})
    shutil.copytree(quiz_index.index_dir, settings.index_dir)  # the index, with no review store
    cards: dict[str, set[str]] = {}  # note -> the ids of its cards
    rows = _rows(settings)
    continued = continued_sections(rows.values())
    for row in rows.values():
        found = card_items(_as_result(row), row.content_hash, row.chunk_id in continued)[0]
        cards.setdefault(row.source, set()).update(c.id for c in found if not gate.reason(c))
    note = max(cards, key=lambda source: len(cards[source]))
    assert len(cards[note]) >= 3
    asked: set[str] = set()
    with open_store(settings) as store:
        for _ in range(80):
            made = make_quiz(settings, store, filters=Filters(folder=note), n=1)
            if not made.stored:
                break
            asked.update(s.id for s in made.stored)
    assert cards[note] <= asked


def test_a_distractor_is_written_in_the_answers_case_unless_it_is_a_name() -> None:
    """An option that alone starts with a capital gives the answer away (or marks itself
    wrong): a phrase of plain words takes the answer's case when the notes also write it in
    lower case; a name keeps its capital."""
    from sharpnotes.app.quiz.offline import same_case
    from sharpnotes.ingest.catalog import ChunkRow

    text = (
        "- **Gradient checkpointing** trades compute for memory.\n"
        "- **Thompson sampling** picks the arm with the best sampled reward.\n\n"
        "Big models turn on **gradient checkpointing**; **gradient clipping** caps the norm."
    )
    lexicon = Lexicon.from_rows([ChunkRow("c1", "a.md", "Tricks", None, text, "h", {}, 0)])
    answer = "gradient clipping"
    assert same_case("Gradient checkpointing", answer, lexicon) == "gradient checkpointing"
    assert same_case("Thompson sampling", answer, lexicon) == "Thompson sampling"  # a name
    assert same_case("Faster R-CNN", answer, lexicon) == "Faster R-CNN"
    assert same_case("gradient checkpointing", "Gradient clipping", lexicon) == (
        "Gradient checkpointing"
    )


@pytest.mark.slow
def test_a_quiz_on_a_name_asks_from_the_passages_that_write_it(quiz_index: Settings) -> None:
    """Retrieval ranks 24 passages for a quiz of 6; when the topic is a name, only those that
    write every word of it give items (a long Q&A note's cards ranked lower filled a quiz on
    'focal loss' with 'What is dropout?')."""
    searcher = Searcher(quiz_index)
    topic = "Hungarian matching"
    found = searcher.search(topic, k=24)
    writes = {r.chunk_id for r in found if re.search("hungarian", r.text + r.heading, re.I)}
    assert writes and len(writes) < len(found)  # the rule has passages to leave out
    batch = generate_quiz(quiz_index, topic=topic, n=6, searcher=searcher, seed=3)
    assert batch.items and {i.citation.chunk_id for i in batch.items} <= writes
    # a topic no passage writes names nothing; a long description is no name
    assert naming(topic_names("Zorblax matching"), found) == []
    assert topic_names("assigning each predicted box to one ground truth object in training") == []


def test_an_acronym_that_mixes_cases_is_matched_with_its_case() -> None:
    """A newcomer's quiz on "mAP" asked "What's pooling in CNN?" from notes on feature maps."""
    names = topic_names("mAP")
    assert not writes_name(names, "Pooling shrinks the feature map of the backbone.")
    assert writes_name(names, "COCO mAP averages AP over IoU thresholds.")
    assert writes_name(names, "mean average precision, averaged over the classes")  # expansion
    assert writes_name(topic_names("focal loss"), "Focal Loss down-weights easy examples")


@pytest.mark.slow
def test_a_quiz_on_a_name_asks_the_cards_that_name_it(tmp_path: Path, models_dir: Path) -> None:
    """A Q&A list that names the topic in one card holds cards on other things: a quiz on the
    topic asks the card that names it, and says why it is short."""
    notes = tmp_path / "notes"
    write_notes(
        notes,
        {
            "detection-qa.md": "# Detection Q&A\n\n"
            "- Q: What does NMS do? A: It keeps the highest-scoring box and removes the boxes "
            "that overlap it above an IoU threshold.\n"
            "- Q: Why does focal loss help one-stage detectors? A: It down-weights the easy "
            "negatives that dominate the dense anchor grid.\n"
            "- Q: How do you detect far traffic lights? A: Crop the region the HD map predicts "
            "and run the detector on it at full resolution.\n",
        },
    )
    settings = Settings(home=tmp_path / "home", models_dir=models_dir, embed_backend="onnx-int8")
    assert ingest([notes], settings).ok
    batch = generate_quiz(settings, topic="traffic lights", n=3, seed=1)
    assert [i.question for i in batch.items] == ["How do you detect far traffic lights?"]
    assert "traffic lights" in (batch.shortfall(3) or "")
    # the same topic by its Chinese name: the glossary's English name is what the note writes
    batch = generate_quiz(settings, topic="非極大值抑制", n=3, seed=1)
    assert [i.question for i in batch.items] == ["What does NMS do?"]
    # a topic no passage writes gives no quiz of other things, and says so
    batch = generate_quiz(settings, topic="quantum chromodynamics", n=3, seed=1)
    assert batch.items == [] and "no passage of your notes writes" in (batch.shortfall(3) or "")
