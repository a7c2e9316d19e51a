"""The question card shared by the Quiz and Review pages: ask, grade, show the passage with the
evidence highlighted and a button to open the note, take the rating and record it at once.

Recall items (the learner's own cards among them) flip like Anki: the question, "Show answer",
then the answer, its passage and the four ratings, each labelled with the next interval FSRS
gives it; "Type answers" on the page keeps the typed, graded answer. Cloze and MCQ are typed.
The last rating can be undone. A session is a list of item ids in ``st.session_state[key]``;
the card shown is the first one not yet rated. Questions, answers and passages go through the
one note renderer (``app.ui.render``: Markdown and math render, note HTML stays text); feedback
is shown with ``st.text``."""

from __future__ import annotations

import time
from typing import Any, Literal

import streamlit as st

from sharpnotes.app.quiz.items import ANKI_PREFIX
from sharpnotes.app.quiz.store import StoredItem, open_store
from sharpnotes.app.ui.note_dialog import passage_card
from sharpnotes.app.ui.render import literal, markdown
from sharpnotes.ingest.settings import Settings

RATINGS = {1: "Again", 2: "Hard", 3: "Good", 4: "Easy"}
# Keyboard shortcuts (Streamlit has no key bindings): a script in a zero-height component
# iframe (same origin as the app) listens on the page once and clicks the button whose label
# holds the key's name: space "Show answer", 1-4 the ratings ("Good (10 minutes)"), u "Undo last
# rating", Anki's @ "Suspend card", - "Bury until tomorrow" and e "Edit card" (an icon's
# ligature may come first in a label's text). Keys
# typed into a text box are left alone. No note text reaches this script.
SHORTCUTS = """<script>
const doc = window.parent.document;
if (!doc.snReviewKeys) {
  doc.snReviewKeys = true;
  const names = {" ": "Show answer", "1": "Again (", "2": "Hard (", "3": "Good (",
                 "4": "Easy (", "u": "Undo last rating", "@": "Suspend card",
                 "-": "Bury until tomorrow", "e": "Edit card"};
  doc.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target && (target.closest("input, textarea, [contenteditable='true']"))) return;
    const name = names[event.key];
    if (!name) return;
    const button = Array.from(doc.querySelectorAll("button"))
      .find((b) => b.innerText.includes(name));
    if (button) { event.preventDefault(); button.click(); }
  });
}
</script>"""


def start(key: str, ids: list[str], typed: bool = False) -> None:
    st.session_state[key] = {
        "ids": list(ids), "pos": 0, "done": 0, "graded": None, "typed": typed, "rated": [],
        "started": time.time(),
    }  # fmt: skip


def run(cfg: Settings, key: str) -> None:
    """Show the current card of session ``key`` (or the summary when it is over)."""
    state = st.session_state.get(key)
    if not state or not state["ids"]:
        return
    if state["pos"] >= len(state["ids"]):
        _summary(cfg, key, state)
        return
    with open_store(cfg) as store:
        stored = store.get(state["ids"][state["pos"]])
    if stored is None or stored.suspended or stored.buried():  # removed or held meanwhile
        del state["ids"][state["pos"]]
        st.rerun()
    _card(cfg, key, state, stored)


def _shortcuts() -> None:
    import streamlit.components.v1 as components

    components.html(SHORTCUTS, height=0)


def _card(cfg: Settings, key: str, state: dict[str, Any], stored: StoredItem) -> None:
    _shortcuts()
    item = stored.item
    cit = item.citation
    pos, total = state["pos"] + 1, len(state["ids"])
    with st.container(border=True):
        mine = " · edited by you" if stored.edited_at else ""
        st.caption(literal(f"{pos}/{total} · {item.type} · {cit.source} › {cit.heading}{mine}"))
        if stored.status == "stale":
            st.warning(f"The source changed: {stored.status_note}.")
            label = "Regenerate from the edited note"
            if stored.edited_at:
                label += " (replaces your wording)"
            regen, keep = st.columns(2)
            if regen.button(label, key=f"{key}-regen-{stored.id}"):
                _regenerate(cfg, state, stored)
            if keep.button("Keep this card", key=f"{key}-keep-{stored.id}"):
                _keep(cfg, stored)
        st.markdown(markdown(item.question))
        undo_key = f"{key}-undo-{stored.id}"
        if state.get("rated") and st.button(
            "Undo last rating", key=undo_key, icon=":material/undo:"
        ):
            _undo(cfg, state)
        flip = item.type == "recall" and not state.get("typed")
        graded = state["graded"]
        if graded and graded["id"] == stored.id and graded.get("flip"):
            flip = True  # checked with no answer: shown as a flipped card
        if flip:
            if graded is None or graded["id"] != stored.id:
                if st.button("Show answer", key=f"{key}-show-{stored.id}", type="primary"):
                    state["graded"] = _flipped(stored.id)
                    st.rerun()
                return
            st.markdown(markdown(item.answer))
            _passage_and_ratings(cfg, key, state, stored, graded)
            return
        answer_key = f"{key}-answer-{stored.id}"
        if item.type == "mcq":
            response = st.radio(
                "Your answer", item.options or [], index=None, key=answer_key, format_func=literal
            )
        elif item.type == "recall":
            response = st.text_area("Your answer", key=answer_key)
        else:
            response = st.text_input("Your answer", key=answer_key)
        if graded is None or graded["id"] != stored.id:
            if st.button("Check", key=f"{key}-check-{stored.id}", type="primary"):
                from sharpnotes.app.quiz.grade import grade

                typed = response or ""
                if not typed.strip():  # nothing typed: shown as a flipped card, Again offered
                    state["graded"] = _flipped(stored.id, rating=1)
                else:
                    result = grade(item, typed, cfg)
                    state["graded"] = {"id": stored.id, "response": typed, **vars(result)}
                st.rerun()
            return
        _result(graded, item)
        _passage_and_ratings(cfg, key, state, stored, graded)


