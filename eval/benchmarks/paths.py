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
