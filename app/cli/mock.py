"""``sharpnotes mock``: a timed mock interview (a system-design case along your framework note,
or a rapid-fire fundamentals round), graded against your notes and saved; ``mock history``."""

from __future__ import annotations

import functools
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sharpnotes.app.cli._common import (
    UserError,
    echo_json,
    load_settings,
    open_searcher,
    plain,
    plain_text,
    shortened,
)

if TYPE_CHECKING:
    from sharpnotes.app.mock.grade import MockReport
    from sharpnotes.app.mock.plan import MockPlan
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.ingest.settings import Settings


def _plan(
    searcher: Searcher,
    settings: Settings,
    case: str | None,
    topic: str | None,
    typed: str | None,
    rapid: int | None,
    minutes: float | None,
    seed: int,
) -> MockPlan:
    from sharpnotes.app.mock.plan import MockError, case_notes, no_case_notes, plan_design
    from sharpnotes.app.mock.rapid import plan_rapid
    from sharpnotes.app.syllabus import SyllabusError

    if rapid and (case or typed):  # a rapid round asks fundamentals, not a case's steps
        given = "--case" if case else "--text"
        raise UserError(
            f"--rapid is a round of fundamentals and takes no {given}: drop one of them"
        )
    try:
        found = None
        if topic:
            from sharpnotes.app.topics import syllabus_links

            syllabus, _ = syllabus_links(searcher)
            found = syllabus.find(topic)
        if rapid:
            return plan_rapid(searcher, rapid, seed, found)
        if not (case or found or typed):  # a case note, a different one each day
            cases = case_notes(searcher)
            if not cases:
                raise no_case_notes(searcher)
            case = cases[seed % len(cases)].source
        return plan_design(
            searcher, minutes or settings.study.mock_minutes, case=case, topic=found, text=typed
        )
    except (MockError, SyllabusError) as exc:
        raise UserError(str(exc)) from exc


