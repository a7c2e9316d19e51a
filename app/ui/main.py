"""Entry point: ``streamlit run app/ui/main.py`` (what ``sharpnotes app`` runs)."""

from __future__ import annotations

import streamlit as st

from sharpnotes.app.ui.render import literal
from sharpnotes.ingest.formats import StoredFormatError
from sharpnotes.ingest.vectors import VectorStoreError

st.set_page_config(page_title="sharpnotes", page_icon=":material/edit_note:", layout="wide")

page = st.navigation(
    [
        st.Page("views/chat.py", title="Chat", icon=":material/chat:", default=True),
        st.Page("views/quiz.py", title="Quiz", icon=":material/quiz:"),
        st.Page("views/review.py", title="Review", icon=":material/event_repeat:"),
        st.Page("views/coverage.py", title="Coverage", icon=":material/donut_small:"),
        st.Page("views/library.py", title="Library", icon=":material/library_books:"),
        st.Page("views/eval.py", title="Eval", icon=":material/query_stats:"),
        st.Page("views/settings.py", title="Settings", icon=":material/settings:"),
    ]
)
try:
    page.run()
except (StoredFormatError, VectorStoreError) as exc:  # an index that cannot be opened (a home
    st.error(literal(str(exc)))  # that is read-only or on a full disk): the message says why
