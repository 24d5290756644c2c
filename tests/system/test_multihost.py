"""Three hosts on one machine: network namespaces for the source, the consumers and the collector, joined by
veth links to a bridge in a fourth namespace. The stages find each other by PVA search across the links
and the whole stream arrives in order. Skipped, with the reason, where namespaces cannot be made."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from .helpers import send_start_signal
from .namespaces import Network, Unavailable, as_host, namespace_tag

pytestmark = [pytest.mark.system, pytest.mark.timeout(180)]

SUBNET = "10.213.7"
HOSTS = {"src": f"{SUBNET}.1", "cons": f"{SUBNET}.2", "col": f"{SUBNET}.3"}
N_FRAMES = 200


@pytest.fixture
def namespaces() -> Iterator[dict[str, str]]:
    """host -> namespace name; every namespace (and with it every link) is deleted afterwards."""
    network = Network(namespace_tag("pvf"), HOSTS)
    try:
        network.create()
    except Unavailable as ex:
        pytest.skip(str(ex))
    try:
        yield network.namespaces
    finally:
        network.delete()


def host_env() -> dict[str, str]:
    """EPICS searches and beacons go to the three hosts' addresses only (unicast, inside the namespaces)."""
    addresses = " ".join(HOSTS.values())
    return dict(os.environ, PYTHONUNBUFFERED="1", EPICS_PVA_AUTO_ADDR_LIST="NO", EPICS_PVA_ADDR_LIST=addresses,
                EPICS_PVAS_AUTO_BEACON_ADDR_LIST="NO", EPICS_PVAS_BEACON_ADDR_LIST=addresses,
                EPICS_PVA_BROADCAST_PORT="5076", EPICS_PVAS_BROADCAST_PORT="5076",
                EPICS_PVA_SERVER_PORT="5075", EPICS_PVAS_SERVER_PORT="5075", EPICS_PVAS_INTF_ADDR_LIST="0.0.0.0")


def in_namespace(namespace: str, *args: str) -> list[str]:
    return as_host(namespace, [sys.executable, "-m", "pvaflow", *args])


def status(namespace: str, channel: str) -> dict | None:
    result = subprocess.run(in_namespace(namespace, "status", channel, "--json", "-t", "2"), env=host_env(),
                            capture_output=True, text=True, timeout=30)
    return json.loads(result.stdout)["status"] if result.returncode == 0 else None


def wait_for_status(namespace: str, channel: str, predicate, timeout: float, what: str) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = status(namespace, channel)
        if value is not None and predicate(value):
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {value})")


def test_stream_crosses_three_network_namespaces(namespaces: dict[str, str], tmp_path) -> None:
    commands = {
        "col": in_namespace(namespaces["col"], "collector", "-ic", "mh:*:out", "-pid", "1,2", "-oc", "mh:ordered",
                            "-sc", "mh:col:status", "-sqs", "50", "-dc"),
        "cons": in_namespace(namespaces["cons"], "consumer", "-ic", "mh:image", "-nc", "2", "-du", "1",
                             "-dt", "uniqueId", "-oc", "mh:*:out", "-sc", "mh:*:status", "-sqs", "50", "-dc"),
    }
    processes: list[subprocess.Popen] = []
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("col", "cons", "src")}  # noqa: SIM115
    try:
        for name, command in commands.items():
            processes.append(subprocess.Popen(command, env=host_env(), stdout=logs[name], stderr=subprocess.STDOUT))
        wait_for_status(namespaces["col"], "mh:col:status", lambda s: True, 40, "collector up")
        for consumer_id in (1, 2):
            wait_for_status(namespaces["cons"], f"mh:{consumer_id}:status", lambda s: True, 40, "consumers up")
        source = subprocess.Popen(
            in_namespace(namespaces["src"], "sim-server", "-cn", "mh:image", "-nx", "64", "-ny", "64", "-fps", "50",
                         "-nf", str(N_FRAMES), "-cs", "10", "-sos", "-std", "60", "-shd", "2", "-rp", "0", "-dc"),
            env=host_env(), stdout=logs["src"], stderr=subprocess.STDOUT)  # nsenter execs: the same pid
        processes.append(source)
        # the frames start once both consumers and the collector got their inputs' current values
        for consumer_id in (1, 2):
            wait_for_status(namespaces["cons"], f"mh:{consumer_id}:status",
                            lambda s: s["processorStats"]["nSkipped"] >= 1, 40, "consumers monitoring the source")
        wait_for_status(namespaces["col"], "mh:col:status",
                        lambda s: all(s[f"producerStats_{p}"]["nSkipped"] >= 1 for p in (1, 2)), 40,
                        "collector monitoring both consumers")
        send_start_signal(source)
        assert source.wait(60) == 0
        final = wait_for_status(namespaces["col"], "mh:col:status",
                                lambda s: s["collectorStats"]["nCollected"] >= N_FRAMES, 40, "every frame collected")
        collected = final["collectorStats"]
        print(f"FIGURES multi-host: sent {N_FRAMES}, collected {collected['nCollected']}, "
              f"missing {collected['nMissing']}")
        # arrivals out of order are normal with two producers (nOutOfOrder: the cache put them in order); none
        # may be handed on late or twice
        assert (collected["nCollected"], collected["nMissing"], collected["nLate"], collected["nDuplicates"]) == \
            (N_FRAMES, 0, 0, 0)
        assert final["processorStats"]["lastObjectId"] == N_FRAMES
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for log in logs.values():
            log.close()
        for name in ("col", "cons", "src"):
            print(f"--- {name}:\n{(tmp_path / f'{name}.log').read_text()}")
