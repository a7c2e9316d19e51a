"""Where the benchmarks (and the tests) find the repository, the shared data sets and the results
folder."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _shared_data() -> Path:
    """``SHARPNOTES_SHARED_DATA``, else ``shared/data`` beside the checkout or beside one of its
    parent folders (a CI clone may sit deeper than the working copy); read in place, never
    copied into the repo."""
    import os

    if named := os.environ.get("SHARPNOTES_SHARED_DATA"):
        return Path(named)
    for folder in REPO.parents:
        if (folder / "shared" / "data").is_dir():
            return folder / "shared" / "data"
    return REPO.parent / "shared" / "data"


SHARED_DATA = _shared_data()
SCIFACT = SHARED_DATA / "scifact"
MLNOTES = SHARED_DATA / "mlnotes"
RESULTS = Path(__file__).resolve().parent / "results"


def write_results(path: Path, report: dict, settings: dict) -> None:
    """A results file: the report with the machine, the settings, the command line and the date
    (``machine()`` records the date and the load average of the run)."""
    import json
    import shlex
    import sys

    spec = getattr(sys.modules["__main__"], "__spec__", None)
    program = ["-m", spec.name] if spec is not None else [sys.argv[0]]
    command = "python " + shlex.join([*program, *sys.argv[1:]])
    payload = {"machine": machine(), "command": command, "settings": settings} | report
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")


def machine() -> dict:
    """The CPU family and flags, cores, libraries, memory, load average and date of a run."""
    import os
    import time
    from importlib.metadata import version

    from sharpnotes.ingest.machine import cpu_flags, cpu_model, library_versions

    flags = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")
    return {
        "cpu": cpu_model(),
        "flags": sorted(set(flags) & cpu_flags()),
        "cores": len(os.sched_getaffinity(0)),
        "libraries": library_versions() | {n: version(n) for n in ("chromadb", "bm25s", "numpy")},
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],  # other jobs share the cores
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
