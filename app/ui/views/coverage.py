"""Coverage: per folder and per note, what the quizzes have covered; one-click quizzes on what was
never reviewed or on the weakest note; questions the notes could not answer."""

from __future__ import annotations

import streamlit as st

from sharpnotes.app.quiz.coverage import coverage
from sharpnotes.app.quiz.staleness import sync_items
from sharpnotes.app.quiz.store import ReviewStoreError
from sharpnotes.app.ui import services
from sharpnotes.app.ui.render import literal

cfg = services.settings()
st.title("Coverage")
try:
    sync_items(cfg)
    cov = coverage(cfg)
except ReviewStoreError as exc:
    st.error(str(exc))
    st.stop()


def table(rows: list) -> list[dict]:
    return [
        {
            "name": r.name,
            "passages": r.passages,
            "quizzed": r.quizzed,
            "due": r.due,
            "recall": "-" if r.recall is None else f"{r.recall:.0%}",
        }
        for r in rows
    ]


total = cov.total
c1, c2, c3, c4 = st.columns(4)
c1.metric("Passages", total.passages)
c2.metric("Quizzed", total.quizzed)
c3.metric("Due now", total.due)
c4.metric("Recall", "-" if total.recall is None else f"{total.recall:.0%}")

b1, b2 = st.columns(2)
if b1.button(
    f"Quiz me on what I have never reviewed ({len(cov.never_reviewed)} passages)",
    key="cov_new",
    disabled=not cov.never_reviewed,
    width="stretch",
):
    st.session_state.quiz_request = "new"
    st.switch_page("views/quiz.py")
weakest = f" ({literal(cov.weakest.name)})" if cov.weakest else ""  # a note's name: no Markdown
if b2.button(
    f"Quiz me on my weakest topic{weakest}",
    key="cov_weakest",
    disabled=cov.weakest is None,
    width="stretch",
):
    st.session_state.quiz_request = "weakest"
    st.switch_page("views/quiz.py")

st.subheader("By folder")
st.dataframe(table(cov.folders), hide_index=True, width="stretch")
st.subheader("By note")
st.dataframe(table(cov.notes), hide_index=True, width="stretch")

st.subheader("Gaps to write up")
if not cov.gaps:
    st.caption(
        "No unanswered questions yet: the chat records questions your notes could not answer."
    )
for gap in cov.gaps:
    st.text(f"• {gap.question}" + (f"  (asked {gap.asked}x)" if gap.asked > 1 else ""))
