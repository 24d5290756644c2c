"""pvaflow run on loopback: every example pipeline end to end, a killed stage restarted, one pipeline
split over two runners with --only, and the status and control tools against live stages."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pvaccess as pva
import pytest

from pvaflow.pipeline.source_counter import SourceCounter
from tests.keyfiles import write_key_files

from .helpers import get, send_start_signal, wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(150)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pipelines"
# example -> (source frames, frames processed by the last stage, expected userStats of the last stage);
# chain_to_files.toml is make demo's pipeline, run by tests/system/test_examples.py
EXPECTED = {
    "single_consumer.toml": (200, 200, {}),
    "distributed.toml": (400, 400, {}),
    "split_stitch.toml": (40, 160, {"nStitched": 40, "nIncomplete": 0}),
    "encryption.toml": (200, 200, {"nDecrypted": 200, "nFailed": 0, "nVerificationFailures": 0}),
    "metadata.toml": (100, 100, {}),  # the metadata accounting: metadata_accounted()
}


def metadata_accounted(user_stats: dict) -> bool:
    """Every frame got its 2 metadata values or is counted as missing some: a value that arrives after its
    frame's accumulation (seen once under load, 1 in 100) must show in nFramesMissingMetadata."""
    missing, attached = user_stats["nFramesMissingMetadata"], user_stats["nMetadataProcessed"]
    return user_stats["nFramesProcessed"] == 100 and 200 - 2 * missing <= attached <= 200 - missing


def run_pipeline(start_process, path: Path, summary: Path, *extra: str, cwd: Path | None = None):
    return start_process("run", str(path), "--summary", str(summary), *extra, cwd=cwd)


@pytest.mark.parametrize("example", sorted(EXPECTED))
def test_example_pipeline_runs_to_completion(start_process, tmp_path: Path, example: str) -> None:
    if example == "encryption.toml":
        shutil.copy(write_key_files(tmp_path / "keys")["pkcs8.pem"], tmp_path / "pipeline-key.pem")
    summary_path = tmp_path / "summary.json"
    runner = run_pipeline(start_process, EXAMPLES / example, summary_path, cwd=tmp_path)
    assert runner.wait(120) == 0, runner.output
    summary = json.loads(summary_path.read_text())
    source_frames, last_frames, user = EXPECTED[example]
    assert summary["sourceFrames"] == source_frames, runner.output
    assert summary["lastStageFrames"] == last_frames, runner.output
    for name, stage in summary["stages"].items():
        assert stage["nMissed"] == 0 and stage["nErrors"] == 0 and stage["restarts"] == 0, (name, stage)
    last = list(summary["stages"].values())[-1]
    assert {key: last["userStats"].get(key) for key in user} == user
    if example == "metadata.toml":
        assert metadata_accounted(last["userStats"]), last["userStats"]
    assert "summary" in runner.output and "sources finished and the pipeline drained" in runner.output


