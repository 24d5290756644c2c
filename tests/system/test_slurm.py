"""pvaflow run under a real Slurm cluster of three nodes on this machine.

Each node is a network namespace with its own host name (UTS namespace) and /etc/hosts (mount namespace),
joined to the others by a bridge (tests/system/namespaces.py); one slurmd per node, and slurmctld on a fourth
host on the bridge, ``login``, from which the tests submit jobs and read status channels as a user on a login
node would. Skips with the reason where Slurm (Debian's slurm-wlm and munge, installed by .ci/run) is not
installed, this is not root, or namespaces cannot be made.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .helpers import wait_until
from .namespaces import Network, Unavailable, as_host, namespace_tag

pytestmark = [pytest.mark.system, pytest.mark.timeout(150)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pipelines"
SUBNET = "10.213.8"
NODES = {"n1": f"{SUBNET}.1", "n2": f"{SUBNET}.2", "n3": f"{SUBNET}.3"}
LOGIN = ("login", f"{SUBNET}.254")  # slurmctld's host, on the bridge itself
SLURM_CONF = """\
ClusterName=pvaflowtest
SlurmctldHost={login}({login_address})
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool-%n
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd-%n.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SlurmdTimeout=5
{nodes}
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
"""


def missing() -> str | None:
    if os.geteuid() != 0:
        return "Slurm's daemons need root here"
    for tool in ("slurmctld", "slurmd", "sbatch", "squeue", "scancel", "munged", "nsenter", "unshare"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} not installed (Debian's slurm-wlm and munge; .ci/run installs them)"
    return None


def munge_running() -> bool:
    return subprocess.run(["munge", "-n"], capture_output=True, timeout=10).returncode == 0


@dataclass
class Cluster:
    network: Network
    hosts_file: Path
    env: dict[str, str]  # SLURM_CONF; no EPICS variable of the tests' loopback set-up (the nodes are hosts)

    def login(self, *command: str, timeout: float = 30, check: bool = False) -> subprocess.CompletedProcess:
        """``command`` run on the login host, as a user there would."""
        return subprocess.run(as_host(self.network.switch, command, LOGIN[0], self.hosts_file), env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=check)

    def node(self, name: str, command: list[str], log: Path) -> subprocess.Popen:
        with log.open("w") as output:
            return subprocess.Popen(as_host(self.network.namespaces[name], command, name, self.hosts_file),
                                    env=self.env, stdout=output, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three Slurm nodes and a login host, each in namespaces of its own."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("slurm")
    for sub in ("state", *(f"spool-{node}" for node in NODES)):
        (directory / sub).mkdir()
    network = Network(namespace_tag("pvs"), NODES, switch_address=LOGIN[1])
    try:
        network.create()
    except Unavailable as ex:
        pytest.skip(str(ex))
    hosts_file = directory / "hosts"
    hosts_file.write_text("127.0.0.1 localhost\n" + "".join(f"{address} {name}\n" for name, address in
                                                           [LOGIN, *NODES.items()]))
    node_lines = "\n".join(f"NodeName={name} NodeAddr={address} CPUs=2 State=UNKNOWN" for name, address in
                           NODES.items())
    conf = directory / "slurm.conf"
    conf.write_text(SLURM_CONF.format(dir=directory, login=LOGIN[0], login_address=LOGIN[1], nodes=node_lines))
    env = {name: value for name, value in os.environ.items() if not name.startswith("EPICS_")}
    env |= {"SLURM_CONF": str(conf), "PYTHONUNBUFFERED": "1"}
    if not munge_running():
        Path("/run/munge").mkdir(exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True, timeout=10)
        wait_until(munge_running, 10, "munged answering")
    cluster = Cluster(network, hosts_file, env)
    daemons: list[subprocess.Popen] = []
    try:
        with (directory / "slurmctld.out").open("w") as output:
            daemons.append(subprocess.Popen(as_host(network.switch, ["slurmctld", "-D"], LOGIN[0], hosts_file),
                                            env=env, stdout=output, stderr=subprocess.STDOUT))
        daemons += [cluster.node(name, ["slurmd", "-D"], directory / f"slurmd-{name}.out") for name in NODES]
        wait_until(lambda: cluster.login("sinfo", "-h", "-N", "-o", "%T").stdout.split() == ["idle"] * len(NODES), 40,
                   "the three Slurm nodes idle")
        yield cluster
    finally:
        cluster.login("scancel", "--partition", "test")  # what a failed test left running
        deadline = time.monotonic() + 30  # their steps stop before the daemons do
        while cluster.login("squeue", "-h").stdout.strip() and time.monotonic() < deadline:
            time.sleep(0.5)
        for daemon in daemons:
            daemon.terminate()
        for daemon in daemons:
            try:
                daemon.wait(15)
            except subprocess.TimeoutExpired:
                daemon.kill()
        network.delete()  # kills what is left in the nodes (steps whose job outlived the test)


def job_state(cluster: Cluster, job: str) -> str:
    shown = cluster.login("scontrol", "show", "job", job).stdout
    return next((word.split("=")[1] for word in shown.split() if word.startswith("JobState=")), "")


def ended(cluster: Cluster, job: str) -> bool:
    return job_state(cluster, job) in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL")


def submit(cluster: Cluster, tmp_path: Path, *run_args: str, sbatch_args: tuple[str, ...] = ()) -> tuple[str, Path,
                                                                                                   Path]:
    """``sbatch -N 3 --wrap "pvaflow run ..."`` from the login host: (job id, summary file, job output)."""
    summary, output = tmp_path / "summary.json", tmp_path / "job.out"
    command = [sys.executable, "-m", "pvaflow", "run", *run_args, "--summary", str(summary)]
    job = cluster.login("sbatch", "--parsable", *sbatch_args, "-N", str(len(NODES)), "-o", str(output), "--wrap",
                        "exec " + " ".join(command), check=True).stdout.strip()
    return job, summary, output


def started(output: Path) -> bool:
    return "every stage monitors its input" in (output.read_text() if output.exists() else "")


def step_of(cluster: Cluster, name: str, job: str) -> str:
    """The id of the job's running step called ``name``, asked on the login host as pvaflow asks it."""
    code = "import sys; from pvaflow.pipeline.launcher import step_id; print(step_id(sys.argv[1], sys.argv[2]) or '')"
    return cluster.login(sys.executable, "-c", code, name, job).stdout.strip()


