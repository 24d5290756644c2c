"""Input and output modes on loopback: consumer (pva out) -> consumer (pvas in), consumer (rpc out) ->
consumer (rpc in), a full receiver queue reported back to the sender, and puts into a pvas input faster
than they can be read counted, never repeated."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pvaflow.loopback import free_port

from .helpers import Recorder, get, send_start_signal, start_frames, wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]

SOURCE = "modes:image"
N_FRAMES = 40


def start_sim(start_process, wait_for_channel, tmp_path, fps: str = "50"):
    stack = np.random.default_rng(7).integers(0, 255, (N_FRAMES, 32, 48), dtype=np.uint8)
    np.save(tmp_path / "frames.npy", stack)
    server = start_process("sim-server", "-cn", SOURCE, "-if", str(tmp_path / "frames.npy"), "-cs", "10",
                           "-fps", fps, "-sos", "-std", "60", "-shd", "2", "-rp", "0", "-dc")
    wait_for_channel(SOURCE, server)
    return server, stack


def status(channel: str) -> dict:
    return get(channel)


@pytest.mark.parametrize("mode", ["pva", "rpc"])
def test_chain_delivers_every_frame_in_order(start_process, wait_for_channel, tmp_path, mode: str) -> None:
    # the receiving consumer serves its input (pvas: a record clients put into; rpc: a service)
    input_mode = "pvas" if mode == "pva" else "rpc"
    receiver = start_process("consumer", "-ic", f"{mode}:in", "-im", input_mode, "-pc", "AdImageProcessor",
                             "-oc", f"{mode}:out", "-sc", f"{mode}:rx:status", "-dc")
    wait_for_channel(f"{mode}:rx:status", receiver)
    # a server queue for every frame: a sender slowed by a loaded machine never overruns its input monitor
    sender = start_process("consumer", "-ic", SOURCE, "-om", mode, "-oc", f"{mode}:in", "-sqs", str(N_FRAMES),
                           "-oa", '{"timeout": 10}', "-sc", f"{mode}:tx:status", "-dc")
    wait_for_channel(f"{mode}:tx:status", sender)
    output = Recorder(f"{mode}:out")
    server, stack = start_sim(start_process, wait_for_channel, tmp_path)
    start_frames(server, f"{mode}:tx:status")
    assert server.wait(40) == 0
    sent = status(f"{mode}:tx:status")
    assert sent["publisherStats"]["nPublished"] == N_FRAMES and sent["publisherStats"]["nErrors"] == 0
    # pvas: pvaccess reads the record after answering the put, so a put landing before that read overwrites
    # the one before it (rare at 50 fps); it is counted, as an overrun, and nothing is read twice
    wait_until(lambda: processed_or_overrun(status(f"{mode}:rx:status")) == N_FRAMES, what="every frame handled")
    received = status(f"{mode}:rx:status")
    overruns = received["receiverStats"]["nOverruns"]
    ids = output.wait_for(N_FRAMES - overruns)
    frames = output.stop()
    assert received["receiverStats"]["nReceived"] == N_FRAMES
    assert received["processorStats"]["nProcessed"] == len(ids) == N_FRAMES - overruns
    assert ids == sorted(set(ids)), "in order, none twice"
    if mode == "rpc":  # every frame whole (a pvas input can read one torn: see served_input.steady_copy)
        assert overruns == 0 and ids == list(range(1, N_FRAMES + 1)), "every frame, in order"
        for image_id, image, _ in frames:
            np.testing.assert_array_equal(image, stack[image_id - 1])
    assert received["processorStats"]["nSkipped"] == 0  # nothing sent to a served input is an initial value


def processed_or_overrun(stats: dict) -> int:
    return stats["processorStats"]["nProcessed"] + stats["receiverStats"]["nOverruns"]


def test_every_put_into_a_pvas_input_is_processed_once_or_counted(start_process, wait_for_channel) -> None:
    # 100 puts a second, not back to back: a pvas receiver reads the record while puts land in it, and pvaccess
    # can crash on that (docs/reference/consumer.md); a repeated read is counted (tests/unit/test_served_input.py)
    count = 300
    receiver = start_process("consumer", "-ic", "fast:in", "-im", "pvas", "-pc", "AdImageProcessor",
                             "-oc", "fast:out", "-sc", "fast:status", "-dc")
    wait_for_channel("fast:status", receiver)
    output = Recorder("fast:out", queue_size=count)
    sender = start_process("fast:in", str(count), "100", script=str(Path(__file__).parent / "put_ids.py"))
    assert sender.wait(60) == 0
    wait_until(lambda: processed_or_overrun(status("fast:status")) == count, what="every put handled")
    received = status("fast:status")
    ids = output.wait_for(received["processorStats"]["nProcessed"])
    output.stop()
    assert received["receiverStats"]["nReceived"] == count
    assert len(ids) == received["processorStats"]["nProcessed"]
    assert ids == sorted(set(ids)) and set(ids) <= set(range(1, count + 1)), "in order, none read twice"
    assert received["receiverStats"]["nOverruns"] == count - len(ids), "each put not read is counted"


def test_rpc_receiver_with_full_queue_refuses_and_the_sender_counts_it(start_process, wait_for_channel,
                                                                      tmp_path) -> None:
    # the receiver queues at most 2 objects and processes nothing until 1000 have accumulated (or 30 s)
    receiver = start_process("consumer", "-ic", "full:in", "-im", "rpc", "-rqs", "2", "-ao", "1000", "-at", "30",
                             "-sc", "full:rx:status", "-dc")
    wait_for_channel("full:rx:status", receiver)
    # a server queue for every frame: each refused RPC call takes time, and a slowed sender must not overrun its
    # monitor (a full run had 1 overrun, counted missed, where the test counts refusals)
    sender = start_process("consumer", "-ic", SOURCE, "-om", "rpc", "-oc", "full:in", "-sc", "full:tx:status",
                           "-sqs", str(N_FRAMES), "-dc")
    wait_for_channel("full:tx:status", sender)
    server, _ = start_sim(start_process, wait_for_channel, tmp_path)
    start_frames(server, "full:tx:status")
    assert server.wait(40) == 0
    wait_until(lambda: status("full:tx:status")["processorStats"]["nProcessed"] == N_FRAMES, what="all sent")
    sent = status("full:tx:status")["publisherStats"]
    received = status("full:rx:status")["receiverStats"]
    assert (sent["nPublished"], sent["nErrors"]) == (2, N_FRAMES - 2)
    assert (received["nReceived"], received["nRejected"]) == (N_FRAMES, N_FRAMES - 2)


def test_rpc_across_a_name_server_as_in_pvapys_firewall_set_up(start_process, wait_for_channel, tmp_path) -> None:
    """Issue 19: the sender finds the receiver's RPC service only through EPICS_PVA_NAME_SERVERS (its UDP
    searches go to another port), so the service must listen on the receiver's EPICS_PVAS_SERVER_PORT."""
    port = str(free_port())
    other_search_port = str(free_port(socket.SOCK_DGRAM))
    elsewhere = {"EPICS_PVA_BROADCAST_PORT": other_search_port, "EPICS_PVAS_BROADCAST_PORT": other_search_port}
    receiver = start_process("consumer", "-ic", "ns:in", "-im", "rpc", "-pc", "AdImageProcessor", "-oc", "ns:out",
                             "-sc", "ns:rx:status", "-dc",
                             env={"EPICS_PVAS_SERVER_PORT": port, "EPICS_PVA_SERVER_PORT": port})
    wait_for_channel("ns:rx:status", receiver)
    stack = np.random.default_rng(8).integers(0, 255, (N_FRAMES, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "frames.npy", stack)
    name_server = {"EPICS_PVA_NAME_SERVERS": f"127.0.0.1:{port}"}

    def start_sender():
        # a server queue for every frame: an RPC call slowed by a loaded machine must not overrun the monitor
        # (seen once in a loaded full run: 1 overrun, counted missed, where the test is about finding the service)
        return start_process("consumer", "-ic", "ns:image", "-om", "rpc", "-oc", "ns:in", "-oa", '{"timeout": 10}',
                             "-sqs", str(N_FRAMES), "-dc", "-sc", "ns:tx:status", env=elsewhere | name_server)

    sender = start_sender()
    crashed_starts = []
    server = start_process("sim-server", "-cn", "ns:image", "-if", str(tmp_path / "frames.npy"), "-cs", "10",
                           "-fps", "20", "-sos", "-std", "60", "-shd", "2", "-rp", "0", "-dc", env=elsewhere)

    def sender_connected() -> bool:  # asked from a process that searches where the sender serves
        nonlocal sender
        if not crashed_starts and sender.process.poll() == -signal.SIGSEGV:
            # pvAccess's name-server race at a process's first search, before any frame (docs/reliability.md;
            # reproduced with pvaccess alone): started once more, as a user would
            crashed_starts.append(sender.output)
            sender = start_sender()
        sender.check_running()  # any other end fails here with the sender's output
        result = subprocess.run([sys.executable, "-m", "pvaflow", "status", "ns:tx:status", "--json", "-t", "2"],
                                env=os.environ | elsewhere, capture_output=True, text=True, timeout=30)
        return result.returncode == 0 and json.loads(result.stdout)["status"]["processorStats"]["nSkipped"] >= 1

    wait_until(sender_connected, timeout=40, what="the sender monitoring the source")
    send_start_signal(server.process)
    assert server.wait(40) == 0
    wait_until(lambda: status("ns:rx:status")["processorStats"]["nProcessed"] == N_FRAMES, timeout=30,
               what="every frame through the RPC service")
    assert status("ns:rx:status")["processorStats"]["nMissed"] == 0
