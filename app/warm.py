"""A warm query process for the command line: ``sharpnotes search`` and ``ask`` answered by a
process that already holds the index and the embedding model.

A new Python process pays for importing Chroma and onnxruntime, loading the model and BM25
before its first query: several seconds on a small CPU, for a query that takes a fraction of a
second once loaded. So the first ``search`` or ``ask`` runs in its own process as always and then
starts this one in the background; the next ones send their query over a Unix socket under
``SHARPNOTES_HOME/run`` (user-only permissions) and print its reply. It exits after
``SHARPNOTES_WARM_MINUTES`` without a query (0: never started), when its socket is taken over,
and when the index is rebuilt.

It answers only a client whose settings, package version and code are the ones it loaded
(``fingerprint``); any other client, or any failure to connect, falls back to the cold path, so
the warm process can only make a command faster, never answer it differently.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.ingest.settings import Settings

PROTOCOL = 1
MAX_REQUEST = 1 << 20  # bytes: a question, never a document
CHECK_EVERY_S = 2.0  # how often an idle server looks at its socket, its index and the clock
_PACKAGE = Path(__file__).resolve().parents[1]


def run_dir(settings: Settings) -> Path:
    return settings.paths.home / "run"


def socket_path(settings: Settings) -> Path:
    return run_dir(settings) / "query.sock"


def fingerprint(settings: Settings) -> str:
    """What a reply depends on besides the query: every setting (secrets included, hashed), the
    protocol, and the newest source file of the package (an upgrade or an edit changes it)."""
    values = settings.model_dump(mode="python")

    def plain(value: Any) -> Any:
        reveal = getattr(value, "get_secret_value", None)
        return reveal() if reveal else str(value)

    newest = max(
        (p.stat().st_mtime_ns for d in ("app", "ingest") for p in (_PACKAGE / d).rglob("*.py")),
        default=0,
    )
    blob = json.dumps([PROTOCOL, values, newest], sort_keys=True, default=plain)
    return hashlib.sha256(blob.encode()).hexdigest()


# --- the client --------------------------------------------------------------------------------


def request(settings: Settings, op: str, args: dict, timeout_s: float = 600.0) -> dict | None:
    """The warm process's reply to one query, or None when there is none to ask (not running,
    switched off, other settings, an error on the way): the caller then runs the query itself."""
    path = socket_path(settings)
    if not settings.app.warm_minutes or not path.exists():
        return None
    message = {"op": op, "args": args, "fingerprint": fingerprint(settings)}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout_s)
            conn.connect(str(path))
            conn.sendall(json.dumps(message).encode() + b"\n")
            reply = _read_line(conn)
    except (OSError, ValueError):
        return None
    if reply is None or reply.get("declined"):
        return None
    return reply


def stop(settings: Settings) -> bool:
    """Ask the warm process of this home to leave now; False when none answered."""
    path = socket_path(settings)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(30)
            conn.connect(str(path))
            conn.sendall(json.dumps({"op": "stop"}).encode() + b"\n")
            reply = _read_line(conn)
    except (OSError, ValueError):
        return False
    return bool(reply and reply.get("stopping"))


def start(settings: Settings) -> None:
    """Start the warm process in the background (when switched on and not already running); the
    command that calls this has already printed its own reply."""
    if not settings.app.warm_minutes or len(str(socket_path(settings))) > 100:
        return  # a Unix socket path is limited to about 104 bytes
    import subprocess

    with contextlib.suppress(OSError):
        subprocess.Popen(
            [sys.executable, "-m", "sharpnotes.app.warm"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not killed with the terminal's process group
            close_fds=True,
        )


def _read_line(conn: socket.socket) -> dict | None:
    data = bytearray()
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > 64 * MAX_REQUEST:
            raise ValueError("reply too long")
    return json.loads(data) if data.endswith(b"\n") else None


# --- the server --------------------------------------------------------------------------------


def answer(searcher: Searcher, settings: Settings, op: str, args: dict) -> dict:
    """One query, as the cold path runs it; the reply holds what the command prints."""
    from sharpnotes.app.retrieval import Filters, unmatched_filters

    filters = Filters(folder=args.get("folder"), tag=args.get("tag"), ext=args.get("ext"))
    problem = unmatched_filters(searcher.catalog, filters)
    if problem:
        return {"error": problem}
    if op == "search":
        results = searcher.search(args["query"], k=args["k"], filters=filters, mode=args["mode"])
        return {"results": [r.to_dict() for r in results], "notices": searcher.notices()}
    if op == "ask":
        from sharpnotes.app.answer import answer_question
        from sharpnotes.app.generators import GeneratorError
        from sharpnotes.ingest.formats import StoredFormatError

        try:
            result = answer_question(
                args["question"], searcher, settings, filters=filters, k=args.get("k")
            )
        except (GeneratorError, StoredFormatError) as exc:
            return {"error": str(exc)}
        flagged = [check.text for check in result.sentences if not check.supported]
        return {"answer": result.to_dict(), "flagged": flagged, "notices": searcher.notices()}
    return {"declined": f"unknown op {op!r}"}


class Server:
    def __init__(self, settings: Settings, searcher: Searcher) -> None:
        self.settings = settings
        self.searcher = searcher
        self.fingerprint = fingerprint(settings)
        self.idle_s = settings.app.warm_minutes * 60
        self.last = time.monotonic()
        self.busy = 0
        self.lock = threading.Lock()
        self.stale = False
        self.stopping = False

    def index_usable(self) -> bool:
        """False once the index is gone or was rebuilt with other build settings (a model or
        chunker this process did not load); then it declines and exits."""
        from sharpnotes.ingest.index import check_compatible

        if not self.stale:
            try:
                catalog = self.searcher.catalog
                check_compatible(catalog, self.settings, self.searcher.model_id, "searched")
                self.stale = not catalog.get_meta("embed_model")
            except Exception:
                self.stale = True
        return not self.stale

    def serve(self, listener: socket.socket, path: Path, mine: int) -> None:
        """Accept queries until idle, taken over (``mine``: the inode of our socket file) or
        stale."""
        listener.settimeout(CHECK_EVERY_S)
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                if self._should_stop(path, mine):
                    return
                continue
            with self.lock:
                self.busy += 1
                self.last = time.monotonic()
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _should_stop(self, path: Path, mine: int) -> bool:
        try:
            taken_over = path.stat().st_ino != mine
        except OSError:
            taken_over = True
        with self.lock:
            idle = not self.busy and time.monotonic() - self.last > self.idle_s
        return self.stopping or taken_over or idle or not self.index_usable()

    def _handle(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(30)
                message = _read_line(conn)
                if message is None:
                    return
                if message.get("op") == "stop":
                    self.stopping = True
                    reply: dict = {"stopping": True}
                elif message.get("fingerprint") != self.fingerprint:
                    reply = {"declined": "other settings or code"}
                elif not self.index_usable():
                    reply = {"declined": "the index changed its build settings"}
                else:
                    try:
                        reply = answer(self.searcher, self.settings, message["op"], message["args"])
                    except Exception as exc:  # the client runs the query itself and says it
                        reply = {"declined": f"{type(exc).__name__}: {exc}"}
                conn.settimeout(None)
                conn.sendall(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
        except (OSError, ValueError):
            pass
        finally:
            with self.lock:
                self.busy -= 1
                self.last = time.monotonic()


def main() -> None:
    """Load the index, then serve until idle; one warm process per home (a lock file)."""
    import fcntl

    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.ingest.settings import get_settings

    settings = get_settings()
    if not settings.app.warm_minutes:
        return
    folder = run_dir(settings)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(folder / "warm.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # another warm process is starting or running
        searcher = Searcher(settings)
        searcher.search("warm up", k=1)  # the model, BM25 and both stores, before the socket
        searcher.warm_multilingual()
        from sharpnotes.app.answer import warm_up

        warm_up(searcher, settings)
        path = socket_path(settings)
        staged = path.with_name(f"{path.name}.{os.getpid()}")
        old_umask = os.umask(0o177)  # the socket: read and write for the user only
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
                listener.bind(str(staged))
                listener.listen(16)
                os.replace(staged, path)  # clients see a socket that already listens
                os.umask(old_umask)
                mine = path.stat().st_ino
                try:
                    Server(settings, searcher).serve(listener, path, mine)
                finally:
                    with contextlib.suppress(OSError):
                        if path.stat().st_ino == mine:  # not a newer process's socket
                            path.unlink()
        finally:
            os.umask(old_umask)
            with contextlib.suppress(OSError):
                staged.unlink()


if __name__ == "__main__":
    main()
