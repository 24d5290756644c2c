"""Run a checked pipeline: one supervised child process per stage, a live view, a clean stop.

Stages start in dependency order (each after the stage it reads); sim-server
sources hold their first frame until every consumer and collector monitors
its input, then the runner signals them to start (``start-delay`` seconds
after the start at the latest; the runner warns when the pipeline was not
up by then; with --only, when stages run elsewhere, the sources wait their
start delay). A source that restarted waits its start delay. The runner stops
every stage, last started first, on Ctrl-C or SIGTERM, at the runtime, or
when every source has finished and nothing has moved for ``drain-seconds``.
A source told how many frames to send (``n-frames``) has finished once the runner counted them
all, when it runs every stage (it does not wait out the source's shutdown delay).
A stage process that dies is restarted (``restart = "on-failure"``, at most
``max-restarts`` times); the counts it had reached are kept in the totals,
and the ids between the last one it was seen at and the first one its next
incarnation processes are counted missed.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pvaccess as pva

from ..accounting import MissedObjects
from ..stream.client import get_within
from ..supervisor import LOCAL, Child, Launcher, RestartPolicy, Supervisor
from .source_counter import SourceCounter
from .spec import Pipeline, Stage
from .status_watch import COUNTS, SECTIONS, StatusWatch, input_monitored, status_counts

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
READY_TIMEOUT = 60.0
READY_POLL_SECONDS = 0.05
STOP_TIMEOUT = 20.0


@dataclass
class StageProcess:
    """One process of a stage (a consumer stage has one per consumer) and what the runner knows of it."""

    stage: str
    child: Child  # the supervised process: its command line, restarts, finished or failed
    status: list[str]  # its status channel(s)
    counts: dict[str, float] = field(default_factory=dict)  # from its status channels, this incarnation
    carried: dict[str, float] = field(default_factory=dict)  # from earlier incarnations
    sections: dict[str, dict[str, float]] = field(default_factory=dict)  # numeric SECTIONS, this incarnation
    rate: float = 0.0
    ids: tuple[int, int] = (0, 0)  # first and last object id processed, this incarnation (0: none)
    highest_id: int = 0  # the highest id it processed, over every incarnation
    resume_after: int | None = None  # the last id processed before it died, until its next first id

    @property
    def restarts(self) -> int:
        return self.child.restarts

    @property
    def finished(self) -> bool:
        return self.child.finished

    @property
    def failed(self) -> bool:
        return self.child.failed

    @property
    def alive(self) -> bool:
        return self.child.alive

    def died(self) -> None:
        """Its process died (restarted or not): keep what it counted, and where it was in the stream."""
        self.carried = {key: self.total(key) for key in COUNTS}
        self.counts = {}
        if self.ids[1]:
            self.resume_after = self.ids[1]
        self.ids = (0, 0)

    def total(self, key: str) -> float:
        return self.carried.get(key, 0) + self.counts.get(key, 0)

    def count_restart_gap(self) -> int:
        """Once the new incarnation has processed an object: the ids it never saw since the old one died,
        added to the missed count. Only for a process that gets every object (--oid-offset 1): frames a
        distributed consumer misses while it is down go to the others (a collector behind them counts
        any that are lost)."""
        first = self.ids[0]
        if self.resume_after is None or not first:
            return 0
        resume_after, self.resume_after = self.resume_after, None
        if not self.gets_every_object:
            return 0
        grid = MissedObjects()
        grid.observe(resume_after)
        gap = grid.observe(first)
        self.carried["nMissed"] = self.carried.get("nMissed", 0) + gap
        if gap:
            logger.warning("stage %s: %d object(s) between ids %d and %d were lost while it restarted (counted "
                           "missed)", self.stage, gap, resume_after, first)
        return gap

    @property
    def gets_every_object(self) -> bool:
        """It gets every object of its input (--oid-offset 1), not a share of a distributed stream."""
        return int(option(self.child.command, "--oid-offset") or 1) == 1


@dataclass
class StageState:
    """A stage and its processes (none for an external channel)."""

    stage: Stage
    processes: list[StageProcess]

    def total(self, key: str) -> float:
        return sum(process.total(key) for process in self.processes)

    @property
    def rate(self) -> float:
        return sum(process.rate for process in self.processes if process.alive)

    def section(self, name: str) -> dict[str, float]:
        """A numeric status section (userStats, collectorStats) summed over the processes' latest values."""
        summed: dict[str, float] = {}
        for process in self.processes:
            for key, value in process.sections.get(name, {}).items():
                summed[key] = summed.get(key, 0) + value
        return summed

    @property
    def restarts(self) -> int:
        return sum(process.restarts for process in self.processes)

    @property
    def failed(self) -> bool:
        return any(process.failed for process in self.processes)

    @property
    def failed_nodes(self) -> list[str]:
        """The nodes that failed under its processes (a cluster launcher's), in order."""
        return [node for process in self.processes for node in process.child.failed_nodes]

    @property
    def finished(self) -> bool:
        return bool(self.processes) and all(process.finished for process in self.processes)

    @property
    def alive(self) -> bool:
        return any(process.alive for process in self.processes)


