"""Loopback-only EPICS settings for tests, the demo and benchmarks.

EPICS searches and beacons go to every interface by default. These
variables keep PVA and CA searches, beacons and servers on 127.0.0.1.
pvaccess reads them when it creates its first client or server context, so
they must be set before that (importing pvaccess earlier is fine).
"""

from __future__ import annotations

import socket

LOOPBACK_ENV: dict[str, str] = {
    "EPICS_PVA_AUTO_ADDR_LIST": "NO",
    "EPICS_PVA_ADDR_LIST": "127.0.0.1",
    "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1",
    "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
    "EPICS_PVAS_BEACON_ADDR_LIST": "127.0.0.1",
    "EPICS_CA_AUTO_ADDR_LIST": "NO",
    "EPICS_CA_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
    "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
}


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 that is free for TCP (or UDP with SOCK_DGRAM) right now."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def loopback_env() -> dict[str, str]:
    """LOOPBACK_ENV plus free ports: a private PVA search port and CA ports.

    Processes given the same dictionary find each other; other runs on the
    same machine (other search ports) do not see them.
    """
    search_port = str(free_port(socket.SOCK_DGRAM))
    ca_port = str(free_port(socket.SOCK_DGRAM))
    env = dict(LOOPBACK_ENV)
    env.update(
        {
            "EPICS_PVA_BROADCAST_PORT": search_port,
            "EPICS_PVAS_BROADCAST_PORT": search_port,
            "EPICS_PVA_SERVER_PORT": str(free_port()),
            "EPICS_PVAS_SERVER_PORT": str(free_port()),
            "EPICS_CA_SERVER_PORT": ca_port,
            "EPICS_CAS_SERVER_PORT": ca_port,
            "EPICS_CA_REPEATER_PORT": str(free_port(socket.SOCK_DGRAM)),
        }
    )
    return env


def server_env(base: dict[str, str]) -> dict[str, str]:
    """``base`` with a free TCP port for one more PVA server process."""
    port = str(free_port())
    return dict(base, EPICS_PVAS_SERVER_PORT=port, EPICS_PVA_SERVER_PORT=port)
