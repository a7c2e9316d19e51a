"""Topic status and today's plan over a real review store (SQLite, FSRS): recall is FSRS
retrievability of a topic's reviewed items, weak and never-reviewed topics come first, new items
come from them within the daily limit, due items first, and progress counts reviews per day."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from sharpnotes.app.quiz import schedule
from sharpnotes.app.quiz.items import Citation, QuizItem
from sharpnotes.app.quiz.session import daily_limits
from sharpnotes.app.quiz.store import open_store
from sharpnotes.app.syllabus import Syllabus, Topic
from sharpnotes.app.today import plan_today, progress
from sharpnotes.app.topic_status import topic_statuses, weak_label, weakest
from sharpnotes.app.topics import Link
from sharpnotes.ingest.settings import Settings

TOPICS = Syllabus(
    (
        Topic("detr", "DETR", "DETR"),
        Topic("focal-loss", "Focal loss", "焦點損失", description="Down-weight easy examples."),
        Topic("optical-flow", "Optical flow", "光流"),
    ),
    None,
)
LINKS = {
    "detr": [Link("c-detr", "detection/detr.md", "DETR > Matching", None, 1.2)],
    "focal-loss": [Link("c-focal", "fundamentals/loss.md", "Losses > Focal", None, 1.1)],
    "optical-flow": [],
}
TEXTS = {"c-focal": "Focal loss scales CE.\n\nQ: why gamma 2? A: best on COCO in the paper.\n"}


def item(chunk: str, source: str, n: int) -> QuizItem:
    # each its own answer: items of one passage with one answer are siblings, asked one a day
    return QuizItem(
        type="recall",
        question=f"Question {n} on {chunk}?",
        answer=f"answer {n}",
        evidence=f"answer {n}",
        passage="an answer here",
        citation=Citation(chunk, source, "H"),
    )


def test_recall_weakness_plan_and_progress(settings: Settings) -> None:
    now = datetime(2026, 12, 5, 9, tzinfo=UTC)
    with open_store(settings) as store:
        detr = store.add_items([item("c-detr", "detection/detr.md", n) for n in range(3)])
        focal = store.add_items([item("c-focal", "fundamentals/loss.md", n) for n in range(3)])
        fsrs = schedule.scheduler()
        earlier = now - timedelta(days=30)
        for item_id in detr:  # all DETR items recalled a month ago: due now, recall has decayed
            schedule.record(store, item_id, 3, now=earlier, fsrs=fsrs)
        schedule.record(store, focal[0], 1, now=now - timedelta(hours=1), fsrs=fsrs)

        statuses = {s.topic.id: s for s in topic_statuses(TOPICS, LINKS, store, now.timestamp())}
        assert statuses["detr"].reviewed == 3 and statuses["detr"].due == 3
        assert 0.0 < statuses["detr"].recall < 0.9  # type: ignore[operator]
        assert statuses["focal-loss"].reviewed == 1 and statuses["focal-loss"].items == 3
        assert statuses["optical-flow"].gap and statuses["optical-flow"].recall is None
        # focal[0] was just failed: FSRS says retrievability ~1 (it was shown again), the learner
        # did not know it, so it counts as forgotten until answered right
        assert statuses["focal-loss"].recall == 0.0
        # focal: 1 of 3 items reviewed, so weaker than DETR whose items were all reviewed
        ranked = [s.topic.id for s in weakest(list(statuses.values()))]
        assert ranked == ["focal-loss", "detr"]
        # a topic the reviews show weak ranks before one never reviewed, which ranks before
        # one recalled well, whatever their share of unreviewed items
        never = dataclasses.replace(statuses["detr"], reviewed=0, recall=None)
        strong = dataclasses.replace(statuses["focal-loss"], reviewed=1, recall=0.97)
        never.topic = dataclasses.replace(never.topic, id="never")
        strong.topic = dataclasses.replace(strong.topic, id="strong")
        mixed = [strong, never, statuses["detr"]]
        assert [s.topic.id for s in weakest(mixed)] == ["detr", "never", "strong"]
        # never reviewed ranks as weakest, but is not called weak until something was reviewed
        assert weak_label(weakest(list(statuses.values()))) == "Weakest topics"
        fresh = [dataclasses.replace(s, reviewed=0) for s in statuses.values()]
        assert weak_label(weakest(fresh)) == "Not reviewed yet"

        # the day's limits count what was done today: focal[0], first reviewed an hour ago
        limits = daily_limits(
            settings, store, new_per_day=2, reviews_per_day=2, now=now.timestamp()
        )
        assert (limits.new_done, limits.reviews_done, limits.new_left) == (1, 0, 1)
        plan = plan_today(TOPICS, LINKS, store, TEXTS, limits, now=now.timestamp())
        assert len(plan.due) == 2 and {s.id for s in plan.due} <= set(detr)  # the limit holds
        assert [s.id for s in plan.new] == [focal[1]]  # the weakest topic's first unreviewed item
        # room left: new items of no topic (an imported deck) come after the topics' own
        (outside,) = store.add_items([item("anki:1234:0", "anki:Deck", 9)])
        roomy = daily_limits(settings, store, new_per_day=9, reviews_per_day=2, now=now.timestamp())
        plan = plan_today(TOPICS, LINKS, store, TEXTS, roomy, now=now.timestamp())
        assert [s.id for s in plan.new] == [focal[1], focal[2], outside]
        assert plan.gaps == ["optical-flow"]
        assert plan.question is not None and plan.question.topic_id in {"focal-loss", "detr"}
        if plan.question.topic_id == "focal-loss":
            assert plan.question.question == "why gamma 2?"
            assert plan.question.answer.startswith("best on COCO")

        done = progress(store, days=40, now=now.timestamp())
        assert sum(done.reviews) == 4 and done.reviews[-1] == 1 and done.recalled[-1] == 0.0
        month_ago = done.days.index(earlier.date().isoformat())
        assert done.reviews[month_ago] == 3 and done.recalled[month_ago] == 1.0


def test_interview_question_reads_bold_qa_and_falls_back_to_the_topic() -> None:
    from datetime import date

    from sharpnotes.app.today import interview_question
    from sharpnotes.app.topic_status import TopicStatus

    bold = {"c-focal": "**Q: Why gamma 2?**\nA: It was best on COCO.\n"}
    status = TopicStatus(TOPICS.topics[1], 1, ["fundamentals/loss.md"], 0, 0, 0, None, None)
    asked = interview_question([status], LINKS, bold, date(2026, 12, 5))
    assert asked is not None and (asked.question, asked.answer) == (
        "Why gamma 2?",
        "It was best on COCO.",
    )
    # a card not written yet ("A: TODO") is no question of the day: a newcomer was sent to it,
    # and `ask` then quoted the next card's answer
    todo = {"c-focal": "Q: What is ECE?\nA: TODO\n\nQ: Why gamma 2?\nA: Best on COCO.\n"}
    for day in range(5, 9):
        asked = interview_question([status], LINKS, todo, date(2026, 12, day))
        assert asked is not None and asked.question == "Why gamma 2?"
    plain = interview_question([status], LINKS, {}, date(2026, 12, 5))
    assert plain is not None and plain.question.startswith("Focal loss, as you would in an")
    assert "Down-weight easy examples." in plain.question and plain.passages == LINKS["focal-loss"]


def test_a_failed_item_counts_as_forgotten_until_answered_right(settings: Settings) -> None:
    now = datetime(2026, 12, 5, 9, tzinfo=UTC)
    with open_store(settings) as store:
        (focal,) = store.add_items([item("c-focal", "fundamentals/loss.md", 0)])
        fsrs = schedule.scheduler()
        schedule.record(store, focal, 3, now=now - timedelta(days=3), fsrs=fsrs)
        schedule.record(store, focal, 1, now=now - timedelta(minutes=5), fsrs=fsrs)

        def recall(at: datetime) -> float | None:
            statuses = topic_statuses(TOPICS, LINKS, store, at.timestamp())
            return next(s.recall for s in statuses if s.topic.id == "focal-loss")

        assert recall(now) == 0.0
        schedule.record(store, focal, 3, now=now, fsrs=fsrs)
        after = recall(now + timedelta(minutes=1))
        assert after is not None and after > 0.9


def test_a_topic_whose_quiz_made_nothing_is_not_suggested_until_its_passages_change(
    settings: Settings,
) -> None:
    """A newcomer was sent every day to `quiz --topic` on the framework note, which made no
    question: a topic whose quiz made nothing from the passages linked now is not suggested to
    start; linked to other passages, it is again."""
    from sharpnotes.app.gaps import barren_topics, forget_barren, record_barren

    now = datetime(2026, 12, 5, 9, tzinfo=UTC).timestamp()
    with open_store(settings) as store:
        limits = daily_limits(settings, store, new_per_day=5, reviews_per_day=5, now=now)
        started = plan_today(TOPICS, LINKS, store, TEXTS, limits, now=now).start
        assert [s.topic.id for s in started] == ["detr", "focal-loss"]
        record_barren(settings, "detr", ["c-detr"])
        barren = barren_topics(settings, LINKS)
        assert barren == {"detr"}
        plan = plan_today(TOPICS, LINKS, store, TEXTS, limits, now=now, barren=barren)
        assert [s.topic.id for s in plan.start] == ["focal-loss"]
        edited = LINKS | {"detr": [*LINKS["detr"], Link("c-new", "detr.md", "DETR", None, 1.0)]}
        assert barren_topics(settings, edited) == set()  # new passages may make questions
        forget_barren(settings, "detr")  # a quiz on it made some
        assert barren_topics(settings, LINKS) == set()
        # a card rated Again comes back within minutes: today says so rather than "0 due"
        (failed,) = store.add_items([item("c-focal", "fundamentals/loss.md", 7)])
        at = datetime.fromtimestamp(now, UTC)
        schedule.record(store, failed, 1, now=at, fsrs=schedule.scheduler())
        plan = plan_today(TOPICS, LINKS, store, TEXTS, limits, now=now)
        assert failed not in {s.id for s in plan.due} and plan.later == 1
        assert plan.to_dict()["due_later_today"] == 1
