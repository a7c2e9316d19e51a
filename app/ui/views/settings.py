"""Settings: what is in force, with secrets redacted, and whether the generator can answer."""

from __future__ import annotations

import streamlit as st

from app.ui import services

cfg = services.settings()
st.title("Settings")

ok, why = services.generator_status(cfg)
notes_dir = services.notes_folder(cfg)
st.markdown(f"**Generator:** `{cfg.generator}`")
(st.success if ok else st.error)(("reachable: " if ok else "not usable: ") + why)
st.markdown(f"**Notes folder:** `{notes_dir or '(not set)'}`")
st.markdown(f"**Index home:** `{cfg.home}`")
st.markdown(f"**Embedding model:** `{cfg.embed_model}` ({cfg.embed_backend})")
st.caption("Change settings with SHARPNOTES_* environment variables and restart the app.")
rows = services.settings_table(cfg)
st.dataframe(rows, hide_index=True, width="stretch", height=35 * (len(rows) + 1) + 3)
