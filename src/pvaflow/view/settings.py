"""What a viewer is asked to show, and where (no web or image package needed to build one)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .render import Display


@dataclass(frozen=True)
class ViewSettings:
    """What ``pvaflow view`` (or ``run --view``) was asked to show, and where."""

    channels: list[str]
    title: str = "pvaflow view"
    bind: str = "127.0.0.1"
    port: int = 8800
    display_rate: float = 10.0
    allow_control: bool = False
    display: Display = Display()
    every_frame: bool = False  # count every frame of an image channel (a monitor of its ids)
    controls: dict[str, str] = field(default_factory=dict)  # status channel -> its control channel
