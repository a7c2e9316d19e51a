"""Entry point: ``streamlit run app/ui/main.py`` (what ``sharpnotes app`` runs)."""

from __future__ import annotations

import streamlit as st

from sharpnotes.app.ui import services
from sharpnotes.app.ui.render import STYLE, literal
from sharpnotes.ingest.formats import StoredFormatError
from sharpnotes.ingest.vectors import VectorStoreError

st.set_page_config(page_title="sharpnotes", page_icon=":material/edit_note:", layout="wide")

st.html(STYLE)  # chips, highlights and the cited passage's frame, on every page
cfg = services.settings()
services.warm_up(cfg)  # the index and the model load in the background while the page draws
watcher = services.live_sync(cfg)  # re-syncs the notes folder as its files change

page = st.navigation(
    [
        st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("views/today.py", title="Today", icon=":material/today:"),
        st.Page("views/chat.py", title="Chat", icon=":material/chat:"),
        st.Page("views/quiz.py", title="Quiz", icon=":material/quiz:"),
        st.Page("views/review.py", title="Review", icon=":material/event_repeat:"),
        st.Page("views/coverage.py", title="Coverage", icon=":material/donut_small:"),
        st.Page("views/topics.py", title="Topics", icon=":material/school:"),
        st.Page("views/mock.py", title="Mock", icon=":material/timer:"),
        st.Page("views/note.py", title="Notes", icon=":material/description:", url_path="note"),
        st.Page("views/library.py", title="Library", icon=":material/library_books:"),
        st.Page("views/eval.py", title="Eval", icon=":material/query_stats:"),
        st.Page("views/settings.py", title="Settings", icon=":material/settings:"),
    ]
)


@st.fragment(run_every=2)
def sync_status() -> None:
    """What the live sync did since this page last looked: a toast per sync, the last line kept."""
    if watcher is None:
        return
    total = watcher.syncs
    seen = st.session_state.setdefault("sync_seen", total)  # a new tab: no toasts for the past
    events = list(watcher.events)
    for event in events[len(events) - min(total - seen, len(events)) :]:
        st.toast(literal(event.summary()), icon=":material/sync:")
    st.session_state.sync_seen = total
    if watcher.busy:
        st.caption(":material/sync: syncing changed notes…")
    elif events:
        st.caption(f":material/sync: {literal(events[-1].summary())}")
    else:
        st.caption(f":material/visibility: watching {literal(watcher.folder.name)} for changes")


with st.sidebar:
    sync_status()
try:
    page.run()
except (StoredFormatError, VectorStoreError) as exc:  # an index that cannot be opened (a home
    st.error(literal(str(exc)))  # that is read-only or on a full disk): the message says why