def login_status(cluster: Cluster, channel: str) -> dict | None:
    """``pvaflow status CHANNEL --json`` on the login host, searching the nodes' addresses (None: no answer)."""
    addresses = " ".join(NODES.values())
    shown = cluster.login("env", "EPICS_PVA_AUTO_ADDR_LIST=NO", f"EPICS_PVA_ADDR_LIST={addresses}", sys.executable,
                          "-m", "pvaflow", "status", channel, "--json", "-t", "5")
    return json.loads(shown.stdout)["status"] if shown.returncode == 0 else None


def placed(pipeline: str, **node_lists: list[str]) -> str:
    """``pipeline`` (TOML text) with a node-list for the named stages."""
    for stage, nodes in node_lists.items():
        header = f"[stages.{stage}]\n"
        pipeline = pipeline.replace(header, f"{header}node-list = {json.dumps(nodes)}\n")
    return pipeline


def test_the_distributed_example_runs_across_three_nodes(cluster: Cluster, tmp_path: Path) -> None:
    """Source on the first node (the default), the two consumers on the second, the collector on the third:
    the frames cross the bridge twice, found by PVA search on the nodes' addresses only."""
    pipeline = tmp_path / "distributed.toml"
    pipeline.write_text(placed((EXAMPLES / "distributed.toml").read_text(), workers=["n2"], ordered=["n3"]))
    job, summary_path, output = submit(cluster, tmp_path, str(pipeline))
    wait_until(lambda: ended(cluster, job), 90, f"job {job} to end")
    log = output.read_text()
    assert job_state(cluster, job) == "COMPLETED", log
    for stage, node in (("source", "n1"), ("workers", "n2"), ("ordered", "n3")):
        assert f"starting stage {stage} on {node}:" in log, log
    assert "Killed" not in log, "a step's task was killed instead of stopped"
    summary = json.loads(summary_path.read_text())
    assert summary["sourceFrames"] == summary["lastStageFrames"] == 400
    assert all(stage["nMissed"] == 0 and not stage["failed"] for stage in summary["stages"].values())
    collected = summary["stages"]["ordered"]["collectorStats"]
    # in order: none handed on late or twice (arrivals out of order are the cache's to put right)
    assert (collected["nCollected"], collected["nMissing"], collected["nLate"], collected["nDuplicates"]) == \
        (400, 0, 0, 0)


KILLED_STEP_PIPELINE = """
[pipeline]
name = "slurmkill"
start-delay = 20  # at most: the runner starts the source once every stage monitors its input
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
"""


def test_a_killed_consumer_step_is_restarted_and_every_frame_accounted(cluster: Cluster, tmp_path: Path) -> None:
    pipeline = tmp_path / "kill.toml"
    pipeline.write_text(KILLED_STEP_PIPELINE)  # default placement: the consumers on n2 and n3
    job, summary_path, output = submit(cluster, tmp_path, str(pipeline))
    wait_until(lambda: started(output), 60, "the pipeline started")
    time.sleep(1.5)  # some frames through both consumers
    step = step_of(cluster, "slurmkill:workers:3", job)  # the second consumer (steps: source 1, workers 2 and 3)
    assert step, cluster.login("squeue", "-s").stdout
    cluster.login("scancel", "--signal=KILL", step, check=True)
    wait_until(lambda: ended(cluster, job), 90, f"job {job} to end")
    log = output.read_text()
    assert job_state(cluster, job) == "COMPLETED", log
    assert "starting stage workers on n3:" in log, log
    summary = json.loads(summary_path.read_text())
    workers, ordered = summary["stages"]["workers"], summary["stages"]["ordered"]
    assert workers["restarts"] == 1 and not workers["failed"], log
    assert summary["sourceFrames"] == 300
    collected = ordered["collectorStats"]
    # every id the source sent is collected, or counted missing by the collector or, after the last one it
    # collected, by the runner: none unaccounted
    assert collected["nCollected"] + collected["nMissing"] + summary["framesAfterLastThrough"] == 300, collected
    assert ordered["nProcessed"] == collected["nCollected"] and collected["nDuplicates"] == 0


