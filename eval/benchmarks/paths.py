"""Where the benchmarks (and the tests) find the repository, the shared data sets and the results
folder."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _shared_data() -> Path:
    """``shared/data`` beside the checkout or beside one of its parent folders (a CI clone may
    sit deeper than the working copy); read in place, never copied into the repo."""
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

    from sharpnotes.eval.benchmarks.scale_bench import machine

    spec = getattr(sys.modules["__main__"], "__spec__", None)
    program = ["-m", spec.name] if spec is not None else [sys.argv[0]]
    command = "python " + shlex.join([*program, *sys.argv[1:]])
    payload = {"machine": machine(), "command": command, "settings": settings} | report
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
