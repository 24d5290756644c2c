"""Where each process of a pipeline runs on a cluster: the stages' placement keys against the allocation's nodes.

Keys of a ``[stages.<name>]`` table (read by the Slurm launcher; the local launcher runs every process here):

- ``nodes = K``: spread the stage's processes over K nodes;
- ``node-list = ["n1", "n2"]`` (or ``"n1,n2"``): over these nodes of the allocation;
- ``tasks-per-node = T``: T processes on each node, filled in order (``n-consumers = 8``, ``tasks-per-node = 4``
  over two nodes: 4 + 4); without it the processes go round the nodes one by one;
- ``same-node-as = "stage"``: every process on the node of that stage's first process.

By default a source, mirror or collector runs on the first node (the batch host, where the runner runs), and a
consumer stage spreads over every node but its source's (every node, with only one). Pure: no Slurm here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import ConfigError

PLACEMENT_KEYS = ("nodes", "node-list", "tasks-per-node", "same-node-as")


@dataclass(frozen=True)
class Placement:
    nodes: int | None = None
    node_list: tuple[str, ...] = ()
    tasks_per_node: int | None = None
    same_node_as: str | None = None


class PlacedStage(Protocol):
    """What placement reads of a wired stage (pipeline.spec.Stage)."""

    name: str
    kind: str
    placement: Placement
    commands: list[list[str]]


def _count(stage: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"stage {stage}: {key} must be an integer >= 1, not {value!r}")
    return value


def parse_placement(stage: str, table: dict[str, Any]) -> Placement:
    """The placement keys of one stage table, checked (ConfigError naming the stage and key)."""
    nodes = _count(stage, "nodes", table["nodes"]) if "nodes" in table else None
    tasks = _count(stage, "tasks-per-node", table["tasks-per-node"]) if "tasks-per-node" in table else None
    node_list = table.get("node-list", ())
    if isinstance(node_list, str):
        node_list = [name.strip() for name in node_list.split(",") if name.strip()]
    if not isinstance(node_list, (list, tuple)) or not all(isinstance(name, str) and name for name in node_list):
        raise ConfigError(f"stage {stage}: node-list must be a list of node names, not {table['node-list']!r}")
    same = table.get("same-node-as")
    if same is not None and (not isinstance(same, str) or not same):
        raise ConfigError(f"stage {stage}: same-node-as must name a stage, not {same!r}")
    if same is not None and (nodes or node_list or tasks):
        raise ConfigError(f"stage {stage}: same-node-as places every process; it takes no nodes, node-list or "
                          "tasks-per-node")
    if nodes is not None and node_list and nodes != len(node_list):
        raise ConfigError(f"stage {stage}: nodes = {nodes} but node-list names {len(node_list)}")
    return Placement(nodes, tuple(node_list), tasks, same)


def place(stages: Sequence[PlacedStage], nodes: Sequence[str]) -> dict[str, list[str]]:
    """The node of every process of every stage (stage name -> one node per command); ConfigError when the
    keys ask for nodes the allocation does not have."""
    if not nodes:
        raise ConfigError("no nodes to place the stages on")
    by_name = {stage.name: stage for stage in stages}
    placed: dict[str, list[str]] = {}
    source_node = nodes[0]
    for stage in stages:
        if stage.placement.same_node_as is None:
            placed[stage.name] = _spread(stage, nodes, source_node)
    for stage in stages:
        target = stage.placement.same_node_as
        if target is None:
            continue
        if target not in by_name:
            raise ConfigError(f"stage {stage.name}: same-node-as names unknown stage '{target}'")
        if not placed.get(target):
            raise ConfigError(f"stage {stage.name}: same-node-as '{target}', which has no process to share a node "
                              "with")
        placed[stage.name] = [placed[target][0]] * len(stage.commands)
    return placed


def _spread(stage: PlacedStage, nodes: Sequence[str], source_node: str) -> list[str]:
    placement = stage.placement
    count = len(stage.commands)
    if placement.node_list:
        unknown = [name for name in placement.node_list if name not in nodes]
        if unknown:
            raise ConfigError(f"stage {stage.name}: node-list names {unknown}, not in the allocation "
                              f"({', '.join(nodes)})")
        pool = list(placement.node_list)
    elif stage.kind == "consumer":
        pool = [node for node in nodes if node != source_node] or list(nodes)
    else:
        pool = [source_node]
    if placement.nodes is not None:
        if placement.nodes > len(pool) and not placement.node_list:
            pool = list(nodes)  # asked for more nodes than the default pool: the whole allocation
        if placement.nodes > len(pool):
            raise ConfigError(f"stage {stage.name}: nodes = {placement.nodes}, the allocation has {len(nodes)}")
        pool = pool[:placement.nodes]
    if placement.tasks_per_node is None:
        return [pool[index % len(pool)] for index in range(count)]
    if placement.tasks_per_node * len(pool) < count:
        raise ConfigError(f"stage {stage.name}: {count} processes do not fit {placement.tasks_per_node} per node "
                          f"on {len(pool)} node(s)")
    return [pool[index // placement.tasks_per_node] for index in range(count)]


def nodes_wanted(stages: Sequence[PlacedStage]) -> tuple[int, list[str]]:
    """What a job for these stages asks Slurm for (``pvaflow run --submit``): a node count and the nodes named
    by ``node-list`` keys. The count is the most any stage's keys need, and 2 at least when a consumer stage
    is spread by default (over every node but its source's: one more than the source's)."""
    named = list(dict.fromkeys(name for stage in stages for name in stage.placement.node_list))
    count = max([1, len(named), *(stage.placement.nodes or 0 for stage in stages)])
    if any(stage.kind == "consumer" and stage.placement == Placement() for stage in stages):
        count = max(count, 2)
    return count, named
