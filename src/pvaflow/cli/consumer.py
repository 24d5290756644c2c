"""``pvaflow consumer``: receive, process, publish; options as ``pvapy-hpc-consumer``.

One consumer runs in this process; with ``-nc N`` or ``-cid LIST`` a
supervisor runs one process per consumer id.
"""

from __future__ import annotations

import argparse
import threading
from typing import Any

from .. import __version__
from ..limits import MAX_ID, MAX_PROCESSES, MAX_RECEIVER_QUEUE, MAX_SECONDS
from ..log import configure_logging
from ..stream.config import ConsumerOptions, HostConfig, consumer_configs
from ..stream.loader import load_processor_class
from ..stream.naming import parse_id_list
from ..supervisor import Child, Supervisor, consumer_commands
from .hosting import install_stop_handlers, run_stage
from .options import (
    add_output_channel_options,
    add_processor_options,
    add_receive_options,
    add_run_options,
    bounded,
    channel_name_text,
    options_from,
)

DESCRIPTION = (
    "Receive objects from an input channel, process them with a user processor and publish the "
    "results, with status and control channels. Options as pvapy-hpc-consumer."
)


def add_parser(subparsers: Any, name: str) -> None:
    parser = subparsers.add_parser(name, help="host a processor between an input and an output channel",
                                   description=DESCRIPTION)
    parser.add_argument("-v", "--version", action="version", version=f"pvaflow {__version__}")
    ids = parser.add_argument_group("consumers")
    ids.add_argument("-id", "--consumer-id", dest="consumer_id", type=bounded(int, 0, MAX_ID), default=1,
                     help="consumer id, or the first id with -nc (default: 1)")
    ids.add_argument("-nc", "--n-consumers", dest="n_consumers", type=bounded(int, 1, MAX_PROCESSES), default=1,
                     help=f"number of consumers, one process each, at most {MAX_PROCESSES} (default: 1)")
    ids.add_argument("-cid", "--consumer-id-list", dest="consumer_id_list", default=None,
                     help="consumer ids as '1,3,5' or 'range(first,last+1[,step])'; overrides -id and -nc")
    add = parser.add_argument_group("input").add_argument
    add("-ic", "--input-channel", dest="input_channel", required=True, type=channel_name_text,
        help="input channel ('*' is the consumer id)")
    add("-im", "--input-mode", dest="input_mode", default="pva",
        help="pva (monitor a remote channel, default), ca, pvas (serve the input channel; clients put "
             "objects into it) or rpc (serve an RPC service; each request is an object)")
    add("-ia", "--input-args", dest="input_args", default=None,
        help="JSON options for the input mode (none of pva, ca, pvas, rpc takes any)")
    add("-om", "--output-mode", dest="output_mode", default="pvas",
        help="pvas (serve the output channel, default), pva (put into the output channel on a remote "
             "server) or rpc (send to a remote RPC service)")
    add("-oa", "--output-args", dest="output_args", default=None,
        help='JSON options for the output mode: pva and rpc take {"timeout": seconds} (default 5)')
    add_output_channel_options(parser, "consumer")
    receive = parser.add_argument_group("receiving")
    add_receive_options(receive, "consumer")
    add = receive.add_argument
    add("-rqs", "--receiver-queue-size", dest="receiver_queue_size", type=bounded(int, -1, MAX_RECEIVER_QUEUE),
        default=-1,
        help=f"receiver queue size, at most {MAX_RECEIVER_QUEUE}; -1: process in the monitor callback (default), "
             "0: unbounded")
    add("-ao", "--accumulate-objects", dest="accumulate_objects", type=bounded(int, -1, MAX_RECEIVER_QUEUE), default=-1,
        help="process queued objects once N have accumulated (needs -rqs >= 0)")
    add("-at", "--accumulation-timeout", dest="accumulation_timeout", type=bounded(float, -MAX_SECONDS, MAX_SECONDS),
        default=1.0,
        help="seconds after the last arrival when accumulated objects are processed anyway (default: 1)")
    add("-oo", "--oid-offset", dest="oid_offset", type=bounded(int, -MAX_ID, MAX_ID), default=0,
        help="object id step between consecutive objects of this consumer; 0: derived (default)")
    dist = parser.add_argument_group("distributor plugin")
    add = dist.add_argument
    add("-dpn", "--distributor-plugin-name", dest="distributor_plugin_name", default="pydistributor",
        help="plugin name (default: pydistributor)")
    add("-dg", "--distributor-group", dest="distributor_group", default=None, help="client group")
    add("-ds", "--distributor-set", dest="distributor_set", default=None,
        help="client set: all consumers of a set get the same updates")
    add("-dt", "--distributor-trigger", dest="distributor_trigger", default=None,
        help="field that tells updates apart, e.g. uniqueId")
    add("-du", "--distributor-updates", dest="distributor_updates", default=None,
        help="consecutive updates each consumer (or set) gets")
    add("-nds", "--n-distributor-sets", dest="n_distributor_sets", type=bounded(int, 1, MAX_PROCESSES), default=1,
        help="number of sets (for the derived id offset; default: 1)")
    add_processor_options(parser)
    add_run_options(parser)


def options_from_args(args: argparse.Namespace) -> ConsumerOptions:
    ids = tuple(parse_id_list(args.consumer_id_list)) if args.consumer_id_list else ()
    return options_from(ConsumerOptions, args, consumer_id_list=ids)


def check(args: argparse.Namespace) -> list[HostConfig]:
    """Everything checked at start (also by ``pvaflow run`` before a pipeline starts): one config per id."""
    options = options_from_args(args)
    configs = consumer_configs(options)
    load_processor_class(options.processor_file, options.processor_class)  # refused here, not in N children
    return configs


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_file)
    configs = check(args)
    ids = [config.host_id for config in configs]
    stop, force = threading.Event(), threading.Event()
    install_stop_handlers(stop, force)
    if len(ids) > 1:
        children = [Child(f"consumer {config.host_id}", command)
                    for config, command in zip(configs, consumer_commands(args.argv, configs), strict=True)]
        return Supervisor(children).run(stop)
    return run_stage(configs[0], args.disable_curses, stop, force)
