"""The stale-channel check's asking process (stream/asker.py): it answers, and one that dies or hangs is
replaced, so that pvaccess's faults on a get (docs/reliability.md) never reach the consumer."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pvaccess as pva
import pytest

from pvaflow.stream import asker as asker_module
from pvaflow.stream.asker import Asker

PUBLISH_IDS = str(Path(__file__).parent / "publish_ids.py")


def test_the_asking_process_answers_and_one_that_dies_is_replaced(start_process, wait_for_channel) -> None:
    server = start_process(json.dumps({"channels": ["ask:out"], "updates": []}), script=PUBLISH_IDS)
    wait_for_channel("ask:out", server)
    asker = Asker("ask:out")
    try:
        record_id = asker.ask("ask:out", pva.PVA, "field(uniqueId)", "uniqueId", 2.0)
        assert isinstance(record_id, int)
        whole = asker.ask("ask:out", pva.PVA, "field()", None, 2.0)  # the whole value, as toDict() gives it
        assert isinstance(whole, dict) and whole["uniqueId"] >= record_id
        with pytest.raises(pva.PvaException, match="timed out"):  # the get's own failure, passed on
            asker.ask("ask:none", pva.PVA, "field(uniqueId)", "uniqueId", 0.3)
        child = asker._child()
        os.kill(child.pid, signal.SIGSEGV)  # as pvaccess's fault ends it
        child.wait(10)
        with pytest.raises(pva.PvaException, match="the asking process ended"):
            asker.ask("ask:out", pva.PVA, "field(uniqueId)", "uniqueId", 2.0)
        assert asker.n_replaced == 1
        assert asker.ask("ask:out", pva.PVA, "field(uniqueId)", "uniqueId", 2.0) == record_id, "a new one answers"
    finally:
        asker.close()


def test_an_asking_process_that_hangs_is_killed(monkeypatch) -> None:
    monkeypatch.setattr(asker_module, "ANSWER_MARGIN_SECONDS", 0.5)
    asker = Asker("x", command=[sys.executable, "-c", "import sys, time; sys.stdin.readline(); time.sleep(60)"])
    child = asker._child()
    with pytest.raises(pva.PvaException, match="hung"):
        asker.ask("x", pva.PVA, "field()", "value", 0.2)
    assert child.poll() is not None, "killed"
    assert asker.n_replaced == 1
    asker.close()
