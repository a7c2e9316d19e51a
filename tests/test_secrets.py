"""Binding and secrets: the app listens on 127.0.0.1 unless told otherwise (and then warns);
API keys come from the environment or a config file only other users cannot read; a key is
never logged, never shown, never written under SHARPNOTES_HOME."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, run_cli, write_notes
from sharpnotes.app.cli.serve import exposure_warning, streamlit_command
from sharpnotes.ingest.settings import ConfigFileError, PathSettings, Settings, get_settings

KEY = "sk-sharpnotes-test-key-7f3a9c2e51"


# ------------------------------------------------------------------ binding


def test_app_command_binds_to_loopback_by_default() -> None:
    command = streamlit_command(get_settings())
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[1:3] == ["-m", "sharpnotes.app.ui.launch"]  # Streamlit's run, preloading
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.5"):
        assert exposure_warning(host, 8501) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "notes.example.org"])
def test_other_addresses_need_the_setting_and_warn(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHARPNOTES_APP_HOST", host)
    command = streamlit_command(get_settings())
    assert command[command.index("--server.address") + 1] == host
    warning = exposure_warning(host, 8501)
    assert warning and "\n" not in warning
    assert f"SHARPNOTES_APP_HOST={host}" in warning and "no login" in warning


def _listening(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def _start_app(port: int, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sharpnotes.app.cli", "app", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 90) -> set[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
        if found := _listening(port):
            return found
        time.sleep(0.5)
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux's /proc/net/tcp")
def test_the_real_app_listens_on_loopback_only_unless_told(tmp_path: Path) -> None:
    from test_browser import _free_port

    port = _free_port()
    proc = _start_app(port, dict(os.environ))
    try:
        assert proc.stdout.readline().strip() == f"sharpnotes app: http://127.0.0.1:{port}"  # type: ignore[union-attr]
        assert _wait_listening(port, proc) == {"0100007F"}  # 127.0.0.1, nothing else
    finally:
        _stop(proc)
    assert "warning" not in proc.stderr.read()  # type: ignore[union-attr]

    port = _free_port()
    proc = _start_app(port, {**os.environ, "SHARPNOTES_APP_HOST": "0.0.0.0"})
    try:
        warning = proc.stderr.readline()  # type: ignore[union-attr]
        assert warning.startswith("warning: SHARPNOTES_APP_HOST=0.0.0.0 serves the app")
        assert _wait_listening(port, proc) == {"00000000"}  # every interface, as asked
    finally:
        _stop(proc)


# ------------------------------------------------------------------ the config file


def write_config(path: Path, text: str, mode: int) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_config_file_supplies_settings_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(
        tmp_path / "config.env",
        f"SHARPNOTES_OPENAI_API_KEY={KEY}\nSHARPNOTES_ANSWER_K=3\nSHARPNOTES_GENERATOR=openai\n",
        0o600,
    )
    monkeypatch.setenv("SHARPNOTES_CONFIG", str(config))
    settings = Settings()
    assert settings.llm.openai_api_key and settings.llm.openai_api_key.get_secret_value() == KEY
    assert settings.answers.answer_k == 3 and settings.answers.generator == "openai"
    assert KEY not in repr(settings) and KEY not in str(settings.model_dump())
    monkeypatch.setenv("SHARPNOTES_ANSWER_K", "9")
    assert Settings().answers.answer_k == 9
    # an empty variable is no value: the config file's, or the default (never the current folder
    # as the home)
    monkeypatch.setenv("SHARPNOTES_ANSWER_K", "")
    monkeypatch.setenv("SHARPNOTES_HOME", " ")
    assert Settings().answers.answer_k == 3
    assert Settings().paths.home == PathSettings().home and PathSettings().home.is_absolute()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_readable_config_file_with_a_secret_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    config = write_config(tmp_path / "config.env", f"SHARPNOTES_OPENAI_API_KEY={KEY}\n", mode)
    monkeypatch.setenv("SHARPNOTES_CONFIG", str(config))
    with pytest.raises(ConfigFileError, match="chmod 600") as info:
        Settings()
    assert KEY not in str(info.value) and "SHARPNOTES_OPENAI_API_KEY" in str(info.value)
    done = run_cli("status", env=dict(os.environ))  # the CLI: one line, status 1
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "chmod 600" in done.stderr
    assert KEY not in done.stderr + done.stdout


def test_a_readable_config_file_without_secrets_is_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "config.env", "SHARPNOTES_ANSWER_K=4\n", 0o644)
    monkeypatch.setenv("SHARPNOTES_CONFIG", str(config))
    assert Settings().answers.answer_k == 4


# ------------------------------------------------------------------ never logged, shown, stored


@pytest.mark.slow
def test_key_is_never_logged_shown_or_stored(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real ingest and a real ``ask`` through the openai generator (against a stub server
    that checks it received the key), with every logger at DEBUG; then the Settings page and
    the Chat page in AppTest; then every file under SHARPNOTES_HOME."""
    from streamlit.testing.v1 import AppTest
    from test_llm import StubServer

    config = write_config(
        tmp_path / "config.env",
        f"SHARPNOTES_OPENAI_API_KEY={KEY}\nSHARPNOTES_GENERATOR=openai\n",
        0o600,
    )
    notes = write_notes(tmp_path / "notes")
    server = StubServer(
        lambda req: "Each prediction is matched one-to-one with a ground-truth box [1]."
    )
    env = {
        **os.environ,
        "SHARPNOTES_CONFIG": str(config),
        "SHARPNOTES_OPENAI_BASE_URL": server.url,
        "SHARPNOTES_OPENAI_MODEL": "stub-model",
    }
    debug = (  # the real CLI with every logger at DEBUG
        "import logging; logging.basicConfig(level=logging.DEBUG); "
        "from sharpnotes.app.cli import main; main()"
    )
    outputs = []
    try:
        for args in (
            ["ingest", str(notes)],
            ["ask", "Why does DETR not need non-maximum suppression?", "--json"],
            ["ask", "How is each prediction matched to a box?"],
            ["status"],
        ):
            done = subprocess.run(
                [sys.executable, "-c", debug, *args],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, done.stderr[-2000:]
            outputs.append(done.stdout + done.stderr)
        assert any("DEBUG" in out for out in outputs)  # the loggers really were at DEBUG
        assert [r["auth"] for r in server.requests] == [f"Bearer {KEY}"] * 2  # the key was used
        assert json.loads(_json_line(outputs[1]))["generator"] == "openai"
        for out in outputs:
            assert KEY not in out

        for name in ("SHARPNOTES_CONFIG", "SHARPNOTES_OPENAI_BASE_URL", "SHARPNOTES_OPENAI_MODEL"):
            monkeypatch.setenv(name, env[name])  # the pages read the same config
        main = str(REPO / "app" / "ui" / "main.py")
        page = AppTest.from_file(main, default_timeout=60).run().switch_page("views/settings.py")
        page.run()
        assert not page.exception
        next(b for b in page.button if b.label == "Test the generator").click().run()
        table = page.dataframe[0].value
        shown = dict(zip(table["setting"], table["value"], strict=True))
        assert shown["SHARPNOTES_OPENAI_API_KEY"] == "set (hidden)"
        next(b for b in page.button if b.label == "Test the generator").click().run()
        assert any("reachable" in s.value for s in page.success)  # it reached the stub, keyed
        chat = AppTest.from_file(main, default_timeout=60).run().switch_page("views/chat.py")
        chat.run()
        chat.chat_input[0].set_value("Why does DETR not need non-maximum suppression?").run()
        assert not chat.exception
        rendered = json.dumps(
            [
                str(e.value)
                for kind in ("markdown", "html", "success", "error", "info", "text")
                for e in (page.get(kind) + chat.get(kind))
            ]  # fmt: skip
        )
        assert KEY not in rendered + table.to_string()
    finally:
        server.close()

    stored = _snapshot(settings.paths.home)
    assert any(p.name == "catalog.sqlite" for p in stored)
    assert any(p.parent.name == "conversations" for p in stored)  # the chat was saved
    for path, data in stored.items():
        assert KEY.encode() not in data and KEY.encode("utf-16-le") not in data, path


def _snapshot(home: Path) -> dict[Path, bytes]:
    """Every file under HOME with its bytes. SQLite removes a -wal file when its last connection
    closes (after copying it into the database), so a file that vanishes mid-read restarts the
    scan: the database is then read again with what the WAL held."""
    for _ in range(20):
        try:
            return {p: p.read_bytes() for p in home.rglob("*") if p.is_file()}
        except FileNotFoundError:
            continue
    raise AssertionError(f"files under {home} kept vanishing while they were read")


def _json_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("{"))


