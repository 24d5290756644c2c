"""EPICS access security for a stage's records (``--access-security-file``).

With an access security file (the IOC's ACF format) every record of the
stage's PvaServer joins an access security group: the control channel
``CONTROL``, a ``pvas`` input channel ``INPUT``, everything else (status,
output, records a processor adds) ``DEFAULT``. The file's rules decide who
may read and write each group; a group the file does not define falls back
to ``DEFAULT``, as in an IOC.

    UAG(operators) {alice, bob}
    HAG(beamline) {ws1, ws2}
    ASG(DEFAULT) { RULE(1, READ) }
    ASG(CONTROL) { RULE(1, READ) RULE(1, WRITE) { UAG(operators) HAG(beamline) } }
    ASG(INPUT)   { RULE(1, READ) RULE(1, WRITE) { HAG(beamline) } }
"""

from __future__ import annotations

from typing import Any

import pvaccess as pva

from ..errors import ConfigError

CONTROL_GROUP = "CONTROL"
INPUT_GROUP = "INPUT"
DEFAULT_GROUP = "DEFAULT"
AS_LEVEL = 1  # the level of every field: RULE(1, ...) covers them


class SecuredServer:
    """A PvaServer whose records are added to access security groups (by channel name)."""

    def __init__(self, server: pva.PvaServer, access_file: str, groups: dict[str, str]) -> None:
        self.server = server
        self.groups = groups  # channel name -> group; others: DEFAULT
        try:
            server.initAs(access_file, "")
        except pva.PvaException as ex:
            raise ConfigError(f"access security file {access_file}: {ex}") from ex

    def addRecord(self, name: str, value: pva.PvObject, on_write: Any = None) -> None:  # noqa: N802 (pvaccess name)
        self.server.addRecordWithAs(name, value, AS_LEVEL, self.groups.get(name, DEFAULT_GROUP), on_write)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)  # update, updateUnchecked, start, stop, ... unchanged
