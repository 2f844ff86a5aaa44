"""Running something once the window has painted its first frame."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget


class AfterFirstFrame(QObject):
    """Calls `callback` once, on the event loop's turn after `widget` has painted its first frame, or a second
    after it was shown if no paint came (a window shown minimized).

    (A zero timer set before the window shows fires *before* that first paint.)"""

    FALLBACK_MS = 1000

    def __init__(self, widget: QWidget, callback: Callable[[], None]) -> None:
        super().__init__(widget)
        self.widget = widget
        self.callback: Callable[[], None] | None = callback
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:  # the window itself is painted first, then its children
            QTimer.singleShot(0, self._fire)
        elif event.type() == QEvent.Type.Show:
            QTimer.singleShot(self.FALLBACK_MS, self._fire)
        return False

    def _fire(self) -> None:
        if self.callback is not None:
            callback, self.callback = self.callback, None
            self.widget.removeEventFilter(self)
            callback()
