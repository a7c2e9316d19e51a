"""Today: one daily session from the syllabus and the review store.

- the due reviews (most overdue first, up to what the daily review limit leaves today);
- new items from the weakest or never-reviewed topics (up to what the daily new limit leaves
  today), then, room left, new items no topic holds (an imported Anki deck), and the topics to
  start when they have no items yet; of sibling items (the cloze and the MCQ of one blank), one
  a day (``session.Siblings``);
- one interview question, from the weakest topic's notes when they hold a "Q:" line, else asked
  from the topic itself, with the passages that answer it;
- progress: reviews per day and the share recalled, over the last weeks.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sharpnotes.app.quiz.session import DailyLimits, Siblings, due_later_today
from sharpnotes.app.quiz.store import ReviewStore, StoredItem
from sharpnotes.app.syllabus import Syllabus
from sharpnotes.app.topic_status import TopicStatus, topic_statuses, weakest
from sharpnotes.app.topics import Link
from sharpnotes.ingest.cards import real_answer

# "Q: ... A: ..." on one line, or "**Q: ...**" with "A: ..." on the next (list markers allowed)
QA_LINE = re.compile(
    r"^[ \t]*(?:[-*][ \t]+)?(?:\*\*)?Q[ \t]*[:：][ \t]*(?P<q>[^\n]+?)(?:\*\*)?"
    r"(?:[ \t]+|[ \t]*\n[ \t]*)(?:\*\*)?A[ \t]*[:：](?:\*\*)?[ \t]*(?P<a>[^\n]+)$",
    re.MULTILINE,
)


@dataclass
class InterviewQuestion:
    topic_id: str
    question: str
    answer: str  # the note's own answer when it has one
    passages: list[Link]

    def to_dict(self) -> dict:
        return {
            "topic": self.topic_id,
            "question": self.question,
            "answer": self.answer,
            "passages": [p.to_dict() for p in self.passages],
        }


@dataclass
class Plan:
    day: str
    due: list[StoredItem]
    new: list[StoredItem]
    start: list[TopicStatus]  # weak topics without items yet: quiz on them to begin
    question: InterviewQuestion | None
    weakest: list[TopicStatus]
    gaps: list[str] = field(default_factory=list)
    held: list[StoredItem] = field(default_factory=list)  # siblings of an item asked today
    later: int = 0  # items that come due later today (a relearning step: "Again" in 10 minutes)

    @property
    def item_ids(self) -> list[str]:
        return [s.id for s in self.due + self.new]

    def to_dict(self) -> dict:
        def item(s: StoredItem) -> dict:
            return {"id": s.id, "question": s.item.question, "source": s.item.citation.source}

        return {
            "day": self.day,
            "due": [item(s) for s in self.due],
            "new": [item(s) for s in self.new],
            "start_topics": [s.topic.id for s in self.start],
            "question": self.question.to_dict() if self.question else None,
            "weakest": [s.to_dict() for s in self.weakest],
            "gaps": self.gaps,
            "due_later_today": self.later,
        }


def plan_today(
    syllabus: Syllabus,
    links: dict[str, list[Link]],
    store: ReviewStore,
    texts: dict[str, str],
    limits: DailyLimits,
    now: float | None = None,
    barren: Collection[str] = (),
) -> Plan:
    """Today's session within the day's ``limits`` (``session.daily_limits``: the settings
    less what was done today). ``texts`` maps chunk id -> passage text (for the interview
    question). A topic in ``barren`` (``gaps.barren_topics``: its quiz made nothing from the
    passages linked now) is not suggested to start."""
    now = time.time() if now is None else now
    statuses = topic_statuses(syllabus, links, store, now)
    ranked = weakest(statuses)
    siblings = Siblings(store, now)  # one of the cloze and the MCQ of a blank a day
    due = siblings.take(store.due_items(now=now), limits.reviews_left)
    later = due_later_today(store, now)
    new_limit = limits.new_left
    fresh = {s.id: s for s in store.new_items(now=now)}
    new: list[StoredItem] = []
    start: list[TopicStatus] = []
    for status in ranked:  # weakest topics first, a couple of items from each
        if len(new) >= new_limit:
            break
        mine = [fresh.pop(i) for i in status.item_ids if i in fresh]
        new += siblings.take(mine, min(2, new_limit - len(new)))
        if not status.items and len(start) < 3 and status.topic.id not in barren:
            start.append(status)
    # room left: new items no syllabus topic holds (a note outside it, an imported Anki deck)
    topical = {i for status in ranked for i in status.item_ids}
    new += siblings.take(
        [s for i, s in fresh.items() if i not in topical], max(0, new_limit - len(new))
    )
    day = datetime.fromtimestamp(now, UTC).date()
    return Plan(
        day=day.isoformat(),
        due=due,
        new=new,
        start=start,
        question=interview_question(ranked[:5], links, texts, day),
        weakest=ranked[:5],
        gaps=[s.topic.id for s in statuses if s.gap],
        held=siblings.held,
        later=later,
    )


def interview_question(
    ranked: list[TopicStatus], links: dict[str, list[Link]], texts: dict[str, str], day: date
) -> InterviewQuestion | None:
    """One question for today from one of the weakest topics (a different one each day): a Q/A
    line of its notes when there is one, else the topic asked as an interviewer would."""
    if not ranked:
        return None
    status = ranked[day.toordinal() % len(ranked)]
    linked = links.get(status.topic.id, [])
    pairs = [
        (m.group("q"), m.group("a"), link)
        for link in linked
        for m in QA_LINE.finditer(texts.get(link.chunk_id, ""))
        if real_answer(m.group("a"))  # "Q: What is ECE? A: TODO" is a card not written yet
    ]
    if pairs:
        q, a, link = pairs[day.toordinal() % len(pairs)]
        return InterviewQuestion(status.topic.id, q.strip(), a.strip(), [link])
    topic = status.topic
    # a description says what to do already ("Explain boosting as..."): asked as it is
    ask = (
        f"{topic.title}, as you would in an interview: {topic.description}"
        if topic.description
        else f"Explain {topic.title.lower()} as you would in an interview."
    )
    sections = list({(link.source, link.heading): link for link in linked}.values())
    return InterviewQuestion(topic.id, ask, "", sections[:3])


@dataclass
class Progress:
    days: list[str]
    reviews: list[int]
    recalled: list[float | None]  # share of the day's reviews rated Hard or better

    def to_dict(self) -> dict:
        return {"days": self.days, "reviews": self.reviews, "recalled": self.recalled}


def progress(store: ReviewStore, days: int = 28, now: float | None = None) -> Progress:
    """Reviews per day and the share recalled, for the last ``days`` days (UTC)."""
    now = time.time() if now is None else now
    today = datetime.fromtimestamp(now, UTC).date()
    first = today - timedelta(days=days - 1)
    count: Counter[date] = Counter()
    good: Counter[date] = Counter()
    for row in store.reviews():
        day = datetime.fromtimestamp(row.reviewed_at, UTC).date()
        if day >= first:
            count[day] += 1
            good[day] += row.rating > 1
    span = [first + timedelta(days=n) for n in range(days)]
    return Progress(
        days=[d.isoformat() for d in span],
        reviews=[count[d] for d in span],
        recalled=[round(good[d] / count[d], 3) if count[d] else None for d in span],
    )
