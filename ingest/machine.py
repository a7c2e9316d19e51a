"""What this machine is: its CPU, the cores this process may use, the libraries installed.
Backend choices and benchmark results record these."""

from __future__ import annotations

import os
import platform
from functools import cache
from importlib import metadata
from pathlib import Path

from sharpnotes.ingest.settings import Settings

_LIBRARIES = ("torch", "transformers", "sentence-transformers", "onnxruntime", "onnx", "tokenizers")


def cpu_model() -> str:
    fields = _cpuinfo()
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields:
        name += f" (family {fields['cpu family']} model {fields.get('model')})"
    return name


def cpu_flags() -> frozenset[str]:
    fields = _cpuinfo()
    return frozenset((fields.get("flags") or fields.get("Features") or "").split())


@cache
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields from /proc/cpuinfo; empty off Linux."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def thread_count(settings: Settings) -> int:
    """`settings.models.threads`, or the cores this process may use (in a container too)."""
    if settings.models.threads:
        return settings.models.threads
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def library_versions() -> dict[str, str]:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "none"
    return versions
