"""A pipeline stage's options (TOML values by long option name): the Namespace its command's parser would give,
and the command line its process is started with.

The runner checks a stage through the first (the command's own option types, choices and checks, without a
command line parsed again) and starts it with the second; both read the same parser's options
(``OneLineParser.long_options``), so a key is taken or refused the same way by both doors.
"""

from __future__ import annotations

import argparse
import difflib
import json
from typing import Any

from ..errors import ConfigError


def option_text(value: Any) -> str:
    """A TOML value as the command line spells it (tables and arrays as JSON: processor-args and the like)."""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def option_argv(options: dict[str, Any]) -> list[str]:
    """``{"frame-rate": 100, "disable-curses": true}`` -> ``["--frame-rate", "100", "--disable-curses"]``."""
    argv: list[str] = []
    for key, value in options.items():
        if value is True:
            argv.append(f"--{key}")
        elif value is False or value is None:
            continue
        else:
            argv += [f"--{key}", option_text(value)]
    return argv


def unknown_option(known: dict[str, argparse.Action], key: str, kind: str, stage: str) -> ConfigError:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return ConfigError(f"stage {stage}: unknown {kind} option '{key}'{hint}")


def _converted(action: argparse.Action, text: str) -> Any:
    return action.type(text) if callable(action.type) else text


def stage_namespace(known: dict[str, argparse.Action], options: dict[str, Any], kind: str,
                    stage: str) -> argparse.Namespace:
    """The Namespace ``kind``'s parser gives for ``options``: defaults, then each value converted and checked by
    its option's own type and choices; every refusal one ConfigError line naming the stage and the key."""
    namespace = argparse.Namespace()
    for action in known.values():
        default = action.default
        setattr(namespace, action.dest, _converted(action, default) if isinstance(default, str) else default)
    for key, value in options.items():
        action = known.get(key)
        if action is None:
            raise unknown_option(known, key, kind, stage)
        if action.nargs == 0:  # a flag
            if not isinstance(value, bool):
                raise ConfigError(f"stage {stage}: {key} is a flag: true or false, not {value!r}")
            setattr(namespace, action.dest, action.const if value else action.default)
            continue
        try:
            converted = _converted(action, option_text(value))
        except (argparse.ArgumentTypeError, TypeError, ValueError) as ex:
            raise ConfigError(f"stage {stage}: {key}: {ex}") from ex
        if action.choices is not None and converted not in action.choices:
            raise ConfigError(f"stage {stage}: {key} must be one of {', '.join(map(str, action.choices))}, "
                              f"not {value!r}")
        setattr(namespace, action.dest, converted)
    return namespace
