"""``sharpnotes quiz``, ``review``, ``coverage`` and ``export anki``: the quiz and spaced-review
loop on the command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sharpnotes.app.cli._common import (
    UserError,
    check_filters,
    daily_limit_options,
    echo_json,
    load_settings,
    open_searcher,
    plain_text,
)
from sharpnotes.app.quiz.items import ANKI_PREFIX

if TYPE_CHECKING:
    from sharpnotes.app.quiz.store import ReviewStore, StoredItem
    from sharpnotes.ingest.settings import Settings

QUIT = ":q"
LETTERS = "ABCD"


def _open_store(settings: Settings) -> ReviewStore:
    from sharpnotes.app.quiz.store import ReviewStoreError, open_store

    try:
        return open_store(settings)
    except ReviewStoreError as exc:
        raise UserError(str(exc)) from exc


def _sync(settings: Settings, store: ReviewStore) -> None:
    from sharpnotes.app.quiz.staleness import sync_items

    report = sync_items(settings, store)
    if report.changed:
        click.echo(report.summary(), err=True)


@click.group(invoke_without_command=True)
@click.option("--topic", help="Quiz on passages retrieved for this topic.")
@click.option("--folder", help="Only notes under this folder.")
@click.option("--tag", help="Only notes with this tag.")
@click.option(
    "--n", "n", type=click.IntRange(1, 50), default=5, show_default=True, help="How many questions."
)
@click.option(
    "--type",
    "kind",
    type=click.Choice(["mcq", "cloze", "recall", "mixed"]),
    default="mixed",
    show_default=True,
)
@click.option("--weakest", is_flag=True, help="Quiz on the note with the lowest recall rate.")
@click.option("--new", "new", is_flag=True, help="Quiz on passages never reviewed.")
@click.option("--json", "as_json", is_flag=True, help="Print the items as JSON (and save them).")
@click.pass_context
def quiz(
    ctx: click.Context,
    topic: str | None,
    folder: str | None,
    tag: str | None,
    n: int,
    kind: str,
    weakest: bool,
    new: bool,
    as_json: bool,
) -> None:
    """Make questions from your notes and ask them (or print them with --json).

    Without --topic, draws passages you have not been quizzed on yet. The commands below
    manage the cards themselves (ids as `sharpnotes review --json` prints them, or their first
    characters)."""
    if ctx.invoked_subcommand is not None:
        return
    from sharpnotes.app.generators import GeneratorError
    from sharpnotes.app.quiz.session import NothingToQuiz, make_quiz
    from sharpnotes.app.retrieval import EmptyIndexError, Filters

    if weakest and new:
        raise UserError("--weakest and --new are two different quizzes; pick one")
    settings = load_settings()
    if folder or tag:
        from sharpnotes.ingest.index import open_catalog

        catalog = open_catalog(settings)
        try:
            check_filters(catalog, Filters(folder=folder, tag=tag))
        finally:
            catalog.close()
    searcher = open_searcher(settings) if topic else None
    store = _open_store(settings)
    try:
        _sync(settings, store)
        try:
            made = make_quiz(
                settings,
                store,
                topic=topic,
                filters=Filters(folder=folder, tag=tag),
                n=n,
                kind=kind,
                mode="weakest" if weakest else "new" if new else "unquizzed",
                searcher=searcher,
            )
        except (EmptyIndexError, GeneratorError, NothingToQuiz) as exc:
            raise UserError(str(exc)) from exc
        batch = made.batch
        if made.linked:
            click.echo(f"a quiz on {made.linked[0]}, from its linked passages", err=True)
        if made.focus:
            click.echo(f"weakest note: {made.focus}", err=True)
        if short := batch.shortfall(n):
            more = "" if batch.named else "; for more, quiz with --type cloze or --type mcq"
            click.echo(short + more, err=True)
        failed = batch.failed()
        if len(batch.items) < n and (dropped := sum(failed.values())):
            # why the quiz is short; a full quiz does not list what it passed over
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(failed.items()))
            click.echo(f"dropped {dropped} items that failed verification ({reasons})", err=True)
        if not batch.items and made.linked:
            click.echo(
                f"No questions could be made from the {made.linked[1]} passages of this topic; "
                "review what you have on it with: sharpnotes review",
                err=as_json,
            )
        elif not batch.items and not batch.named:  # a quiz on a named topic said why above
            click.echo(
                "No questions could be made from these passages (the ones already quizzed "
                "are left out without --topic); try --topic TEXT or --new, or run: "
                "sharpnotes review",
                err=as_json,  # --json prints the list alone on stdout, here empty
            )
        if as_json:  # as stored: a card the learner edited shows their text
            echo_json([s.item.to_dict() for s in made.stored])
            return
        if not batch.items:
            return
        run_session(settings, store, made.stored)
    finally:
        store.close()


@click.command()
@daily_limit_options
@click.option(
    "--regenerate", is_flag=True, help="First remake the stale questions from their edited notes."
)
@click.option("--ids", help="Review only these items (comma-separated ids), due or not.")
@click.option(
    "--type-answers",
    "typed",
    is_flag=True,
    help="Type recall answers and have them graded instead of flipping the card.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the review queue as JSON.")
def review(
    new_per_day: int | None,
    reviews_per_day: int | None,
    regenerate: bool,
    ids: str | None,
    typed: bool,
    as_json: bool,
) -> None:
    """Review due questions first, then new ones (spaced repetition with FSRS), up to the
    day's limits (what was done today counts). Recall items and your own cards flip: Enter
    shows the answer (an answer typed first is graded), then rate 1-4 (u takes the last rating
    back, s suspends, b buries)."""
    from sharpnotes.app.quiz.session import (
        Siblings,
        daily_limits,
        held_line,
        resolve_ids,
        review_queue,
    )

    settings = load_settings()
    store = _open_store(settings)
    try:
        _sync(settings, store)
        if regenerate:
            _regenerate_stale(settings, store)
        if not ids:  # the cards written since the last review too
            from sharpnotes.app.quiz.generate import add_own_cards, own_cards_line

            if added := add_own_cards(settings, store):
                click.echo(own_cards_line(added), err=True)
        if ids:
            # full ids or their first characters (4 or more), as quiz suspend takes them
            wanted, problems = resolve_ids(store, [i for i in ids.split(",") if i.strip()])
            if problems:
                raise UserError(f"{'; '.join(problems)} in {store.path}")
            chosen = store.items(("active", "stale"), ids=wanted)
            if len(chosen) < len(wanted):
                found = {s.id for s in chosen}
                missing = ", ".join(i for i in wanted if i not in found)
                raise UserError(f"no active quiz item {missing} in {store.path} (retired?)")
            held = [s.id for s in chosen if s.suspended]
            if held:
                click.echo(f"left out {len(held)} suspended: {', '.join(held)}", err=True)
            chosen = [s for s in chosen if not s.suspended]
            chosen.sort(key=lambda s: wanted.index(s.id))  # asked in the order given
            due, fresh = [s for s in chosen if not s.is_new], [s for s in chosen if s.is_new]
        limits = daily_limits(
            settings, store, new_per_day=new_per_day, reviews_per_day=reviews_per_day
        )
        siblings = Siblings(store)
        if not ids:  # chosen by id: asked even if a sibling was asked today
            due, fresh = review_queue(store, limits, siblings=siblings)
        asked = chosen if ids else due + fresh  # by id: in the order given
        counts = store.counts()
        if as_json:
            echo_json(
                {
                    "counts": counts,
                    "today": vars(limits),
                    "items": [
                        s.item.to_dict()
                        | {"status": s.status, "note": s.status_note, "new": s.is_new, "due": s.due}
                        for s in asked
                    ],
                }
            )
            return
        click.echo(
            f"{len(due)} due, {len(fresh)} new in this session "
            f"({counts['due']} due, {counts['new']} new, {counts['stale']} stale in all; "
            f"{limits.describe()})"
        )
        if siblings.held:
            click.echo(held_line(siblings.held))
        if not due and not fresh:
            # what is left over the limits (siblings held back are in the counts too)
            if (counts["due"] and not limits.reviews_left) or (
                counts["new"] and not limits.new_left
            ):
                # the limits count the whole day, what was done included: ask for more than that
                more_new = limits.new_done + min(counts["new"], 10)
                more_reviews = limits.reviews_done + min(counts["due"], 50)
                click.echo(
                    "Today's limits are reached (they count the whole day). For more now: "
                    f"sharpnotes review --new {more_new} --reviews {more_reviews} "
                    "(or raise SHARPNOTES_NEW_PER_DAY, SHARPNOTES_REVIEWS_PER_DAY)"
                )
            elif not siblings.held:
                click.echo("Nothing to review. Make questions with: sharpnotes quiz")
            return
        run_session(settings, store, asked, typed=typed)
    finally:
        store.close()


def _regenerate_stale(settings: Settings, store: ReviewStore) -> None:
    from sharpnotes.app.quiz.staleness import regenerate

    stale = store.items(("stale",))
    edited = [s for s in stale if s.edited_at]  # the learner's text is never replaced in bulk
    stale = [s for s in stale if not s.edited_at]
    if edited:
        click.echo(f"kept {len(edited)} stale cards you edited (your text stays)", err=True)
    if not stale:
        return
    made = sum(regenerate(settings, store, s.id) is not None for s in stale)
    click.echo(f"regenerated {made} of {len(stale)} stale questions", err=True)


# the interactive loop -------------------------------------------------------------------------
UNDO = "u"
SUSPEND = "s"  # Anki's "@"
BURY = "b"  # Anki's "-"
EDIT = "e"


def run_session(
    settings: Settings, store: ReviewStore, queue: list[StoredItem], typed: bool = False
) -> int:
    """Ask each item and record its rating at once (before the next item shows). Recall items,
    the learner's own cards among them, are flipped: the question, Enter to reveal the answer
    and its passage, then a rating whose buttons show the next interval; an answer typed before
    Enter is graded, and with ``typed`` (and always for cloze and MCQ) one is asked for. At the
    rating prompt ``u`` takes back the last rating and asks that item again; ``s`` suspends the
    item and ``b`` buries it until tomorrow (no rating is recorded). ``:q``, Ctrl-D or Ctrl-C
    stops; a summary lists the items missed. Returns how many ratings stand."""
    from sharpnotes.app.quiz import schedule
    from sharpnotes.app.quiz.grade import grade

    roots = _note_roots(settings)
    started_session = time.monotonic()
    # this session's ratings, in order, with whether a typed answer was right (None: flipped)
    rated: list[tuple[StoredItem, int, bool | None]] = []
    i = 0
    while i < len(queue):
        stored = store.get(queue[i].id) or queue[i]
        item = stored.item
        cit = item.citation
        mine = " · your card" if item.generator == "notes" else ""
        click.secho(
            f"\n[{i + 1}/{len(queue)}] {item.type}{mine} · {cit.source} › {cit.heading}"
            f" · {stored.id[:8]}",
            bold=True,
        )
        if stored.status == "stale":
            click.secho(
                f"note: {stored.status_note} (remake it: sharpnotes review --regenerate; keep "
                f"it: sharpnotes quiz keep {stored.id[:8]})",
                fg="yellow",
            )
        click.echo(plain_text(item.question))
        if item.type == "mcq":
            for letter, option in zip(LETTERS, item.options or [], strict=False):
                click.echo(f"  {letter}) {plain_text(option)}")
        started = time.monotonic()
        flip = item.type == "recall" and not typed
        try:
            prompt = (
                f"Enter to show the answer ({QUIT} to stop)"
                if flip
                else (f"Your answer ({QUIT} to stop)")
            )
            response = click.prompt(prompt, default="", show_default=False)
        except click.Abort:
            break
        if response.strip() == QUIT:
            break
        # Enter alone shows the answer as a flipped card: nothing was typed, so it is not graded
        # "not quite" nor counted among the typed answers; what is typed is graded, on a card
        # asked to flip too (it was dropped without a word). Asked to type answers, Enter alone
        # is no answer: Again is offered (Good counted blanks as recalled, and sent them days
        # out)
        suggested = 3 if flip else 1
        flip = not response.strip()
        if flip:
            click.secho("answer:", bold=True)
            click.echo(plain_text(item.answer))
            if suggested == 1:
                click.echo("nothing typed: Again is offered (rate it as you recalled it)")
            response = ""
        else:
            response = _choice(item, response)
            result = grade(item, response, settings, seconds=time.monotonic() - started)
            _show_grade(result, item)
            suggested = result.rating
        _show_passage(item, roots.get(cit.source))
        try:
            rating = _ask_rating(suggested, schedule.preview_labels(stored), can_undo=bool(rated))
            while rating == EDIT:  # reword the card, then rate it
                _edit_now(store, stored.id)
                rating = _ask_rating(suggested, schedule.preview_labels(stored), bool(rated))
        except click.Abort:
            break
        if rating in (SUSPEND, BURY):
            _hold(store, stored.id, suspend=rating == SUSPEND)
            i += 1
            continue
        if rating == UNDO:
            undone = schedule.undo_last(store)
            if undone:
                previous, _, _ = rated.pop()
                click.echo(f"undone: the rating of [{i}] is taken back; asking it again")
                i = max(0, i - 1)
                queue[i] = store.get(previous.id) or previous
            continue
        correct = None if flip else result.correct
        score = None if flip else result.score
        saved = schedule.record(
            store, stored.id, int(rating), response=response, correct=correct, score=score
        )
        rated.append((stored, int(rating), correct))
        click.echo(f"saved: {saved.describe()}")
        i += 1
    missed = _summary(rated, time.monotonic() - started_session, roots)
    click.echo(_counts_line(store))
    if missed and i >= len(queue):  # the session ran to its end (not stopped with :q)
        try:
            again = click.confirm("Quiz me again on these now?", default=False)
        except click.Abort:
            again = False
        if again:
            queue = [store.get(s.id) or s for s in missed]
            return len(rated) + run_session(settings, store, queue, typed=typed)
    return len(rated)


def _summary(
    rated: list[tuple[StoredItem, int, bool | None]], seconds: float, roots: dict[str, str]
) -> list[StoredItem]:
    """Score (the ratings, and how many typed answers were right), time, and the items missed
    (rated Again) with their passages; returns those."""
    if not rated:
        click.echo("\n0 reviewed.")
        return []
    from sharpnotes.app.quiz.session import typed_right

    recalled = sum(r > 1 for _, r, _ in rated)
    right = typed_right(c for _, _, c in rated)
    minutes, secs = divmod(round(seconds), 60)
    click.secho(
        f"\n{len(rated)} reviewed. {recalled} recalled ({recalled / len(rated):.0%}) in "
        f"{minutes} min {secs} s.{right}",
        bold=True,
    )
    missed = list({s.id: s for s, r, _ in rated if r == 1}.values())
    if not missed:
        return []
    click.secho(f"Missed ({len(missed)}):", bold=True)
    for stored in missed:
        item = stored.item
        click.echo(f"- {plain_text(item.question)}\n  answer: {plain_text(item.answer)}")
        _show_passage(stored.item, roots.get(stored.item.citation.source))
    ids = ",".join(s.id for s in missed)
    click.echo(f"Quiz me again on these later: sharpnotes review --ids {ids}")
    return missed


def _hold(store: ReviewStore, item_id: str, suspend: bool) -> None:
    from sharpnotes.app.quiz.session import bury_until_tomorrow

    if suspend:
        store.set_suspended([item_id])
        click.echo(f"suspended {item_id}: never asked until `sharpnotes quiz unsuspend {item_id}`")
    else:
        bury_until_tomorrow(store, [item_id])
        click.echo(f"buried {item_id} until tomorrow")


EDIT_TEMPLATE = """{question}
{sep}
{answer}
# The question above the {sep} line, the answer below it; lines starting with # are left out.
"""
EDIT_SEP = "---"


def edit_in_editor(store: ReviewStore, item_id: str) -> tuple[str, str]:
    """The card's question and answer as the learner rewrote them in $EDITOR."""
    stored = store.get(item_id)
    if stored is None:
        raise UserError(f"no quiz item {item_id} in {store.path}")
    text = click.edit(
        EDIT_TEMPLATE.format(question=stored.item.question, answer=stored.item.answer, sep=EDIT_SEP)
    )
    if text is None:
        raise UserError(f"{item_id}: nothing changed (the editor was closed without saving)")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    if EDIT_SEP not in lines:
        raise UserError(f"{item_id}: keep the {EDIT_SEP} line between question and answer")
    cut = lines.index(EDIT_SEP)
    return "\n".join(lines[:cut]).strip(), "\n".join(lines[cut + 1 :]).strip()