def read_answers(path: Path, plan: MockPlan) -> tuple[dict[str, str], float | None]:
    """Answers from a JSON file: a list in step order, or an object keyed by step key, title or
    number; either alone or under "answers" beside an optional "seconds" (the time taken)."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(
            f"no answers file {path.resolve()} (a relative path is read from {Path.cwd()}); "
            "`sharpnotes mock --questions` prints a template to fill in"
        ) from exc
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(
            f"cannot read answers from {path.resolve()} ({exc}); write it as JSON "
            "(`sharpnotes mock --questions` prints a template)"
        ) from exc
    seconds = None
    if isinstance(data, dict) and "answers" in data:
        try:
            seconds = None if data.get("seconds") is None else float(data["seconds"])
        except (TypeError, ValueError) as exc:
            raise UserError(f"{path}: 'seconds' must be a number") from exc
        data = data["answers"]
    names: dict[str, str] = {}
    for n, step in enumerate(plan.steps, start=1):
        for name in (step.key, step.title, str(n)):  # read without case: "Q1" is "q1"
            names.setdefault(name.lower(), step.key)
    if isinstance(data, list):
        if len(data) > len(plan.steps):
            raise UserError(f"{path}: {len(data)} answers for {len(plan.steps)} steps")
        return {s.key: str(a) for s, a in zip(plan.steps, data, strict=False)}, seconds
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON list or object of answers")
    out = {}
    for name, answer in data.items():
        key = names.get(str(name).strip().lower())
        if key is None:
            keys = ", ".join(s.key for s in plan.steps)
            raise UserError(f"{path}: no step {name!r}; the steps are: {keys}")
        out[key] = str(answer)
    return out, seconds


def _read_answer(stream: Any) -> str | None:
    """Lines until an empty one; None at the end of the input."""
    lines: list[str] = []
    while True:
        line = stream.readline()
        if not line:
            return "\n".join(lines) if lines else None
        if not line.strip():
            if lines:
                return "\n".join(lines)
            continue
        lines.append(line.rstrip("\n"))


def interview(
    plan: MockPlan, settings: Settings, to_stderr: bool = False
) -> tuple[dict[str, str], dict[str, float], dict[str, tuple[str, str]]]:
    """Asks each step with the time left, reads the answers; stops when time is up."""
    from sharpnotes.app.generators import get_generator
    from sharpnotes.app.mock.grade import follow_up, grade_step
    from sharpnotes.app.mock.sessions import clock

    llm = get_generator(settings).is_llm  # only an LLM asks follow-up questions
    stream = sys.stdin
    answers: dict[str, str] = {}
    seconds: dict[str, float] = {}
    follow_ups: dict[str, tuple[str, str]] = {}
    deadline = time.monotonic() + plan.minutes * 60
    say = functools.partial(click.echo, err=to_stderr)  # --json keeps stdout for the report
    say(f"\n{plain(plan.title)}\n  {plain_text(plan.prompt)}")
    say(
        f"{plan.minutes:g} minutes, {len(plan.steps)} steps. End each answer with an empty line;"
        " Ctrl-D ends the mock."
    )
    for n, step in enumerate(plan.steps, start=1):
        left = deadline - time.monotonic()
        if left <= 0:
            say("\nTime is up.")
            break
        limit = f", {step.seconds} s for this one" if step.seconds else ""
        say(f"\n[{clock(left)} left{limit}] {n}/{len(plan.steps)} {plain(step.question)}")
        began = time.monotonic()
        said = _read_answer(stream)
        if said is None:
            break
        answers[step.key] = said
        seconds[step.key] = round(time.monotonic() - began, 1)
        if step.seconds and seconds[step.key] > step.seconds:
            say(f"  ({seconds[step.key]:.0f} s: over the minute)")
        asked = follow_up(plan, grade_step(step, said, settings), settings) if llm else None
        if asked:
            say(f"  Interviewer: {plain(asked)}")
            reply = _read_answer(stream) or ""
            follow_ups[step.key] = (asked, reply)
    return answers, seconds, follow_ups


def _answered_misses(report: MockReport) -> int:
    """The missed points ``--cards`` makes cards of: those of the steps answered."""
    return sum(1 for step, _ in report.missed if step.answer)


def show_questions(plan: MockPlan, seed: int, as_json: bool) -> None:
    """What the mock will ask, step by step, without the points it is graded on; and how to
    answer it from a file (``--answers``) with the same choice of case or questions."""
    steps = [
        {"key": s.key, "title": s.title, "question": s.question, "seconds": s.seconds}
        for s in plan.steps
    ]
    if as_json:
        echo_json(
            {"kind": plan.kind, "title": plan.title, "prompt": plan.prompt,
             "minutes": plan.minutes, "seed": seed, "framework": plan.framework,
             "steps": steps, "answers": {s.key: "" for s in plan.steps}}
        )  # fmt: skip
        return
    click.echo(f"{plain(plan.title)} ({plan.minutes:g} min)\n{plain(plan.prompt)}\n")
    if plan.framework:  # which note the steps come from (it may have been found by its name)
        click.echo(f"steps from your framework note {plain(plan.framework)}\n")
    for n, step in enumerate(plan.steps, start=1):
        asked = "" if step.question == step.title else f": {plain(step.question)}"
        click.echo(f"{n}. [{step.key}] {plain(step.title)}{asked}")
    click.echo(
        "\nWrite your answers as a JSON object by step key (or a list in this order), then run "
        f"the same command with --seed {seed} --answers FILE instead of --questions."
    )


def show_report(report: MockReport) -> None:
    from sharpnotes.app.mock.sessions import took_of

    over = " (over time)" if report.over_time else ""
    click.echo(f"\nScore {report.score:.0%} · {took_of(report.duration_s, report.minutes)}{over}")
    from sharpnotes.app.quiz.grade import POINTS_WEIGHT

    click.secho(
        f"(a step's score: {POINTS_WEIGHT:.0%} for the key points your answer covers, "
        f"{1 - POINTS_WEIGHT:.0%} for how close the whole answer is to them in meaning: an "
        "answer near the topic scores a little with none covered)",
        dim=True,
    )
    for step in report.steps:
        if step.score is None:
            why = step.feedback or "not scored: your notes hold nothing for it"
            click.echo(f"\n{plain(step.title)}: {plain(why)}")
            continue
        total = len(step.covered) + len(step.missed) + len(step.unsure)
        partly = f", partly {len(step.unsure)}" if step.unsure else ""  # credited in part
        click.echo(
            f"\n{plain(step.title)}: {step.score:.0%}, covered {len(step.covered)}{partly}, "
            f"missed {len(step.missed)} of {total}"
        )
        for point in step.covered:
            click.echo(f"  + {shortened(point.shown)}")
        for point in step.unsure:  # said in part: the point as the notes put it
            click.echo(f"  ~ {shortened(point.shown)}")
        # each section once, its missed points under it (a long section is several passages)
        sections: dict[str, list[str]] = {}
        for point in step.missed:
            where = f"{point.passage.source} > {point.passage.heading.split(' > ')[-1]}"
            sections.setdefault(where, []).append(shortened(point.shown))
        for where, shown in sections.items():
            click.echo(f"  missed, from [{plain(where)}]:")
            click.echo("".join(f"  - {line}\n" for line in shown), nl=False)
        for passage in step.related:  # a case typed in: graded on the framework's asks
            where = f"{passage.source} > {passage.heading.split(' > ')[-1]}"
            click.echo(f"  to read: [{plain(where)}]")


@click.group(invoke_without_command=True)
@click.option("--case", help="A case note: its path, file name or part of its title.")
@click.option("--topic", help="Design around a syllabus topic (id, title or alias).")
@click.option("--text", "typed", help="A case typed in: --text 'Design ...'.")
@click.option(
    "--rapid", type=click.IntRange(1, 50), help="A rapid-fire round: N questions, a minute each."
)
@click.option(
    "--minutes",
    type=click.FloatRange(0.05, 240),
    help="Length of a design mock [default: SHARPNOTES_MOCK_MINUTES, 45].",
)
@click.option(
    "--answers",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Answers from a JSON file (a list in step order, or an object by step key) instead of "
    "asking.",
)
@click.option(
    "--questions",
    "list_questions",
    is_flag=True,
    help="Print the mock's questions and a template for --answers; nothing is asked or graded.",
)
@click.option("--seed", type=int, help="Which case or questions (default: a different one daily).")
@click.option("--cards/--no-cards", default=None, help="Make review cards from the missed points.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def mock(
    ctx: click.Context,
    case: str | None,
    topic: str | None,
    typed: str | None,
    rapid: int | None,
    minutes: float | None,
    answers: Path | None,
    list_questions: bool,
    seed: int | None,
    cards: bool | None,
    as_json: bool,
) -> None:
    """A timed mock interview graded against your notes: a system-design case answered step by
    step along your framework note (--case, --topic, --text), or a rapid-fire round (--rapid N).
    The report names what each answer covered and missed, with the passage holding each missed
    point; the session is saved (see `sharpnotes mock history`)."""
    if ctx.invoked_subcommand is not None:
        return
    from sharpnotes.app.mock import sessions
    from sharpnotes.app.mock.grade import grade_mock
    from sharpnotes.app.quiz.store import ReviewStoreError
    from sharpnotes.ingest.formats import StoredFormatError

    settings = load_settings()
    searcher = open_searcher(settings)
    seed = time.gmtime().tm_yday if seed is None else seed
    plan = _plan(searcher, settings, case, topic, typed, rapid, minutes, seed)
    if list_questions:
        show_questions(plan, seed, as_json)
        return
    started = time.time()
    if answers is not None:
        said, timed = read_answers(answers, plan)
        blank = [s.key for s in plan.steps if not said.get(s.key, "").strip()]
        if blank and len(blank) < len(plan.steps):  # a file that answers only some steps
            click.secho(
                f"{answers}: no answer for {', '.join(blank)}; graded as not answered",
                fg="yellow",
                err=True,
            )
        seconds: dict[str, float] = {}
        follow_ups: dict[str, tuple[str, str]] = {}
    else:
        said, seconds, follow_ups = interview(plan, settings, to_stderr=as_json)
        timed = None
    # answers from a file that gives no "seconds": not timed
    duration = (
        timed if timed is not None else sessions.UNTIMED if answers else time.time() - started
    )
    report = grade_mock(plan, said, settings, started, duration, seconds, follow_ups)
    added: list[str] = []
    try:
        sessions.save(settings, report)
        if not as_json:
            show_report(report)  # the missed points first, then the question about them
            if cards is None and answers is None and (missed := _answered_misses(report)):
                cards = sys.stdin.isatty() and click.confirm(
                    f"\nMake review cards from the {missed} missed points of the steps you "
                    "answered?",
                    default=True,
                )
        if cards:
            added = sessions.make_cards(settings, report)
    except (StoredFormatError, ReviewStoreError) as exc:
        raise UserError(str(exc)) from exc
    if as_json:
        echo_json(report.to_dict() | {"cards_added": added})
        return
    had = _answered_misses(report) - len(added) if cards else 0
    if added:
        before = f" ({had} were review cards already)" if had > 0 else ""
        click.echo(f"\n{len(added)} new review cards{before}: sharpnotes review")
    elif had > 0:
        click.echo(
            f"\nThe {had} missed points of the steps you answered are review cards already: "
            "sharpnotes review"
        )
    click.echo(f"Saved as {report.id}: sharpnotes mock history")


@mock.command("history")
@click.option("--limit", type=click.IntRange(1, 10000), help="Only the N most recent sessions.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def mock_history(limit: int | None, as_json: bool) -> None:
    """Past mock sessions (newest first) and the mean score per week."""
    from sharpnotes.app.mock import sessions
    from sharpnotes.ingest.formats import StoredFormatError

    settings = load_settings()
    try:
        rows = sessions.history(settings, limit)
    except StoredFormatError as exc:
        raise UserError(str(exc)) from exc
    weeks = sessions.weekly(rows)
    if as_json:
        echo_json({"sessions": [r.to_dict() for r in rows], "weeks": weeks})
        return
    if not rows:
        click.echo("No mock interviews yet: sharpnotes mock")
        return
    for r in rows:
        click.echo(
            f"{r.started}  {r.kind:<6} {r.score:>4.0%}  "
            f"{sessions.took(r.duration_s)}/{r.minutes:g} min"
            f"  missed {r.missed:>2}  {plain(r.title)}"
        )
    click.echo("\nWeek       mocks  mean score")
    for w in weeks:
        click.echo(f"{w['week']}  {w['mocks']:>5}  {w['mean_score']:>10.0%}")


@mock.command("cases")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def mock_cases(as_json: bool) -> None:
    """The case notes a design mock can use, and the steps of your framework note."""
    from sharpnotes.app.mock.plan import MockError, case_notes, framework_steps, no_case_notes

    searcher = open_searcher(load_settings())
    try:
        framework, steps = framework_steps(searcher)
    except MockError as exc:
        raise UserError(str(exc)) from exc
    cases = case_notes(searcher)
    if as_json:
        echo_json(
            {
                "framework": framework,
                "steps": [{"key": s.key, "title": s.title} for s in steps],
                "cases": [{"source": c.source, "title": c.title} for c in cases],
            }
        )
        return
    click.echo(f"Steps (from {plain(framework)}):")
    for n, step in enumerate(steps, start=1):  # a step's title often holds commas: one a line
        click.echo(f"  {n}. {plain(step.title)}")
    click.echo("Cases (sharpnotes mock --case NAME):" if cases else "Cases:")
    for c in cases:
        click.echo(f"  {plain(c.source)}  {plain(c.title)}")
    if not cases:
        click.echo(plain(no_case_notes(searcher)))
