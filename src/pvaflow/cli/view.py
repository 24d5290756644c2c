"""``pvaflow view CHANNEL... | --pipeline FILE``: a live web page of image channels, status channels and a
pipeline's stages (and ``pvaflow run --view``, which shows the pipeline it runs)."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..log import configure_logging
from ..pipeline.spec import Stage
from ..view.render import COLORMAPS, FORMATS, Display
from ..view.settings import ViewSettings
from ..view.stages import StageRows, WatchedRows, output_channels
from .hosting import install_stop_handlers
from .options import add_log_options, bounded
from .pipeline_file import read_pipeline

if TYPE_CHECKING:
    from ..view.server import ViewServer

DEFAULT_BIND = "127.0.0.1:8800"
MAX_DISPLAY_RATE = 60.0


def parse_bind(text: str) -> tuple[str, int]:
    """HOST[:PORT], [IPV6]:PORT or :PORT -> (host, port); the defaults fill what is left out."""
    default_host, default_port = DEFAULT_BIND.rsplit(":", 1)
    host, port = text, default_port
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else (rest or default_port)
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not HOST[:PORT] (a port is 0 to 65535)")
    return host or default_host, int(port)


def add_view_options(parser: argparse.ArgumentParser, bind_flag: str) -> None:
    """The options ``view`` and ``run --view`` share; ``bind_flag`` names the address option."""
    group = parser.add_argument_group("web view")
    if bind_flag == "--bind":
        group.add_argument("--bind", type=parse_bind, default=parse_bind(DEFAULT_BIND), metavar="HOST[:PORT]",
                           help=f"where the page is served (default {DEFAULT_BIND}; 0.0.0.0 for every network: "
                                "anyone who reaches it sees the stream)")
    else:
        group.add_argument(bind_flag, dest="view", nargs="?", type=parse_bind, const=parse_bind(DEFAULT_BIND),
                           default=None, metavar="HOST[:PORT]",
                           help=f"also serve a live web page of the pipeline (default {DEFAULT_BIND})")
    group.add_argument("--allow-control", action="store_true",
                       help="let the page send configure, reset_stats, get_stats and stop to the stages")
    group.add_argument("--display-rate", type=bounded(float, 0.1, MAX_DISPLAY_RATE), default=10.0, metavar="HZ",
                       help="frames a second sent to each browser at most (default 10)")
    group.add_argument("--every-frame", action="store_true",
                       help="count every frame of the image channels (received, missed): a monitor of their ids, "
                            "which costs the stage serving each channel an update per frame; without it, frames "
                            "are fetched at the display rate only")
    group.add_argument("--colormap", choices=COLORMAPS, default="gray", help="first colour map (default gray)")
    group.add_argument("--image-format", choices=tuple(FORMATS), default="png",
                       help="how frames are sent to the browser (default png: exact values)")


def add_parser(subparsers: Any, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="serve a live web page of image and status channels, or of a pipeline",
        description="Serve a web page showing NTNDArray channels as live images (with contrast, colour map, "
                    "zoom and histogram) and consumer or collector status channels as panels; with --pipeline, "
                    "every stage of a pipeline file with its counters and rates.",
        epilog="examples: pvaflow view pvapy:image; pvaflow view pvapy:image consumer:1:status --allow-control; "
               "pvaflow view --pipeline pipeline.toml")
    parser.add_argument("channels", nargs="*", metavar="CHANNEL",
                        help="image (NTNDArray) or status channel; what it is is read from its first value")
    parser.add_argument("--pipeline", type=Path, default=None, metavar="FILE",
                        help="also show the stages of this pipeline file (run by pvaflow run elsewhere)")
    add_view_options(parser, "--bind")
    add_log_options(parser)


def view_settings(args: argparse.Namespace, channels: list[str], title: str, bind: tuple[str, int],
                  controls: dict[str, str] | None = None) -> ViewSettings:
    return ViewSettings(channels, title, bind=bind[0], port=bind[1], display_rate=args.display_rate,
                        allow_control=args.allow_control, display=Display(colormap=args.colormap,
                                                                          format=args.image_format),
                        every_frame=args.every_frame, controls=controls or {})


def new_server(settings: ViewSettings, stages: StageRows | None = None,
               pipeline_channels: list[str] | None = None) -> ViewServer:
    """The viewer's web server; ConfigError naming the package when the view extra is not installed."""
    try:
        from ..view.server import ViewServer
    except ImportError as ex:
        raise ConfigError(f"the web view needs {ex.name}, which is not installed: pip install 'pvaflow[view]'") from ex
    return ViewServer(settings, stages, pipeline_channels)


def pipeline_server(args: argparse.Namespace, name: str, stages: list[Stage], rows: StageRows,
                    bind: tuple[str, int], channels: list[str] | None = None) -> ViewServer:
    """A viewer of a pipeline's stages: their outputs and status channels can be opened from the page."""
    controls = {status: control for stage in stages for status, control in zip(stage.status, stage.control,
                                                                                 strict=True)}
    shown = [channel for stage in stages for channel in (*output_channels(stage), *stage.status)]
    settings = view_settings(args, channels or [], f"pipeline {name}", bind, controls)
    return new_server(settings, rows, shown)


def start_view(server: ViewServer) -> None:
    url = server.start()
    print(f"pvaflow view: serving {url}", flush=True)


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_file)
    if not args.channels and args.pipeline is None:
        raise ConfigError("name at least one CHANNEL or --pipeline FILE")
    rows: WatchedRows | None = None
    if args.pipeline is not None:
        pipeline = read_pipeline(args.pipeline)
        stages = list(pipeline.stages.values())
        rows = WatchedRows(stages)
        server = pipeline_server(args, pipeline.settings.name, stages, rows, args.bind, args.channels)
    else:
        server = new_server(view_settings(args, args.channels, "pvaflow view", args.bind))
    stop = threading.Event()
    install_stop_handlers(stop)
    try:
        if rows is not None:
            rows.start()
        start_view(server)
        stop.wait()
    finally:
        server.stop()
        if rows is not None:
            rows.stop()
    print("pvaflow view: stopped", file=sys.stderr, flush=True)
    return 0
