"""``python -m sharpnotes.app.ui.launch`` + Streamlit's own ``run`` arguments: what
``sharpnotes app`` starts. It is Streamlit's command line, with one addition: the index and the
embedding model start loading in a background thread as the server starts, before any browser
connects, so the first question does not pay for them (Streamlit runs the page script only when
a session opens)."""

from __future__ import annotations

import atexit
import logging
import sys
import threading

log = logging.getLogger(__name__)


def preload() -> None:
    """Load the Searcher the pages will use (the same cached resource), when there is an index."""
    from sharpnotes.app.ui import services

    services.quiet_outside_pages()
    try:
        cfg = services.settings()
        if services.has_index(cfg):
            services.searcher(cfg)
    except Exception as exc:  # the page shows the same error, with what to do, on a question
        log.info("preload skipped: %s", exc)


def main() -> None:
    from streamlit.web import cli

    from sharpnotes.app.ui import services

    loading = threading.Thread(target=preload, name="sharpnotes-preload", daemon=True)
    loading.start()
    # exiting mid-load aborts natively: let it finish, as the pages' warm-up does
    atexit.register(loading.join, services.EXIT_WAIT_S)
    sys.argv = ["streamlit", "run", *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
