"""pvRequest strings for input monitors, as pvaccess and its distributor plugin expect."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DistributorOptions:
    """How the distributor plugin on the server should share updates among clients."""

    plugin_name: str = "pydistributor"
    group: str | None = None
    set: str | None = None
    trigger: str | None = None
    updates: int | None = None
    mode: str | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.group, self.set, self.trigger, self.updates, self.mode))


def field_list(field_request: str | None, object_id_field: str) -> str:
    """Fields inside ``field(...)``: the requested ones, always with the object id field."""
    text = (field_request or "").strip()
    if text.startswith("field(") and text.endswith(")"):
        text = text[len("field(") : -1]
    fields = [name.strip() for name in text.split(",") if name.strip()]
    if not fields:
        return ""  # all fields
    top_level = {name.split(".")[0] for name in fields}
    if object_id_field and object_id_field not in top_level:
        fields.insert(0, object_id_field)
    return ",".join(fields)


def record_options(server_queue_size: int) -> str:
    """``record[queueSize=N]`` (the monitor queue on the server), or nothing for the server's default."""
    return f"record[queueSize={server_queue_size}]" if server_queue_size > 0 else ""


def monitor_request(
    server_queue_size: int,
    field_request: str | None,
    object_id_field: str,
    distributor: DistributorOptions | None = None,
) -> str:
    """``record[queueSize=N]field(...)`` with the distributor plugin options if any.

    With the distributor active all fields are requested: the plugin is
    attached through the pseudo-field ``_`` and needs the whole structure.
    """
    record = record_options(server_queue_size)
    if distributor is not None and distributor.active:
        settings = [
            f"{key}:{value}"
            for key, value in (
                ("group", distributor.group),
                ("set", distributor.set),
                ("trigger", distributor.trigger),
                ("updates", distributor.updates),
                ("mode", distributor.mode),
            )
            if value is not None
        ]
        return f"{record}field(_[{distributor.plugin_name}={';'.join(settings)}])"
    return f"{record}field({field_list(field_request, object_id_field)})"
