"""Where the benchmarks find the repository, the shared data sets and their results folder."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"  # read in place, never copied into the repo
SCIFACT = SHARED_DATA / "scifact"
MLNOTES = SHARED_DATA / "mlnotes"
RESULTS = Path(__file__).resolve().parent / "results"
