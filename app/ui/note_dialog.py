"""The "open note" dialog shared by the Chat, Quiz and Review pages."""

from __future__ import annotations

import streamlit as st

from sharpnotes.app.notefiles import NoteAccessError
from sharpnotes.app.ui import services
from sharpnotes.app.ui.render import hold_remote_images, literal
from sharpnotes.ingest.settings import Settings


@st.dialog("Note", width="large")
def show_note(cfg: Settings, source: str) -> None:
    st.caption(literal(source))
    try:
        text = services.open_note(cfg, source)
    except (NoteAccessError, OSError) as exc:
        st.error(str(exc))
        return
    text, held = hold_remote_images(text)
    if held:
        st.caption(
            f"{held} remote image(s) not loaded, so the note's hosts do not see it read; "
            "click one to open it."
        )
    st.markdown(text)  # Markdown, tables, code and LaTeX; raw HTML in the note is not rendered
