"""Library: what is indexed, by folder; ingest or re-sync a folder; upload notes."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from sharpnotes.app.notelinks import note_url
from sharpnotes.app.quiz.staleness import sync_after_ingest
from sharpnotes.app.ui import services
from sharpnotes.app.ui.render import literal
from sharpnotes.ingest.sync import IngestReport

cfg = services.settings()
st.title("Library")


def run_ingest(paths: list[Path]) -> IngestReport | None:
    """Ingest with a progress bar per stage; errors of single files are listed, not hidden."""
    from sharpnotes.ingest.sync import ingest

    bar = st.progress(0.0, text="starting…")

    def progress(stage: str, done: int, total: int) -> None:
        fraction = min(done / total, 1.0) if total else 0.0
        bar.progress(fraction, text=f"{stage}: {done}/{total}" if total else stage)

    try:
        report = ingest(paths, cfg, progress=progress)
    except Exception as exc:  # IngestError and index errors carry the next step in the message
        bar.empty()
        st.error(literal(str(exc)))
        return None
    bar.progress(1.0, text="done")
    services.reload_index()
    st.success(report.summary())
    if quiz_line := sync_after_ingest(cfg):  # flag quiz items whose passage changed
        st.info(quiz_line)
    for source, reason in report.failed:
        st.error(literal(f"{source}: {reason}"))
    for source in report.unsupported:
        st.warning(literal(f"{source}: skipped, not a Markdown, text or PDF file"))
    for source, target in report.outside:
        st.warning(literal(f"{source}: skipped, a link to {target} outside the notes folder"))
    for old, new in report.moved:
        st.info(literal(f"notes folder moved: {old} -> {new}; the index follows"))
    for folder, held in report.vanished:
        st.info(literal(f"notes folder {folder} is gone: its {held} notes left the index"))
    return report


rows = services.library(cfg)
notes_dir = services.notes_folder(cfg)

# ingest ---------------------------------------------------------------------------------------
with st.container(border=True):
    st.subheader("Ingest or re-sync")
    folder = st.text_input("Notes folder", value=str(notes_dir or ""), key="ingest_folder")
    if st.button("Ingest folder", icon=":material/sync:", disabled=not folder.strip()):
        path = Path(folder.strip()).expanduser()
        if not path.is_dir():
            st.error(literal(f"{path}: not a folder"))
        elif run_ingest([path]):
            rows = services.library(cfg)

# upload ---------------------------------------------------------------------------------------
with st.container(border=True):
    st.subheader("Add notes")
    if notes_dir is None:
        st.info("Set a notes folder first (sharpnotes app --notes DIR, or ingest one above).")
    else:
        uploads = st.file_uploader(
            f"Markdown, text or PDF files; saved into {notes_dir / services.UPLOAD_FOLDER}",
            type=["md", "txt", "pdf"],
            accept_multiple_files=True,
            key="uploads",
        )
        if st.button("Add and index", icon=":material/upload:", disabled=not uploads):
            saved, errors = services.save_uploads(
                [(f.name, f.getvalue()) for f in uploads or []], notes_dir
            )
            for line in errors:
                st.error(literal(line))
            if saved:
                st.write(literal("Saved: " + ", ".join(p.name for p in saved)))
                if run_ingest([notes_dir]):
                    rows = services.library(cfg)

# what is indexed ------------------------------------------------------------------------------
st.subheader("Indexed notes")
if not rows:
    st.info("Nothing is indexed yet.")
else:
    st.caption(f"{len(rows)} notes, {sum(r.chunks for r in rows)} chunks")
    st.caption("Open any note to read it, follow its links and see its backlinks.")
    for name, notes in services.by_folder(rows).items():
        label = f"{name} · {len(notes)} notes · {sum(r.chunks for r in notes)} chunks"
        with st.expander(literal(label)):  # a folder name is data, never Markdown
            st.dataframe(
                [
                    {
                        "note": r.note,
                        "open": note_url(r.source),
                        "chunks": r.chunks,
                        "indexed": r.indexed,
                    }
                    for r in notes
                ],
                hide_index=True,
                width="stretch",
                column_config={"open": st.column_config.LinkColumn("open", display_text="open")},
            )
