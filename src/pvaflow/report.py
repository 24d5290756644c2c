"""Terminal view (rich) of a stats snapshot: periodic reports and the final report."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

SECTION_KEYS = {
    "receiver": "receiverStats",
    "publisher": "publisherStats",
    "queue": "queueStats",
    "processor": "processorStats",
    "user": "userStats",
    "collector": "collectorStats",
    "metadata": "metadataStats",
}


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested sections (one per metadata channel, say) as ``outer.inner`` rows."""
    rows: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            rows.update(_flat(value, f"{prefix}{key}."))
        else:
            rows[f"{prefix}{key}"] = value
    return rows


def render(snapshot: dict[str, Any], sections: tuple[str, ...], title: str) -> Table:
    """One table: a row per statistic of the chosen sections."""
    table = Table(title=title, show_lines=False)
    table.add_column("section")
    table.add_column("statistic")
    table.add_column("value", justify="right")
    for section in sections:
        values = _flat(snapshot.get(SECTION_KEYS[section]) or {})
        for index, (key, value) in enumerate(values.items()):
            table.add_row(section if index == 0 else "", key, _format(value))
    return table


class TerminalReport:
    """A snapshot sink that shows reports on the terminal (in place with ``live``)."""

    def __init__(self, console: Console, sections: tuple[str, ...], title: str, live: Live | None) -> None:
        self.console = console
        self.sections = sections
        self.title = title
        self.live = live

    def publish(self, snapshot: dict[str, Any]) -> None:
        table = render(snapshot, self.sections, self.title)
        if self.live is not None:
            self.live.update(table)
        else:
            self.console.print(table)
