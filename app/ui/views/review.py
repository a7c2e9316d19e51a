"""Review: spaced repetition with FSRS, due questions first, then new ones."""

from __future__ import annotations

import streamlit as st

from sharpnotes.app.quiz.generate import add_own_cards, own_cards_line
from sharpnotes.app.quiz.session import Siblings, daily_limits, held_line, review_queue
from sharpnotes.app.quiz.staleness import sync_items
from sharpnotes.app.quiz.store import ReviewStoreError, open_store
from sharpnotes.app.ui import quiz_widgets, services

cfg = services.settings()
KEY = "review_session"

st.title("Review")
try:
    with open_store(cfg) as store:
        report = sync_items(cfg, store)  # flag questions whose note changed since the last visit
        counts = store.counts()
        added = add_own_cards(cfg, store)  # the cards written since the last visit too
        counts = store.counts() if added else counts
except ReviewStoreError as exc:
    st.error(str(exc))
    st.stop()
if report.changed:
    st.info(report.summary())
if added:
    st.info(own_cards_line(added))

c1, c2, c3, c4 = st.columns(4)
c1.metric("Due now", counts["due"])
c2.metric("New, never seen", counts["new"])
c3.metric("Stale (note changed)", counts["stale"])
c4.metric("Retired (note deleted)", counts["retired"])

if not st.session_state.get(KEY):
    if not counts["due"] and not counts["new"]:
        st.info("Nothing to review. Make questions on the Quiz page.")
        if counts["suspended"] or counts["buried"]:
            quiz_widgets.held_cards(cfg)
        st.stop()
    left, right = st.columns(2)  # the day's limits; changed here for this session only
    new_per_day = left.number_input(
        "New cards today", min_value=0, value=cfg.study.new_per_day, key="review_new"
    )
    reviews_per_day = right.number_input(
        "Reviews today", min_value=0, value=cfg.study.reviews_per_day, key="review_reviews"
    )
    with open_store(cfg) as store:
        limits = daily_limits(
            cfg, store, new_per_day=int(new_per_day), reviews_per_day=int(reviews_per_day)
        )
    st.caption(
        f"{limits.describe().capitalize()} (defaults: SHARPNOTES_NEW_PER_DAY, "
        "SHARPNOTES_REVIEWS_PER_DAY on the Settings page)"
    )
    typed = st.toggle(
        "Type recall answers (instead of flipping cards)",
        key="review_typed",
        help="Flip: Show answer (space), then rate 1-4 (u undoes the last rating).",
    )
    if st.button("Start review", icon=":material/play_arrow:", type="primary"):
        with open_store(cfg) as store:
            siblings = Siblings(store)
            due, new = review_queue(store, limits, siblings=siblings)
        if due or new:
            quiz_widgets.start(KEY, [s.id for s in due + new], typed=typed)
            st.rerun()
        if siblings.held:  # the rest are siblings of cards asked today
            st.info(held_line(siblings.held))
        else:
            st.info("Today's limits are reached: raise them above to go on.")
else:
    if st.button("End session", key="review_end"):
        del st.session_state[KEY]
        st.rerun()
    quiz_widgets.run(cfg, KEY)

if counts["suspended"] or counts["buried"]:
    quiz_widgets.held_cards(cfg)
