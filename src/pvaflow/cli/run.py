"""``pvaflow run PIPELINE.toml``: check a whole pipeline file, start its stages, show them, stop them cleanly."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import threading
from pathlib import Path
from typing import Any

from rich.console import Console

from ..errors import ConfigError
from ..log import configure_logging
from ..pipeline.launcher import (
    LAUNCHERS,
    SLURM_SECONDS,
    SlurmLauncher,
    allocation_nodes,
    default_launcher_name,
    epics_environment,
    sbatch_command,
)
from ..pipeline.placement import nodes_wanted, place
from ..pipeline.runner import Runner
from ..pipeline.spec import Stage, select
from ..pipeline.view import PipelineView
from ..supervisor import LOCAL, Child, Launcher
from ..view.stages import RunnerRows
from .hosting import install_stop_handlers
from .options import SECONDS, add_log_options
from .pipeline_file import read_pipeline
from .view import add_view_options, pipeline_server, start_view


def add_parser(subparsers: Any, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="run a whole pipeline from a TOML file",
        description="Check a pipeline file, start its stages as supervised processes in dependency order, "
                    "show them live, and stop them in reverse order on Ctrl-C, SIGTERM, the runtime, or "
                    "when the sources have finished and the pipeline has drained.",
    )
    parser.add_argument("pipeline", type=Path, metavar="PIPELINE", help="pipeline file (TOML)")
    parser.add_argument("--only", default=None, metavar="STAGE[,STAGE]",
                        help="start only these stages (the others run elsewhere, found by channel name)")
    parser.add_argument("--check", action="store_true", help="check the file and print the stage commands only")
    parser.add_argument("--launcher", choices=LAUNCHERS, default=None,
                        help="where the stage processes run: local (here) or slurm (job steps on the nodes of "
                             "the allocation this runs in); default: slurm inside an allocation, else local")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the command each stage process would be started with (and its node), only")
    parser.add_argument("--submit", action="store_true",
                        help="submit the pipeline as a Slurm batch job (sbatch) and print its id: run from a "
                             "login node; the job runs it with the slurm launcher")
    parser.add_argument("--nodes", type=int, default=None, metavar="N",
                        help="with --submit: nodes to ask for (default: what the placement keys need, 2 at "
                             "least with a consumer stage)")
    parser.add_argument("--output", default=None, metavar="FILE",
                        help="with --submit: the job's output file (sbatch's %%j is the job id; default "
                             "PIPELINE-NAME-%%j.out here)")
    parser.add_argument("--summary", type=Path, default=None, metavar="FILE",
                        help="also write the final figures (frames per stage, restarts) to FILE as JSON")
    parser.add_argument("-rt", "--runtime", type=SECONDS, default=None,
                        help="seconds to run (overrides [pipeline] runtime; 0: until the pipeline drains)")
    add_view_options(parser, "--view")
    add_log_options(parser)


def check_writable(path: Path) -> None:
    """ConfigError now, not after the run, if the summary file cannot be written."""
    directory = path.parent
    if path.is_dir() or not directory.is_dir() or not os.access(directory, os.W_OK):
        raise ConfigError(f"--summary {path}: cannot write there (is {directory} an existing, writable directory?)")


def make_launcher(name: str, job_name: str, stages: list[Stage]) -> tuple[Launcher, dict[str, list[str]]]:
    """The launcher called ``name`` and the node of every stage process (none for the local launcher)."""
    if name == "local":
        return LOCAL, {}
    nodes = allocation_nodes()
    return SlurmLauncher(nodes, job_name, epics_environment(nodes)), place(stages, nodes)


def submit(args: argparse.Namespace, job_name: str, stages: list[Stage]) -> int:
    """``--submit``: sbatch the same run (paths made absolute: the job may start elsewhere) and print its id."""
    count, node_list = nodes_wanted(stages)
    if args.nodes is not None:
        if args.nodes < max(1, len(node_list)):
            raise ConfigError(f"--nodes {args.nodes}: the pipeline's node-list keys name {len(node_list)} node(s)")
        count = args.nodes
    forwarded = ["run", str(args.pipeline.resolve()), "--launcher", "slurm"]
    for flag, value in (("--only", args.only), ("--runtime", args.runtime), ("--log-level", args.log_level),
                        ("--summary", args.summary and args.summary.resolve()),
                        ("--log-file", args.log_file and Path(args.log_file).resolve())):
        if value is not None:
            forwarded += [flag, str(value)]
    command = sbatch_command(forwarded, job_name, count, node_list, args.output)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=SLURM_SECONDS)
    except (OSError, subprocess.SubprocessError) as ex:
        raise ConfigError(f"--submit: cannot run sbatch ({ex}); is this a Slurm login node?") from ex
    if result.returncode != 0:
        raise ConfigError(f"--submit: sbatch refused the job: {result.stderr.strip() or result.stdout.strip()}")
    print(result.stdout.strip())  # "Submitted batch job N", as sbatch says it
    return 0


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level or "info", args.log_file)
    if args.summary is not None:
        check_writable(args.summary)
    pipeline = read_pipeline(args.pipeline)
    stages = select(pipeline, args.only)
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=160)  # a log file: wide enough for the stage table
    if args.check:
        for stage in stages:
            commands = [f"pvaflow {' '.join(command)}" for command in stage.commands]
            for command in commands or [f"(external channel {stage.output})"]:
                console.print(f"{stage.name}: {command}", soft_wrap=True, markup=False)
        return 0
    if args.submit:
        if args.view is not None:
            raise ConfigError("--view with --submit: the job runs on a compute node; watch it from here with "
                              f"pvaflow view --pipeline {args.pipeline}")
        return submit(args, pipeline.settings.name, stages)
    launcher, placed = make_launcher(args.launcher or default_launcher_name(), pipeline.settings.name, stages)
    if args.dry_run:
        for stage in stages:
            nodes = placed.get(stage.name) or [None] * len(stage.commands)
            for command, node in zip(stage.commands, nodes, strict=True):
                child = Child(f"stage {stage.name}", command, node)
                console.print(f"{stage.name}: {shlex.join(launcher.command(child))}", soft_wrap=True, markup=False)
        for name, value in launcher.environment.items():
            console.print(f"environment: {name}={value}", soft_wrap=True, markup=False)
        return 0
    os.environ.update(launcher.environment)  # the runner's own channels (stage status) search as the stages do
    if args.runtime is not None:
        pipeline.settings = type(pipeline.settings)(**(vars(pipeline.settings) | {"runtime": args.runtime}))
    stop = threading.Event()
    install_stop_handlers(stop)
    runner = Runner(pipeline, stages, PipelineView(console, pipeline.settings.name), launcher, placed)
    viewer = None
    if args.view is not None:
        viewer = pipeline_server(args, pipeline.settings.name, stages, RunnerRows(runner), args.view)
        start_view(viewer)
    try:
        code = runner.run(stop)
    finally:
        if viewer is not None:
            viewer.stop()
    if args.summary is not None:
        args.summary.write_text(json.dumps(runner.summary(), indent=2) + "\n")
    return code
