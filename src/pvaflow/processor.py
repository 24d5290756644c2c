"""UserDataProcessor: the base class of every pvaflow processor.

The API (method and attribute names) is the one pvaPy's streaming framework
documents, so processors written for it run unchanged. The host talks to a
processor only through these methods and attributes:

- it creates the processor with ``configDict``;
- it sets ``logger``, ``processorId``, ``inputChannel``, ``outputChannel``,
  ``objectIdField``, ``pvaServer``, ``dataPublisher`` and
  ``metadataQueueMap``, then calls ``start()``;
- it calls ``process(pvObject)`` for every input object, never concurrently
  with another processor method;
- it calls ``configure()``, ``resetStats()`` and ``getStats()`` between
  objects when the control channel or the report period asks, and
  ``stop()`` at shutdown.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol


class DataPublisher(Protocol):
    """What ``updateOutputChannel`` hands processed objects to."""

    def updateOutputChannel(self, pvObject: Any) -> None:  # noqa: N802 (pvaPy API name)
        ...


class UserDataProcessor:
    """Base for user processors; ``process()`` publishes its input unchanged.

    Attributes set by the host before ``start()``:

    - ``logger`` (logging.Logger): logger object
    - ``processorId`` (int): processor id
    - ``inputChannel`` (str): input channel
    - ``outputChannel`` (str): output channel
    - ``objectIdField`` (str): name of the object id field
    - ``pvaServer`` (pvaccess.PvaServer): PVA server for publishing output objects
    - ``dataPublisher``: object whose ``updateOutputChannel`` publishes output
    - ``metadataQueueMap`` (dict): metadata channel name -> queue of updates
    """

    def __init__(self, configDict: dict[str, Any] | None = None) -> None:  # noqa: N803
        self.configDict: dict[str, Any] = dict(configDict or {})
        self.logger: logging.Logger = logging.getLogger(type(self).__name__)
        self.processorId: int | None = None
        self.inputChannel: str | None = None
        self.outputChannel: str | None = None
        self.objectIdField: str = "uniqueId"
        self.pvaServer: Any = None
        self.dataPublisher: DataPublisher | None = None
        self.metadataQueueMap: dict[str, Any] = {}

    def start(self) -> None:
        """Called once at processing start-up, after the attributes are set."""

    def configure(self, configDict: dict[str, Any]) -> None:  # noqa: N803
        """Called for user-initiated runtime configuration changes."""

    def process(self, pvObject: Any) -> Any:  # noqa: N803
        """Called for every input object; the base class publishes it unchanged."""
        self.updateOutputChannel(pvObject)
        return pvObject

    def stop(self) -> None:
        """Called once at processing shutdown."""

    def resetStats(self) -> None:  # noqa: N802
        """Called for a user-initiated statistics reset."""

    def getStats(self) -> dict[str, Any]:  # noqa: N802
        """Application statistics, called every report period."""
        return {}

    def getStatsPvaTypes(self) -> dict[str, Any]:  # noqa: N802
        """PVA types of the ``getStats()`` keys, for the status channel structure."""
        return {}

    def getInputPvObjectType(self) -> Any:  # noqa: N802
        """Structure of the input channel when the host serves it (``pvas`` input mode)."""
        return None

    def getOutputPvObjectType(self, pvObject: Any = None) -> Any:  # noqa: N802, N803
        """Structure of the output object; by default the same as the input object."""
        return pvObject

    def updateOutputChannel(self, pvObject: Any) -> None:  # noqa: N802, N803
        """Publish a processed object on the output channel (if there is one)."""
        if self.outputChannel and self.dataPublisher is not None:
            self.dataPublisher.updateOutputChannel(pvObject)
