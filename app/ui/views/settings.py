"""Settings: the values in force and where each comes from; switch and test the generator;
save to the user's config file (readable by its owner only; keys are never shown)."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from sharpnotes.app.ui import services
from sharpnotes.app.ui.render import literal
from sharpnotes.ingest.settings import (
    ConfigFileError,
    GeneratorName,
    config_path,
    setting_problem,
    setting_sources,
    write_config_file,
)

cfg = services.settings()
st.title("Settings")
st.caption(
    f"App address in use: {literal(services.app_address())} · index home: "
    f"{literal(str(cfg.paths.home))}"
)
rows = services.settings_table(cfg)
st.dataframe(rows, hide_index=True, width="stretch", height=35 * (len(rows) + 1) + 3)

# change the user settings ----------------------------------------------------------------------
st.subheader("Change")
sources = setting_sources()
generators = list(GeneratorName.__args__)  # type: ignore[attr-defined]
with st.container(border=True):
    notes_dir = st.text_input("Notes folder", value=str(cfg.paths.notes_dir or ""), key="s_notes")
    generator = st.selectbox(
        "Generator",
        generators,
        index=generators.index(cfg.answers.generator),
        key="s_generator",
        help="extractive quotes your notes offline; openai talks to any OpenAI-compatible "
        "endpoint (Ollama, llama.cpp server, vLLM, a hosted API); llamacpp runs a GGUF file here.",
    )
    changes: dict[str, str | None] = {"notes_dir": notes_dir.strip() or None}
    changes["generator"] = generator
    if generator == "openai":
        changes["openai_base_url"] = st.text_input(
            "Endpoint", value=cfg.llm.openai_base_url, key="s_url"
        )
        changes["openai_model"] = st.text_input("Model", value=cfg.llm.openai_model, key="s_model")
        has_key = cfg.llm.openai_api_key is not None
        key = st.text_input(
            "API key" + (" (one is set; leave empty to keep it)" if has_key else " (optional)"),
            type="password",
            key="s_key",
        )
        if key:
            changes["openai_api_key"] = key
        elif has_key and st.checkbox("Remove the saved key", key="s_key_remove"):
            changes["openai_api_key"] = None
    elif generator == "llamacpp":
        changes["llamacpp_model"] = (
            st.text_input(
                "GGUF model file", value=str(cfg.llm.llamacpp_model or ""), key="s_gguf"
            ).strip()
            or None
        )
    changes["answer_k"] = str(
        st.number_input("Passages per answer", 1, 50, value=cfg.answers.answer_k, key="s_answer_k")
    )
    changes["crosslingual"] = str(
        st.toggle(
            "Chinese questions also search the English terms",
            value=cfg.retrieval.crosslingual,
            key="s_crosslingual",
        )
    ).lower()
    changes["live_sync"] = str(
        st.toggle("Re-sync the notes folder as files change", value=cfg.app.live_sync, key="s_live")
    ).lower()

    try:
        candidate = cfg.replace(**{k: v for k, v in changes.items() if v is not None})
    except ValidationError as exc:
        st.error("; ".join(setting_problem(e) for e in exc.errors()))
        st.stop()
    cols = st.columns(2)
    if cols[0].button("Test the generator", icon=":material/network_check:"):
        with st.spinner("asking the generator…"):
            ok, why = services.generator_status(candidate)
        (st.success if ok else st.error)(literal(why))
    path = config_path()
    if cols[1].button(
        "Save to my config file", type="primary", icon=":material/save:", disabled=path is None
    ):
        current = cfg.flat()
        wanted = {
            k: v
            for k, v in changes.items()
            if (str(current[k]).lower() if current[k] is not None else None) != v
            or (k == "openai_api_key")
        }
        try:
            written = write_config_file(wanted)
        except (ValueError, ConfigFileError, OSError) as exc:
            st.error(literal(str(exc)))
        else:
            st.success(f"saved to {literal(str(written))} (readable by you only)")
            shadowed = [k for k in wanted if sources.get(k) == "environment"]
            if shadowed:
                names = ", ".join(f"SHARPNOTES_{k.upper()}" for k in shadowed)
                st.warning(
                    f"The environment sets {literal(names)}, which wins over the file: unset it "
                    "for the saved value to take effect."
                )
    if path is None:
        st.caption("SHARPNOTES_CONFIG=none: no config file is read or written.")
    else:
        st.caption(f"Config file: {literal(str(path))}")

with st.expander("Advanced: tuning parameters"):
    st.caption("Chosen by the benchmarks in eval/benchmarks; change them with care.")
    tuning = services.settings_table(cfg, advanced=True)
    st.dataframe(tuning, hide_index=True, width="stretch", height=35 * (len(tuning) + 1) + 3)
