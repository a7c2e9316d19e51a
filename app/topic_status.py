"""Where the learner stands on each syllabus topic: its passages and notes, its quiz items and
cards (from the review store), recall (mean FSRS retrievability of its reviewed items; an item
whose last answer was Again counts as forgotten until it is answered right), when it was last
reviewed and how many items are due. Topics with no passages are gaps to write; the others
are ranked weakest first."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sharpnotes.app.quiz.grade import AGAIN
from sharpnotes.app.quiz.store import ReviewStore, StoredItem
from sharpnotes.app.syllabus import Syllabus, Topic
from sharpnotes.app.topics import Link

if TYPE_CHECKING:
    from fsrs import Scheduler


# reviewed topics recalled below this are weak: FSRS's default desired retention
WEAK_RECALL = 0.9


@dataclass
class TopicStatus:
    topic: Topic
    passages: int
    notes: list[str]
    items: int
    reviewed: int  # items reviewed at least once
    due: int
    recall: float | None  # mean retrievability of the reviewed items; None before any review
    last_reviewed: float | None
    item_ids: list[str] = field(default_factory=list)

    @property
    def gap(self) -> bool:
        return self.passages == 0

    @property
    def weakness(self) -> float:
        """Lower is stronger: never reviewed counts as knowing nothing yet, and a topic whose
        items are mostly unreviewed is weaker than its reviewed items' recall says."""
        if not self.items or self.recall is None:
            return 1.0
        covered = self.reviewed / self.items
        return 1.0 - self.recall * covered

    def to_dict(self) -> dict:
        return {
            "id": self.topic.id,
            "title": self.topic.title,
            "title_zh": self.topic.title_zh,
            "area": self.topic.area,
            "passages": self.passages,
            "notes": self.notes,
            "items": self.items,
            "reviewed": self.reviewed,
            "due": self.due,
            "recall": None if self.recall is None else round(self.recall, 3),
            "last_reviewed": self.last_reviewed,
            "gap": self.gap,
            "weakness": round(self.weakness, 3),
        }


def retrievability(
    stored: StoredItem, now: datetime, fsrs: Scheduler | None = None
) -> float | None:
    """FSRS's probability of recalling the item now; None before its first review."""
    if not stored.card or stored.reps == 0:
        return None
    from fsrs import Card

    from sharpnotes.app.quiz.schedule import scheduler

    fsrs = fsrs or scheduler()
    return float(fsrs.get_card_retrievability(Card.from_json(stored.card), now))


def topic_statuses(
    syllabus: Syllabus,
    links: dict[str, list[Link]],
    store: ReviewStore | None,
    now: float | None = None,
) -> list[TopicStatus]:
    """One status per topic, in syllabus order."""
    now = time.time() if now is None else now
    moment = datetime.fromtimestamp(now, UTC)
    items = store.items(statuses=("active", "stale")) if store is not None else []
    by_chunk: dict[str, list[StoredItem]] = {}
    for stored in items:
        by_chunk.setdefault(stored.item.citation.chunk_id, []).append(stored)
    from sharpnotes.app.quiz.schedule import scheduler

    fsrs = scheduler()
    # FSRS puts an item just failed at full retrievability (it was shown again); to the learner
    # it is an item they did not know, so it counts as forgotten until answered right again
    failed = {i for i, rating in (store.last_ratings() if store else {}).items() if rating == AGAIN}
    recall_of = {
        s.id: 0.0 if s.id in failed else retrievability(s, moment, fsrs) for s in items if s.reps
    }
    out = []
    for topic in syllabus.topics:
        linked = links.get(topic.id, [])
        mine = [s for link in linked for s in by_chunk.get(link.chunk_id, [])]
        mine = list({s.id: s for s in mine}.values())
        scores = [r for s in mine if (r := recall_of.get(s.id)) is not None]
        reviewed = [s for s in mine if s.reps]
        out.append(
            TopicStatus(
                topic=topic,
                passages=len(linked),
                notes=sorted({link.source for link in linked}),
                items=len(mine),
                reviewed=len(reviewed),
                due=sum(1 for s in reviewed if s.due is not None and s.due <= now),
                recall=sum(scores) / len(scores) if scores else None,
                last_reviewed=max((s.last_review or 0.0 for s in reviewed), default=None),
                item_ids=[s.id for s in mine],
            )
        )
    return out


def gaps(statuses: Sequence[TopicStatus]) -> list[TopicStatus]:
    return [s for s in statuses if s.gap]


def weak_label(ranked: Sequence[TopicStatus]) -> str:
    """How to introduce topics ranked by ``weakest``: until one of them has been reviewed, they
    are topics to start, not weak ones."""
    return "Weakest topics" if any(s.reviewed for s in ranked) else "Not reviewed yet"


def weakest(statuses: Sequence[TopicStatus], n: int | None = None) -> list[TopicStatus]:
    """Topics with notes, weakest first: those the learner's reviews show weak (recall under
    ``WEAK_RECALL``), then those never reviewed, then the rest; within each by ``weakness``
    (ties: fewer items reviewed, then syllabus order). A topic answered wrong is evidence of a
    gap; a topic never reviewed (often a public file cloned into the notes) is only unknown."""

    def tier(status: TopicStatus) -> int:
        if status.recall is None or not status.reviewed:
            return 1
        return 0 if status.recall < WEAK_RECALL else 2

    ranked = sorted(
        (s for s in statuses if not s.gap), key=lambda s: (tier(s), -s.weakness, s.reviewed)
    )
    return ranked if n is None else ranked[:n]
