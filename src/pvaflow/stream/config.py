"""Consumer configuration: one frozen dataclass, validated once when built.

The command line (and later the pipeline file) fill :class:`ConsumerOptions`
with pvaPy's option values; :func:`consumer_config` checks them and resolves
what one consumer process needs (its channel names, object id offset,
request string), so nothing downstream re-validates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..accounting import default_offset
from ..config_values import json_object
from ..errors import ConfigError
from ..memory import physical_memory
from .loader import parse_processor_args
from .metadata_spec import MetadataSpec, metadata_queue_size, parse_metadata_channels
from .naming import channel_name, format_id, parse_id_list
from .request import DistributorOptions, monitor_request

logger = logging.getLogger(__name__)
STATS_SECTIONS = ("receiver", "publisher", "queue", "processor", "user", "collector", "metadata")  # -rs names

INPUT_MODES = ("pva", "ca", "pvas", "rpc")
MONITOR_MODES = ("pva", "ca")  # the only inputs that deliver initial (connect-time) updates
SERVED_INPUT_MODES = ("pvas", "rpc")  # the input channel is served by the stage itself
OUTPUT_MODES = ("pvas", "pva", "rpc")
REMOTE_OUTPUT_MODES = ("pva", "rpc")  # the output channel is on the receiver's server
UNAVAILABLE_MODES = {  # accepted by pvaPy, needing what this installation lacks
    "ejfat": "EJFAT needs the e2sar_py module (JeffersonLab E2SAR), which is not available here",
}
DEFAULT_SEND_TIMEOUT = 5.0  # seconds a pva put or rpc request may take (--output-args timeout)


@dataclass(frozen=True)
class HostOptions:
    """The options consumer and collector share, as given (defaults are pvaPy's)."""

    input_channel: str
    output_channel: str | None = None
    status_channel: str | None = None
    control_channel: str | None = None
    id_format_spec: str | None = None
    server_queue_size: int = 0
    receiver_queue_size: int = -1
    processor_file: str | None = None
    processor_class: str | None = None
    processor_args: str | None = None
    oid_field: str = "uniqueId"
    oid_offset: int = 0
    field_request: str = ""
    skip_initial_updates: int | None = None  # None: 1 for monitored inputs, 0 for pvas and rpc
    metadata_channels: str | None = None
    access_security_file: str | None = None
    runtime: float = 0.0
    report_period: float = 0.0
    report_stats: str | None = None  # None: one summary line per report; -rs: tables of those sections


@dataclass(frozen=True)
class ConsumerOptions(HostOptions):
    """pvapy-hpc-consumer's options: the shared ones and its own."""

    consumer_id: int = 1
    n_consumers: int = 1
    consumer_id_list: tuple[int, ...] = ()
    input_mode: str = "pva"
    input_args: str | None = None
    output_mode: str = "pvas"
    output_args: str | None = None
    accumulate_objects: int = -1
    accumulation_timeout: float = 1.0
    distributor_plugin_name: str = "pydistributor"
    distributor_group: str | None = None
    distributor_set: str | None = None
    distributor_trigger: str | None = None
    distributor_updates: str | None = None
    n_distributor_sets: int = 1

    @property
    def consumer_ids(self) -> list[int]:
        """The ids of every consumer to run (-cid wins over -id/-nc)."""
        if self.consumer_id_list:
            return list(self.consumer_id_list)
        return list(range(self.consumer_id, self.consumer_id + self.n_consumers))


@dataclass(frozen=True)
class HostConfig:
    """Everything one consumer or collector process needs, resolved and checked."""

    role: str  # "consumer" or "collector"
    host_id: int
    input_channel: str  # the consumer's input; the collector's producer channel pattern (producer_channels)
    input_mode: str  # picks the receiver: pva, ca, pvas, rpc, or collect (the collector's producers)
    monitor_request: str
    output_channel: str | None
    output_mode: str
    send_timeout: float  # pva and rpc output: seconds per object
    status_channel: str | None
    control_channel: str | None
    receiver_queue_size: int | None  # None: no receiver queue
    accumulate_objects: int
    accumulation_timeout: float
    processor_file: str | None
    processor_class: str | None
    processor_args: dict[str, Any] = field(default_factory=dict)
    input_args: str | None = None  # -ia and -oa as given, and -fr: for the processor's configDict (pvaPy's keys)
    output_args: str | None = None
    field_request: str = ""
    oid_field: str = "uniqueId"
    oid_offset: int = 1
    updates: int = 1
    skip_initial_updates: int = 1
    runtime: float = 0.0
    report_period: float = 0.0
    report_sections: tuple[str, ...] = STATS_SECTIONS
    report_tables: bool = False  # -rs given: periodic reports are tables of report_sections, else one line
    producer_channels: dict[int, str] = field(default_factory=dict)  # collector: producer id -> channel
    cache_size: int = 0  # collector: reorder cache capacity
    receiver_queue_bytes: int = 0  # collector, -rqs not given: its queues also hold frames up to these bytes
    gap_wait: float = 0.0  # collector: seconds before a gap is skipped
    metadata_channels: tuple[MetadataSpec, ...] = ()
    metadata_queue_size: int = 0  # updates kept per metadata channel (0: unbounded)
    server_queue_size: int = 0  # also the metadata monitors' server queue
    access_security_file: str | None = None  # ACF restricting the control (and pvas input) channel

    @property
    def input_filtered(self) -> bool:
        """Whether a server-side plugin (the distributor, or one named in the field request) picks the updates
        the input gets: then the input record's id runs ahead of the last one delivered by design."""
        return "_[" in self.monitor_request

    @property
    def host_skips_initial_updates(self) -> int:
        """Initial updates the host skips: a consumer's; a collector skips each producer's before reordering."""
        return self.skip_initial_updates if self.role == "consumer" else 0

    def served_channels(self) -> list[str]:
        """The channels this stage serves itself."""
        names = [self.status_channel, self.control_channel]
        if self.output_mode == "pvas":
            names.append(self.output_channel)
        if self.input_mode in SERVED_INPUT_MODES:
            names.append(self.input_channel)
        return [name for name in names if name]

    def check_channels(self) -> HostConfig:
        """ConfigError if a name is used twice, or the output is the stage's own input; the config if not."""
        served = self.served_channels()
        repeated = next((name for name in served if served.count(name) > 1), None)
        if repeated:
            raise ConfigError(f"channel {repeated} is given for two of this {self.role}'s channels (-oc, -sc, -cc, "
                              "-ic): each needs its own name")
        if self.role == "collector":
            inputs = list(self.producer_channels.values())
        else:
            inputs = [] if self.input_mode in SERVED_INPUT_MODES else [self.input_channel]
        if self.output_channel and self.output_channel in inputs:
            raise ConfigError(f"--output-channel {self.output_channel} is this {self.role}'s input channel: it "
                              "would receive its own output")
        return self

    def processor_config(self) -> dict[str, Any]:
        """The processor's configDict: -pa plus the keys pvaPy adds for processors."""
        config = dict(self.processor_args)
        config.update(
            {
                "processorId": self.host_id,
                "inputChannel": self.input_channel,
                "inputMode": "pva" if self.input_mode == "collect" else self.input_mode,
                "inputArgs": self.input_args,
                "outputChannel": self.output_channel,
                "outputMode": self.output_mode,
                "outputArgs": self.output_args,
                "fieldRequest": self.field_request,
                "objectIdField": self.oid_field,
                "objectIdOffset": self.oid_offset,
                "skipInitialUpdates": self.skip_initial_updates,
                "nSequentialUpdates": self.updates,
            }
        )
        return config


def _text(value: Any) -> str | None:
    """A config value as the text an option would have (None stays None)."""
    return None if value is None else str(value)


def _positive_int(name: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError as ex:
        raise ConfigError(f"{name} must be an integer, not '{text}'") from ex
    if value < 1:
        raise ConfigError(f"{name} must be >= 1, not {value}")
    return value


def report_sections(text: str) -> tuple[str, ...]:
    """The -rs sections; unknown names are left out with a warning (pvaPy ignores them)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names or "all" in names:
        return STATS_SECTIONS
    unknown = [name for name in names if name not in STATS_SECTIONS]
    if unknown:
        logger.warning("--report-stats: %s not known, left out (choose from all, %s)", ", ".join(unknown),
                       ", ".join(STATS_SECTIONS))
    return tuple(name for name in names if name in STATS_SECTIONS) or STATS_SECTIONS


def report_settings(report_stats: str | None) -> dict[str, Any]:
    """HostConfig's report fields from -rs: the final table's sections, and whether periodic reports are tables
    (-rs given) or one line."""
    return {"report_sections": report_sections(report_stats or "all"), "report_tables": report_stats is not None}


def mode_args(option: str, text: str | None, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object of --input-args / --output-args, with only the keys the mode knows."""
    if not text:
        return {}
    args = json_object(option, text)
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        known = ", ".join(allowed) if allowed else "none for this mode"
        raise ConfigError(f"{option}: unknown keys {unknown} (known: {known})")
    return args


def send_timeout(options: ConsumerOptions) -> float:
    allowed = ("timeout",) if options.output_mode in REMOTE_OUTPUT_MODES else ()
    args = mode_args("--output-args", options.output_args, allowed)
    value = args.get("timeout", DEFAULT_SEND_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"--output-args timeout must be a number of seconds > 0, not {value!r}")
    return float(value)


def check_mode(option: str, mode: str, modes: tuple[str, ...]) -> None:
    if mode in UNAVAILABLE_MODES:
        raise ConfigError(f"{option} {mode}: {UNAVAILABLE_MODES[mode]}")
    if mode not in modes:
        raise ConfigError(f"unknown {option[2:].replace('-', ' ')} '{mode}' (choose from {', '.join(modes)})")


def check_common(options: HostOptions) -> None:
    """Checks shared by consumer and collector options."""
    parse_metadata_channels(options.metadata_channels)
    if options.access_security_file is not None and not Path(options.access_security_file).is_file():
        raise ConfigError(f"access security file {options.access_security_file} does not exist")
    if options.processor_file and not options.processor_class:
        raise ConfigError("--processor-file needs --processor-class (pvaPy would ignore the file and pass every "
                          "object through unprocessed)")


def check_options(options: ConsumerOptions) -> None:
    """Refuse invalid values and combinations with one line each."""
    check_common(options)
    check_mode("--input-mode", options.input_mode, INPUT_MODES)
    check_mode("--output-mode", options.output_mode, OUTPUT_MODES)
    mode_args("--input-args", options.input_args, ())
    send_timeout(options)
    if options.output_mode in REMOTE_OUTPUT_MODES and not options.output_channel:
        raise ConfigError(f"--output-mode {options.output_mode} needs --output-channel (the receiver's channel)")
    if options.input_mode not in MONITOR_MODES and (
        options.distributor_group or options.distributor_set or options.distributor_trigger
        or options.distributor_updates or options.server_queue_size > 0
    ):
        raise ConfigError(f"--input-mode {options.input_mode}: distributor and server queue options apply to "
                          "monitors (pva, ca) only")
    if options.n_consumers < 1:
        raise ConfigError(f"--n-consumers must be >= 1, not {options.n_consumers}")
    if options.n_distributor_sets < 1:
        raise ConfigError(f"--n-distributor-sets must be >= 1, not {options.n_distributor_sets}")
    if options.accumulate_objects > 0 and options.receiver_queue_size < 0:
        logger.warning("--accumulate-objects is ignored without a receiver queue (--receiver-queue-size >= 0), "
                       "as pvaPy ignores it")


def consumer_configs(options: ConsumerOptions) -> list[HostConfig]:
    """The checked configuration of every consumer of ``options.consumer_ids`` (checked once: linear in -nc)."""
    check_options(options)
    ids = options.consumer_ids
    return [_consumer_config(options, consumer_id, len(ids)) for consumer_id in ids]


def consumer_config(options: ConsumerOptions, consumer_id: int) -> HostConfig:
    """The checked configuration of consumer ``consumer_id`` among ``options.consumer_ids``."""
    check_options(options)
    return _consumer_config(options, consumer_id, len(options.consumer_ids))


def _consumer_config(options: ConsumerOptions, consumer_id: int, n_consumers: int) -> HostConfig:
    spec = options.id_format_spec
    updates = _positive_int("--distributor-updates", options.distributor_updates)
    processor_args = parse_processor_args(options.processor_args)
    # <= 0: objectIdOffset of -pa (pvaPy's documented processing chain sets it there; pvaPy itself overrides
    # it), else derived from the distributor options, as in pvaPy
    offset = max(0, options.oid_offset) or _positive_int(
        "objectIdOffset in --processor-args", _text(processor_args.get("objectIdOffset"))
    ) or default_offset(n_consumers, updates, options.n_distributor_sets, options.distributor_set is not None)
    distributor = DistributorOptions(
        plugin_name=options.distributor_plugin_name,
        group=options.distributor_group,
        set=options.distributor_set,
        trigger=options.distributor_trigger,
        updates=updates,
    )
    return HostConfig(
        role="consumer",
        host_id=consumer_id,
        input_channel=options.input_channel.replace("*", format_id(consumer_id, spec)),
        input_mode=options.input_mode,
        monitor_request=monitor_request(
            options.server_queue_size, options.field_request, options.oid_field, distributor
        ),
        output_channel=channel_name(options.output_channel, "consumer", "output", consumer_id, spec),
        output_mode=options.output_mode,
        send_timeout=send_timeout(options),
        status_channel=channel_name(options.status_channel, "consumer", "status", consumer_id, spec),
        control_channel=channel_name(options.control_channel, "consumer", "control", consumer_id, spec),
        receiver_queue_size=options.receiver_queue_size if options.receiver_queue_size >= 0 else None,
        accumulate_objects=max(0, options.accumulate_objects) if options.receiver_queue_size >= 0 else 0,
        accumulation_timeout=options.accumulation_timeout,
        processor_file=options.processor_file,
        processor_class=options.processor_class,
        processor_args=processor_args,
        input_args=options.input_args,
        output_args=options.output_args,
        field_request=options.field_request,
        oid_field=options.oid_field,
        oid_offset=offset,
        updates=updates or 1,
        skip_initial_updates=initial_updates(options.skip_initial_updates, options.input_mode in MONITOR_MODES),
        runtime=options.runtime,
        report_period=options.report_period,
        **report_settings(options.report_stats),
        **shared_settings(options),
    ).check_channels()


def initial_updates(given: int | None, monitored: bool) -> int:
    """-siu (< 0 as 0, as in pvaPy), or its default: a monitor's first update is the value it found on connect
    (skip 1); objects put or sent to us (pvas, rpc) are all new (skip none)."""
    if given is not None:
        return max(0, given)
    return 1 if monitored else 0


def shared_settings(options: HostOptions) -> dict[str, Any]:
    """The HostConfig fields of the metadata channels and access security (consumer and collector alike)."""
    return {
        "metadata_channels": parse_metadata_channels(options.metadata_channels),
        "metadata_queue_size": metadata_queue_size(options.receiver_queue_size),
        "server_queue_size": options.server_queue_size,
        "access_security_file": options.access_security_file,
    }


CACHE_SCALE = 10  # default cache: this many objects per producer (as pvaPy)
COLLECTOR_MEMORY_SHARE = 8  # by default the producers' queues may hold frames up to 1/8 of the memory


@dataclass(frozen=True)
class CollectorOptions(HostOptions):
    """pvapy-hpc-collector's options: the shared ones, its own, and the gap wait."""

    oid_offset: int = 1
    collector_id: int = 1
    producer_id_list: str = "1,2"
    collector_cache_size: int = -1
    collector_gap_wait: float = 2.0


def collector_config(options: CollectorOptions) -> HostConfig:
    """The checked configuration of a collector."""
    producers = parse_id_list(options.producer_id_list)
    spec = options.id_format_spec
    check_common(options)
    if options.oid_offset < 1:
        raise ConfigError(f"--oid-offset must be >= 1, not {options.oid_offset}")
    if options.collector_gap_wait <= 0:
        raise ConfigError(f"--collector-gap-wait must be > 0, not {options.collector_gap_wait}")
    cache_size = max(options.collector_cache_size, len(producers))
    if options.collector_cache_size < 0:
        cache_size = len(producers) * CACHE_SCALE
    channels = {producer: options.input_channel.replace("*", format_id(producer, spec)) for producer in producers}
    if len(set(channels.values())) != len(channels):
        raise ConfigError(f"input channel '{options.input_channel}' needs '*' to tell {len(channels)} producers apart")
    # the producers' queues hold what the monitors deliver until the host reorders it: 0 no limit (as pvaPy's
    # -rqs 0), < 0 (the default) CACHE_SCALE x the cache size in all, or as many frames as fit in
    # 1/COLLECTOR_MEMORY_SHARE of the machine's memory if that is more
    queue_size = options.receiver_queue_size if options.receiver_queue_size >= 0 else cache_size * CACHE_SCALE
    queue_bytes = physical_memory() // COLLECTOR_MEMORY_SHARE if options.receiver_queue_size < 0 else 0
    collector_id = options.collector_id
    return HostConfig(
        role="collector",
        host_id=collector_id,
        input_channel=options.input_channel,  # the producers' channel pattern, as pvaPy gives it to the processor
        input_mode="collect",
        monitor_request=monitor_request(options.server_queue_size, options.field_request, options.oid_field),
        output_channel=channel_name(options.output_channel, "collector", "output", collector_id, spec),
        output_mode="pvas",
        send_timeout=DEFAULT_SEND_TIMEOUT,
        status_channel=channel_name(options.status_channel, "collector", "status", collector_id, spec),
        control_channel=channel_name(options.control_channel, "collector", "control", collector_id, spec),
        receiver_queue_size=queue_size,
        accumulate_objects=0,
        accumulation_timeout=1.0,
        processor_file=options.processor_file,
        processor_class=options.processor_class,
        processor_args=parse_processor_args(options.processor_args),
        field_request=options.field_request,
        oid_field=options.oid_field,
        oid_offset=options.oid_offset,
        updates=1,
        skip_initial_updates=initial_updates(options.skip_initial_updates, True),
        runtime=options.runtime,
        report_period=options.report_period,
        **report_settings(options.report_stats),
        producer_channels=channels,
        cache_size=cache_size,
        receiver_queue_bytes=queue_bytes,
        gap_wait=options.collector_gap_wait,
        **shared_settings(options),
    ).check_channels()
