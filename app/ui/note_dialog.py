"""The "open note" dialog shared by the Chat, Quiz and Review pages."""

from __future__ import annotations

import streamlit as st

from sharpnotes.app.notefiles import NoteAccessError
from sharpnotes.app.ui import services
from sharpnotes.app.ui.render import literal
from sharpnotes.ingest.settings import Settings


@st.dialog("Note", width="large")
def show_note(cfg: Settings, source: str) -> None:
    st.caption(literal(source))
    try:
        text = services.open_note(cfg, source)
    except (NoteAccessError, OSError) as exc:
        st.error(str(exc))
        return
    st.markdown(text)  # Markdown, tables, code and LaTeX; raw HTML in the note is not rendered
