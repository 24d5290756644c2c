"""Slurm job steps for a pipeline's processes (``pvaflow run --launcher slurm``).

A launcher (supervisor.Launcher) turns one process's pvaflow command line, and the node placement gave it,
into the command the supervisor runs, and says which signal stops it cleanly. The local one
(supervisor.LocalLauncher) runs ``python -m pvaflow ...`` here and stops it with SIGINT. This one runs
``srun --nodes=1 --ntasks=1 --nodelist=NODE --overlap ... python -m pvaflow ...``: one job step per process,
inside the allocation the runner runs in. Signals (SIGINT to stop, SIGUSR1 to start a sim-server) go to the
step's task with ``scancel --signal`` (srun turns SIGTERM into SIGKILL, and takes a single SIGINT as a
question); a step whose task dies ends its srun, so the supervisor restarts it as a new step, under the same
policy as a local process. ``--overlap``: the steps share the
nodes' CPUs (a consumer per core is the user's choice, not Slurm's).

The EPICS address list of every process (the runner's too) is set from the allocation's nodes, so searches and
beacons reach those nodes and nothing else.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
from collections.abc import Sequence

from ..errors import ConfigError
from ..supervisor import Child, pvaflow_command

LAUNCHERS = ("local", "slurm")
SLURM_SECONDS = 20.0  # how long scontrol, squeue or scancel may take


class SlurmLauncher:
    """Job steps on the nodes of the allocation the runner runs in, one per stage process, each named
    ``<pipeline>:<stage>:<n>`` so that it can be signalled (``scancel --signal``) by name."""

    runs_here = False

    def __init__(self, nodes: Sequence[str], job_name: str, environment: dict[str, str] | None = None) -> None:
        self.nodes = tuple(nodes)
        self.job_name = job_name
        self.environment = environment or {}  # set for the runner and, through srun, every step
        self.step_names: dict[int, str] = {}  # id(child) -> its steps' name (kept over restarts)
        self.nodes_used: dict[int, str] = {}  # id(child) -> the node its last step was started on

    def step_name(self, child: Child) -> str:
        if id(child) not in self.step_names:
            stage = child.name.removeprefix("stage ")
            self.step_names[id(child)] = f"{self.job_name}:{stage}:{len(self.step_names) + 1}"
        return self.step_names[id(child)]

    def command(self, child: Child) -> list[str]:
        node = self.nodes_used[id(child)] = child.node or self.nodes[0]
        return ["srun", "--nodes=1", "--ntasks=1", f"--nodelist={node}", "--overlap",
                "--quiet", f"--job-name={self.step_name(child)}", *pvaflow_command(child.command)]

    def signal(self, child: Child, signum: int) -> None:
        """``signum`` to the child's task, with scancel (srun itself turns SIGTERM into SIGKILL and takes a
        SIGINT as a question). A step not created yet cannot be signalled: SIGINT ends its srun instead."""
        step = step_id(self.step_name(child), os.environ.get("SLURM_JOB_ID", ""))
        if step is not None:
            name = signal.Signals(signum).name.removeprefix("SIG")
            subprocess.run(["scancel", f"--signal={name}", step], capture_output=True, timeout=SLURM_SECONDS)
        elif signum == signal.SIGINT and child.process is not None:
            child.process.terminate()

    def leave_failed_node(self, child: Child) -> str | None:
        """When Slurm says the child's node failed (down, not responding): that node, with the child moved to
        the working node of the allocation that runs the fewest of the pipeline's processes (the batch node
        last: it runs the runner)."""
        node = self.nodes_used.get(id(child))
        if node is None or node_works(node):
            return None
        working = [name for name in self.nodes if name != node and node_works(name)]
        if working:
            used = list(self.nodes_used.values())
            child.node = min(working, key=lambda name: (used.count(name), name == self.nodes[0]))
        return node


FAILED_NODE_STATES = {"DOWN", "FAIL", "FAILING", "NOT_RESPONDING", "POWERED_DOWN", "POWER_DOWN"}


def node_works(node: str) -> bool:
    """Whether Slurm has the node up (``scontrol show node``: none of FAILED_NODE_STATES in its State); True
    when scontrol cannot tell."""
    try:
        shown = subprocess.run(["scontrol", "show", "node", node, "--oneliner"], capture_output=True, text=True,
                               timeout=SLURM_SECONDS).stdout
    except (OSError, subprocess.SubprocessError):
        return True
    state = next((word.split("=", 1)[1] for word in shown.split() if word.startswith("State=")), "")
    return not FAILED_NODE_STATES & set(state.split("+"))


def step_id(name: str, job: str, environ: dict[str, str] | None = None) -> str | None:
    """The id (job.step) of the newest running step called ``name`` of ``job`` (any job when empty): a process
    restarted after its node failed has a new step of the same name, while Slurm may still list the old one."""
    try:
        listed = subprocess.run(["squeue", "--steps", "--noheader", "--format=%i %j", *(["--jobs", job] if job
                                 else [])], capture_output=True, text=True, timeout=SLURM_SECONDS, env=environ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    steps = [line.split()[0] for line in listed.splitlines() if line.split()[1:] == [name]]
    return max(steps, key=lambda step: int(step.rpartition(".")[2]) if step.rpartition(".")[2].isdigit() else -1,
               default=None)


def allocation_nodes(environ: dict[str, str] | None = None) -> list[str]:
    """The host names of the nodes of the Slurm allocation this process runs in (``SLURM_JOB_NODELIST``)."""
    environ = dict(os.environ) if environ is None else environ
    node_list = environ.get("SLURM_JOB_NODELIST") or environ.get("SLURM_NODELIST")
    if not node_list:
        raise ConfigError("--launcher slurm: not inside a Slurm allocation (no SLURM_JOB_NODELIST); run it "
                          "under sbatch or salloc")
    try:
        shown = subprocess.run(["scontrol", "show", "hostnames", node_list], capture_output=True, text=True,
                               timeout=SLURM_SECONDS, check=True)
    except (OSError, subprocess.SubprocessError) as ex:
        raise ConfigError(f"cannot list the allocation's nodes with scontrol ({node_list}): {ex}") from ex
    return shown.stdout.split()


def epics_environment(nodes: Sequence[str]) -> dict[str, str]:
    """EPICS variables that keep PVA searches and beacons on the allocation's nodes (their addresses); a name
    server list the user set is kept."""
    addresses = " ".join(dict.fromkeys(socket.gethostbyname(node) for node in nodes))
    return {
        "EPICS_PVA_AUTO_ADDR_LIST": "NO",
        "EPICS_PVA_ADDR_LIST": addresses,
        "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_PVAS_BEACON_ADDR_LIST": addresses,
    }


def sbatch_command(run_command: Sequence[str], job_name: str, nodes: int, node_list: Sequence[str],
                   output: str | None) -> list[str]:
    """``sbatch`` submitting ``pvaflow run ...`` (``run_command``: its pvaflow arguments) as a job of ``nodes`` nodes,
    these ones among them, its output to ``output`` (default ``<job name>-<job id>.out`` here). ``--no-kill``:
    a node that fails does not end the job; the runner moves that node's processes to working ones."""
    return ["sbatch", f"--nodes={nodes}", *([f"--nodelist={','.join(node_list)}"] if node_list else []), "--no-kill",
            f"--job-name={job_name}", f"--output={output or f'{job_name}-%j.out'}",
            "--wrap", "exec " + shlex.join(pvaflow_command(run_command))]


def default_launcher_name(environ: dict[str, str] | None = None) -> str:
    """slurm inside an allocation, local outside one."""
    environ = dict(os.environ) if environ is None else environ
    return "slurm" if environ.get("SLURM_JOB_ID") else "local"