def _edit_now(store: ReviewStore, item_id: str) -> None:
    """Edit the card on screen during a review; a refused edit changes nothing."""
    from sharpnotes.app.quiz.edit import EditError, edit_item

    try:
        question, answer = edit_in_editor(store, item_id)
        stored = edit_item(store, item_id, question, answer)
    except (UserError, EditError) as exc:
        click.echo(f"not edited: {exc}", err=True)
        return
    click.echo(f"edited: {stored.item.question}\nanswer: {stored.item.answer}")


def _choice(item: Any, response: str) -> str:
    """An MCQ answer typed as a letter (A-D) is recorded as that option's text."""
    text = response.strip().upper()
    options = item.options or []
    if item.type == "mcq" and len(text) == 1 and text in LETTERS[: len(options)]:
        return options[LETTERS.index(text)]
    return response


def _show_grade(result: Any, item: Any) -> None:
    mark, color = ("✓ correct", "green") if result.correct else ("✗ not quite", "red")
    score = f" (score {result.score:.2f})" if item.type == "recall" else ""
    click.secho(mark + score, fg=color, bold=True)
    if item.type != "recall":  # the mark says it; the notes' answer and passage follow
        click.echo(f"answer: {plain_text(item.answer)}")
        return
    if result.feedback:
        click.echo(result.feedback)
    for point in result.covered:
        click.echo(f"  covered: {point}")
    for point, evidence in result.missed:
        click.echo(f"  missed: {point}\n      from: {evidence}")
    if result.rubric:
        click.secho(f"rubric: {result.rubric}", dim=True)
    click.echo(f"answer: {plain_text(item.answer)}")


