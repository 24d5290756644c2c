"""The pipeline page's rows: one per stage, from the runner (``run --view``) or from the status channels alone
(``view --pipeline``), and the rates of the last minutes."""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

from ..pipeline.runner import Runner
from ..pipeline.spec import Stage
from ..pipeline.status_watch import StatusWatch, status_counts
from ..pipeline.view import nodes_text, process_text

COUNT_NAMES = {"received": "nReceived", "processed": "nProcessed", "published": "nPublished",
               "queued": "nQueued", "missed": "nMissed", "errors": "nErrors"}
HISTORY_SECONDS = 600.0  # the rate plots go back this far


def output_channels(stage: Stage) -> list[str]:
    """The channels a stage's processes publish (a consumer stage: one per consumer)."""
    if "*" in stage.output:
        return [stage.output.replace("*", str(index)) for index in range(1, stage.count + 1)]
    return [stage.output] if stage.output else []


def _row(stage: Stage, state: str, restarts: int, counts: dict[str, float] | None, rate: float | None,
         nodes: str = "") -> dict[str, Any]:
    return {"name": stage.name, "kind": stage.kind, "state": state, "restarts": restarts, "nodes": nodes,
            "counts": None if counts is None else {name: counts.get(key, 0) for name, key in COUNT_NAMES.items()},
            "rate": rate, "outputs": output_channels(stage), "status": stage.status, "control": stage.control}


class StageRows(Protocol):
    def rows(self) -> list[dict[str, Any]]: ...


class RunnerRows:
    """What the runner knows of its stages (state and restarts of its own processes, counts summed)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for state in self.runner.states:
            counts = {key: state.total(key) for key in COUNT_NAMES.values()} if state.stage.status else None
            nodes = nodes_text(state)
            rows.append(_row(state.stage, process_text(state), state.restarts, counts,
                             state.rate if state.stage.status else None, "" if nodes == "-" else nodes))
        return rows


class WatchedRows:
    """What the stages' status channels say, without the runner: a process is up while its channel answers;
    a restart shows as a new start time on its channel."""

    def __init__(self, stages: list[Stage]) -> None:
        self.stages = stages
        self.watch = StatusWatch([name for stage in stages for name in stage.status])
        self.start_times: dict[str, float] = {}
        self.restarts: dict[str, int] = {}

    def start(self) -> None:
        self.watch.start()

    def stop(self) -> None:
        self.watch.stop()

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for stage in self.stages:
            latest = {name: self.watch.latest.get(name) for name in stage.status}
            values = [value for value in latest.values() if value is not None]
            for name, value in latest.items():
                if value is not None:
                    self._note_start(name, value)
            counts = status_counts(values)
            if not stage.status:
                state = "external" if stage.kind == "channel" else "no status channel"
            elif not values:
                state = "no status yet"
            else:
                reporting = len(values)
                state = "reporting" if reporting == len(stage.status) else f"{reporting}/{len(stage.status)} reporting"
            restarts = sum(self.restarts.get(name, 0) for name in stage.status)
            rows.append(_row(stage, state, restarts, counts.counts if counts else None,
                             counts.rate if counts else None))
        return rows

    def _note_start(self, name: str, status: dict[str, Any]) -> None:
        started = status.get("processorStats", {}).get("startTime")
        if started is None:
            return
        if name in self.start_times and started != self.start_times[name]:
            self.restarts[name] = self.restarts.get(name, 0) + 1
        self.start_times[name] = started


class RateHistory:
    """Each stage's processing rate over the last HISTORY_SECONDS, sampled when the page is updated."""

    def __init__(self) -> None:
        self.samples: dict[str, deque[tuple[float, float]]] = {}

    def add(self, now: float, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if row["rate"] is None:
                continue
            samples = self.samples.setdefault(row["name"], deque())
            samples.append((now, row["rate"]))
            while samples and now - samples[0][0] > HISTORY_SECONDS:
                samples.popleft()

    def series(self, now: float) -> dict[str, list[tuple[float, float]]]:
        """Per stage: (seconds before now, rate) pairs, oldest first."""
        return {name: [(round(time - now, 1), round(rate, 1)) for time, rate in samples]
                for name, samples in self.samples.items()}
