"""The ``sharpnotes`` command line with a crash plan armed (``sharpnotes.ingest.faults``), for the
crash tests' subprocesses: ``python tests/armed_cli.py STAGE:N[:ACTION] ingest NOTES``."""

import sys

from sharpnotes.app.cli import cli
from sharpnotes.ingest import faults

if __name__ == "__main__":
    faults.arm(sys.argv[1])
    cli(sys.argv[2:], prog_name="sharpnotes")
