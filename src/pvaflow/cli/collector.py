"""``pvaflow collector``: gather many producers, restore id order, process, publish.

Options as ``pvapy-hpc-collector``, plus ``-cgw`` (how long a gap may hold
the output back).
"""

from __future__ import annotations

import argparse
import threading
from typing import Any

from .. import __version__
from ..limits import MAX_ID, MAX_RECEIVER_QUEUE
from ..log import configure_logging
from ..stream.config import CollectorOptions, HostConfig, collector_config
from ..stream.loader import load_processor_class
from .hosting import install_stop_handlers, run_stage
from .options import (
    POSITIVE_SECONDS,
    add_output_channel_options,
    add_processor_options,
    add_receive_options,
    add_run_options,
    bounded,
    channel_name_text,
    options_from,
)

DESCRIPTION = (
    "Monitor the output channels of several producers, put their objects back in id order, "
    "process them with a user processor and publish the results. Options as pvapy-hpc-collector."
)


def add_parser(subparsers: Any, name: str) -> None:
    parser = subparsers.add_parser(name, help="gather producers, restore order, process, publish",
                                   description=DESCRIPTION)
    parser.add_argument("-v", "--version", action="version", version=f"pvaflow {__version__}")
    producers = parser.add_argument_group("producers")
    add = producers.add_argument
    add("-id", "--collector-id", dest="collector_id", type=bounded(int, 0, MAX_ID),
        default=1, help="collector id (default: 1)")
    add("-pid", "--producer-id-list", dest="producer_id_list", default="1,2",
        help="producer ids as '1,2,3' or 'range(first,last+1[,step])' (default: 1,2)")
    add("-ic", "--input-channel", dest="input_channel", required=True, type=channel_name_text,
        help="producer channel, '*' replaced by each producer id")
    add_receive_options(producers, "collector")
    add("-rqs", "--receiver-queue-size", dest="receiver_queue_size", type=bounded(int, -1, MAX_RECEIVER_QUEUE),
        default=-1,
        help=f"frames queued at most, shared out between the producers, at most {MAX_RECEIVER_QUEUE}; 0: no limit "
             "(as pvaPy); < 0 (default): 10 x the cache size, or as many frames as fit in 1/8 of the memory if more")
    add("-ccs", "--collector-cache-size", dest="collector_cache_size", type=bounded(int, -1, MAX_RECEIVER_QUEUE),
        default=-1,
        help="objects held for reordering; < 0: 10 per producer (default); at least one per producer")
    add("-cgw", "--collector-gap-wait", dest="collector_gap_wait", type=POSITIVE_SECONDS, default=2.0,
        help="seconds a missing id may hold the output back before it is skipped (default: 2)")
    add("-oo", "--oid-offset", dest="oid_offset", type=bounded(int, 1, MAX_ID), default=1,
        help="id step between consecutive objects (default: 1)")
    add_output_channel_options(parser, "collector")
    add_processor_options(parser)
    add_run_options(parser)


def check(args: argparse.Namespace) -> HostConfig:
    """Everything checked at start (also by ``pvaflow run`` before a pipeline starts)."""
    options = options_from(CollectorOptions, args)
    config = collector_config(options)
    load_processor_class(options.processor_file, options.processor_class)
    return config


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_file)
    config = check(args)
    stop, force = threading.Event(), threading.Event()
    install_stop_handlers(stop, force)
    return run_stage(config, args.disable_curses, stop, force)
