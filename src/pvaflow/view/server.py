"""The viewer's web server (aiohttp): the page, a WebSocket per tab, and the control endpoint.

:class:`ViewServer` owns everything that runs: the channel watches, one thread running the asyncio loop,
and one render thread (frames are decoded and encoded there, at the display rate). Read-only unless
``allow_control``; no endpoint reads files beyond the page's own three, runs a shell or evaluates input.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any

from aiohttp import WSMsgType, web

from ..errors import ChannelError, ConfigError
from ..stream.client import send_command
from ..stream.control import COMMANDS, CONFIGURE
from .session import SLOW_SECONDS, Session
from .settings import ViewSettings
from .stages import RateHistory, StageRows
from .watch import ChannelWatch

STATIC = {"index.html": "text/html", "view.js": "text/javascript", "view.css": "text/css"}
START_SECONDS = 10.0
STOP_SECONDS = 5.0
CONTROL_SECONDS = 10.0
DISCOVER_SECONDS = 0.5  # a channel not yet answering is asked again after this

logger = logging.getLogger(__name__)


def control_channel(status_channel: str) -> str | None:
    """The control channel beside a status channel named ``...:status`` (the runner's and pvaPy's habit)."""
    prefix, _, suffix = status_channel.rpartition(":")
    return f"{prefix}:control" if prefix and suffix == "status" else None


def log_end(sender: asyncio.Future) -> None:
    """A tab's sender ended: closed with the tab (cancelled, or its connection gone), or by a fault (logged)."""
    if sender.cancelled():
        return
    failure = sender.exception()
    if isinstance(failure, (ConnectionError, RuntimeError)):  # the tab went away while it was being sent to
        logger.debug("a tab went away: %s", failure)
    elif failure is not None:
        logger.error("a tab's updates stopped", exc_info=failure)


