"""pvaPy's documented command lines, run with pvaflow's tools.

The workflow tests hold the commands of pvaPy's streaming-framework document
(documentation/streamingFramework.md, pvaPy 5.6) as written there. A command
becomes an argument list as a shell would read it; then only what the issue
allows changes:

- the tool: ``pvapy-hpc-consumer`` -> ``consumer``, and so on;
- ``/path/to/NAME``: a file of ``tests/system/workflows`` (our processors
  written in pvaPy's style, with the names of pvaPy's examples), or a path
  the test gives (an output directory, a key file);
- values of the options in ``lowered`` (frame rates, run times, report
  periods), so the workflow fits a loaded 2-core machine;
- ``hostA``: 127.0.0.1, and ports named in ``ports`` (the firewall example).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

WORKFLOW_PROCESSORS = Path(__file__).parent / "workflows"
TOOLS = {
    "pvapy-hpc-consumer": "consumer",
    "pvapy-hpc-collector": "collector",
    "pvapy-ad-sim-server": "sim-server",
    "pvapy-mirror-server": "mirror",
}
PATH_PREFIX = "/path/to/"


def documented(text: str, lowered: dict[str, str] | None = None, paths: dict[str, str] | None = None,
               ports: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """(pvaflow arguments, environment variables) of one documented command.

    ``text`` is the command as in the document, ``$ `` prompt and backslash
    continuations included. Where the document forgets a continuation
    backslash (two commands do), the lines are still read as one command,
    as a user fixing the copy would.
    """
    lines = [line.rstrip().removesuffix("\\") for line in text.strip().splitlines()]
    words = shlex.split(" ".join(lines).removeprefix("$ "))
    env: dict[str, str] = {}
    while "=" in words[0] and not words[0].startswith("-"):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    args = [TOOLS[words.pop(0)]]
    lowered = lowered or {}
    for index, word in enumerate(words):
        if index > 0 and words[index - 1] in lowered:
            word = lowered[words[index - 1]]
        args.append(_local_paths(word, paths or {}))
    for name, value in env.items():
        value = re.sub(r"\b\d+\b", lambda number: (ports or {}).get(number.group(), number.group()), value)
        env[name] = value.replace("hostA", "127.0.0.1")
    return args, env


def _local_paths(word: str, paths: dict[str, str]) -> str:
    while PATH_PREFIX in word:
        start = word.index(PATH_PREFIX)
        end = start + len(PATH_PREFIX)
        while end < len(word) and (word[end].isalnum() or word[end] in "._/-"):
            end += 1
        name = word[start + len(PATH_PREFIX):end]
        local = paths.get(name, str(WORKFLOW_PROCESSORS / name))
        word = word[:start] + local + word[end:]
    return word
