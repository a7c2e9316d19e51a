"""The flip review in a real browser (headless Chromium through selenium): Show answer with the
space bar, rate with a number key, undo with u, bury with - and suspend with @ (Anki's keys);
each step checked in the review store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_browser import _missing, browser, running_app  # noqa: F401 - fixtures

from sharpnotes.app.quiz.items import Citation, QuizItem
from sharpnotes.app.quiz.store import open_store
from sharpnotes.ingest.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.skipif(_missing() is not None, reason=_missing() or "")]


def _card(n: int) -> QuizItem:
    answer = f"Matching is one-to-one, case {n}."
    return QuizItem(
        "recall", f"Why can DETR skip NMS, case {n}?", answer, answer, f"Intro. {answer}",
        Citation(f"c{n}", "detection/detr.md", "DETR"), key_points=[answer], generator="notes",
    )  # fmt: skip


def _wait(predicate, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_flip_rate_with_a_key_and_undo_in_a_real_browser(
    running_app: str,  # noqa: F811
    browser,  # noqa: F811
    settings: Settings,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    cards = [_card(1), _card(2), _card(3)]
    with open_store(settings) as store:
        store.add_items(cards)

    def buttons() -> list[str]:  # labels, without the icon ligature before them
        from selenium.common.exceptions import StaleElementReferenceException

        try:
            found = browser.find_elements(By.TAG_NAME, "button")
            return [b.text.strip().split("\n")[-1] for b in found]
        except StaleElementReferenceException:  # the page re-rendered while being read
            return []

    def click(label: str) -> None:
        _wait(lambda: any(label in t for t in buttons()), timeout=180)
        next(b for b in browser.find_elements(By.TAG_NAME, "button") if label in b.text).click()

    def press(key: str) -> None:
        time.sleep(0.5)  # the rerun settles; the key goes to the page, not a text box
        ActionChains(browser).send_keys(key).perform()

    def reviews() -> list[tuple[str, int]]:
        with open_store(settings) as store:
            return [(r.item_id, r.rating) for r in store.reviews()]

    browser.get(running_app + "/review")
    click("Start review")
    _wait(lambda: "case 1" in browser.page_source and any("Show answer" in t for t in buttons()))
    press(" ")  # space: reveal
    _wait(lambda: any("Again (" in t for t in buttons()))
    assert any("Easy (" in t and "day" in t for t in buttons()), buttons()
    press("1")  # Again
    _wait(lambda: reviews() == [(cards[0].id, 1)])
    _wait(lambda: "case 2" in browser.page_source)
    press("u")  # undo: the rating is gone and the first card is asked again
    _wait(lambda: reviews() == [])
    _wait(lambda: "case 1" in browser.page_source)
    press(" ")
    _wait(lambda: any("Good (" in t for t in buttons()))
    press("3")
    _wait(lambda: reviews() == [(cards[0].id, 3)])
    browser.save_screenshot(str(tmp_path / "review.png"))

    def held(item_id: str) -> tuple[bool, bool]:
        with open_store(settings) as store:
            stored = store.get(item_id)
            assert stored is not None
            return stored.suspended, stored.buried()

    _wait(lambda: "case 2" in browser.page_source)
    press(" ")
    _wait(lambda: any("Bury until tomorrow" in t for t in buttons()))
    press("-")  # bury: out of today's queue, no rating
    _wait(lambda: held(cards[1].id) == (False, True))
    _wait(lambda: "case 3" in browser.page_source)
    press(" ")
    _wait(lambda: any("Suspend card" in t for t in buttons()))
    press("@")  # suspend
    _wait(lambda: held(cards[2].id) == (True, False))
    assert reviews() == [(cards[0].id, 3)]