class ViewServer:
    """Serves the page; ``start()`` returns once it listens, ``stop()`` ends it."""

    def __init__(self, settings: ViewSettings, stages: StageRows | None = None,
                 pipeline_channels: list[str] | None = None) -> None:
        self.settings = settings
        self.stages = stages
        self.history = RateHistory()
        self.pipeline_made: tuple[float, dict[str, Any] | None] = (0.0, None)  # the loop's thread only
        # the channels a tab may ask for: those named, and the pipeline's outputs and status channels
        self.allowed = list(dict.fromkeys([*settings.channels, *(pipeline_channels or [])]))
        self.controls = {name: control for name in self.allowed
                         if (control := settings.controls.get(name) or control_channel(name))}
        self.watches: dict[str, ChannelWatch] = {}
        self.watch_lock = threading.Lock()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pvaflow-view-render")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve_forever, name="pvaflow-view", daemon=True)
        self.listening = threading.Event()
        self.stopping: asyncio.Event | None = None
        self.failure: BaseException | None = None
        self.url = ""
        self.sockets: set[web.WebSocketResponse] = set()

    # --- life cycle (the caller's thread) ---

    def start(self) -> str:
        """Watch the named channels, listen, and return the page's URL; ConfigError if it cannot listen."""
        for name in self.settings.channels:
            self.watch_for(name)
        self.thread.start()
        if not self.listening.wait(START_SECONDS) or self.failure is not None:
            self.stop()
            raise ConfigError(f"--bind {self.settings.bind}:{self.settings.port}: cannot listen there "
                              f"({self.failure or 'no answer'})")
        return self.url

    def stop(self) -> None:
        if self.thread.is_alive() and self.stopping is not None:
            self.loop.call_soon_threadsafe(self.stopping.set)
            self.thread.join(STOP_SECONDS)
        self.executor.shutdown(wait=True, cancel_futures=True)
        with self.watch_lock:
            for watch in self.watches.values():
                watch.stop()

    def watch_for(self, name: str) -> ChannelWatch | None:
        """The watch of an allowed channel (made when first asked for); None for any other name."""
        if name not in self.allowed:
            return None
        with self.watch_lock:
            watch = self.watches.get(name)
            if watch is None:
                watch = self.watches[name] = ChannelWatch(name, self.settings.every_frame)
            return watch

    # --- the loop's thread ---

    def _serve_forever(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as ex:  # reported by start(); the thread ends
            self.failure = ex
            self.listening.set()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_default_executor())  # control requests, first reads
            self.loop.close()

    async def _serve(self) -> None:
        self.stopping = asyncio.Event()
        app = web.Application()
        app.add_routes([web.get("/", self.page), web.get("/static/{name}", self.static), web.get("/ws", self.socket),
                        web.post("/control", self.control)])
        app.on_shutdown.append(self._close_sockets)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.settings.bind, self.settings.port).start()
            host, port = runner.addresses[0][:2]
            self.url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
            self.listening.set()
            discovering = asyncio.ensure_future(self._discover_channels())
            await self.stopping.wait()
            discovering.cancel()
        finally:
            await runner.cleanup()

    async def _discover_channels(self) -> None:
        """Read each new channel's first value (what it is), until it answers; on the loop's other threads."""
        loop = asyncio.get_running_loop()
        while True:
            with self.watch_lock:
                waiting = [watch for watch in self.watches.values() if watch.kind is None]
            if waiting:
                await asyncio.gather(*(loop.run_in_executor(None, watch.discover) for watch in waiting))
            await asyncio.sleep(DISCOVER_SECONDS)

    async def _close_sockets(self, _: web.Application) -> None:
        for socket in list(self.sockets):
            await socket.close()

    async def page(self, _: web.Request) -> web.Response:
        return await self.static_file("index.html")

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        return await self.static_file(name)

    @staticmethod
    async def static_file(name: str) -> web.Response:
        text = resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")
        return web.Response(text=text, content_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    def hello(self) -> dict[str, Any]:
        return {"type": "hello", "title": self.settings.title, "channels": self.settings.channels,
                "pipeline": self.stages is not None, "allowControl": self.settings.allow_control,
                "controls": self.controls, "displayRate": self.settings.display_rate,
                "display": vars(self.settings.display)}

    def pipeline_message(self) -> dict[str, Any] | None:
        """The pipeline's rows and rate history, made once a second however many tabs ask (each tab asks
        once a second: the history gets one sample a second, not one per tab)."""
        if self.stages is None:
            return None
        now = time.monotonic()
        made, message = self.pipeline_made
        if message is None or now - made >= SLOW_SECONDS * 0.9:
            rows = self.stages.rows()
            self.history.add(now, rows)
            message = {"type": "pipeline", "rows": rows, "history": self.history.series(now)}
            self.pipeline_made = (now, message)
        return message

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(heartbeat=30)
        await socket.prepare(request)
        self.sockets.add(socket)

        async def send(message: dict[str, Any]) -> None:
            if not socket.closed:
                await socket.send_str(json.dumps(message, default=str))

        async def slow_update() -> None:
            message = self.pipeline_message()
            if message is not None:
                await send(message)

        session = Session(send, self.watch_for, self.executor, 1.0 / self.settings.display_rate,
                          self.settings.display)
        await send(self.hello())
        sender = asyncio.ensure_future(session.run(slow_update))
        sender.add_done_callback(log_end)
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    decoded = json.loads(message.data)
                except ValueError:
                    decoded = None
                if not isinstance(decoded, dict):
                    await send({"type": "error", "message": f"not JSON: {message.data[:120]}"})
                    continue
                await session.receive(decoded)
        finally:
            sender.cancel()
            self.sockets.discard(socket)
        return socket

    async def control(self, request: web.Request) -> web.Response:
        """POST {"channel": CONTROL_CHANNEL, "command": ..., "args": ...}: the stage's answer, or why not."""
        if not self.settings.allow_control:
            return web.json_response({"error": "control is off: start the viewer with --allow-control"}, status=403)
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.json_response({"error": "the request is not a JSON object"}, status=400)
        channel, command = body.get("channel"), body.get("command")
        args = body.get("args") or ""
        if channel not in self.controls.values():
            return web.json_response({"error": f"{channel} is not a control channel of this viewer"}, status=400)
        if command not in COMMANDS or not isinstance(args, str) or (args and command != CONFIGURE):
            return web.json_response({"error": f"command {command!r} with args {args!r} is not one of "
                                               f"{', '.join(COMMANDS)} (args with configure only)"}, status=400)
        logger.info("control: %s %s %s", channel, command, args)
        try:
            reply = await asyncio.get_running_loop().run_in_executor(
                None, send_command, channel, command, args, CONTROL_SECONDS)
        except ChannelError as ex:
            return web.json_response({"error": str(ex)}, status=502)
        return web.json_response({"reply": reply})
