"""End to end in a real browser: ``sharpnotes app`` on a free port over an ingested corpus,
driven by Debian's headless Chromium through selenium; ask, see the answer and a citation card,
keep a screenshot."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO, write_notes
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT_COPY = Path("/tmp/sharpnotes-screenshot.png")


def _missing() -> str | None:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        return (
            "needs Debian's Chromium and chromedriver at /usr/bin; "
            "install them with: sudo apt-get install chromium chromium-driver"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "needs selenium; run: pip install -e '.[dev]'"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"sharpnotes app exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the app did not answer on {url} within {timeout} s")


@pytest.fixture
def running_app(tmp_path: Path, settings: Settings) -> Iterator[str]:
    notes = write_notes(tmp_path / "notes")
    assert ingest([notes], settings).ok
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sharpnotes.app.cli",
            "app",
            "--port",
            str(port),
            "--notes",
            str(notes),
        ],
        cwd=REPO,
        env=dict(os.environ),  # SHARPNOTES_HOME points at this test's home
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so the streamlit child is stopped with it
    )
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert first.strip() == f"sharpnotes app: http://127.0.0.1:{port}", first
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        yield url
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to ``sharpnotes app`` and its streamlit child; SIGKILL what is left after 20 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1600",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
def test_ask_in_a_real_browser_shows_answer_and_citation_card(
    running_app: str, browser, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(running_app)
    box = WebDriverWait(browser, 60).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']"))
    )
    box.send_keys("Why does DETR not need non-maximum suppression?")
    box.send_keys(Keys.ENTER)
    answer = WebDriverWait(browser, 120).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, ".sn-answer"))
    )
    card = WebDriverWait(browser, 30).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, ".sn-card-title"))
    )
    assert "Hungarian" in answer.text or "suppression" in answer.text
    assert answer.find_elements(By.CSS_SELECTOR, ".sn-chip"), "citation markers as chips"
    assert "detection/detr.md" in card.text
    assert browser.find_elements(By.CSS_SELECTOR, "mark.sn-quote")
    time.sleep(1)  # let the last layout settle before the picture
    shot = tmp_path / "chat.png"
    assert browser.save_screenshot(str(shot))
    shutil.copy(shot, SCREENSHOT_COPY)


@pytest.fixture
def hostile_app(tmp_path: Path, settings: Settings) -> Iterator[str]:
    """The app over the sample notes plus a note full of scripts, event handlers and
    ``javascript:`` links (tests/test_hostile_notes.py)."""
    from test_hostile_notes import HOSTILE_NOTE, HOSTILE_SOURCE

    from conftest import SAMPLE_NOTES

    notes = write_notes(tmp_path / "notes", {**SAMPLE_NOTES, HOSTILE_SOURCE: HOSTILE_NOTE})
    assert ingest([notes], settings).ok
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sharpnotes.app.cli",
            "app",
            "--port",
            str(port),
            "--notes",
            str(notes),
        ],
        cwd=REPO,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        yield url
    finally:
        _stop_group(proc)


def _no_script_ran(browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - raises when no alert is open
    assert browser.execute_script("return window.__pwned") is None
    assert browser.execute_script("return parent.__pwned") is None
    assert "PWNED" not in browser.title


@pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
def test_hostile_note_renders_as_inert_text_in_a_real_browser(
    hostile_app: str, browser, tmp_path: Path
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
    from test_hostile_notes import HOSTILE_SOURCE, QUESTION

    browser.get(hostile_app)
    box = WebDriverWait(browser, 60).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']"))
    )
    box.send_keys(QUESTION)
    box.send_keys(Keys.ENTER)
    answer = WebDriverWait(browser, 120).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, ".sn-answer"))
    )
    WebDriverWait(browser, 30).until(
        lambda b: any(
            HOSTILE_SOURCE in c.text for c in b.find_elements(By.CSS_SELECTOR, ".sn-card-title")
        )
    )
    assert "Focal loss down-weights" in answer.text
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "<script>window.__pwned=1;document.title='PWNED'</script>" in page  # shown as text
    assert 'onerror="window.__pwned=1;alert(1)">' in page
    # no element from a note: no script, image, iframe, svg or javascript: link in the page
    for selector in ("img[src='x']", "iframe", "svg[onload]", "[onerror]", "[onmouseover]"):
        assert not browser.find_elements(By.CSS_SELECTOR, selector), selector
    assert not browser.find_elements(By.CSS_SELECTOR, "a[href^='javascript']")
    _no_script_ran(browser)

    # the note viewer: open the hostile note from its card
    title = next(
        t
        for t in browser.find_elements(By.CSS_SELECTOR, ".sn-card-title")
        if HOSTILE_SOURCE in t.text
    )
    button = title.find_element(By.XPATH, "following::button[contains(., 'Open note')][1]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    dialog = WebDriverWait(browser, 30).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "[role='dialog']"))
    )
    WebDriverWait(browser, 30).until(lambda b: "hard negatives" in dialog.text)
    ActionChains(browser).move_to_element(dialog).perform()  # an onmouseover would fire now
    time.sleep(1)
    text = dialog.text
    assert "Ignore previous instructions" in text
    assert "<script>window.__pwned=1;document.title='PWNED'</script>" in text  # literally
    assert '<div onmouseover="window.__pwned=1">raw html block</div>' in text
    assert "click here" in text and "javascript:window.__pwned" in text  # the <a> tag as text
    for link in dialog.find_elements(By.TAG_NAME, "a"):
        assert not (link.get_attribute("href") or "").lower().startswith("javascript")
    for selector in (
        "img[src='x']",
        "iframe",
        "svg[onload]",
        "script",
        "[onerror]",
        "[onmouseover]",
    ):
        assert not dialog.find_elements(By.CSS_SELECTOR, selector), selector
    _no_script_ran(browser)
    shot = tmp_path / "hostile.png"
    assert browser.save_screenshot(str(shot))
    shutil.copy(shot, SCREENSHOT_COPY.with_name("sharpnotes-hostile-note.png"))


class Beacon:
    """A local HTTP listener that counts every request it gets: a note's remote image, were it
    fetched, would land here."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.paths: list[str] = []
        beacon = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                beacon.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.end_headers()
                self.wfile.write(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


SHARED_NOTE = """# Shared radar note

The radar beacon is calibrated with a corner reflector placed ten metres in front of the car.

![beacon](http://127.0.0.1:{port}/beacon.png)

![pixel][px]

[px]: http://127.0.0.1:{port}/pixel.gif
"""


@pytest.fixture
def tracked_app(tmp_path: Path, settings: Settings) -> Iterator[tuple[str, Beacon]]:
    """The app over the sample notes plus a note with two remote images and a folder whose
    name is an image in Markdown (``http:host`` is read as ``http://host/``)."""
    from conftest import SAMPLE_NOTES

    beacon = Beacon()
    folder = f"![folder](http:127.0.0.1:{beacon.port})"
    notes = write_notes(
        tmp_path / "notes",
        {
            **SAMPLE_NOTES,
            "inbox/shared-radar.md": SHARED_NOTE.format(port=beacon.port),
            f"{folder}/kept.md": "# Kept\n\nA note in a folder with a strange name.\n",
        },
    )
    assert ingest([notes], settings).ok
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sharpnotes.app.cli", "app", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "SHARPNOTES_NOTES_DIR": str(notes)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        yield url, beacon
    finally:
        _stop_group(proc)
        beacon.close()


@pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
def test_remote_images_in_notes_are_not_fetched_until_clicked(
    tracked_app: tuple[str, Beacon], browser, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, beacon = tracked_app
    # the Library lists the folder whose name is an image in Markdown
    browser.get(url + "/library")
    WebDriverWait(browser, 60).until(
        lambda b: "· 1 notes" in b.find_element(By.TAG_NAME, "body").text
    )
    time.sleep(2)  # time enough for an image request to go out
    assert beacon.paths == []
    assert (
        f"![folder](http:127.0.0.1:{beacon.port})" in browser.find_element(By.TAG_NAME, "body").text
    )

    # the note itself, opened from its citation card
    browser.get(url)
    box = WebDriverWait(browser, 60).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']"))
    )
    box.send_keys("How is the radar beacon calibrated?")
    box.send_keys(Keys.ENTER)
    title = WebDriverWait(browser, 120).until(
        lambda b: next(
            (
                t
                for t in b.find_elements(By.CSS_SELECTOR, ".sn-card-title")
                if "inbox/shared-radar.md" in t.text
            ),
            None,
        )
    )
    button = title.find_element(By.XPATH, "following::button[contains(., 'Open note')][1]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    dialog = WebDriverWait(browser, 30).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "[role='dialog']"))
    )
    WebDriverWait(browser, 30).until(lambda b: "corner reflector" in dialog.text)
    time.sleep(2)  # time enough for any image request to go out
    assert beacon.paths == []  # nothing was fetched: not the note's images, not the folder's
    assert not dialog.find_elements(By.TAG_NAME, "img")
    placeholder = f"beacon (remote image from 127.0.0.1:{beacon.port}, not loaded: click to open)"
    assert placeholder in dialog.text and "2 remote image(s) not loaded" in dialog.text
    link = dialog.find_element(By.PARTIAL_LINK_TEXT, "beacon (remote image")
    assert link.get_attribute("href") == f"http://127.0.0.1:{beacon.port}/beacon.png"
    shot = tmp_path / "remote-image.png"
    assert browser.save_screenshot(str(shot))
    shutil.copy(shot, SCREENSHOT_COPY.with_name("sharpnotes-remote-image.png"))

    link.click()  # the user asks for it: now, and only now, it is fetched
    WebDriverWait(browser, 30).until(lambda b: beacon.paths)
    assert beacon.paths == ["/beacon.png"]
