"""A square canvas the user draws a character on with the mouse; read back as a 28×28 ink image."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from mamlviz.core.omniglot.data import IMAGE_SIZE, downsample


class DrawingCanvas(QWidget):
    """Left button draws, right button clears. `stroke_finished` fires when a stroke ends."""

    stroke_finished = Signal()

    def __init__(self, size: int = 112, pen_width: float = 7.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(size, size)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw with the left mouse button; right-click clears.")
        self.pen_width = pen_width
        self._image = QImage(size, size, QImage.Format.Format_Grayscale8)
        self._last: QPoint | None = None
        self.clear()

    def clear(self) -> None:
        self._image.fill(QColor("white"))
        self.update()

    def is_empty(self) -> bool:
        return not self.ink().any()

    def ink(self) -> np.ndarray:
        """The drawing at full resolution, (size, size) in [0, 1] with ink = 1."""
        ptr = self._image.constBits()
        pixels = np.frombuffer(ptr, np.uint8, self._image.sizeInBytes())
        rows = pixels.reshape(self._image.height(), self._image.bytesPerLine())[:, : self._image.width()]
        return 1.0 - rows.astype(np.float32) / 255.0

    def image(self) -> np.ndarray:
        """The drawing as the network sees it: (28, 28) float32 ink in [0, 1]."""
        return downsample(self.ink(), IMAGE_SIZE)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.RightButton:
            self.clear()
            self.stroke_finished.emit()
        elif event.button() == Qt.MouseButton.LeftButton:
            self._last = event.position().toPoint()
            self._draw_to(self._last)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._last is not None:
            self._draw_to(event.position().toPoint())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._last is not None and event.button() == Qt.MouseButton.LeftButton:
            self._draw_to(event.position().toPoint())
            self._last = None
            self.stroke_finished.emit()

    def _draw_to(self, point: QPoint) -> None:
        painter = QPainter(self._image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor("black"), self.pen_width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.drawLine(self._last or point, point)
        painter.end()
        self._last = point
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawImage(0, 0, self._image)
        painter.setPen(QColor(160, 160, 160))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.end()
