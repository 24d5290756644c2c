"""Pipeline files: TOML that declares stages; loaded, wired and checked before anything starts.

A stage has a ``kind`` (``sim-server``, ``channel`` (an external source),
``consumer``, ``collector``, ``mirror``), the stage it ``reads`` (sources
read nothing), and any long option of the stand-alone command as a key
(``frame-rate = 100``, ``processor-args = { level = 50 }``). The runner owns
the channels between stages: it names them ``<pipeline>:<stage>:...`` and
passes them as options, so a stage never sets its own input, output, status
or control channel.

Every problem is one ConfigError line naming the stage, found by
:func:`load_pipeline` before any process starts.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import ConfigError, PvaflowError
from ..supervisor import consumer_commands
from .placement import PLACEMENT_KEYS, Placement, parse_placement
from .stage_options import option_argv, stage_namespace, unknown_option

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

SOURCE_KINDS = ("sim-server", "channel")
PROCESS_KINDS = ("sim-server", "consumer", "collector", "mirror")
KINDS = ("sim-server", "channel", "consumer", "collector", "mirror")
# the runner's own keys (placement: where its processes run on a cluster); the rest are command options
STAGE_KEYS = ("kind", "reads", "channel", "queue-size", *PLACEMENT_KEYS)
# options the runner sets from the wiring, per kind
WIRED_OPTIONS = {
    "sim-server": ("channel-name", "start-on-signal"),
    "consumer": ("input-channel", "output-channel", "status-channel", "control-channel", "consumer-id",
                 "consumer-id-list", "output-mode", "input-mode"),  # n-consumers: one process per consumer
    "collector": ("input-channel", "output-channel", "status-channel", "control-channel", "producer-id-list",
                  "collector-id"),
    "mirror": ("channel-map",),
}
# options holding paths: relative ones are taken from the pipeline file's directory
PATH_OPTIONS = ("processor-file", "input-file", "input-directory", "config-file", "log-file")
PIPELINE_KEYS = {"name", "restart", "max-restarts", "drain-seconds", "runtime", "start-delay", "report-period"}
RESTART_POLICIES = ("never", "on-failure")
NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class PipelineSettings:
    name: str
    restart: str = "on-failure"
    max_restarts: int = 3
    drain_seconds: float = 3.0  # after the sources end: stop once nothing moved for this long
    runtime: float = 0.0
    start_delay: float = 6.0  # sim-server stages wait this long before the first frame (their -std default)
    report_period: float = 2.0


@dataclass
class Stage:
    """One stage, wired: its channels and its command line (None for an external channel)."""

    name: str
    kind: str
    reads: str | None
    options: dict[str, Any]
    queue_size: int = 100  # mirror stages: server queue of the source monitor
    count: int = 1  # processes' worth of status channels (consumers of a consumer stage)
    output: str = ""  # the channel (or channel pattern with '*') downstream stages read
    status: list[str] = field(default_factory=list)  # consumers: status[i] belongs to commands[i]
    control: list[str] = field(default_factory=list)
    wired_options: dict[str, Any] = field(default_factory=dict)  # options with the runner's wiring
    commands: list[list[str]] = field(default_factory=list)  # one command line per process; none: external
    placement: Placement = field(default_factory=Placement)  # on a cluster (pipeline.placement)


@dataclass
class Pipeline:
    settings: PipelineSettings
    stages: dict[str, Stage]  # in start order: every stage after the one it reads
    path: Path

    def downstream(self, name: str) -> list[Stage]:
        return [stage for stage in self.stages.values() if stage.reads == name]

    def sources(self) -> list[Stage]:
        return [stage for stage in self.stages.values() if stage.kind in SOURCE_KINDS]

    def sinks(self) -> list[Stage]:
        return [stage for stage in self.stages.values() if not self.downstream(stage.name)]


def _settings(table: dict[str, Any], default_name: str) -> PipelineSettings:
    unknown = sorted(set(table) - PIPELINE_KEYS)
    if unknown:
        raise ConfigError(f"[pipeline]: unknown keys {unknown} (known: {', '.join(sorted(PIPELINE_KEYS))})")
    name = str(table.get("name", default_name))
    if not NAME.match(name):
        raise ConfigError(f"[pipeline] name '{name}': use letters, digits, '_', '.', '-'")
    restart = table.get("restart", "on-failure")
    if restart not in RESTART_POLICIES:
        raise ConfigError(f"[pipeline] restart must be one of {', '.join(RESTART_POLICIES)}, not {restart!r}")
    numbers: dict[str, float] = {}
    for key, default in (("max-restarts", 3), ("drain-seconds", 3.0), ("runtime", 0.0), ("start-delay", 6.0),
                         ("report-period", 2.0)):
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"[pipeline] {key} must be a number >= 0, not {value!r}")
        numbers[key] = value
    return PipelineSettings(name, restart, int(numbers["max-restarts"]), float(numbers["drain-seconds"]),
                            float(numbers["runtime"]), float(numbers["start-delay"]), float(numbers["report-period"]))


def _stage(name: str, table: Any, parsers: dict[str, StageParser]) -> Stage:
    if not isinstance(table, dict):
        raise ConfigError(f"stage {name}: must be a table ([stages.{name}])")
    if not NAME.match(name):
        raise ConfigError(f"stage name '{name}': use letters, digits, '_', '.', '-'")
    kind = table.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"stage {name}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    reads = table.get("reads")
    if kind in SOURCE_KINDS and reads is not None:
        raise ConfigError(f"stage {name}: a {kind} stage is a source and reads nothing")
    if kind not in SOURCE_KINDS and not isinstance(reads, str):
        raise ConfigError(f"stage {name}: a {kind} stage needs reads = \"<stage>\"")
    options = {key: value for key, value in table.items() if key not in STAGE_KEYS}
    if kind == "channel":
        if not isinstance(table.get("channel"), str) or not table["channel"]:
            raise ConfigError(f"stage {name}: a channel stage needs channel = \"<PV name>\"")
        extra = sorted(set(table) - {"kind", "channel"})
        if extra:
            raise ConfigError(f"stage {name}: a channel stage takes only channel, not {extra}")
        return Stage(name, kind, None, {}, output=table["channel"])
    if "queue-size" in table and kind != "mirror":
        raise ConfigError(f"stage {name}: queue-size is for mirror stages (consumers: server-queue-size)")
    if "channel" in table:
        raise ConfigError(f"stage {name}: 'channel' is for channel stages; the runner names the channels of "
                          f"{kind} stages")
    known = parsers[kind].long_options
    for key in options:
        if key in WIRED_OPTIONS[kind]:
            raise ConfigError(f"stage {name}: {key} is set by the runner from the wiring (remove it)")
        if key not in known:
            raise unknown_option(known, key, kind, name)
    queue_size = table.get("queue-size", 100)
    if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 0:
        raise ConfigError(f"stage {name}: queue-size must be an integer >= 0, not {queue_size!r}")
    return Stage(name, kind, reads, options, queue_size, placement=parse_placement(name, table))


def start_order(stages: dict[str, Stage]) -> list[str]:
    """Stage names, each after the stage it reads; ConfigError for an unknown stage or a cycle."""
    for stage in stages.values():
        if stage.reads is not None and stage.reads not in stages:
            raise ConfigError(f"stage {stage.name}: reads unknown stage '{stage.reads}'")
    order: list[str] = []
    placed: set[str] = set()
    for name in stages:
        path: list[str] = []
        current: str | None = name
        while current is not None and current not in placed:
            if current in path:
                cycle = " -> ".join([*path[path.index(current):], current])
                raise ConfigError(f"stages form a cycle: {cycle}")
            path.append(current)
            current = stages[current].reads
        for stage_name in reversed(path):
            order.append(stage_name)
            placed.add(stage_name)
    return order


def _integer(stage: str, key: str, value: Any, minimum: int) -> int:
    """An option the runner computes with (consumer count, distributor settings), checked before use."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or number < minimum:
        raise ConfigError(f"stage {stage}: {key} must be an integer >= {minimum}, not {value!r}")
    return number


