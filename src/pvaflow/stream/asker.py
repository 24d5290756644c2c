"""One-off reads of a channel (a pvaccess get each) made in a child process, so that pvaccess's faults stay there.

A pvaccess get whose server goes away during it can hang for good or end its process with a segmentation
fault (docs/reliability.md; ``scripts/pvaccess_get_faults.py``). The stale-channel check asks exactly when a
server may be going away (its input went quiet), and a consumer must outlive that. So the get is made by a
child, ``python -m pvaflow.stream.asker``: one question per line on its standard input, one answer per line
on its standard output, in JSON. A child that has not answered ANSWER_MARGIN_SECONDS after the question's
own timeout is killed, and one that died is replaced at the next question; both are logged. The child ends
with its input, and gets SIGTERM if its parent dies (``parent_watch``).
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from typing import IO, Any

import pvaccess as pva

from ..parent_watch import stop_with_parent, with_parent_watch

logger = logging.getLogger(__name__)

ANSWER_MARGIN_SECONDS = 10.0  # past a question's timeout (a child starting on a loaded machine included)
CLOSE_SECONDS = 2.0
PROVIDER_NAMES = {pva.PVA: "pva", pva.CA: "ca"}


class Asker:
    """The parent side: ``ask()`` from any thread (one question at a time); ``close()`` at the end. ``what``
    names the channel in the log."""

    def __init__(self, what: str, command: list[str] | None = None) -> None:
        self.what = what
        self.command = command or [sys.executable, "-m", "pvaflow.stream.asker"]
        self.child: subprocess.Popen[bytes] | None = None
        self.pending = b""  # what the child wrote past the last answer read
        self.n_replaced = 0  # children that died or were killed
        self.asking = threading.Lock()  # one question at a time: the child answers in order

    def ask(self, channel_name: str, provider: Any, request: str, field: str | None, timeout: float) -> Any:
        """``field`` of a get of ``channel_name`` with ``request`` (``field`` "": None, the channel answered;
        None: the whole value as a dict, as ``toDict()`` gives it, arrays as lists); ``pva.PvaException`` when
        there is no answer (the get failed, or the child did not answer in ``timeout`` + ANSWER_MARGIN_SECONDS,
        or died)."""
        with self.asking:
            return self._ask(channel_name, provider, request, field, timeout)

    def _ask(self, channel_name: str, provider: Any, request: str, field: str | None, timeout: float) -> Any:
        child = self._child()
        question = {"channel": channel_name, "provider": PROVIDER_NAMES[provider], "request": request,
                    "field": field, "timeout": timeout}
        try:
            self._stdin(child).write(json.dumps(question).encode() + b"\n")
            self._stdin(child).flush()
            line = self._answer(child, timeout + ANSWER_MARGIN_SECONDS)
        except OSError as ex:  # the pipe to a child that died
            line = b""
            logger.debug("asking %s: %s", self.what, ex)
        if line is None:
            self._replace(child, f"did not answer in {timeout + ANSWER_MARGIN_SECONDS:g} s: killed")
            raise pva.PvaException(f"no answer from {channel_name}: the asking process hung")
        if not line:
            self._replace(child, f"ended (exit code {child.poll()})")
            raise pva.PvaException(f"no answer from {channel_name}: the asking process ended")
        answer = json.loads(line)
        if "error" in answer:
            raise pva.PvaException(answer["error"])
        return answer["value"]

    def close(self) -> None:
        child, self.child = self.child, None
        if child is None:
            return
        try:
            self._stdin(child).close()
            child.wait(CLOSE_SECONDS)
        except (OSError, subprocess.TimeoutExpired):
            child.kill()
            child.wait()

    def _child(self) -> subprocess.Popen[bytes]:
        if self.child is None:
            self.pending = b""
            self.child = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          env=with_parent_watch())
        return self.child

    @staticmethod
    def _stdin(child: subprocess.Popen[bytes]) -> IO[bytes]:
        assert child.stdin is not None  # opened with PIPE
        return child.stdin

    def _answer(self, child: subprocess.Popen[bytes], seconds: float) -> bytes | None:
        """The child's next line; b"" when it ended, None when it wrote none in ``seconds``."""
        assert child.stdout is not None  # opened with PIPE
        output = child.stdout.fileno()
        deadline = time.monotonic() + seconds
        while b"\n" not in self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([output], [], [], remaining)[0]:
                return None
            chunk = os.read(output, 65536)
            if not chunk:
                return b""
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line

    def _replace(self, child: subprocess.Popen[bytes], what_happened: str) -> None:
        """The child hung or died: it is ended, and the next question starts a new one."""
        self.n_replaced += 1
        logger.warning("the process asking %s %s (pvaccess; replaced %d times)",
                       self.what, what_happened, self.n_replaced)
        self.child = None
        child.kill()
        child.wait()


def json_value(value: Any) -> Any:
    """What JSON cannot hold as it is: numpy arrays and numbers as lists and numbers, anything else (pvaccess's
    scalar types in a union's description) as its text."""
    to_list = getattr(value, "tolist", None)
    return to_list() if to_list is not None else str(value)


def serve(questions: IO[str], answers: IO[str]) -> None:
    """The child side: answer each question line until the input ends."""
    providers = {name: provider for provider, name in PROVIDER_NAMES.items()}
    for line in questions:
        question = json.loads(line)
        channel = pva.Channel(question["channel"], providers[question["provider"]])
        channel.setTimeout(question["timeout"])
        try:
            value = channel.get(question["request"])
            field = question["field"]
            answer = {"value": value.toDict() if field is None else value[field] if field else None}
        except Exception as ex:  # noqa: BLE001 (pvaccess raises its own types; no record, no such field)
            answer = {"error": f"{type(ex).__name__}: {ex}"}
        answers.write(json.dumps(answer, default=json_value) + "\n")
        answers.flush()


def main() -> None:
    """The child: answers go to the standard output as it was at start; what pvAccess prints (its C code
    writes to file 1) goes to the standard error instead. Ctrl-C is the parent's to handle: the child ends
    with its input."""
    stop_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    serve(sys.stdin, answers)


if __name__ == "__main__":
    main()
