"""The learner's own wording of a card: edit its question and answer.

An edited item keeps its id (so its history, suspension and the CLI's ids stay), remembers the
text it was made with (so the same card regenerated from the note is known as this one, not
added again), and is never overwritten: a re-ingest leaves it alone, a changed passage flags
it stale like any item (with the learner's text), and ``sharpnotes review --regenerate`` passes
it by.
"""

from __future__ import annotations

from sharpnotes.app.quiz.store import ReviewStore, ReviewStoreError, StoredItem

BLANK = "____"


class EditError(ValueError):
    """The edit cannot be kept as it is; the message says why."""


def edit_item(
    store: ReviewStore, item_id: str, question: str | None = None, answer: str | None = None
) -> StoredItem:
    """Set the question and/or answer of ``item_id``; returns the item as stored. A cloze
    question keeps a blank (``____``); a multiple-choice answer replaces the right option."""
    from sharpnotes.app.quiz.handwritten import key_points

    stored = store.get(item_id)
    if stored is None:
        raise ReviewStoreError(f"no quiz item {item_id} in {store.path}")
    item = stored.item
    new_q = item.question if question is None else question.strip()
    new_a = item.answer if answer is None else answer.strip()
    if not new_q or not new_a:
        raise EditError("a card needs a question and an answer; nothing was changed")
    if item.type == "cloze" and BLANK not in new_q:
        raise EditError(f"a cloze question needs a blank {BLANK}; nothing was changed")
    if (new_q, new_a) == (item.question, item.answer):
        return stored
    record = item.to_record()
    if item.type == "mcq" and new_a != item.answer:
        options = list(item.options or [])
        record["options"] = [new_a if o == item.answer else o for o in options]
    record["key_points"] = key_points(new_a) if item.type == "recall" else [new_a]
    record.update(question=new_q, answer=new_a)
    store.update_record(item_id, record)
    out = store.get(item_id)
    assert out is not None
    return out
