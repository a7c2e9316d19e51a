"""Quiz: make questions from the notes (on a topic, or from passages not quizzed yet), answer
them, see the passage with the evidence highlighted, rate and schedule them."""

from __future__ import annotations

import streamlit as st

from sharpnotes.app.quiz.session import NothingToQuiz, make_quiz
from sharpnotes.app.quiz.staleness import sync_items
from sharpnotes.app.quiz.store import ReviewStoreError, open_store
from sharpnotes.app.retrieval import Filters
from sharpnotes.app.ui import quiz_widgets, services

cfg = services.settings()
ALL = "(all)"
KEY = "quiz_session"
MODES = {"new": "passages you have never reviewed", "weakest": "your weakest note"}

st.title("Quiz")
if not services.has_index(cfg):
    st.warning("Nothing is indexed yet. Add notes on the Library page, or run: sharpnotes ingest")
    st.stop()


def make(topic: str, filters: Filters, n: int, kind: str, mode: str) -> None:
    """Generate, save and start a quiz; errors are shown with what to do next."""
    try:
        with open_store(cfg) as store:
            sync_items(cfg, store)
            searcher = services.searcher(cfg) if topic else None
            made = make_quiz(
                cfg,
                store,
                topic=topic or None,
                filters=filters,
                n=n,
                kind=kind,
                mode=mode,  # type: ignore[arg-type]
                searcher=searcher,
            )
    except (NothingToQuiz, ReviewStoreError) as exc:
        st.info(str(exc))
        return
    except Exception as exc:  # index and generator errors carry the next step in the message
        st.error(str(exc))
        return
    dropped = sum(made.batch.failed().values())
    where = f" on {made.focus}" if made.focus else ""
    where = f" on {made.linked[0]}, from its linked passages" if made.linked else where
    if not made.stored:
        st.info(
            f"No questions could be made{where}: passages already quizzed are left out without "
            "a topic. Try a topic, another folder, or the Review page."
        )
    st.session_state.quiz_made = (
        f"{len(made.stored)} questions{where}"
        # why a quiz is short; a full one does not list the candidates the checks passed over
        + (
            f"; the checks passed over {dropped} candidate questions (answer not in the "
            "passage, a giveaway, a label or a fragment)"
            if dropped and len(made.stored) < n
            else ""
        )
        + (
            f". {short}" + ("" if made.batch.named else "; for more, choose the type cloze or mcq")
            if (short := made.batch.shortfall(n))
            else ""
        )
    )
    quiz_widgets.start(KEY, [s.id for s in made.stored])


folders, tags = services.filter_choices(cfg)
with st.container(border=True):
    topic = st.text_input(
        "Topic (leave empty for passages you have not been quizzed on)", key="quiz_topic"
    )
    c1, c2, c3, c4 = st.columns(4)
    folder = c1.selectbox("Folder", [ALL, *folders], key="quiz_folder")
    tag = c2.selectbox("Tag", [ALL, *tags], key="quiz_tag")
    kind = c3.selectbox("Type", ["mixed", "mcq", "cloze", "recall"], key="quiz_type")
    n = c4.number_input("Questions", min_value=1, max_value=20, value=5, key="quiz_n")
    filters = Filters(folder=None if folder == ALL else folder, tag=None if tag == ALL else tag)
    if st.button("Make a quiz", icon=":material/quiz:", type="primary"):
        make(topic.strip(), filters, int(n), kind, "unquizzed")

# a one-click request from the Coverage page
request = st.session_state.pop("quiz_request", None)
if request in MODES:
    st.caption(f"Quiz on {MODES[request]}")
    make("", Filters(), 5, "mixed", request)

if st.session_state.get("quiz_made"):
    st.caption(st.session_state.quiz_made)
quiz_widgets.run(cfg, KEY)
