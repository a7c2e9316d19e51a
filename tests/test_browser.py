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


ANSWER = "[class*='st-key-sn-answer']"
CHIP = "a[href^='#sn-card-']"
HIGHLIGHT = ".stMarkdownColoredBackground"
CARD = "[class*='st-key-sn-cardbox-']"  # passage_card's container


def card_elements(browser):  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, CARD)


def cards(browser) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.text for c in card_elements(browser)]


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

    browser.get(running_app + "/chat")
    box = WebDriverWait(browser, 60).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']"))
    )
    box.send_keys("Why does DETR not need non-maximum suppression?")
    box.send_keys(Keys.ENTER)
    answer = WebDriverWait(browser, 120).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, ANSWER))
    )
    WebDriverWait(browser, 30).until(lambda b: any("detection/detr.md" in t for t in cards(b)))
    WebDriverWait(browser, 30).until(lambda b: answer.find_elements(By.CSS_SELECTOR, CHIP))
    assert "Hungarian" in answer.text or "suppression" in answer.text
    assert answer.find_elements(By.CSS_SELECTOR, CHIP), "citation markers as chips"
    assert browser.find_elements(By.CSS_SELECTOR, HIGHLIGHT), "the quote is highlighted"
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
    yield from _app_over(notes, settings)


def _app_over(notes: Path, settings: Settings) -> Iterator[str]:
    """Ingest ``notes``, serve ``sharpnotes app`` over them on a free port, yield its URL, stop
    it."""
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

    browser.get(hostile_app + "/chat")
    box = WebDriverWait(browser, 60).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']"))
    )
    box.send_keys(QUESTION)
    box.send_keys(Keys.ENTER)
    answer = WebDriverWait(browser, 120).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, ANSWER))
    )
    WebDriverWait(browser, 30).until(lambda b: any(HOSTILE_SOURCE in t for t in cards(b)))
    WebDriverWait(browser, 30).until(lambda b: "Focal loss down-weights" in answer.text)
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
    card = next(c for c in card_elements(browser) if HOSTILE_SOURCE in c.text)
    button = card.find_element(By.XPATH, ".//button[contains(., 'Open note')]")
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
    for selector in ("img[src='x']", "iframe", "svg[onload]", "[onerror]", "[onmouseover]"):
        assert not dialog.find_elements(By.CSS_SELECTOR, selector), selector
    for script in dialog.find_elements(By.CSS_SELECTOR, "script"):  # ours scrolls to the passage
        assert "scrollIntoView" in script.get_attribute("innerHTML")
        assert "__pwned" not in script.get_attribute("innerHTML")
    _no_script_ran(browser)
    shot = tmp_path / "hostile.png"
    assert browser.save_screenshot(str(shot))
    shutil.copy(shot, SCREENSHOT_COPY.with_name("sharpnotes-hostile-note.png"))


# ------------------------------------------------------------------ the study desk

DICE = (
    "Dice loss is $1 - \\frac{2\\sum p g}{\\sum p + \\sum g}$, which measures the overlap "
    "of a mask."
)
FILLER = "\n\n".join(
    f"## Section {i}\nBackground paragraph {i} about segmentation metrics and their history."
    for i in range(40)
)
SAVE_SCREENSHOTS = os.environ.get("SHARPNOTES_TESTS_SCREENSHOTS") == "1"  # read before the fixture
SCREENSHOTS = REPO / "eval" / "benchmarks" / "screenshots"