def _flipped(item_id: str, rating: int = 3) -> dict[str, Any]:
    """The state of a card whose answer was shown, not graded: no typed answer to count. Asked
    for an answer and given none, the rating offered is Again (``rating``)."""
    return {
        "id": item_id, "response": "", "correct": None, "score": None, "rating": rating,
        "flip": True,
    }  # fmt: skip


def _passage_and_ratings(
    cfg: Settings, key: str, state: dict[str, Any], stored: StoredItem, graded: dict[str, Any]
) -> None:
    """The passage (evidence highlighted) and the four rating buttons, each with its interval."""
    from sharpnotes.app.quiz.schedule import preview_labels

    _passage(cfg, f"{key}-open-{stored.id}", stored.item)
    suggested = graded["rating"]
    hint = f" Suggested: {RATINGS[suggested]}"
    if graded.get("flip"):
        hint = " Nothing typed: Again is suggested." if suggested == 1 else ""
    st.caption(f"How well did you know it?{hint}")
    labels = preview_labels(stored)
    cols = st.columns(4)
    for (n, label), col in zip(labels.items(), cols, strict=True):
        kind: Literal["primary", "secondary"] = "primary" if n == suggested else "secondary"
        if col.button(label, key=f"{key}-rate-{stored.id}-{n}", type=kind, width="stretch"):
            _record(cfg, state, stored, n, graded)
    left, middle, right, _ = st.columns([1, 1, 1, 1])
    if left.button("Suspend card", key=f"{key}-suspend-{stored.id}", icon=":material/pause:"):
        _hold(cfg, state, stored, suspend=True)
    if middle.button(
        "Bury until tomorrow", key=f"{key}-bury-{stored.id}", icon=":material/schedule:"
    ):
        _hold(cfg, state, stored, suspend=False)
    if right.button("Edit card", key=f"{key}-edit-{stored.id}", icon=":material/edit:"):
        state["editing"] = stored.id
        st.rerun()
    if state.get("editing") == stored.id:
        _edit_form(cfg, key, state, stored)


def _edit_form(cfg: Settings, key: str, state: dict[str, Any], stored: StoredItem) -> None:
    """The card's question and answer in text boxes; the learner's wording is kept for good."""
    from sharpnotes.app.quiz.edit import EditError, edit_item

    with st.container(border=True):
        question = st.text_area("Question", stored.item.question, key=f"{key}-eq-{stored.id}")
        answer = st.text_area("Answer", stored.item.answer, key=f"{key}-ea-{stored.id}")
        save, cancel, _ = st.columns([1, 1, 2])
        if save.button("Save edit", key=f"{key}-esave-{stored.id}", type="primary"):
            try:
                with open_store(cfg) as store:
                    edit_item(store, stored.id, question, answer)
            except EditError as exc:
                st.error(str(exc))
                return
            state["editing"] = None
            st.toast("Saved: this card keeps your wording")
            st.rerun()
        if cancel.button("Cancel", key=f"{key}-ecancel-{stored.id}"):
            state["editing"] = None
            st.rerun()


def _hold(cfg: Settings, state: dict[str, Any], stored: StoredItem, suspend: bool) -> None:
    """Suspend the card (never asked until unsuspended) or bury it until the next local day; it
    leaves this session without a rating."""
    from sharpnotes.app.quiz.session import bury_until_tomorrow

    with open_store(cfg) as store:
        if suspend:
            store.set_suspended([stored.id])
        else:
            bury_until_tomorrow(store, [stored.id])
    del state["ids"][state["pos"]]
    state["graded"] = None
    st.toast("Suspended: unsuspend it on the Review page" if suspend else "Buried until tomorrow")
    st.rerun()


def _passage(cfg: Settings, key: str, item: Any) -> None:
    """The item's passage with its evidence highlighted (a card imported from Anki has none)."""
    cit = item.citation
    if item.imported:
        st.caption(literal(f"From your Anki deck {cit.source.removeprefix(ANKI_PREFIX)}"))
        return
    passage = {"source": cit.source, "heading": cit.heading, "page": cit.page}
    passage_card(cfg, key, {**passage, "text": item.passage}, quote=item.evidence)


