"""Keep quiz items in step with the notes after every ingest.

An item is tied to its passage's chunk id, and a chunk id is a hash of (source, heading path,
content hash), so any edit to the passage changes it:

- chunk id still in the catalog: the passage is unchanged; the item is left as it is (and an item
  that had been flagged comes back, e.g. after an edit was undone);
- chunk id gone but the note still has that heading: the passage was edited; the item is
  **stale**, kept with its history, still asked with a note that the source changed, and can be
  regenerated from the new text or kept as it is (tied to the new passage);
- the note or its heading is gone: the item is **retired**, kept with its history, no longer asked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sharpnotes.app.quiz.items import CARD_GENERATOR
from sharpnotes.app.quiz.store import ReviewStore, Status, StoredItem, open_store, store_path
from sharpnotes.ingest.settings import Settings

if TYPE_CHECKING:
    from sharpnotes.app.quiz.items import QuizItem
    from sharpnotes.ingest.catalog import Catalog, ChunkRow

log = logging.getLogger(__name__)

STALE_NOTE = "the passage changed since this question was made"
RETIRED_NOTE = "the passage's note or section was deleted"


@dataclass
class SyncReport:
    checked: int = 0
    stale: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    followed: list[str] = field(default_factory=list)  # their text is in the edited passage

    def summary(self) -> str:
        line = (
            f"quiz items: {len(self.stale)} stale (passage edited), {len(self.retired)} retired "
            f"(passage deleted), {len(self.restored)} back in use, of {self.checked} checked"
        )
        if self.followed:
            line += f"; {len(self.followed)} kept as they were (their lines did not change)"
        if self.stale:
            line += "; remake them from the edited notes: sharpnotes review --regenerate"
        return line

    @property
    def changed(self) -> bool:
        return bool(self.stale or self.retired or self.restored or self.followed)


def sync_items(settings: Settings, store: ReviewStore | None = None) -> SyncReport:
    """Flag items whose passage changed or disappeared. Does nothing (and creates nothing) when
    there is no review database or no index yet."""
    if store is None and not store_path(settings).exists():
        return SyncReport()
    if not (settings.index_dir / "catalog.sqlite").exists():
        return SyncReport()
    from sharpnotes.ingest.index import open_catalog

    catalog = open_catalog(settings)
    own = store is None
    store = store or open_store(settings)
    try:
        return _sync(store, catalog)
    finally:
        catalog.close()
        if own:
            store.close()


def _sync(store: ReviewStore, catalog: Catalog) -> SyncReport:
    # an item imported from Anki has no passage to follow
    items = [s for s in store.items() if s.replaced_by is None and not s.item.imported]
    report = SyncReport(checked=len(items))
    existing = catalog.existing_ids([s.item.citation.chunk_id for s in items])
    moved_on = _rest_changed(catalog, [s for s in items if s.item.citation.chunk_id in existing])
    notes: dict[str, list[ChunkRow]] = {}  # source -> its passages now
    changes: list[tuple[str, Status, str]] = []
    for stored in items:
        cit = stored.item.citation
        if cit.chunk_id in existing and stored.id not in moved_on:
            wanted: Status = "active"
        else:
            if cit.source not in notes:
                notes[cit.source] = list(
                    catalog.get_chunks(sorted(catalog.chunk_ids_of(cit.source))).values()
                )
            section = [row for row in notes[cit.source] if row.heading == cit.heading]
            wanted = "stale" if section else "retired"
            holder = _still_holds(stored, section) if stored.id not in moved_on else None
            if holder is not None:  # another line of the passage was edited, not this item's
                store.move_item(stored.id, _tied_to(stored.item, holder))
                report.followed.append(stored.id)
                continue
        if wanted == stored.status:
            continue
        if wanted == "active":
            report.restored.append(stored.id)
            changes.append((stored.id, "active", ""))
        elif wanted == "stale":
            report.stale.append(stored.id)
            changes.append((stored.id, "stale", STALE_NOTE))
        else:
            report.retired.append(stored.id)
            changes.append((stored.id, "retired", RETIRED_NOTE))
    if changes:
        store.set_status(changes)
        log.info(report.summary())
    return report


# an item's own text is looked for in the edited passage only when it says this much
MIN_EVIDENCE = 20


def _still_holds(stored: StoredItem, section: list[ChunkRow]) -> ChunkRow | None:
    """The passage of the item's section that still holds the item's own text (a card's
    question and answer, a question's sentence) word for word: the edit was elsewhere in the
    passage ("Q: What does NMS do?" edited beside four other cards), so the item is as it was."""
    evidence = stored.item.evidence.strip()
    if len(evidence) < MIN_EVIDENCE:
        return None
    return next((row for row in section if evidence in row.text), None)


def _tied_to(item: QuizItem, row: ChunkRow) -> QuizItem:
    """``item`` tied to the passage ``row`` (its text, citation and hash), its id kept."""
    import dataclasses

    from sharpnotes.app.quiz.items import Citation

    return dataclasses.replace(
        item,
        passage=row.text,
        evidence=item.evidence if item.evidence in row.text else "",
        content_hash=row.content_hash,
        citation=Citation(row.chunk_id, row.source, row.heading, row.page),
        stored_id=item.stored_id,
    )


def _rest_changed(catalog: Catalog, items: list[StoredItem]) -> set[str]:
    """The ids of the items whose passage goes on past their chunk (a card whose answer the
    chunker cut takes the rest from the next chunk of its section: ``handwritten._run_on``) and
    whose rest that next chunk no longer holds: an edit there changed the answer."""
    # only a card's answer runs on into the next chunk: no other item's text is read here
    items = [s for s in items if s.item.generator == CARD_GENERATOR]
    if not items:
        return set()
    from sharpnotes.app.quiz.handwritten import following_texts

    rows = catalog.get_chunks(sorted({s.item.citation.chunk_id for s in items}))
    following: dict[str, dict[str, str]] = {}  # source -> chunk id -> next chunk's text
    out = set()
    for stored in items:
        row = rows.get(stored.item.citation.chunk_id)
        own = row.text.rstrip() if row else ""
        passage = stored.item.passage
        if row is None or len(passage) <= len(own) or not passage.startswith(own):
            continue
        if row.source not in following:
            section = catalog.get_chunks(sorted(catalog.chunk_ids_of(row.source)))
            following[row.source] = following_texts(section.values())
        if passage[len(own) :].strip() not in following[row.source].get(row.chunk_id, ""):
            out.add(stored.id)
    return out


def _current_row(settings: Settings, stored: StoredItem) -> ChunkRow | None:
    """Among the chunks of the stale item's note and heading, the one sharing the most words
    with its old passage."""
    from sharpnotes.ingest.index import open_catalog

    cit = stored.item.citation
    catalog = open_catalog(settings)
    try:
        rows = catalog.get_chunks(sorted(catalog.chunk_ids_of(cit.source)))
    finally:
        catalog.close()
    old = set(stored.item.passage.lower().split())
    candidates = [r for r in rows.values() if r.heading == cit.heading]
    if not candidates:
        return None
    return max(candidates, key=lambda r: len(old & set(r.text.lower().split())))


def keep(settings: Settings, store: ReviewStore, item_id: str) -> bool:
    """Keep a stale item as it is (its text, history and id) and tie it to its passage as the
    note has it now, so it is no longer flagged. False when it is not stale or its section has
    no passage left."""
    import dataclasses

    stored = store.get(item_id)
    if stored is None or stored.status != "stale":
        return False
    row = _current_row(settings, stored)
    if row is None:
        return False
    store.move_item(item_id, dataclasses.replace(_tied_to(stored.item, row), stored_id=item_id))
    return True


def regenerate(settings: Settings, store: ReviewStore, item_id: str) -> QuizItem | None:
    """Make a new question of the same type from the edited passage of a stale item; the old
    item is retired with its history and points at the new one. None if nothing could be made."""
    from sharpnotes.app.quiz.generate import generate_quiz
    from sharpnotes.app.retrieval import Filters

    stored = store.get(item_id)
    if stored is None or stored.status != "stale":
        return None
    row = _current_row(settings, stored)
    if row is None:
        return None

    def held(item: QuizItem) -> bool:  # never an item the store holds: that would merge two
        return store.get(item.id) is not None

    if stored.item.generator == CARD_GENERATOR:  # the learner's card: the same card, as edited
        same = _same_card(stored, row)
        if same is not None and not held(same):
            store.replace(item_id, same)
            return same
    for kind in (stored.item.type, "mixed"):
        batch = generate_quiz(
            settings,
            filters=Filters(folder=stored.item.citation.source),  # matches the note exactly
            n=5,
            kind=kind,
            prefer_chunks=[row.chunk_id],
            seed=0,
        )
        fresh = [i for i in batch.items if i.citation.chunk_id == row.chunk_id and not held(i)]
        if fresh:
            store.replace(item_id, fresh[0])
            return fresh[0]
    return None


def _same_card(stored: StoredItem, row: ChunkRow) -> QuizItem | None:
    """The card of the edited passage that asks what the stale card asked (its question as the
    note wrote it), with its answer as the note has it now."""
    from sharpnotes.app.quiz.handwritten import card_items
    from sharpnotes.app.retrieval import SearchResult

    asked = {stored.item.question, (stored.original or {}).get("question")}
    passage = SearchResult(1, 1.0, row.chunk_id, row.source, row.heading, row.page, row.text)
    cards, _ = card_items(passage, row.content_hash)
    return next((card for card in cards if card.question in asked), None)


def sync_after_ingest(settings: Settings) -> str | None:
    """The hook ingest callers run: sync the items and return a line worth showing (what
    changed, or why the review database could not be read), or None."""
    from sharpnotes.app.quiz.store import ReviewStoreError

    try:
        report = sync_items(settings)
    except ReviewStoreError as exc:
        return str(exc)
    return report.summary() if report.changed else None
