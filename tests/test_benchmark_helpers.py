"""Helpers the benchmarks measure with, checked against a process whose memory is known."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from sharpnotes.eval.benchmarks.coldstart_bench import session_peak_rss_mib


def test_session_peak_counts_every_process_of_the_session() -> None:
    # a parent holding ~200 MiB that starts a child holding ~100 MiB, both in a new session
    code = (
        "import subprocess, sys, time\n"
        "held = bytearray(200 * 2**20)\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import time; held = bytearray(100 * 2**20); print(1, flush=True); time.sleep(60)'],"
        " stdout=subprocess.PIPE)\n"
        "child.stdout.readline()\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        peak = session_peak_rss_mib(proc.pid)
        assert 300 <= peak < 450
        assert session_peak_rss_mib(proc.pid + 10**7) == 0  # no such session
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