def _wire(pipeline_name: str, stage: Stage, upstream: Stage | None, settings: PipelineSettings) -> None:
    """Name the stage's channels and build its command line."""
    prefix = f"{pipeline_name}:{stage.name}"
    options = dict(stage.options)
    wired: dict[str, Any] = {}
    if stage.kind == "sim-server":
        stage.output = f"{prefix}:image"
        wired["channel-name"] = stage.output
        wired["start-on-signal"] = True  # the runner starts the frames once every stage monitors its input
        options.setdefault("start-delay", settings.start_delay)  # ... or after this, at the latest
    elif stage.kind == "mirror":
        stage.output = f"{prefix}:image"
        queue = stage.queue_size
        wired["channel-map"] = f"({stage.output},{upstream.output},pva,{queue})"
    elif stage.kind == "consumer":
        count = _integer(stage.name, "n-consumers", options.pop("n-consumers", 1), 1)
        stage.count = count
        if upstream is not None and upstream.kind == "consumer" and upstream.count > 1:
            if count != upstream.count:
                raise ConfigError(f"stage {stage.name}: reads {upstream.count} consumers of stage {upstream.name}; "
                                  f"use n-consumers = {upstream.count} (one each) or a collector stage")
            wired["input-channel"] = upstream.output  # '*' pairs consumer i with upstream consumer i
        else:
            wired["input-channel"] = upstream.output.replace("*", "1")
        stage.output = f"{prefix}:*:output"
        wired.update({"output-channel": stage.output, "status-channel": f"{prefix}:*:status",
                      "control-channel": f"{prefix}:*:control"})
        stage.status = [f"{prefix}:{i}:status" for i in range(1, count + 1)]
        stage.control = [f"{prefix}:{i}:control" for i in range(1, count + 1)]
    elif stage.kind == "collector":
        producers = upstream.count if upstream.kind == "consumer" else 1
        wired["input-channel"] = upstream.output if producers > 1 else upstream.output.replace("*", "1")
        wired["producer-id-list"] = ",".join(str(i) for i in range(1, producers + 1))
        stage.output = f"{prefix}:output"
        wired.update({"output-channel": stage.output, "status-channel": f"{prefix}:status",
                      "control-channel": f"{prefix}:control"})
        stage.status = [f"{prefix}:status"]
        stage.control = [f"{prefix}:control"]
    if stage.kind in ("consumer", "collector"):
        options.setdefault("disable-curses", True)  # the runner shows the view; stages print plain lines
    if stage.kind == "consumer":
        wired["n-consumers"] = stage.count  # one process per consumer: the runner restarts each on its own
    stage.wired_options = wired | options
    stage.commands = [[stage.kind, *option_argv(stage.wired_options)]]