def stage_pid(status_channel_pattern: str, consumer_id: str | None = None) -> int:
    """The pid of the stage process started with this status channel option (and consumer id)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--status-channel" in argv and status_channel_pattern.encode() in argv and (
                consumer_id is None or argv[argv.index(b"--consumer-id") + 1] == consumer_id.encode()):
            found.append(int(entry.name))
    assert len(found) == 1, found
    return found[0]


def test_killed_stage_is_restarted_and_the_run_ends_cleanly(start_process, wait_for_channel, tmp_path: Path) -> None:
    path = tmp_path / "restart.toml"
    path.write_text(textwrap.dedent("""
        [pipeline]
        name = "restart"
        start-delay = 4
        [stages.source]
        kind = "sim-server"
        n-x-pixels = 64
        n-y-pixels = 64
        frame-rate = 20
        n-frames = 240
        cache-size = 10
        [stages.work]
        kind = "consumer"
        reads = "source"
    """))
    summary_path = tmp_path / "summary.json"
    runner = run_pipeline(start_process, path, summary_path)
    wait_for_channel("restart:work:1:status", runner)
    wait_until(lambda: get("restart:work:1:status")["processorStats"]["nProcessed"] >= 40,
               timeout=40, what="frames through the stage")
    before = get("restart:work:1:status")["processorStats"]["nProcessed"]
    os.kill(stage_pid("restart:work:*:status"), signal.SIGKILL)
    assert runner.wait(60) == 0, runner.output
    summary = json.loads(summary_path.read_text())
    work = summary["stages"]["work"]
    print(f"FIGURES killed stage: sent {summary['sourceFrames']}, processed {summary['lastStageFrames']}, "
          f"missed {work['nMissed']}, before the kill {before}, restarts {work['restarts']}")
    assert work["restarts"] == 1 and not work["failed"]
    assert "stage work exited with -9: restarting (1 of 3)" in runner.output
    # the frames of both incarnations are counted, and those sent while it was down are counted missed
    assert before < summary["lastStageFrames"] < 240
    assert summary["lastStageFrames"] + work["nMissed"] == summary["sourceFrames"] == 240
    assert work["nPublished"] == work["nProcessed"], "passthrough: one output per frame processed, as counted"
    assert "were lost while it restarted (counted missed)" in runner.output
    assert summary["lastStageFrames"] >= 240 - 120, "restarted within a few seconds (20 fps)"


def test_killed_distributed_consumer_is_restarted_and_every_frame_accounted(start_process, wait_for_channel,
                                                                            tmp_path: Path) -> None:
    """One of two consumers sharing the stream is killed: the other goes on, the runner restarts it, and the
    collector behind them counts exactly the ids that never reached it."""
    path = tmp_path / "dist.toml"
    path.write_text(textwrap.dedent("""
        [pipeline]
        name = "killdist"
        start-delay = 4
        [stages.source]
        kind = "sim-server"
        n-x-pixels = 64
        n-y-pixels = 64
        frame-rate = 30
        n-frames = 300
        cache-size = 10
        [stages.workers]
        kind = "consumer"
        reads = "source"
        n-consumers = 2
        distributor-updates = "1"
        distributor-trigger = "uniqueId"
        server-queue-size = 20
        [stages.ordered]
        kind = "collector"
        reads = "workers"
        collector-gap-wait = 1.0
    """))
    summary_path = tmp_path / "summary.json"
    runner = run_pipeline(start_process, path, summary_path)
    wait_for_channel("killdist:workers:2:status", runner)
    wait_until(lambda: get("killdist:workers:2:status")["processorStats"]["nProcessed"] >= 30,
               timeout=40, what="frames through consumer 2")
    os.kill(stage_pid("killdist:workers:*:status", "2"), signal.SIGKILL)
    assert runner.wait(90) == 0, runner.output
    summary = json.loads(summary_path.read_text())
    workers, ordered = summary["stages"]["workers"], summary["stages"]["ordered"]
    assert workers["restarts"] == 1 and not workers["failed"]
    assert summary["sourceFrames"] == 300
    collected = ordered["collectorStats"]
    print(f"FIGURES killed distributed consumer: sent {summary['sourceFrames']}, collected {collected['nCollected']}, "
          f"missing {collected['nMissing']}, restarts {workers['restarts']}")
    # every id the source sent is either collected or counted missing by the collector: none unaccounted
    assert collected["nCollected"] + collected["nMissing"] == 300, collected
    assert ordered["nProcessed"] == collected["nCollected"] and collected["nDuplicates"] == 0
    assert collected["nCollected"] >= 300 - 90, "consumer 1 went on while consumer 2 was restarted"


def test_only_runs_two_halves_of_one_pipeline_that_find_each_other(start_process, wait_for_channel,
                                                                   tmp_path: Path) -> None:
    # with --only the source starts after start-delay (its readers run elsewhere): 15 s here, not the example's
    # 6 s, which a loaded run once outlasted (the other half's consumers connected 0.6 s after the first frames)
    pipeline = tmp_path / "distributed.toml"
    pipeline.write_text((EXAMPLES / "distributed.toml").read_text().replace('name = "distributed"\n',
                                                                           'name = "distributed"\nstart-delay = 15\n'))
    workers = run_pipeline(start_process, pipeline, tmp_path / "workers.json", "--only", "workers,ordered")
    wait_for_channel("distributed:ordered:status", workers)
    source = run_pipeline(start_process, pipeline, tmp_path / "source.json", "--only", "source")
    wait_until(lambda: get("distributed:ordered:status")["processorStats"]["nProcessed"] == 400,
               timeout=60, what="400 frames through the other runner's collector")
    # ... and in that runner's own reading of the status (every 0.5 s), which its summary is made of
    wait_until(lambda: "ordered[running processed=400 " in workers.output, what="the runner reading 400")
    # the source's runner would go on for the sim-server's shutdown delay: Ctrl-C ends both runners cleanly
    for runner in (source, workers):
        runner.process.send_signal(signal.SIGINT)
    assert source.wait(40) == 0, source.output
    assert workers.wait(40) == 0, workers.output
    summary = json.loads((tmp_path / "workers.json").read_text())
    assert summary["sourceFrames"] == 400 and summary["lastStageFrames"] == 400
    assert list(summary["stages"]) == ["workers", "ordered"]
    assert all(stage["nMissed"] == 0 for stage in summary["stages"].values())
    assert json.loads((tmp_path / "source.json").read_text())["sourceFrames"] == 400


def test_a_source_count_whose_channel_never_connects_is_renewed_and_counts_every_frame(start_process,
                                                                                      wait_for_channel) -> None:
    # a runner's count of a source another runner starts (--only) once stayed at 0 of 400: its channel, made
    # before the record existed, never connected (pvAccess backs off the searches of a channel it did not find).
    # A channel to a name nobody serves stands for it here: it never connects, while the record is there
    counter = SourceCounter("count:image")
    counter.channel = pva.Channel("count:nowhere")
    counter.start()
    try:
        sim = start_process("sim-server", "-cn", "count:image", "-nx", "8", "-ny", "8", "-fps", "100", "-nf", "30",
                            "-cs", "10", "-sos", "-std", "60", "-shd", "30", "-rp", "0", "-dc")
        wait_for_channel("count:image", sim)
        wait_until(lambda: counter.look() or counter.monitoring, what="the count's new channel monitoring")
        assert counter.channel.getName() == "count:image"
        send_start_signal(sim.process)
        wait_until(lambda: counter.look() or counter.count == 30, what="30 frames counted")
        assert counter.staleness.n_renewals == 0, "a channel that never connected is not counted as stale"
    finally:
        counter.stop()


def tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pvaflow", *args], capture_output=True, text=True, timeout=60)


def test_status_and_control_tools_against_a_live_consumer(start_process, wait_for_channel) -> None:
    consumer = start_process("consumer", "-ic", "tools:none", "-sc", "tools:status", "-cc", "tools:control", "-dc")
    wait_for_channel("tools:status", consumer)
    wait_for_channel("tools:control", consumer)
    as_json = tool("status", "tools:status", "--json")
    assert as_json.returncode == 0, as_json.stderr
    status = json.loads(as_json.stdout)
    assert status["channel"] == "tools:status" and status["status"]["consumerId"] == 1
    table = tool("status", "tools:status")
    assert table.returncode == 0 and "nProcessed" in table.stdout and "consumer 1" in table.stdout
    missing = tool("status", "tools:nothing", "-t", "1")
    assert missing.returncode == 1 and "status channel tools:nothing does not answer" in missing.stderr
    configured = tool("control", "tools:control", "configure", '{"skipInitialUpdates": 0}')
    assert (configured.returncode, configured.stdout.strip()) == (0, "Configuration successful")
    refused = tool("control", "tools:control", "configure", '{"skipInitialUpdates": "x"}')
    assert refused.returncode == 1
    assert refused.stdout.startswith("Configuration failed: skipInitialUpdates must be an integer")
    unknown = tool("control", "tools:control", "restart")
    assert unknown.returncode == 2 and "unknown command 'restart'" in unknown.stderr
    watch = subprocess.Popen([sys.executable, "-m", "pvaflow", "status", "tools:status", "--json", "--watch", "0.3"],
                             stdout=subprocess.PIPE, text=True)
    seen = [watch.stdout.readline() for _ in range(3)]  # three answers, 0.3 s apart
    watch.send_signal(signal.SIGINT)
    watch.communicate(timeout=20)
    assert watch.returncode == 0 and all(json.loads(line)["channel"] == "tools:status" for line in seen)
    stopped = tool("control", "tools:control", "stop")
    assert (stopped.returncode, stopped.stdout.strip()) == (0, "Stop flag set")
    assert consumer.wait(20) == 0


def test_a_stage_that_keeps_dying_at_once_ends_the_run_with_every_frame_counted(start_process, tmp_path: Path) -> None:
    hostile = Path(__file__).parent / "processors" / "hostile.py"
    path = tmp_path / "dying.toml"
    path.write_text(textwrap.dedent(f"""
        [pipeline]
        name = "dying"
        start-delay = 4
        max-restarts = 2
        [stages.source]
        kind = "sim-server"
        n-x-pixels = 64
        n-y-pixels = 64
        frame-rate = 50
        n-frames = 3000
        cache-size = 10
        [stages.work]
        kind = "consumer"
        reads = "source"
        processor-file = "{hostile}"
        processor-class = "Hostile"
        processor-args = '{{"fromId": 1, "do": "crash"}}'
    """))
    summary_path = tmp_path / "summary.json"
    runner = run_pipeline(start_process, path, summary_path)
    assert runner.wait(90) == 1, runner.output
    assert "stage work failed and is not restarted: the pipeline cannot go on without it" in runner.output
    summary = json.loads(summary_path.read_text())
    work = summary["stages"]["work"]
    print(f"FIGURES dying stage: sent {summary['sourceFrames']}, processed {work['nProcessed']}, "
          f"missed {work['nMissed']}, restarts {work['restarts']}")
    assert work["failed"] and work["restarts"] == 2 and work["nProcessed"] == 0
    assert 0 < summary["sourceFrames"] < 3000  # the run ended when the stage failed, not with the source (60 s)
    assert work["nProcessed"] + work["nErrors"] + work["nMissed"] == summary["sourceFrames"]
