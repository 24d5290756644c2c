"""Issue 18, on loopback: a processor that exits, interrupts, hangs or changes its output structure never
aborts or hangs its consumer, and every object stays counted."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import Recorder, get, holds_for, wait_for_initial_value, wait_until

pytestmark = [pytest.mark.system, pytest.mark.timeout(120)]

HERE = Path(__file__).parent
HOSTILE = ("-pf", str(HERE / "processors" / "hostile.py"), "-pc", "Hostile")


def final_value(output: str, key: str) -> int:
    """A count from the final report table a consumer prints when it ends."""
    values = re.findall(rf"{key}\s*│\s*(\d+)", output)
    assert values, f"no {key} in:\n{output}"
    return int(values[-1])


def id_source(start_process, wait_for_channel, channel: str, last_id: int):
    source = start_process(json.dumps({"channels": [channel], "updates": [[channel, i] for i in range(1, last_id + 1)],
                                       "interval": 0.02}), script=str(HERE / "publish_ids.py"))
    wait_for_channel(channel, source)
    return source


@pytest.mark.parametrize("queue", [[], ["-rqs", "10"]], ids=["callback", "queue"])
@pytest.mark.parametrize("action", ["exit", "interrupt"])
def test_exit_or_interrupt_in_process_ends_the_consumer_cleanly_and_counted(
        start_process, wait_for_channel, action, queue) -> None:
    source = id_source(start_process, wait_for_channel, f"end:{action}:image", 6)
    consumer = start_process("consumer", "-ic", f"end:{action}:image", *HOSTILE, "-pa",
                             json.dumps({"fromId": 3, "do": action}), "-sc", f"end:{action}:status", "-dc", *queue)
    wait_for_channel(f"end:{action}:status", consumer)
    wait_until(lambda: get(f"end:{action}:status")["receiverStats"]["nReceived"] >= 1,
               what="the initial update")
    source.send_line()
    assert consumer.wait(30) == 1
    output = consumer.output
    what = "sys.exit(3)" if action == "exit" else "KeyboardInterrupt"
    assert f"process() on uniqueId 3 raised {what}" in output and "hostile.py:" in output
    assert final_value(output, "nProcessed") == 2 and final_value(output, "nErrors") >= 1
    # the objects that came before the input stopped are errors too: every id seen is counted
    assert final_value(output, "lastObjectId") == final_value(output, "nProcessed") + final_value(output, "nErrors")
    assert "Traceback" not in output and "FATAL" not in output


def test_a_process_call_that_never_returns_cannot_keep_the_consumer_from_ending(
        start_process, wait_for_channel) -> None:
    source = id_source(start_process, wait_for_channel, "hang:image", 3)
    consumers = {
        "runtime": start_process("consumer", "-ic", "hang:image", *HOSTILE, "-pa", '{"fromId": 2, "do": "hang"}',
                                 "-sc", "hang:runtime:status", "-rt", "4", "-dc"),
        "sigterm": start_process("consumer", "-ic", "hang:image", *HOSTILE, "-pa", '{"fromId": 2, "do": "hang"}',
                                 "-sc", "hang:sigterm:status", "-dc"),
        "sigterm-queue": start_process("consumer", "-ic", "hang:image", *HOSTILE, "-pa",
                                       '{"fromId": 2, "do": "hang"}', "-sc", "hang:queue:status", "-rqs", "5", "-dc"),
        "two-sigints": start_process("consumer", "-ic", "hang:image", *HOSTILE, "-pa", '{"fromId": 2, "do": "hang"}',
                                     "-sc", "hang:sigint:status", "-dc"),
    }
    for name, status in (("runtime", "hang:runtime:status"), ("sigterm", "hang:sigterm:status"),
                         ("sigterm-queue", "hang:queue:status"), ("two-sigints", "hang:sigint:status")):
        wait_for_channel(status, consumers[name])
    for status in ("hang:runtime:status", "hang:sigterm:status", "hang:queue:status", "hang:sigint:status"):
        wait_for_initial_value(status)  # the monitors got their initial (skipped) updates
    source.send_line()
    wait_until(lambda: all(get(status)["processorStats"]["nProcessed"] == 1
                           for status in ("hang:sigterm:status", "hang:sigint:status")), what="id 1 processed")
    time.sleep(0.5)  # id 2 is in process() now
    consumers["sigterm"].process.send_signal(signal.SIGTERM)
    consumers["sigterm-queue"].process.send_signal(signal.SIGTERM)
    consumers["two-sigints"].process.send_signal(signal.SIGINT)
    time.sleep(0.5)
    started = time.monotonic()
    consumers["two-sigints"].process.send_signal(signal.SIGINT)
    assert consumers["two-sigints"].wait(10) == 3
    assert time.monotonic() - started < 5  # at once, not after the 15 s a clean stop is given
    assert "a second interrupt" in consumers["two-sigints"].output
    for name in ("runtime", "sigterm", "sigterm-queue"):
        # SIGTERM or -rt: a clean stop without the hung call, or forced after 15 s
        assert consumers[name].wait(40) == 3, name
    for name, child in consumers.items():
        output = child.output
        assert "process() has not returned" in output and "on uniqueId 2" in output, name
        assert re.search(r"hostile\.py:\d+ in process", output), (name, output)


def test_an_output_of_another_structure_is_a_counted_publish_error_not_an_abort(
        start_process, wait_for_channel) -> None:
    source = id_source(start_process, wait_for_channel, "shape:image", 6)
    consumer = start_process("consumer", "-ic", "shape:image", *HOSTILE, "-pa", '{"fromId": 4, "do": "restructure"}',
                             "-oc", "shape:out", "-sc", "shape:status", "-dc")
    wait_for_channel("shape:status", consumer)
    wait_for_initial_value("shape:status")
    output = Recorder("shape:out")
    source.send_line()
    wait_until(lambda: get("shape:status")["processorStats"]["lastObjectId"] == 6, what="all six handled")
    status = get("shape:status")
    assert status["processorStats"]["nProcessed"] == 6
    assert (status["publisherStats"]["nPublished"], status["publisherStats"]["nErrors"]) == (3, 3)
    assert output.wait_for(3) == [1, 2, 3]
    output.stop()
    consumer.check_running()
    consumer.stop()
    assert consumer.process.returncode == 0
    assert consumer.output.count("structure definitions do not match") == 1


def tool(*args: str, shell_tail: str = "") -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pvaflow", *args]
    if shell_tail:
        return subprocess.run(f"{shlex.join(command)} {shell_tail}", shell=True, capture_output=True, text=True,
                              timeout=60)
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_status_and_control_refuse_what_would_hang_and_say_what_is_wrong(start_process, wait_for_channel) -> None:
    for args in (("status", "x", "-t", "0"), ("status", "x", "-t", "-1"), ("control", "x", "stop", "-t", "0"),
                 ("status", "x", "-w", "0")):
        refused = tool(*args)
        assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, (args, refused.stderr)
        assert "must be" in refused.stderr, refused.stderr
    consumer = start_process("consumer", "-ic", "edge:none", "-sc", "edge:status", "-cc", "edge:control", "-dc")
    wait_for_channel("edge:status", consumer)
    wrong = tool("status", "edge:control")
    assert wrong.returncode == 1 and "edge:control is not a status channel" in wrong.stderr and not wrong.stdout
    piped = tool("status", "edge:status", "--json", shell_tail="| head -c0")
    assert piped.returncode == 0 and "Traceback" not in piped.stderr, piped.stderr
    queue_size = tool("control", "edge:control", "configure", '{"receiverQueueSize": 100000000000}')
    assert queue_size.returncode == 1 and "receiverQueueSize must be an integer from 0 to" in queue_size.stdout


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def kill_and_see_children_end(parent, n_children: int) -> None:
    """SIGKILL to ``parent`` (no chance to stop its children); each of its children ends by itself."""
    pid = parent.process.pid
    children = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    assert len(children) == n_children
    parent.process.kill()
    parent.process.wait(10)
    wait_until(lambda: not any(alive(child) for child in children), 30, "every child ended")


def test_children_of_a_killed_consumer_supervisor_end_with_it(start_process, wait_for_channel) -> None:
    supervisor = start_process("consumer", "-ic", "orphan:none", "-nc", "2", "-sc", "orphan:*:status", "-dc")
    wait_for_channel("orphan:1:status", supervisor)
    wait_for_channel("orphan:2:status", supervisor)
    kill_and_see_children_end(supervisor, 2)
    restarted = start_process("consumer", "-ic", "orphan:none", "-nc", "2", "-sc", "orphan:*:status", "-dc")
    wait_for_channel("orphan:2:status", restarted)  # the names are free again


def test_stages_of_a_killed_pipeline_runner_end_with_it(start_process, wait_for_channel, tmp_path: Path) -> None:
    pipeline = tmp_path / "orphans.toml"
    pipeline.write_text('[pipeline]\nname = "orphans"\n[stages.source]\nkind = "sim-server"\nframe-rate = 1\n'
                        '[stages.work]\nkind = "consumer"\nreads = "source"\nn-consumers = 2\n')
    runner = start_process("run", str(pipeline))
    wait_for_channel("orphans:work:1:status", runner)
    wait_for_channel("orphans:work:2:status", runner)
    kill_and_see_children_end(runner, 3)
    wait_for_channel("orphans:work:2:status", start_process("run", str(pipeline)))  # the names are free again


def test_a_second_stage_refuses_names_that_are_served_already(start_process, wait_for_channel, monkeypatch) -> None:
    # the answers are waited for 0.25 s by default: with four test processes on two cores an answer took longer
    monkeypatch.setenv("PVAFLOW_NAME_CHECK_SECONDS", "5")
    first = start_process("consumer", "-ic", "twice:image", "-oc", "twice:out", "-sc", "twice:status", "-dc")
    wait_for_channel("twice:status", first)
    source = start_process("sim-server", "-cn", "twice:image", "-fps", "1", "-rt", "60", "-std", "0", "-dc")
    wait_for_channel("twice:image", source)
    for args in (("consumer", "-ic", "twice:image", "-oc", "twice:other", "-sc", "twice:status", "-dc"),
                 ("consumer", "-ic", "twice:image", "-oc", "twice:out", "-dc"),
                 ("sim-server", "-cn", "twice:image", "-rt", "5", "-dc"),
                 ("mirror", "-cm", "(twice:image,twice:source,pva,10)", "-dc")):
        second = start_process(*args)
        assert second.wait(30) == 1, args
        lines = [line for line in second.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "is served already by another process" in lines[0], lines
    first.check_running()
    source.check_running()
    for args, message in ((("-oc", "same:x", "-sc", "same:x"), "channel same:x is given for two"),
                          (("-oc", "same:in"), "--output-channel same:in is this consumer's input channel")):
        refused = tool("consumer", "-ic", "same:in", *args)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr


def connections_to_itself(pid: int) -> list[tuple[str, str]]:
    """The TCP connections whose both ends are sockets of process ``pid``: (local, remote) in /proc's hex form."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except FileNotFoundError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    ends = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and fields[9] in inodes:  # established
                ends.add((fields[1], fields[2]))
    return sorted((local, remote) for local, remote in ends if (remote, local) in ends)


