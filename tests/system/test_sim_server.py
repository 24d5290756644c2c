"""pvaflow sim-server on loopback, read by a pvaccess client and by an independent p4p client."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np
import pvaccess as pva
import pytest

from .helpers import Recorder, get, seconds, wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(90)]

CHANNEL = "sim:image"


def sim_args(*extra: str) -> list[str]:
    return ["sim-server", "-cn", CHANNEL, "-std", "3", "-shd", "2", "-rp", "0", "-dc", *extra]


def test_ids_increase_by_one_and_rate_follows_timestamps(start_process, wait_for_channel) -> None:
    server = start_process(*sim_args("-nx", "64", "-ny", "32", "-dt", "uint16", "-fps", "100", "-rt", "3"))
    wait_for_channel(CHANNEL, server)
    recorder = Recorder(CHANNEL)
    assert server.wait(30) == 0
    frames = recorder.stop()
    ids = [frame[0] for frame in frames]
    assert ids == list(range(1, len(ids) + 1)), "every frame, in order, from id 1"
    assert len(ids) >= 290  # 3 s at 100 fps (the server publishes until runtime is exceeded)
    assert {(f[1].shape, f[1].dtype) for f in frames} == {((32, 64), np.dtype("uint16"))}
    stamps = [frame[2] for frame in frames]
    paced_rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert 80 < paced_rate < 120, "server time stamps follow the requested 100 fps"
    assert "frames published" in server.output and f"{len(ids)}" in server.output


def test_p4p_client_sees_the_same_frames(start_process, wait_for_channel) -> None:
    from p4p.client.thread import Context

    server = start_process(*sim_args("-nx", "40", "-ny", "30", "-fps", "50", "-rt", "2", "-nf", "5"))
    wait_for_channel(CHANNEL, server)
    recorder = Recorder(CHANNEL)
    p4p_frames: dict[int, np.ndarray] = {}
    with Context("pva", nt=False) as context:
        def on_update(value) -> None:
            if value["dimension"]:
                p4p_frames[value["uniqueId"]] = np.asarray(value["value"]).reshape(30, 40)

        subscription = context.monitor(CHANNEL, on_update, request="record[queueSize=1000]field()")
        assert server.wait(30) == 0
        subscription.close()
    pvaccess_frames = {frame[0]: frame[1] for frame in recorder.stop()}
    common = sorted(set(p4p_frames) & set(pvaccess_frames))
    assert len(common) >= 80
    assert sorted(p4p_frames) == list(range(min(p4p_frames), max(p4p_frames) + 1))
    for image_id in common:
        np.testing.assert_array_equal(p4p_frames[image_id], pvaccess_frames[image_id])
    # five distinct frames are recycled: id n and n + 5 carry the same pixels
    np.testing.assert_array_equal(pvaccess_frames[common[0]], pvaccess_frames[common[0] + 5])


def test_npy_input_streams_pixel_exact_and_stops_after_all_frames(start_process, wait_for_channel, tmp_path):
    stack = np.random.default_rng(7).integers(0, 4000, (12, 20, 24), dtype=np.int32)
    np.save(tmp_path / "stack.npy", stack)
    # 12 frames > cache size 4: published once each, then the server ends by itself
    server = start_process(*sim_args("-if", str(tmp_path / "stack.npy"), "-mm", "-cs", "4", "-fps", "200"))
    wait_for_channel(CHANNEL, server)
    recorder = Recorder(CHANNEL)
    assert server.wait(30) == 0
    frames = recorder.stop()
    assert [frame[0] for frame in frames] == list(range(1, 13))
    for image_id, image, _ in frames:
        np.testing.assert_array_equal(image, stack[image_id - 1])


@pytest.mark.parametrize("mode", [2, 3, 4])
def test_rgb_colour_modes_arrive_as_ny_nx_3(start_process, wait_for_channel, mode: int) -> None:
    server = start_process(*sim_args("-nx", "16", "-ny", "8", "-cm", str(mode), "-fps", "100", "-rt", "0.5"))
    wait_for_channel(CHANNEL, server)
    recorder = Recorder(CHANNEL)
    assert server.wait(30) == 0
    frames = recorder.stop()
    assert frames and {frame[1].shape for frame in frames} == {(8, 16, 3)}


def test_hdf5_compressed_chunks_stream_and_decode(start_process, wait_for_channel, tmp_path) -> None:
    stack = (np.arange(6 * 64 * 48) // 5).reshape(6, 64, 48).astype(np.uint16)
    path = tmp_path / "frames.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("/entry/data", data=stack, chunks=(1, 64, 48), **hdf5plugin.LZ4())
    server = start_process(
        *sim_args("-if", str(path), "-hds", "/entry/data", "-hcm", "-cs", "2", "-fps", "100")
    )
    wait_for_channel(CHANNEL, server)
    channel = pva.Channel(CHANNEL)
    codec_names: list[str] = []
    channel.subscribe("codec", lambda pv: codec_names.append(pv["codec"]["name"]))
    channel.startMonitor("record[queueSize=100]field(codec)")
    recorder = Recorder(CHANNEL)
    assert server.wait(30) == 0
    frames = recorder.stop()
    channel.stopMonitor()
    assert codec_names.count("lz4") == 6, "frames travel compressed"
    assert [frame[0] for frame in frames] == list(range(1, 7))
    for image_id, image, _ in frames:
        np.testing.assert_array_equal(image, stack[image_id - 1])


def test_metadata_pv_carries_the_frame_time_stamp(start_process, wait_for_channel) -> None:
    server = start_process(*sim_args("-nx", "8", "-ny", "8", "-fps", "20", "-rt", "1", "-mpv", "pva://sim:x"))
    wait_for_channel(CHANNEL, server)
    metadata_stamps: list[float] = []
    metadata = pva.Channel("sim:x")
    metadata.subscribe("m", lambda pv: metadata_stamps.append(seconds(pv["timeStamp"])))
    metadata.startMonitor("record[queueSize=100]field()")
    recorder = Recorder(CHANNEL)
    assert server.wait(30) == 0
    metadata.stopMonitor()
    frame_stamps = {frame[2] for frame in recorder.stop()}
    assert len(frame_stamps) >= 15
    assert frame_stamps <= set(metadata_stamps)


def test_summary_comes_once_the_last_frame_is_out_before_the_shutdown_delay(start_process, wait_for_channel) -> None:
    server = start_process(*sim_args("-fps", "50", "-nf", "20", "-cs", "5", "-shd", "60"))
    wait_for_channel(CHANNEL, server)
    wait_until(lambda: "frames published" in server.output, 30, "the summary")
    server.check_running()  # still serving: clients behind the source can still catch up
    assert re.search(r"frames published\D*20\b", server.output)
    assert get(CHANNEL, "field(uniqueId)")["uniqueId"] == 20


def test_sigint_stops_a_long_run_promptly(start_process, wait_for_channel) -> None:
    server = start_process(*sim_args("-fps", "10", "-rt", "300", "-shd", "60"))
    wait_for_channel(CHANNEL, server)
    started = time.monotonic()
    server.process.send_signal(signal.SIGINT)
    assert server.wait(10) == 0
    assert time.monotonic() - started < 10
    assert "frames published" in server.output


def test_notify_pv_is_set_at_start(start_process, wait_for_channel) -> None:
    plan = {"channels": [], "updates": [], "writable": ["sim:acquire"]}
    detector = start_process(json.dumps(plan), script=str(Path(__file__).parent / "publish_ids.py"))
    wait_for_channel("sim:acquire", detector)
    server = start_process(*sim_args("-fps", "10", "-rt", "0.2", "-npv", "pva://sim:acquire", "-nvl", "Acquire"))
    wait_for_channel(CHANNEL, server)
    assert server.wait(30) == 0
    assert detector.output.count("written Acquire") == 1


def test_ca_metadata_pv_is_served(start_process, wait_for_channel) -> None:
    server = start_process(*sim_args("-nx", "8", "-ny", "8", "-fps", "20", "-rt", "2", "-mpv", "ca://sim:ca1"))
    wait_for_channel(CHANNEL, server)
    channel = pva.Channel("sim:ca1", pva.CA)
    channel.setTimeout(5)
    values = set()
    deadline = time.monotonic() + 10
    while len(values) < 3 and time.monotonic() < deadline:
        values.add(channel.get("field(value)")["value"])
        time.sleep(0.2)
    assert len(values) >= 3, "the CA record takes a new value with the frames"
    assert all(0.0 <= value <= 1.0 for value in values)
