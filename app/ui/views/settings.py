"""Settings: what is in force, with secrets redacted, and whether the generator can answer."""

from __future__ import annotations

import streamlit as st

from sharpnotes.app.ui import services

cfg = services.settings()
st.title("Settings")

notes_dir = services.notes_folder(cfg)
st.markdown(f"**Generator:** `{cfg.answers.generator}`")
if st.button("Test the generator"):
    ok, why = services.generator_status(cfg)
    (st.success if ok else st.error)(("reachable: " if ok else "not usable: ") + why)
st.markdown(f"**Notes folder:** `{notes_dir or '(not set)'}`")
st.markdown(f"**Index home:** `{cfg.paths.home}`")
st.markdown(f"**Embedding model:** `{cfg.models.embed_model}` ({cfg.models.embed_backend})")
st.caption("Change settings with SHARPNOTES_* environment variables and restart the app.")
rows = services.settings_table(cfg)
st.dataframe(rows, hide_index=True, width="stretch", height=35 * (len(rows) + 1) + 3)
with st.expander("Advanced: tuning parameters"):
    tuning = services.settings_table(cfg, advanced=True)
    st.dataframe(tuning, hide_index=True, width="stretch", height=35 * (len(tuning) + 1) + 3)
