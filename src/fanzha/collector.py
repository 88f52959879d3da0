"""A process's long-lived objects frozen for the garbage collector, and given back as found."""

from __future__ import annotations

import gc


class Freeze:
    """Freezing (:func:`gc.freeze`) what is alive, so the collector's full passes do not
    walk it again, and unfreezing it at the end. Only when nothing was frozen as it was
    made: a process that froze objects of its own keeps them so, and they are not ours to
    give back."""

    def __init__(self) -> None:
        self.owned = gc.get_freeze_count() == 0

    def freeze(self) -> None:
        """Freeze what is alive now (called again: what has come alive since too)."""
        if self.owned:
            gc.freeze()

    def release(self) -> None:
        """Unfreeze what was frozen, if it was ours to freeze."""
        if self.owned:
            gc.unfreeze()
