"""What ``sharpnotes app`` serves: the pages of ``main.py`` as a Streamlit ``st.App``, whose
middleware checks every request (``security``): the Host header against the names the app is
reached by, and a Content-Security-Policy that keeps the browser from fetching images from other
hosts. ``streamlit run`` finds ``app`` here and serves it with uvicorn."""

from __future__ import annotations

import streamlit as st
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from sharpnotes.app.ui.security import ContentPolicy, allowed_hosts, host_patterns
from sharpnotes.ingest.settings import get_settings

app = st.App(
    "main.py",
    middleware=[
        Middleware(
            TrustedHostMiddleware, allowed_hosts=host_patterns(allowed_hosts(get_settings()))
        ),
        Middleware(ContentPolicy),
    ],
)
