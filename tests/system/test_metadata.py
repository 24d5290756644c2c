"""Metadata channels on loopback: sim-server metadata PVs (PVA and CA) -> consumer/collector queues ->
AdMetadataProcessor attributes matched to the right frames."""

from __future__ import annotations

import json
import threading

import pvaccess as pva
import pytest

from pvaflow import ntnd

from .helpers import get, start_frames, wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]

SOURCE = "md:image"
N_FRAMES = 30


class AttributeRecorder:
    """Keeps (uniqueId, time stamp, attributes) of every frame on a channel."""

    def __init__(self, channel_name: str, ready_timeout: float = 20.0) -> None:
        self.frames: list[tuple[int, float, dict]] = []
        self.lock = threading.Lock()
        self.monitoring = threading.Event()  # set by the first update: the monitor's initial value
        self.channel = pva.Channel(channel_name)
        self.channel.subscribe("attributes", self._on_frame)
        self.channel.startMonitor("record[queueSize=500]field(uniqueId,timeStamp,attribute)")
        # frames published before the monitor is in place would be missed (the likely cause of a loaded full
        # run in which the recorder saw none of five frames published): wait for the record's initial value
        if not self.monitoring.wait(ready_timeout):
            raise AssertionError(f"no initial value from {channel_name} in {ready_timeout} s")

    def _on_frame(self, pv: pva.PvObject) -> None:
        self.monitoring.set()
        if pv["uniqueId"] == 0:
            return  # the record's value before the first frame
        with self.lock:
            self.frames.append((pv["uniqueId"], ntnd.seconds(pv["timeStamp"]), ntnd.attribute_values(pv)))

    def stop(self) -> list[tuple[int, float, dict]]:
        self.channel.stopMonitor()
        with self.lock:
            return list(self.frames)


class ValueRecorder:
    """Keeps (time stamp, value) of every update of a metadata PV, as published."""

    def __init__(self, channel_name: str, provider: pva.ProviderType = pva.PVA) -> None:
        self.updates: list[tuple[float, float]] = []
        self.channel = pva.Channel(channel_name, provider)
        self.channel.subscribe("values", lambda pv: self.updates.append((ntnd.seconds(pv["timeStamp"]), pv["value"])))
        self.channel.startMonitor("record[queueSize=500]field(value,timeStamp)")

    def stop(self) -> dict[float, float]:
        self.channel.stopMonitor()
        return dict(self.updates)


def start_sim(start_process, wait_for_channel, metadata_pvs: str):
    server = start_process("sim-server", "-cn", SOURCE, "-nx", "16", "-ny", "16", "-fps", "20",
                           "-nf", str(N_FRAMES), "-cs", "10", "-sos", "-std", "60", "-shd", "2", "-rp", "0",
                           "-dc", "-mpv", metadata_pvs)
    wait_for_channel(SOURCE, server)
    return server


def start_with_metadata(server, status_channel: str) -> None:
    """start_frames() once the stage also monitors every metadata channel (their initial values arrived)."""
    def monitoring() -> bool:
        return all(channel["nReceived"] >= 1 for channel in get(status_channel)["metadataStats"].values())

    wait_until(monitoring, what=f"{status_channel} monitoring its metadata channels")
    start_frames(server, status_channel)


def test_pva_and_ca_metadata_become_attributes_of_the_right_frames(start_process, wait_for_channel) -> None:
    server = start_sim(start_process, wait_for_channel, "pva://md:x,ca://md:y")
    # the CA record is stamped by the IOC when the sim-server's put is processed, after the frame's stamp: 5 ms
    # was once too little on a loaded machine (one frame without md:y). 20 ms is still under half the 50 ms
    # between frames, so the nearest update is the frame's own (the x == y check below says so)
    consumer = start_process(
        "consumer", "-ic", SOURCE, "-oc", "mdc:out", "-sc", "mdc:status", "-dc",
        "-mc", "pva://md:x,ca://md:y", "-pc", "AdMetadataProcessor", "-pa", json.dumps({"timestampTolerance": 0.02}),
        "-rqs", "100", "-ao", "5", "-at", "0.5",
    )
    wait_for_channel("mdc:status", consumer)
    published_x = ValueRecorder("md:x")
    output = AttributeRecorder("mdc:out")
    start_with_metadata(server, "mdc:status")
    assert server.wait(40) == 0
    wait_until(lambda: len(output.frames) >= N_FRAMES, what=f"{N_FRAMES} frames out")
    frames = output.stop()
    x_by_stamp = published_x.stop()
    assert [frame[0] for frame in frames] == list(range(1, N_FRAMES + 1))
    for image_id, stamp, attributes in frames:
        # PVA metadata carries the frame's own time stamp: the value published with it
        assert attributes.get("md:x") == x_by_stamp[stamp], f"frame {image_id}"
        # the sim-server writes one value per frame to every PV: the CA one matched the same frame
        assert attributes.get("md:y") == pytest.approx(attributes["md:x"], abs=1e-6), f"frame {image_id}"
    status = get("mdc:status")
    assert status["userStats"]["nFramesMissingMetadata"] == 0
    assert status["userStats"]["nMetadataProcessed"] == 2 * N_FRAMES
    metadata_stats = status["metadataStats"]
    assert {section["channel"] for section in metadata_stats.values()} == {"md:x", "md:y"}
    assert all(section["nReceived"] >= N_FRAMES and section["nDropped"] == 0 for section in metadata_stats.values())


