"""File output in a consumer: frames from the sim-server saved as TIFF and HDF5, reconfigured while running."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile

from .helpers import control, get, start_frames, wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]
HERE = Path(__file__).parent


def serve_stack(start_process, wait_for_channel, tmp_path, n_frames: int, fps: str = "10"):
    stack = np.random.default_rng(3).integers(0, 65535, (n_frames, 16, 24), dtype=np.uint16)
    np.save(tmp_path / "frames.npy", stack)
    server = start_process("sim-server", "-cn", "file:image", "-if", str(tmp_path / "frames.npy"), "-cs", "1",
                           "-fps", fps, "-sos", "-std", "60", "-shd", "2", "-rp", "0", "-dc")
    wait_for_channel("file:image", server)
    return server, stack


def test_tiff_files_are_written_and_the_directory_changes_at_runtime(start_process, wait_for_channel,
                                                                    tmp_path) -> None:
    server, stack = serve_stack(start_process, wait_for_channel, tmp_path, 30)
    first, second = tmp_path / "first", tmp_path / "second"
    args = {"outputDirectory": str(first), "outputFileNameFormat": "{uniqueId:06}.{processorId}.tiff"}
    consumer = start_process("consumer", "-ic", "file:image", "-pc", "AdOutputFileProcessor", "-pa",
                             json.dumps(args), "-sc", "file:status", "-cc", "file:control", "-dc")
    wait_for_channel("file:control", consumer)
    start_frames(server, "file:status")
    wait_until(lambda: len(list(first.glob("*.tiff"))) >= 5, timeout=30, what="first files")
    reply = control("file:control", "configure", json.dumps({"outputDirectory": str(second)}))
    assert reply == "Configuration successful"
    refused = control("file:control", "configure", '{"outputFileNameFormat": "../{uniqueId}.tiff"}')
    assert refused.startswith("Configuration failed")
    assert server.wait(60) == 0
    wait_until(lambda: get("file:status")["userStats"]["nFilesSaved"] == 30, what="30 files saved")
    files = sorted(first.glob("*.tiff")) + sorted(second.glob("*.tiff"))
    assert [int(path.name.split(".")[0]) for path in files] == list(range(1, 31))
    assert len(list(second.glob("*.tiff"))) > 0
    for path in files:
        image_id = int(path.name.split(".")[0])
        np.testing.assert_array_equal(tifffile.imread(path), stack[image_id - 1])
    stats = get("file:status")["userStats"]
    assert stats["nErrors"] == 0 and stats["nMissedFiles"] == 0
    assert stats["nBytesSaved"] == sum(path.stat().st_size for path in files)


def test_hdf5_writer_closes_its_file_when_the_consumer_stops(start_process, wait_for_channel, tmp_path) -> None:
    server, stack = serve_stack(start_process, wait_for_channel, tmp_path, 12, fps="20")
    args = {"outputDirectory": str(tmp_path / "h5"), "nImagesPerFile": 5}
    consumer = start_process("consumer", "-ic", "file:image", "-pc", "Hdf5AdImageWriter", "-pa", json.dumps(args),
                             "-sc", "file:status", "-dc")
    wait_for_channel("file:status", consumer)
    start_frames(server, "file:status")
    assert server.wait(60) == 0
    wait_until(lambda: get("file:status")["processorStats"]["nProcessed"] == 12, what="12 frames processed")
    consumer.stop()  # SIGINT: stop() closes the third file, which holds 2 frames
    names = sorted(path.name for path in (tmp_path / "h5").iterdir())
    assert names == ["000001.1.hdf", "000002.1.hdf", "000003.1.hdf"]
    ids = []
    for name in names:
        with h5py.File(tmp_path / "h5" / name) as h5:
            ids += list(h5["uniqueId"][:])
            for index, image_id in enumerate(h5["uniqueId"][:]):
                np.testing.assert_array_equal(h5["images"][index], stack[image_id - 1])
    assert ids == list(range(1, 13))


def test_hdf5_frames_lost_with_a_full_disk_are_taken_out_of_processed(start_process, wait_for_channel,
                                                                        tmp_path) -> None:
    plan = {"channels": ["full:image"], "updates": [["full:image", i] for i in range(1, 10)], "size": 32}
    source = start_process(json.dumps(plan), script=str(HERE / "publish_ids.py"))
    wait_for_channel("full:image", source)
    # a file of three 32x32 frames takes 18.5 kB: every file fails, at its third frame or when it is closed
    writer = start_process("17000", "consumer", "-ic", "full:image", "-pc", "Hdf5AdImageWriter", "-sc", "full:status",
                           "-pa", json.dumps({"outputDirectory": str(tmp_path / "h5"), "nImagesPerFile": 3}), "-dc",
                           script=str(HERE / "limited_files.py"))
    wait_for_channel("full:status", writer)
    wait_until(lambda: get("full:status")["receiverStats"]["nReceived"] >= 1, what="the initial update")
    source.send_line()
    wait_until(lambda: get("full:status")["processorStats"]["lastObjectId"] == 9, what="all nine handled")
    processor = get("full:status")["processorStats"]  # the last file was closed with frame 9
    writer.stop()
    on_disk = sum(h5py.File(path)["uniqueId"].shape[0] for path in (tmp_path / "h5").glob("*.hdf"))
    print(f"FIGURES full disk: processed {processor['nProcessed']}, errors {processor['nErrors']}, on disk {on_disk}")
    assert processor["nErrors"] > 0
    assert processor["nProcessed"] + processor["nErrors"] == 9
    assert processor["nProcessed"] == on_disk  # a frame counted processed is a frame in a file
    assert writer.output.count("cannot complete") == 1  # logged once, counted after that
