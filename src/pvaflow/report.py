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


def summary_line(snapshot: dict[str, Any], title: str) -> str:
    """One line: what a periodic report says first (`-nc 4` prints four lines a period, not four tables)."""
    processor = snapshot.get("processorStats", {})
    published = snapshot.get("publisherStats", {}).get("nPublished", 0)
    queued = snapshot.get("queueStats", {}).get("nQueued", 0)
    return (f"{title}: processed {processor.get('nProcessed', 0)} ({processor.get('processedRate', 0.0):.1f}/s), "
            f"missed {processor.get('nMissed', 0)}, errors {processor.get('nErrors', 0)}, "
            f"rejected {processor.get('nRejected', 0)}, queued {queued}, published {published}")


class TerminalReport:
    """A snapshot sink that shows reports on the terminal (in place with ``live``): one summary line each, or with
    ``sections`` the table of those sections (-rs)."""

    def __init__(self, console: Console, sections: tuple[str, ...] | None, title: str, live: Live | None) -> None:
        self.console = console
        self.sections = sections
        self.title = title
        self.live = live

    def publish(self, snapshot: dict[str, Any]) -> None:
        if self.sections is None:
            line = summary_line(snapshot, self.title)
            if self.live is not None:
                self.live.update(line)
            else:
                self.console.print(line, soft_wrap=True, markup=False)
            return
        table = render(snapshot, self.sections, self.title)
        if self.live is not None:
            self.live.update(table)
        else:
            self.console.print(table)