class Beacon:
    """A local listener that counts the requests a remote image in a note would make."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.count = 0
        beacon = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the handler's name in http.server
                beacon.count += 1
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/beacon.png"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def desk_app(tmp_path: Path, settings: Settings) -> Iterator[tuple[str, Path, Beacon]]:
    from test_desk_ui import make_pdf

    from conftest import SAMPLE_NOTES

    beacon = Beacon()
    notes = write_notes(
        tmp_path / "notes",
        {
            **SAMPLE_NOTES,
            "segmentation/dice.md": f"# Segmentation losses\n\n{FILLER}\n\n## Dice\n{DICE}\n",
            "inbox/beacon.md": f"# Tracking\n\nA pixel: ![beacon]({beacon.url}) in a note.\n",
        },
    )
    make_pdf(notes / "papers" / "attention-paper.pdf")
    assert ingest([notes], settings).ok
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sharpnotes.app.cli", "app", "--port", str(port), "--notes",
         str(notes)],
        cwd=REPO,
        env={**os.environ, "SHARPNOTES_LIVE_SYNC": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        yield url, notes, beacon
    finally:
        _stop_group(proc)
        beacon.close()


def _in_view(browser, element) -> bool:  # type: ignore[no-untyped-def]
    return browser.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return r.bottom >= 0 && r.top <= window.innerHeight;",
        element,
    )


def _shot(browser, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    """A screenshot in tmp_path, and (SHARPNOTES_TESTS_SCREENSHOTS=1) a small copy for the
    user guide in eval/benchmarks/screenshots."""
    shot = tmp_path / f"{name}.png"
    assert browser.save_screenshot(str(shot))
    if SAVE_SCREENSHOTS:
        from PIL import Image

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        image = Image.open(shot).convert("RGB")
        image.thumbnail((1000, 1000))
        image.quantize(colors=128).save(SCREENSHOTS / f"{name}.png", optimize=True)


@pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
def test_study_desk_in_a_real_browser(desk_app, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Math rendered in an answer; a chip leading to its card; "Open note" scrolled to the
    highlighted quote; a remote image fetched only when clicked; a PDF page drawn; a file
    written into the notes folder synced while the app runs."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, notes, beacon = desk_app
    browser.set_window_size(1200, 900)
    browser.get(url + "/chat")
    box = WebDriverWait(browser, 60).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']"))
    )
    box.send_keys("What is the Dice loss formula?")
    box.send_keys(Keys.ENTER)
    answer = WebDriverWait(browser, 120).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, ANSWER))
    )
    WebDriverWait(browser, 30).until(lambda b: answer.find_elements(By.CSS_SELECTOR, CHIP))
    assert answer.find_elements(By.CSS_SELECTOR, ".katex"), "the formula is drawn by KaTeX"
    assert "\\frac" not in answer.text
    chip = answer.find_element(By.CSS_SELECTOR, CHIP)
    assert chip.text == "1" and "Dice loss" in (chip.get_attribute("title") or "")
    browser.execute_script("window.scrollTo(0, 0)")
    chip.click()  # the chip leads to its card
    anchor = browser.find_element(By.ID, chip.get_attribute("href").split("#", 1)[1])
    WebDriverWait(browser, 10).until(lambda b: _in_view(b, anchor))
    time.sleep(1)
    _shot(browser, tmp_path, "answer")

    card = next(c for c in card_elements(browser) if "segmentation/dice.md" in c.text)
    button = card.find_element(By.XPATH, ".//button[contains(., 'Open note')]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    dialog = WebDriverWait(browser, 30).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "[role='dialog']"))
    )
    target = WebDriverWait(browser, 30).until(
        lambda b: dialog.find_element(By.CSS_SELECTOR, "[class*='st-key-sn-target-dialog']")
    )
    WebDriverWait(browser, 10).until(lambda b: _in_view(b, target))  # scrolled to the passage
    marked = target.find_element(By.CSS_SELECTOR, HIGHLIGHT)
    assert "overlap" in marked.text and marked.find_elements(By.CSS_SELECTOR, ".katex")
    first = dialog.find_element(By.XPATH, ".//*[contains(text(), 'Background paragraph 0 ')]")
    assert not _in_view(browser, first), "the top of the long note is scrolled away"
    time.sleep(1)
    _shot(browser, tmp_path, "note")

    # a remote image is a link: nothing is fetched until it is clicked
    browser.get(url + "/note?source=inbox/beacon.md")
    link = WebDriverWait(browser, 60).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, f"a[href='{beacon.url}']"))
    )
    assert "🖼 beacon" in link.text
    time.sleep(2)
    assert beacon.count == 0 and not browser.find_elements(By.CSS_SELECTOR, "img[src*='beacon']")
    link.click()
    WebDriverWait(browser, 20).until(lambda b: beacon.count >= 1)
    browser.switch_to.window(browser.window_handles[0])

    # a PDF shows its page, drawn, and offers the file
    browser.get(url + "/note?source=papers/attention-paper.pdf")
    image = WebDriverWait(browser, 60).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "[data-testid='stImage'] img"))
    )
    assert image.size["height"] > 200
    assert browser.find_elements(By.XPATH, "//button[contains(., 'Download the PDF')]")

    # the Settings page names the port in use, not the default
    browser.get(url + "/settings")
    WebDriverWait(browser, 60).until(lambda b: "App address in use" in b.page_source)
    port = url.rsplit(":", 1)[1]
    assert f"127.0.0.1:{port}" in browser.find_element(By.TAG_NAME, "body").text

    # live sync: a note written while the app runs is indexed and announced
    (notes / "inbox" / "anchors.md").write_text("# Anchors\nAnchor boxes tile the image.\n")
    WebDriverWait(browser, 180).until(
        lambda b: "1 new" in b.find_element(By.CSS_SELECTOR, "[data-testid='stSidebar']").text
    )


class RecordingBeacon:
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
def tracked_app(tmp_path: Path, settings: Settings) -> Iterator[tuple[str, RecordingBeacon]]:
    """The app over the sample notes plus a note with two remote images and a folder whose
    name is an image in Markdown (``http:host`` is read as ``http://host/``)."""
    from conftest import SAMPLE_NOTES

    beacon = RecordingBeacon()
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
    tracked_app: tuple[str, RecordingBeacon], browser, tmp_path: Path
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
    browser.get(url + "/chat")
    box = WebDriverWait(browser, 60).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']"))
    )
    box.send_keys("How is the radar beacon calibrated?")
    box.send_keys(Keys.ENTER)
    card = WebDriverWait(browser, 120).until(
        lambda b: next((c for c in card_elements(b) if "inbox/shared-radar.md" in c.text), None)
    )
    button = card.find_element(By.XPATH, ".//button[contains(., 'Open note')]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    dialog = WebDriverWait(browser, 30).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "[role='dialog']"))
    )
    WebDriverWait(browser, 30).until(lambda b: "corner reflector" in dialog.text)
    time.sleep(2)  # time enough for any image request to go out
    assert beacon.paths == []  # nothing was fetched: not the note's images, not the folder's
    assert not dialog.find_elements(By.TAG_NAME, "img")
    link = dialog.find_element(By.PARTIAL_LINK_TEXT, "🖼 beacon")  # the image, as a link
    assert link.get_attribute("href") == f"http://127.0.0.1:{beacon.port}/beacon.png"
    shot = tmp_path / "remote-image.png"
    assert browser.save_screenshot(str(shot))
    shutil.copy(shot, SCREENSHOT_COPY.with_name("sharpnotes-remote-image.png"))

    link.click()  # the user asks for it: now, and only now, it is fetched
    WebDriverWait(browser, 30).until(lambda b: beacon.paths)
    # the image first; opening it as a page lets the browser ask that host for its icon too
    assert beacon.paths[0] == "/beacon.png" and set(beacon.paths) <= {"/beacon.png", "/favicon.ico"}


