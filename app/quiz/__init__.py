"""Quizzes from retrieved passages, grading and spaced review."""
