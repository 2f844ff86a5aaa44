"""Python's cyclic garbage collector, run on the GUI thread only while the window lives."""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadCollector(QObject):
    """Turns automatic collection off and collects from a GUI-thread timer instead, as it would have.

    Run on the training thread, a collection that frees a cycle holding Qt objects (a closed window's, a
    replaced plot's) destroys them there; seen in a CI run: that thread, inside ~QObject with a Qt lock held,
    waited for the GIL while the GUI thread, holding the GIL, waited for the lock to delete a widget.
    """

    def __init__(self, parent: QObject, interval_ms: int = 250) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.collect)
        self.active = False

    def start(self) -> None:
        if not self.active:
            self.active = True
            gc.disable()
            self.timer.start()

    def stop(self) -> None:
        """Back to automatic collection."""
        if self.active:
            self.active = False
            self.timer.stop()
            gc.enable()

    def collect(self) -> None:
        """Collect the oldest generation whose count passed its threshold (and the younger ones with it)."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                gc.collect(generation)
                return
