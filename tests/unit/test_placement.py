"""Placement of stage processes on an allocation's nodes, and the Slurm launcher's commands (no Slurm needed)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pvaflow.errors import ConfigError
from pvaflow.pipeline.launcher import SlurmLauncher, default_launcher_name, epics_environment, sbatch_command
from pvaflow.pipeline.placement import Placement, nodes_wanted, parse_placement, place
from pvaflow.supervisor import LOCAL, Child

NODES = ["n1", "n2", "n3"]


@dataclass
class Stage:
    name: str
    kind: str
    processes: int = 1
    placement: Placement = field(default_factory=Placement)

    @property
    def commands(self) -> list[list[str]]:
        return [[self.kind]] * self.processes


def test_by_default_consumers_spread_over_every_node_but_the_sources() -> None:
    placed = place([Stage("source", "sim-server"), Stage("work", "consumer", 4), Stage("ordered", "collector")], NODES)
    assert placed == {"source": ["n1"], "work": ["n2", "n3", "n2", "n3"], "ordered": ["n1"]}


def test_one_node_takes_everything() -> None:
    assert place([Stage("source", "sim-server"), Stage("work", "consumer", 2)], ["only"])["work"] == ["only", "only"]


def test_tasks_per_node_fill_the_nodes_in_order() -> None:
    work = Stage("work", "consumer", 8, parse_placement("work", {"nodes": 2, "tasks-per-node": 4}))
    assert place([Stage("source", "sim-server"), work], NODES)["work"] == ["n2"] * 4 + ["n3"] * 4


def test_a_node_list_and_same_node_as() -> None:
    work = Stage("work", "consumer", 2, parse_placement("work", {"node-list": "n1,n3"}))
    ordered = Stage("ordered", "collector", placement=parse_placement("ordered", {"same-node-as": "work"}))
    placed = place([Stage("source", "sim-server"), work, ordered], NODES)
    assert placed["work"] == ["n1", "n3"] and placed["ordered"] == ["n1"]


@pytest.mark.parametrize(("table", "message"), [
    ({"nodes": 0}, "nodes must be an integer >= 1"),
    ({"tasks-per-node": "4"}, "tasks-per-node must be an integer >= 1"),
    ({"node-list": [1]}, "node-list must be a list of node names"),
    ({"same-node-as": "x", "nodes": 2}, "same-node-as places every process"),
    ({"nodes": 3, "node-list": ["n1"]}, "nodes = 3 but node-list names 1"),
])
def test_bad_placement_keys_are_one_line_naming_the_stage(table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=f"stage work: {message}"):
        parse_placement("work", table)


@pytest.mark.parametrize(("table", "message"), [
    ({"node-list": ["n9"]}, r"node-list names \['n9'\], not in the allocation \(n1, n2, n3\)"),
    ({"nodes": 4}, "nodes = 4, the allocation has 3"),
    ({"nodes": 1, "tasks-per-node": 2}, "3 processes do not fit 2 per node on 1 node"),
    ({"same-node-as": "nowhere"}, "same-node-as names unknown stage 'nowhere'"),
])
def test_placements_the_allocation_cannot_hold_are_refused(table: dict, message: str) -> None:
    work = Stage("work", "consumer", 3, parse_placement("work", table))
    with pytest.raises(ConfigError, match=f"stage work: {message}"):
        place([Stage("source", "sim-server"), work], NODES)


def test_slurm_launcher_runs_one_named_step_per_process_on_its_node() -> None:
    launcher = SlurmLauncher(["n1", "n2"], "demo")
    first, second = Child("stage work", ["consumer", "-ic", "x"], "n2"), Child("stage work", ["consumer"], "n1")
    command = launcher.command(first)
    assert command[:command.index("-m") - 1] == ["srun", "--nodes=1", "--ntasks=1", "--nodelist=n2", "--overlap",
                                                  "--quiet", "--job-name=demo:work:1"]
    assert command[-4:] == ["pvaflow", "consumer", "-ic", "x"]
    assert "--job-name=demo:work:2" in launcher.command(second)
    assert "--job-name=demo:work:1" in launcher.command(first), "a restarted step keeps its name"
    assert not launcher.runs_here and LOCAL.runs_here


def test_epics_addresses_are_the_nodes_and_the_launcher_follows_the_allocation() -> None:
    environment = epics_environment(["localhost", "127.0.0.1"])
    assert environment["EPICS_PVA_ADDR_LIST"] == "127.0.0.1" and environment["EPICS_PVA_AUTO_ADDR_LIST"] == "NO"
    assert default_launcher_name({"SLURM_JOB_ID": "7"}) == "slurm" and default_launcher_name({}) == "local"


def test_a_submitted_job_asks_for_the_nodes_the_placement_keys_need() -> None:
    source = Stage("source", "sim-server")
    assert nodes_wanted([source]) == (1, [])
    assert nodes_wanted([source, Stage("work", "consumer", 2)]) == (2, []), "the source's node and one more"
    work = Stage("work", "consumer", 8, parse_placement("work", {"nodes": 3, "tasks-per-node": 4}))
    assert nodes_wanted([source, work]) == (3, [])
    pinned = Stage("ordered", "collector", 1, parse_placement("ordered", {"node-list": ["n7", "n9"]}))
    assert nodes_wanted([source, pinned]) == (2, ["n7", "n9"])


def test_the_submitted_job_runs_the_same_pipeline_with_the_slurm_launcher() -> None:
    command = sbatch_command(["run", "/data/p.toml", "--launcher", "slurm"], "p", 3, ["n7"], None)
    assert command[:6] == ["sbatch", "--nodes=3", "--nodelist=n7", "--no-kill", "--job-name=p", "--output=p-%j.out"]
    assert command[6] == "--wrap" and command[7].startswith("exec ")
    assert command[7].endswith("-m pvaflow run /data/p.toml --launcher slurm")