def test_submitted_from_the_login_node_watched_from_there_and_ended_by_scancel(cluster: Cluster,
                                                                               tmp_path: Path) -> None:
    """``pvaflow run --submit`` on the login host submits the job and prints its id; ``pvaflow status`` there
    reads a stage's status channel on a node; ``scancel`` ends the job with the summary written."""
    summary_path = tmp_path / "summary.json"
    submitted = cluster.login(sys.executable, "-m", "pvaflow", "run", str(EXAMPLES / "distributed.toml"),
                              "--submit", "--nodes", "3", "--output", str(tmp_path / "job-%j.out"),
                              "-rt", "600", "--summary", str(summary_path), check=True)
    job = re.fullmatch(r"Submitted batch job (\d+)\n", submitted.stdout).group(1)
    output = tmp_path / f"job-{job}.out"
    wait_until(lambda: started(output), 60, "the pipeline started")
    watched = login_status(cluster, "distributed:ordered:status")
    assert watched is not None and "collectorStats" in watched
    cluster.login("scancel", job, check=True)
    wait_until(lambda: ended(cluster, job), 40, f"job {job} to end")
    assert job_state(cluster, job) == "CANCELLED"
    wait_until(summary_path.exists, 40, "the summary written")
    summary = json.loads(summary_path.read_text())
    assert summary["sourceFrames"] > 0 and set(summary["stages"]) == {"source", "workers", "ordered"}



def test_a_failed_node_shows_in_the_summary_and_its_consumer_moves_to_a_working_node(cluster: Cluster,
                                                                                     tmp_path: Path) -> None:
    """n3, running the second consumer, drops off the network mid-run and Slurm marks it down: the step's srun
    ends, and the runner starts that consumer again on a working node; the job (submitted with --no-kill, as
    --submit does) goes on, and every frame the source sent is collected or counted missing.

    Slurm finds an unreachable node down by itself after SlurmdTimeout and its pings' own timeout: about 25 s
    here (run by hand: the same outcome). The test marks it down at once with scontrol, as a health check or
    an administrator does, to stay short."""
    pipeline = tmp_path / "nodefail.toml"
    pipeline.write_text(KILLED_STEP_PIPELINE.replace("slurmkill", "nodefail").replace("n-frames = 300",
                                                                                      "n-frames = 600"))
    job, summary_path, output = submit(cluster, tmp_path, str(pipeline), sbatch_args=("--no-kill",))
    wait_until(lambda: started(output), 60, "the pipeline started")
    time.sleep(2.0)  # frames through both consumers
    cluster.network.link("n3", up=False)
    try:
        cluster.login("scontrol", "update", "NodeName=n3", "State=DOWN", "Reason=off the network", check=True)
        wait_until(lambda: "its node n3 failed" in output.read_text(), 60, "the runner seeing n3 fail")
        # the second consumer again, now on n2 (n3 is off the network: nothing else answers its status channel)
        wait_until(lambda: (login_status(cluster, "nodefail:workers:2:status") or {}).get("processorStats", {})
                   .get("nProcessed", 0) > 0, 30, "the moved consumer processing frames")
        wait_until(lambda: ended(cluster, job), 60, f"job {job} to end")
    finally:
        cluster.network.link("n3", up=True)
        cluster.login("scontrol", "update", "NodeName=n3", "State=RESUME")
        wait_until(lambda: "n3 idle" in cluster.login("sinfo", "-h", "-N", "-o", "%n %T").stdout, 60,
                   "n3 back in the cluster")
    log = output.read_text()
    assert job_state(cluster, job) == "COMPLETED", log
    assert log.count("starting stage workers on n2:") == 2, log  # the first consumer, and the second moved
    assert "node n3 failed" in log.split("every stage monitors its input")[-1], "the final table shows it"
    assert "did not stop" not in log, "the moved process's new step is the one stopped"
    summary = json.loads(summary_path.read_text())
    workers, ordered = summary["stages"]["workers"], summary["stages"]["ordered"]
    assert (workers["failedNodes"], workers["nodes"], workers["restarts"], workers["failed"]) == \
        (["n3"], ["n2", "n2"], 1, False), log
    collected = ordered["collectorStats"]
    print(f"FIGURES node failure: sent {summary['sourceFrames']}, collected {collected['nCollected']}, counted "
          f"missing {collected['nMissing']}, sent after the last one through {summary['framesAfterLastThrough']}")
    # the frames the distributor gave n3's dead monitor until the source's server dropped it: counted missing
    # by the collector, or, after the last frame it collected, sent after the last one through
    assert collected["nCollected"] + collected["nMissing"] + summary["framesAfterLastThrough"] == \
        summary["sourceFrames"] == 600, (collected, summary["framesAfterLastThrough"])
    assert collected["nMissing"] > 0 and collected["nDuplicates"] == 0
