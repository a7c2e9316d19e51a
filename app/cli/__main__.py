"""``python -m sharpnotes.app.cli``: the same as the ``sharpnotes`` command."""

from sharpnotes.app.cli import main

main()
