"""Home: what is indexed, what is due today, questions to try, and gaps to write."""

from __future__ import annotations

import time

import streamlit as st

from sharpnotes.app.ui import services
from sharpnotes.app.ui.render import literal

cfg = services.settings()
st.title("sharpnotes")
st.caption("A private study desk over your own notes.")

if not services.has_index(cfg):
    st.info(
        "Nothing is indexed yet. Add a notes folder on the Library page, or run: "
        "sharpnotes ingest PATH-TO-NOTES"
    )
    st.page_link("views/library.py", label="Open the Library", icon=":material/library_books:")
    st.stop()

home = services.home_summary(cfg)
cols = st.columns(4)
cols[0].metric("Notes", home.notes)
cols[1].metric("Folders", home.folders)
cols[2].metric("Passages", home.passages)
later = f"{home.due_later_today} more fall due later today." if home.due_later_today else None
cols[3].metric("Reviews due", home.due, help=later)
synced = time.strftime("%Y-%m-%d %H:%M", time.localtime(home.last_sync)) if home.last_sync else "-"
folder = f" from {literal(str(home.notes_dir))}" if home.notes_dir else ""
st.caption(f"Last sync {synced}{folder}.")

left, right = st.columns(2)
with left:
    st.subheader("Try asking")
    if not home.examples:
        st.caption("No questions could be made from these notes yet.")
    for i, question in enumerate(home.examples):
        if st.button(question, key=f"example-{i}", icon=":material/chat:", width="stretch"):
            st.session_state.ask = question
            st.switch_page("views/chat.py")
    if home.due:
        label = f"Review the {home.due} due now"
        st.page_link("views/review.py", label=label, icon=":material/event_repeat:")
with right:
    st.subheader("Gaps to write")
    if not home.gaps:
        st.caption("Questions your notes could not answer will be listed here.")
    for gap in home.gaps:
        times = f" :gray[(asked {gap.asked}x)]" if gap.asked > 1 else ""
        st.markdown(f"- {literal(gap.question)}{times}")