def test_small_metadata_queue_drops_the_oldest_and_counts_it(start_process, wait_for_channel) -> None:
    server = start_sim(start_process, wait_for_channel, "pva://md:z")
    # -rqs 5 bounds the frame queue (full: new frames are rejected) and each metadata queue (full: the
    # oldest update is dropped); nothing is processed until the stream has ended (-ao 1000, -at 2)
    consumer = start_process(
        "consumer", "-ic", SOURCE, "-oc", "mdq:out", "-sc", "mdq:status", "-dc", "-mc", "pva://md:z",
        "-pc", "AdMetadataProcessor", "-rqs", "5", "-ao", "1000", "-at", "2",
    )
    wait_for_channel("mdq:status", consumer)
    output = AttributeRecorder("mdq:out")
    # the input's current value must be out of the 5-object queue (skipped after the 2 s accumulation
    # timeout) before the frames come, or it takes the place of frame 5
    wait_until(lambda: get("mdq:status")["processorStats"]["nSkipped"] == 1, what="initial value skipped")
    start_with_metadata(server, "mdq:status")
    assert server.wait(40) == 0
    wait_until(lambda: len(output.frames) >= 5, what="the five queued frames processed")
    frames = output.stop()
    status = get("mdq:status")
    assert [frame[0] for frame in frames] == [1, 2, 3, 4, 5]  # the frame queue kept the first five
    assert status["receiverStats"]["nRejected"] == N_FRAMES - 5
    section = status["metadataStats"]["metadata_1"]
    assert section["channel"] == "md:z" and section["nDelivered"] == 5  # the metadata queue kept the last five
    assert section["nDropped"] == section["nReceived"] - 5 and section["nDropped"] >= N_FRAMES - 5
    # the first frames' updates were the dropped ones: no frame got another frame's value
    assert all("md:z" not in attributes for _, _, attributes in frames)
    assert status["userStats"]["nFramesMissingMetadata"] == 5 and status["userStats"]["nMetadataReceived"] == 5


def test_collector_hosts_metadata_channels(start_process, wait_for_channel) -> None:
    server = start_sim(start_process, wait_for_channel, "pva://md:w")
    collector = start_process(
        "collector", "-ic", SOURCE, "-pid", "1", "-oc", "mdcol:out", "-sc", "mdcol:status", "-dc",
        "-mc", "pva://md:w", "-pc", "AdMetadataProcessor", "-pa", json.dumps({"timestampTolerance": 0.005}),
    )
    wait_for_channel("mdcol:status", collector)
    published = ValueRecorder("md:w")
    output = AttributeRecorder("mdcol:out")
    start_with_metadata(server, "mdcol:status")
    assert server.wait(40) == 0
    wait_until(lambda: len(output.frames) >= N_FRAMES, what=f"{N_FRAMES} frames out of the collector")
    frames = output.stop()
    by_stamp = published.stop()
    values = [(attributes.get("md:w"), by_stamp[stamp]) for _, stamp, attributes in frames]
    assert all(found is None or found == expected for found, expected in values), "never another frame's value"
    # without accumulation a frame can be collected before its metadata update arrives; most are not
    assert sum(found is not None for found, _ in values) >= N_FRAMES // 2, values
    assert get("mdcol:status")["metadataStats"]["metadata_1"]["nReceived"] >= N_FRAMES


def test_a_metadata_channel_that_never_connects_is_reported_once_and_shown(start_process, wait_for_channel) -> None:
    consumer = start_process("consumer", "-ic", "mdnone:image", "-mc", "pva://mdnone:nowhere", "-sc", "mdnone:status",
                             "-dc")
    wait_for_channel("mdnone:status", consumer)
    wait_until(lambda: "metadata channel mdnone:nowhere is not connected" in consumer.output, timeout=20,
               what="the warning")
    status = get("mdnone:status")
    section = status["metadataStats"]["metadata_1"]
    assert section["channel"] == "mdnone:nowhere" and section["connected"] is False
    wait_until(lambda: get("mdnone:status")["objectId"] >= status["objectId"] + 2, what="two more status updates")
    assert consumer.output.count("is not connected") == 1  # once, not per status update
