"""Assemble a consumer or collector from its configuration: processor, server, channels, receiver, host.

The two differ only in their receiver. The receiver is chosen by input mode
in ``RECEIVERS`` (the collector's mode is ``collect``), the publisher by
output mode in ``PUBLISHERS``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pvaccess as pva

from ..errors import describe
from .access import CONTROL_GROUP, INPUT_GROUP, SecuredServer
from .config import HostConfig
from .control import ControlChannel
from .host import Host
from .loader import create_processor, load_processor_class
from .metadata_channels import MetadataChannels
from .names_served import NameCheck
from .parts import SnapshotSink
from .publisher import CountingPublisher, PutPublisher, PvasPublisher, RpcPublisher
from .receiver import CollectingReceiver, MonitorReceiver
from .reorder import ReorderCache
from .served_input import PvasReceiver, RpcReceiver
from .status import StatusChannel

logger = logging.getLogger(__name__)


@dataclass
class ReadyHost:
    """A consumer or collector ready to run: ``host.run(stop)``, then ``close()``."""

    host: Host
    server: pva.PvaServer

    def close(self) -> None:
        self.server.stop()


def attach(
    processor: Any, config: HostConfig, server: Any, publisher: CountingPublisher, metadata: MetadataChannels
) -> None:
    """Set the attributes the processor API promises before start()."""
    if isinstance(getattr(processor, "logger", None), logging.Logger):
        follow_log_options(processor.logger)
    else:
        processor.logger = logging.getLogger(type(processor).__name__)
    processor.processorId = config.host_id
    processor.inputChannel = config.input_channel
    processor.outputChannel = config.output_channel
    processor.objectIdField = config.oid_field
    processor.pvaServer = server
    processor.dataPublisher = publisher
    processor.metadataQueueMap = metadata.queues


def follow_log_options(logger: logging.Logger) -> None:
    """Let a processor's logger follow -ll/-lf: pvaPy's LoggingManager gives the logger of a processor derived
    from pvaPy's classes its own level (ERROR) and a standard-output handler; both are taken off, so its
    records reach the handler pvaflow set up, at pvaflow's level."""
    logger.setLevel(logging.NOTSET)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = True


def monitor_receiver(config: HostConfig, server: Any, processor: Any) -> MonitorReceiver:
    return MonitorReceiver(
        config.input_channel, config.monitor_request, config.receiver_queue_size, config.input_mode, config.oid_field
    )


def input_type(processor: Any) -> Any:
    """The processor's ``getInputPvObjectType()``, or None when it has none or it fails."""
    method = getattr(processor, "getInputPvObjectType", None)
    if method is None:
        return None
    try:
        return method()
    except Exception as ex:  # noqa: BLE001 (a user method may raise anything)
        logger.error("getInputPvObjectType() failed: %s", describe(ex))
        return None


def pvas_receiver(config: HostConfig, server: Any, processor: Any) -> PvasReceiver:
    return PvasReceiver(config.input_channel, config.receiver_queue_size, server, input_type(processor))


def rpc_receiver(config: HostConfig, server: Any, processor: Any) -> RpcReceiver:
    return RpcReceiver(config.input_channel, config.receiver_queue_size, input_type(processor))


def collecting_receiver(config: HostConfig, server: Any, processor: Any) -> CollectingReceiver:
    cache = ReorderCache(config.cache_size, config.gap_wait, config.oid_offset, len(config.producer_channels))
    return CollectingReceiver(
        config.producer_channels, config.monitor_request, cache, config.oid_field,
        config.receiver_queue_size or 0, config.skip_initial_updates, config.receiver_queue_bytes,
    )


# input mode -> how objects arrive; everything else is shared
RECEIVERS = {
    "pva": monitor_receiver,
    "ca": monitor_receiver,
    "pvas": pvas_receiver,
    "rpc": rpc_receiver,
    "collect": collecting_receiver,
}
# output mode -> how processed objects leave
PUBLISHERS = {
    "pvas": lambda config, server: PvasPublisher(server, config.output_channel),
    "pva": lambda config, server: PutPublisher(config.output_channel, config.send_timeout),
    "rpc": lambda config, server: RpcPublisher(config.output_channel, config.send_timeout),
}


def build_host(config: HostConfig, report: SnapshotSink | None = None) -> ReadyHost:
    name_check = NameCheck(config.served_channels(), f"{config.role} {config.host_id}")  # answers meanwhile
    processor = create_processor(
        load_processor_class(config.processor_file, config.processor_class), config.processor_config()
    )
    name_check.raise_if_served()  # before our server exists: pvaccess serves records as soon as they are added
    # an RPC input's server first: it takes EPICS_PVAS_SERVER_PORT (the port a client's EPICS_PVA_NAME_SERVERS
    # names across a firewall); the PvaServer of the status and control channels then takes a free port
    early_receiver = RECEIVERS[config.input_mode](config, None, processor) if config.input_mode == "rpc" else None
    server = pva.PvaServer()  # always, as pvaPy: processors may add their own records in start()
    if config.access_security_file:
        groups = {config.control_channel: CONTROL_GROUP}
        if config.input_mode == "pvas":
            groups[config.input_channel] = INPUT_GROUP
        server = SecuredServer(server, config.access_security_file, groups)
    publisher = PUBLISHERS[config.output_mode](config, server)
    metadata = MetadataChannels(config.metadata_channels, config.server_queue_size, config.metadata_queue_size)
    attach(processor, config, server, publisher, metadata)
    receiver = early_receiver or RECEIVERS[config.input_mode](config, server, processor)
    user_types = dict(processor.getStatsPvaTypes() or {})
    status = None
    if config.status_channel:
        status = StatusChannel(
            server, config.status_channel, config.role, config.host_id, user_types,
            receiver.extra_types() | metadata.stat_types(),
        )
    host = Host(config, processor, receiver, publisher, user_types, status, report, metadata)
    if config.control_channel:
        ControlChannel(server, config.control_channel, config.role, config.host_id, host.submit)
    server.start()
    return ReadyHost(host, server)