# ------------------------------------------------------------------ the Host header (DNS rebinding)


def _request(port: int, host: str, path: str = "/", upgrade: bool = False) -> tuple[int, str]:
    """(status, headers) of one raw HTTP/1.1 request to 127.0.0.1 that says it is for
    ``host``: what a page whose name an attacker rebound to 127.0.0.1 sends."""
    import socket

    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    if upgrade:  # a websocket handshake, as the app's page opens it (Origin: the page's own)
        lines[-1] = "Connection: Upgrade"
        lines += [
            "Upgrade: websocket",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            f"Origin: http://{host}",
        ]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                break
            head += chunk
    text = head.split(b"\r\n\r\n")[0].decode("latin-1")
    return int(text.split()[1]), text.lower()


def test_the_app_answers_loopback_names_and_the_configured_ones_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sharpnotes.app.ui.security import allowed_hosts, host_patterns

    assert allowed_hosts(get_settings()) == ["localhost", "127.0.0.1", "::1"]
    command = streamlit_command(get_settings())
    websocket_hosts = [
        command[i + 1] for i, a in enumerate(command) if a == "--server.allowedHosts"
    ]
    assert websocket_hosts == ["localhost", "127.0.0.1", "::1"]
    assert command[2] == "sharpnotes.app.ui.launch"  # streamlit run, preloading the index
    assert command[3].endswith("app/ui/asgi.py")  # the pages behind the middleware
    monkeypatch.setenv("SHARPNOTES_APP_HOST", "0.0.0.0")
    monkeypatch.setenv("SHARPNOTES_APP_ALLOWED_HOSTS", "notes.lan, 192.168.1.20")
    served = allowed_hosts(get_settings())
    assert {"notes.lan", "192.168.1.20", "localhost"} <= set(served) and "0.0.0.0" not in served
    assert "[::1]" in host_patterns(served)


@pytest.mark.slow
def test_the_real_app_refuses_other_host_names_on_every_route(tmp_path: Path) -> None:
    from test_browser import _free_port

    port = _free_port()
    proc = _start_app(port, dict(os.environ))
    try:
        _wait_listening(port, proc)
        deadline = time.monotonic() + 60
        while _request(port, f"127.0.0.1:{port}", "/_stcore/health")[0] != 200:
            assert time.monotonic() < deadline, "the app never became healthy"
            time.sleep(0.5)
        for host in (f"attacker.example:{port}", f"127.0.0.1.nip.io:{port}", "evil"):
            for path in ("/", "/_stcore/health", "/_stcore/host-config", "/static/x.js"):
                assert _request(port, host, path)[0] == 400, (host, path)  # was 200
            assert _request(port, host, "/_stcore/stream", upgrade=True)[0] == 400, host  # 101
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
            status, headers = _request(port, host)
            assert status == 200, host
            assert "content-security-policy: img-src 'self' data: blob:" in headers
            assert _request(port, host, "/_stcore/stream", upgrade=True)[0] == 101, host
    finally:
        _stop(proc)
