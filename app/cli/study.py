"""``sharpnotes topics`` and ``digest``: the syllabus over your notes (what each topic's passages,
items and recall are, the gaps to write, the weakest topics) and one topic's essentials on a
page."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sharpnotes.app.cli._common import (
    UserError,
    daily_limit_options,
    echo_json,
    load_settings,
    one_line,
    open_searcher,
    plain,
)

if TYPE_CHECKING:
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.app.syllabus import Syllabus
    from sharpnotes.app.topics import Link


MENTIONS_SHOWN = 5  # passages that name a topic without being linked, listed by topics show


def _syllabus_links(searcher: Searcher) -> tuple[Syllabus, dict[str, list[Link]]]:
    from sharpnotes.app.syllabus import SyllabusError
    from sharpnotes.app.topics import syllabus_links

    try:
        return syllabus_links(searcher)
    except SyllabusError as exc:
        raise UserError(str(exc)) from exc


def _ago(when: float | None) -> str:
    if not when:
        return "never"
    days = (time.time() - when) / 86400
    return "today" if days < 1 else f"{days:.0f}d ago"


@click.group(invoke_without_command=True)
@click.option("--gaps", is_flag=True, help="Only topics no note covers yet.")
@click.option("--weak", "weak", type=click.IntRange(1, 500), help="Only the N weakest topics.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def topics(ctx: click.Context, gaps: bool, weak: int | None, as_json: bool) -> None:
    """Your syllabus: each topic's passages, notes, items, recall and due reviews.

    The topics come from syllabus.yaml in your notes folder (the default one when there is
    none); pins you set with `sharpnotes topics pin` are kept in SHARPNOTES_HOME."""
    if ctx.invoked_subcommand is not None:
        return
    from sharpnotes.app.quiz.store import ReviewStoreError, open_store
    from sharpnotes.app.topic_status import gaps as gap_topics
    from sharpnotes.app.topic_status import topic_statuses, weakest

    settings = load_settings()
    searcher = open_searcher(settings)
    syllabus, links = _syllabus_links(searcher)
    try:
        with open_store(settings) as store:
            statuses = topic_statuses(syllabus, links, store)
    except ReviewStoreError as exc:
        raise UserError(str(exc)) from exc
    shown = gap_topics(statuses) if gaps else statuses
    if weak:
        shown = weakest(statuses, weak)
    if as_json:
        echo_json({"syllabus": syllabus.where, "topics": [s.to_dict() for s in shown]})
        return
    from sharpnotes.app.topics import load_passages, mentions

    click.echo(f"{len(statuses)} topics from {plain(syllabus.where)}")
    named_in = 0
    # read once for every gap shown, not once a gap
    passages = load_passages(searcher) if any(s.gap for s in shown) else []
    for s in shown:
        recall = "  -  " if s.recall is None else f"{s.recall:>4.0%} "
        mark = f"{s.passages:>3} passages in {len(s.notes)} notes"
        if s.gap:  # a gap some passages name may be covered where the linker did not look
            named = len(mentions(searcher, s.topic, passages=passages))
            named_in += bool(named)
            some = f"{named} passage{'s' if named > 1 else ''}"
            mark = f"gap: named in {some}" if named else "gap: write a note"
        click.echo(
            f"{plain(s.topic.id):<34} {mark:<26} items {s.items:>3}  recall {recall}"
            f" due {s.due:>2}  last {_ago(s.last_reviewed)}"
        )
    if named_in:
        click.echo(
            f"{named_in} of these gaps {'are' if named_in > 1 else 'is'} named in passages the "
            "linker did not link: see them with `sharpnotes topics show TOPIC`, link one with "
            "`sharpnotes topics pin TOPIC CHUNK_ID`"
        )


@topics.command("show")
@click.argument("topic")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def topics_show(topic: str, as_json: bool) -> None:
    """The passages linked to TOPIC (an id, title or alias), best first, with their chunk ids;
    then the passages that name it without being linked (a pin links one)."""
    from sharpnotes.app.syllabus import SyllabusError
    from sharpnotes.app.topics import mentions

    searcher = open_searcher(load_settings())
    syllabus, links = _syllabus_links(searcher)
    try:
        found = syllabus.find(topic)
    except SyllabusError as exc:
        raise UserError(str(exc)) from exc
    linked = links.get(found.id, [])
    named = mentions(searcher, found, [link.chunk_id for link in linked])
    if as_json:
        echo_json(
            {
                "topic": found.to_dict(),
                "passages": [link.to_dict() for link in linked],
                "mentions": [
                    {"chunk_id": p.chunk_id, "source": p.source, "heading": p.heading}
                    for p in named
                ],
            }
        )
        return
    click.echo(f"{found.title} ({found.title_zh}): {len(linked)} passages")
    for link in linked:
        pin = " pinned" if link.pinned else ""
        click.echo(f"  {link.score:5.2f}{pin}  {plain(link.source)} > {plain(link.heading)}")
        click.echo(f"         {link.chunk_id}")
    if named:
        click.echo(
            f"Also named in {len(named)} passage{'s' if len(named) > 1 else ''} not linked to "
            f"it (to link one: sharpnotes topics pin {found.id} CHUNK_ID):"
        )
        for p in named[:MENTIONS_SHOWN]:
            click.echo(f"         {plain(p.source)} > {plain(p.heading)}")
            click.echo(f"         {p.chunk_id}")
        if len(named) > MENTIONS_SHOWN:
            click.echo(f"         ... and {len(named) - MENTIONS_SHOWN} more (--json lists all)")


def _pin(topic: str, chunk_id: str, keep: bool) -> None:
    from sharpnotes.app.syllabus import Pins, SyllabusError, pins_path

    settings = load_settings()
    searcher = open_searcher(settings)
    syllabus, _ = _syllabus_links(searcher)
    try:
        found = syllabus.find(topic)
        pins = Pins.load(settings)
    except SyllabusError as exc:
        raise UserError(str(exc)) from exc
    if not searcher.catalog.get_chunks([chunk_id]):  # or its first characters, as quiz ids
        starting = [c for c in searcher.catalog.chunk_ids() if c.startswith(chunk_id)]
        if len(starting) != 1 or len(chunk_id) < 4:
            raise UserError(
                f"no passage {chunk_id!r} in the index"
                + (f" ({len(starting)} ids start so; give more of it)" if len(starting) > 1 else "")
                + f"; run: sharpnotes topics show {found.id}"
            )
        chunk_id = starting[0]
    (pins.pin if keep else pins.unpin)(found.id, chunk_id)
    pins.save(settings)
    verb = "pinned to" if keep else "unpinned from"
    click.echo(f"{chunk_id} {verb} {found.id} (kept in {pins_path(settings)})")


@topics.command("pin")
@click.argument("topic")
@click.argument("chunk_id")
def topics_pin(topic: str, chunk_id: str) -> None:
    """Link the passage CHUNK_ID to TOPIC whatever the linker says."""
    _pin(topic, chunk_id, keep=True)


@topics.command("unpin")
@click.argument("topic")
@click.argument("chunk_id")
def topics_unpin(topic: str, chunk_id: str) -> None:
    """Never link the passage CHUNK_ID to TOPIC."""
    _pin(topic, chunk_id, keep=False)


@click.command()
@click.argument("topic")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write Markdown here.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def digest(topic: str, out: Path | None, as_json: bool) -> None:
    """The essentials of TOPIC from all your notes on one page: repeated facts merged, ordered
    definition, details, pitfalls, questions, every line cited."""
    from sharpnotes.app.digest import make_digest, to_markdown
    from sharpnotes.app.syllabus import SyllabusError

    searcher = open_searcher(load_settings())
    syllabus, links = _syllabus_links(searcher)
    try:
        found = syllabus.find(topic)
    except SyllabusError as exc:
        raise UserError(str(exc)) from exc
    made = make_digest(searcher, found, links.get(found.id, []))
    if not made.lines:
        raise UserError(
            f"no note covers {found.id} yet: it is a gap to write (or pin a passage: "
            f"sharpnotes topics pin {found.id} CHUNK_ID)"
        )
    text = to_markdown(made)
    if out is not None:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {out} ({exc}); choose another --out") from exc
    if as_json:
        echo_json(made.to_dict() | ({"written": str(out)} if out else {}))
    elif out is None:
        click.echo(text)
    else:
        click.echo(f"{found.id}: {len(made.lines)} lines written to {out}")


@click.command()
@daily_limit_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan and progress as JSON.")
def today(new_per_day: int | None, reviews_per_day: int | None, as_json: bool) -> None:
    """Today's session: due reviews, a few new items from your weakest topics, one interview
    question, and your progress. Run `sharpnotes review` to answer the items."""
    from sharpnotes.app.gaps import barren_topics
    from sharpnotes.app.quiz.generate import add_own_cards, own_cards_line
    from sharpnotes.app.quiz.session import daily_limits, held_line
    from sharpnotes.app.quiz.store import ReviewStoreError, open_store
    from sharpnotes.app.today import plan_today, progress
    from sharpnotes.ingest.formats import StoredFormatError

    settings = load_settings()
    searcher = open_searcher(settings)
    syllabus, links = _syllabus_links(searcher)
    ids = sorted({link.chunk_id for linked in links.values() for link in linked})
    texts = {cid: row.text for cid, row in searcher.catalog.get_chunks(ids).items()}
    try:
        with open_store(settings) as store:
            if added := add_own_cards(settings, store):  # today's new items include them
                click.echo(own_cards_line(added), err=True)
            limits = daily_limits(
                settings, store, new_per_day=new_per_day, reviews_per_day=reviews_per_day
            )
            barren = barren_topics(settings, links)
            plan = plan_today(syllabus, links, store, texts, limits, barren=barren)
            done = progress(store)
    except (ReviewStoreError, StoredFormatError) as exc:
        raise UserError(str(exc)) from exc
    if as_json:
        echo_json(plan.to_dict() | {"progress": done.to_dict(), "today": vars(limits)})
        return
    due, new = len(plan.due), len(plan.new)
    click.echo(
        f"Today ({plan.day}): {due} due review{'s' if due != 1 else ''}, {new} new "
        f"item{'s' if new != 1 else ''} ({limits.describe()})"
    )
    for label, items in (("due", plan.due), ("new", plan.new)):
        for stored in items:
            click.echo(
                f"  {label}: {one_line(stored.item.question)}  "
                f"[{plain(stored.item.citation.source)}]"
            )
    if plan.held:
        click.echo(f"  {held_line(plan.held)}")
    if plan.later:  # cards rated Again come back within minutes
        click.echo(f"  {plan.later} more due later today: sharpnotes review then")
    for status in plan.start:
        click.echo(
            f"  start {plain(status.topic.title)}: sharpnotes quiz --topic {status.topic.id}"
        )
    if plan.due or plan.new:
        click.echo("Answer them: sharpnotes review")
    if plan.question:
        click.echo(
            f"\nInterview question ({plan.question.topic_id}):\n  {plain(plan.question.question)}"
        )
        for link in plan.question.passages:
            click.echo(f"  your notes: {plain(link.source)} > {plain(link.heading)}")
    if plan.weakest:
        from sharpnotes.app.topic_status import weak_label

        names = ", ".join(plain(s.topic.id) for s in plan.weakest)
        click.echo(f"\n{weak_label(plan.weakest)}: {names}")
    if plan.gaps:
        click.echo(f"Gaps to write ({len(plan.gaps)}): {', '.join(plan.gaps[:8])}")
        click.echo("  (sharpnotes topics --gaps shows the ones your notes name without covering)")
    week = sum(done.reviews[-7:])
    shares = [r for r in done.recalled[-7:] if r is not None]
    recalled = f", {sum(shares) / len(shares):.0%} recalled" if shares else ""
    click.echo(f"Last 7 days: {week} reviews{recalled}")
