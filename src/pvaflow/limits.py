"""Bounds of every size and time option: what one machine can hold, said in each option's help.

pvAccess allocates a monitor's server queue (``-sqs``) up front, one copy of
the structure per element, on the server: 10,000 elements of 8 MB frames
are 80 GB already.
"""

from __future__ import annotations

MAX_PROCESSES = 1000  # -nc, -nds, producers of a collector, monitors of a mirror entry
MAX_SERVER_QUEUE = 10_000  # -sqs, a mirror's queue size
MAX_RECEIVER_QUEUE = 1_000_000  # -rqs, -ao, -ccs
MAX_SECONDS = 10 * 365 * 24 * 3600.0  # any time option (ten years)
MAX_PIXELS = 65_536  # -nx, -ny
MAX_ID = 2**63 - 1  # ids and id offsets
MAX_FRAMES = 100_000_000  # sim-server -nf, -cs
