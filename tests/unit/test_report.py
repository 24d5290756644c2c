"""The terminal report: one summary line per period by default, tables of the -rs sections on request."""

from __future__ import annotations

import io

from rich.console import Console

from pvaflow.report import TerminalReport

SNAPSHOT = {
    "processorStats": {"nProcessed": 120, "processedRate": 40.0, "nMissed": 2, "nErrors": 1, "nRejected": 0},
    "publisherStats": {"nPublished": 119},
    "queueStats": {"nQueued": 3},
    "receiverStats": {"nReceived": 123},
}


def printed(sections) -> str:
    output = io.StringIO()
    TerminalReport(Console(file=output, width=200), sections, "consumer 2: x:image", None).publish(SNAPSHOT)
    return output.getvalue()


def test_a_periodic_report_is_one_line_by_default() -> None:
    lines = printed(None).splitlines()
    assert lines == ["consumer 2: x:image: processed 120 (40.0/s), missed 2, errors 1, rejected 0, queued 3, "
                     "published 119"]


def test_report_stats_asks_for_the_tables() -> None:
    table = printed(("processor", "receiver"))
    assert "nProcessed" in table and "nReceived" in table and "nPublished" not in table
    assert len(table.splitlines()) > 5
