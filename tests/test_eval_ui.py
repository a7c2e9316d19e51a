"""The Eval page through AppTest: pick a set and two configurations, run with a progress bar,
read the table (best marked), the charts, and the failed queries with where the answer ranked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO, write_notes
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest

pytestmark = pytest.mark.slow

MAIN = str(REPO / "app" / "ui" / "main.py")

QUESTIONS = [
    ("q1", "Why is no non-maximum suppression needed?", "detection/detr.md", "no non-maximum"),
    (
        "q2",
        "What do deformable attention heads sample?",
        "detection/deformable-detr.md",
        "small fixed set of key points",
    ),
    (
        "q3",
        "What does regularisation trade?",
        "fundamentals/bias-variance.md",
        "trades a little bias",
    ),
    ("q4", "Which paper is on my reading list?", "inbox/todo.txt", "BEVFormer paper"),
    # a label no passage holds (the note was edited since): always a miss, and flagged
    ("q5", "What is DETR's learning rate?", "detection/detr.md", "a rate of 1e-4 for AdamW"),
]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Path:
    """The small sample notes indexed once, with a five-question set (plus an unanswerable
    one) saved under HOME/evalsets."""
    base = tmp_path_factory.mktemp("eval-ui")
    home = base / "home"
    assert ingest([write_notes(base / "notes")], Settings(home=home, models_dir=models_dir)).ok
    rows = [
        {
            "id": qid,
            "question": q,
            "answerable": True,
            "relevant": [{"source": src, "evidence": ev}],
        }
        for qid, q, src, ev in QUESTIONS
    ]
    rows.append({"id": "u1", "question": "Sourdough?", "answerable": False, "relevant": []})
    (home / "evalsets").mkdir()
    (home / "evalsets" / "mini.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    return home


@pytest.fixture
def eval_home(indexed: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHARPNOTES_HOME", str(indexed))
    return indexed


def test_eval_page_runs_two_configurations_and_shows_the_table(eval_home: Path) -> None:
    at = AppTest.from_file(MAIN, default_timeout=120).run()
    at = at.switch_page("views/eval.py").run()
    assert not at.exception, at.exception
    sets = at.selectbox(key="eval_set")
    assert "mini.jsonl (yours)" in sets.options and sets.options[0].startswith("Sample set")
    sets.set_value("mini.jsonl (yours)")
    at.multiselect(key="eval_configs").set_value(["bm25"])
    at.text_input(key="eval_extra").set_value("hybrid:bm25_weight=0.3")
    at.run()
    next(b for b in at.button if b.label == "Run").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.get("progress")[0].value == 100

    table = at.dataframe[0].value
    assert list(table["config"]) == ["bm25", "hybrid:bm25_weight=0.3"]
    assert {"hit@1", "hit@5", "MRR@10", "nDCG@10", "Recall@10", "mean ms", "p95 ms"} <= set(
        table.columns
    )
    for column in ("hit@1", "nDCG@10", "mean ms"):
        assert any(v.endswith("*") for v in table[column]), column  # the best is marked
    assert all(0 <= float(v.rstrip("* ")) <= 1 for v in table["hit@5"])
    assert "5 questions scored" in at.subheader[0].value
    assert (
        "label that no indexed passage holds" in at.warning[0].value and "q5" in at.warning[0].value
    )
    assert any("1 unanswerable questions excluded" in c.value for c in at.caption)
    assert len(at.get("vega_lite_chart")) == 2

    # failed queries: every question not at rank 1 is listed with its rank and the top 5
    report = at.session_state["eval_report"]
    at.selectbox(key="eval_failed_cfg").set_value("bm25")
    at.radio(key="eval_cut").set_value("not at rank 1").run()
    missed = [r for r in report.results if r.config == "bm25" and r.first_rank != 1]
    failed = [e for e in at.expander if e.label != "Quiz quality"]
    assert len(failed) == len(missed) >= 1
    worst = next(e for e in at.expander if "learning rate" in e.label)
    assert worst.label == "not in top 10 · What is DETR's learning rate?"
    # a source is shown as text (its Markdown characters escaped), in bold
    assert "Expected **detection/detr\\.md**" in worst.markdown[0].value
    top = worst.dataframe[0].value
    assert 1 <= len(top) <= 5 and list(top["rank"]) == list(range(1, len(top) + 1))
    assert "relevant" in top.columns and "heading" in top.columns


def test_eval_page_measures_the_answers_of_the_set(eval_home: Path) -> None:
    at = AppTest.from_file(MAIN, default_timeout=120).run()
    at = at.switch_page("views/eval.py").run()
    at.selectbox(key="eval_set").set_value("mini.jsonl (yours)").run()
    next(b for b in at.button if b.label == "Measure answers").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any(s.value == "Answers" for s in at.subheader)
    table = at.dataframe[0].value
    assert list(table["group"]) == ["all"]
    row = table.iloc[0]
    # q5's label is held by no passage and u1 is unanswerable: the figures are rates in [0, 1]
    assert 0 <= row["ev.recall"] <= 1 and 0 <= row["ev.cited"] <= 1
    assert row["unans.refused"] == 1.0  # "Sourdough?" is refused
    assert row["dup"] == 0


def test_eval_page_names_a_bad_configuration(eval_home: Path) -> None:
    at = AppTest.from_file(MAIN, default_timeout=120).run()
    at = at.switch_page("views/eval.py").run()
    at.selectbox(key="eval_set").set_value("mini.jsonl (yours)")
    at.text_input(key="eval_extra").set_value("hybrid:weight=0.3")
    at.run()
    next(b for b in at.button if b.label == "Run").click().run()
    assert at.error and "'weight' is not a retrieval setting" in at.error[0].value


@pytest.mark.parametrize(
    "override",
    ["home={elsewhere}", "chroma_host=127.0.0.1:chroma_port=9", "models_dir={elsewhere}"],
)
def test_eval_page_cannot_reach_other_settings_or_folders(
    eval_home: Path, tmp_path: Path, override: str
) -> None:
    """A configuration only changes how the same index is searched: the page goes through the
    same parser as the CLI, which refuses paths and servers (an index was made in ANY folder,
    requests sent to any server)."""
    elsewhere = tmp_path / "elsewhere"
    at = AppTest.from_file(MAIN, default_timeout=120).run()
    at = at.switch_page("views/eval.py").run()
    at.selectbox(key="eval_set").set_value("mini.jsonl (yours)")
    at.multiselect(key="eval_configs").set_value([])
    at.text_input(key="eval_extra").set_value("hybrid:" + override.format(elsewhere=elsewhere))
    at.run()
    next(b for b in at.button if b.label == "Run").click().run()
    assert not at.exception, at.exception
    name = override.split("=")[0]
    assert at.error and f"'{name}' is not a retrieval setting" in at.error[0].value
    assert "eval_report" not in at.session_state and not elsewhere.exists()


def test_eval_page_checks_quiz_items_and_reads_a_ratings_file(
    eval_home: Path, tmp_path: Path
) -> None:
    """The Quiz quality panel: items generated from the notes with every check counted, the
    items listed with what the gate did, and a ratings file summarised; a bad file is named."""
    ratings = tmp_path / "rated.jsonl"
    ratings.write_text(
        "".join(
            json.dumps({"question": f"q{i}", "score": s, "split": split})
            for i, (s, split) in enumerate([(5, "tune"), (3, "tune"), (1, "holdout")])
        ).replace("}{", "}\n{"),
        encoding="utf-8",
    )
    at = AppTest.from_file(MAIN, default_timeout=300).run()
    at = at.switch_page("views/eval.py").run()
    at.number_input(key="quiz_n").set_value(6)
    at.text_input(key="quiz_ratings").set_value(str(ratings))
    next(b for b in at.button if b.label == "Check quiz items").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    checks, rated = at.session_state["quiz_checks"]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Generated"] == str(checks["generated"]) and checks["generated"] >= 1
    assert shown["Pass the gate"] == str(checks["passed"])
    tables = [d.value for d in at.dataframe]
    items = next(t for t in tables if "gate" in t.columns)
    assert len(items) == checks["generated"]
    assert set(items["gate"]) <= {"kept", *checks["gate_drops"]}
    assert (items["gate"] == "kept").sum() == checks["passed"]
    table = next(t for t in tables if "mean of 5" in t.columns)
    assert list(table["group"]) == ["all", "holdout", "tune"]
    assert table.iloc[0]["mean of 5"] == 3.0 and table.iloc[2]["mean of 5"] == 4.0

    at.text_input(key="quiz_ratings").set_value(str(tmp_path / "missing.jsonl"))
    next(b for b in at.button if b.label == "Check quiz items").click().run()
    shown_error = at.error[0].value.replace("\\", "") if at.error else ""  # Markdown-escaped
    assert "missing.jsonl: cannot read the ratings file" in shown_error