def option(command: list[str], name: str) -> str | None:
    """The value given to ``name`` in a stage command line (None when absent)."""
    return command[command.index(name) + 1] if name in command[:-1] else None


def stage_states(stage: Stage, nodes: list[str] | None) -> StageState:
    """The stage's processes; ``nodes``: the node of each (a cluster launcher's placement), None: here."""
    nodes = nodes or [None] * len(stage.commands)
    if stage.kind == "consumer":
        processes = [StageProcess(stage.name, Child(f"stage {stage.name}", command, node), [status])
                     for command, status, node in zip(stage.commands, stage.status, nodes, strict=True)]
    else:
        processes = [StageProcess(stage.name, Child(f"stage {stage.name}", command, node), stage.status)
                     for command, node in zip(stage.commands, nodes, strict=True)]
    return StageState(stage, processes)


class Runner:
    """Owns the stage processes of one runner (all stages, or those of ``--only``)."""

    def __init__(self, pipeline: Pipeline, stages: list[Stage], show: Callable[[Runner, bool], None],
                 launcher: Launcher = LOCAL, placed: dict[str, list[str]] | None = None) -> None:
        """``placed``: the node of each process by stage name (pipeline.placement), for a cluster launcher."""
        self.pipeline = pipeline
        self.settings = pipeline.settings
        self.states = [stage_states(stage, (placed or {}).get(stage.name)) for stage in stages]
        self.processes = [process for state in self.states for process in state.processes]
        self.by_child = {id(process.child): process for process in self.processes}
        # each stage in a session of its own: a Ctrl-C on the terminal reaches the runner only, which stops
        # the stages in order (downstream first, each waited for)
        self.supervisor = Supervisor(
            [process.child for process in self.processes],
            RestartPolicy(self.settings.restart == "on-failure", self.settings.max_restarts),
            own_sessions=True, quiet=True, stop_one_by_one=True, stop_timeout=STOP_TIMEOUT, launcher=launcher)
        self.show = show  # the view: show(runner, final)
        sources = pipeline.sources()
        self.counter = SourceCounter(sources[0].output) if len(sources) == 1 else None
        # a sim-server source told how many frames to send has sent them all once the counter saw as many: when
        # every stage runs here (it sees them all move), the pipeline may drain then, not at the source's exit
        # after its shutdown delay
        self.frames_to_send = int(option(sources[0].commands[0], "--n-frames") or 0) if (
            self.counter is not None and sources[0].kind == "sim-server" and len(stages) == len(pipeline.stages)
        ) else 0
        self.status = StatusWatch([name for process in self.processes for name in process.status])
        self.started = 0.0

    # --- processes -----------------------------------------------------------
    def wait_ready(self) -> None:
        """Wait until every stage answers (its status channels, or a mirror's own channel); warn about late
        ones."""
        deadline = time.monotonic() + READY_TIMEOUT
        for state in self.states:
            if not state.processes:
                continue
            names = state.stage.status
            if state.stage.kind == "mirror":
                self.wait_for_mirror(state, deadline)
            while names and len(self.status.values(names)) < len(names) and state.alive:
                if time.monotonic() > deadline:
                    logger.warning("stage %s: %s not answering after %.0f s", state.stage.name, ", ".join(names),
                                   READY_TIMEOUT)
                    break
                time.sleep(READY_POLL_SECONDS)
            if not state.alive:
                return  # reported by the main loop

    def start_sources(self) -> None:
        """Let the sim-server sources publish (SIGUSR1: they run with --start-on-signal) once every stage
        process here monitors its input; at start-delay after the start they begin by themselves."""
        sources = [process for state in self.states if state.stage.kind == "sim-server" for process in state.processes]
        if not sources:
            return
        if len(self.states) < len(self.pipeline.stages):
            logger.info("stages run elsewhere (--only): the sources start after their start delay")
            return
        deadline = self.started + self.settings.start_delay
        # a source ends at a SIGUSR1 it does not handle yet: it installs the handler before serving its channel
        while not (self.inputs_monitored() and all(self.takes_start_signal(process) for process in sources)):
            if time.monotonic() > deadline:
                logger.warning("the pipeline took longer than start-delay (%.1f s) to start: the sources start "
                               "anyway and the first frames may be missed; raise start-delay in [pipeline]",
                               self.settings.start_delay)
                return
            if self.counter is not None:
                self.counter.look()
            time.sleep(READY_POLL_SECONDS)
        for process in sources:
            if process.alive:
                self.supervisor.launcher.signal(process.child, signal.SIGUSR1)
        logger.info("every stage monitors its input after %.1f s: the sources start", time.monotonic() - self.started)

    def takes_start_signal(self, source: StageProcess) -> bool:
        """The sim-server handles SIGUSR1 now (or has ended): read from /proc here; a job step's (on another
        node) is known to, once its channel answers (it installs the handler before serving it)."""
        if not source.alive:
            return True
        if self.supervisor.launcher.runs_here:
            return source.child.handles(signal.SIGUSR1)
        client = pva.Channel(self.pipeline.stages[source.stage].output)
        client.setTimeout(0.5)
        try:
            get_within(client, "field(uniqueId)", 0.5)
            return True
        except pva.PvaException:
            return False

    def inputs_monitored(self) -> bool:
        """Each running consumer and collector process has received its input's current value (a collector: of
        every producer), so its monitor is connected and gets every frame published from now on; so has the
        runner's own count of the source's frames."""
        if self.counter is not None and not self.counter.monitoring:
            return False
        for state in self.states:
            if state.stage.kind not in ("consumer", "collector"):
                continue
            for process in state.processes:
                if not process.alive:
                    continue
                statuses = self.status.values(process.status)
                if len(statuses) < len(process.status) or not all(input_monitored(status) for status in statuses):
                    return False
        return True

    def wait_for_mirror(self, state: StageState, deadline: float) -> None:
        """Until the mirror's channel answers a get (a mirror has no status channel)."""
        client = pva.Channel(state.stage.output)
        client.setTimeout(0.5)
        while state.alive:
            try:
                get_within(client, "field(timeStamp)", 0.5)
                return
            except pva.PvaException:
                if time.monotonic() > deadline:
                    logger.warning("stage %s: %s not answering after %.0f s", state.stage.name, state.stage.output,
                                   READY_TIMEOUT)
                    return

    def supervise(self) -> None:
        """Notice processes that ended: finished sources, or failures (restarted or given up on)."""
        for ended in self.supervisor.check():
            if ended.code != 0:
                process = self.by_child[id(ended.child)]
                self.read_counts(process)  # its last status, which the loop may not have read yet
                process.died()
                self.status.forget(process.status)

    # --- counts ----------------------------------------------------------------
    def poll_counts(self) -> None:
        for process in self.processes:
            if process.alive:
                self.read_counts(process)

    def read_counts(self, process: StageProcess) -> None:
        """The counts of the latest status the process published (it may have died since)."""
        found = status_counts(self.status.values(process.status))
        if found is not None:
            process.counts, process.rate, process.sections = found.counts, found.rate, found.sections
            process.ids = found.ids
            process.highest_id = max(process.highest_id, found.ids[1])
            process.count_restart_gap()

    def count_failed_losses(self) -> None:
        """A failed process that got every object (--oid-offset 1): the frames sent that it never processed,
        errored or counted missed are counted missed, so sent = processed + errors + missed holds for it too
        (also for one that died before its status channel ever answered)."""
        sent = self.source_frames()
        if sent is None:
            return
        for process in self.processes:
            if not process.failed or not process.status or not process.gets_every_object:
                continue
            lost = sent - sum(process.total(key) for key in ("nProcessed", "nErrors", "nMissed"))
            if lost > 0:
                process.carried["nMissed"] = process.carried.get("nMissed", 0) + lost
                logger.error("stage %s: %d of the %d frames sent never reached it before it failed (counted missed)",
                             process.stage, lost, sent)

    def moved(self) -> float:
        """A number that grows while anything moves through the stages this runner sees."""
        return sum(state.total("nReceived") + state.total("nProcessed") for state in self.states) + (
            self.counter.count if self.counter is not None else 0)

    def source_frames(self) -> int | None:
        return self.counter.count if self.counter is not None else None

    def sink_frames(self) -> float | None:
        names = {stage.name for stage in self.pipeline.sinks()}
        sinks = [state for state in self.states if state.stage.name in names and state.stage.status]
        return sum(state.total("nProcessed") for state in sinks) if sinks else None

    def frames_after_last_through(self) -> int | None:
        """The ids the source sent after the highest one the last stage processed: lost on the way where no
        stage could count them (a stage counts the ids missing before one it sees; one sent to a consumer whose
        node failed is seen by none), or still on their way when the run was stopped. None: not known."""
        names = {stage.name for stage in self.pipeline.sinks()}
        highest = max((process.highest_id for state in self.states if state.stage.name in names
                       for process in state.processes), default=0)
        if self.counter is None or not self.counter.last_id or not highest:
            return None
        return max(0, self.counter.last_id - highest)

    # --- the run -----------------------------------------------------------------
    def sources_done(self) -> bool:
        """Every sim-server source here has ended, or the one source has sent all the frames it was told to."""
        sources = [process for state in self.states if state.stage.kind == "sim-server" for process in state.processes]
        if not sources:
            return False
        sent_all = self.frames_to_send > 0 and self.counter.count >= self.frames_to_send  # frames_to_send: a counter
        return sent_all or all(process.finished or process.failed for process in sources)

    def run(self, stop: threading.Event) -> int:
        self.started = time.monotonic()
        if self.counter is not None:
            self.counter.start()
        self.status.start()
        self.supervisor.start()
        try:
            self.wait_ready()
            self.start_sources()
            last_moved, last_change = -1.0, time.monotonic()
            next_view = time.monotonic()
            while not stop.wait(POLL_SECONDS):
                self.supervise()
                if self.counter is not None:
                    self.counter.look()
                self.poll_counts()
                now = time.monotonic()
                if now >= next_view:
                    self.show(self, False)
                    next_view = now + self.settings.report_period
                moved = self.moved()
                if moved != last_moved:
                    last_moved, last_change = moved, now
                if self.settings.runtime > 0 and now - self.started >= self.settings.runtime:
                    logger.info("runtime of %.0f s reached", self.settings.runtime)
                    break
                if self.sources_done() and now - last_change >= self.settings.drain_seconds:
                    logger.info("sources finished and the pipeline drained")
                    break
                if not any(process.alive for process in self.processes):
                    break
                failed = next((state for state in self.states if state.failed and not state.alive), None)
                if failed is not None:
                    logger.error("stage %s failed and is not restarted: the pipeline cannot go on without it, "
                                 "stopping", failed.stage.name)
                    break
            self.poll_counts()
        finally:
            self.supervisor.stop()
            if self.counter is not None:
                self.counter.stop()
            self.status.stop()
        self.count_failed_losses()
        self.show(self, True)
        return 1 if any(process.failed for process in self.processes) else 0

    def summary(self) -> dict[str, Any]:
        """Plain figures of the run (the final view shows them)."""
        return {
            "sourceFrames": self.source_frames(),
            "lastStageFrames": None if self.sink_frames() is None else int(self.sink_frames()),
            "framesAfterLastThrough": self.frames_after_last_through(),
            "stages": {state.stage.name: {key: int(state.total(key)) for key in COUNTS} | {
                "restarts": state.restarts, "failed": state.failed,
                "nodes": [process.child.node for process in state.processes],
                "failedNodes": state.failed_nodes} | {name: state.section(name) for name in SECTIONS}
                for state in self.states},
        }
