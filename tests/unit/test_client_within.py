"""within(): a pvaccess call that does not return (a get whose server went away) is given up on, bounded."""

from __future__ import annotations

import threading
import time

import pvaccess as pva
import pytest

from pvaflow.stream import client


def test_a_call_that_never_returns_is_given_up_on_after_its_timeout_and_the_margin(monkeypatch) -> None:
    monkeypatch.setattr(client, "HUNG_SECONDS", 0.3)
    release = threading.Event()
    started = time.monotonic()
    try:
        with pytest.raises(pva.PvaException, match="get x: pvaccess had not returned 0.5 s later"):
            client.within(lambda: release.wait(30.0), 0.2, "get x")
        assert 0.5 <= time.monotonic() - started < 10.0
    finally:
        release.set()  # the thread left behind ends


def test_what_the_call_returns_or_raises_comes_back() -> None:
    def no_answer() -> None:
        raise pva.PvaException("no answer")

    assert client.within(lambda: 7, 1.0, "get x") == 7
    with pytest.raises(pva.PvaException, match="no answer"):
        client.within(no_answer, 1.0, "get x")
