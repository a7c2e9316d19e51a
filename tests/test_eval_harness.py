"""The eval harness: metrics on a hand-computed run, both set formats, configurations, compare,
sets generated from notes and from the chat, the CLI, and an end-to-end run on a SciFact slice."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import REPO, SHARED_DATA
from sharpnotes.app import conversations as convs
from sharpnotes.app.cli import cli
from sharpnotes.app.retrieval import SearchResult
from sharpnotes.eval.compare import compare_runs
from sharpnotes.eval.generate import COPY_NGRAM, add_from_chat, generate_set, longest_shared_run
from sharpnotes.eval.harness import (
    ConfigError,
    format_table,
    judge,
    parse_config,
    parse_configs,
    per_query_metrics,
    prepare_index,
    run_eval,
)
from sharpnotes.eval.sets import EvalSetError, Label, Question, load_set, norm, write_jsonl
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest

SCIFACT = SHARED_DATA / "scifact"


# metrics and judging ----------------------------------------------------------------------------


def test_metrics_on_a_hand_computed_run() -> None:
    qrels = {"q1": {"L0": 1}, "q2": {"L0": 1, "L1": 1}, "q3": {"L0": 1}, "q4": {"L0": 1}}
    ranked = {
        "q1": ["L0", "c1"],  # relevant at rank 1
        "q2": ["c1", "L0", "c2", "c3", "c4", "c5", "L1"],  # two labels, at ranks 2 and 7
        "q3": ["c1", "c2", "c3", "c4", "c5", "c6", "L0"],  # rank 7
        "q4": [],  # nothing retrieved
    }
    m = per_query_metrics(qrels, ranked, k=5)
    assert [m[q]["hit@1"] for q in qrels] == [1, 0, 0, 0]
    assert [m[q]["hit@5"] for q in qrels] == [1, 1, 0, 0]
    assert [m[q]["mrr@10"] for q in qrels] == pytest.approx([1, 1 / 2, 1 / 7, 0])
    ndcg_q2 = (1 / math.log2(3) + 1 / math.log2(8)) / (1 + 1 / math.log2(3))
    assert [m[q]["ndcg@10"] for q in qrels] == pytest.approx([1, ndcg_q2, 1 / 3, 0])
    assert [m[q]["recall@5"] for q in qrels] == pytest.approx([1, 0.5, 0, 0])
    assert per_query_metrics(qrels, ranked, k=10)["q3"]["recall@10"] == 1


def _hit(rank: int, source: str, text: str, chunk: str | None = None) -> SearchResult:
    return SearchResult(rank, 1.0 / rank, chunk or f"c{rank}", source, "", None, text)


def test_judge_counts_a_label_once_and_a_document_at_its_best_passage() -> None:
    from sharpnotes.eval.sets import EvalSet

    q = Question("q", "?", labels=[Label("a.md", "the  answer"), Label("b.md", "other fact")])
    hits = [
        _hit(1, "c.md", "noise"),
        _hit(2, "a.md", "here is the answer again"),
        _hit(3, "a.md", "the answer, repeated in a second chunk"),
        _hit(4, "b.md", "an OTHER fact"),  # evidence must match (case counts)
        _hit(5, "b.md", "one other   fact"),
    ]
    passages = EvalSet("s", Path("s.jsonl"), "jsonl", [q])
    units, ranks = judge(passages, q, hits)
    assert units == ["c1", "L0", "c4", "L1"] and ranks == [2, 5]
    docs = EvalSet("s", Path("s"), "beir", [q], level="document")
    units, ranks = judge(docs, q, hits)
    assert units == ["c.md", "a.md", "b.md"] and ranks == [2, 3]


def test_configurations_are_presets_with_validated_setting_overrides() -> None:
    assert parse_config("bm25").mode == "bm25"
    rrf = parse_config("hybrid-rrf")
    assert rrf.mode == "hybrid" and rrf.settings(Settings()).retrieval.fusion == "rrf"
    tuned = parse_config("hybrid:bm25_weight=0.4:candidates=100")
    cfg = tuned.settings(Settings())
    assert (cfg.retrieval.bm25_weight, cfg.retrieval.candidates, cfg.retrieval.fusion) == (
        0.4,
        100,
        "minmax",
    )
    assert [c.name for c in parse_configs("bm25, dense,bm25")] == ["bm25", "dense"]
    with pytest.raises(ConfigError, match="'bm25_wieght' is not a retrieval setting"):
        parse_config("hybrid:bm25_wieght=0.4")
    # a configuration changes how the index is searched, never where state lives or what it asks
    for outside in ("home=/tmp/elsewhere", "chroma_host=example.org", "chroma_port=80"):
        with pytest.raises(ConfigError, match="is not a retrieval setting"):
            parse_config(f"hybrid:{outside}")
    with pytest.raises(ConfigError, match="bad value for bm25_weight"):
        parse_config("hybrid:bm25_weight=2")
    with pytest.raises(ConfigError, match="unknown retriever 'bm52'"):
        parse_config("bm52")
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_config("hybrid:rrf")


# set formats ------------------------------------------------------------------------------------


def write_beir(folder: Path, corpus: list[dict], queries: list[dict], qrels: list[tuple]) -> Path:
    (folder / "qrels").mkdir(parents=True)
    for name, rows in (("corpus.jsonl", corpus), ("queries.jsonl", queries)):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    lines = ["query-id\tcorpus-id\tscore"] + ["\t".join(map(str, r)) for r in qrels]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_both_set_formats_load_into_one_form(tmp_path: Path) -> None:
    beir = write_beir(
        tmp_path / "tiny",
        [{"_id": "d1", "title": "A", "text": "x"}, {"_id": "d2", "title": "B", "text": "y"}],
        [
            {"_id": "1", "text": "first?"},
            {"_id": "2", "text": "second?"},
            {"_id": "3", "text": "-"},
        ],
        [("1", "d1", 1), ("2", "d2", 2), ("2", "d1", 1)],
    )
    s = load_set(beir)
    assert (s.format, s.level, s.split, len(s.questions)) == ("beir", "document", "test", 2)
    q2 = next(q for q in s.questions if q.id == "2")
    assert {(lab.source, lab.grade) for lab in q2.labels} == {("d1.md", 1), ("d2.md", 2)}
    assert set(s.corpus or {}) == {"d1", "d2"}

    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text(
        json.dumps(
            {
                "id": "a",
                "question": "What is DETR?",
                "answerable": True,
                "relevant": [{"source": "detection/detr.md", "evidence": "set prediction"}],
            }
        )
        + "\n\n"
        + json.dumps({"id": "b", "question": "Sourdough?", "answerable": False, "relevant": []})
        + "\n",
        encoding="utf-8",
    )
    s = load_set(jsonl)
    assert (s.format, s.level, len(s.questions), len(s.answerable)) == ("jsonl", "passage", 2, 1)
    assert s.questions[0].labels == [Label("detection/detr.md", "set prediction")]
    assert s.describe()["unanswerable_excluded"] == 1
    # the project's own sample set loads the same way
    sample = load_set(REPO / "eval" / "notes_eval.jsonl")
    assert len(sample.answerable) == 151 and len(sample.questions) == 180


def test_bad_sets_fail_with_one_line_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x", "answerable": true, "relevant": []}\n', encoding="utf-8")
    with pytest.raises(EvalSetError, match=r"bad.jsonl:1: answerable question .* no 'relevant'"):
        load_set(bad)
    bad.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(EvalSetError, match=r"bad.jsonl:1: not valid JSON"):
        load_set(bad)
    (tmp_path / "folder").mkdir()
    with pytest.raises(EvalSetError, match="not a BEIR folder"):
        load_set(tmp_path / "folder")


# compare ----------------------------------------------------------------------------------------


def write_run(folder: Path, ranks: dict[str, int | None], ndcg: float, weight: float = 0.5) -> Path:
    """A hand-made ``eval --out`` folder: one configuration, first relevant rank per query."""
    folder.mkdir()
    rows = [
        {"query_id": q, "question": f"question {q}", "config": "hybrid", "first_rank": r}
        for q, r in ranks.items()
    ]
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    hybrid = {"mode": "hybrid", "settings": {"bm25_weight": weight}, "ndcg@10": ndcg}
    summary = {"configs": {"hybrid": hybrid | {"mean_ms": 10.0}}}
    (folder / "summary.json").write_text(json.dumps(summary | {"results": "results.jsonl"}))
    return folder


def test_compare_reports_gains_and_losses(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", {"q1": None, "q2": 3, "q3": 1, "q4": 2, "q5": None}, 0.5)
    b = write_run(tmp_path / "b", {"q1": 4, "q2": 1, "q3": None, "q4": 2, "q5": None}, 0.6, 0.3)
    result = compare_runs(a, b / "summary.json")
    hybrid = result["configs"]["hybrid"]
    assert hybrid["deltas"] == {"ndcg@10": 0.1, "mean_ms": 0.0}
    assert hybrid["settings_changed"] == {"bm25_weight": [0.5, 0.3]}
    assert [(g["query_id"], g["rank_a"], g["rank_b"]) for g in hybrid["gained"]] == [
        ("q1", None, 4),
        ("q2", 3, 1),
    ]
    assert [(g["query_id"], g["rank_a"], g["rank_b"]) for g in hybrid["lost"]] == [("q3", 1, None)]
    assert hybrid["unchanged"] == 2
    out = CliRunner().invoke(cli, ["eval", "compare", str(a), str(b)])
    assert out.exit_code == 0, out.output
    assert "gained 2, lost 1, unchanged 2" in out.output
    assert "setting bm25_weight: 0.5 -> 0.3" in out.output
    assert "+ q1: - -> 4" in out.output and "- q3: 1 -> -" in out.output
    missing = CliRunner().invoke(cli, ["eval", "compare", str(a), str(tmp_path)])
    assert missing.exit_code == 1 and "no summary.json" in missing.output


# sets from the chat -----------------------------------------------------------------------------


def _turn(question: str, refused: bool = False, cited: bool = True) -> tuple[str, dict]:
    citation = {
        "n": 1,
        "chunk_id": "x",
        "source": "detection/detr.md",
        "heading": "DETR > Hungarian matching",
        "page": None,
        "text": "Each prediction is matched one-to-one. So no NMS is needed.",
        "quote": "So no NMS is needed.",
    }
    return question, {"refused": refused, "citations": [citation] if cited and not refused else []}


def test_add_from_chat_keeps_cited_questions_once(settings: Settings, tmp_path: Path) -> None:
    first = convs.Conversation()
    for turn in (_turn("Why does DETR skip NMS?"), _turn("Sourdough recipe?", refused=True)):
        first.add_turn(*turn)
    second = convs.Conversation()
    for turn in (_turn("why does DETR  skip NMS"), _turn("What is focal loss?", cited=False)):
        second.add_turn(*turn)
    convs.save_conversation(settings, first)
    convs.save_conversation(settings, second)

    out = tmp_path / "chat.jsonl"
    added, skipped = add_from_chat(settings, out)
    assert [q.text for q in added] == ["Why does DETR skip NMS?"]
    assert skipped == {"refused": 1, "duplicate": 1, "uncited": 1}
    row = json.loads(out.read_text().splitlines()[0])
    assert row["answerable"] and row["kind"] == "chat"
    assert row["relevant"] == [{"source": "detection/detr.md", "evidence": "So no NMS is needed."}]
    again = CliRunner().invoke(cli, ["eval", "add-from-chat", "--all", "--out", str(out)])
    assert again.exit_code == 0 and "added 0 questions" in again.output
    assert "skipped 1 refused, 2 already in the set" in again.output
    one = CliRunner().invoke(cli, ["eval", "add-from-chat", "--conversation", "f" * 32])
    assert one.exit_code == 1 and "no saved conversation" in one.output


def test_copy_filter_measures_the_longest_shared_run_of_words() -> None:
    passage = "DETR treats detection as direct set prediction with a transformer."
    assert longest_shared_run("Does DETR treat detection as set prediction?", passage) == 2
    assert longest_shared_run("Is DETR direct set prediction with a transformer?", passage) == 6
    assert longest_shared_run("What is focal loss?", passage) == 0


# with the real model ----------------------------------------------------------------------------

SUBSET = ("fundamentals", "inbox")


@pytest.fixture(scope="module")
def notes_home(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> tuple[Path, Path]:
    """(home, notes): three folders of the sample notes, ingested once for this module."""
    base = tmp_path_factory.mktemp("eval-notes")
    for folder in SUBSET:
        shutil.copytree(REPO / "notes" / folder, base / "notes" / folder)
    report = ingest([base / "notes"], Settings(home=base / "home", models_dir=models_dir))
    assert report.ok
    return base / "home", base / "notes"


@pytest.fixture
def notes_settings(notes_home: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SHARPNOTES_HOME", str(notes_home[0]))
    return Settings()


@pytest.mark.slow
def test_eval_cli_runs_configurations_and_writes_results(
    notes_settings: Settings, tmp_path: Path
) -> None:
    sample = load_set(REPO / "eval" / "notes_eval.jsonl")
    mine = [q for q in sample.answerable if all(lab.source.startswith(SUBSET) for lab in q.labels)]
    mine += [q for q in sample.questions if not q.answerable][:3]
    set_path = tmp_path / "subset.jsonl"
    write_jsonl(set_path, mine)
    answerable = sum(q.answerable for q in mine)

    out = tmp_path / "run"
    args = ["eval", "--set", str(set_path), "--retrievers", "bm25,hybrid:bm25_weight=0.4"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out), "--k", "5"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert f"{answerable} questions scored" in text and "3 unanswerable questions excluded" in text
    assert "hit@1" in text and "Recall@5" in text and "p95 ms" in text
    assert "*" in text.splitlines()[2] + text.splitlines()[3]  # the best value of a column
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["configs"]) == ["bm25", "hybrid:bm25_weight=0.4"]
    hybrid = summary["configs"]["hybrid:bm25_weight=0.4"]
    assert hybrid["overrides"] == {"bm25_weight": 0.4}
    assert 0.8 <= hybrid["hit@5"] <= 1 and 0.6 <= hybrid["mrr@10"] <= 1
    assert 0 < hybrid["mean_ms"] <= hybrid["p95_ms"]
    assert summary["unmatched_labels"] == []
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * answerable
    found = next(r for r in rows if r["first_rank"] == 1)
    assert found["metrics"]["hit@1"] == 1 and found["top"][0]["source"]
    assert found["relevant_ranks"][0] == 1 and found["expected"][0]["evidence"]

    as_json = CliRunner().invoke(cli, [*args, "--json"])
    assert (
        json.loads(as_json.output)["configs"]["bm25"]["ndcg@10"]
        == summary["configs"]["bm25"]["ndcg@10"]
    )
    # no --set: the sample notes are not (all) indexed here, so the user's newest set is used
    write_jsonl(notes_settings.paths.home / "evalsets" / "generated.jsonl", mine[:5])
    default = CliRunner().invoke(cli, ["eval", "--retrievers", "bm25"])
    assert default.exit_code == 0 and "generated (" in default.output


@pytest.mark.slow
def test_generated_set_is_valid_and_not_trivial(notes_settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "generated.jsonl"
    result = CliRunner().invoke(cli, ["eval", "generate", "--n", "16", "--out", str(out)])
    assert result.exit_code == 0, result.output
    eval_set = load_set(out)
    questions = eval_set.questions
    assert len(questions) == 16
    # valid: every evidence is a verbatim sentence of the cited note, the question does not copy
    notes = Path(notes_settings.paths.home).parent / "notes"
    for q in questions:
        (label,) = q.labels
        source_text = (notes / label.source).read_text(encoding="utf-8")
        assert label.evidence and norm(label.evidence) in norm(source_text), q.id
        passage = next(line for line in source_text.splitlines() if label.evidence in line)
        assert longest_shared_run(q.text, passage) < COPY_NGRAM, q.text
    # spread over the folders and over templates, not one question shape repeated
    assert {q.labels[0].source.split("/")[0] for q in questions} == set(SUBSET)
    assert len({q.text for q in questions}) == len(questions)
    assert len({" ".join(q.text.split()[:3]) for q in questions}) >= 4
    assert len({q.kind for q in questions}) >= 2
    # not trivial: the questions find their passage far more often than chance would
    settings = prepare_index(eval_set, notes_settings)
    report = run_eval(eval_set, [parse_config("hybrid")], settings, k=10)
    from sharpnotes.ingest.index import open_catalog

    catalog = open_catalog(settings)
    chunks = catalog.counts()[1]
    catalog.close()
    chance = 10 / chunks  # a random top 10 holds a given passage this often
    assert report.configs["hybrid"]["recall@10"] >= max(0.6, 5 * chance)
    assert report.unmatched == []


def test_eval_and_generate_say_what_to_run_first() -> None:
    result = CliRunner().invoke(cli, ["eval", "generate"])
    assert result.exit_code == 1 and "sharpnotes ingest" in result.output
    result = CliRunner().invoke(cli, ["eval"])
    assert result.exit_code == 1 and "run `sharpnotes eval generate`" in result.output
    result = CliRunner().invoke(cli, ["eval", "--set", str(REPO / "eval" / "notes_eval.jsonl")])
    assert result.exit_code == 1 and "run: sharpnotes ingest" in result.output


def scifact_slice(folder: Path, queries: int = 30, documents: int = 100) -> Path:
    """A BEIR folder with the first test queries, their relevant abstracts and filler up to
    ``documents`` abstracts."""
    lines = (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()[1:]
    qrels: dict[str, list[str]] = {}
    for line in lines:
        qid, did, _ = line.split("\t")
        qrels.setdefault(qid, []).append(did)
    chosen = sorted(qrels, key=int)[:queries]
    keep = {d for q in chosen for d in qrels[q]}
    corpus = []
    with (SCIFACT / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            if doc["_id"] in keep or len(corpus) < documents - len(keep):
                corpus.append(doc)
    all_queries = {
        q["_id"]: q for q in map(json.loads, (SCIFACT / "queries.jsonl").open(encoding="utf-8"))
    }
    return write_beir(
        folder,
        corpus,
        [all_queries[q] for q in chosen],
        [(q, d, 1) for q in chosen for d in qrels[q]],
    )


@pytest.mark.slow
@pytest.mark.skipif(not SCIFACT.is_dir(), reason="needs ../shared/data/scifact")
def test_harness_end_to_end_on_a_scifact_slice(settings: Settings, tmp_path: Path) -> None:
    folder = scifact_slice(tmp_path / "scifact-slice")
    eval_set = load_set(folder)
    assert len(eval_set.corpus or {}) == 100 and len(eval_set.answerable) == 30
    index = prepare_index(eval_set, settings, cache_root=tmp_path / "cache")
    assert index.paths.home.is_relative_to(tmp_path / "cache")
    report = run_eval(eval_set, parse_configs("bm25,dense,hybrid"), index, k=10)
    table = report.configs
    print(format_table(report.summary()))
    for row in table.values():
        assert 0.5 <= row["ndcg@10"] <= 1 and 0.6 <= row["recall@10"] <= 1
        assert row["hit@1"] <= row["hit@5"] and row["mean_ms"] > 0
    assert table["hybrid"]["ndcg@10"] >= 0.7
    assert table["hybrid"]["ndcg@10"] >= min(table["bm25"]["ndcg@10"], table["dense"]["ndcg@10"])
    assert report.unmatched == []


class QuestionWriter:
    """A stand-in LLM behind the generator interface: it echoes the key sentence back as a
    question for notes in fundamentals/ (a copy the filter must drop), and writes its own
    question, with a citation marker to strip, elsewhere."""

    name = "question-writer"

    def generate(self, question: str, passages: list, on_token: object = None) -> str:
        sentence = question.split('"')[1]
        if passages[0].source.startswith("fundamentals/"):
            return sentence.rstrip(".") + "?"
        return f"Which point does my note {Path(passages[0].source).stem} make here? [1]"


@pytest.mark.slow
def test_generate_with_an_llm_keeps_its_questions_unless_they_copy(
    notes_settings: Settings,
) -> None:
    questions = generate_set(notes_settings, n=12, generator=QuestionWriter())
    by_llm = [q for q in questions if q.kind == "generated-llm"]
    assert by_llm and all(q.labels[0].source.startswith("inbox/") for q in by_llm)
    assert all("[1]" not in q.text and q.text.endswith("make here?") for q in by_llm)
    copied = [q for q in questions if q.labels[0].source.startswith("fundamentals/")]
    assert copied and all(q.kind != "generated-llm" for q in copied)
