"""Showing notes: the passage card (Chat, Quiz, Review), the "Open note" dialog and the note view
it shares with the Note page. A note opens at the cited passage with the quote highlighted; a
PDF opens at the cited page; links between notes open the linked note; backlinks are listed."""

from __future__ import annotations

from typing import Any

import streamlit as st

from sharpnotes.app.notefiles import NoteAccessError
from sharpnotes.app.notelinks import note_url
from sharpnotes.app.ui import render, services
from sharpnotes.app.ui.render import literal
from sharpnotes.ingest.settings import Settings


def passage_card(
    cfg: Settings,
    key: str,
    item: dict[str, Any],
    *,
    shown: int | None = None,
    quote: str | list[str] = "",
    anchor: str | None = None,
) -> None:
    """One passage (a citation, a closest note, a quiz item's evidence) in a bordered card:
    its number, note and section, the text rendered with ``quote`` highlighted, and a button
    that opens the note at this passage."""
    source, page = item["source"], item.get("page")
    with st.container(border=True, key=f"sn-cardbox-{key}"):
        if anchor:
            st.html(f'<div id="{anchor}"></div>')  # the target of the answer's chip (ours only)
        number = f":blue-badge[{shown}] " if shown else ""
        where = f" · p.{page}" if page else ""
        heading = f"  \n:gray[{literal(item['heading'])}]" if item.get("heading") else ""
        st.markdown(f"{number}**{literal(source)}**{where}{heading}")
        st.markdown(
            render.markdown(item["text"], kind=render.kind_of(source), quote=quote),
            unsafe_allow_html=False,
        )
        if st.button("Open note", key=key, icon=":material/description:"):
            show_note(cfg, source, quote=quote, passage=item["text"], page=page)


@st.dialog("Note", width="large")
def show_note(
    cfg: Settings,
    source: str,
    *,
    quote: str | list[str] = "",
    passage: str = "",
    page: int | None = None,
) -> None:
    note_view(cfg, source, quote=quote, passage=passage, page=page, key="dialog")


def note_view(
    cfg: Settings,
    source: str,
    *,
    quote: str | list[str] = "",
    passage: str = "",
    page: int | None = None,
    key: str = "note",
) -> None:
    """The whole note, scrolled to ``passage`` with ``quote`` highlighted; then its links and
    backlinks. A PDF shows its cited page."""
    st.markdown(f"[{literal(source)}]({note_url(source)}) :gray[· open as a page]")
    kind = render.kind_of(source)
    if kind == "pdf":
        _pdf_view(cfg, source, quote, passage, page or 1, key)
    else:
        try:
            text = services.open_note(cfg, source)
        except (NoteAccessError, OSError) as exc:
            st.error(str(exc))
            return
        graph = services.note_graph(cfg)
        parts = render.note_parts(
            text,
            kind=kind,
            quote=quote,
            passage=passage,
            resolve=lambda target: graph.resolve(target, source),
        )
        _show_parts(parts, key)
    _links(cfg, source)


def _show_parts(parts: list[render.Part], key: str) -> None:
    target_key = f"sn-target-{key}"
    for part in parts:  # images are links here: a shown note fetches nothing (render._rewrite)
        if part.target:
            with st.container(key=target_key):
                st.markdown(part.markdown, unsafe_allow_html=False)
        else:
            st.markdown(part.markdown, unsafe_allow_html=False)
    if any(p.target for p in parts):
        st.html(render.scroll_script(target_key), unsafe_allow_javascript=True)


def _pdf_view(
    cfg: Settings, source: str, quote: str | list[str], passage: str, page: int, key: str
) -> None:
    from sharpnotes.app.pdfpages import PdfPageError, render_page

    try:
        path = services.note_path(cfg, source)
    except NoteAccessError as exc:
        st.error(str(exc))
        return
    quotes = [quote] if isinstance(quote, str) else quote
    shown_page = st.number_input("Page", min_value=1, value=page, step=1, key=f"{key}-page")
    try:
        image = render_page(path, int(shown_page), quotes[0] if quotes else "")
    except PdfPageError as exc:
        st.error(str(exc))
        image = None
    if image is not None:
        found = " · quote highlighted" if image.highlighted else ""
        st.image(image.png, caption=f"page {image.page} of {image.pages}{found}")
    with st.expander("Text of this passage", expanded=image is None):
        parts = render.note_parts(passage or "", kind="pdf", quote=quotes)
        _show_parts(parts, key) if passage else st.caption("no passage cited")
    st.download_button(
        "Download the PDF",
        data=path.read_bytes(),
        file_name=path.name,
        mime="application/pdf",
        icon=":material/download:",
        key=f"{key}-download",
    )


def _links(cfg: Settings, source: str) -> None:
    graph = services.note_graph(cfg)
    for title, sources in (
        ("Links", graph.links.get(source, [])),
        ("Backlinks", graph.backlinks.get(source, [])),
    ):
        if sources:
            st.markdown(f"**{title}**")
            st.markdown("\n".join(f"- [{literal(s)}]({note_url(s)})" for s in sources))
