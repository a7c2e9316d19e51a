"""Mock interview: a timed system-design case answered step by step along your framework note,
or a rapid-fire round; then the report (what each answer covered and missed, with the passages),
cards from the missed points, and past sessions. The same functions as `sharpnotes mock`."""

from __future__ import annotations

import time

import streamlit as st

from sharpnotes.app.mock import sessions
from sharpnotes.app.mock.plan import MockError, MockPlan
from sharpnotes.app.mock.sessions import clock, took_of
from sharpnotes.app.ui import services
from sharpnotes.app.ui.note_dialog import passage_card
from sharpnotes.app.ui.render import literal

cfg = services.settings()
PLAN, STARTED, REPORT = "mock_plan", "mock_started", "mock_report"
FOLLOW = "mock_follow_"  # + step key: the interviewer's follow-up question (LLM only)
st.title("Mock interview")
if not services.has_index(cfg):
    st.info("No notes indexed yet: add a notes folder on the Library page.")
    st.stop()
state = st.session_state


def setup() -> None:
    from sharpnotes.app.mock.plan import case_notes

    searcher = services.searcher(cfg)
    kind = st.radio("Kind", ["System-design case", "Rapid fire"], horizontal=True, key="mock_kind")
    if kind == "Rapid fire":
        n = st.number_input("Questions (a minute each)", 1, 30, 5, key="mock_rapid")
    else:
        origin = st.radio(
            "Case", ["A case note", "A syllabus topic", "Type a case"], horizontal=True,
            key="mock_from",
        )  # fmt: skip
        case = topic = typed = None
        if origin == "A case note":
            cases = {c.title: c.source for c in case_notes(searcher)}
            if not cases:
                st.info("No case notes yet (tag a note `case-study`); pick a topic or type one.")
            else:
                case = cases[st.selectbox("Case note", list(cases), key="mock_case")]
        elif origin == "A syllabus topic":
            from sharpnotes.app.syllabus import load_syllabus
            from sharpnotes.app.topics import notes_folder

            topics = {t.title: t for t in load_syllabus(notes_folder(searcher)).topics}
            topic = topics[st.selectbox("Topic", list(topics), key="mock_topic")]
        else:
            typed = st.text_area("The case", key="mock_text", placeholder="Design a system that…")
        minutes = st.number_input(
            "Minutes", min_value=0.05, max_value=240.0, value=float(cfg.study.mock_minutes),
            step=5.0, format="%g", key="mock_minutes",
        )  # fmt: skip
    if not st.button("Start the mock", type="primary", icon=":material/timer:", key="mock_start"):
        return
    from sharpnotes.app.mock.plan import plan_design
    from sharpnotes.app.mock.rapid import plan_rapid

    try:
        with st.spinner("Finding the passages of each step…"):
            if kind == "Rapid fire":
                plan = plan_rapid(searcher, int(n), seed=int(time.time()))
            else:
                plan = plan_design(searcher, float(minutes), case=case, topic=topic, text=typed)
    except MockError as exc:
        st.error(literal(str(exc)))
        return
    for key in [k for k in state if str(k).startswith(("mock_answer_", FOLLOW))]:
        del state[key]
    state[PLAN], state[STARTED] = plan.to_dict(), time.time()
    st.rerun()


@st.fragment(run_every=1)
def countdown(deadline: float) -> None:
    with st.container(key="sn-mock-timer"):
        left = deadline - time.time()
        if left > 0:
            st.markdown(f":material/timer: **{clock(left)}** left")
        else:
            st.warning("Time is up: finish and see the report.", icon=":material/alarm:")


def running(plan: MockPlan) -> None:
    from sharpnotes.app.generators import get_generator

    st.subheader(literal(plan.title))
    st.markdown(f"> {literal(plan.prompt)}")
    countdown(state[STARTED] + plan.minutes * 60)
    llm = get_generator(cfg).is_llm
    for n, step in enumerate(plan.steps, start=1):
        limit = " · 1 minute" if step.seconds else ""
        st.text_area(f"{n}. {step.title}{limit}", key=f"mock_answer_{step.key}", height=120)
        asked = state.get(FOLLOW + step.key)
        if asked:
            st.text_area(f"Interviewer: {asked}", key=f"mock_answer_{step.key}_follow", height=80)
        elif llm and st.button("Follow-up question", key=f"mock_ask_{step.key}"):
            from sharpnotes.app.mock.grade import follow_up, grade_step

            said = state.get(f"mock_answer_{step.key}", "")
            state[FOLLOW + step.key] = follow_up(plan, grade_step(step, said, cfg), cfg) or ""
            st.rerun()
    left, right = st.columns(2)
    # in callbacks: they run before the page does, so the countdown's reruns cannot cut the
    # grading short, and the report is in place when the page draws
    left.button(
        "Finish and grade", type="primary", key="mock_finish", on_click=finish, args=(plan,)
    )
    right.button("Abandon", key="mock_abandon", on_click=state.pop, args=(PLAN, None))


