"""Checks of configuration values (-pa, --input-args / --output-args, control-channel configure), one line
per error."""

from __future__ import annotations

import json
from typing import Any

from .errors import ConfigError


def checked_int(key: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    """``value`` if it is an integer (not a bool) within [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (
            maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"{minimum}-{maximum}"
        raise ConfigError(f"{key} must be an integer {bounds}, not {value!r}")
    return value


def checked_positive(key: str, value: Any) -> float:
    """``value`` as a float if it is a number (not a bool) above zero."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{key} must be a number > 0, not {value!r}")
    return float(value)


def checked_number(key: str, value: Any, minimum: float) -> float:
    """``value`` as a float if it is a number (not a bool) at or above ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum:
        raise ConfigError(f"{key} must be a number >= {minimum:g}, not {value!r}")
    return float(value)


def checked_flag(key: str, value: Any) -> bool:
    """``value`` as a bool if it is true or false, or 1 or 0 (pvaPy's documentation writes ``"sign": 1``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ConfigError(f"{key} must be true or false (or 1 or 0), not {value!r}")


def json_object(what: str, text: str) -> dict[str, Any]:
    """``text`` parsed as a JSON object (never evaluated as Python); ``what`` names it in errors."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as ex:
        raise ConfigError(f"{what} are not valid JSON ({ex.msg} at column {ex.colno})") from ex
    if not isinstance(value, dict):
        raise ConfigError(f"{what} must be a JSON object, not {type(value).__name__}")
    return value
