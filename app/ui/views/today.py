"""Today: the daily session (due reviews, a few new items from the weakest topics, one interview
question) and progress (reviews per day, share recalled). The same plan as `sharpnotes today`."""

from __future__ import annotations

import streamlit as st

from sharpnotes.app.gaps import barren_topics
from sharpnotes.app.quiz.generate import add_own_cards
from sharpnotes.app.quiz.session import daily_limits
from sharpnotes.app.quiz.store import ReviewStoreError, open_store
from sharpnotes.app.syllabus import SyllabusError
from sharpnotes.app.today import plan_today, progress
from sharpnotes.app.topic_status import weak_label
from sharpnotes.app.topics import syllabus_links
from sharpnotes.app.ui import quiz_widgets, services
from sharpnotes.app.ui.note_dialog import passage_card
from sharpnotes.app.ui.render import literal
from sharpnotes.ingest.formats import StoredFormatError

cfg = services.settings()
KEY = "today_session"
st.title("Today")
if not services.has_index(cfg):
    st.info("No notes indexed yet: add a notes folder on the Library page.")
    st.stop()

if st.session_state.get(KEY):
    if st.button("End today's session", key="today_end"):
        del st.session_state[KEY]
        st.rerun()
    quiz_widgets.run(cfg, KEY)
    st.stop()

searcher = services.searcher(cfg)
c1, c2 = st.columns(2)
study = cfg.study  # the day's limits; changed here for this visit only
review_limit = c1.number_input("Reviews today", 0, None, study.reviews_per_day, key="today_reviews")
new_limit = c2.number_input("New items today", 0, None, study.new_per_day, key="today_new")
try:
    syllabus, links = syllabus_links(searcher)
    ids = sorted({link.chunk_id for linked in links.values() for link in linked})
    texts = {cid: row.text for cid, row in searcher.catalog.get_chunks(ids).items()}
    with open_store(cfg) as store:
        add_own_cards(cfg, store)  # the cards you wrote are new items of the day too
        limits = daily_limits(
            cfg, store, new_per_day=int(new_limit), reviews_per_day=int(review_limit)
        )
        plan = plan_today(syllabus, links, store, texts, limits, barren=barren_topics(cfg, links))
        done = progress(store)
except (SyllabusError, ReviewStoreError, StoredFormatError) as exc:
    st.error(literal(str(exc)))
    st.stop()

st.caption(
    f"{limits.describe().capitalize()} (defaults: SHARPNOTES_NEW_PER_DAY, "
    "SHARPNOTES_REVIEWS_PER_DAY on the Settings page)"
)
m1, m2, m3 = st.columns(3)
m1.metric("Due now", len(plan.due))
m2.metric("New today", len(plan.new))
m3.metric("Reviews, last 7 days", sum(done.reviews[-7:]))
if st.button(
    "Start today's session",
    icon=":material/play_arrow:",
    type="primary",
    disabled=not plan.item_ids,
    key="today_start",
):
    quiz_widgets.start(KEY, plan.item_ids)
    st.rerun()
if plan.later:  # cards rated Again come back within minutes
    st.caption(f"{plan.later} more due later today: come back to review them.")
if not plan.item_ids:
    st.caption("Nothing due and no new items: make questions on a weak topic below.")
for n, status in enumerate(plan.start):
    # a topic without questions yet: one click to the Quiz page, asked about that topic
    label = f"Make questions on {status.topic.title} (none yet)"
    if st.button(label, icon=":material/quiz:", key=f"today-topic-{n}"):
        st.session_state.quiz_topic = status.topic.title
        st.switch_page("views/quiz.py")

if plan.question:
    st.subheader("Interview question of the day")
    st.markdown(f"**{literal(plan.question.question)}**")
    st.caption(f"Topic: {literal(syllabus.get(plan.question.topic_id).title)}")
    with st.expander("Where your notes answer it"):
        if plan.question.answer:
            st.markdown(f"Your note's answer: {literal(plan.question.answer)}")
        for n, link in enumerate(plan.question.passages):
            item = {
                "source": link.source,
                "heading": link.heading,
                "page": link.page,
                "text": texts.get(link.chunk_id, ""),
            }
            passage_card(cfg, f"today-q-{n}", item)

st.subheader("Progress")
left, right = st.columns(2)
left.caption("Reviews per day")
left.bar_chart({"day": done.days, "reviews": done.reviews}, x="day", y="reviews")
right.caption("Share recalled (Hard or better) per day, %")
# bars, not a line: a first day of reviews is one point, which a line does not draw
right.bar_chart(
    {"day": done.days, "recalled": [None if r is None else round(100 * r) for r in done.recalled]},
    x="day",
    y="recalled",
)
if plan.weakest:
    st.caption(
        f"{weak_label(plan.weakest)}: "
        + ", ".join(literal(s.topic.title) for s in plan.weakest)
        + " · the recall heat map is on the Topics page"
    )
