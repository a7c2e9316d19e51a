"""Notes: read any indexed note (``note?source=PATH`` opens one), follow its links, see its
backlinks."""

from __future__ import annotations

import streamlit as st

from sharpnotes.app.ui import services
from sharpnotes.app.ui.note_dialog import note_view
from sharpnotes.app.ui.render import literal

cfg = services.settings()
st.title("Notes")
rows = services.library(cfg)
if not rows:
    st.info("Nothing is indexed yet. Add notes on the Library page, or run: sharpnotes ingest PATH")
    st.stop()
sources = [r.source for r in rows]
asked = st.query_params.get("source")
if asked and asked not in sources:
    st.warning(f"{literal(asked)} is not an indexed note; pick one below.")
index = sources.index(asked) if asked in sources else 0
source = st.selectbox("Note", sources, index=index, format_func=literal, key="note_source")
if source != asked:
    st.query_params["source"] = source
note_view(cfg, source, key="page")
