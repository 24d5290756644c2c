"""The start-up look-up of a stage's own names (a name served by another process: tests/system/test_edges.py)."""

from __future__ import annotations

import logging

import pytest

from pvaflow.errors import ChannelError
from pvaflow.stream import names_served
from pvaflow.stream.names_served import NameCheck


def test_names_nobody_serves_pass_and_the_asking_process_is_gone() -> None:
    check = NameCheck(["nobody:serves:a", "nobody:serves:b", "nobody:serves:a"], "consumer 1")
    check.raise_if_served()
    assert check.asker is not None and check.asker.returncode == 0


def test_a_name_answered_is_refused_naming_it(monkeypatch) -> None:
    # the asking process's answer as a serving server would give it (serving here: the system test)
    monkeypatch.setattr(names_served, "ASKER", "print('answered:name')")
    with pytest.raises(ChannelError, match="consumer 1: channel answered:name is served already"):
        NameCheck(["answered:name"], "consumer 1").raise_if_served()


def test_a_look_up_that_fails_is_one_warning_and_the_names_are_taken_as_free(monkeypatch, caplog) -> None:
    monkeypatch.setattr(names_served, "ASKER", "import sys; sys.exit('pvaccess cannot start')")
    with caplog.at_level(logging.WARNING, logger=names_served.__name__):
        NameCheck(["free:a", "free:b"], "consumer 1").raise_if_served()
    assert [record.getMessage() for record in caplog.records] == [
        "consumer 1: the look-up of free:a, free:b failed (exit code 1: pvaccess cannot start): not checked "
        "whether another process serves them"]


def test_nothing_is_asked_through_a_name_server(monkeypatch) -> None:
    monkeypatch.setenv("EPICS_PVA_NAME_SERVERS", "127.0.0.1:5075")
    check = NameCheck(["any:name"], "mirror")
    assert check.asker is None
    check.raise_if_served()