class StageParser(Protocol):
    """A command's parser as the runner reads it: its options by long name (cli.options.OneLineParser)."""

    long_options: dict[str, argparse.Action]


Check = Callable[[argparse.Namespace], Any]  # a command's own checks of its parsed options (ConfigError); a consumer's
# returns the configs of its consumers


def stage_config(stage: Stage, parser: StageParser, check: Check | None) -> Any:
    """A wired stage's config: its options as its command's parser would give them, through the command's own
    checks (a consumer stage: one config per consumer); ConfigError naming the stage."""
    args = stage_namespace(parser.long_options, stage.wired_options, stage.kind, stage.name)
    try:
        return check(args) if check is not None else None
    except PvaflowError as ex:  # a bad option, a processor that cannot be loaded
        raise ConfigError(f"stage {stage.name}: {ex}") from ex


def load_pipeline(path: Path, parsers: dict[str, StageParser], checks: dict[str, Check]) -> Pipeline:
    """Read, check and wire a pipeline file.

    ``parsers`` are the stand-alone commands' parsers by kind; ``checks`` run
    what each command checks at start (processor classes, option
    combinations), so that a mistake in the last stage stops the run before
    the first stage starts.
    """
    try:
        document = tomllib.loads(path.read_text())
    except OSError as ex:
        raise ConfigError(f"cannot read pipeline file {path}: {ex.strerror}") from ex
    except tomllib.TOMLDecodeError as ex:
        raise ConfigError(f"{path}: not valid TOML: {ex}") from ex
    unknown = sorted(set(document) - {"pipeline", "stages"})
    if unknown:
        raise ConfigError(f"{path}: unknown tables {unknown} (use [pipeline] and [stages.<name>])")
    settings = _settings(document.get("pipeline", {}), re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem))
    tables = document.get("stages")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"{path}: no stages (add [stages.<name>] tables)")
    stages = {name: _stage(name, table, parsers) for name, table in tables.items()}
    for stage in stages.values():
        for key in PATH_OPTIONS:
            if isinstance(stage.options.get(key), str):
                stage.options[key] = str((path.parent / stage.options[key]).resolve())
    order = start_order(stages)
    if not any(stage.kind in SOURCE_KINDS for stage in stages.values()):
        raise ConfigError(f"{path}: no source stage (kind sim-server or channel)")
    for name in order:
        stage = stages[name]
        upstream = stages[stage.reads] if stage.reads else None
        if upstream is not None and upstream.kind == "consumer" and upstream.count > 1 and stage.kind == "mirror":
            raise ConfigError(f"stage {name}: a mirror reads one channel, stage {upstream.name} has "
                              f"{upstream.count} consumers")
        if stage.kind != "channel":
            _wire(settings.name, stage, upstream, settings)
            checked = stage_config(stage, parsers[stage.kind], checks.get(stage.kind))
            if stage.kind == "consumer":  # the consumers' configs: their ids and object id offsets
                stage.commands = consumer_commands(stage.commands[0], checked)
    return Pipeline(settings, {name: stages[name] for name in order}, path)


def select(pipeline: Pipeline, only: str | None) -> list[Stage]:
    """The stages to run here: all, or the comma list ``only`` (checked)."""
    if only is None:
        return list(pipeline.stages.values())
    names = [name.strip() for name in only.split(",") if name.strip()]
    if not names:
        raise ConfigError(f"--only {only!r} names no stage (stages: {', '.join(pipeline.stages)})")
    unknown = [name for name in names if name not in pipeline.stages]
    if unknown:
        raise ConfigError(f"--only: unknown stages {unknown} (stages: {', '.join(pipeline.stages)})")
    return [stage for name, stage in pipeline.stages.items() if name in names]
