"""Imports the modules that register the built-in generators (each imports its heavy
libraries only when a generator is created)."""

from app import extractive, llm  # noqa: F401