def _show_passage(item: Any, root: str | None) -> None:
    """The passage with its evidence marked »like this«, and where the note is."""
    if item.imported:
        click.echo(f"from your Anki deck: {item.citation.source.removeprefix(ANKI_PREFIX)}")
        return
    # GitHub's HTML as text (math images as formulas, <br> as breaks), as the app shows it
    passage, evidence = plain_text(item.passage), plain_text(item.evidence)
    start = passage.find(evidence) if evidence else -1
    click.secho("passage:", dim=True)
    if start == -1:
        click.echo(passage)
    else:
        end = start + len(evidence)
        marked = click.style(f"»{evidence}«", bold=True, underline=True)
        click.echo(passage[:start] + marked + passage[end:])
    cit = item.citation
    where = str(Path(root) / cit.source) if root else cit.source
    page = f", p.{cit.page}" if cit.page else ""
    click.echo(f"note: {where} › {cit.heading}{page}")


def _ask_rating(suggested: int, labels: dict[int, str], can_undo: bool = False) -> int | str:
    """A rating 1-4 (or its name); ``u`` (when there is a rating to take back) for undo, ``s``
    (or ``@``) to suspend, ``b`` (or ``-``) to bury, ``e`` to edit. The choices show the next
    interval each rating gives."""
    from sharpnotes.app.quiz.schedule import parse_rating

    choices = " · ".join(f"{n} {label}" for n, label in labels.items())
    if can_undo:
        choices += f" · {UNDO} undo last"
    choices += f" · {SUSPEND} suspend · {BURY} bury · {EDIT} edit"
    while True:
        text = click.prompt(f"Rating [{choices}]", default=str(suggested))
        word = text.strip().lower()
        if can_undo and word == UNDO:
            return UNDO
        if word in (SUSPEND, "@", "suspend"):
            return SUSPEND
        if word in (BURY, "-", "bury"):
            return BURY
        if word in (EDIT, "edit"):
            return EDIT
        try:
            return parse_rating(text)
        except ValueError as exc:
            click.echo(str(exc), err=True)


