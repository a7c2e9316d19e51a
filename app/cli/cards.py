"""``sharpnotes quiz suspend|unsuspend|bury|unbury|suspended|edit|keep|import``: the learner's say
over single cards, as in Anki, and Anki decks brought in. An id is the one ``sharpnotes review
--json`` prints, or its first characters (at least 4)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sharpnotes.app.cli._common import UserError, echo_json, load_settings, one_line, plain
from sharpnotes.app.cli.quiz import _open_store, edit_in_editor, quiz

if TYPE_CHECKING:
    from sharpnotes.app.quiz.store import ReviewStore, StoredItem


def _resolve(store: ReviewStore, ids: tuple[str, ...]) -> list[str]:
    """Every id resolved, or one line naming those that are not (nothing is changed then)."""
    from sharpnotes.app.quiz.session import resolve_ids

    found, problems = resolve_ids(store, list(ids))
    if problems:
        raise UserError("; ".join(problems) + "; see the ids with: sharpnotes review --json")
    return found


def _line(stored: StoredItem) -> str:
    cit = stored.item.citation
    return f"{stored.id}  {one_line(stored.item.question)}  [{plain(cit.source)}]"


def _change(ids: tuple[str, ...], what: str) -> None:
    from sharpnotes.app.quiz.session import bury_until_tomorrow

    store = _open_store(load_settings())
    try:
        found = _resolve(store, ids)
        if what == "suspend":
            store.set_suspended(found, True)
            done = f"suspended {len(found)}: never asked until `sharpnotes quiz unsuspend ID`"
        elif what == "unsuspend":
            store.set_suspended(found, False)
            done = f"unsuspended {len(found)}: back in review"
        elif what == "bury":
            until = bury_until_tomorrow(store, found)
            back = datetime.fromtimestamp(until).strftime("%Y-%m-%d %H:%M")
            done = f"buried {len(found)} until {back} (local time)"
        else:
            store.bury(found, 0.0)
            done = f"unburied {len(found)}: back in today's review"
    finally:
        store.close()
    click.echo(done)
    for item_id in found:
        click.echo(f"  {item_id}")


@quiz.command("suspend")
@click.argument("ids", nargs=-1, required=True)
def suspend(ids: tuple[str, ...]) -> None:
    """Never ask these cards in review until they are unsuspended (their history is kept)."""
    _change(ids, "suspend")


@quiz.command("unsuspend")
@click.argument("ids", nargs=-1, required=True)
def unsuspend(ids: tuple[str, ...]) -> None:
    """Put suspended cards back in review."""
    _change(ids, "unsuspend")


@quiz.command("bury")
@click.argument("ids", nargs=-1, required=True)
def bury(ids: tuple[str, ...]) -> None:
    """Hide these cards from today's review; they come back the next local day."""
    _change(ids, "bury")


@quiz.command("unbury")
@click.argument("ids", nargs=-1, required=True)
def unbury(ids: tuple[str, ...]) -> None:
    """Bring buried cards back into today's review."""
    _change(ids, "unbury")


@quiz.command("suspended")
@click.option("--json", "as_json", is_flag=True, help="Print the suspended cards as JSON.")
def suspended(as_json: bool) -> None:
    """The suspended cards (unsuspend one with `sharpnotes quiz unsuspend ID`)."""
    store = _open_store(load_settings())
    try:
        found = store.suspended_items()
    finally:
        store.close()
    if as_json:
        echo_json([s.item.to_dict() | {"status": s.status, "new": s.is_new} for s in found])
        return
    if not found:
        click.echo("No suspended cards.")
        return
    click.echo(f"{len(found)} suspended (unsuspend with: sharpnotes quiz unsuspend ID)")
    for stored in found:
        click.echo(_line(stored))


@quiz.command("edit")
@click.argument("item_id")
@click.option("--question", help="The new question (without it, and without --answer, $EDITOR).")
@click.option("--answer", help="The new answer.")
@click.option("--json", "as_json", is_flag=True, help="Print the edited card as JSON.")
def edit(item_id: str, question: str | None, answer: str | None, as_json: bool) -> None:
    """Rewrite a card's question and answer in your own words. The edit stays through every
    re-ingest; if its passage changes, the card is flagged stale with your text."""
    from sharpnotes.app.quiz.edit import EditError, edit_item

    store = _open_store(load_settings())
    try:
        (found,) = _resolve(store, (item_id,))
        if question is None and answer is None:
            question, answer = edit_in_editor(store, found)
        try:
            stored = edit_item(store, found, question, answer)
        except EditError as exc:
            raise UserError(f"{found}: {exc}") from exc
    finally:
        store.close()
    if as_json:
        echo_json(stored.item.to_dict() | {"edited": stored.edited_at is not None})
        return
    click.echo(
        f"edited {found}\n  Q: {one_line(stored.item.question)}\n  A: {plain(stored.item.answer)}"
    )


@quiz.command("keep")
@click.argument("ids", nargs=-1, required=True)
def keep_command(ids: tuple[str, ...]) -> None:
    """Keep stale cards as they are (text and history), tied to their edited passages."""
    from sharpnotes.app.quiz.staleness import keep

    settings = load_settings()
    store = _open_store(settings)
    try:
        for item_id in _resolve(store, ids):
            stored = store.get(item_id)
            if keep(settings, store, item_id):
                click.echo(f"kept {item_id}: it follows the edited passage now")
            elif stored is not None and stored.status != "stale":
                click.echo(f"{item_id}: not stale (its passage is unchanged); nothing to keep")
            else:
                click.echo(
                    f"{item_id}: its section is gone from the note; left as it is (remove it "
                    "from review with: sharpnotes quiz suspend ID)"
                )
    finally:
        store.close()


@quiz.command("import")
@click.argument("deck", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print what was imported as JSON.")
def import_deck(deck: Path, as_json: bool) -> None:
    """Add the cards of an Anki deck (DECK.apkg) to your review queue: Basic notes become flip
    cards, Cloze notes clozes. Imported again, a deck adds only its new cards."""
    from sharpnotes.app.quiz.anki_import import AnkiImportError, import_apkg

    store = _open_store(load_settings())
    try:
        report = import_apkg(deck, store)
    except AnkiImportError as exc:
        raise UserError(str(exc)) from exc
    finally:
        store.close()
    if as_json:
        echo_json(
            {
                "deck": report.deck,
                "basic": report.basic,
                "cloze": report.cloze,
                "added": report.added,
                "suspended": report.suspended,
                "skipped": report.skipped,
                "ids": report.item_ids,
            }
        )
        return
    click.echo(plain(report.summary()))
    click.echo("Review them with: sharpnotes review")
