"""Assemble a consumer or collector from its configuration: processor, server, channels, receiver, host.

The two differ only in their receiver, chosen by role in ``RECEIVERS``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pvaccess as pva

from .config import HostConfig
from .control import ControlChannel
from .host import Host, HostSettings, SnapshotSink
from .loader import create_processor, load_processor_class
from .publisher import PvasPublisher
from .receiver import CollectingReceiver, MonitorReceiver
from .reorder import ReorderCache
from .status import StatusChannel

logger = logging.getLogger(__name__)


@dataclass
class Stage:
    """A consumer or collector ready to run: ``host.run(stop)``, then ``close()``."""

    host: Host
    server: pva.PvaServer | None

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def attach(processor: Any, config: HostConfig, server: Any, publisher: PvasPublisher) -> None:
    """Set the attributes the processor API promises before start()."""
    if not hasattr(processor, "logger"):
        processor.logger = logging.getLogger(type(processor).__name__)
    processor.processorId = config.host_id
    processor.inputChannel = config.input_channel
    processor.outputChannel = config.output_channel
    processor.objectIdField = config.oid_field
    processor.pvaServer = server
    processor.dataPublisher = publisher
    if not hasattr(processor, "metadataQueueMap"):
        processor.metadataQueueMap = {}


def monitor_receiver(config: HostConfig) -> MonitorReceiver:
    return MonitorReceiver(
        config.input_channel, config.monitor_request, config.receiver_queue_size, config.input_provider
    )


def collecting_receiver(config: HostConfig) -> CollectingReceiver:
    cache = ReorderCache(config.cache_size, config.gap_wait, config.oid_offset)
    return CollectingReceiver(
        config.producer_channels, config.monitor_request, cache, config.oid_field,
        config.receiver_queue_size or 0, config.skip_initial_updates,
    )


# role -> how it receives; everything else is shared
RECEIVERS = {"consumer": monitor_receiver, "collector": collecting_receiver}


def build_stage(config: HostConfig, report: SnapshotSink | None = None) -> Stage:
    processor = create_processor(
        load_processor_class(config.processor_file, config.processor_class), config.processor_config()
    )
    needs_server = config.output_channel or config.status_channel or config.control_channel
    server = pva.PvaServer() if needs_server else None
    publisher = PvasPublisher(server, config.output_channel)
    attach(processor, config, server, publisher)
    receiver = RECEIVERS[config.role](config)
    settings = HostSettings(
        role=config.role,
        host_id=config.host_id,
        object_id_field=config.oid_field,
        # the collector skips initial updates per producer, before reordering
        skip_initial_updates=config.skip_initial_updates if config.role == "consumer" else 0,
        object_id_offset=config.oid_offset,
        updates=config.updates,
        accumulate_objects=config.accumulate_objects,
        accumulation_timeout=config.accumulation_timeout,
        report_period=config.report_period,
        runtime=config.runtime,
    )
    user_types = dict(processor.getStatsPvaTypes() or {})
    status = None
    if server is not None and config.status_channel:
        status = StatusChannel(
            server, config.status_channel, config.role, config.host_id, user_types, receiver.extra_types()
        )
    host = Host(settings, processor, receiver, publisher, user_types, status, report)
    if server is not None:
        if config.control_channel:
            ControlChannel(server, config.control_channel, config.role, config.host_id, host.submit)
        server.start()
    return Stage(host, server)
