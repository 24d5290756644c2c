"""The status channel: a record on the host's PvaServer refreshed with each snapshot."""

from __future__ import annotations

import logging
from typing import Any

import pvaccess as pva

from .stats import status_types

logger = logging.getLogger(__name__)


class StatusChannel:
    """Publishes stats snapshots (see :mod:`pvaflow.stream.stats`) on ``channel_name``."""

    def __init__(
        self,
        server: pva.PvaServer,
        channel_name: str,
        role: str,
        host_id: int,
        user_types: dict[str, Any],
        extra_types: dict[str, Any],
    ) -> None:
        self.server = server
        self.channel_name = channel_name
        self.types = status_types(role, user_types) | extra_types
        self.value = pva.PvObject(self.types, {f"{role}Id": host_id})
        # the record gets a copy: a record serves the very PvObject it was given, so set() on it wrote into the
        # served value field by field, and monitors sent values torn between two snapshots (processorStats of
        # the one before beside publisherStats of the new one: the runner once counted 20 frames of a killed
        # stage as missed that it had processed). update() copies a whole snapshot into the record at once.
        server.addRecord(channel_name, self.value.copy(), None)

    def publish(self, snapshot: dict[str, Any]) -> None:
        self.value.set({key: value for key, value in snapshot.items() if key in self.types})
        self.server.update(self.channel_name, self.value)
