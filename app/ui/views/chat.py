"""Chat: ask the notes; answers stream in, then show numbered citation chips and cards."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import streamlit as st

from sharpnotes.app import conversations as convs
from sharpnotes.app.retrieval import Filters
from sharpnotes.app.ui import render, services
from sharpnotes.app.ui.note_dialog import passage_card
from sharpnotes.app.ui.render import literal

cfg = services.settings()
ALL = "(all)"

if "conversation" not in st.session_state:
    st.session_state.conversation = convs.Conversation()
conv: convs.Conversation = st.session_state.conversation


def show_answer(turn_no: int, answer: dict[str, Any]) -> None:
    if answer.get("spelled"):
        st.caption(f"Searched for: {answer['spelled']}")
    if answer["refused"]:
        with st.container(key=f"sn-refused-{turn_no}"):
            st.info(answer["answer"] + " The closest notes are below.")
        closest = answer.get("closest") or []
        if closest:
            st.caption("Closest notes")
        for i, item in enumerate(closest):
            passage_card(cfg, f"close-{turn_no}-{i}", item)
        return
    with st.container(key=f"sn-answer-{turn_no}"):
        st.markdown(render.answer_markdown(answer, turn_no), unsafe_allow_html=False)
    if answer.get("draft"):
        from sharpnotes.app.answer import repair_summary

        with st.expander(repair_summary(answer.get("repair") or {}), icon=":material/fact_check:"):
            st.text(answer["draft"])  # the model's own words, inert
    if flagged := render.flagged_sentences(answer):
        st.warning(f"{len(flagged)} sentence(s) are not supported by the passage they cite.")
    numbers = render.citation_numbers(answer)
    quotes = render.card_quotes(answer)
    for c in sorted(answer["citations"], key=lambda c: numbers[c["n"]]):
        shown = numbers[c["n"]]
        passage_card(
            cfg,
            f"cite-{turn_no}-{shown}",
            c,
            shown=shown,
            quote=quotes.get(c["n"], []),
            anchor=render.card_anchor(turn_no, shown),
        )
    st.caption(
        f"{answer['generator']} · retrieval {answer['retrieval_ms']:.0f} ms · "
        f"generation {answer['generation_ms']:.0f} ms"
    )


def conversations_sidebar() -> None:
    """Saved conversations; drawn last so that a conversation saved by this run is listed."""
    with st.sidebar:
        st.subheader("Conversations")
        if st.button("New conversation", icon=":material/add:", width="stretch"):
            st.session_state.conversation = convs.Conversation()
            st.rerun()
        for saved in convs.list_conversations(cfg)[:30]:
            current = saved.id == conv.id
            label = ("▶ " if current else "") + (saved.title or "untitled")
            cols = st.columns([5, 1])
            if cols[0].button(label, key=f"open-{saved.id}", width="stretch"):
                st.session_state.conversation = convs.load_conversation(cfg, saved.id)
                st.rerun()
            if cols[1].button(
                ":material/delete:", key=f"del-{saved.id}", help="Delete this conversation"
            ):
                convs.delete_conversation(cfg, saved.id)
                if current:
                    st.session_state.conversation = convs.Conversation()
                st.rerun()


# sidebar: filters ----------------------------------------------------------------------------
folders, tags = services.filter_choices(cfg)
with st.sidebar:
    st.subheader("Filters")
    folder = st.selectbox("Folder", [ALL, *folders], key="filter_folder")
    tag = st.selectbox("Tag", [ALL, *tags], key="filter_tag")

filters = Filters(folder=None if folder == ALL else folder, tag=None if tag == ALL else tag)

# the conversation -----------------------------------------------------------------------------
st.title("Ask your notes")
if not services.has_index(cfg):
    st.warning("Nothing is indexed yet. Add notes on the Library page, or run: sharpnotes ingest")
    st.stop()

for i, turn in enumerate(conv.turns):
    with st.chat_message("user"):
        st.text(turn["question"])
    with st.chat_message("assistant"):
        show_answer(i, turn["answer"])

question = st.chat_input("Ask a question about your notes") or st.session_state.pop("ask", None)
if question:
    from sharpnotes.app.answer import answer_question
    from sharpnotes.app.generators import GeneratorError

    with st.chat_message("user"):
        st.text(question)
    with st.chat_message("assistant"):
        try:
            searcher = services.searcher(cfg)
        except Exception as exc:  # an index the user must rebuild: the message says how
            st.error(literal(str(exc)))
            conversations_sidebar()
            st.stop()
        placeholder = st.empty()
        streamed: list[str] = []

        def on_token(token: str) -> None:
            streamed.append(token)
            placeholder.text("".join(streamed) + " ▌")

        try:
            result = answer_question(
                question,
                searcher,
                cfg,
                filters=filters,
                history=conv.questions,
                on_token=on_token,
            )
        except GeneratorError as exc:
            placeholder.empty()
            st.error(str(exc))
            conversations_sidebar()
            st.stop()
        placeholder.empty()
        for notice in searcher.notices():  # a retriever failed: say so beside the answer
            st.warning(literal(notice))
        answer = result.to_dict()
        answer["sentences"] = [asdict(s) for s in result.sentences]
        show_answer(len(conv.turns), answer)
    conv.add_turn(question, answer)
    convs.save_conversation(cfg, conv)
conversations_sidebar()