def finish(plan: MockPlan) -> None:
    from sharpnotes.app.mock.grade import grade_mock

    answers = {s.key: state.get(f"mock_answer_{s.key}", "") for s in plan.steps}
    follow_ups = {
        s.key: (state[FOLLOW + s.key], state.get(f"mock_answer_{s.key}_follow", ""))
        for s in plan.steps
        if state.get(FOLLOW + s.key)
    }
    started = state[STARTED]
    report = grade_mock(plan, answers, cfg, started, time.time() - started, follow_ups=follow_ups)
    sessions.save(cfg, report)
    state[REPORT] = report.to_dict()
    state.pop(PLAN, None)


def show_report(data: dict) -> None:
    from sharpnotes.app.mock.grade import MockReport, by_passage

    report = MockReport.from_dict(data)
    st.subheader(literal(report.title))
    a, b, c = st.columns(3)
    a.metric("Score", f"{report.score:.0%}")
    over = " (over)" if report.over_time else ""
    b.metric("Time", f"{took_of(report.duration_s, report.minutes)}{over}")
    c.metric("Missed points", len(report.missed))
    for n, step in enumerate(report.steps):
        score = "not scored" if step.score is None else f"{step.score:.0%}"
        with st.expander(f"{literal(step.title)}: {score}", expanded=bool(step.missed)):
            if step.answer:
                st.caption("Your answer")
                st.text(step.answer)
            if step.follow_up:
                st.caption(f"Interviewer: {literal(step.follow_up)}")
                st.text(step.follow_up_answer or "(no answer)")
            if step.covered:
                st.markdown("**Covered**")
                st.markdown("\n".join(f"- :green[{literal(p.shown)}]" for p in step.covered))
            if step.missed:
                total = len(step.covered) + len(step.unsure) + len(step.missed)
                st.markdown(f"**Missed:** {len(step.missed)} of {total}")
            # each passage once, under the points it holds that the answer missed
            for m, (passage, points) in enumerate(by_passage(step.missed)):
                st.markdown("\n".join(f"- :red[{literal(p.shown)}]" for p in points))
                quotes = [p.text for p in points]
                passage_card(cfg, f"mock-{n}-{m}", passage.to_dict(), quote=quotes)
            if step.score is None:
                st.caption(literal(step.feedback))
            if step.related:  # a case typed in: graded on what the framework asks of the step
                st.markdown("**To read**")
                for r, passage in enumerate(step.related):
                    passage_card(cfg, f"mock-{n}-read-{r}", passage.to_dict())
    left, right = st.columns(2)
    if report.missed and left.button(
        "Make cards from missed points", icon=":material/style:", key="mock_cards"
    ):
        added = sessions.make_cards(cfg, report)
        st.success(f"{len(added)} new cards; review them on the Review page.")
    if right.button("New mock", key="mock_new"):
        del state[REPORT]
        st.rerun()


def history() -> None:
    rows = sessions.history(cfg, 200)
    st.subheader("Past mocks")
    if not rows:
        st.caption("None yet.")
        return
    st.dataframe(
        [
            {
                "started (UTC)": r.started, "kind": r.kind, "case": r.title,
                "score": round(r.score, 3), "minutes": round(r.duration_s / 60, 1),
                "missed": r.missed,
            }
            for r in rows
        ],
        hide_index=True, key="mock_history",
    )  # fmt: skip
    weeks = sessions.weekly(rows)
    if len(weeks) > 1:
        st.caption("Mean score per week")
        st.line_chart({"week": [w["week"] for w in weeks],
                       "score": [w["mean_score"] for w in weeks]}, x="week", y="score")  # fmt: skip


if state.get(REPORT):
    show_report(state[REPORT])
elif state.get(PLAN):
    running(MockPlan.from_dict(state[PLAN]))
else:
    setup()
history()