@pytest.fixture
def mock_app(tmp_path: Path, settings: Settings) -> Iterator[str]:
    """The app over the sample system-design notes (the framework note and the case notes)."""
    notes = tmp_path / "notes"
    shutil.copytree(REPO / "notes" / "system-design", notes / "system-design")
    yield from _app_over(notes, settings)


@pytest.mark.skipif(_missing() is not None, reason=_missing() or "")
def test_timed_mock_in_a_real_browser_counts_down_and_reports(
    mock_app: str, browser, tmp_path: Path
) -> None:
    """A mock with a 12-second timer: the countdown runs in the page, time runs out, the
    answer is graded and the report names the missed points with their passages."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    def css(selector: str):  # type: ignore[no-untyped-def]
        return WebDriverWait(browser, 120).until(
            ec.element_to_be_clickable((By.CSS_SELECTOR, selector))
        )

    browser.get(mock_app + "/mock")
    minutes = css(".st-key-mock_minutes input")
    minutes.send_keys(Keys.CONTROL, "a")
    minutes.send_keys("0.2", Keys.ENTER)
    WebDriverWait(browser, 30).until(lambda b: minutes.get_attribute("value") == "0.2")
    css(".st-key-mock_start button").click()
    timer = ".st-key-sn-mock-timer"
    first = WebDriverWait(browser, 120).until(
        lambda b: (
            "left" in b.find_element(By.CSS_SELECTOR, timer).text
            and b.find_element(By.CSS_SELECTOR, timer).text
        )
    )
    box = css(".st-key-mock_answer_clarify-requirements textarea")
    box.send_keys(
        "Eight cameras and a lidar, 80 m range forward, 25 ms for the detector, "
        "99% recall within 30 m."
    )
    box.send_keys(Keys.CONTROL, Keys.ENTER)  # commits the text area
    WebDriverWait(browser, 30).until(
        lambda b: b.find_element(By.CSS_SELECTOR, timer).text not in ("", first)
    )  # the countdown moves without any input
    WebDriverWait(browser, 60).until(
        lambda b: "Time is up" in b.find_element(By.CSS_SELECTOR, timer).text
    )
    css(".st-key-mock_finish button").click()
    WebDriverWait(browser, 180).until(
        lambda b: any(
            "Score" in m.text for m in b.find_elements(By.CSS_SELECTOR, "[data-testid='stMetric']")
        )
    )
    WebDriverWait(browser, 60).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, ".st-key-mock_cards")
    )
    # the saved session in the history table; the last run's elements gone
    WebDriverWait(browser, 60).until(
        lambda b: (
            b.find_elements(By.CSS_SELECTOR, "[data-testid='stDataFrame']")
            and "None yet." not in b.find_element(By.TAG_NAME, "body").text
        )
    )
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "Missed:" in page and "Clarify requirements:" in page
    assert "case-pedestrian-detection.md" in page or "case-" in page  # missed points' passages
    assert card_elements(browser), "the passage cards of the missed points"
    assert page.count("Past mocks") == 1
    time.sleep(1)
    assert browser.save_screenshot(str(tmp_path / "mock.png"))
