"""The question card shared by the Quiz and Review pages: ask, grade, show the passage with the
evidence highlighted and a button to open the note, take the rating and record it at once.

A session is a list of item ids in ``st.session_state[key]``; the card shown is the first one
not yet rated. Note text (questions, passages, feedback) is escaped or shown with ``st.text``."""

from __future__ import annotations

from html import escape
from typing import Any

import streamlit as st

from sharpnotes.app.quiz.store import StoredItem, open_store
from sharpnotes.app.ui.note_dialog import passage_card
from sharpnotes.app.ui.render import literal
from sharpnotes.ingest.settings import Settings

RATINGS = {1: "Again", 2: "Hard", 3: "Good", 4: "Easy"}


def start(key: str, ids: list[str]) -> None:
    st.session_state[key] = {"ids": list(ids), "pos": 0, "done": 0, "graded": None}


def run(cfg: Settings, key: str) -> None:
    """Show the current card of session ``key`` (or the summary when it is over)."""
    state = st.session_state.get(key)
    if not state or not state["ids"]:
        return
    if state["pos"] >= len(state["ids"]):
        with open_store(cfg) as store:
            counts = store.counts()
        st.success(
            f"Session done: {state['done']} reviewed. Now {counts['due']} due, {counts['new']} new."
        )
        return
    with open_store(cfg) as store:
        stored = store.get(state["ids"][state["pos"]])
    if stored is None:  # removed meanwhile: skip it
        state["pos"] += 1
        st.rerun()
    _card(cfg, key, state, stored)


def _card(cfg: Settings, key: str, state: dict[str, Any], stored: StoredItem) -> None:
    item = stored.item
    cit = item.citation
    pos, total = state["pos"] + 1, len(state["ids"])
    with st.container(border=True):
        st.caption(literal(f"{pos}/{total} · {item.type} · {cit.source} › {cit.heading}"))
        if stored.status == "stale":
            st.warning(f"The source changed: {stored.status_note}.")
            if st.button("Regenerate from the edited note", key=f"{key}-regen-{stored.id}"):
                _regenerate(cfg, state, stored)
        st.html(f'<div class="sn-question" style="font-size:1.15em">{escape(item.question)}</div>')
        answer_key = f"{key}-answer-{stored.id}"
        if item.type == "mcq":
            response = st.radio(
                "Your answer", item.options or [], index=None, key=answer_key, format_func=literal
            )
        elif item.type == "recall":
            response = st.text_area("Your answer", key=answer_key)
        else:
            response = st.text_input("Your answer", key=answer_key)
        graded = state["graded"]
        if graded is None or graded["id"] != stored.id:
            if st.button("Check", key=f"{key}-check-{stored.id}", type="primary"):
                from sharpnotes.app.quiz.grade import grade

                result = grade(item, response or "", cfg)
                state["graded"] = {"id": stored.id, "response": response or "", **vars(result)}
                st.rerun()
            return
        _result(graded, item)
        passage = {"source": cit.source, "heading": cit.heading, "page": cit.page}
        passage_card(
            cfg, f"{key}-open-{stored.id}", {**passage, "text": item.passage}, quote=item.evidence
        )
        suggested = graded["rating"]
        st.caption(f"How well did you know it? Suggested: {RATINGS[suggested]}")
        cols = st.columns(4)
        for (n, name), col in zip(RATINGS.items(), cols, strict=True):
            kind = "primary" if n == suggested else "secondary"
            if col.button(name, key=f"{key}-rate-{stored.id}-{n}", type=kind, width="stretch"):
                _record(cfg, state, stored, n, graded)


def _result(graded: dict[str, Any], item: Any) -> None:
    score = f" (score {graded['score']:.2f})" if item.type == "recall" else ""
    if graded["correct"]:
        st.success("Correct" + score)
    else:
        st.error("Not quite" + score)
    if graded.get("feedback"):
        st.text(graded["feedback"])
    for point in graded.get("covered") or []:
        st.text(f"✓ covered: {point}")
    for point, evidence in graded.get("missed") or []:
        st.text(f"✗ missed: {point}\n   from: {evidence}")
    if graded.get("rubric"):
        with st.expander("Grading rubric"):
            st.text(graded["rubric"])
    st.text(f"Answer: {item.answer}")


def _record(
    cfg: Settings, state: dict[str, Any], stored: StoredItem, rating: int, graded: dict
) -> None:
    from sharpnotes.app.quiz import schedule

    with open_store(cfg) as store:
        saved = schedule.record(
            store,
            stored.id,
            rating,
            response=str(graded["response"]),
            correct=graded["correct"],
            score=graded["score"],
        )
    state["pos"] += 1
    state["done"] += 1
    state["graded"] = None
    st.toast(f"Saved: {saved.describe()}")
    st.rerun()


def _regenerate(cfg: Settings, state: dict[str, Any], stored: StoredItem) -> None:
    from sharpnotes.app.quiz.staleness import regenerate

    with open_store(cfg) as store:
        fresh = regenerate(cfg, store, stored.id)
    if fresh is None:
        st.error("No question could be made from the edited passage; it stays as it is.")
        return
    state["ids"][state["pos"]] = fresh.id
    state["graded"] = None
    st.rerun()
