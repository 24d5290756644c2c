"""keeping_thread_state: callbacks are forwarded unchanged, once per call, from any thread."""

from __future__ import annotations

import threading

from pvaflow.stream.callback_thread import keeping_thread_state


def test_callbacks_are_forwarded_from_every_thread() -> None:
    calls: list[tuple[int, str]] = []
    wrapped = keeping_thread_state(lambda number, text: calls.append((number, text)))
    threads = [threading.Thread(target=lambda n=n: [wrapped(n, f"x{i}") for i in range(3)]) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert sorted(calls) == sorted((n, f"x{i}") for n in range(4) for i in range(3))
    wrapped(9, "main")  # and again on a thread it has seen
    assert calls[-1] == (9, "main")
