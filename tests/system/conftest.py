"""Fixtures of the system tests that need more than tests/conftest.py: a real browser."""

from .browser import browser  # noqa: F401 (a fixture: the viewer's tests ask for it by name)