def _counts_line(store: ReviewStore) -> str:
    c = store.counts()
    return f"Now {c['due']} due, {c['new']} new, {c['stale']} stale."


def _note_roots(settings: Settings) -> dict[str, str]:
    """source -> the folder it was ingested from (to print a note's full path)."""
    if not (settings.index_dir / "catalog.sqlite").exists():
        return {}
    from sharpnotes.ingest.index import open_catalog

    catalog = open_catalog(settings)
    try:
        return {source: rec.root for source, rec in catalog.files().items()}
    finally:
        catalog.close()


# coverage and export ----------------------------------------------------------------------------
@click.command("coverage")
@click.option("--json", "as_json", is_flag=True, help="Print the coverage as JSON.")
def coverage_command(as_json: bool) -> None:
    """Per folder and per note: passages, quizzed, due, recall rate; weakest note; gaps."""
    from sharpnotes.app.quiz.coverage import coverage

    settings = load_settings()
    store = _open_store(settings)
    try:
        _sync(settings, store)
        cov = coverage(settings, store)
    finally:
        store.close()
    if as_json:
        echo_json(cov.to_dict())
        return
    header = f"{'':{NAME_WIDTH}} {'passages':>8} {'quizzed':>7} {'due':>4} {'recall':>6}"
    for title, rows in (("folders", cov.folders), ("notes", cov.notes)):
        click.secho(f"\n{title}", bold=True)
        click.echo(header)
        for row in [*rows, cov.total] if title == "folders" else rows:
            click.echo(_coverage_line(row))
    if cov.weakest:
        click.echo(f"\nweakest: {cov.weakest.name} (run: sharpnotes quiz --weakest)")
    click.echo(f"never reviewed: {len(cov.never_reviewed)} passages (run: sharpnotes quiz --new)")
    if cov.gaps:
        click.secho("\ngaps (questions your notes could not answer):", bold=True)
        for gap in cov.gaps:
            times = f" (asked {gap.asked}x)" if gap.asked > 1 else ""
            click.echo(f"  - {gap.question}{times}")


