"""``pvaflow sim-server``: the Area Detector simulation server.

Options, short forms and defaults are those of ``pvapy-ad-sim-server``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .. import __version__
from ..limits import MAX_FRAMES, MAX_PIXELS
from ..log import configure_logging
from ..ntnd import COLOR_MODE_NAMES, DATATYPE_NAMES
from ..sim.server import ID_MAX, SimServer, SimServerConfig, SimSummary
from ..sim.sources import (
    FileOptions,
    FrameSource,
    FrameSpec,
    RandomFrames,
    check_datatype,
    input_paths,
    load_raw_layout,
    open_files,
)
from .hosting import set_later
from .options import SECONDS, add_log_options, add_report_options, bounded, channel_name_text, comma_list

DESCRIPTION = (
    "Publish simulated Area Detector frames (NTNDArray) on a PVA channel, "
    "random or read from files, at a set frame rate."
)


def add_parser(subparsers: Any, name: str) -> None:
    parser = subparsers.add_parser(name, help="Area Detector simulation server", description=DESCRIPTION)
    parser.add_argument("-v", "--version", action="version", version=f"pvaflow {__version__}")
    source = parser.add_argument_group("frame source")
    add = source.add_argument
    add("-id", "--input-directory", dest="input_directory", default=None,
        help="directory whose files are streamed (sorted by name); without -id/-if frames are random")
    add("-if", "--input-file", dest="input_file", default=None,
        help="file to stream: .npy/.npz stack, .h5/.hdf/.hdf5 (with -hds), .tif/.tiff, or raw with -cfg")
    add("-mm", "--mmap-mode", dest="mmap_mode", action="store_true", default=False,
        help="memory-map .npy input instead of loading it (fast start, low memory)")
    add("-hds", "--hdf-dataset", dest="hdf_dataset", default=None,
        help="HDF5 dataset path (required for HDF5 input)")
    add("-hcm", "--hdf-compression-mode", dest="hdf_compression_mode", action="store_true", default=False,
        help="stream the HDF5 dataset's compressed chunks (blosc, lz4, bslz4) as compressed NTNDArrays")
    add("-cfg", "--config-file", dest="config_file", default=None,
        help="layout file (YAML or JSON, 'file_info': header_offset, width, height, datatype, endian) "
             "for raw binary input")
    add("-nx", "--n-x-pixels", dest="n_x_pixels", type=bounded(int, 1, MAX_PIXELS), default=256,
        help="pixels in x of random frames (default: 256)")
    add("-ny", "--n-y-pixels", dest="n_y_pixels", type=bounded(int, 1, MAX_PIXELS), default=256,
        help="pixels in y of random frames (default: 256)")
    add("-cm", "--color-mode", dest="color_mode", type=int, default=0,
        help="colour mode of random frames: 0 mono, 2 RGB1 [3,NX,NY], 3 RGB2 [NX,3,NY], "
             "4 RGB3 [NX,NY,3] (default: 0)")
    add("-dt", "--datatype", dest="datatype", default="uint8",
        help=f"datatype of random frames: {', '.join(DATATYPE_NAMES)} (default: uint8)")
    add("-mn", "--minimum", dest="minimum", type=float, default=None,
        help="minimum random value (default: the datatype's minimum)")
    add("-mx", "--maximum", dest="maximum", type=float, default=None,
        help="maximum random value (default: the datatype's maximum)")
    add("-nf", "--n-frames", dest="n_frames", type=bounded(int, maximum=MAX_FRAMES, minimum=-MAX_FRAMES), default=0,
        help="number of different frames to generate or load (<= 0: fill the cache, or all file "
             "frames); when larger than the cache size the server stops after publishing them "
             "once, otherwise it recycles them until the runtime ends")
    add("-cs", "--cache-size", dest="cache_size", type=bounded(int, 1, MAX_FRAMES), default=1000,
        help="number of frames to cache (default: 1000)")
    publish = parser.add_argument_group("publishing")
    add = publish.add_argument
    add("-cn", "--channel-name", dest="channel_name", default="pvapy:image", type=channel_name_text,
        help="PVA channel name (default: pvapy:image)")
    add("-fps", "--frame-rate", dest="frame_rate", type=bounded(float, 0, 1e9), default=20.0,
        help="frames per second; 0 publishes as fast as possible (default: 20)")
    add("-sid", "--start-id", dest="start_id", type=bounded(int, 1, ID_MAX), default=1,
        help="uniqueId of the first frame, so a restarted source can go on counting (default: 1)")
    add("-rt", "--runtime", dest="runtime", type=SECONDS, default=300.0,
        help="publishing time in seconds (default: 300)")
    add("-std", "--start-delay", dest="start_delay", type=SECONDS, default=10.0,
        help="seconds between serving the channel and publishing the first frame (default: 10)")
    add("-sos", "--start-on-signal", dest="start_on_signal", action="store_true",
        help="hold the first frame until this process gets SIGUSR1 (kill -USR1 PID), the start delay at most: "
             "start as soon as every client is ready (pvaflow run does so)")
    add("-shd", "--shutdown-delay", dest="shutdown_delay", type=SECONDS, default=10.0,
        help="seconds to keep serving after the last frame (default: 10)")
    add("-npv", "--notify-pv", dest="notify_pv", default=None,
        help="CA channel (pva://name for PVA) set to --notify-pv-value at start, "
             "e.g. 13PVA1:cam1:Acquire")
    add("-nvl", "--notify-pv-value", dest="notify_pv_value", default="1",
        help="value for the notify PV (default: 1)")
    add("-mpv", "--metadata-pv", dest="metadata_pv", default=None,
        help="comma list of metadata PVs updated with every frame: pva://name, ca://name "
             "or name (CA)")
    add_report_options(
        parser,
        "report every N published frames; <= 0 for no reports (default: 1)",
        default=1,
    )
    add_log_options(parser)


def build_source(args: argparse.Namespace) -> tuple[FrameSource, int | None]:
    """The frame source and the publish limit (None: recycle until the runtime ends)."""
    paths = input_paths(args.input_file, args.input_directory)
    if not paths:
        spec = FrameSpec(
            nx=args.n_x_pixels, ny=args.n_y_pixels, dtype=check_datatype(args.datatype),
            color_mode=args.color_mode,
        )
        requested = args.n_frames if args.n_frames > 0 else args.cache_size
        source: FrameSource = RandomFrames(spec, requested, args.minimum, args.maximum)
        return source, (requested if requested > args.cache_size else None)
    options = FileOptions(
        mmap=args.mmap_mode,
        hdf_dataset=args.hdf_dataset,
        hdf_compressed=args.hdf_compression_mode,
        raw_layout=load_raw_layout(args.config_file) if args.config_file else None,
    )
    source = open_files(paths, options)
    if 0 < args.n_frames < source.n_frames:
        source.n_frames = args.n_frames
    return source, (source.n_frames if source.n_frames > args.cache_size else None)


def summary_table(summary: SimSummary) -> Table:
    table = Table(title="sim-server summary", show_header=False)
    table.add_row("frames published", f"{summary.frames_published}")
    table.add_row("runtime", f"{summary.runtime:.3f} s")
    table.add_row("frame rate", f"{summary.frame_rate:.1f} fps (requested {summary.requested_rate:g})")
    table.add_row("data rate", f"{summary.data_rate:.3f} MB/s")
    table.add_row("frames late", f"{summary.frames_late} (waited for the frame producer)")
    return table


def reporter(console: Console, live: Live | None) -> Callable[[str], None]:
    if live is not None:
        return lambda line: live.update(Text(line))
    return lambda line: console.print(line, highlight=False, soft_wrap=True)


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_file)
    source, publish_limit = build_source(args)
    config = SimServerConfig(
        channel_name=args.channel_name,
        frame_rate=args.frame_rate,
        runtime=args.runtime,
        publish_limit=publish_limit,
        cache_size=args.cache_size,
        start_delay=args.start_delay,
        shutdown_delay=args.shutdown_delay,
        report_period=args.report_period,
        notify_pv=args.notify_pv,
        notify_pv_value=args.notify_pv_value,
        metadata_pvs=comma_list(args.metadata_pv),
        start_id=args.start_id,
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: set_later(stop))
    start = threading.Event() if args.start_on_signal else None
    if start is not None:
        signal.signal(signal.SIGUSR1, lambda *_: set_later(start))  # before the channel is served
    console = Console(highlight=False)
    use_live = console.is_terminal and not args.disable_curses
    live_view = Live(Text(""), console=console, refresh_per_second=4) if use_live else nullcontext()
    with live_view as live:
        server = SimServer(config, source, reporter(console, live))  # checks the configuration
        spec = source.spec
        console.print(
            f"Serving {config.channel_name}: {source.n_frames} distinct {spec.nx}x{spec.ny} {spec.dtype} "
            f"frames ({COLOR_MODE_NAMES[spec.color_mode]}{', ' + spec.codec if spec.codec else ''}) "
            f"at {config.frame_rate:g} fps"
        )

        def print_summary(summary: SimSummary) -> None:  # once the last frame is out, before the shutdown delay
            console.print(summary_table(summary))
            sys.stdout.flush()

        server.run(stop, start, print_summary)
    return 0

