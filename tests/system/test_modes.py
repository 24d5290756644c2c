"""Input and output modes on loopback: consumer (pva out) -> consumer (pvas in), consumer (rpc out) ->
consumer (rpc in), and a full receiver queue reported back to the sender."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from pvaflow.loopback import free_port

from .helpers import Recorder, get, wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]

SOURCE = "modes:image"
N_FRAMES = 40


def start_sim(start_process, wait_for_channel, tmp_path, fps: str = "50"):
    stack = np.random.default_rng(7).integers(0, 255, (N_FRAMES, 32, 48), dtype=np.uint8)
    np.save(tmp_path / "frames.npy", stack)
    server = start_process("sim-server", "-cn", SOURCE, "-if", str(tmp_path / "frames.npy"), "-cs", "10",
                           "-fps", fps, "-std", "3", "-shd", "2", "-rp", "0", "-dc")
    wait_for_channel(SOURCE, server)
    return server, stack


def status(channel: str) -> dict:
    return get(channel).toDict()


@pytest.mark.parametrize("mode", ["pva", "rpc"])
def test_chain_delivers_every_frame_in_order(start_process, wait_for_channel, tmp_path, mode: str) -> None:
    # the receiving consumer serves its input (pvas: a record clients put into; rpc: a service)
    input_mode = "pvas" if mode == "pva" else "rpc"
    receiver = start_process("consumer", "-ic", f"{mode}:in", "-im", input_mode, "-pc", "AdImageProcessor",
                             "-oc", f"{mode}:out", "-sc", f"{mode}:rx:status", "-dc")
    wait_for_channel(f"{mode}:rx:status", receiver)
    sender = start_process("consumer", "-ic", SOURCE, "-om", mode, "-oc", f"{mode}:in",
                           "-oa", '{"timeout": 10}', "-sc", f"{mode}:tx:status", "-dc")
    wait_for_channel(f"{mode}:tx:status", sender)
    output = Recorder(f"{mode}:out")
    server, stack = start_sim(start_process, wait_for_channel, tmp_path)
    assert server.wait(40) == 0
    ids = output.wait_for(N_FRAMES)
    frames = output.stop()
    assert ids == list(range(1, N_FRAMES + 1)), "every frame, in order"
    for image_id, image, _ in frames:
        np.testing.assert_array_equal(image, stack[image_id - 1])
    sent = status(f"{mode}:tx:status")
    assert sent["publisherStats"]["nPublished"] == N_FRAMES and sent["publisherStats"]["nErrors"] == 0
    received = status(f"{mode}:rx:status")
    assert received["receiverStats"]["nReceived"] == N_FRAMES
    assert received["processorStats"]["nProcessed"] == N_FRAMES and received["processorStats"]["nMissed"] == 0
    assert received["processorStats"]["nSkipped"] == 0  # nothing sent to a served input is an initial value


def test_rpc_receiver_with_full_queue_refuses_and_the_sender_counts_it(start_process, wait_for_channel,
                                                                      tmp_path) -> None:
    # the receiver queues at most 2 objects and processes nothing until 1000 have accumulated (or 30 s)
    receiver = start_process("consumer", "-ic", "full:in", "-im", "rpc", "-rqs", "2", "-ao", "1000", "-at", "30",
                             "-sc", "full:rx:status", "-dc")
    wait_for_channel("full:rx:status", receiver)
    sender = start_process("consumer", "-ic", SOURCE, "-om", "rpc", "-oc", "full:in", "-sc", "full:tx:status",
                           "-dc")
    wait_for_channel("full:tx:status", sender)
    server, _ = start_sim(start_process, wait_for_channel, tmp_path)
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
    start_process("consumer", "-ic", "ns:image", "-om", "rpc", "-oc", "ns:in", "-oa", '{"timeout": 10}', "-dc",
                  env=elsewhere | {"EPICS_PVA_NAME_SERVERS": f"127.0.0.1:{port}"})
    server = start_process("sim-server", "-cn", "ns:image", "-if", str(tmp_path / "frames.npy"), "-cs", "10",
                           "-fps", "20", "-std", "4", "-shd", "2", "-rp", "0", "-dc", env=elsewhere)
    assert server.wait(40) == 0
    wait_until(lambda: status("ns:rx:status")["processorStats"]["nProcessed"] == N_FRAMES, timeout=30,
               what="every frame through the RPC service")
    assert status("ns:rx:status")["processorStats"]["nMissed"] == 0
