"""The Streamlit app (``sharpnotes app``): Chat, Library and Settings pages."""
