"""The end of a CLI review session: score and time, each missed card with its passage, and
"quiz me again on these" asking the missed ones again in the same run (real store, CliRunner)."""

from __future__ import annotations

from click.testing import CliRunner

from sharpnotes.app.cli import cli
from sharpnotes.app.quiz.items import Citation, QuizItem
from sharpnotes.app.quiz.store import open_store
from sharpnotes.ingest.settings import Settings


def _card(n: int) -> QuizItem:
    return QuizItem(
        "recall", f"Why does DETR skip NMS ({n})?", f"Matching is one-to-one ({n}).",
        f"Matching is one-to-one ({n}).", f"Set loss. Matching is one-to-one ({n}). Decoder.",
        Citation(f"c{n}", "detection/detr.md", "DETR > Loss"), generator="notes",
    )  # fmt: skip


def test_missed_cards_with_passages_and_again_in_the_same_run(settings: Settings) -> None:
    first, second = _card(1), _card(2)
    with open_store(settings) as store:
        store.add_items([first, second])
    # reveal, Again; reveal, Good; then yes: the missed one again, Good this time
    result = CliRunner().invoke(cli, ["review"], input="\n1\n\n3\ny\n\n3\n")
    assert result.exit_code == 0, result.output
    out = result.output
    summary = out[out.index("2 reviewed.") :]
    assert "2 reviewed. 1 recalled (50%) in 0 min" in summary
    assert "Answers checked" not in summary  # flipped cards: no typed answer to count
    assert "Missed (1):" in summary and first.question in summary
    assert "Set loss. »Matching is one-to-one (1).« Decoder." in summary  # its passage, marked
    assert "note: detection/detr.md › DETR > Loss" in summary
    assert "Quiz me again on these now?" in summary
    assert "[1/1]" in summary and "1 reviewed. 1 recalled (100%)" in summary
    with open_store(settings) as store:
        assert [(r.item_id, r.rating) for r in store.reviews()] == [
            (first.id, 1), (second.id, 3), (first.id, 3),
        ]  # fmt: skip
    # declined (or end of input): the session ends there
    with open_store(settings) as store:
        store.add_items([_card(3)])
    out = CliRunner().invoke(cli, ["review", "--ids", _card(3).id], input="\n1\nn\n").output
    assert "Quiz me again on these now?" in out and out.count("[1/1]") == 1
