"""The Streamlit app (``sharpnotes app``): one page a task (``views/``), one renderer of note
text (``render``), read models (``services``)."""
