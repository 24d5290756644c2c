"""Assemble one consumer from its configuration: processor, server, channels, receiver, host."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pvaccess as pva

from .config import ConsumerConfig
from .control import ControlChannel
from .host import Host, HostSettings, SnapshotSink
from .loader import create_processor, load_processor_class
from .publisher import PvasPublisher
from .receiver import MonitorReceiver
from .status import StatusChannel

logger = logging.getLogger(__name__)


@dataclass
class Consumer:
    """A consumer ready to run: ``host.run(stop)``, then ``close()``."""

    host: Host
    server: pva.PvaServer | None

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def attach(processor: Any, config: ConsumerConfig, server: Any, publisher: PvasPublisher) -> None:
    """Set the attributes the processor API promises before start()."""
    if not hasattr(processor, "logger"):
        processor.logger = logging.getLogger(type(processor).__name__)
    processor.processorId = config.consumer_id
    processor.inputChannel = config.input_channel
    processor.outputChannel = config.output_channel
    processor.objectIdField = config.oid_field
    processor.pvaServer = server
    processor.dataPublisher = publisher
    if not hasattr(processor, "metadataQueueMap"):
        processor.metadataQueueMap = {}


def build_consumer(config: ConsumerConfig, report: SnapshotSink | None = None) -> Consumer:
    processor = create_processor(
        load_processor_class(config.processor_file, config.processor_class), config.processor_config()
    )
    needs_server = config.output_channel or config.status_channel or config.control_channel
    server = pva.PvaServer() if needs_server else None
    publisher = PvasPublisher(server, config.output_channel)
    attach(processor, config, server, publisher)
    receiver = MonitorReceiver(
        config.input_channel, config.monitor_request, config.receiver_queue_size, config.input_provider
    )
    settings = HostSettings(
        role="consumer",
        host_id=config.consumer_id,
        object_id_field=config.oid_field,
        skip_initial_updates=config.skip_initial_updates,
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
        status = StatusChannel(server, config.status_channel, "consumer", config.consumer_id, user_types)
    host = Host(settings, processor, receiver, publisher, user_types, status, report)
    if server is not None:
        if config.control_channel:
            ControlChannel(server, config.control_channel, "consumer", config.consumer_id, host.submit)
        server.start()
    return Consumer(host, server)
