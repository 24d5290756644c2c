"""Hosts on one machine for the system tests: a network namespace per host, joined by veth links to a bridge
in a namespace of its own, with nothing but these links (no route out). Used by test_multihost.py (plain
processes) and test_slurm.py (a Slurm cluster, each node also with its own host name and /etc/hosts).

Needs root and iproute2; ``Network.create`` raises Unavailable with the reason where they are missing.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path


class Unavailable(Exception):
    """Namespaces cannot be made here (the reason is the message)."""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


class Network:
    """Namespaces ``<tag>-<host>`` for the hosts, each with its address on one /24, and the switch namespace
    ``<tag>-sw`` with the bridge (given an address too with ``switch_address``: a host on the bridge itself)."""

    def __init__(self, tag: str, hosts: dict[str, str], switch_address: str | None = None) -> None:
        self.tag = tag
        self.hosts = hosts  # host -> address
        self.namespaces = {host: f"{tag}-{host}" for host in hosts}
        self.switch = f"{tag}-sw"
        self.switch_address = switch_address
        self.made: list[str] = []

    def create(self) -> Network:
        try:
            for name in [self.switch, *self.namespaces.values()]:
                ip("netns", "add", name)
                self.made.append(name)
        except (OSError, subprocess.CalledProcessError) as ex:
            self.delete()
            reason = getattr(ex, "stderr", "") or str(ex)
            raise Unavailable(f"cannot create network namespaces here ({reason.strip()}): needs root and "
                              "iproute2") from ex
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        ip("-n", self.switch, "link", "set", "lo", "up")
        if self.switch_address:
            ip("-n", self.switch, "addr", "add", f"{self.switch_address}/24", "dev", "br0")
        for index, (host, address) in enumerate(self.hosts.items()):
            inside, outside = f"{self.tag}h{index}", f"{self.tag}s{index}"
            namespace = self.namespaces[host]
            ip("link", "add", inside, "netns", namespace, "type", "veth", "peer", "name", outside, "netns",
               self.switch)
            ip("-n", self.switch, "link", "set", outside, "master", "br0", "up")
            ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
            ip("-n", namespace, "link", "set", inside, "up")
            ip("-n", namespace, "link", "set", "lo", "up")
        return self

    def link(self, host: str, up: bool) -> None:
        """Take a host's link to the bridge down (the host drops off the network) or up again."""
        index = list(self.hosts).index(host)
        ip("-n", self.namespaces[host], "link", "set", f"{self.tag}h{index}", "up" if up else "down")

    def delete(self) -> None:
        """Kill what still runs in the namespaces, then delete them (and with them every link)."""
        for name in self.made:
            listed = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, timeout=30)
            for pid in listed.stdout.split():
                subprocess.run(["kill", "-KILL", pid], capture_output=True, timeout=30)
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
        self.made = []


def as_host(namespace: str, command: Sequence[str], host_name: str | None = None,
            hosts_file: Path | None = None) -> list[str]:
    """``command`` run in ``namespace``; with ``host_name`` in a UTS namespace of its own under that name, and
    with ``hosts_file`` bind-mounted on /etc/hosts in a mount namespace of its own (the rest of the file
    system is shared: munge's socket, the test's files)."""
    # nsenter, not "ip netns exec": the latter mounts a new /sys, without the cgroup file systems slurmd needs
    prefix = ["nsenter", f"--net=/run/netns/{namespace}"]
    if host_name is None and hosts_file is None:
        return [*prefix, *command]
    steps = []
    if host_name is not None:
        steps.append(f"hostname {host_name}")
    if hosts_file is not None:
        steps.append(f"mount --bind {hosts_file} /etc/hosts")
    flags = ["--uts"] if host_name is not None else []
    if hosts_file is not None:
        flags += ["--mount", "--propagation", "private"]
    return [*prefix, "unshare", *flags, "sh", "-c", " && ".join(steps) + ' && exec "$@"', "sh", *command]


def namespace_tag(prefix: str) -> str:
    """Names unique to this test process (interface names stay under 16 characters)."""
    return f"{prefix}{os.getpid() % 100000}"