NAME_WIDTH = 40  # terminal columns of the name column


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide (CJK) characters take two, combining marks none."""
    import unicodedata

    return sum(
        0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
        for c in text
    )


def fit(text: str, width: int) -> str:
    """``text`` padded to ``width`` columns, or cut in the middle with "…" so that both the
    folder it starts with and the file name it ends with stay readable."""
    if display_width(text) <= width:
        return text + " " * (width - display_width(text))

    def take(chars: Any, budget: int) -> str:
        out = ""
        for c in chars:
            if display_width(out + c) > budget:
                break
            out += c
        return out

    tail = take(reversed(text), (width - 1) * 3 // 5)[::-1]  # the file name gets more room
    head = take(text, width - 1 - display_width(tail))
    out = head + "…" + tail
    return out + " " * (width - display_width(out))


def _coverage_line(row: Any) -> str:
    recall = "-" if row.recall is None else f"{row.recall:.0%}"
    name = fit(row.name, NAME_WIDTH)
    return f"{name} {row.passages:>8} {row.quizzed:>7} {row.due:>4} {recall:>6}"


@click.group()
def export() -> None:
    """Export quiz items to other tools."""


@export.command("anki")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--folder", help="Only items from notes under this folder.")
@click.option("--tag", help="Only items from notes with this tag.")
@click.option("--ids", help="Only these item ids (comma-separated).")
def export_anki_command(out: Path, folder: str | None, tag: str | None, ids: str | None) -> None:
    """Write quiz items to an Anki deck OUT.apkg (answer, evidence and source on the back)."""
    from sharpnotes.app.quiz.anki import export_anki

    settings = load_settings()
    store = _open_store(settings)
    try:
        _sync(settings, store)
        wanted = [i.strip() for i in (ids or "").split(",") if i.strip()]
        stored = store.items(("active", "stale"), ids=wanted)
    finally:
        store.close()
    if wanted:
        missing = set(wanted) - {s.id for s in stored}
        if missing:
            raise UserError(
                f"no such quiz items: {', '.join(sorted(missing))}; see: sharpnotes review --json"
            )
    items = _filter_items(settings, [s.item for s in stored], folder, tag)
    if not items:
        raise UserError("no quiz items match; make some with: sharpnotes quiz")
    try:
        count = export_anki(items, out)
    except OSError as exc:
        raise UserError(f"{out}: cannot write the deck ({exc.strerror})") from exc
    click.echo(f"wrote {count} cards to {out}")


def _filter_items(
    settings: Settings, items: list[Any], folder: str | None, tag: str | None
) -> list[Any]:
    if not folder and not tag:
        return items
    from sharpnotes.app.retrieval import Filters

    tags: dict[str, list[str]] = {}  # tags are per note: read them from any of its chunks
    if tag and (settings.index_dir / "catalog.sqlite").exists():
        from sharpnotes.ingest.index import open_catalog

        catalog = open_catalog(settings)
        try:
            for source in {i.citation.source for i in items}:
                rows = catalog.get_chunks(sorted(catalog.chunk_ids_of(source))[:1])
                tags[source] = next((r.meta.get("tags", []) for r in rows.values()), [])
        finally:
            catalog.close()
    filters = Filters(folder=folder, tag=tag)
    return [i for i in items if filters.matches(i.citation.source, tags.get(i.citation.source, []))]
