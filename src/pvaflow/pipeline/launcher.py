"""Slurm job steps for a pipeline's processes (``pvaflow run --launcher slurm``).

A launcher (supervisor.Launcher) turns one process's pvaflow command line, and the node placement gave it,
into the command the supervisor runs, and says which signal stops it cleanly. The local one
(supervisor.LocalLauncher) runs ``python -m pvaflow ...`` here and stops it with SIGINT. This one runs
``srun --nodes=1 --ntasks=1 --nodelist=NODE --overlap ... python -m pvaflow ...``: one job step per process,
inside the allocation the runner runs in. Stopped with SIGTERM, which srun passes on to its task (a single
SIGINT only makes srun print the step's state); a step whose task dies ends its srun, so the supervisor
restarts it as a new step, under the same policy as a local process. ``--overlap``: the steps share the
nodes' CPUs (a consumer per core is the user's choice, not Slurm's).

The EPICS address list of every process (the runner's too) is set from the allocation's nodes, so searches and
beacons reach those nodes and nothing else.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..supervisor import pvaflow_command

LAUNCHERS = ("local", "slurm")
SCONTROL_SECONDS = 20.0


@dataclass(frozen=True)
class SlurmLauncher:
    """Job steps on the nodes of the allocation the runner runs in."""

    nodes: tuple[str, ...]
    job_name: str
    environment: dict[str, str] = field(default_factory=dict)  # set for the runner and, through srun, every step
    stop_signal: int = signal.SIGTERM

    def command(self, command: Sequence[str], node: str | None) -> list[str]:
        return ["srun", "--nodes=1", "--ntasks=1", f"--nodelist={node or self.nodes[0]}", "--overlap", "--quiet",
                f"--job-name={self.job_name}", *pvaflow_command(command)]


def allocation_nodes(environ: dict[str, str] | None = None) -> list[str]:
    """The host names of the nodes of the Slurm allocation this process runs in (``SLURM_JOB_NODELIST``)."""
    environ = dict(os.environ) if environ is None else environ
    node_list = environ.get("SLURM_JOB_NODELIST") or environ.get("SLURM_NODELIST")
    if not node_list:
        raise ConfigError("--launcher slurm: not inside a Slurm allocation (no SLURM_JOB_NODELIST); run it "
                          "under sbatch or salloc")
    try:
        shown = subprocess.run(["scontrol", "show", "hostnames", node_list], capture_output=True, text=True,
                               timeout=SCONTROL_SECONDS, check=True)
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


def default_launcher_name(environ: dict[str, str] | None = None) -> str:
    """slurm inside an allocation, local outside one."""
    environ = dict(os.environ) if environ is None else environ
    return "slurm" if environ.get("SLURM_JOB_ID") else "local"
