"""Test-only fault injection: kill the process with a real SIGKILL at a named point of an ingest.

The crash tests run the command line armed with a plan, which is not a setting
(``tests/armed_cli.py STAGE:N[:ACTION] ingest NOTES``):

``STAGE:N`` kills the process the N-th time it reaches ``crash_point(STAGE)``; ``STAGE:N:SECONDS``
instead starts a timer there that kills it SECONDS later, while the work after the point (a
Chroma write, an embedding batch) is running; ``STAGE:N:stop`` stops the process (SIGSTOP) there,
for a test to act (stop a Chroma server) before it sends SIGCONT. Unarmed, as it always is in
the ``sharpnotes`` command, every ``crash_point`` is a dictionary lookup and nothing else.
"""

from __future__ import annotations

import os
import signal
import threading

_plan: dict[str, tuple[int, str]] = {}
_seen: dict[str, int] = {}


def arm(spec: str | None) -> None:
    """Set the plan from a ``STAGE:N[:SECONDS]`` string (``None`` or empty disarms)."""
    _plan.clear()
    _seen.clear()
    if not spec:
        return
    stage, _, rest = spec.partition(":")
    nth, _, delay = rest.partition(":")
    _plan[stage] = (int(nth or 1), delay)


def crash_point(stage: str) -> None:
    if stage not in _plan:
        return
    _seen[stage] = _seen.get(stage, 0) + 1
    nth, action = _plan[stage]
    if _seen[stage] != nth:
        return
    if action == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
        return
    if not action:
        _kill()
    timer = threading.Timer(float(action), _kill)
    timer.daemon = True
    timer.start()


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
