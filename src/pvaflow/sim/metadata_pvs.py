"""Metadata PVs of the simulation server (-mpv): one value per frame, same time stamp.

``pva://name`` is a record on the server's PvaServer with ``value`` and
``timeStamp``; ``ca://name`` or a bare name is an ``ao`` record in a CA IOC
hosted by pvaccess's ``CaIoc``.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
from pathlib import Path

import pvaccess as pva

from .. import ntnd
from ..errors import ChannelError, ConfigError

logger = logging.getLogger(__name__)

METADATA_TYPE = {"value": pva.DOUBLE, "timeStamp": pva.PvTimeStamp()}
CA_RECORD = 'record(ao, "$(NAME)") { field(PREC, "6") }\n'


def split_metadata_names(names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(PVA names, CA names) from ``pva://x``, ``ca://y`` and bare (CA) names."""
    pva_names: list[str] = []
    ca_names: list[str] = []
    for name in names:
        if name.startswith("pva://"):
            pva_names.append(name[len("pva://") :])
        elif name.startswith("ca://"):
            ca_names.append(name[len("ca://") :])
        elif "://" in name:
            raise ConfigError(f"metadata PV '{name}': protocol must be pva:// or ca://")
        else:
            ca_names.append(name)
    for name in pva_names + ca_names:
        if not name:
            raise ConfigError("metadata PV names must not be empty")
    return pva_names, ca_names


class MetadataPvs:
    """Creates the metadata PVs and updates them before each frame."""

    def __init__(self, names: tuple[str, ...], server: pva.PvaServer) -> None:
        self.server = server
        self.names = names
        self.pva_names, self.ca_names = split_metadata_names(names)
        self.ioc: pva.CaIoc | None = None
        for name in self.pva_names:
            server.addRecord(name, pva.PvObject(METADATA_TYPE), None)
        if self.ca_names:
            self.ioc = self._start_ioc(self.ca_names)

    @staticmethod
    def _start_ioc(names: list[str]) -> pva.CaIoc:
        # pvaPy's documentation has users point EPICS_DB_INCLUDE_PATH at EPICS base's dbd folder; pvaccess
        # brings its own, searched after theirs, so a wrong or missing path does not stop the IOC
        bundled = str(Path(pva.__file__).parent / "dbd")
        given = os.environ.get("EPICS_DB_INCLUDE_PATH")
        os.environ["EPICS_DB_INCLUDE_PATH"] = f"{given}{os.pathsep}{bundled}" if given else bundled
        with tempfile.NamedTemporaryFile("w", suffix=".db", delete=False) as db_file:
            db_file.write(CA_RECORD)
        try:
            ioc = pva.CaIoc()
            ioc.loadDatabase("base.dbd", "", "")
            ioc.registerRecordDeviceDriver()
            for name in names:
                ioc.loadRecords(db_file.name, f"NAME={name}")
            ioc.start()
        except Exception as ex:  # pvaccess raises its own exception types
            raise ChannelError(f"cannot start the CA IOC for metadata PVs {names}: {ex}") from ex
        finally:
            os.unlink(db_file.name)
        return ioc

    def update(self, seconds: float) -> None:
        """Publish a new random value on every metadata PV, stamped ``seconds``."""
        if not self.names:
            return
        value = random.random()
        if self.ioc is not None:
            for name in self.ca_names:
                self.ioc.putField(name, str(value))
        if self.pva_names:
            stamp = ntnd.time_stamp(seconds)
            update = pva.PvObject(METADATA_TYPE, {"value": value, "timeStamp": stamp})
            for name in self.pva_names:
                self.server.update(name, update)

    def close(self) -> None:
        if self.ioc is not None:
            self.ioc.stop()
            self.ioc = None