def test_a_stage_keeps_no_client_channel_to_its_own_names(start_process, wait_for_channel) -> None:
    """The start-up look-up of a stage's names (is another process serving them?) leaves nothing behind.
    Asked in the stage's own process, pvaccess kept each get pending with its client channel, which connected
    to the stage's own server once it served the name (by the time the status channel answered, here) and
    stayed."""
    consumer = start_process("consumer", "-ic", "self:image", "-oc", "self:out", "-sc", "self:status",
                             "-cc", "self:control", "-dc")
    wait_for_channel("self:status", consumer)
    pid = consumer.process.pid
    # a channel connecting late would show meanwhile
    holds_for(lambda: connections_to_itself(pid) == [], 2, "the consumer not a client of its own server")
    assert not Path(f"/proc/{pid}/task/{pid}/children").read_text().split(), "the look-up's process is left"


def loaded(pid: int, library: str) -> bool:
    """The process has mapped a shared library whose file name holds ``library``."""
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False


# moments of a tool's start, each a condition (not a delay, which a loaded machine stretches): numpy's core
# loading (the tools are being imported), pvaccess loaded (about to serve), the tool running
MOMENTS = {"numpy": "_multiarray_umath", "pvaccess": "pvaccess", "running": None}


@pytest.mark.parametrize("moment", sorted(MOMENTS))
def test_ctrl_c_in_the_first_moments_of_a_tool_is_never_a_traceback(start_process, wait_for_channel,
                                                                    moment) -> None:
    """From the first line of pvaflow that runs (before it, Python's own start-up is not ours to guard)."""
    tools = {f"early:{moment}:status": start_process("consumer", "-ic", "early:image", "-sc", f"early:{moment}:status",
                                                     "-dc"),
             f"early:{moment}:image": start_process("sim-server", "-cn", f"early:{moment}:image", "-rt", "30", "-dc")}
    for channel, child in tools.items():
        if MOMENTS[moment] is None:
            wait_for_channel(channel, child)
        else:
            deadline = time.monotonic() + 30
            while not loaded(child.process.pid, MOMENTS[moment]) and child.process.poll() is None:
                assert time.monotonic() < deadline, f"{MOMENTS[moment]} never loaded:\n{child.output}"
        child.process.send_signal(signal.SIGINT)
    for child in tools.values():
        assert child.wait(30) in (0, 130), child.output
        assert "Traceback" not in child.output, child.output
