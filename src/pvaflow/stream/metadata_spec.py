"""Metadata channel specs (``--metadata-channels``), parsed and checked: pure, no pvaccess.

``pva://name``, ``ca://name`` or a bare ``name`` (CA), as pvaPy.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

DEFAULT_QUEUE_SIZE = 1000  # updates kept per channel when -rqs is not given (as pvaPy)
PROTOCOLS = {"pva://": "pva", "ca://": "ca"}


@dataclass(frozen=True)
class MetadataSpec:
    """One metadata channel: its name (the ``metadataQueueMap`` key) and protocol."""

    name: str
    protocol: str  # "pva" or "ca"


def parse_metadata_channels(text: str | None) -> tuple[MetadataSpec, ...]:
    """``pva://x,ca://y,z`` -> specs; bare names are CA (as pvaPy)."""
    specs: list[MetadataSpec] = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        protocol = "ca"
        for prefix, name in PROTOCOLS.items():
            if item.startswith(prefix):
                protocol, item = name, item[len(prefix) :]
                break
        else:
            if "://" in item:
                raise ConfigError(f"metadata channel '{item}': protocol must be pva:// or ca://")
        if not item:
            raise ConfigError("metadata channel names must not be empty")
        if any(spec.name == item for spec in specs):
            raise ConfigError(f"metadata channel '{item}' is given twice")
        specs.append(MetadataSpec(item, protocol))
    return tuple(specs)


def metadata_queue_size(receiver_queue_size: int) -> int:
    """Queue length per metadata channel: -rqs when given (0: unbounded), else DEFAULT_QUEUE_SIZE."""
    return DEFAULT_QUEUE_SIZE if receiver_queue_size < 0 else receiver_queue_size
