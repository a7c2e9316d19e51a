"""Topics: the syllabus over the notes (passages, items, recall, due; gaps to write; weakest first),
a heat map of recall by area, and one topic's digest: its essentials from all notes, repeated facts
merged, every line cited, downloadable as Markdown. Passages can be pinned to or unpinned from a
topic (kept in SHARPNOTES_HOME; the syllabus file is the user's)."""

from __future__ import annotations

import streamlit as st

from sharpnotes.app.digest import SECTIONS, TITLES, make_digest, to_markdown
from sharpnotes.app.quiz.store import ReviewStoreError, open_store
from sharpnotes.app.syllabus import Pins, SyllabusError
from sharpnotes.app.topic_status import gaps, topic_statuses, weakest
from sharpnotes.app.topics import mentions, syllabus_links
from sharpnotes.app.ui import services
from sharpnotes.app.ui.render import kind_of, literal, markdown

cfg = services.settings()
st.title("Topics")
if not services.has_index(cfg):
    st.info("No notes indexed yet: add a notes folder on the Library page.")
    st.stop()
searcher = services.searcher(cfg)
try:
    syllabus, links = syllabus_links(searcher)
    with open_store(cfg) as store:
        statuses = topic_statuses(syllabus, links, store)
except (SyllabusError, ReviewStoreError) as exc:
    st.error(literal(str(exc)))
    st.stop()

missing = gaps(statuses)
weak = weakest(statuses, 5)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Topics", len(statuses))
c2.metric("Covered by notes", len(statuses) - len(missing))
c3.metric("Gaps to write", len(missing))
c4.metric("Items due", sum(s.due for s in statuses))
st.caption(f"From {literal(syllabus.where)}")

rows = [
    {
        "topic": s.topic.title,
        "id": s.topic.id,
        "area": s.topic.area,
        "passages": s.passages,
        "notes": len(s.notes),
        "items": s.items,
        "recall": None if s.recall is None else round(100 * s.recall),
        "due": s.due,
    }
    for s in statuses
]
overview, heat = st.tabs(["All topics", "Recall by area"])
with overview:
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={
            "recall": st.column_config.ProgressColumn(
                "recall %", min_value=0, max_value=100, format="%d%%"
            )
        },
    )
with heat:
    import altair as alt

    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_rect()
        .encode(
            x=alt.X("area:N", title=None),
            y=alt.Y("topic:N", title=None, sort=None),
            # a topic never reviewed is grey, not the red of a topic forgotten
            color=alt.condition(
                "isValid(datum.recall)",
                alt.Color("recall:Q", scale=alt.Scale(domain=[0, 100], scheme="redyellowgreen")),
                alt.value("#d9d9d9"),
            ),
            tooltip=["topic:N", "recall:Q", "items:Q", "passages:Q"],
        )
    )
    st.altair_chart(chart, width="stretch")
    st.caption(
        "Recall is FSRS's chance you remember a topic's reviewed items today; grey: not "
        "reviewed yet."
    )

left, right = st.columns(2)
with left:
    st.subheader("Weakest topics")
    for s in weak:
        recall = "never reviewed" if s.recall is None else f"recall {s.recall:.0%}"
        st.markdown(f"- **{literal(s.topic.title)}**: {recall}, {s.items} items")
with right:
    st.subheader("Gaps to write")
    if not missing:
        st.caption("Every topic has notes.")
    else:  # a long list folds, so the digest below stays in reach
        with st.expander(f"{len(missing)} topics no note covers", expanded=len(missing) <= 8):
            for s in missing:
                st.markdown(f"- **{literal(s.topic.title)}** ({literal(s.topic.title_zh)})")

st.divider()
ids = [t.id for t in syllabus.topics]
chosen_id = st.selectbox(
    "Digest of a topic",
    ids,
    index=ids.index(weak[0].topic.id) if weak else 0,
    format_func=lambda i: f"{syllabus.get(i).title} · {syllabus.get(i).title_zh}",
    key="topic_choice",
)
topic = syllabus.get(chosen_id)
linked = links.get(topic.id, [])
if topic.description:
    st.caption(literal(topic.description))


@st.cache_data(show_spinner=False, max_entries=32)
def _mentions(topic_id: str, chunk_ids: tuple[str, ...], _key: str) -> list[tuple[str, str, str]]:
    return [(p.chunk_id, p.source, p.heading) for p in mentions(searcher, topic, chunk_ids)]


def named_in_passing() -> None:
    """The passages that write the topic's name without being linked (one line of a tips list),
    each with a button that pins it to the topic."""
    found = _mentions(
        topic.id, tuple(link.chunk_id for link in linked), str(services.last_sync(cfg) or "")
    )
    if not found:
        return
    with st.expander(f"Also named in {len(found)} passages not linked to this topic"):
        pins = Pins.load(cfg)
        for n, (chunk_id, source, heading) in enumerate(found):
            a, b = st.columns([5, 1])
            a.markdown(f"**{literal(source)}**  \n:gray[{literal(heading)}]")
            if b.button("Pin", key=f"pin-{n}", help="Link this passage to this topic"):
                pins.pin(topic.id, chunk_id)
                pins.save(cfg)
                st.rerun()


if not linked:
    st.info("No note covers this topic yet: it is a gap to write.")
    named_in_passing()
    st.stop()


@st.cache_data(show_spinner="Reading every note on this topic…", max_entries=16)
def _digest(topic_id: str, chunk_ids: tuple[str, ...], _key: str) -> dict:
    made = make_digest(searcher, topic, [link for link in linked if link.chunk_id in chunk_ids])
    return {"markdown": to_markdown(made), "data": made.to_dict()}


made = _digest(
    topic.id, tuple(link.chunk_id for link in linked), str(services.last_sync(cfg) or "")
)
data = made["data"]
st.caption(
    f"{data['passages']} passages, {len(data['lines'])} lines, repeats merged: {data['merged']}"
)
st.download_button(
    "Export as Markdown",
    made["markdown"],
    file_name=f"{topic.id}-digest.md",
    mime="text/markdown",
    icon=":material/download:",
)
for section in SECTIONS:
    lines = [line for line in data["lines"] if line["section"] == section]
    if not lines:
        continue
    st.markdown(f"#### {TITLES[section]}")
    for n, line in enumerate(lines):
        with st.container(border=True, key=f"sn-digest-{section}-{n}"):
            first = line["sources"][0]
            st.markdown(markdown(line["text"], kind=kind_of(first["source"])))
            cites = " · ".join(
                literal(f"{s['source']} > {s['heading'].split(' > ')[-1]}") for s in line["sources"]
            )
            st.caption((f"×{len(line['sources'])} · " if len(line["sources"]) > 1 else "") + cites)

with st.expander(f"Passages linked to this topic ({len(linked)})"):
    pins = Pins.load(cfg)
    for n, link in enumerate(linked):
        a, b = st.columns([5, 1])
        pinned = " · pinned" if link.pinned else ""
        a.markdown(f"**{literal(link.source)}**  \n:gray[{literal(link.heading)}{pinned}]")
        if b.button("Unpin", key=f"unpin-{n}", help="Never link this passage to this topic"):
            pins.unpin(topic.id, link.chunk_id)
            pins.save(cfg)
            st.rerun()

named_in_passing()
