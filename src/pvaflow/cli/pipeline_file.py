"""A pipeline file read as ``pvaflow run`` and ``pvaflow view --pipeline`` read it: each stage's options
checked by the parser of the stand-alone command of its kind."""

from __future__ import annotations

from pathlib import Path

from ..mirror import parse_channel_map
from ..pipeline.spec import Pipeline, load_pipeline
from . import collector, consumer, mirror, sim_server
from .options import OneLineParser

# stage kind -> the stand-alone command's module (its parser checks the stage's options)
COMMANDS = {"sim-server": sim_server, "consumer": consumer, "collector": collector, "mirror": mirror}
CHECKS = {
    "consumer": consumer.check,
    "collector": collector.check,
    "mirror": lambda args: parse_channel_map(args.channel_map),
}


def stage_parsers() -> dict[str, OneLineParser]:
    """A parser per stage kind, built by the commands themselves."""
    subparsers = OneLineParser(prog="pvaflow").add_subparsers()
    for kind, module in COMMANDS.items():
        module.add_parser(subparsers, kind)
    return {kind: subparsers.choices[kind] for kind in COMMANDS}


def read_pipeline(path: Path) -> Pipeline:
    """The pipeline file at ``path``, wired and checked (ConfigError naming the stage at fault)."""
    return load_pipeline(path, stage_parsers(), CHECKS)
