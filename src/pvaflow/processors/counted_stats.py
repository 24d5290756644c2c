"""Stats declared once: a built-in processor names each counter with its PVA type in ``COUNTERS``, and
``resetStats``, ``getStats`` and ``getStatsPvaTypes`` follow from that table.

The counters stay plain attributes (``self.nFilesSaved += 1``), as in pvaPy's processors. Values worked
out from them (rates, counts kept by other objects) come from ``derived_stats()``, typed by
``derived_types()``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pvaccess as pva


class CountedStats:
    """Mixin for a processor (put it before the processor base class)."""

    COUNTERS: ClassVar[dict[str, Any]] = {}  # attribute -> PVA type: reset to 0, reported under its name

    def resetStats(self) -> None:  # noqa: N802
        for name, kind in self.COUNTERS.items():
            setattr(self, name, 0.0 if kind in (pva.DOUBLE, pva.FLOAT) else 0)
        self.reset_derived()

    def getStats(self) -> dict[str, Any]:  # noqa: N802
        return {name: getattr(self, name) for name in self.COUNTERS} | self.derived_stats()

    def getStatsPvaTypes(self) -> dict[str, Any]:  # noqa: N802
        return self.COUNTERS | self.derived_types()

    def reset_derived(self) -> None:
        """What else resetStats() starts again (counts kept by other objects)."""

    def derived_stats(self) -> dict[str, Any]:
        return {}

    def derived_types(self) -> dict[str, Any]:
        """Stats name -> PVA type of what derived_stats() returns."""
        return {}
