"""One browser tab: what it shows (channels and their display settings) and what it is sent, when.

Frames go to a tab at most at the display rate, and only once it has drawn the last one (it answers
``ready``): a slow browser gets fewer frames, never a queue. Status and pipeline rows go once a second.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import pvaccess as pva

from ..errors import FrameFormatError
from ..ntnd import COLOR_MODE_NAMES, reshape
from .render import Display, Rendered, display_settings, render
from .watch import IMAGE, STATUS, ChannelWatch, Counts

SLOW_SECONDS = 1.0  # status, pipeline rows and counts of channels without a new frame

logger = logging.getLogger(__name__)


@dataclass
class Shown:
    """A channel a tab shows: how, and the last frame it was sent."""

    display: Display
    ready: bool = True  # the tab drew what it was sent last
    sent_id: int | None = None


@dataclass
class Picture:
    """A rendered frame and what the page prints beside it."""

    image_id: int
    geometry: dict[str, Any]
    rendered: Rendered


def picture(pv: pva.PvObject, display: Display) -> Picture | None:
    """Decode and render an NTNDArray (runs on the viewer's render thread); None for a record that has no
    image yet (no dimensions)."""
    frame = reshape(pv)
    if frame.image is None:
        return None
    geometry = {"nx": frame.nx, "ny": frame.ny, "nz": frame.nz, "dtype": str(frame.image.dtype),
                "colorMode": COLOR_MODE_NAMES.get(frame.color_mode, str(frame.color_mode)),
                "compressed": pv["codec.name"] or None}
    return Picture(frame.image_id, geometry, render(frame.image, display))


class FrameNotShown(FrameFormatError):
    """A frame the viewer could not decode or draw, and its id."""

    def __init__(self, image_id: int, reason: str) -> None:
        super().__init__(f"frame {image_id} not shown: {reason}")
        self.image_id = image_id


def fetched_picture(watch: ChannelWatch, display: Display, sent_id: int | None) -> Picture | None:
    """The channel's current frame, fetched, decoded and rendered (on the viewer's render thread); None when
    it is the frame ``sent_id`` (a tab has it)."""
    frame = watch.fetch()
    image_id = frame["uniqueId"]
    if image_id == sent_id:
        return None
    try:
        return picture(frame, display)
    except (FrameFormatError, ValueError, TypeError, KeyError) as ex:
        raise FrameNotShown(image_id, str(ex)) from ex


def frame_message(channel: str, shot: Picture, counts: dict[str, Any]) -> dict[str, Any]:
    rendered = shot.rendered
    return {"type": "frame", "channel": channel, "id": shot.image_id, **shot.geometry, **counts,
            "image": {"mime": rendered.mime, "data": base64.b64encode(rendered.data).decode("ascii"),
                      "width": rendered.width, "height": rendered.height, "step": rendered.step,
                      "low": rendered.low, "high": rendered.high},
            "histogram": {"counts": rendered.histogram, "range": list(rendered.histogram_range)}}


@dataclass
class Session:
    """A tab's subscriptions; ``send`` writes one JSON message to it."""

    send: Callable[[dict[str, Any]], Awaitable[None]]
    watch_for: Callable[[str], ChannelWatch | None]  # the watch of a channel this viewer may show, or None
    executor: Executor
    frame_seconds: float
    default_display: Display
    shown: dict[str, Shown] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # frames that could not be shown, per channel

    async def receive(self, message: dict[str, Any]) -> None:
        """A message from the tab: subscribe (or change display), unsubscribe, ready."""
        kind, channel = message.get("type"), message.get("channel")
        if not isinstance(channel, str) or kind not in ("subscribe", "unsubscribe", "ready"):
            await self.send({"type": "error", "message": f"not understood: {str(message)[:120]}"})
            return
        if kind == "unsubscribe":
            self.shown.pop(channel, None)
        elif kind == "ready":
            if channel in self.shown:
                self.shown[channel].ready = True
        elif self.watch_for(channel) is None:
            await self.send({"type": "error", "channel": channel, "message": f"{channel} is not shown by this viewer"})
        else:
            try:
                display = display_settings(message.get("display") or {}, self.default_display)
            except ValueError as ex:
                await self.send({"type": "error", "channel": channel, "message": f"display: {ex}"})
                return
            previous = self.shown.get(channel)
            self.shown[channel] = Shown(display, previous.ready if previous else True)  # a new look: send again

    async def run(self, slow_update: Callable[[], Awaitable[None]]) -> None:
        """Send frames at the display rate and the slow updates once a second, until cancelled."""
        next_slow = 0.0
        while True:
            started = time.monotonic()
            for channel in list(self.shown):
                await self.send_frame(channel)
            if started >= next_slow:
                next_slow = started + SLOW_SECONDS
                await self.send_counts()
                await slow_update()
            await asyncio.sleep(max(0.0, self.frame_seconds - (time.monotonic() - started)))

    async def send_frame(self, channel: str) -> None:
        """The channel's current frame, if the tab is ready and the channel has a frame not yet sent."""
        shown, watch = self.shown.get(channel), self.watch_for(channel)
        if shown is None or watch is None or not shown.ready or watch.kind != IMAGE:
            return
        try:
            shot = await asyncio.get_running_loop().run_in_executor(self.executor, fetched_picture, watch,
                                                                    shown.display, shown.sent_id)
        except pva.PvaException as ex:
            logger.info("%s: no frame fetched: %s", channel, ex)
            return
        except FrameNotShown as ex:
            shown.sent_id = ex.image_id  # counted once, not fetched again
            self.errors[channel] = self.errors.get(channel, 0) + 1
            logger.warning("%s: %s", channel, ex)
            await self.send({"type": "error", "channel": channel, "message": str(ex)})
            return
        if shot is None:
            return  # the tab has it
        shown.ready, shown.sent_id = False, shot.image_id
        await self.send(frame_message(channel, shot, self.counts(channel, watch.counts())))

    def counts(self, channel: str, counts: Counts) -> dict[str, Any]:
        return {"received": counts.received, "missed": counts.missed, "skipped": counts.skipped,
                "rate": round(counts.rate, 1),
                "errors": self.errors.get(channel, 0)}

    async def send_counts(self) -> None:
        """Each shown channel's kind and counts; a status channel's value."""
        for channel in list(self.shown):
            watch = self.watch_for(channel)
            if watch is None:
                continue
            message = {"type": "channel", "channel": channel, "kind": watch.kind,
                       **self.counts(channel, watch.counts())}
            if watch.kind == STATUS:
                message["status"] = watch.status()
            elif watch.kind not in (None, IMAGE):
                message["fields"] = watch.fields
            await self.send(message)