def _result(graded: dict[str, Any], item: Any) -> None:
    score = f" (score {graded['score']:.2f})" if item.type == "recall" else ""
    if graded["correct"]:
        st.success("Correct" + score)
    else:
        st.error("Not quite" + score)
    if graded.get("feedback"):
        st.text(graded["feedback"])
    for point in graded.get("covered") or []:
        st.text(f"✓ covered: {point}")
    for point, evidence in graded.get("missed") or []:
        st.text(f"✗ missed: {point}\n   from: {evidence}")
    if graded.get("rubric"):
        with st.expander("Grading rubric"):
            st.text(graded["rubric"])
    st.text(f"Answer: {item.answer}")


def _record(
    cfg: Settings, state: dict[str, Any], stored: StoredItem, rating: int, graded: dict
) -> None:
    from sharpnotes.app.quiz import schedule

    with open_store(cfg) as store:
        saved = schedule.record(
            store,
            stored.id,
            rating,
            response=str(graded["response"]),
            correct=graded["correct"],
            score=graded["score"],
        )
    state["pos"] += 1
    state["done"] += 1
    state["graded"] = None
    # with whether a typed answer was right (None for a flipped card)
    state.setdefault("rated", []).append((stored.id, rating, graded["correct"]))
    st.toast(f"Saved: {saved.describe()}")
    st.rerun()


def _undo(cfg: Settings, state: dict[str, Any]) -> None:
    """Take the last rating back (the card returns to its state before it) and ask it again."""
    from sharpnotes.app.quiz import schedule

    with open_store(cfg) as store:
        undone = schedule.undo_last(store)
    if undone is None:
        state["rated"] = []
        st.rerun()
    item_id, _, _ = state["rated"].pop()
    state["pos"] = max(0, state["pos"] - 1)
    state["ids"][state["pos"]] = item_id
    state["done"] = max(0, state["done"] - 1)
    state["graded"] = None
    st.toast("Last rating undone")
    st.rerun()


def _summary(cfg: Settings, key: str, state: dict[str, Any]) -> None:
    """Score, the items missed (rated Again) with their passages, and "quiz me again"."""
    rated = state.get("rated", [])
    with open_store(cfg) as store:
        counts = store.counts()
        missed = [s for i, r, _ in rated if r == 1 and (s := store.get(i)) is not None]
    recalled = sum(r > 1 for _, r, _ in rated)
    share = f" ({recalled / len(rated):.0%})" if rated else ""
    from sharpnotes.app.quiz.session import typed_right

    right = typed_right(c for _, _, c in rated)
    if "ended" not in state:
        state["ended"] = time.time()
    minutes, secs = divmod(round(state["ended"] - state.get("started", state["ended"])), 60)
    st.success(
        f"Session done: {state['done']} reviewed, {recalled} recalled{share} in {minutes} min "
        f"{secs} s.{right} Now {counts['due']} due, {counts['new']} new."
    )
    if not missed:
        return
    st.subheader(f"Missed ({len(missed)})")
    for stored in missed:
        with st.container(border=True):
            st.markdown(markdown(stored.item.question))
            st.markdown(markdown(stored.item.answer))
            _passage(cfg, f"{key}-missed-{stored.id}", stored.item)
    if st.button("Quiz me again on these", key=f"{key}-again", type="primary"):
        start(key, list(dict.fromkeys(s.id for s in missed)), bool(state.get("typed")))
        st.rerun()


def _keep(cfg: Settings, stored: StoredItem) -> None:
    """The stale card stays as it is, tied to its passage as the note has it now."""
    from sharpnotes.app.quiz.staleness import keep

    with open_store(cfg) as store:
        kept = keep(cfg, store, stored.id)
    if not kept:
        st.error("Its section has no passage left to follow; it stays as it is.")
        return
    st.toast("Kept: it follows the edited passage now")
    st.rerun()


def _regenerate(cfg: Settings, state: dict[str, Any], stored: StoredItem) -> None:
    from sharpnotes.app.quiz.staleness import regenerate

    with open_store(cfg) as store:
        fresh = regenerate(cfg, store, stored.id)
    if fresh is None:
        st.error("No question could be made from the edited passage; it stays as it is.")
        return
    state["ids"][state["pos"]] = fresh.id
    state["graded"] = None
    st.rerun()


def held_cards(cfg: Settings) -> None:
    """The suspended and buried cards, each with a button that puts it back in review."""
    with open_store(cfg) as store:
        suspended, buried = store.suspended_items(), store.buried_items()
    title = f"Suspended ({len(suspended)}) and buried ({len(buried)}) cards"
    with st.expander(title):
        for stored, what in [
            *((s, "suspended") for s in suspended),
            *((b, "buried") for b in buried),
        ]:
            cit = stored.item.citation
            left, right = st.columns([4, 1])
            left.markdown(markdown(stored.item.question))
            left.caption(literal(f"{what} · {cit.source} › {cit.heading} · {stored.id}"))
            label = "Unsuspend" if what == "suspended" else "Unbury"
            if right.button(label, key=f"held-{stored.id}"):
                with open_store(cfg) as store:
                    if what == "suspended":
                        store.set_suspended([stored.id], False)
                    else:
                        store.bury([stored.id], 0.0)
                st.toast(f"{label}ed: back in review")
                st.rerun()
