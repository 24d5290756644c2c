"""Logging set-up: the only module that adds logging handlers.

Library modules only call ``logging.getLogger(__name__)``; command-line
tools call :func:`configure_logging` once at start.
"""

from __future__ import annotations

import logging

from .errors import ConfigError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

LEVELS = ("debug", "info", "warning", "error", "critical")


def configure_logging(level: str | None = None, log_file: str | None = None) -> None:
    """Send pvaflow's log records to stderr or ``log_file`` at ``level``.

    With no level, only warnings and errors are shown.
    """
    name = (level or "warning").lower()
    if name not in LEVELS:
        raise ConfigError(f"unknown log level '{level}' (choose from {', '.join(LEVELS)})")
    handler: logging.Handler
    try:
        handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler()
    except OSError as ex:
        raise ConfigError(f"--log-file {log_file}: cannot write there ({ex.strerror})") from None
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(name.upper())
