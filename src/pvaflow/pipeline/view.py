"""The runner's terminal view: one row per stage, end-to-end totals; plain lines when not on a terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from .runner import Runner, StageState


def _count(state: StageState, key: str) -> str:
    return f"{state.total(key):.0f}" if state.stage.status else "-"


def process_text(state: StageState) -> str:
    failed_nodes = state.failed_nodes
    text = _running(state)
    return f"{text}, node {', '.join(dict.fromkeys(failed_nodes))} failed" if failed_nodes else text


def _running(state: StageState) -> str:
    if not state.processes:
        return "external"
    if state.failed:
        return "FAILED"
    if state.finished:
        return "finished"
    running = sum(process.alive for process in state.processes)
    if len(state.processes) > 1:
        return f"{running}/{len(state.processes)} running"
    return "running" if running else "stopped"


def nodes_text(state: StageState) -> str:
    return ",".join(dict.fromkeys(process.child.node or "-" for process in state.processes)) or "-"


def stage_table(runner: Runner, title: str) -> Table:
    table = Table(title=title)
    placed = any(process.child.node for state in runner.states for process in state.processes)
    columns = ("stage", "kind", *(("nodes",) if placed else ()), "process", "restarts", "in", "processed", "out",
               "rate (Hz)", "queued", "missed", "errors")
    for column in columns:
        table.add_column(column, justify="left" if column in ("stage", "kind", "nodes", "process") else "right")
    for state in runner.states:
        table.add_row(state.stage.name, state.stage.kind, *((nodes_text(state),) if placed else ()),
                      process_text(state), str(state.restarts),
                      _count(state, "nReceived"), _count(state, "nProcessed"), _count(state, "nPublished"),
                      f"{state.rate:.1f}" if state.stage.status else "-", _count(state, "nQueued"),
                      _count(state, "nMissed"), _count(state, "nErrors"))
    source, sink = runner.source_frames(), runner.sink_frames()
    after = runner.frames_after_last_through()
    table.caption = (f"source frames: {'-' if source is None else source}   "
                     f"frames through the last stage: {'-' if sink is None else f'{sink:.0f}'}"
                     + (f"   sent after the last one through: {after}" if after else ""))
    return table


class PipelineView:
    """``show(runner, final)`` for the runner: a live table on a terminal, log-style lines otherwise."""

    def __init__(self, console: Console, name: str) -> None:
        self.console = console
        self.name = name
        self.live: Live | None = None
        if console.is_terminal:
            self.live = Live(console=console, refresh_per_second=2)
            self.live.start()

    def __call__(self, runner: Runner, final: bool) -> None:
        if final:
            if self.live is not None:
                self.live.stop()
            self.console.print(stage_table(runner, f"pipeline {self.name}: summary"))
            return
        if self.live is not None:
            self.live.update(stage_table(runner, f"pipeline {self.name}"))
            return
        self.console.print(plain_line(runner), soft_wrap=True, markup=False)


def plain_line(runner: Runner) -> str:
    parts: list[Any] = []
    for state in runner.states:
        counts = (f" processed={state.total('nProcessed'):.0f} missed={state.total('nMissed'):.0f} "
                  f"errors={state.total('nErrors'):.0f}" if state.stage.status else "")
        parts.append(f"{state.stage.name}[{process_text(state)}{counts}]")
    return f"pipeline {runner.settings.name}: source={runner.source_frames()} " + " ".join(parts)
